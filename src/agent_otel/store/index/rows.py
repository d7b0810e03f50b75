"""The index rows of one trace's sessions, computed from its skimmed spans.

What a row holds is defined on full records: :func:`~agent_otel.store.index.entry_from_session`
of the sessions that :func:`~agent_otel.records.sessions_from_spans` finds, with their
:func:`~agent_otel.summaries.facts_from_session`. Building those records (every operation
with its changes, every LLM call with its usage) for each of the millions of spans of a large
store was most of the work of a first build besides parsing JSON, and the rows need only a
few of their fields.
So :class:`TraceRows` computes those fields from the spans directly, following the record
functions step by step (each step names the one it follows) and making every judgement with
the helpers they use: :func:`~agent_otel.usage.is_llm_call`, :func:`~agent_otel.usage.llm_model`,
:func:`~agent_otel.usage.read_usage`, :func:`~agent_otel.summaries.cost_by_model` and
:func:`~agent_otel.sessions.project_of`, the
records' own attribute readers, and the records' own function for sessions whose span is
missing. A change to those record functions must be followed here:
``tests/store/test_index.py`` checks that the rows are those of the records, on stores
written by the library and on generated traces that exercise each rule (nesting, missing
parents and session spans, other libraries' usage names, invalid values) with attributes
drawn from every name the library knows, and fails until it is.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from agent_otel import semconv as sc
from agent_otel.records import float_attr, int_attr, str_attr, unended_sessions
from agent_otel.sessions import project_of
from agent_otel.spandata import Attributes, SpanData
from agent_otel.summaries import UNKNOWN, cost_by_model
from agent_otel.usage import is_llm_call, llm_model, read_usage

from .entry import EntryRow, encode_row
from .skim import SpanFields

__all__ = ["TraceRows"]

# What a span is to records.sessions_from_spans (is_session_span, is_operation_span,
# is_llm_call, tested in that order).
_SESSION, _OPERATION, _CALL, _OTHER = range(4)
_SESSION_STATUS = sc.AGENT_SESSION_STATUS
_OPERATION_TYPE = sc.AGENT_OPERATION_TYPE
_OPERATION_STATUS = sc.AGENT_OPERATION_STATUS

_Operation = tuple[str, str | None, int, str, str]
"""(span id, parent id, start in ns, type, status)."""
_Call = tuple[str, str | None, int, str | None, float]
"""(span id, parent id, start in µs, model, cost)."""


class TraceRows:
    """The spans of one trace that its rows depend on, added in store order (a line at a
    time, so that each span's attributes are looked at while they are at hand); :meth:`rows`
    then gives ``entry_row(entry_from_session(s))`` for each session ``s`` that
    ``sessions_from_spans`` finds among all of them, in its order."""

    __slots__ = ("_calls", "_operations", "_parents", "_sessions", "_unparented")

    def __init__(self) -> None:
        # sessions_from_spans: _TraceIndex (of spans with the same id, the last is found).
        self._parents: dict[str, tuple[str | None, int]] = {}
        self._sessions: list[SpanFields] = []
        self._operations: list[_Operation] = []
        self._calls: list[_Call] = []
        self._unparented: dict[str, list[tuple[int, _Operation, Attributes]]] = {}
        """Operations whose parent is not (yet) among the spans, by parent, with their
        attributes (see :meth:`_stand_ins`); dropped as soon as their parent comes."""

    def add(self, spans: Iterable[SpanFields]) -> None:
        """Add spans of the trace that follow those added so far."""
        parents = self._parents
        unparented = self._unparented
        operations = self._operations
        for span in spans:
            span_id, parent, start, _, attributes = span
            # sessions_from_spans: what each span is.
            if _SESSION_STATUS in attributes:
                role = _SESSION
                self._sessions.append(span)
            elif _OPERATION_TYPE in attributes:
                role = _OPERATION
                # _operation: its type and status.
                operation = (
                    span_id,
                    parent,
                    start,
                    str(attributes.get(_OPERATION_TYPE, "")),
                    str(attributes.get(_OPERATION_STATUS, "")),
                )
                if parent and parent not in parents:
                    unparented.setdefault(parent, []).append(
                        (len(operations), operation, attributes)
                    )
                operations.append(operation)
            elif is_llm_call(attributes):
                role = _CALL
                # _llm_call: its model and its usage's cost; its start, to_datetime, is at µs.
                self._calls.append((span_id, parent, start // 1000, llm_model(attributes),
                                    read_usage(attributes)[1]))  # fmt: skip
            else:
                role = _OTHER
            parents[span_id] = (parent, role)
            if unparented:
                unparented.pop(span_id, None)

    def rows(self) -> list[EntryRow]:
        stand_ins = self._stand_ins()
        sessions = self._sessions + stand_ins
        if not sessions:
            return []
        parents = self._parents
        if stand_ins:
            parents = {**parents, **{span[0]: (None, _SESSION) for span in stand_ins}}
        # sessions_from_spans: an operation belongs to its nearest enclosing session; an LLM
        # call too, unless an LLM call encloses it before its nearest operation does.
        operations_of: dict[str, list[_Operation]] = defaultdict(list)
        for operation in self._operations:
            session_id, _ = _owner(operation[0], operation[1], parents)
            if session_id is not None:
                operations_of[session_id].append(operation)
        calls_of: dict[str, list[_Call]] = defaultdict(list)
        for call in self._calls:
            session_id, inside_llm = _owner(call[0], call[1], parents)
            if session_id is not None and not inside_llm:
                calls_of[session_id].append(call)
        rows = [
            _row(span, operations_of.get(span[0], []), calls_of.get(span[0], []))
            for span in sessions
        ]
        # sessions_from_spans: sorted by start (stable).
        rows.sort(key=lambda row: row[1])
        return rows

    def _stand_ins(self) -> list[SpanFields]:
        """sessions_from_spans: the sessions that stand in for missing session spans, made
        by the records' own function from the spans it looks at: the session spans, and the
        operations whose parent is not in the trace, in trace order. (There are rarely any:
        a session's span ends after its operations, so a trace lacks it only while the
        session runs, after its process was killed, or in a range that ends in the middle of
        the trace.)"""
        if not self._unparented:
            return []
        orphans = sorted(
            (found for waiting in self._unparented.values() for found in waiting),
            key=lambda found: found[0],
        )
        spans = [SpanData("", span_id, parent, "", start, end, attributes=attributes)
                 for span_id, parent, start, end, attributes in self._sessions]  # fmt: skip
        spans.extend(SpanData("", op[0], op[1], "", op[2], None, attributes=attributes)
                     for _, op, attributes in orphans)  # fmt: skip
        return [
            (s.span_id, s.parent_span_id, s.start_ns, s.end_ns, s.attributes)
            for s in unended_sessions(spans)
        ]


def _owner(
    span_id: str, parent_id: str | None, parents: dict[str, tuple[str | None, int]]
) -> tuple[str | None, bool]:
    """records._TraceIndex.owner: (id of the nearest enclosing session span, whether an LLM
    call encloses the span before its nearest operation does)."""
    seen = {span_id}
    has_operation = False
    inside_llm = False
    while parent_id and parent_id not in seen:
        found = parents.get(parent_id)
        if found is None:
            return None, inside_llm
        seen.add(parent_id)
        grandparent, role = found
        if role == _SESSION:
            return parent_id, inside_llm
        if not has_operation:
            if role == _OPERATION:
                has_operation = True
            elif role == _CALL:
                inside_llm = True
        parent_id = grandparent
    return None, inside_llm


def _row(session: SpanFields, operations: list[_Operation], calls: list[_Call]) -> EntryRow:
    span_id, _, start, end, a = session
    # records._session: the operations and calls in start order (stable sorts; the start of
    # an operation, to_datetime, is at µs).
    operations = sorted(operations, key=lambda item: item[2] // 1000)
    calls = sorted(calls, key=lambda item: item[2])
    model = str_attr(a, sc.GEN_AI_REQUEST_MODEL)
    total_cost = float_attr(a, sc.AGENT_SESSION_TOTAL_COST) or 0.0

    # summaries.facts_from_session
    by_type = Counter(item[3] or UNKNOWN for item in operations)
    by_status = Counter(item[4] or UNKNOWN for item in operations)

    # entry.entry_from_session
    models = {name for _, _, _, name, _ in calls if name}
    if model:
        models.add(model)
    return encode_row(
        span_id,
        start // 1000,
        session_id=str(a.get(sc.SESSION_ID, span_id)),
        user_id=str_attr(a, sc.USER_ID),
        status=str(a.get(sc.AGENT_SESSION_STATUS, "")),
        ended_us=None if end is None else end // 1000,
        model=model,
        project=project_of(
            str_attr(a, sc.AGENT_SESSION_PROJECT), str_attr(a, sc.AGENT_SESSION_WORKSPACE)
        ),
        total_tokens=int_attr(a, sc.AGENT_SESSION_TOTAL_TOKENS) or 0,
        total_cost=total_cost,
        operation_count=int_attr(a, sc.AGENT_SESSION_OPERATION_COUNT) or 0,
        operations_by_type=by_type,
        operations_by_status=by_status,
        cost_by_model=cost_by_model(((item[3], item[4]) for item in calls), model, total_cost),
        models=models,
    )
