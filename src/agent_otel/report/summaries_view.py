"""The report's overview and summary sections: totals, the daily and project summaries as
charts and tables, tokens and cost per model, and the index of sessions.

Every number here is one that :mod:`agent_otel.summaries` computed (or a session's own
total), formatted as the CLI formats it: costs in the summaries to the cent like
``agent-otel summary``, session and model costs to 4 decimals like ``agent-otel sessions``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta, timezone

from agent_otel import formatting as fmt
from agent_otel.facts import SessionFacts
from agent_otel.records import AgentSession
from agent_otel.summaries import (
    DailySummary,
    Period,
    ProjectSummary,
    period_label,
    period_start,
)

from . import status
from .markup import Child, Markup, element
from .models import ModelUsage, models_table
from .svg import Column as ChartColumn
from .svg import horizontal_bars, stacked_columns
from .tables import Column, number, table

NO_USER = "no user id"
"""The legend's name for sessions recorded without a user id."""

MAX_FILLED_PERIODS = 400
"""Periods without sessions are drawn as empty columns, unless the range is longer."""

_PERIOD_STEP_DAYS = {"day": 1, "week": 7, "month": 32}


def _card(title: str, value: str, exact: float, metric: str, note: Child = None) -> Markup:
    return element(
        "div",
        {"class": "card", "data-metric": metric},
        element("div", {"class": "card-title"}, title),
        element("div", {"class": "card-value num", "data-value": repr(exact)}, value),
        element("div", {"class": "card-note"}, note) if note is not None else None,
    )


def overview(
    facts: Sequence[SessionFacts],
    daily: Sequence[DailySummary],
    projects: Sequence[ProjectSummary],
) -> Markup:
    """Cards with the report's totals (from the daily summaries, which cover every session;
    ``facts`` are the sessions')."""
    by_status = Counter(f.status or "unknown" for f in facts)
    operations = sum(row.operation_count for row in daily)
    failed = sum(f.operations_by_status.get("failed", 0) for f in facts)
    blocked = sum(row.blocked_operations for row in daily)
    tokens = sum(row.total_tokens for row in daily)
    cost = math.fsum(row.total_cost for row in daily)
    users = {row.user_id for row in daily if row.user_id is not None}
    project_ids = {row.project_id for row in projects}
    days = sorted({row.date for row in daily})
    span = f"{days[0]} to {days[-1]}" if len(days) > 1 else (str(days[0]) if days else "")
    status_note = [
        (
            " · " if i else None,
            element("span", {"class": f"tone-text tone-{status.session_tone(name)}"}, name),
            f" {count:,}",
        )
        for i, (name, count) in enumerate(by_status.most_common())
    ]
    return element(
        "div",
        {"class": "cards"},
        _card("Sessions", f"{len(facts):,}", len(facts), "sessions", status_note),
        _card(
            "Operations",
            f"{operations:,}",
            operations,
            "operations",
            [
                element("span", {"class": "tone-text tone-failed"}, f"{failed:,} failed"),
                " · ",
                element("span", {"class": "tone-text tone-blocked"}, f"{blocked:,} blocked"),
            ],
        ),
        _card("Tokens", fmt.tokens(tokens), tokens, "tokens"),
        _card("Cost", fmt.cost(cost), cost, "cost"),
        _card("Users", f"{len(users):,}", len(users), "users"),
        _card("Days", f"{len(days):,}", len(days), "days", span or None),
        _card("Projects", f"{len(project_ids):,}", len(project_ids), "projects"),
    )


# -- charts ---------------------------------------------------------------------------------


def _periods(starts: Sequence[date], period: Period) -> list[date]:
    """Every period from the first to the last of ``starts``, so that quiet periods show as
    gaps; only the given ones when that range is very long."""
    first, last = min(starts), max(starts)
    filled = [first]
    while filled[-1] < last and len(filled) <= MAX_FILLED_PERIODS:
        moment = datetime.combine(filled[-1], time(), timezone.utc)
        filled.append(period_start(moment + timedelta(days=_PERIOD_STEP_DAYS[period]), period))
    if filled[-1] < last:
        return sorted(set(starts))
    return filled


def _chart(
    rows: Sequence[tuple[date, str, float]],
    period: Period,
    value_format: Callable[[float], str],
    label: str,
) -> Markup:
    """Stacked columns of (period start, series, value) rows, one column per period."""
    series = sorted({name for _, name, _ in rows}, key=lambda n: (n == NO_USER, n))
    parts: dict[date, list[tuple[str, float]]] = {}
    for start, name, value in rows:
        parts.setdefault(start, []).append((name, value))
    order = {name: i for i, name in enumerate(series)}
    columns = [
        ChartColumn(
            period_label(start, period),
            tuple(sorted(parts.get(start, []), key=lambda part: order[part[0]])),
        )
        for start in _periods(list(parts), period)
    ]
    return element(
        "figure", {"class": "chart"}, stacked_columns(columns, series, value_format, label)
    )


# -- daily ----------------------------------------------------------------------------------

DAILY_COLUMNS = (
    Column("Day (UTC)"),
    Column("User", wrap=True),
    Column("Sessions", numeric=True),
    Column("Operations", numeric=True),
    Column("Tokens", numeric=True),
    Column("Cost", numeric=True),
    Column("Success", numeric=True),
    Column("Blocked", numeric=True),
)


