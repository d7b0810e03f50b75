"""Writing a store with the real library and running the real ``agent-otel`` console script
on it, from a directory of the test's own (so that a command that telemetry managed to get
executed would leave its traces there, not in the checkout)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import agent_otel
from tests.cli.runner import SCRIPT, clean_env


def write_store(store: Path, agent: Callable[[], None]) -> None:
    """Run ``agent`` with agent-otel exporting to the store ``store``, content captured."""
    tel = agent_otel.configure(store_dir=store, capture_content=True, set_global=False)
    try:
        agent()
    finally:
        tel.shutdown()


def run_cli(*args: str, store: Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    """The console script's exit status and raw output (stdout is a pipe)."""
    return subprocess.run(
        [str(SCRIPT), "--store", str(store), *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        timeout=120,
        check=False,
    )
