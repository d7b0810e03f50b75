"""What the report must show, computed from the library's own answers: the summaries of
:mod:`agent_otel.summaries` and the sessions' totals as :func:`agent_otel.read_sessions` gives
them, formatted as the CLI formats them.

A table is compared as rows of cells, each cell ``(text, exact)``: the text the reader sees
and the unrounded number a numeric cell keeps in ``data-value`` (``None`` for text cells).
The same expectations serve the tests that parse the HTML and the tests that read the DOM in
a real browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from agent_otel import formatting as fmt
from agent_otel.records import AgentSession
from agent_otel.summaries import (
    DEFAULT_TOP,
    UNKNOWN,
    Period,
    daily_summaries,
    facts_from_session,
    project_summaries,
)

CellValue = tuple[str, "str | None"]
Rows = list[list[CellValue]]


def text(value: object) -> CellValue:
    return (str(value), None)


def num(shown: str, exact: float | None) -> CellValue:
    return (shown, "" if exact is None else repr(exact))


def daily_rows(sessions: Sequence[AgentSession]) -> Rows:
    facts = [facts_from_session(s) for s in sessions]
    return [
        [
            text(d.date.isoformat()),
            text(fmt.or_missing(d.user_id)),
            num(f"{d.session_count:,}", d.session_count),
            num(f"{d.operation_count:,}", d.operation_count),
            num(fmt.tokens(d.total_tokens), d.total_tokens),
            num(fmt.dollars(d.total_cost), d.total_cost),
            num(fmt.percent(d.success_rate), d.success_rate),
            num(f"{d.blocked_operations:,}", d.blocked_operations),
        ]
        for d in daily_summaries(facts)
    ]


def project_rows(
    sessions: Sequence[AgentSession], period: Period = "day", top: int = DEFAULT_TOP
) -> Rows:
    facts = [facts_from_session(s) for s in sessions]
    return [
        [
            text(p.period_label),
            text(p.project_id),
            num(f"{p.active_users:,}", p.active_users),
            num(fmt.dollars(p.total_cost), p.total_cost),
            text(", ".join(f"{m.model} {fmt.dollars(m.cost)}" for m in p.top_models) or "—"),
            text(", ".join(f"{o.type} {o.count:,}" for o in p.top_operations) or "—"),
        ]
        for p in project_summaries(facts, period, top=top)
    ]


def model_rows(sessions: Sequence[AgentSession]) -> Rows:
    """Per model, counted here from scratch: the LLM calls' numbers, and the cost the
    summaries attribute to the model (:attr:`SessionFacts.cost_by_model`)."""
    calls = [c for s in sessions for c in s.llm_calls]
    costs: dict[str, list[float]] = {}
    for s in sessions:
        for model, cost in facts_from_session(s).cost_by_model.items():
            costs.setdefault(model, []).append(cost)
    models = {c.model or UNKNOWN for c in calls} | set(costs)
    rows = []
    for model in models:
        mine = [c for c in calls if (c.model or UNKNOWN) == model]
        usage = [c.usage for c in mine]
        cost = math.fsum(costs.get(model, []))
        rows.append(
            (
                -cost,
                -len(mine),
                model,
                [
                    text(model),
                    num(f"{len(mine):,}", len(mine)),
                    num(
                        fmt.tokens(sum(u.input_tokens for u in usage)),
                        sum(u.input_tokens for u in usage),
                    ),
                    num(
                        fmt.tokens(sum(u.output_tokens for u in usage)),
                        sum(u.output_tokens for u in usage),
                    ),
                    num(
                        fmt.tokens(sum(u.cache_read_tokens for u in usage)),
                        sum(u.cache_read_tokens for u in usage),
                    ),
                    num(fmt.cost(cost), cost),
                ],
            )
        )
    return [row for *_, row in sorted(rows, key=lambda r: (r[0], r[1], r[2]))]


def newest_first(sessions: Sequence[AgentSession]) -> list[AgentSession]:
    return sorted(sessions, key=lambda s: s.started_at, reverse=True)


def session_rows(sessions: Sequence[AgentSession]) -> Rows:
    """The index of sessions, as ``agent-otel sessions`` lists them (newest first)."""
    return [
        [
            text(s.id),
            text(fmt.or_missing(s.user_id)),
            text(s.status),
            text(fmt.or_missing(facts_from_session(s).project)),
            text(fmt.local_time(s.started_at)),
            num(fmt.duration(s.duration_s), s.duration_s),
            num(f"{s.operation_count:,}", s.operation_count),
            num(fmt.tokens(s.total_tokens), s.total_tokens),
            num(fmt.cost(s.total_cost), s.total_cost),
        ]
        for s in newest_first(sessions)
    ]


def session_stats(session: AgentSession) -> dict[str, CellValue]:
    """The numbers on a session's summary line."""
    ops = session.operation_count
    return {
        "operations": num(f"{ops:,} operation{'s' if ops != 1 else ''}", ops),
        "tokens": num(f"{fmt.tokens(session.total_tokens)} tokens", session.total_tokens),
        "cost": num(fmt.cost(session.total_cost), session.total_cost),
        "duration": num(fmt.duration(session.duration_s), session.duration_s),
    }


def operation_numbers(session: AgentSession) -> dict[str, list[CellValue]]:
    """Per operation id: duration, input tokens, output tokens, cost."""
    return {
        op.id: [
            num(fmt.duration(op.duration_s), op.duration_s),
            num(fmt.tokens(op.input_tokens), op.input_tokens),
            num(fmt.tokens(op.output_tokens), op.output_tokens),
            num(fmt.cost(op.cost), op.cost),
        ]
        for op in session.operations
    }


def overview(sessions: Sequence[AgentSession]) -> dict[str, tuple[str, float]]:
    """The overview cards from the daily and project summaries; the caller checks them
    against the sessions' own totals too."""
    facts = [facts_from_session(s) for s in sessions]
    daily = daily_summaries(facts)
    days = {d.date for d in daily}
    users = {d.user_id for d in daily if d.user_id is not None}
    operations = sum(d.operation_count for d in daily)
    tokens = sum(d.total_tokens for d in daily)
    cost = math.fsum(d.total_cost for d in daily)
    projects = {p.project_id for p in project_summaries(facts)}
    return {
        "sessions": (f"{len(sessions):,}", len(sessions)),
        "operations": (f"{operations:,}", operations),
        "tokens": (fmt.tokens(tokens), tokens),
        "cost": (fmt.cost(cost), cost),
        "users": (f"{len(users):,}", len(users)),
        "days": (f"{len(days):,}", len(days)),
        "projects": (f"{len(projects):,}", len(projects)),
    }
