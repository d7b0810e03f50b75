"""Write the report tests' store with the real library, as an agent app would; run as
``python -m tests.report.write_store`` from the repository root, with ``AGENT_OTEL_HOME`` set
and content capture on (``AGENT_OTEL_CAPTURE_CONTENT=true``) by the caller."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from opentelemetry import trace

import agent_otel
from agent_otel.instrumentation.openai import OpenAIInstrumentor
from tests.cli.runner import clean_env
from tests.instrumentation.openai_server import FakeOpenAI
from tests.report.agent import record_hostile_session, workload
from tests.summaries.workload import install_clock, run

REPO_ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    clock = install_clock()
    tel = agent_otel.configure(service_name="report-test-agent")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    record_hostile_session(clock, FakeOpenAI())
    run(workload(), trace.get_tracer("fake-llm-client"), clock)
    instrumentor.uninstrument()
    tel.shutdown()


def write_in_a_process(home: Path) -> Path:
    """Write the store into ``home`` from a process of its own, with content capture on, as
    an app configured by ``agent_otel.configure()`` would; its traces file."""
    subprocess.run(
        [sys.executable, "-m", "tests.report.write_store"],
        env=clean_env(AGENT_OTEL_HOME=str(home), AGENT_OTEL_CAPTURE_CONTENT="true"),
        cwd=REPO_ROOT,
        check=True,
        timeout=120,
    )
    return home / "traces.jsonl"


if __name__ == "__main__":
    main()
