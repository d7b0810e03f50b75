"""Reading a store line for what the session index needs of its spans, and nothing more.

An index row is made of a few fields of a handful of spans per session, while decoding a
span into a :class:`~agent_otel.spandata.SpanData` builds a dozen objects (events, links,
their attributes, the span itself) that the index never looks at, for each of the millions
of spans of a large store. :func:`skim_line` keeps of each span only its ids, start, end and
attributes, and of its links the changes they undo.

It also parses a line as the library writes it (:func:`_skim_written`) one span at a time,
with the ``json`` module's own parser, so that each span is read while its objects are still
in the processor's caches. A line is half a megabyte of text and some megabytes of objects:
parsed whole and read afterwards, reading it took more than twice as long as parsing it on a
busy machine (much of it waiting for memory); read span by span, about as long. Any other
line (another writer's spacing or key order, or a wrong one) is parsed whole, as the reader
does.

It accepts and rejects exactly the lines the reader does, raising the same error: it makes
the same checks as :func:`~agent_otel.store.otlp_json.decode_traces`, in the same order,
with the same helpers (timestamps, ids, attributes, kinds and status codes are read by the
decoder's own functions), and only leaves out building the objects; a line parsed span by
span that turns out wrong is parsed again whole, so that the error is the reader's. Tests
replace every value of lines written by the library with every kind of wrong value, or
remove it, and change their text character by character, and check that both agree.
"""

from __future__ import annotations

import json
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_otel import semconv as sc
from agent_otel.spandata import Attributes
from agent_otel.store.otlp_json import (
    SPAN_KINDS,
    STATUS_CODES,
    decode_attributes,
    decode_nanos,
    decode_odd_id,
)
from agent_otel.store.reader import BAD_LINE_ERRORS

__all__ = ["SkimmedTrace", "SpanFields", "skim_line"]

SpanFields = tuple[str, str | None, int, int | None, Attributes]
"""(span id, parent span id or None, start, end or None (ns since the epoch), attributes)."""

_parse_at = json.JSONDecoder().raw_decode
"""``json.loads``'s parser (with the same options), for one value at a given index."""


@dataclass(slots=True)
class SkimmedTrace:
    """The spans of one trace on one line, in line order."""

    position: int
    """Index of the trace's first span in the line (as the index records locations)."""
    spans: list[SpanFields] = field(default_factory=list)
    undone: list[str] = field(default_factory=list)
    """Ids of the changes that its spans undo (from their links)."""


class _NotWritten(Exception):
    """A line that is not laid out as the library writes lines."""


