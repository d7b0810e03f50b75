"""A plain, backend-neutral view of a finished span.

Telemetry is read back from two places: live ``ReadableSpan`` objects (an in-memory exporter,
the span processor) and OTLP JSON lines (the local store, a Collector's file exporter).
Both are turned into :class:`SpanData` so that the typed records, the summaries and the CLI
have exactly one shape to understand. Ids are lowercase hex, as OTLP JSON spells them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

# Values are whatever OTLP AnyValue can carry (scalars, arrays, bytes, nested maps).
Attributes = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class EventData:
    """A span event: name, timestamp (ns since the epoch) and attributes."""

    name: str
    time_ns: int
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LinkData:
    """A span link to another span, with the link's own attributes."""

    trace_id: str
    span_id: str
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SpanData:
    """One finished span, independent of where it was read from."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int | None
    kind: str = "INTERNAL"
    attributes: Attributes = field(default_factory=dict)
    events: tuple[EventData, ...] = ()
    links: tuple[LinkData, ...] = ()
    status_code: str = "UNSET"
    status_message: str = ""
    resource: Attributes = field(default_factory=dict)
    scope_name: str = ""

    @classmethod
    def from_readable(cls, span: ReadableSpan) -> SpanData:
        """Convert a span from the OpenTelemetry SDK (e.g. from ``InMemorySpanExporter``)."""
        ctx = span.get_span_context()
        parent = span.parent
        return cls(
            trace_id=format(ctx.trace_id, "032x") if ctx else "",
            span_id=format(ctx.span_id, "016x") if ctx else "",
            parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
            name=span.name,
            start_ns=span.start_time or 0,
            end_ns=span.end_time,
            kind=span.kind.name,
            attributes=dict(span.attributes or {}),
            events=tuple(
                EventData(e.name, e.timestamp, dict(e.attributes or {})) for e in span.events
            ),
            links=tuple(
                LinkData(
                    format(link.context.trace_id, "032x"),
                    format(link.context.span_id, "016x"),
                    dict(link.attributes or {}),
                )
                for link in span.links
            ),
            status_code=span.status.status_code.name,
            status_message=span.status.description or "",
            resource=dict(span.resource.attributes) if span.resource else {},
            scope_name=span.instrumentation_scope.name if span.instrumentation_scope else "",
        )
