"""Usage recorded by other instrumentations (OpenLLMetry, OpenInference) is recognised, rolled
up into operations and sessions, and counted once in the metrics."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import Tracer

import agent_otel
from agent_otel import semconv as sc
from agent_otel import usage as u
from agent_otel.usage import Usage, has_cost, is_llm_span, llm_model, llm_provider, parse_usage
from tests.processor.conftest import MetricsHarness


def openinference_llm(tracer: Tracer, model: str, prompt: int, completion: int, **extra: Any):  # type: ignore[no-untyped-def]
    """An LLM span as OpenInference instrumentors (Arize Phoenix) record one."""
    attrs: dict[str, Any] = {
        u.OPENINFERENCE_SPAN_KIND: "LLM",
        u.OPENINFERENCE_MODEL_NAME: model,
        u.OPENINFERENCE_SYSTEM: "openai",
        u.OPENINFERENCE_PROVIDER: "azure",
        u.OPENINFERENCE_TOKEN_COUNT_PROMPT: prompt,
        u.OPENINFERENCE_TOKEN_COUNT_COMPLETION: completion,
        "llm.token_count.total": prompt + completion,
        **extra,
    }
    return tracer.start_as_current_span("ChatCompletion", attributes=attrs)


def openllmetry_llm(tracer: Tracer, model: str, prompt: int, completion: int, **extra: Any):  # type: ignore[no-untyped-def]
    """An LLM span as older OpenLLMetry (traceloop) instrumentations record one."""
    attrs: dict[str, Any] = {
        u.GEN_AI_SYSTEM: "Anthropic",
        "llm.request.type": "chat",
        sc.GEN_AI_REQUEST_MODEL: model,
        u.OPENLLMETRY_PROMPT_TOKENS: prompt,
        u.OPENLLMETRY_COMPLETION_TOKENS: completion,
        "llm.usage.total_tokens": prompt + completion,
        **extra,
    }
    return tracer.start_as_current_span("anthropic.chat", attributes=attrs)


# -- the parser -----------------------------------------------------------------------------


def test_openinference_names_are_read() -> None:
    attrs = {
        u.OPENINFERENCE_SPAN_KIND: "LLM",
        u.OPENINFERENCE_TOKEN_COUNT_PROMPT: 1000,
        u.OPENINFERENCE_TOKEN_COUNT_COMPLETION: 200,
        u.OPENINFERENCE_TOKEN_COUNT_CACHE_READ: 600,
        u.OPENINFERENCE_TOKEN_COUNT_CACHE_WRITE: 100,
        u.OPENINFERENCE_TOKEN_COUNT_REASONING: 50,
        u.OPENINFERENCE_COST_TOTAL: 0.0125,
        u.OPENINFERENCE_MODEL_NAME: "gpt-4o-2024-08-06",
        u.OPENINFERENCE_PROVIDER: "Azure",
        u.OPENINFERENCE_SYSTEM: "openai",
    }
    assert parse_usage(attrs) == (Usage(1000, 200, 600, 100, 50, 0.0125), [])
    assert is_llm_span(attrs) and has_cost(attrs)
    assert llm_model(attrs) == "gpt-4o-2024-08-06"
    assert llm_provider(attrs) == "azure"


def test_openllmetry_older_names_are_read() -> None:
    attrs = {
        u.GEN_AI_SYSTEM: "Anthropic",
        sc.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
        u.OPENLLMETRY_PROMPT_TOKENS: 900,
        u.OPENLLMETRY_COMPLETION_TOKENS: 90,
        u.OPENLLMETRY_CACHE_READ_INPUT_TOKENS: 500,
        u.OPENLLMETRY_CACHE_CREATION_INPUT_TOKENS: 300,
        u.OPENLLMETRY_REASONING_TOKENS: 10,
        "llm.usage.total_tokens": 990,
    }
    assert parse_usage(attrs) == (Usage(900, 90, 500, 300, 10, 0.0), [])
    assert is_llm_span(attrs) and not has_cost(attrs)
    assert (llm_model(attrs), llm_provider(attrs)) == ("claude-sonnet-4-5", "anthropic")


def test_official_names_win_and_a_figure_is_never_taken_twice() -> None:
    """A span carrying the old and the new name (a library mid-migration) counts once."""
    attrs = {
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
        u.OPENLLMETRY_PROMPT_TOKENS: 10,
        u.OPENINFERENCE_TOKEN_COUNT_PROMPT: 10,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 4,
        u.OPENINFERENCE_TOKEN_COUNT_COMPLETION: 999,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 3,
        u.OPENLLMETRY_CACHE_READ_INPUT_TOKENS: 3,
        sc.AGENT_USAGE_COST: 0.5,
        u.OPENINFERENCE_COST_TOTAL: 9.0,
        sc.GEN_AI_PROVIDER_NAME: "gcp.vertex_ai",
        u.GEN_AI_SYSTEM: "vertex_ai",
    }
    assert parse_usage(attrs) == (Usage(10, 4, 3, 0, 0, 0.5), [])
    assert llm_provider(attrs) == "gcp.vertex_ai"


def test_a_malformed_preferred_value_falls_back_and_is_reported() -> None:
    attrs = {sc.GEN_AI_USAGE_INPUT_TOKENS: "12", u.OPENINFERENCE_TOKEN_COUNT_PROMPT: 12}
    usage, problems = parse_usage(attrs)
    assert usage.input_tokens == 12
    assert len(problems) == 1 and sc.GEN_AI_USAGE_INPUT_TOKENS in problems[0]
    usage, problems = parse_usage({u.OPENINFERENCE_TOKEN_COUNT_COMPLETION: -3})
    assert usage == Usage() and "-3" in problems[0]
    usage, problems = parse_usage({u.OPENINFERENCE_COST_TOTAL: float("nan")})
    assert usage.cost == 0.0 and problems


@pytest.mark.parametrize("kind", ["AGENT", "CHAIN", "TOOL", "RETRIEVER"])
def test_openinference_totals_on_other_span_kinds_are_not_calls(kind: str) -> None:
    attrs = {u.OPENINFERENCE_SPAN_KIND: kind, u.OPENINFERENCE_TOKEN_COUNT_PROMPT: 10}
    assert not is_llm_span(attrs)
    assert is_llm_span({**attrs, u.OPENINFERENCE_SPAN_KIND: "EMBEDDING"})


def test_our_session_and_operation_spans_are_not_calls() -> None:
    usage = {sc.GEN_AI_USAGE_INPUT_TOKENS: 1}
    assert is_llm_span(usage)
    assert not is_llm_span({**usage, sc.AGENT_OPERATION_TYPE: "read"})
    assert not is_llm_span({**usage, sc.AGENT_SESSION_STATUS: "active"})
    assert not is_llm_span({sc.GEN_AI_REQUEST_MODEL: "m"})


def test_model_is_response_then_request_model() -> None:
    assert llm_model({sc.GEN_AI_REQUEST_MODEL: "a", sc.GEN_AI_RESPONSE_MODEL: "b"}) == "b"
    assert llm_model({sc.GEN_AI_REQUEST_MODEL: "a"}) == "a"
    assert llm_model({u.OPENINFERENCE_REQUEST_MODEL_NAME: "a"}) == "a"
    assert (
        llm_model(
            {u.OPENINFERENCE_REQUEST_MODEL_NAME: "a", u.OPENINFERENCE_RESPONSE_MODEL_NAME: "b"}
        )
        == "b"
    )
    assert llm_model({sc.GEN_AI_REQUEST_MODEL: ""}) is None
    assert llm_provider({}) is None


# -- roll-up and metrics --------------------------------------------------------------------


def test_openinference_and_openllmetry_spans_roll_up(mtel: MetricsHarness) -> None:
    phoenix, traceloop = (
        mtel.tracer("openinference.instrumentation.openai"),
        mtel.tracer("opentelemetry.instrumentation.anthropic"),
    )
    with agent_otel.session(user_id="u", project="p"), agent_otel.operation("query", "q"):
        with openinference_llm(phoenix, "gpt-4o", 100, 10, **{u.OPENINFERENCE_COST_TOTAL: 0.25}):
            pass
        with openllmetry_llm(traceloop, "claude", 50, 5):
            pass
    session = mtel.sessions()[0]
    [op] = session.operations
    assert (op.input_tokens, op.output_tokens, op.cost) == (150, 15, 0.25)
    assert session.total_tokens == 165 and session.total_cost == 0.25
    assert len(session.llm_calls) == 2
    tokens = {
        (p.attributes[sc.GEN_AI_RESPONSE_MODEL], p.attributes[sc.GEN_AI_PROVIDER_NAME],
         p.attributes[sc.GEN_AI_TOKEN_TYPE]): p.value
        for p in mtel.points(sc.METRIC_AGENT_TOKEN_USAGE.name)
    }  # fmt: skip
    assert tokens == {
        ("gpt-4o", "azure", "input"): 100,
        ("gpt-4o", "azure", "output"): 10,
        ("claude", "anthropic", "input"): 50,
        ("claude", "anthropic", "output"): 5,
    }
    # OpenLLMetry records no cost: no cost point for it (not a zero)
    [cost] = mtel.points(sc.METRIC_AGENT_COST.name)
    assert cost.attributes[sc.GEN_AI_RESPONSE_MODEL] == "gpt-4o" and cost.value == 0.25


def test_an_openinference_span_inside_an_openllmetry_span_is_counted_once(
    mtel: MetricsHarness,
) -> None:
    """Two instrumentations of the same call (e.g. a framework's and the client's)."""
    with (
        agent_otel.session(user_id="u", project="p"),
        agent_otel.operation("query", "q"),
        openllmetry_llm(mtel.tracer("traceloop"), "m", 40, 4),
        openinference_llm(mtel.tracer("phoenix"), "m", 40, 4),
    ):
        pass
    assert mtel.sessions()[0].total_tokens == 44
    assert sum(p.value for p in mtel.points(sc.METRIC_AGENT_TOKEN_USAGE.name)) == 44


def test_an_openinference_agent_span_with_totals_does_not_hide_its_calls(
    mtel: MetricsHarness,
) -> None:
    """An AGENT span carrying its framework's running totals: the calls count, by model."""
    phoenix = mtel.tracer("openinference.instrumentation.smolagents")
    agent_totals = {
        u.OPENINFERENCE_SPAN_KIND: "AGENT",
        u.OPENINFERENCE_TOKEN_COUNT_PROMPT: 30,
        u.OPENINFERENCE_TOKEN_COUNT_COMPLETION: 3,
    }
    with (
        agent_otel.session(user_id="u", project="p"),
        agent_otel.operation("query", "q"),
        phoenix.start_as_current_span("CodeAgent.run", attributes=agent_totals),
    ):
        with openinference_llm(phoenix, "small", 10, 1):
            pass
        with openinference_llm(phoenix, "large", 20, 2):
            pass
    assert mtel.sessions()[0].total_tokens == 33
    models = {
        p.attributes[sc.GEN_AI_RESPONSE_MODEL]
        for p in mtel.points(sc.METRIC_AGENT_TOKEN_USAGE.name)
    }
    assert models == {"small", "large"}