def daily_section(daily: Sequence[DailySummary]) -> Markup:
    """Cost (or, when nothing had a price, tokens) per UTC day split by user, then the
    daily summaries as ``agent-otel summary --daily`` lists them."""
    if not daily:
        return element("p", {"class": "empty"}, "No sessions.")
    if any(row.total_cost > 0 for row in daily):
        caption = "Cost per UTC day, by user"
        costs = [(r.date, r.user_id or NO_USER, r.total_cost) for r in daily]
        chart = _chart(costs, "day", fmt.dollars, caption)
    else:
        caption = "Tokens per UTC day, by user"
        tokens = [(r.date, r.user_id or NO_USER, float(r.total_tokens)) for r in daily]
        chart = _chart(tokens, "day", lambda v: fmt.tokens(round(v)), caption)
        caption += " (no cost was recorded)"
    rows = [
        (
            row.date.isoformat(),
            fmt.or_missing(row.user_id),
            number(f"{row.session_count:,}", row.session_count),
            number(f"{row.operation_count:,}", row.operation_count),
            number(fmt.tokens(row.total_tokens), row.total_tokens),
            number(fmt.dollars(row.total_cost), row.total_cost),
            number(fmt.percent(row.success_rate), row.success_rate),
            number(f"{row.blocked_operations:,}", row.blocked_operations),
        )
        for row in daily
    ]
    return element(
        "div",
        None,
        element("h3", None, caption),
        chart,
        table(DAILY_COLUMNS, rows, label="Daily summaries", kind="daily"),
    )


# -- projects -------------------------------------------------------------------------------


def project_section(projects: Sequence[ProjectSummary], period: Period) -> Markup:
    """Cost per period split by project, then the project summaries as
    ``agent-otel summary --project`` lists them."""
    if not projects:
        return element("p", {"class": "empty"}, "No sessions.")
    parts: list[Child] = []
    if any(row.total_cost > 0 for row in projects):
        chart_rows = [(r.period_start, r.project_id, r.total_cost) for r in projects]
        what = f"Cost per {period} (UTC), by project"
        parts += [element("h3", None, what), _chart(chart_rows, period, fmt.dollars, what)]
    columns = (
        Column(f"{period.capitalize()} (UTC)"),
        Column("Project", wrap=True),
        Column("Users", numeric=True),
        Column("Cost", numeric=True),
        Column("Top models", wrap=True),
        Column("Top operations", wrap=True),
    )
    rows = [
        (
            row.period_label,
            row.project_id,
            number(f"{row.active_users:,}", row.active_users),
            number(fmt.dollars(row.total_cost), row.total_cost),
            _ranked([f"{m.model} {fmt.dollars(m.cost)}" for m in row.top_models]),
            _ranked([f"{o.type} {o.count:,}" for o in row.top_operations]),
        )
        for row in projects
    ]
    parts.append(table(columns, rows, label="Project summaries", kind="projects"))
    return element("div", None, parts)


def _ranked(entries: Sequence[str]) -> Markup:
    """``claude $1.20, gpt $0.40`` as a list that wraps between entries, never inside one."""
    if not entries:
        return element("span", {"class": "muted"}, fmt.MISSING)
    return element("ul", {"class": "ranked"}, (element("li", None, e) for e in entries))


# -- models ---------------------------------------------------------------------------------


def models_section(rows: Sequence[ModelUsage], tokens_outside: int) -> Markup:
    """Cost per model as bars (tokens when nothing had a price), and the model table."""
    if not rows:
        return element("p", {"class": "empty"}, "No LLM calls recorded.")
    if any(row.cost > 0 for row in rows):
        bars = [(row.model, row.cost) for row in rows]
        chart = horizontal_bars(bars, fmt.cost, "Cost per model")
    else:
        bars = sorted(
            ((row.model, float(row.input_tokens + row.output_tokens)) for row in rows),
            key=lambda bar: -bar[1],
        )
        chart = horizontal_bars(bars, lambda v: fmt.tokens(round(v)), "Tokens per model")
    parts: list[Child] = [element("figure", {"class": "chart"}, chart), models_table(rows)]
    if tokens_outside:
        parts.append(
            element(
                "p",
                {"class": "muted"},
                f"{fmt.tokens(tokens_outside)} tokens were recorded without an LLM call "
                "(Operation.add_usage); their cost counts under the session's model.",
            )
        )
    return element("div", None, parts)


# -- sessions -------------------------------------------------------------------------------

SESSION_COLUMNS = (
    Column("Session", wrap=True),
    Column("User"),
    Column("Status"),
    Column("Project", wrap=True),
    Column("Start"),
    Column("Duration", numeric=True),
    Column("Operations", numeric=True),
    Column("Tokens", numeric=True),
    Column("Cost", numeric=True),
)


def sessions_index(sessions: Sequence[tuple[str, AgentSession, SessionFacts]]) -> Markup:
    """One row per session, linking to its section: what ``agent-otel sessions`` lists."""
    rows = [
        (
            element("a", {"href": f"#{anchor}"}, element("code", None, s.id)),
            fmt.or_missing(s.user_id),
            status.badge(s.status, status.session_tone(s.status)),
            fmt.or_missing(f.project),
            fmt.local_time(s.started_at),
            number(fmt.duration(s.duration_s), s.duration_s),
            number(f"{s.operation_count:,}", s.operation_count),
            number(fmt.tokens(s.total_tokens), s.total_tokens),
            number(fmt.cost(s.total_cost), s.total_cost),
        )
        for anchor, s, f in sessions
    ]
    return table(SESSION_COLUMNS, rows, label="Sessions", kind="sessions")
