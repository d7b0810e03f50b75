"""agent-otel on a real SDK pipeline with in-memory spans *and* in-memory metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Tracer

import agent_otel
from agent_otel import errors
from agent_otel import semconv as sc
from agent_otel.configuration import Telemetry
from agent_otel.processor import AgentSpanProcessor
from agent_otel.records import AgentSession
from agent_otel.spandata import SpanData


@dataclass
class MetricsHarness:
    """agent-otel configured with a tracer and a meter provider, everything kept in memory."""

    telemetry: Telemetry
    exporter: InMemorySpanExporter
    provider: TracerProvider
    reader: InMemoryMetricReader

    @property
    def processor(self) -> AgentSpanProcessor:
        return self.telemetry.processor

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span named {name}, got {found}"
        return found[0]

    def sessions(self) -> list[AgentSession]:
        return agent_otel.sessions_from_spans(SpanData.from_readable(s) for s in self.spans())

    def tracer(self, name: str = "other-library") -> Tracer:
        return self.provider.get_tracer(name)

    def metrics(self) -> dict[str, Metric]:
        """Every metric collected now, by name (agent-otel's scope only)."""
        data = self.reader.get_metrics_data()
        found: dict[str, Metric] = {}
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                if scope.scope.name != "agent_otel":
                    continue
                for metric in scope.metrics:
                    found[metric.name] = metric
        return found

    def points(self, name: str) -> list[Any]:
        metric = self.metrics().get(name)
        return [] if metric is None else list(metric.data.data_points)

    def values(self, name: str) -> dict[frozenset[tuple[str, Any]], float]:
        """Counter sums (or histogram counts) by attribute set."""
        out: dict[frozenset[tuple[str, Any]], float] = {}
        for point in self.points(name):
            key = frozenset((point.attributes or {}).items())
            out[key] = getattr(point, "value", None) if hasattr(point, "value") else point.count
        return out


def make_harness(**configure: Any) -> Iterator[MetricsHarness]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    tel = agent_otel.configure(
        tracer_provider=provider, meter_provider=meter_provider, set_global=False, **configure
    )
    try:
        yield MetricsHarness(tel, exporter, provider, reader)
    finally:
        tel.shutdown()
        meter_provider.shutdown()
        errors.set_strict(None)


@pytest.fixture
def mtel() -> Iterator[MetricsHarness]:
    """agent-otel with metrics, default settings (no user.id on metrics)."""
    yield from make_harness()


@pytest.fixture
def harness_factory() -> Iterator[Callable[..., MetricsHarness]]:
    """Make a harness after the test set its environment (e.g. the user.id opt-in)."""
    made: list[Iterator[MetricsHarness]] = []

    def make(**configure: Any) -> MetricsHarness:
        gen = make_harness(**configure)
        made.append(gen)
        return next(gen)

    yield make
    for gen in made:
        for _ in gen:
            pass


def llm_span(  # type: ignore[no-untyped-def]
    tracer: Tracer,
    model: str | None = "m",
    inp: int | None = 10,
    out: int | None = 5,
    cost: float | None = 0.25,
    *,
    provider: str | None = "openai",
    response_model: str | None = None,
    **extra: object,
):
    """A span as an LLM instrumentation (ours or the official one) records one call."""
    attrs: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: "chat"}
    if model is not None:
        attrs[sc.GEN_AI_REQUEST_MODEL] = model
    if response_model is not None:
        attrs[sc.GEN_AI_RESPONSE_MODEL] = response_model
    if provider is not None:
        attrs[sc.GEN_AI_PROVIDER_NAME] = provider
    if inp is not None:
        attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = inp
    if out is not None:
        attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = out
    if cost is not None:
        attrs[sc.AGENT_USAGE_COST] = cost
    attrs.update(extra)
    return tracer.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attrs)
