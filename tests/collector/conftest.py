"""Fixtures of the collector tests: the binaries scripts/backends.sh built, a place to start
real programs that are always stopped, and their logs in the report of a failed test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .programs import RUNNING, Binaries, Programs, require_binaries


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    """A failed test's report shows the log of every program running at the time."""
    report = yield
    if report.failed:
        for program in RUNNING:
            report.sections.append((f"log of {program.name}", program.log()))
    return report


@pytest.fixture(scope="session")
def binaries() -> Binaries:
    """The Collector and Jaeger binaries; skips (fails with AGENT_OTEL_REQUIRE_BACKENDS=1)
    when they are not built."""
    return require_binaries()


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Programs]:
    """Programs started for the tests of one module, all stopped when the module is done."""
    started = Programs(tmp_path_factory.mktemp("programs"))
    try:
        yield started
    finally:
        started.stop_all()
