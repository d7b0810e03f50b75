"""Shared fixtures: agent-otel configured on a real SDK pipeline with an in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agent_otel
from agent_otel import errors
from agent_otel.configuration import Telemetry
from agent_otel.records import AgentSession
from agent_otel.spandata import SpanData


@dataclass
class Harness:
    """A configured agent-otel with everything it exported kept in memory."""

    telemetry: Telemetry
    exporter: InMemorySpanExporter
    provider: TracerProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name_prefix: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name.startswith(name_prefix)]
        assert len(found) == 1, f"expected one span named {name_prefix}*, got {found}"
        return found[0]

    def sessions(self) -> list[AgentSession]:
        return agent_otel.sessions_from_spans(SpanData.from_readable(s) for s in self.spans())

    def other_tracer(self, name: str = "other-library"):  # type: ignore[no-untyped-def]
        """A tracer as another instrumented library would get it."""
        return self.provider.get_tracer(name)


def _harness(capture: bool) -> Iterator[Harness]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tel = agent_otel.configure(tracer_provider=provider, set_global=False, capture_content=capture)
    try:
        yield Harness(tel, exporter, provider)
    finally:
        tel.shutdown()
        errors.set_strict(None)


@pytest.fixture
def tel() -> Iterator[Harness]:
    """agent-otel with content capture off (the default a user gets)."""
    yield from _harness(capture=False)


@pytest.fixture
def tel_content() -> Iterator[Harness]:
    """agent-otel with content capture on."""
    yield from _harness(capture=True)


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(errors.STRICT_ENV, "1")


@pytest.fixture(autouse=True)
def _hermetic_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No test sees the developer's OTEL_*/AGENT_OTEL_* settings or writes to their store."""
    import os

    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENT_OTEL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AGENT_OTEL_HOME", str(tmp_path_factory.mktemp("agent-otel-home")))


@pytest.fixture(autouse=True)
def _no_leaked_context() -> Iterator[None]:
    """Every test leaves the OpenTelemetry context as it found it: a span or session still
    current after a test means something (ours, most likely) attached a context and never
    detached it, which in an app would parent unrelated spans under a finished one."""
    from opentelemetry import context as otel_context

    before = otel_context.get_current()
    yield
    after = otel_context.get_current()
    leaked = trace.get_current_span()
    assert after == before, f"the test left a context attached (current span: {leaked!r})"
    assert agent_otel.current_session() is None, "the test left a session current"
