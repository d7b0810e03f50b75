"""Running the installed ``agent-otel`` console script in tests, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(sys.executable).parent / "agent-otel"

# Variables that would change what the CLI prints (colour, width, store) if the developer or
# CI happens to have them set.
_AMBIENT = ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "TERM")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without OTEL_*/AGENT_OTEL_* and display settings, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "AGENT_OTEL_")) and k not in _AMBIENT
    }
    env.update(extra)
    return env


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def cli(*args: str, home: Path, timeout: float = 120, **env: str) -> Result:
    """Run the installed console script with ``AGENT_OTEL_HOME=home``; stdout is a pipe."""
    assert SCRIPT.exists(), f"{SCRIPT} missing: pip install -e the repo"
    done = subprocess.run(
        [str(SCRIPT), *args],
        env=clean_env(AGENT_OTEL_HOME=str(home), **env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr)
