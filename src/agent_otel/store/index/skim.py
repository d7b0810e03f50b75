"""Reading a store line for what the session index needs of its spans, and nothing more.

An index row is made of a few fields of a handful of spans per session, while decoding a
span into a :class:`~agent_otel.spandata.SpanData` builds a dozen objects (events, links,
their attributes, the span itself) that the index never looks at, for each of the millions
of spans of a large store. :func:`skim_line` keeps of each span only its ids, start, end and
attributes, and of its links the changes they undo.

It accepts and rejects exactly the lines the reader does, raising the same error: it makes
the same checks as :func:`~agent_otel.store.otlp_json.decode_traces`, in the same order,
with the same helpers (timestamps, ids, attributes, kinds and status codes are read by the
decoder's own functions), and only leaves out building the objects. A test replaces every
value of a line written by the library with every kind of wrong value, or removes it, and
checks that both agree.
"""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass, field

from agent_otel import semconv as sc
from agent_otel.spandata import Attributes
from agent_otel.store.otlp_json import _KINDS, _STATUS, _decode_attributes, _nanos, _odd_id

__all__ = ["SkimmedTrace", "SpanFields", "skim_line"]

SpanFields = tuple[str, str | None, int, int | None, Attributes]
"""(span id, parent span id or None, start, end or None (ns since the epoch), attributes)."""


@dataclass(slots=True)
class SkimmedTrace:
    """The spans of one trace on one line, in line order."""

    position: int
    """Index of the trace's first span in the line (as the index records locations)."""
    spans: list[SpanFields] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)
    """Ids of the changes that its spans undo (from their links)."""


def skim_line(raw: bytes, only: Container[str] | None = None) -> dict[str, SkimmedTrace]:
    """The spans of one line by trace id, in the order the traces first appear; none for a
    line of another signal. Raises what :func:`~agent_otel.store.index.scan.decode_line`
    raises for a line that is not OTLP JSON.

    With ``only``, the spans of other traces are passed over, unchecked: that is for reading
    again a line that was checked when it was indexed.
    """
    message = json.loads(raw)
    if not isinstance(message, dict):
        raise TypeError(f"expected a JSON object, got {type(message).__name__}")
    traces: dict[str, SkimmedTrace] = {}
    if "resourceSpans" not in message:
        return traces
    position = 0
    # The statements below are those of otlp_json.decode_traces and _decode_span, in their
    # order, without the objects: each one that can raise there is here.
    for resource_spans in message.get("resourceSpans") or ():
        resource_msg = resource_spans.get("resource")
        if resource_msg:
            _decode_attributes(resource_msg.get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans") or ():
            scope_msg = scope_spans.get("scope")
            if scope_msg:
                scope_msg.get("name")
            for span in scope_spans.get("spans") or ():
                get = span.get
                trace_id = get("traceId") or ""
                trace_id = trace_id.lower() if len(trace_id) == 32 else _odd_id(trace_id, 16)
                if only is not None and trace_id not in only:
                    position += 1
                    continue
                span_id = get("spanId") or ""
                span_id = span_id.lower() if len(span_id) == 16 else _odd_id(span_id, 8)
                parent: str | None = get("parentSpanId")
                if parent:
                    parent = parent.lower() if len(parent) == 16 else _odd_id(parent, 8)
                else:
                    parent = None
                end = get("endTimeUnixNano")
                undone = None
                raw_events = get("events")
                if raw_events:
                    for e in raw_events:
                        e.get("name", "")
                        _nanos(e.get("timeUnixNano", 0))
                        _decode_attributes(e.get("attributes"))
                raw_links = get("links")
                if raw_links:
                    for link in raw_links:
                        link_trace = link.get("traceId") or ""
                        if len(link_trace) != 32:
                            _odd_id(link_trace, 16)
                        else:
                            link_trace.lower()
                        link_span = link.get("spanId") or ""
                        if len(link_span) != 16:
                            _odd_id(link_span, 8)
                        else:
                            link_span.lower()
                        change_id = _decode_attributes(link.get("attributes")).get(
                            sc.AGENT_UNDO_CHANGE_ID
                        )
                        if isinstance(change_id, str):
                            undone = undone or []
                            undone.append(change_id)
                status = get("status")
                if status:
                    _STATUS.get(status.get("code", 0), "UNSET")
                    status.get("message", "")
                start = _nanos(get("startTimeUnixNano", 0))
                end = _nanos(end) if end is not None else None
                _KINDS.get(get("kind", 0), "INTERNAL")
                attributes = _decode_attributes(get("attributes"))

                group = traces.get(trace_id)
                if group is None:
                    group = traces[trace_id] = SkimmedTrace(position)
                group.spans.append((span_id, parent, start, end, attributes))
                if undone:
                    group.undone.extend(undone)
                position += 1
    return traces
