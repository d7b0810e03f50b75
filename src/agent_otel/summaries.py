"""The seed's aggregation views, DailySummary and ProjectSummary, computed in one place.

Every summary is computed by this module from :class:`~agent_otel.facts.SessionFacts`, one
per finished session, whichever way they were obtained: from stored or exported spans
(:func:`from_store`, :func:`facts_from_session`; what ``agent-otel summary`` shows) or from
the span processor for the sessions this process saw. Same facts, same code, same numbers.

Definitions
-----------

- **Period.** A session counts, with everything in it, in the UTC day, ISO 8601 week
  (Monday to Sunday, labelled with its ISO year: ``2026-W48``; 2027-01-01 is in
  ``2026-W53``) or calendar month (``2026-11``) in which it *started*, even if it ran past
  midnight. A daily summary is one (UTC day, user id); a project summary one (project,
  period).
- **Project.** The session's ``project`` (the span attribute ``agent.session.project``, given
  to ``agent_otel.session(project=...)``; by default the last path component of the
  session's workspace, ``/home/alice/shop`` -> ``shop``). Sessions recorded without it count
  under their workspace's name, or else ``"unknown"``.
- **Operations** are counted by their final status. ``operation_count`` counts every
  operation; ``blocked_operations`` those whose status is ``blocked``.
- **Success rate** = success / (success + failed) operations. Blocked and pending operations
  are not attempts that ran, so they are in neither term; ``None`` when no operation ran.
- **Tokens** are the sessions' total tokens (input + output; cached and reasoning tokens are
  already part of those). **Cost** is USD, the sessions' total cost, summed exactly
  (``math.fsum``) and never rounded here (the CLI shows it to the cent).
- **Active users** are the distinct user ids with at least one session in the period (a
  session without a user id counts for none).
- **Top models** rank models by the cost of the LLM calls made with them (response model,
  else request model; a call without either under ``"unknown"``), highest first, ties by
  name; cost not attributable to an LLM call (e.g. ``Operation.add_usage``) counts under the
  session's model, or ``"unknown"``. **Top operations** rank operation types by the number
  of operations of that type in the period's sessions (any status), highest first, ties by
  name. Both keep at most ``top`` entries (default 5).
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Literal, get_args

from agent_otel.facts import SessionFacts
from agent_otel.records import AgentSession, sessions_from_spans
from agent_otel.sessions import project_of

__all__ = [
    "DEFAULT_TOP",
    "PERIODS",
    "UNKNOWN",
    "DailySummary",
    "ModelCost",
    "OperationCount",
    "Period",
    "ProjectSummary",
    "SessionFacts",
    "daily_summaries",
    "facts_from_session",
    "from_store",
    "period_label",
    "period_start",
    "project_summaries",
]

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = get_args(Period)
"""The periods a project summary can be cut by."""

UNKNOWN = "unknown"
"""The model (or project, operation type or status) of what was recorded without one."""

DEFAULT_TOP = 5
"""How many models and operation types a project summary lists by default."""

_SUCCESS, _FAILED, _BLOCKED = "success", "failed", "blocked"

_RESIDUAL_TOLERANCE = 1e-9
"""Cost (relative to the session total, at least USD 1e-9) below which the difference
between a session's total and its calls' costs is rounding, not unattributed cost."""


@dataclass(frozen=True, slots=True)
class ModelCost:
    """A model and the USD cost of its LLM calls in a period."""

    model: str
    cost: float


@dataclass(frozen=True, slots=True)
class OperationCount:
    """An operation type and the number of operations of that type in a period."""

    type: str
    count: int


@dataclass(frozen=True, slots=True)
class DailySummary:
    """One user's sessions started on one UTC day (seed: DailySummary)."""

    date: date
    user_id: str | None
    session_count: int
    operation_count: int
    total_tokens: int
    total_cost: float
    success_rate: float | None
    """success / (success + failed) operations; None when no operation ran."""
    blocked_operations: int


@dataclass(frozen=True, slots=True)
class ProjectSummary:
    """One project's sessions started in one UTC day, ISO week or month (seed:
    ProjectSummary)."""

    project_id: str
    period: Period
    period_start: date
    """The first day of the period: the day, the Monday of the ISO week, the 1st."""
    period_label: str
    """``2026-11-27``, ``2026-W48`` or ``2026-11``."""
    active_users: int
    total_cost: float
    top_models: tuple[ModelCost, ...]
    top_operations: tuple[OperationCount, ...]


# -- facts ----------------------------------------------------------------------------------


def facts_from_session(session: AgentSession) -> SessionFacts:
    """The summary facts of one session read back from spans (see the module's definitions)."""
    by_type = Counter(op.type or UNKNOWN for op in session.operations)
    by_status = Counter(op.status or UNKNOWN for op in session.operations)

    costs = cost_by_model(
        ((call.model, call.usage.cost) for call in session.llm_calls),
        session.model,
        session.total_cost,
    )
    return SessionFacts(
        session_id=session.id,
        user_id=session.user_id,
        project=project_of(session.project, session.workspace),
        started_at=_utc(session.started_at),
        status=session.status,
        total_tokens=session.total_tokens,
        total_cost=session.total_cost,
        operations_by_type=MappingProxyType(dict(by_type)),
        operations_by_status=MappingProxyType(dict(by_status)),
        cost_by_model=MappingProxyType(costs),
    )


def cost_by_model(
    calls: Iterable[tuple[str | None, float]], session_model: str | None, total_cost: float
) -> dict[str, float]:
    """A session's cost by model, from its LLM calls' (model, cost) in start order: each
    call's cost under its model; what the session's total holds beyond its calls (usage the
    app reported itself) under the session's model (see the module's definitions)."""
    costs: dict[str, list[float]] = defaultdict(list)
    for model, cost in calls:
        costs[model or UNKNOWN].append(cost)
    residual = total_cost - math.fsum(cost for values in costs.values() for cost in values)
    if residual > _RESIDUAL_TOLERANCE * max(1.0, abs(total_cost)):
        costs[session_model or UNKNOWN].append(residual)
    return {model: math.fsum(values) for model, values in costs.items()}


