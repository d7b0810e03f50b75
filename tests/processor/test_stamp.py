"""The session's identity stamped on every span inside it, within the SDK's span limits."""

from __future__ import annotations

from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_otel import semconv as sc
from agent_otel.processor import AgentSpanProcessor

SESSION = {sc.AGENT_SESSION_STATUS: "active", sc.SESSION_ID: "session-0001", sc.USER_ID: "al"}


def _child_attributes(limits: SpanLimits, **child: str) -> dict[str, object]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=limits)
    provider.add_span_processor(AgentSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with (
        tracer.start_as_current_span(sc.SPAN_AGENT_SESSION, attributes=SESSION),
        tracer.start_as_current_span("child", attributes=child),
    ):
        pass
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "child"]
    return dict(span.attributes or {})


def test_stamped_on_a_span_without_limits() -> None:
    attributes = _child_attributes(SpanLimits(), other="x")
    assert attributes == {"other": "x", sc.SESSION_ID: "session-0001", sc.USER_ID: "al"}


def test_a_value_longer_than_the_limit_is_cut_as_the_sdk_cuts_it() -> None:
    attributes = _child_attributes(SpanLimits(max_span_attribute_length=7))
    assert attributes == {sc.SESSION_ID: "session", sc.USER_ID: "al"}


def test_no_more_attributes_than_the_limit() -> None:
    attributes = _child_attributes(SpanLimits(max_span_attributes=2), a="1", b="2")
    assert len(attributes) == 2  # the SDK's own rule decides which ones stay


def test_a_span_that_has_its_own_ids_keeps_them() -> None:
    attributes = _child_attributes(SpanLimits(), **{sc.USER_ID: "bob"})
    assert attributes == {sc.USER_ID: "bob", sc.SESSION_ID: "session-0001"}