def skim_line(raw: bytes, only: Container[str] | None = None) -> dict[str, SkimmedTrace]:
    """The spans of one line by trace id, in the order the traces first appear; none for a
    line of another signal. Raises what :func:`~agent_otel.store.index.scan.decode_line`
    raises for a line that is not OTLP JSON.

    With ``only``, the spans of other traces are passed over, unchecked: that is for reading
    again a line that was checked when it was indexed.
    """
    try:
        return _skim_written(raw, only)
    except (_NotWritten, *BAD_LINE_ERRORS):
        pass  # laid out otherwise, or wrong: parsed whole, the reader's way, which decides
    message = json.loads(raw)
    if not isinstance(message, dict):
        raise TypeError(f"expected a JSON object, got {type(message).__name__}")
    traces: dict[str, SkimmedTrace] = {}
    if "resourceSpans" not in message:
        return traces
    position = 0
    # The statements of otlp_json.decode_traces, in their order, without the objects.
    for resource_spans in message.get("resourceSpans") or ():
        resource_msg = resource_spans.get("resource")
        if resource_msg:
            decode_attributes(resource_msg.get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans") or ():
            scope_msg = scope_spans.get("scope")
            if scope_msg:
                scope_msg.get("name")
            for span in scope_spans.get("spans") or ():
                position = _skim_span(span, position, traces, only)
    return traces


def _skim_written(raw: bytes, only: Container[str] | None) -> dict[str, SkimmedTrace]:
    """:func:`skim_line` for a line laid out exactly as ``dumps_line`` writes it, each span
    read as soon as it is parsed; raises :class:`_NotWritten` (or the parser's or a check's
    error) for any other. What it consumes is then one JSON object with no other keys than
    those it reads, whose values ``json.loads``'s parser parsed, so ``json.loads`` gives the
    same message; and the checks are those of :func:`skim_line`, in the same order."""
    # json.loads decodes bytes as UTF-8 (with surrogatepass) when they start as this does.
    text = raw.decode("utf-8", "surrogatepass")
    parse = _parse_at
    traces: dict[str, SkimmedTrace] = {}
    position = 0
    at = _expect(text, 0, '{"resourceSpans":[')
    while True:
        resource_msg, at = parse(text, _expect(text, at, '{"resource":'))
        if resource_msg:
            decode_attributes(resource_msg.get("attributes"))
        at = _expect(text, at, ',"scopeSpans":[')
        while True:
            scope_msg, at = parse(text, _expect(text, at, '{"scope":'))
            if scope_msg:
                scope_msg.get("name")
            at = _expect(text, at, ',"spans":[')
            while True:
                span, at = parse(text, at)
                position = _skim_span(span, position, traces, only)
                if not text.startswith(",", at):
                    break
                at += 1
            at = _end_of_object(text, _expect(text, at, "]"))
            if not text.startswith(",", at):
                break
            at += 1
        at = _end_of_object(text, _expect(text, at, "]"))
        if not text.startswith(",", at):
            break
        at += 1
    if text[_expect(text, at, "]}") :] not in ("", "\n"):
        raise _NotWritten
    return traces


def _expect(text: str, at: int, expected: str) -> int:
    if not text.startswith(expected, at):
        raise _NotWritten
    return at + len(expected)


def _end_of_object(text: str, at: int) -> int:
    """Past the rest of a resource's or scope's object: its schema URL, if any, and ``}``."""
    if text.startswith(',"schemaUrl":', at):
        _, at = _parse_at(text, at + 13)
    return _expect(text, at, "}")


def _skim_span(
    span: Mapping[str, Any],
    position: int,
    traces: dict[str, SkimmedTrace],
    only: Container[str] | None,
) -> int:
    """Add the span at ``position`` in its line to ``traces``; the next position. The
    statements of otlp_json._decode_span, in their order, without the objects: each one
    that can raise there is here."""
    get = span.get
    trace_id = get("traceId") or ""
    trace_id = trace_id.lower() if len(trace_id) == 32 else decode_odd_id(trace_id, 16)
    if only is not None and trace_id not in only:
        return position + 1
    span_id = get("spanId") or ""
    span_id = span_id.lower() if len(span_id) == 16 else decode_odd_id(span_id, 8)
    parent: str | None = get("parentSpanId")
    parent = (parent.lower() if len(parent) == 16 else decode_odd_id(parent, 8)) if parent else None
    end = get("endTimeUnixNano")
    undone = None
    raw_events = get("events")
    if raw_events:
        for e in raw_events:
            e.get("name", "")
            decode_nanos(e.get("timeUnixNano", 0))
            decode_attributes(e.get("attributes"))
    raw_links = get("links")
    if raw_links:
        for link in raw_links:
            link_trace = link.get("traceId") or ""
            if len(link_trace) != 32:
                decode_odd_id(link_trace, 16)
            else:
                link_trace.lower()
            link_span = link.get("spanId") or ""
            if len(link_span) != 16:
                decode_odd_id(link_span, 8)
            else:
                link_span.lower()
            change_id = decode_attributes(link.get("attributes")).get(sc.AGENT_UNDO_CHANGE_ID)
            if isinstance(change_id, str):
                undone = undone or []
                undone.append(change_id)
    status = get("status")
    if status:
        STATUS_CODES.get(status.get("code", 0), "UNSET")
        status.get("message", "")
    start = decode_nanos(get("startTimeUnixNano", 0))
    end = decode_nanos(end) if end is not None else None
    SPAN_KINDS.get(get("kind", 0), "INTERNAL")
    attributes = decode_attributes(get("attributes"))

    group = traces.get(trace_id)
    if group is None:
        group = traces[trace_id] = SkimmedTrace(position)
    group.spans.append((span_id, parent, start, end, attributes))
    if undone:
        group.undone.extend(undone)
    return position + 1
