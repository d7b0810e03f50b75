"""The index rows of one trace's sessions, computed from its skimmed spans.

What a row holds is defined on full records: :func:`~agent_otel.store.index.entry_from_session`
of the sessions that :func:`~agent_otel.records.sessions_from_spans` finds, with their
:func:`~agent_otel.summaries.facts_from_session`. Building those records (every operation
with its changes, every LLM call with its usage) for each of the millions of spans of a large
store was most of the time of a first build, and the rows need only a few of their fields.
So :class:`TraceRows` computes those fields from the spans directly, following the record
functions step by step (each step names the one it follows) and making every judgement with
the helpers they use: :func:`~agent_otel.usage.is_llm_call`, :func:`~agent_otel.usage.llm_model`,
:func:`~agent_otel.usage.read_usage`, :func:`~agent_otel.sessions.default_project` and the
records' own attribute readers. ``tests/store/test_index.py`` checks that the rows are those
of the records, on stores written by the library and on generated traces that exercise each
rule (nesting, other libraries' usage names, invalid values, spans without their parents).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable

from agent_otel import semconv as sc
from agent_otel.records import _float, _int, _str
from agent_otel.sessions import default_project
from agent_otel.summaries import _RESIDUAL_TOLERANCE, UNKNOWN
from agent_otel.usage import is_llm_call, llm_model, read_usage

from .entry import EntryRow, encode_details
from .skim import SpanFields

__all__ = ["TraceRows"]

# What a span is to records.sessions_from_spans (is_session_span, is_operation_span,
# is_llm_call, tested in that order).
_SESSION, _OPERATION, _CALL, _OTHER = range(4)

_Operation = tuple[str, str | None, int, str, str]
"""(span id, parent id, start in µs, type, status)."""
_Call = tuple[str, str | None, int, str | None, float]
"""(span id, parent id, start in µs, model, cost)."""


class TraceRows:
    """The spans of one trace that its rows depend on, added in store order (a line at a
    time, so that each span's attributes are looked at while they are at hand and only a
    session's are kept); :meth:`rows` then gives ``entry_row(entry_from_session(s))`` for
    each session ``s`` that ``sessions_from_spans`` finds among all of them, in its order."""

    __slots__ = ("_calls", "_operations", "_parents", "_sessions")

    def __init__(self) -> None:
        # sessions_from_spans: _TraceIndex (of spans with the same id, the last is found).
        self._parents: dict[str, tuple[str | None, int]] = {}
        self._sessions: list[SpanFields] = []
        self._operations: list[_Operation] = []
        self._calls: list[_Call] = []

    def add(self, spans: Iterable[SpanFields]) -> None:
        """Add spans of the trace that follow those added so far."""
        parents = self._parents
        for span in spans:
            span_id, parent, start, _, attributes = span
            # sessions_from_spans: what each span is.
            if sc.AGENT_SESSION_STATUS in attributes:
                role = _SESSION
                self._sessions.append(span)
            elif sc.AGENT_OPERATION_TYPE in attributes:
                role = _OPERATION
                # _operation: its type and status; its timestamp, to_datetime(start), is at µs.
                self._operations.append(
                    (
                        span_id,
                        parent,
                        start // 1000,
                        str(attributes.get(sc.AGENT_OPERATION_TYPE, "")),
                        str(attributes.get(sc.AGENT_OPERATION_STATUS, "")),
                    )
                )
            elif is_llm_call(attributes):
                role = _CALL
                # _llm_call: its model and its usage's cost.
                self._calls.append((span_id, parent, start // 1000, llm_model(attributes),
                                    read_usage(attributes)[1]))  # fmt: skip
            else:
                role = _OTHER
            parents[span_id] = (parent, role)

    def rows(self) -> list[EntryRow]:
        if not self._sessions:
            return []
        # sessions_from_spans: an operation belongs to its nearest enclosing session; an LLM
        # call too, unless an LLM call encloses it before its nearest operation does.
        parents = self._parents
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
            for span in self._sessions
        ]
        # sessions_from_spans: sorted by start (stable); started_us is the row's fifth field.
        rows.sort(key=lambda row: row[4])
        return rows


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
    # records._session: the operations and calls in start order (stable sorts).
    operations = sorted(operations, key=lambda item: item[2])
    calls = sorted(calls, key=lambda item: item[2])
    model = _str(a, sc.GEN_AI_REQUEST_MODEL)
    total_cost = _float(a, sc.AGENT_SESSION_TOTAL_COST) or 0.0

    # summaries.facts_from_session
    by_type = Counter(item[3] or UNKNOWN for item in operations)
    by_status = Counter(item[4] or UNKNOWN for item in operations)
    costs: dict[str, list[float]] = defaultdict(list)
    for item in calls:
        costs[item[3] or UNKNOWN].append(item[4])
    residual = total_cost - math.fsum(item[4] for item in calls)
    if residual > _RESIDUAL_TOLERANCE * max(1.0, abs(total_cost)):
        costs[model or UNKNOWN].append(residual)
    project = _str(a, sc.AGENT_SESSION_PROJECT)
    workspace = _str(a, sc.AGENT_SESSION_WORKSPACE)
    if not project and workspace:
        project = default_project(workspace)

    # entry.entry_from_session
    models = {name for _, _, _, name, _ in calls if name}
    if model:
        models.add(model)
    return (
        span_id,
        str(a.get(sc.SESSION_ID, span_id)),
        _str(a, sc.USER_ID),
        str(a.get(sc.AGENT_SESSION_STATUS, "")),
        start // 1000,
        None if end is None else end // 1000,
        model,
        project or None,
        _int(a, sc.AGENT_SESSION_TOTAL_TOKENS) or 0,
        None if math.isnan(total_cost) else total_cost,
        _int(a, sc.AGENT_SESSION_OPERATION_COUNT) or 0,
        encode_details(
            by_type,
            by_status,
            {name: math.fsum(values) for name, values in costs.items()},
            models,
        ),
    )
