"""Token usage and cost of LLM calls, read from span attributes.

LLM spans come from our own instrumentors and from other libraries; all of them carry the
official ``gen_ai.usage.*`` attributes, and ours add a cost. One parser serves the span
processor's roll-up and the records read back from storage, so both always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agent_otel import semconv as sc
from agent_otel.spandata import Attributes

_TOKEN_KEYS: tuple[tuple[str, str], ...] = (
    ("input_tokens", sc.GEN_AI_USAGE_INPUT_TOKENS),
    ("output_tokens", sc.GEN_AI_USAGE_OUTPUT_TOKENS),
    ("cache_read_tokens", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
    ("cache_creation_tokens", sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
    ("reasoning_tokens", sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and USD cost of one or more LLM calls. Cached and reasoning tokens are already
    part of input and output tokens (as the GenAI conventions define them)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_creation_tokens + other.cache_creation_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.cost + other.cost,
        )

    def __bool__(self) -> bool:
        return self != _ZERO

    @classmethod
    def from_attributes(cls, attrs: Attributes) -> Usage:
        return parse_usage(attrs)[0]


_ZERO = Usage()


def is_llm_span(attrs: Attributes) -> bool:
    """An LLM call: reports token usage and is not one of our session/operation spans, whose
    usage attributes are roll-ups of the calls inside them."""
    return (
        sc.GEN_AI_USAGE_INPUT_TOKENS in attrs or sc.GEN_AI_USAGE_OUTPUT_TOKENS in attrs
    ) and not (sc.AGENT_OPERATION_TYPE in attrs or sc.AGENT_SESSION_STATUS in attrs)


def parse_usage(attrs: Attributes) -> tuple[Usage, list[str]]:
    """Usage from ``attrs``, counting every valid value; plus a description of each invalid
    one (a string, a negative number, a bool), which is left out rather than guessed at."""
    problems: list[str] = []
    tokens: dict[str, int] = {}
    for field, key in _TOKEN_KEYS:
        value = attrs.get(key)
        if value is None:
            continue
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            tokens[field] = value
        else:
            problems.append(f"{key}={value!r} (expected a non-negative integer)")
    cost = 0.0
    raw_cost = attrs.get(sc.AGENT_USAGE_COST)
    if raw_cost is not None:
        if (
            isinstance(raw_cost, (int, float))
            and not isinstance(raw_cost, bool)
            and math.isfinite(raw_cost)
            and raw_cost >= 0
        ):
            cost = float(raw_cost)
        else:
            problems.append(f"{sc.AGENT_USAGE_COST}={raw_cost!r} (expected a non-negative number)")
    return Usage(cost=cost, **tokens), problems
