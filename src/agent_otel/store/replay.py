"""Stored spans as SDK ``ReadableSpan`` objects again, for the official OTLP exporters.

A session recorded offline should reach Jaeger or Tempo later exactly as if it had been
exported live. So a stored line is turned back into what the SDK would have handed an
exporter — the same trace, span and parent ids, timestamps, kind, attributes, events, links,
status, resource and instrumentation scope — and the official exporters encode and send it;
no OTLP protobuf is written by hand here.

The spans' fields come from the store's own decoder (:func:`decode_traces`, into
:class:`~agent_otel.spandata.SpanData`); what that plain view leaves out is read from the
message itself: the scope's version, attributes and schema URL, the resource's schema URL,
each span's W3C trace state and whether its parent and links were remote.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from agent_otel.spandata import SpanData

# The store's decoder, shared so that a value reads the same whichever way it is read back.
from agent_otel.store.otlp_json import decode_attributes, decode_traces

__all__ = ["readable_spans"]

# opentelemetry.proto.trace.v1.SpanFlags: the low byte holds the W3C trace flags.
_TRACE_FLAGS_MASK = 0xFF
_FLAG_IS_REMOTE = 0x200


def readable_spans(message: Mapping[str, Any]) -> list[ReadableSpan]:
    """The spans of one OTLP JSON ``ExportTraceServiceRequest`` (a parsed store line), in
    message order. Raises ``ValueError``/``TypeError``/``KeyError``/``AttributeError`` on a
    message that is not valid OTLP JSON, like :func:`decode_traces`."""
    out: list[ReadableSpan] = []
    for resource_spans in message.get("resourceSpans") or ():
        resource_msg = resource_spans.get("resource") or {}
        resource = Resource(
            dict(decode_attributes(resource_msg.get("attributes"))),
            resource_spans.get("schemaUrl") or None,
        )
        for scope_spans in resource_spans.get("scopeSpans") or ():
            raw_spans = scope_spans.get("spans") or ()
            if not raw_spans:
                continue
            scope_msg = scope_spans.get("scope") or {}
            scope = InstrumentationScope(
                scope_msg.get("name") or "",
                scope_msg.get("version") or None,
                scope_spans.get("schemaUrl") or None,
                dict(decode_attributes(scope_msg.get("attributes"))),
            )
            # Decode this scope's spans alone, so each one lines up with its raw form.
            decoded = decode_traces({"resourceSpans": [{"scopeSpans": [{"spans": raw_spans}]}]})
            out.extend(
                _readable(span, raw, resource, scope)
                for span, raw in zip(decoded, raw_spans, strict=True)
            )
    return out


def _readable(
    span: SpanData, raw: Mapping[str, Any], resource: Resource, scope: InstrumentationScope
) -> ReadableSpan:
    # A span's flags describe its parent's context (remote or not) and, in the low byte,
    # its own W3C trace flags; a link's flags describe the linked context.
    flags = int(raw.get("flags") or 0)
    context = _context(span.trace_id, span.span_id, flags & ~_FLAG_IS_REMOTE, raw.get("traceState"))
    parent = None
    if span.parent_span_id:
        parent = _context(span.trace_id, span.parent_span_id, flags & _FLAG_IS_REMOTE)
    links = [
        Link(
            _context(link.trace_id, link.span_id, int(raw_link.get("flags") or 0)), link.attributes
        )
        for link, raw_link in zip(span.links, raw.get("links") or (), strict=True)
    ]
    code = StatusCode[span.status_code]
    # The SDK keeps a description only on an error status (and warns about any other).
    description = (span.status_message or None) if code is StatusCode.ERROR else None
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=dict(span.attributes),
        events=[Event(e.name, dict(e.attributes), e.time_ns) for e in span.events],
        links=links,
        kind=SpanKind[span.kind],
        status=Status(code, description),
        start_time=span.start_ns,
        end_time=span.end_ns,
        instrumentation_scope=scope,
    )


def _context(
    trace_id: str, span_id: str, flags: int, trace_state: str | None = None
) -> SpanContext:
    """A span context from hex ids and OTLP span flags (the remote bit, the W3C flags)."""
    return SpanContext(
        trace_id=int(trace_id, 16),
        span_id=int(span_id, 16),
        is_remote=bool(flags & _FLAG_IS_REMOTE),
        trace_flags=TraceFlags(flags & _TRACE_FLAGS_MASK),
        trace_state=TraceState.from_header([trace_state]) if trace_state else None,
    )
