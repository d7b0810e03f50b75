"""The compact per-session input of every summary view.

A :class:`SessionFacts` is what the daily and project summaries need to know about one
finished session, and nothing more. It is built either from stored records
(:func:`agent_otel.summaries.facts_from_session`) or incrementally by the span processor for
the sessions this process saw; both feed the same aggregation code
(:mod:`agent_otel.summaries`), so the views agree whichever way the facts came.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """What the summaries need to know about one session.

    - ``started_at``: the session's start, a UTC-aware datetime; it decides the day, ISO
      week and month the session counts in.
    - ``operations_by_type`` / ``operations_by_status``: the session's operations counted by
      type and by final status.
    - ``cost_by_model``: each LLM call's cost (USD) under its model (response model, else
      request model); cost not attributable to an LLM call (the session's total cost minus
      its calls' costs, e.g. ``Operation.add_usage``) under the session's model, or
      ``"unknown"``.
    """

    session_id: str
    user_id: str | None
    project: str | None
    started_at: datetime
    status: str
    total_tokens: int
    total_cost: float
    operations_by_type: Mapping[str, int]
    operations_by_status: Mapping[str, int]
    cost_by_model: Mapping[str, float]
