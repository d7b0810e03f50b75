"""The HTML report: sessions, their timelines, diffs and costs, and the summaries, in one
self-contained file (``agent-otel report``).

:func:`render_report` turns sessions read back from telemetry (:func:`agent_otel.read_sessions`)
into one HTML document that opens in any browser without a network: styles, script and
charts are inline, and its Content-Security-Policy forbids loading anything. The summaries in
it are :mod:`agent_otel.summaries`' own, over exactly the sessions in the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from agent_otel import formatting as fmt
from agent_otel.records import AgentSession
from agent_otel.summaries import (
    DEFAULT_TOP,
    Period,
    daily_summaries,
    facts_from_session,
    project_summaries,
)

from .markup import Child
from .models import model_usage, tokens_outside_calls
from .page import Section, document
from .session_view import session_section
from .summaries_view import daily_section, models_section, overview, project_section, sessions_index

__all__ = ["DEFAULT_TITLE", "OPEN_SESSIONS", "render_report"]

OPEN_SESSIONS = 1
"""Reports of at most this many sessions show them expanded; longer ones start collapsed."""

DEFAULT_TITLE = "Agent sessions"

PERIOD_NAMES = {"day": "UTC day", "week": "ISO week (UTC)", "month": "month (UTC)"}


def render_report(
    sessions: Sequence[AgentSession],
    *,
    period: Period = "day",
    top: int = DEFAULT_TOP,
    title: str = DEFAULT_TITLE,
    source: str | None = None,
    generated_at: datetime | None = None,
) -> str:
    """The report of ``sessions`` as one HTML document.

    Sessions are listed newest first. The project summary is cut by ``period`` (``day``,
    ``week`` or ``month``) and lists the ``top`` costliest models and most frequent operation
    types. ``source`` (e.g. the store's path) and ``generated_at`` (default: now) are shown
    under the title.
    """
    facts = [facts_from_session(s) for s in sessions]
    daily = daily_summaries(facts)
    projects = project_summaries(facts, period, top=top)
    newest_first = sorted(
        zip(sessions, facts, strict=True), key=lambda pair: pair[0].started_at, reverse=True
    )
    indexed = [(f"session-{n}", s, f) for n, (s, f) in enumerate(newest_first, start=1)]
    expanded = len(sessions) <= OPEN_SESSIONS
    moment = generated_at if generated_at is not None else datetime.now().astimezone()
    subtitle: list[Child] = [
        f"{len(sessions):,} session{'s' if len(sessions) != 1 else ''}",
        f" from {source}" if source else None,
        f" · generated {fmt.local_time(moment, zone=True)}",
        " · summaries of these sessions by UTC day",
        f", projects by {PERIOD_NAMES[period]}" if period != "day" else None,
    ]
    sections = [
        Section("overview", "Overview", overview(facts, daily, projects)),
        Section("daily", "Daily", daily_section(daily)),
        Section("projects", "Projects", project_section(projects, period)),
        Section(
            "models",
            "Models",
            models_section(model_usage(sessions, facts), tokens_outside_calls(sessions)),
        ),
        Section(
            "sessions",
            "Sessions",
            [
                sessions_index(indexed),
                (session_section(s, f, anchor, open_=expanded) for anchor, s, f in indexed),
            ],
        ),
    ]
    return document(title, subtitle, sections)
