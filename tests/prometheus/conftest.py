"""Where the Prometheus tests find the rules, their promtool tests and the binaries."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

RULES_DIR = Path(__file__).resolve().parents[2] / "collector-config" / "prometheus"
RULES_FILE = RULES_DIR / "agent-otel-rules.yml"
RULE_TESTS = sorted((RULES_DIR / "tests").glob("*.yml"))

INSTALL_HINT = "run scripts/prometheus.sh (installs Debian's prometheus package) to run this test"


def binary(name: str) -> str:
    """The path of ``name`` on PATH, or skip the test saying why."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"`{name}` is not on PATH; {INSTALL_HINT}")
    return path
