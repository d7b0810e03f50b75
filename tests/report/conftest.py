"""Fixtures of the report tests: a store written by the real library in its own process, the
report the ``agent-otel`` console script writes from it, and the same sessions in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import agent_otel
from agent_otel.instrumentation.openai import OpenAIInstrumentor
from agent_otel.records import AgentSession
from tests.cli.runner import cli
from tests.conftest import Harness
from tests.instrumentation.conftest import instrumented
from tests.instrumentation.openai_server import FakeOpenAI
from tests.summaries.workload import install_clock, run

from .agent import record_hostile_session, workload
from .write_store import write_in_a_process


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile session and the workload, written by agent_otel.configure() in its own
    process with content capture on (see write_store.py)."""
    home = tmp_path_factory.mktemp("report-store")
    assert write_in_a_process(home).is_file()
    return home


@pytest.fixture(scope="session")
def stored(store: Path) -> list[AgentSession]:
    """The store's sessions as the library reads them back."""
    return agent_otel.read_sessions(store)


@pytest.fixture(scope="session")
def report_file(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``agent-otel report -o report.html`` over the store."""
    path = tmp_path_factory.mktemp("report") / "report.html"
    result = cli("report", "-o", str(path), home=store)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return path


@pytest.fixture
def recorded(tel_content: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The same sessions recorded in this process (content capture on, the real openai SDK
    instrumented), for tests that render the report directly."""
    clock = install_clock(monkeypatch.setattr)
    # instrumented() yields once with the instrumentor on and takes it off when exhausted.
    for _ in instrumented(tel_content, OpenAIInstrumentor()):
        record_hostile_session(clock, FakeOpenAI())
        run(workload(), tel_content.other_tracer("fake-llm-client"), clock)
    yield tel_content
