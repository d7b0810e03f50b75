"""Fixtures for instrumentation tests: real SDK pipelines, in-memory spans and metrics."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan

from agent_otel import semconv as sc
from tests.conftest import Harness
from tests.semconv.official import check_span_against_reference


@dataclass
class LLMHarness:
    """agent-otel plus an instrumented client library, recording into memory."""

    core: Harness
    metrics: InMemoryMetricReader

    def llm_spans(self) -> list[ReadableSpan]:
        return [s for s in self.core.spans() if sc.GEN_AI_PROVIDER_NAME in (s.attributes or {})]

    def llm_span(self) -> ReadableSpan:
        spans = self.llm_spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def metric_points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        points: list[Any] = []
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        points.extend(metric.data.data_points)
        return points


def instrumented(core: Harness, instrumentor: Any) -> Iterator[LLMHarness]:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor.instrument(tracer_provider=core.provider, meter_provider=meter_provider)
    try:
        yield LLMHarness(core, reader)
    finally:
        instrumentor.uninstrument()
        meter_provider.shutdown()


@pytest.fixture
def capture_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")


def assert_semconv(span: Any) -> None:
    """The span's attributes are those the official GenAI conventions define, as they
    define them."""
    problems = check_span_against_reference(dict(span.attributes))
    assert not problems, problems
