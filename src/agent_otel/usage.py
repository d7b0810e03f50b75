"""Token usage and cost of LLM calls, read from span attributes.

LLM spans come from our own instrumentors and from other libraries, which do not all spell
usage the same way. One parser serves the span processor's roll-up and metrics and the
records read back from storage, so all of them always agree. Recognised, in order of
preference for each figure (the first valid one wins, so a span that carries a figure under
two names during a library's migration is counted once):

* the official GenAI conventions (ours, ``opentelemetry-instrumentation-genai-*``, current
  OpenLLMetry): ``gen_ai.usage.input_tokens`` / ``output_tokens`` /
  ``cache_read.input_tokens`` / ``cache_creation.input_tokens`` /
  ``reasoning.output_tokens``, and agent-otel's cost attribute;
* OpenLLMetry's older names (``opentelemetry-semantic-conventions-ai`` before it adopted the
  official ones): ``gen_ai.usage.prompt_tokens`` / ``completion_tokens`` /
  ``cache_read_input_tokens`` / ``cache_creation_input_tokens`` / ``reasoning_tokens``.
  (Its ``llm.usage.total_tokens`` / ``gen_ai.usage.total_tokens`` are not used: a total
  alone cannot be split into input and output, and it always comes with the parts.)
  OpenLLMetry records no cost on spans;
* OpenInference (Arize Phoenix): ``llm.token_count.prompt`` / ``completion`` /
  ``prompt_details.cache_read`` / ``prompt_details.cache_write`` /
  ``completion_details.reasoning`` and the cost ``llm.cost.total`` (USD).

As in the GenAI conventions, cache-read and cache-creation tokens are taken to be part of the
input tokens and reasoning tokens part of the output tokens, in every naming (OpenInference
defines them as "details" of the prompt and completion counts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from agent_otel import semconv as sc
from agent_otel.spandata import Attributes

# -- names of other projects (not ours: defined by OpenLLMetry and OpenInference) ----------

#: OpenLLMetry before it moved to the official names (deprecated official names too).
OPENLLMETRY_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
OPENLLMETRY_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"
OPENLLMETRY_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read_input_tokens"
OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation_input_tokens"
OPENLLMETRY_REASONING_TOKENS = "gen_ai.usage.reasoning_tokens"
#: The deprecated official provider attribute, still written by OpenLLMetry.
GEN_AI_SYSTEM = "gen_ai.system"

#: OpenInference semantic conventions (spec/semantic_conventions.md of Arize-ai/openinference).
OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
OPENINFERENCE_TOKEN_COUNT_PROMPT = "llm.token_count.prompt"
OPENINFERENCE_TOKEN_COUNT_COMPLETION = "llm.token_count.completion"
OPENINFERENCE_TOKEN_COUNT_CACHE_READ = "llm.token_count.prompt_details.cache_read"
OPENINFERENCE_TOKEN_COUNT_CACHE_WRITE = "llm.token_count.prompt_details.cache_write"
OPENINFERENCE_TOKEN_COUNT_REASONING = "llm.token_count.completion_details.reasoning"
OPENINFERENCE_COST_TOTAL = "llm.cost.total"
OPENINFERENCE_MODEL_NAME = "llm.model_name"
OPENINFERENCE_REQUEST_MODEL_NAME = "llm.request.model_name"
OPENINFERENCE_RESPONSE_MODEL_NAME = "llm.response.model_name"
OPENINFERENCE_PROVIDER = "llm.provider"
OPENINFERENCE_SYSTEM = "llm.system"
#: OpenInference span kinds whose token counts are those of one model call. Other kinds
#: (AGENT, CHAIN, TOOL, ...) may carry a framework's running totals of the calls inside
#: them, which are counted from the calls' own spans instead.
OPENINFERENCE_CALL_KINDS = frozenset({"LLM", "EMBEDDING"})

# Each figure: the names it may come under, in order of preference.
_TOKEN_KEYS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "input_tokens",
        (sc.GEN_AI_USAGE_INPUT_TOKENS, OPENLLMETRY_PROMPT_TOKENS, OPENINFERENCE_TOKEN_COUNT_PROMPT),
    ),
    (
        "output_tokens",
        (
            sc.GEN_AI_USAGE_OUTPUT_TOKENS,
            OPENLLMETRY_COMPLETION_TOKENS,
            OPENINFERENCE_TOKEN_COUNT_COMPLETION,
        ),
    ),
    (
        "cache_read_tokens",
        (
            sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
            OPENLLMETRY_CACHE_READ_INPUT_TOKENS,
            OPENINFERENCE_TOKEN_COUNT_CACHE_READ,
        ),
    ),
    (
        "cache_creation_tokens",
        (
            sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
            OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS,
            OPENINFERENCE_TOKEN_COUNT_CACHE_WRITE,
        ),
    ),
    (
        "reasoning_tokens",
        (
            sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
            OPENLLMETRY_REASONING_TOKENS,
            OPENINFERENCE_TOKEN_COUNT_REASONING,
        ),
    ),
)
_TOKEN_KEY_LISTS = tuple(keys for _, keys in _TOKEN_KEYS)  # in Usage's field order
_COST_KEYS = (sc.AGENT_USAGE_COST, OPENINFERENCE_COST_TOTAL)
# The names that make a span a reporter of usage (input or output tokens, any naming).
_USAGE_MARKERS = frozenset((*_TOKEN_KEYS[0][1], *_TOKEN_KEYS[1][1]))
_NOT_CALLS = frozenset((sc.AGENT_OPERATION_TYPE, sc.AGENT_SESSION_STATUS))
_MODEL_KEYS = (
    sc.GEN_AI_RESPONSE_MODEL,
    OPENINFERENCE_RESPONSE_MODEL_NAME,
    OPENINFERENCE_MODEL_NAME,
    sc.GEN_AI_REQUEST_MODEL,
    OPENINFERENCE_REQUEST_MODEL_NAME,
)
# Provider: the official name as it is; the others lower-cased (OpenLLMetry wrote
# "Anthropic", the official values are lower case). OpenInference's llm.provider (who hosts
# the model: azure, aws) is closer to gen_ai.provider.name than llm.system (whose API it is).
_FOREIGN_PROVIDER_KEYS = (GEN_AI_SYSTEM, OPENINFERENCE_PROVIDER, OPENINFERENCE_SYSTEM)


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
    """An LLM call: reports token usage (under any recognised naming) and is neither one of
    our session/operation spans, whose usage attributes are roll-ups of the calls inside
    them, nor an OpenInference span of another kind than LLM/EMBEDDING (an AGENT or CHAIN
    span's token counts are a framework's totals of the calls inside it)."""
    # (frozenset.isdisjoint walks the span's keys in C: this runs for every span that ends)
    if _USAGE_MARKERS.isdisjoint(attrs) or not _NOT_CALLS.isdisjoint(attrs):
        return False
    kind = attrs.get(OPENINFERENCE_SPAN_KIND)
    return kind is None or kind in OPENINFERENCE_CALL_KINDS


#: ``gen_ai.operation.name`` values of a model call (as opposed to agents, tools, workflows).
LLM_OPERATION_NAMES = frozenset({"chat", "text_completion", "generate_content", "embeddings"})


def is_llm_call(attrs: Attributes) -> bool:
    """A model call to list, whether or not it reported usage: an LLM span
    (:func:`is_llm_span`), or a span of a GenAI model operation without usage — typically a
    call that failed before the model answered, which is worth seeing although it has no
    tokens to count."""
    if is_llm_span(attrs):
        return True
    return is_llm_operation(attrs.get(sc.GEN_AI_OPERATION_NAME)) and _NOT_CALLS.isdisjoint(attrs)


def is_llm_operation(name: object) -> bool:
    """Whether a ``gen_ai.operation.name`` value names a model call (any value may come from
    another tool: a list or a map is none)."""
    return isinstance(name, str) and name in LLM_OPERATION_NAMES


def _valid_count(value: object) -> bool:
    return (type(value) is int or (isinstance(value, int) and not isinstance(value, bool))) and (
        value >= 0
    )


def _valid_cost(value: object) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


#: Token counts in :class:`Usage`'s field order: input, output, cache read, cache creation,
#: reasoning.
TokenCounts = tuple[int, int, int, int, int]


def read_usage(attrs: Attributes) -> tuple[TokenCounts, float, bool, list[str] | None]:
    """Usage from ``attrs`` in its rawest form, for the span processor's hot path: the token
    counts, the cost, whether a valid cost was found, and the problems met (None: none).

    Every valid value counts; an invalid one (a string, a negative number, a bool) is left
    out rather than guessed at and described in the problems. For each figure the first valid
    value among its names counts."""
    problems: list[str] | None = None
    get = attrs.get
    counts = []
    for keys in _TOKEN_KEY_LISTS:
        count = 0
        for key in keys:
            value = get(key)
            if value is None:
                continue
            if (type(value) is int and value >= 0) or _valid_count(value):
                count = value
                break
            problems = problems or []
            problems.append(f"{key}={value!r} (expected a non-negative integer)")
        counts.append(count)
    cost = 0.0
    cost_found = False
    for key in _COST_KEYS:
        raw_cost = get(key)
        if raw_cost is None:
            continue
        if _valid_cost(raw_cost):
            cost = float(raw_cost)
            cost_found = True
            break
        problems = problems or []
        problems.append(f"{key}={raw_cost!r} (expected a non-negative number)")
    c0, c1, c2, c3, c4 = counts
    return (c0, c1, c2, c3, c4), cost, cost_found, problems


def parse_usage(attrs: Attributes) -> tuple[Usage, list[str]]:
    """Usage from ``attrs``, counting every valid value; plus a description of each invalid
    one met (see :func:`read_usage`)."""
    counts, cost, _, problems = read_usage(attrs)
    return Usage(*counts, cost), problems or []


def has_cost(attrs: Attributes) -> bool:
    """Whether the call's cost is known: a valid cost attribute is present and the call is not
    marked as priced unknown."""
    return read_usage(attrs)[2] and cost_is_priced(attrs)


def cost_is_priced(attrs: Attributes) -> bool:
    """False when the span says its model's price is unknown: the cost 0 recorded then must
    not be mistaken for a free call."""
    return attrs.get(sc.AGENT_USAGE_COST_UNKNOWN) is not True


class UsageSum:
    """A running sum of usage, updated in place: what the span processor keeps for each open
    span (adding frozen :class:`Usage` values would make a new object per LLM call)."""

    __slots__ = (
        "cache_creation_tokens",
        "cache_read_tokens",
        "cost",
        "input_tokens",
        "output_tokens",
        "reasoning_tokens",
    )

    def __init__(self) -> None:
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.cache_creation_tokens = 0
        self.reasoning_tokens = 0
        self.cost = 0.0

    def add(self, counts: TokenCounts, cost: float) -> None:
        self.input_tokens += counts[0]
        self.output_tokens += counts[1]
        self.cache_read_tokens += counts[2]
        self.cache_creation_tokens += counts[3]
        self.reasoning_tokens += counts[4]
        self.cost += cost

    def add_sum(self, other: UsageSum) -> None:
        self.add(other.counts(), other.cost)

    def add_usage(self, usage: Usage) -> None:
        self.add(
            (
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_tokens,
                usage.cache_creation_tokens,
                usage.reasoning_tokens,
            ),
            usage.cost,
        )

    def counts(self) -> TokenCounts:
        return (
            self.input_tokens,
            self.output_tokens,
            self.cache_read_tokens,
            self.cache_creation_tokens,
            self.reasoning_tokens,
        )

    def usage(self) -> Usage:
        return Usage(*self.counts(), self.cost)


def llm_model(attrs: Attributes) -> str | None:
    """The model of an LLM call: the one that answered (response model) if the span says,
    else the one asked for (request model)."""
    for key in _MODEL_KEYS:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def llm_provider(attrs: Attributes) -> str | None:
    """The provider of an LLM call, as ``gen_ai.provider.name`` names it if the span has it,
    else from the deprecated ``gen_ai.system`` or OpenInference's ``llm.provider`` /
    ``llm.system``, lower-cased."""
    value = attrs.get(sc.GEN_AI_PROVIDER_NAME)
    if isinstance(value, str) and value:
        return value
    for key in _FOREIGN_PROVIDER_KEYS:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value.lower()
    return None
