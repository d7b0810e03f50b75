"""scripts/backends.sh: its --check mode, which the tests rely on, names binaries only when
they are built and never builds (a cold build takes many minutes)."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from .programs import BACKENDS_SCRIPT, base_env, missing


def test_check_mode_reports_what_is_missing_without_building(tmp_path: Path) -> None:
    if shutil.which("go") is None:
        missing("the Go toolchain is not on PATH")
    env = base_env() | {"AGENT_OTEL_BACKENDS_CACHE": str(tmp_path / "cache")}
    started = time.monotonic()
    done = subprocess.run(
        [str(BACKENDS_SCRIPT), "--check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert "run scripts/backends.sh" in done.stderr
    assert time.monotonic() - started < 10
    assert not (tmp_path / "cache").exists()


def test_unknown_arguments_are_refused() -> None:
    done = subprocess.run(
        [str(BACKENDS_SCRIPT), "--build-everything"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "usage:" in done.stderr