def from_store(path: str | os.PathLike[str] | None = None) -> list[SessionFacts]:
    """The facts of every session in a local store directory or OTLP JSON file (default:
    the store), oldest first."""
    from agent_otel.store import read_spans

    return [facts_from_session(s) for s in sessions_from_spans(read_spans(path))]


# -- periods --------------------------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _check_period(period: str) -> Period:
    for known in PERIODS:
        if period == known:
            return known
    raise ValueError(f"period must be one of {', '.join(PERIODS)}; got {period!r}")


def period_start(moment: datetime, period: Period) -> date:
    """The first day of the UTC day, ISO week (its Monday) or month that contains ``moment``
    (a naive datetime is taken to be UTC)."""
    day = _utc(moment).date()
    kind = _check_period(period)
    if kind == "day":
        return day
    if kind == "week":
        return day - timedelta(days=day.isoweekday() - 1)
    return day.replace(day=1)


def period_label(start: date, period: Period) -> str:
    """``2026-11-27`` (day), ``2026-W48`` (ISO week, with its ISO year), ``2026-11`` (month)."""
    kind = _check_period(period)
    if kind == "day":
        return start.isoformat()
    if kind == "week":
        iso = start.isocalendar()
        return f"{iso[0]:04d}-W{iso[1]:02d}"
    return f"{start.year:04d}-{start.month:02d}"


# -- views ----------------------------------------------------------------------------------


@dataclass
class _DayTotals:
    sessions: int = 0
    operations: int = 0
    tokens: int = 0
    success: int = 0
    failed: int = 0
    blocked: int = 0
    costs: list[float] = field(default_factory=list)


def daily_summaries(
    facts: Iterable[SessionFacts], *, user: str | None = None, day: date | None = None
) -> list[DailySummary]:
    """One :class:`DailySummary` per (UTC day, user id) with at least one session, by day
    then user id (sessions without a user id last). ``user`` and ``day`` keep only that user's
    or that day's summaries."""
    groups: dict[tuple[date, str | None], _DayTotals] = {}
    for f in facts:
        started = _utc(f.started_at).date()
        if (user is not None and f.user_id != user) or (day is not None and started != day):
            continue
        totals = groups.get((started, f.user_id))
        if totals is None:
            totals = groups[(started, f.user_id)] = _DayTotals()
        totals.sessions += 1
        totals.operations += sum(f.operations_by_status.values())
        totals.tokens += f.total_tokens
        totals.costs.append(f.total_cost)
        totals.success += f.operations_by_status.get(_SUCCESS, 0)
        totals.failed += f.operations_by_status.get(_FAILED, 0)
        totals.blocked += f.operations_by_status.get(_BLOCKED, 0)
    return [
        DailySummary(
            date=started,
            user_id=user_id,
            session_count=t.sessions,
            operation_count=t.operations,
            total_tokens=t.tokens,
            total_cost=math.fsum(t.costs),
            success_rate=_success_rate(t.success, t.failed),
            blocked_operations=t.blocked,
        )
        for (started, user_id), t in sorted(groups.items(), key=lambda item: _day_key(item[0]))
    ]


def _success_rate(success: int, failed: int) -> float | None:
    """success / (success + failed); None when neither happened."""
    ran = success + failed
    return success / ran if ran else None


def _day_key(key: tuple[date, str | None]) -> tuple[date, bool, str]:
    started, user_id = key
    return started, user_id is None, user_id or ""


@dataclass
class _PeriodTotals:
    users: set[str] = field(default_factory=set)
    costs: list[float] = field(default_factory=list)
    model_costs: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    operations: Counter[str] = field(default_factory=Counter)


def project_summaries(
    facts: Iterable[SessionFacts], period: Period = "day", *, top: int = DEFAULT_TOP
) -> list[ProjectSummary]:
    """One :class:`ProjectSummary` per (project, period) with at least one session, by
    period then project; ``top`` bounds the models and operation types listed (0: none)."""
    kind = _check_period(period)
    if isinstance(top, bool) or not isinstance(top, int) or top < 0:
        raise ValueError(f"top must be a whole number >= 0; got {top!r}")
    groups: dict[tuple[date, str], _PeriodTotals] = {}
    for f in facts:
        key = (period_start(f.started_at, kind), f.project or UNKNOWN)
        totals = groups.get(key)
        if totals is None:
            totals = groups[key] = _PeriodTotals()
        if f.user_id is not None:
            totals.users.add(f.user_id)
        totals.costs.append(f.total_cost)
        for model, cost in f.cost_by_model.items():
            totals.model_costs[model].append(cost)
        totals.operations.update(f.operations_by_type)
    out: list[ProjectSummary] = []
    for (start, project), t in sorted(groups.items(), key=lambda item: item[0]):
        models = sorted(
            (ModelCost(model, math.fsum(costs)) for model, costs in t.model_costs.items()),
            key=lambda m: (-m.cost, m.model),
        )
        operations = sorted(
            (OperationCount(kind_, count) for kind_, count in t.operations.items() if count),
            key=lambda o: (-o.count, o.type),
        )
        out.append(
            ProjectSummary(
                project_id=project,
                period=kind,
                period_start=start,
                period_label=period_label(start, kind),
                active_users=len(t.users),
                total_cost=math.fsum(t.costs),
                top_models=tuple(models[:top]),
                top_operations=tuple(operations[:top]),
            )
        )
    return out
