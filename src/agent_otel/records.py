"""Typed, immutable records of the seed's data model, and how to read them back from spans.

The seed schema (Session, Operation, ChangeRecord) is what people reason about; spans are how
it travels. These records are the public way to read telemetry back, whether the spans come
from an in-memory exporter or from the local store, so that nobody has to know attribute names
to ask "what did this session cost".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from agent_otel import semconv as sc
from agent_otel.spandata import Attributes, SpanData
from agent_otel.usage import Usage, is_llm_call, llm_model, llm_provider


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """One file change made by an operation (seed: ChangeRecord)."""

    id: str
    operation_id: str
    path: str
    change_type: str
    diff_lines: int
    can_undo: bool
    before: str | None = None
    after: str | None = None
    diff: str | None = None
    before_sha256: str | None = None
    after_sha256: str | None = None
    before_size: int | None = None
    after_size: int | None = None
    diff_size: int | None = None
    binary: bool = False
    undo_operation_id: str | None = None
    timestamp: datetime | None = None
    trace_id: str = ""


@dataclass(frozen=True, slots=True)
class LLMCall:
    """One LLM call made inside a session, as its ``gen_ai`` span recorded it."""

    span_id: str
    operation_id: str | None
    name: str
    model: str | None
    provider: str | None
    usage: Usage
    started_at: datetime
    duration_s: float | None
    status: str


@dataclass(frozen=True, slots=True)
class AgentOperation:
    """One agent operation (seed: AgentOperation). ``id`` is the operation span's id."""

    id: str
    session_id: str | None
    timestamp: datetime
    type: str
    target: str | None
    input_tokens: int
    output_tokens: int
    cost: float
    status: str
    approved: bool
    result: str | None = None
    error: str | None = None
    approved_by: str | None = None
    ended_at: datetime | None = None
    blocked_reason: str | None = None
    exit_code: int | None = None
    command_line: str | None = None
    undoes_change_id: str | None = None
    changes: tuple[ChangeRecord, ...] = ()
    llm_calls: tuple[LLMCall, ...] = ()
    trace_id: str = ""

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.timestamp, self.ended_at)


