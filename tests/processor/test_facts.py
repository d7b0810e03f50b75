"""The session facts the processor builds as spans end equal those read back from the spans."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import fields

import pytest

import agent_otel
from agent_otel import semconv as sc
from agent_otel.facts import SessionFacts
from agent_otel.processor import MAX_SESSIONS_ENV, AgentSpanProcessor
from agent_otel.summaries import facts_from_session
from tests.processor.conftest import MetricsHarness, llm_span

MODELS = ("gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro")


def _run_sessions(tel: MetricsHarness, seed: int = 7) -> None:
    """Generated sessions covering what the facts must get right."""
    rng = random.Random(seed)
    llm, native, plain = tel.tracer("llm"), tel.tracer("sdk-native"), tel.tracer("framework")

    def cost() -> float:
        return round(rng.uniform(0, 0.2), rng.choice((2, 4, 7)))

    for i in range(12):
        user = ("alice", "bob", "carol")[i % 3]
        model = MODELS[i % 3] if i % 4 else None  # some sessions name no model
        with agent_otel.session(user_id=user, model=model, project=f"p{i % 2}") as s:
            for _ in range(rng.randint(0, 5)):
                op_type = rng.choice(("read", "write", "execute", "query"))
                ending = rng.choice(("success", "failed", "blocked", "pending"))
                try:
                    with s.operation(op_type, f"target-{i}") as op:
                        for _ in range(rng.randint(0, 3)):
                            call_model = rng.choice(MODELS)
                            with llm_span(
                                llm,
                                call_model,
                                rng.randint(0, 5000),
                                rng.randint(0, 500),
                                cost(),
                                response_model=f"{call_model}-2025" if rng.random() < 0.3 else None,
                                **{sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: rng.randint(0, 100)},
                            ):
                                if rng.random() < 0.3:  # the same call seen by two libraries
                                    with llm_span(native, call_model, 1, 1, 9.0):
                                        pass
                        if rng.random() < 0.3:
                            with (
                                plain.start_as_current_span("step"),
                                llm_span(llm, rng.choice(MODELS), 10, 1, cost()),
                            ):
                                pass
                        if rng.random() < 0.3:
                            op.add_usage(input_tokens=5, output_tokens=1, cost=cost())
                        if ending == "failed":
                            raise RuntimeError("tool failed")
                        if ending == "blocked":
                            op.block("policy")
                        if ending == "pending":
                            op.set_pending()
                except RuntimeError:
                    pass
            # calls made by the session directly, one without a model, one of unknown price
            with llm_span(llm, None, 3, 1, 0.0):
                pass
            with llm_span(llm, "mystery", 3, 1, 0.0, **{sc.AGENT_USAGE_COST_UNKNOWN: True}):
                pass
            if i == 5:
                with (
                    agent_otel.session(user_id="dave", project="inner") as inner,
                    inner.operation("read", "x"),
                    llm_span(llm, "gpt-4o", 1, 1, 0.5),
                ):
                    pass
            if i == 7:
                s.fail("gave up")


def _assert_same(ours: SessionFacts, theirs: SessionFacts) -> None:
    for field in fields(SessionFacts):
        a, b = getattr(ours, field.name), getattr(theirs, field.name)
        if field.name == "total_cost":
            assert a == pytest.approx(b, abs=1e-9), field.name
        elif field.name == "cost_by_model":
            assert set(a) == set(b), (ours.session_id, dict(a), dict(b))
            for model in a:
                assert a[model] == pytest.approx(b[model], abs=1e-9), (model, a, b)
        else:
            assert a == b, (field.name, a, b)


def test_processor_facts_equal_the_facts_read_back_from_spans(mtel: MetricsHarness) -> None:
    _run_sessions(mtel)
    ours = mtel.processor.finished_sessions()
    theirs = {f.session_id: f for f in map(facts_from_session, mtel.sessions())}
    assert len(ours) == len(theirs) == 13
    assert len({f.session_id for f in ours}) == 13
    for facts in ours:
        _assert_same(facts, theirs[facts.session_id])
    # the run exercised what it should
    statuses = {k for f in ours for k in f.operations_by_status}
    assert statuses == {"success", "failed", "blocked", "pending"}
    assert {"unknown", "mystery"} <= {m for f in ours for m in f.cost_by_model}
    assert any(f.status == "failed" for f in ours)
    assert mtel.processor.open_span_count() == 0


def test_facts_are_exact_for_binary_fractions(mtel: MetricsHarness) -> None:
    """With costs that add up exactly in binary, the facts are equal, not just close."""
    llm = mtel.tracer()
    with agent_otel.session(user_id="u", model="local", project="p") as s:
        with s.operation("read", "a") as op:
            with llm_span(llm, "m1", 100, 10, 0.25), llm_span(llm, "inner", 1, 1, 4.0):
                pass
            op.add_usage(input_tokens=1, output_tokens=1, cost=0.0625)
        with s.operation("write", "a") as op:
            op.block("no")
        with llm_span(llm, "m2", 1000, 0, 1.0, response_model="m2-2025"):
            pass
    [ours] = mtel.processor.finished_sessions()
    [session] = mtel.sessions()
    assert ours == facts_from_session(session)
    assert dict(ours.cost_by_model) == {"m1": 0.25, "local": 0.0625, "m2-2025": 1.0}
    assert dict(ours.operations_by_type) == {"read": 1, "write": 1}
    assert dict(ours.operations_by_status) == {"success": 1, "blocked": 1}
    assert (ours.total_tokens, ours.total_cost) == (1112, 1.3125)


def test_finished_sessions_are_capped_oldest_first(
    harness_factory: Callable[..., MetricsHarness], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MAX_SESSIONS_ENV, "3")
    tel = harness_factory()
    for i in range(5):
        with agent_otel.session(user_id="u", session_id=f"s{i}"):
            pass
    assert [f.session_id for f in tel.processor.finished_sessions()] == ["s2", "s3", "s4"]


def test_the_cap_defaults_to_100000_and_zero_keeps_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert AgentSpanProcessor()._finished.maxlen == 100_000
    monkeypatch.setenv(MAX_SESSIONS_ENV, "not a number")
    assert AgentSpanProcessor()._finished.maxlen == 100_000
    assert AgentSpanProcessor(max_sessions=0)._finished.maxlen == 0


def test_facts_without_a_meter_provider(tel) -> None:  # type: ignore[no-untyped-def]
    """The facts do not depend on metrics being on."""
    with (
        agent_otel.session(user_id="u", project="p") as s,
        s.operation("query", "q"),
        llm_span(tel.other_tracer(), "m", 1, 2, 0.5),
    ):
        pass
    [facts] = tel.telemetry.processor.finished_sessions()
    assert facts == facts_from_session(tel.sessions()[0])
    assert facts.total_tokens == 3 and dict(facts.cost_by_model) == {"m": 0.5}


def test_the_public_accessor_returns_the_processors_facts(mtel: MetricsHarness) -> None:
    with agent_otel.session(user_id="u", session_id="one"):
        pass
    assert [f.session_id for f in agent_otel.finished_sessions()] == ["one"]
    assert agent_otel.finished_sessions() == mtel.processor.finished_sessions()
    summaries = agent_otel.daily_summaries(agent_otel.finished_sessions())
    assert [s.session_count for s in summaries] == [1]
