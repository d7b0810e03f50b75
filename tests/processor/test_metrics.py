"""The agent metrics recorded by the span processor, read back with an InMemoryMetricReader."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from opentelemetry.sdk.metrics.export import Histogram, Sum
from opentelemetry.sdk.trace import TracerProvider

import agent_otel
from agent_otel import semconv as sc
from agent_otel.metrics import OTHER_USER, USER_ID_ENV, USER_ID_LIMIT_ENV
from tests.processor.conftest import MetricsHarness, llm_span
from tests.semconv.official import check_span_against_reference

SPECS = (
    sc.METRIC_AGENT_SESSION_DURATION,
    sc.METRIC_AGENT_SESSION_ACTIVE,
    sc.METRIC_AGENT_OPERATION_DURATION,
    sc.METRIC_AGENT_TOKEN_USAGE,
    sc.METRIC_AGENT_COST,
)


def _agent_session(tel: MetricsHarness, user: str = "alice", project: str = "shop") -> None:
    """One session with a successful, a failed and a blocked operation and two LLM calls."""
    llm = tel.tracer("llm-instrumentation")
    with agent_otel.session(user_id=user, model="claude", model_tier=2, project=project) as s:
        with s.operation("read", "a.py"), llm_span(llm, "gpt-4o", 100, 20, 0.5):
            pass
        with pytest.raises(RuntimeError), s.operation("execute", "make"):
            raise RuntimeError("boom")
        with s.operation("write", "b.py") as op:
            op.block("policy")
        with llm_span(llm, "claude", 7, 3, 0.125, provider="anthropic"):
            pass


def _kind(metric: object) -> str:
    data = metric.data  # type: ignore[attr-defined]
    if isinstance(data, Histogram):
        return "histogram"
    assert isinstance(data, Sum)
    return "counter" if data.is_monotonic else "updowncounter"


def test_names_units_descriptions_and_instruments_follow_the_registry(mtel) -> None:
    _agent_session(mtel)
    metrics = mtel.metrics()
    assert set(metrics) == {spec.name for spec in SPECS}
    for spec in SPECS:
        metric = metrics[spec.name]
        assert metric.unit == spec.unit, spec.name
        assert metric.description == spec.description, spec.name
        assert _kind(metric) == spec.instrument, spec.name
        for point in metric.data.data_points:
            keys = set(point.attributes or {})
            assert keys <= set(spec.attributes), (spec.name, keys - set(spec.attributes))
            # official names carry official values (gen_ai.token.type input/output, ...)
            assert not check_span_against_reference(dict(point.attributes or {}))


def test_session_duration_by_status_model_tier_and_project(mtel) -> None:
    _agent_session(mtel)
    [point] = mtel.points(sc.METRIC_AGENT_SESSION_DURATION.name)
    assert dict(point.attributes) == {
        sc.AGENT_SESSION_STATUS: "completed",
        sc.GEN_AI_REQUEST_MODEL: "claude",
        sc.AGENT_SESSION_MODEL_TIER: 2,
        sc.AGENT_SESSION_PROJECT: "shop",
    }
    span = mtel.span("agent.session")
    assert point.count == 1
    assert point.sum == pytest.approx((span.end_time - span.start_time) / 1e9, abs=1e-9)
    assert list(point.explicit_bounds) == list(sc.METRIC_AGENT_SESSION_DURATION.buckets or ())


def test_failed_and_cancelled_sessions_are_told_apart(mtel) -> None:
    with pytest.raises(ValueError), agent_otel.session(user_id="u", project="p"):
        raise ValueError("app error")
    with agent_otel.session(user_id="u", project="p") as s:
        s.cancel()
    statuses = {
        p.attributes[sc.AGENT_SESSION_STATUS]: p.count
        for p in mtel.points(sc.METRIC_AGENT_SESSION_DURATION.name)
    }
    assert statuses == {"failed": 1, "cancelled": 1}


def test_operation_duration_by_type_status_and_project(mtel) -> None:
    _agent_session(mtel)
    points = mtel.points(sc.METRIC_AGENT_OPERATION_DURATION.name)
    got = {
        (p.attributes[sc.AGENT_OPERATION_TYPE], p.attributes[sc.AGENT_OPERATION_STATUS]): p.count
        for p in points
    }
    assert got == {("read", "success"): 1, ("execute", "failed"): 1, ("write", "blocked"): 1}
    assert all(p.attributes[sc.AGENT_SESSION_PROJECT] == "shop" for p in points)
    by_id = {s.context.span_id: s for s in mtel.spans()}
    read = next(p for p in points if p.attributes[sc.AGENT_OPERATION_TYPE] == "read")
    op_span = by_id[read.exemplars[0].span_id]
    assert read.sum == pytest.approx((op_span.end_time - op_span.start_time) / 1e9, abs=1e-9)


def test_tokens_and_cost_by_model_provider_type_and_project(mtel) -> None:
    _agent_session(mtel)
    tokens = {
        (
            p.attributes[sc.GEN_AI_RESPONSE_MODEL],
            p.attributes[sc.GEN_AI_PROVIDER_NAME],
            p.attributes[sc.GEN_AI_TOKEN_TYPE],
            p.attributes[sc.AGENT_SESSION_PROJECT],
        ): p.value
        for p in mtel.points(sc.METRIC_AGENT_TOKEN_USAGE.name)
    }
    assert tokens == {
        ("gpt-4o", "openai", "input", "shop"): 100,
        ("gpt-4o", "openai", "output", "shop"): 20,
        ("claude", "anthropic", "input", "shop"): 7,
        ("claude", "anthropic", "output", "shop"): 3,
    }
    cost = {
        (p.attributes[sc.GEN_AI_RESPONSE_MODEL], p.attributes[sc.GEN_AI_PROVIDER_NAME]): p.value
        for p in mtel.points(sc.METRIC_AGENT_COST.name)
    }
    assert cost == {("gpt-4o", "openai"): 0.5, ("claude", "anthropic"): 0.125}


def test_the_model_is_the_response_model_else_the_request_model(mtel) -> None:
    llm = mtel.tracer()
    with agent_otel.session(user_id="u", project="p"):
        with llm_span(llm, "gpt-4o", 1, 1, 0.0, response_model="gpt-4o-2024-08-06"):
            pass
        with llm_span(llm, "gpt-4o", 2, 2, 0.0):
            pass
    models = {
        p.attributes[sc.GEN_AI_RESPONSE_MODEL]: p.value
        for p in mtel.points(sc.METRIC_AGENT_COST.name)
    }
    assert set(models) == {"gpt-4o-2024-08-06", "gpt-4o"}


def test_unknown_prices_are_not_counted_as_free(mtel) -> None:
    llm = mtel.tracer()
    with agent_otel.session(user_id="u", project="p"):
        with llm_span(llm, "mystery", 5, 5, 0.0, **{sc.AGENT_USAGE_COST_UNKNOWN: True}):
            pass
        with llm_span(llm, "no-cost-attribute", 5, 5, None):
            pass
    assert mtel.points(sc.METRIC_AGENT_COST.name) == []
    assert sum(p.value for p in mtel.points(sc.METRIC_AGENT_TOKEN_USAGE.name)) == 20


def test_llm_calls_outside_sessions_count_in_tokens_and_cost(mtel) -> None:
    """Apps without sessions get token and cost metrics too, counted once per call."""
    llm = mtel.tracer("official-genai")
    inner = mtel.tracer("sdk-native")
    with (
        mtel.tracer("web").start_as_current_span("GET /chat"),
        llm_span(llm, "gpt-4o", 10, 1, 0.5),
        llm_span(inner, "gpt-4o", 10, 1, 0.5),
    ):
        pass
    with llm_span(llm, "gpt-4o", 5, 1, 0.25, **{sc.USER_ID: "bob"}):
        pass
    tokens = {
        p.attributes[sc.GEN_AI_TOKEN_TYPE]: p.value
        for p in mtel.points(sc.METRIC_AGENT_TOKEN_USAGE.name)
    }
    assert tokens == {"input": 15, "output": 2}
    [cost] = mtel.points(sc.METRIC_AGENT_COST.name)
    assert cost.value == 0.75
    assert dict(cost.attributes) == {
        sc.GEN_AI_RESPONSE_MODEL: "gpt-4o",
        sc.GEN_AI_PROVIDER_NAME: "openai",
    }
    assert mtel.processor.open_span_count() == 0


def test_nested_llm_spans_count_once_in_metrics(mtel) -> None:
    outer_lib, inner_lib = mtel.tracer("wrapper"), mtel.tracer("sdk-native")
    with agent_otel.session(user_id="u", project="p"), agent_otel.operation("query", "q"):
        with llm_span(outer_lib, "m", 100, 20, 0.5), llm_span(inner_lib, "m", 100, 20, 0.5):
            pass
        # a plain span between: the call inside it counts, once, when the plain span ends
        with outer_lib.start_as_current_span("agent step"), llm_span(inner_lib, "m", 1, 1, 0.25):
            pass
    tokens = {
        p.attributes[sc.GEN_AI_TOKEN_TYPE]: p.value
        for p in mtel.points(sc.METRIC_AGENT_TOKEN_USAGE.name)
    }
    assert tokens == {"input": 101, "output": 21}
    [cost] = mtel.points(sc.METRIC_AGENT_COST.name)
    assert cost.value == 0.75
    assert mtel.span("agent.session").attributes[sc.AGENT_SESSION_TOTAL_TOKENS] == 122


def test_add_usage_counts_under_the_sessions_model(mtel) -> None:
    with (
        agent_otel.session(user_id="u", model="local-llama", project="p"),
        agent_otel.operation("query", "q") as op,
    ):
        op.add_usage(input_tokens=40, output_tokens=2, cost=0.0625)
    [cost] = mtel.points(sc.METRIC_AGENT_COST.name)
    assert dict(cost.attributes) == {
        sc.GEN_AI_RESPONSE_MODEL: "local-llama",
        sc.AGENT_SESSION_PROJECT: "p",
    }
    assert cost.value == 0.0625
    assert sum(p.value for p in mtel.points(sc.METRIC_AGENT_TOKEN_USAGE.name)) == 42
    [exemplar] = cost.exemplars
    assert exemplar.span_id == mtel.span("execute_tool query").context.span_id


def test_active_sessions_go_up_and_down(mtel) -> None:
    def active() -> dict[str, int]:
        return {
            p.attributes[sc.AGENT_SESSION_PROJECT]: p.value
            for p in mtel.points(sc.METRIC_AGENT_SESSION_ACTIVE.name)
        }

    assert active() == {}
    with agent_otel.session(user_id="u", project="shop"):
        assert active() == {"shop": 1}
        with agent_otel.session(user_id="v", project="shop"):
            with agent_otel.session(user_id="v", project="blog"):
                assert active() == {"shop": 2, "blog": 1}
            assert active() == {"shop": 2, "blog": 0}
        assert active() == {"shop": 1, "blog": 0}
    assert active() == {"shop": 0, "blog": 0}
    started = agent_otel.session(user_id="u", project="shop").start()
    assert active()["shop"] == 1
    started.end()
    assert active()["shop"] == 0


def test_no_user_or_session_id_on_metrics_by_default(mtel) -> None:
    _agent_session(mtel, user="alice")
    _agent_session(mtel, user="bob")
    for name, metric in mtel.metrics().items():
        for point in metric.data.data_points:
            assert sc.USER_ID not in point.attributes, name
            assert sc.SESSION_ID not in point.attributes, name


def test_user_id_opt_in_is_bounded_with_an_overflow_value(
    harness_factory: Callable[..., MetricsHarness], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(USER_ID_ENV, "true")
    monkeypatch.setenv(USER_ID_LIMIT_ENV, "2")
    tel = harness_factory()
    for user in ("alice", "bob", "carol", "dave", "alice"):
        _agent_session(tel, user=user)
    for spec in SPECS:
        users = [p.attributes.get(sc.USER_ID) for p in tel.points(spec.name)]
        assert set(users) == {"alice", "bob", OTHER_USER}, spec.name
        for point in tel.points(spec.name):
            assert sc.SESSION_ID not in point.attributes
    sessions = {
        p.attributes[sc.USER_ID]: p.count for p in tel.points(sc.METRIC_AGENT_SESSION_DURATION.name)
    }
    assert sessions == {"alice": 2, "bob": 1, OTHER_USER: 2}
    active = {
        p.attributes[sc.USER_ID]: p.value for p in tel.points(sc.METRIC_AGENT_SESSION_ACTIVE.name)
    }
    assert active == {"alice": 0, "bob": 0, OTHER_USER: 0}


def test_user_id_limit_defaults_to_100(
    harness_factory: Callable[..., MetricsHarness], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(USER_ID_ENV, "1")
    tel = harness_factory()
    metrics = tel.processor.metrics
    assert metrics is not None and metrics.user_ids and metrics.user_limit == 100
    with agent_otel.session(user_id="alice", project="p"):
        pass
    [point] = tel.points(sc.METRIC_AGENT_SESSION_DURATION.name)
    assert point.attributes[sc.USER_ID] == "alice"


def test_exemplars_link_points_to_the_spans(mtel) -> None:
    _agent_session(mtel)
    spans = {s.context.span_id: s for s in mtel.spans()}
    session = mtel.span("agent.session")
    checked = 0
    for name, metric in mtel.metrics().items():
        for point in metric.data.data_points:
            assert point.exemplars, (name, point.attributes)
            for exemplar in point.exemplars:
                span = spans[exemplar.span_id]
                assert exemplar.trace_id == session.context.trace_id
                checked += 1
                if name == sc.METRIC_AGENT_SESSION_DURATION.name:
                    assert span is session
                elif name == sc.METRIC_AGENT_OPERATION_DURATION.name:
                    assert (
                        span.attributes[sc.AGENT_OPERATION_TYPE]
                        == point.attributes[sc.AGENT_OPERATION_TYPE]
                    )
                elif name in (sc.METRIC_AGENT_TOKEN_USAGE.name, sc.METRIC_AGENT_COST.name):
                    assert span.name.startswith("chat ")
                    assert (
                        span.attributes[sc.GEN_AI_REQUEST_MODEL]
                        == point.attributes[sc.GEN_AI_RESPONSE_MODEL]
                    )
    assert checked >= 10


def test_no_metrics_without_a_meter_provider(tel) -> None:
    """The core harness configures a tracer provider only: no meter, no metrics, and spans
    outside sessions are not even tracked."""
    assert tel.telemetry.processor.metrics is None
    with llm_span(tel.other_tracer(), "m", 1, 1, 0.1):
        assert tel.telemetry.processor.open_span_count() == 0
    with agent_otel.session(user_id="u"):
        pass
    assert len(tel.telemetry.processor.finished_sessions()) == 1


def test_configure_wires_its_own_meter_provider_to_the_processor() -> None:
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    reader = InMemoryMetricReader()
    exporter = InMemorySpanExporter()
    tel = agent_otel.configure(span_exporters=[exporter], metric_readers=[reader], set_global=False)
    try:
        assert tel.meter_provider is not None and tel.processor.metrics is not None
        with agent_otel.session(user_id="u", project="p"):
            pass
        data = reader.get_metrics_data()
        names = {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}
        assert sc.METRIC_AGENT_SESSION_DURATION.name in names
    finally:
        tel.shutdown()
    assert isinstance(tel.tracer_provider, TracerProvider)


def test_calls_from_many_threads_are_all_counted(mtel) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from opentelemetry import context

    llm = mtel.tracer()

    def call(i: int) -> None:
        with llm_span(llm, ("a", "b")[i % 2], i, 1, 0.25):
            pass

    with agent_otel.session(user_id="u", project="p"), agent_otel.operation("execute", "x"):
        ctx = context.get_current()

        def run(i: int) -> None:
            token = context.attach(ctx)
            try:
                call(i)
            finally:
                context.detach(token)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(run, range(1, 401)))
        with ThreadPoolExecutor(8) as pool:  # and outside any session
            list(pool.map(call, range(1, 401)))
    tokens = {"input": 0, "output": 0}
    for point in mtel.points(sc.METRIC_AGENT_TOKEN_USAGE.name):
        tokens[point.attributes[sc.GEN_AI_TOKEN_TYPE]] += point.value
    assert tokens == {"input": 2 * sum(range(1, 401)), "output": 800}
    cost = sum(p.value for p in mtel.points(sc.METRIC_AGENT_COST.name))
    assert cost == 0.25 * 800
    [facts] = mtel.processor.finished_sessions()
    assert dict(facts.cost_by_model) == {"a": 50.0, "b": 50.0}
