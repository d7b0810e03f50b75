"""agent-otel: OpenTelemetry for AI agents.

An agent session is a root span, each operation (read / write / execute / query) a child
span, each file change an event on its operation; the LLM calls made inside them are rolled
up into tokens and cost. ::

    import agent_otel

    agent_otel.configure(service_name="my-agent")
    with agent_otel.session(user_id="alice", model="claude-sonnet-4-5") as s:
        with agent_otel.operation("read", target="src/app.py") as op:
            op.set_result(text)

Read telemetry back with :func:`read_sessions` (the local store) or
:func:`sessions_from_spans` (any finished spans).
Summarise them per day and user or per project and period with :func:`daily_summaries` and
:func:`project_summaries`, over :class:`SessionFacts` from ``agent_otel.summaries.from_store()``
or from the span processor's ``finished_sessions()``.
"""

from __future__ import annotations

import os

from agent_otel.configuration import Telemetry, configure
from agent_otel.errors import AgentOtelWarning
from agent_otel.facts import SessionFacts
from agent_otel.operations import Operation, current_operation, operation
from agent_otel.records import (
    AgentOperation,
    AgentSession,
    ChangeRecord,
    LLMCall,
    sessions_from_spans,
)
from agent_otel.sessions import Session, current_session, session
from agent_otel.spandata import SpanData
from agent_otel.summaries import DailySummary, ProjectSummary, daily_summaries, project_summaries
from agent_otel.usage import Usage
from agent_otel.version import __version__


def read_sessions(path: str | os.PathLike[str] | None = None) -> list[AgentSession]:
    """The sessions in a local store directory or an OTLP JSON file (default: the store)."""
    from agent_otel.store import read_spans

    return sessions_from_spans(read_spans(path))


def finished_sessions() -> list[SessionFacts]:
    """The facts of the sessions that ended in this process, oldest first, as the span
    processor kept them (at most ``AGENT_OTEL_SUMMARY_MAX_SESSIONS``); empty before
    :func:`configure`. Feed them to :func:`daily_summaries` / :func:`project_summaries`."""
    from agent_otel import configuration

    current = configuration._telemetry
    return [] if current is None else current.processor.finished_sessions()


__all__ = [
    "AgentOperation",
    "AgentOtelWarning",
    "AgentSession",
    "ChangeRecord",
    "DailySummary",
    "LLMCall",
    "Operation",
    "ProjectSummary",
    "Session",
    "SessionFacts",
    "SpanData",
    "Telemetry",
    "Usage",
    "__version__",
    "configure",
    "current_operation",
    "current_session",
    "daily_summaries",
    "finished_sessions",
    "operation",
    "project_summaries",
    "read_sessions",
    "session",
    "sessions_from_spans",
]