@dataclass(frozen=True, slots=True)
class AgentSession:
    """One agent session (seed: AgentSession), with its operations in start order."""

    id: str
    user_id: str | None
    started_at: datetime
    status: str
    model: str | None
    model_tier: int | None
    temperature: float | None
    workspace: str | None
    project: str | None
    total_tokens: int
    total_cost: float
    operation_count: int
    ended_at: datetime | None = None
    initial_prompt: str | None = None
    agent_name: str | None = None
    error: str | None = None
    operations: tuple[AgentOperation, ...] = ()
    llm_calls: tuple[LLMCall, ...] = ()
    trace_id: str = ""
    span_id: str = ""
    service_name: str | None = None

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.started_at, self.ended_at)


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def to_datetime(ns: int) -> datetime:
    """Nanoseconds since the epoch, as OTLP carries them, to an aware UTC datetime — in
    integer arithmetic, so that a time just before midnight never rounds into the next day."""
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, tz=timezone.utc) + timedelta(microseconds=rest // 1000)


def str_attr(attrs: Attributes, key: str) -> str | None:
    """A text field of a record: the value as text (another tool may have written any
    type), None when absent."""
    value = attrs.get(key)
    return None if value is None else str(value)


def int_attr(attrs: Attributes, key: str) -> int | None:
    """An integer field of a record, None when absent or of another type."""
    value = attrs.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def float_attr(attrs: Attributes, key: str) -> float | None:
    """A finite number, or None: NaN and infinities are no amount, and have no JSON form."""
    value = attrs.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _error_text(span: SpanData) -> str | None:
    if span.status_code != "ERROR":
        return None
    return span.status_message or str_attr(span.attributes, sc.ERROR_TYPE)


def change_from_event(
    operation_id: str, attrs: Attributes, time_ns: int | None = None, trace_id: str = ""
) -> ChangeRecord:
    """Rebuild a ChangeRecord from the attributes of an ``agent.change`` span event."""
    return ChangeRecord(
        id=str(attrs.get(sc.AGENT_CHANGE_ID, "")),
        operation_id=operation_id,
        path=str(attrs.get(sc.FILE_PATH, "")),
        change_type=str(attrs.get(sc.AGENT_CHANGE_TYPE, "")),
        diff_lines=int_attr(attrs, sc.AGENT_CHANGE_DIFF_LINES) or 0,
        can_undo=bool(attrs.get(sc.AGENT_CHANGE_CAN_UNDO, False)),
        before=str_attr(attrs, sc.AGENT_CHANGE_BEFORE),
        after=str_attr(attrs, sc.AGENT_CHANGE_AFTER),
        diff=str_attr(attrs, sc.AGENT_CHANGE_DIFF),
        before_sha256=str_attr(attrs, sc.AGENT_CHANGE_BEFORE_SHA256),
        after_sha256=str_attr(attrs, sc.AGENT_CHANGE_AFTER_SHA256),
        before_size=int_attr(attrs, sc.AGENT_CHANGE_BEFORE_SIZE),
        after_size=int_attr(attrs, sc.AGENT_CHANGE_AFTER_SIZE),
        diff_size=int_attr(attrs, sc.AGENT_CHANGE_DIFF_SIZE),
        binary=bool(attrs.get(sc.AGENT_CHANGE_BINARY, False)),
        timestamp=None if time_ns is None else to_datetime(time_ns),
        trace_id=trace_id,
    )


def _llm_call(span: SpanData, operation_id: str | None) -> LLMCall:
    a = span.attributes
    return LLMCall(
        span_id=span.span_id,
        operation_id=operation_id,
        name=span.name,
        model=llm_model(a),
        provider=llm_provider(a),
        usage=Usage.from_attributes(a),
        started_at=to_datetime(span.start_ns),
        duration_s=None if span.end_ns is None else (span.end_ns - span.start_ns) / 1e9,
        status=span.status_code,
    )


def _operation(span: SpanData, changes: list[ChangeRecord], calls: list[LLMCall]) -> AgentOperation:
    a = span.attributes
    return AgentOperation(
        id=span.span_id,
        session_id=str_attr(a, sc.SESSION_ID),
        timestamp=to_datetime(span.start_ns),
        ended_at=None if span.end_ns is None else to_datetime(span.end_ns),
        type=str(a.get(sc.AGENT_OPERATION_TYPE, "")),
        target=str_attr(a, sc.AGENT_OPERATION_TARGET),
        input_tokens=int_attr(a, sc.GEN_AI_USAGE_INPUT_TOKENS) or 0,
        output_tokens=int_attr(a, sc.GEN_AI_USAGE_OUTPUT_TOKENS) or 0,
        cost=float_attr(a, sc.AGENT_USAGE_COST) or 0.0,
        status=str(a.get(sc.AGENT_OPERATION_STATUS, "")),
        approved=bool(a.get(sc.AGENT_OPERATION_APPROVED, False)),
        approved_by=str_attr(a, sc.AGENT_OPERATION_APPROVED_BY),
        result=str_attr(a, sc.AGENT_OPERATION_RESULT),
        error=_error_text(span),
        blocked_reason=str_attr(a, sc.AGENT_OPERATION_BLOCKED_REASON),
        exit_code=int_attr(a, sc.PROCESS_EXIT_CODE),
        command_line=str_attr(a, sc.PROCESS_COMMAND_LINE),
        undoes_change_id=str_attr(a, sc.AGENT_UNDO_CHANGE_ID),
        changes=tuple(changes),
        llm_calls=tuple(calls),
        trace_id=span.trace_id,
    )


def _session(
    span: SpanData, operations: list[AgentOperation], calls: list[LLMCall]
) -> AgentSession:
    a = span.attributes
    return AgentSession(
        id=str(a.get(sc.SESSION_ID, span.span_id)),
        user_id=str_attr(a, sc.USER_ID),
        started_at=to_datetime(span.start_ns),
        ended_at=None if span.end_ns is None else to_datetime(span.end_ns),
        status=str(a.get(sc.AGENT_SESSION_STATUS, "")),
        model=str_attr(a, sc.GEN_AI_REQUEST_MODEL),
        model_tier=int_attr(a, sc.AGENT_SESSION_MODEL_TIER),
        temperature=float_attr(a, sc.GEN_AI_REQUEST_TEMPERATURE),
        workspace=str_attr(a, sc.AGENT_SESSION_WORKSPACE),
        project=str_attr(a, sc.AGENT_SESSION_PROJECT),
        initial_prompt=str_attr(a, sc.AGENT_SESSION_INITIAL_PROMPT),
        agent_name=str_attr(a, sc.GEN_AI_AGENT_NAME),
        total_tokens=int_attr(a, sc.AGENT_SESSION_TOTAL_TOKENS) or 0,
        total_cost=float_attr(a, sc.AGENT_SESSION_TOTAL_COST) or 0.0,
        operation_count=int_attr(a, sc.AGENT_SESSION_OPERATION_COUNT) or 0,
        error=_error_text(span),
        operations=tuple(sorted(operations, key=lambda op: op.timestamp)),
        llm_calls=tuple(sorted(calls, key=lambda c: c.started_at)),
        trace_id=span.trace_id,
        span_id=span.span_id,
        service_name=str_attr(span.resource, "service.name"),
    )


#: The status of a session known only from its operations: its own span never arrived.
UNKNOWN_STATUS = "unknown"


def unended_sessions(spans: list[SpanData]) -> list[SpanData]:
    """Stand-ins for the session spans a trace lacks: one for each missing parent of
    operations that carry a ``session.id`` (agent-otel stamps it on every span of a session)
    and have no session above them. Starts with its first operation; status unknown."""
    by_id = {s.span_id for s in spans}
    present = {
        session_id
        for s in spans
        if is_session_span(s) and isinstance(session_id := s.attributes.get(sc.SESSION_ID), str)
    }
    orphans: dict[str, list[SpanData]] = defaultdict(list)
    for span in spans:
        parent = span.parent_span_id
        session_id = span.attributes.get(sc.SESSION_ID)
        if (
            is_operation_span(span)
            and parent
            and parent not in by_id
            and isinstance(session_id, str)
            and session_id not in present
        ):
            orphans[parent].append(span)
    stand_ins = []
    for parent, ops in orphans.items():
        first = min(ops, key=lambda op: op.start_ns)
        usage = [Usage.from_attributes(op.attributes) for op in ops]
        attrs: dict[str, Any] = {
            key: first.attributes[key]
            for key in (sc.SESSION_ID, sc.USER_ID)
            if key in first.attributes
        }
        attrs[sc.AGENT_SESSION_STATUS] = UNKNOWN_STATUS
        attrs[sc.AGENT_SESSION_OPERATION_COUNT] = len(ops)
        attrs[sc.AGENT_SESSION_TOTAL_TOKENS] = sum(u.total_tokens for u in usage)
        attrs[sc.AGENT_SESSION_TOTAL_COST] = sum(u.cost for u in usage)
        stand_ins.append(
            SpanData(
                trace_id=first.trace_id,
                span_id=parent,
                parent_span_id=None,
                name=sc.SPAN_AGENT_SESSION,
                start_ns=first.start_ns,
                end_ns=None,
                attributes=attrs,
                resource=first.resource,
            )
        )
    return stand_ins


def is_session_span(span: SpanData) -> bool:
    return sc.AGENT_SESSION_STATUS in span.attributes


def is_operation_span(span: SpanData) -> bool:
    return sc.AGENT_OPERATION_TYPE in span.attributes


class _TraceIndex:
    """The spans of one trace, for walking from a span up to its operation and session."""

    def __init__(self, spans: list[SpanData]) -> None:
        self.by_id = {s.span_id: s for s in spans}

    def ancestors(self, span: SpanData) -> Iterable[SpanData]:
        seen = {span.span_id}
        parent_id = span.parent_span_id
        while parent_id and parent_id not in seen:
            parent = self.by_id.get(parent_id)
            if parent is None:
                return
            seen.add(parent_id)
            yield parent
            parent_id = parent.parent_span_id

    def owner(self, span: SpanData) -> tuple[SpanData | None, SpanData | None, bool]:
        """(nearest operation, nearest session, whether an LLM span sits between them)."""
        operation = None
        inside_llm = False
        for parent in self.ancestors(span):
            if is_session_span(parent):
                return operation, parent, inside_llm
            if operation is None:
                if is_operation_span(parent):
                    operation = parent
                elif is_llm_call(parent.attributes):
                    inside_llm = True
        return operation, None, inside_llm


def sessions_from_spans(spans: Iterable[SpanData]) -> list[AgentSession]:
    """Group finished spans into sessions, oldest first.

    Operations belong to the nearest enclosing session span; LLM calls to the nearest
    enclosing operation (or directly to the session). An LLM span nested inside another LLM
    span (one instrumented client calling another) is not listed twice. A change that a later
    operation undid gets that operation's id as ``undo_operation_id``.

    A session whose own span is missing — its process was killed, or it is still running —
    is still listed, from the operations it finished: status :data:`UNKNOWN_STATUS`, no end,
    its totals the sum of those operations (see :func:`unended_sessions`).
    """
    by_trace: dict[str, list[SpanData]] = defaultdict(list)
    for span in spans:
        by_trace[span.trace_id].append(span)
    for trace_spans in by_trace.values():
        trace_spans.extend(unended_sessions(trace_spans))
    # An undo may happen in a later session (e.g. `agent-otel undo`), so look at all of them.
    undone_by = _undo_links(s for trace in by_trace.values() for s in trace)

    sessions: list[AgentSession] = []
    for trace_spans in by_trace.values():
        index = _TraceIndex(trace_spans)
        ops_of: dict[str, list[SpanData]] = defaultdict(list)
        calls_of_op: dict[str, list[LLMCall]] = defaultdict(list)
        calls_of_session: dict[str, list[LLMCall]] = defaultdict(list)
        for span in trace_spans:
            if is_session_span(span):
                continue
            operation, session, inside_llm = index.owner(span)
            if is_operation_span(span):
                if session is not None:
                    ops_of[session.span_id].append(span)
            elif is_llm_call(span.attributes) and not inside_llm and session is not None:
                call = _llm_call(span, operation.span_id if operation else None)
                calls_of_session[session.span_id].append(call)
                if operation is not None:
                    calls_of_op[operation.span_id].append(call)

        for span in trace_spans:
            if not is_session_span(span):
                continue
            op_spans = ops_of.get(span.span_id, [])
            operations = [
                _operation(
                    op,
                    [
                        _with_undo(
                            change_from_event(op.span_id, e.attributes, e.time_ns, op.trace_id),
                            undone_by,
                        )
                        for e in op.events
                        if e.name == sc.EVENT_AGENT_CHANGE
                    ],
                    calls_of_op.get(op.span_id, []),
                )
                for op in op_spans
            ]
            sessions.append(_session(span, operations, calls_of_session.get(span.span_id, [])))
    sessions.sort(key=lambda s: s.started_at)
    return sessions


def _undo_links(spans: Iterable[SpanData]) -> Mapping[str, str]:
    """change id -> id of the operation that undid it, from the undo operations' links."""
    undone: dict[str, str] = {}
    for op in spans:
        for link in op.links:
            change_id = link.attributes.get(sc.AGENT_UNDO_CHANGE_ID)
            if isinstance(change_id, str):
                undone[change_id] = op.span_id
    return undone


def _with_undo(change: ChangeRecord, undone_by: Mapping[str, str]) -> ChangeRecord:
    undo_id = undone_by.get(change.id)
    return change if undo_id is None else replace(change, undo_operation_id=undo_id)
