"""Tokens and cost per model: the rows of the report's model table and chart, and the table.

The cost of a model is the summaries' own: :attr:`SessionFacts.cost_by_model` (each LLM
call's cost under its model, and cost recorded without an LLM call under the session's model)
summed over the sessions, so the report's model costs add up to the same total as its daily
and project summaries. Calls and tokens are counted from the LLM calls themselves; tokens
recorded without an LLM call (``Operation.add_usage``) belong to no model and are reported
apart by :func:`tokens_outside_calls`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from agent_otel import formatting as fmt
from agent_otel.facts import SessionFacts
from agent_otel.records import AgentSession
from agent_otel.summaries import UNKNOWN

from .markup import Markup
from .tables import Column, number, table

COLUMNS = (
    Column("Model", wrap=True),
    Column("LLM calls", numeric=True),
    Column("Input tokens", numeric=True),
    Column("Output tokens", numeric=True),
    Column("Cache read", numeric=True),
    Column("Cost", numeric=True),
)


@dataclass(frozen=True)
class ModelUsage:
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cost: float


@dataclass
class _Totals:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    costs: list[float] = field(default_factory=list)


def model_usage(
    sessions: Sequence[AgentSession], facts: Sequence[SessionFacts]
) -> list[ModelUsage]:
    """One row per model, costliest first (then most calls, then by name). ``facts`` are
    the facts of ``sessions``."""
    totals: defaultdict[str, _Totals] = defaultdict(_Totals)
    for session in sessions:
        for call in session.llm_calls:
            row = totals[call.model or UNKNOWN]
            row.calls += 1
            row.input_tokens += call.usage.input_tokens
            row.output_tokens += call.usage.output_tokens
            row.cache_read_tokens += call.usage.cache_read_tokens
    for f in facts:
        for model, cost in f.cost_by_model.items():
            totals[model].costs.append(cost)
    rows = [
        ModelUsage(
            model,
            t.calls,
            t.input_tokens,
            t.output_tokens,
            t.cache_read_tokens,
            math.fsum(t.costs),
        )
        for model, t in totals.items()
    ]
    rows.sort(key=lambda r: (-r.cost, -r.calls, r.model))
    return rows


def tokens_outside_calls(sessions: Sequence[AgentSession]) -> int:
    """Tokens in the sessions' totals that no LLM call accounts for (``add_usage``)."""
    return sum(
        max(s.total_tokens - sum(c.usage.total_tokens for c in s.llm_calls), 0) for s in sessions
    )


def models_table(rows: Sequence[ModelUsage]) -> Markup:
    return table(
        COLUMNS,
        (
            (
                row.model,
                number(f"{row.calls:,}", row.calls),
                number(fmt.tokens(row.input_tokens), row.input_tokens),
                number(fmt.tokens(row.output_tokens), row.output_tokens),
                number(fmt.tokens(row.cache_read_tokens), row.cache_read_tokens),
                number(fmt.cost(row.cost), row.cost),
            )
            for row in rows
        ),
        label="Tokens and cost per model",
        kind="models",
    )
