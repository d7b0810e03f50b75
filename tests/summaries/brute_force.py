"""The summaries recomputed from the workload's specs, by different code than the library's.

Nothing here calls agent_otel.summaries: it loops over the hand-written specs (what the test
asked the agent to do), sums costs as exact fractions, cuts periods with
``date.isocalendar()`` / ``date.fromisocalendar()`` and ``strftime``, and ranks with its own
sort. Only the result record classes are the library's, so that results compare with ``==``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from agent_otel.summaries import DailySummary, ModelCost, OperationCount, ProjectSummary

from .workload import STATUS_OF_OUTCOME, Call, SessionSpec


@dataclass
class Expected:
    """One session as the spec says it went."""

    user: str
    project: str
    day: date
    operations: int
    by_type: dict[str, int]
    by_status: dict[str, int]
    tokens: int
    cost: Fraction
    cost_by_model: dict[str, Fraction]


def expected_session(spec: SessionSpec) -> Expected:
    by_type: dict[str, int] = {}
    by_status: dict[str, int] = {}
    calls: list[Call] = list(spec.calls_outside)
    tokens = 0
    cost = Fraction(0)
    unattributed = Fraction(0)
    for op in spec.ops:
        by_type[op.type] = by_type.get(op.type, 0) + 1
        status = STATUS_OF_OUTCOME[op.outcome]
        by_status[status] = by_status.get(status, 0) + 1
        calls.extend(op.calls)
        if op.added is not None:
            tokens += op.added[0] + op.added[1]
            unattributed += Fraction(op.added[2])
    cost_by_model: dict[str, Fraction] = {}
    for call in calls:
        tokens += call.input_tokens + call.output_tokens  # cache tokens are part of input
        cost += Fraction(call.cost)
        cost_by_model[call.model] = cost_by_model.get(call.model, Fraction(0)) + Fraction(call.cost)
    if unattributed:
        home = spec.model or "unknown"
        cost_by_model[home] = cost_by_model.get(home, Fraction(0)) + unattributed
    return Expected(
        user=spec.user,
        project=spec.expected_project,
        day=spec.start.date(),
        operations=len(spec.ops),
        by_type=by_type,
        by_status=by_status,
        tokens=tokens,
        cost=cost + unattributed,
        cost_by_model=cost_by_model,
    )


@dataclass
class _Day:
    sessions: int = 0
    operations: int = 0
    tokens: int = 0
    cost: Fraction = Fraction(0)
    success: int = 0
    failed: int = 0
    blocked: int = 0


def daily(specs: list[SessionSpec]) -> list[DailySummary]:
    days: dict[tuple[date, str], _Day] = defaultdict(_Day)
    for spec in specs:
        e = expected_session(spec)
        d = days[(e.day, e.user)]
        d.sessions += 1
        d.operations += e.operations
        d.tokens += e.tokens
        d.cost += e.cost
        d.success += e.by_status.get("success", 0)
        d.failed += e.by_status.get("failed", 0)
        d.blocked += e.by_status.get("blocked", 0)
    out = []
    for day, user in sorted(days):
        d = days[(day, user)]
        attempts = d.success + d.failed
        out.append(
            DailySummary(
                date=day,
                user_id=user,
                session_count=d.sessions,
                operation_count=d.operations,
                total_tokens=d.tokens,
                total_cost=float(d.cost),
                success_rate=(d.success / attempts) if attempts else None,
                blocked_operations=d.blocked,
            )
        )
    return out


def period_of(day: date, period: str) -> tuple[date, str]:
    """(first day, label) of the period containing ``day``."""
    if period == "day":
        return day, day.isoformat()
    if period == "week":
        iso_year, week, _ = day.isocalendar()
        return date.fromisocalendar(iso_year, week, 1), f"{iso_year}-W{week:02d}"
    return date(day.year, day.month, 1), day.strftime("%Y-%m")


@dataclass
class _Period:
    label: str
    users: set[str] = field(default_factory=set)
    cost: Fraction = Fraction(0)
    models: dict[str, Fraction] = field(default_factory=dict)
    types: dict[str, int] = field(default_factory=dict)


def projects(specs: list[SessionSpec], period: str, top: int = 5) -> list[ProjectSummary]:
    groups: dict[tuple[date, str], _Period] = {}
    for spec in specs:
        e = expected_session(spec)
        start, label = period_of(e.day, period)
        g = groups.setdefault((start, e.project), _Period(label))
        g.users.add(e.user)
        g.cost += e.cost
        for model, cost in e.cost_by_model.items():
            g.models[model] = g.models.get(model, Fraction(0)) + cost
        for kind, count in e.by_type.items():
            g.types[kind] = g.types.get(kind, 0) + count
    out = []
    for start, project in sorted(groups):
        g = groups[(start, project)]
        models = sorted(g.models.items(), key=lambda item: (-item[1], item[0]))
        types = sorted(g.types.items(), key=lambda item: (-item[1], item[0]))
        out.append(
            ProjectSummary(
                project_id=project,
                period=period,  # type: ignore[arg-type]
                period_start=start,
                period_label=g.label,
                active_users=len(g.users),
                total_cost=float(g.cost),
                top_models=tuple(ModelCost(m, float(c)) for m, c in models[:top]),
                top_operations=tuple(OperationCount(t, n) for t, n in types[:top]),
            )
        )
    return out
