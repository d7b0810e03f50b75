"""The apps whose telemetry the collector tests follow, run as users run them: the demo agent
(examples/demo_agent.py) and tests/collector/workload.py, each a Python process exporting OTLP
to a Collector as the standard OTEL_* variables tell it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .programs import ROOT, base_env

DEMO = ROOT / "examples" / "demo_agent.py"
APP_TIMEOUT = 120.0


def _run(argv: list[str], otlp_grpc: str, home: Path, env: Mapping[str, str]) -> str:
    """Run ``argv`` exporting to ``otlp_grpc``; ``home`` is its AGENT_OTEL_HOME, where nothing
    should land (an OTLP endpoint is configured) but which keeps the developer's store safe."""
    full = base_env() | {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{otlp_grpc}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "AGENT_OTEL_HOME": str(home),
    }
    full |= env
    done = subprocess.run(
        argv, env=full, cwd=ROOT, capture_output=True, text=True, timeout=APP_TIMEOUT
    )
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def run_demo(
    otlp_grpc: str, workspace: Path, home: Path, env: Mapping[str, str] | None = None
) -> str:
    """Run the demo agent on ``workspace``, exporting to ``otlp_grpc``; its session id."""
    argv = [sys.executable, str(DEMO), "--workspace", str(workspace)]
    out = _run(argv, otlp_grpc, home, env or {})
    match = re.search(r"^session (\S+) recorded", out, re.MULTILINE)
    assert match, out
    return match.group(1)


@dataclass(frozen=True)
class Recorded:
    kind: str
    session_id: str
    trace_id: str


def run_workload(
    otlp_grpc: str, plan: Mapping[str, int], home: Path, env: Mapping[str, str] | None = None
) -> list[Recorded]:
    """Run tests/collector/workload.py with ``plan`` (kind -> number of sessions)."""
    argv = [sys.executable, "-m", "tests.collector.workload"]
    argv += [f"{kind}={count}" for kind, count in plan.items()]
    out = _run(argv, otlp_grpc, home, env or {})
    return [Recorded(**json.loads(line)) for line in out.splitlines() if line.startswith("{")]
