"""One session as the session list and the summaries see it, and its row in the index.

A :class:`SessionEntry` holds the scalar fields of an :class:`~agent_otel.records.AgentSession`
that ``agent-otel sessions`` shows, filters and sorts by, plus the session's
:class:`~agent_otel.facts.SessionFacts` for the summaries. What it holds is defined on a full
``AgentSession`` by :func:`entry_from_session` (with
:func:`~agent_otel.summaries.facts_from_session`), which is how the entries of sessions read
back in full are made. The index makes its rows from the spans directly
(:mod:`~agent_otel.store.index.rows`, the same values without building the records), and
the tests check that they are the rows of :func:`entry_from_session`.

The row form (:func:`entry_row` / :func:`entries_from_rows`) is a flat tuple of plain values: it
is what the index stores and what its worker processes send back (``SessionFacts`` holds
read-only mapping proxies, which cannot be pickled).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

from agent_otel.facts import SessionFacts
from agent_otel.records import AgentSession
from agent_otel.summaries import facts_from_session

from .bulk import without_gc

__all__ = [
    "EntryRow",
    "SessionEntry",
    "encode_row",
    "entries_from_rows",
    "entry_from_session",
    "entry_row",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

EntryRow = tuple[str, int, str]
"""A :class:`SessionEntry` without its trace id, as the index stores it: the session span's
id, its start (µs since the epoch), and all the rest as JSON (see :func:`encode_row`)."""


@dataclass(frozen=True, slots=True)
class SessionEntry:
    """What listing, filtering, sorting and summarising need to know about one session.

    ``operation_count`` is the session's own count attribute (what ``sessions`` has always
    shown); ``models`` are the session's model and the models of its LLM calls, the values
    ``sessions --model`` matches. ``trace_id`` and ``span_id`` identify the session span, so
    the full record can be read back on demand.
    """

    facts: SessionFacts
    ended_at: datetime | None
    model: str | None
    operation_count: int
    models: frozenset[str]
    trace_id: str
    span_id: str

    @property
    def id(self) -> str:
        return self.facts.session_id

    @property
    def user_id(self) -> str | None:
        return self.facts.user_id

    @property
    def status(self) -> str:
        return self.facts.status

    @property
    def project(self) -> str | None:
        return self.facts.project

    @property
    def started_at(self) -> datetime:
        return self.facts.started_at

    @property
    def total_tokens(self) -> int:
        return self.facts.total_tokens

    @property
    def total_cost(self) -> float:
        return self.facts.total_cost

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.started_at).total_seconds()


def entry_from_session(session: AgentSession) -> SessionEntry:
    """The entry of a session read back from spans."""
    models = {call.model for call in session.llm_calls if call.model}
    if session.model:
        models.add(session.model)
    return SessionEntry(
        facts=facts_from_session(session),
        ended_at=_utc(session.ended_at),
        model=session.model,
        operation_count=session.operation_count,
        models=frozenset(models),
        trace_id=session.trace_id,
        span_id=session.span_id,
    )


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(timezone.utc)


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (records are at microsecond precision)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _moment(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def encode_row(
    span_id: str,
    started_us: int,
    *,
    session_id: str,
    user_id: str | None,
    status: str,
    ended_us: int | None,
    model: str | None,
    project: str | None,
    total_tokens: int,
    total_cost: float,
    operation_count: int,
    operations_by_type: Mapping[str, int],
    operations_by_status: Mapping[str, int],
    cost_by_model: Mapping[str, float],
    models: Iterable[str],
) -> EntryRow:
    """The row of a session entry. All but the id and the start are kept as JSON, which
    holds every value exactly where SQLite columns could not: integers beyond 64 bits, NaN
    and infinite costs, text with lone surrogates (a workspace's undecodable file name)."""
    fields = [session_id, user_id, status, ended_us, model, project, total_tokens, total_cost,
              operation_count, dict(operations_by_type), dict(operations_by_status),
              dict(cost_by_model), sorted(models)]  # fmt: skip
    return span_id, started_us, json.dumps(fields, separators=(",", ":"))


def entry_row(entry: SessionEntry) -> EntryRow:
    """The entry as the index stores it (the trace id is stored beside it)."""
    f = entry.facts
    return encode_row(
        entry.span_id,
        _micros(f.started_at),
        session_id=f.session_id,
        user_id=f.user_id,
        status=f.status,
        ended_us=None if entry.ended_at is None else _micros(entry.ended_at),
        model=entry.model,
        project=f.project,
        total_tokens=f.total_tokens,
        total_cost=f.total_cost,
        operation_count=entry.operation_count,
        operations_by_type=f.operations_by_type,
        operations_by_status=f.operations_by_status,
        cost_by_model=f.cost_by_model,
        models=entry.models,
    )


def entries_from_rows(rows: Sequence[tuple[str, EntryRow]]) -> list[SessionEntry]:
    """The entries back from their stored (trace id, row) pairs; each equal to the entry it
    was made from. The JSON of all rows is parsed in one call, which at 100,000 sessions is
    several times faster than one call per row."""
    with without_gc():
        return _entries(rows)


def _entries(rows: Sequence[tuple[str, EntryRow]]) -> list[SessionEntry]:
    fields = json.loads("[" + ",".join(row[2] for _, row in rows) + "]")
    out = []
    for (trace_id, (span_id, started_us, _)), (
        session_id, user_id, status, ended_us, model, project, tokens, cost, operation_count,
        by_type, by_status, cost_by_model, models,
    ) in zip(rows, fields, strict=True):  # fmt: skip
        facts = SessionFacts(
            session_id=session_id,
            user_id=user_id,
            project=project,
            started_at=_moment(started_us),
            status=status,
            total_tokens=tokens,
            total_cost=cost,
            operations_by_type=MappingProxyType(by_type),
            operations_by_status=MappingProxyType(by_status),
            cost_by_model=MappingProxyType(cost_by_model),
        )
        out.append(
            SessionEntry(
                facts=facts,
                ended_at=None if ended_us is None else _moment(ended_us),
                model=model,
                operation_count=operation_count,
                models=frozenset(models),
                trace_id=trace_id,
                span_id=span_id,
            )
        )
    return out
