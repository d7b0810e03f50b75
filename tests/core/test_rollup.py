"""Roll-up of LLM usage into operations and sessions by the span processor."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

import agent_otel
from agent_otel import semconv as sc


def llm_call(tracer, model: str, inp: int, out: int, cost: float, **extra: object):  # type: ignore[no-untyped-def]
    """A span as an LLM instrumentation (ours or another library's) would produce it."""
    attrs = {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_REQUEST_MODEL: model,
        sc.GEN_AI_USAGE_INPUT_TOKENS: inp,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: out,
        sc.AGENT_USAGE_COST: cost,
        **extra,
    }
    return tracer.start_as_current_span(f"chat {model}", attributes=attrs)


def test_operation_and_session_totals_are_sums_of_their_llm_calls(tel) -> None:
    llm = tel.other_tracer("llm-instrumentation")
    with agent_otel.session(user_id="u") as s:
        with s.operation("read", "a.py"):
            with llm_call(llm, "m1", 100, 10, 0.25):
                pass
            with llm_call(llm, "m1", 50, 5, 0.125, **{sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 40}):
                pass
        with s.operation("write", "a.py") as op:
            with llm_call(llm, "m2", 7, 3, 0.5):
                pass
            op.add_usage(input_tokens=1, output_tokens=2, cost=0.0625)
        # a call made directly in the session, outside any operation
        with llm_call(llm, "m2", 1000, 0, 1.0):
            pass
    read, write = tel.sessions()[0].operations
    assert (read.input_tokens, read.output_tokens, read.cost) == (150, 15, 0.375)
    assert (write.input_tokens, write.output_tokens, write.cost) == (8, 5, 0.5625)
    session = tel.span("agent.session").attributes
    assert session[sc.AGENT_SESSION_TOTAL_TOKENS] == 150 + 15 + 8 + 5 + 1000
    assert session[sc.AGENT_SESSION_TOTAL_COST] == pytest.approx(0.375 + 0.5625 + 1.0)
    assert session[sc.AGENT_SESSION_OPERATION_COUNT] == 2
    record = tel.sessions()[0]
    assert len(record.llm_calls) == 4
    assert sum(c.usage.cost for c in record.llm_calls) == pytest.approx(1.875)
    assert [len(o.llm_calls) for o in record.operations] == [2, 1]
    assert record.llm_calls[1].usage.cache_read_tokens == 40


def test_nested_llm_spans_are_counted_once(tel) -> None:
    """One instrumented client calling another (or an SDK's native span inside ours)."""
    outer_lib = tel.other_tracer("wrapper-instrumentation")
    inner_lib = tel.other_tracer("sdk-native-tracing")
    with agent_otel.session(user_id="u"), agent_otel.operation("query", "q"):
        with llm_call(outer_lib, "m", 100, 20, 0.5), llm_call(inner_lib, "m", 100, 20, 0.5):
            pass
        # A plain span wrapping an LLM span passes the inner usage up once.
        with outer_lib.start_as_current_span("agent step"), llm_call(inner_lib, "m", 1, 1, 0.25):
            pass
    op = tel.sessions()[0].operations[0]
    assert (op.input_tokens, op.output_tokens, op.cost) == (101, 21, 0.75)
    assert len(op.llm_calls) == 2
    assert tel.span("agent.session").attributes[sc.AGENT_SESSION_TOTAL_TOKENS] == 122


def test_llm_calls_from_worker_threads_roll_up(tel) -> None:
    llm = tel.other_tracer()

    def call(i: int) -> None:
        with llm_call(llm, "m", i, 1, 0.001 * i):
            pass

    from opentelemetry import context

    with agent_otel.session(user_id="u"), agent_otel.operation("execute", "batch") as op:
        ctx = context.get_current()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: _run(ctx, call, i), range(1, 101)))
    record = tel.sessions()[0].operations[0]
    assert record.input_tokens == sum(range(1, 101))
    assert record.output_tokens == 100
    assert op.id == record.id


def _run(ctx, fn, arg):  # type: ignore[no-untyped-def]
    from opentelemetry import context

    token = context.attach(ctx)
    try:
        return fn(arg)
    finally:
        context.detach(token)


def test_malformed_usage_is_counted_as_far_as_valid(tel, caplog: pytest.LogCaptureFixture) -> None:
    llm = tel.other_tracer()
    with agent_otel.session(user_id="u"), agent_otel.operation("query", "q"):
        with llm.start_as_current_span(
            "chat bad",
            attributes={
                sc.GEN_AI_USAGE_INPUT_TOKENS: "12",
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
                sc.AGENT_USAGE_COST: -1.0,
            },
        ):
            pass
        with llm_call(llm, "m", 10, 1, 0.5):
            pass
    op = tel.sessions()[0].operations[0]
    assert (op.input_tokens, op.output_tokens, op.cost) == (10, 6, 0.5)
    warnings = [r for r in caplog.records if "malformed usage" in r.getMessage()]
    assert len(warnings) == 1
    assert "'12'" in warnings[0].getMessage() and "-1.0" in warnings[0].getMessage()


def test_processor_memory_is_bounded_by_open_spans(tel) -> None:
    processor = tel.telemetry.processor
    llm = tel.other_tracer()
    with agent_otel.session(user_id="u"):
        for _ in range(200):
            with agent_otel.operation("read", "a"), llm_call(llm, "m", 1, 1, 0.0):
                assert processor.open_span_count() == 3
        assert processor.open_span_count() == 1
    assert processor.open_span_count() == 0
    assert tel.span("agent.session").attributes[sc.AGENT_SESSION_TOTAL_TOKENS] == 400


def test_nested_session_keeps_its_usage(tel) -> None:
    llm = tel.other_tracer()
    with agent_otel.session(user_id="u", session_id="outer"):
        with llm_call(llm, "m", 10, 0, 0.0):
            pass
        with agent_otel.session(user_id="u", session_id="inner"), llm_call(llm, "m", 5, 0, 0.0):
            pass
    by_id = {s.id: s for s in tel.sessions()}
    assert by_id["outer"].total_tokens == 10
    assert by_id["inner"].total_tokens == 5
    assert sum(s.total_tokens for s in by_id.values()) == 15
