"""The PromQL and TraceQL name extractors and the Prometheus naming the deployment checks rely
on: what they find, what they refuse, and that the naming matches a real exporter."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import CollectorRegistry, generate_latest

from . import grafana, promql, traceql
from .names import (
    RULES_FILE,
    SpanMetricsConnector,
    is_known_attribute,
    known_event_names,
    metric_specs,
    prometheus_series,
    recording_rule_metrics,
)

# -- PromQL -----------------------------------------------------------------------------------


def test_promql_selectors_grouping_and_functions() -> None:
    names = promql.extract(
        "histogram_quantile(0.95, sum by (le, agent_operation_type) (rate("
        'agent_operation_duration_seconds_bucket{agent_session_project=~"a|b", job!=""}[5m])))'
        " / on (job) group_left (instance) up"
    )
    assert names.selectors == (
        promql.Selector(
            "agent_operation_duration_seconds_bucket",
            frozenset({"agent_session_project", "job"}),
        ),
        promql.Selector("up"),
    )
    assert names.grouping_labels == {"le", "agent_operation_type", "job", "instance"}
    assert names.functions == {"histogram_quantile", "sum", "rate"}


def test_promql_recording_rule_names_subqueries_offsets_and_name_matchers() -> None:
    names = promql.extract(
        "topk by (p) (5, max_over_time(agent:cost_usd_by_model:rate5m[1h:5m] offset 1d))"
        ' or {__name__="agent_session_active"} @ end()'
    )
    assert names.metrics == {"agent:cost_usd_by_model:rate5m", "agent_session_active"}
    assert names.grouping_labels == {"p"}


def test_promql_label_values_in_strings_are_not_names() -> None:
    names = promql.extract('sum(x{a="by (fake) rate(y[5m])"})')
    assert names.metrics == {"x"} and names.grouping_labels == frozenset()


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ('label_replace(up, "dst", "$1", "src", "(.*)")', "string arguments"),
        ("rated(up[5m])", "unknown function"),
        ('{job="x"}', "without a metric name"),
        ('{__name__=~"agent_.*"}', "literal metric name"),
        ("sum(rate(up[5m])", "unclosed"),
        ("rate(up[$__rate_interval])", "unexpected character"),
        ("rate(up[five])", "duration range"),
    ],
)
def test_promql_refuses_what_it_cannot_read(expr: str, why: str) -> None:
    with pytest.raises(promql.PromQLError, match=why):
        promql.extract(expr)


def test_promql_reads_every_recording_rule() -> None:
    metrics = recording_rule_metrics()
    assert metrics, RULES_FILE
    by_name = {m.name: m.labels for m in metrics}
    assert by_name["agent:cost_usd_by_user:increase1d"] == {"user_id"}
    assert by_name["agent:model_cost_usd_by_project:top5_increase1d"] == {
        "agent_session_project",
        "gen_ai_response_model",
    }


# -- TraceQL ----------------------------------------------------------------------------------


def test_traceql_scoped_unscoped_quoted_and_intrinsics() -> None:
    names = traceql.extract(
        '{ span.agent.session.total_cost >= 0.5 && resource.service.name = "x" '
        '&& .user.id != nil && span."odd name" = 1.5 && duration > 2.5s && status = error } '
        '>> { event:name = "agent.change" && event.agent.change.diff_lines > 100 } '
        "| select(span.gen_ai.request.model, trace:duration)"
    )
    assert [(a.scope, a.name) for a in names.attributes] == [
        ("span", "agent.session.total_cost"),
        ("resource", "service.name"),
        ("", "user.id"),
        ("span", "odd name"),
        ("event", "agent.change.diff_lines"),
        ("span", "gen_ai.request.model"),
    ]
    assert names.intrinsics == {"event:name", "trace:duration"}
    assert names.event_names == {"agent.change"}


def test_traceql_strings_hide_nothing_and_name_nothing() -> None:
    names = traceql.extract('{ name = "span.fake.attr" && span.file.path =~ ".*\\\\.py" }')
    assert [a.name for a in names.attributes] == ["file.path"]


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("{ agent.session.status = 1 }", "needs a scope"),
        ("{ stauts = error }", "neither an intrinsic"),
        ("{ span:durration > 1s }", "unknown intrinsic"),
        ("{ span.x = $v }", "unexpected character"),
    ],
)
def test_traceql_refuses_unknown_words(query: str, why: str) -> None:
    with pytest.raises(traceql.TraceQLError, match=why):
        traceql.extract(query)


# -- Grafana variables ------------------------------------------------------------------------


def test_grafana_substitution() -> None:
    text = 'rate(x{p=~"$project", u=~"${user:regex}"}[$__rate_interval]) > [[min]]'
    assert grafana.substitute(text, {"project": ".*", "user": ".*", "min": "2"}) == (
        'rate(x{p=~".*", u=~".*"}[5m]) > 2'
    )
    with pytest.raises(KeyError, match=r"\$nope"):
        grafana.substitute("$nope", {})


# -- what the names are checked against -------------------------------------------------------


def test_prometheus_naming_matches_the_opentelemetry_exporter() -> None:
    """Each of our metrics, recorded once through the SDK's Prometheus exporter, is exposed
    under exactly the series names derived here."""
    registry = CollectorRegistry()
    provider = MeterProvider(metric_readers=[PrometheusMetricReader(registry=registry)])
    meter = provider.get_meter("naming-check")
    try:
        expected: set[str] = set()
        for spec in metric_specs():
            if spec.instrument == "histogram":
                meter.create_histogram(spec.name, unit=spec.unit).record(1.0)
            elif spec.instrument == "counter":
                meter.create_counter(spec.name, unit=spec.unit).add(1)
            else:
                assert spec.instrument == "updowncounter", spec
                meter.create_up_down_counter(spec.name, unit=spec.unit).add(1)
            expected.update(prometheus_series(spec.name, spec.unit, spec.instrument))
        exposed = {
            line.split("{")[0].split(" ")[0]
            for line in generate_latest(registry).decode().splitlines()
            if line and not line.startswith("#")
        }
    finally:
        provider.shutdown()
    assert expected - exposed == set(), sorted(exposed)
    assert "agent_cost_USD_total" in expected  # the unit keeps its case


def test_spanmetrics_names_follow_the_connector_configuration() -> None:
    default = SpanMetricsConnector.from_config({"dimensions": [{"name": "agent.operation.type"}]})
    by_name = {m.name: m.labels for m in default.metrics()}
    assert set(by_name) == {
        "traces_span_metrics_calls_total",
        "traces_span_metrics_duration_milliseconds_bucket",
        "traces_span_metrics_duration_milliseconds_sum",
        "traces_span_metrics_duration_milliseconds_count",
    }
    assert {"service_name", "span_name", "span_kind", "status_code", "agent_operation_type"} <= (
        by_name["traces_span_metrics_calls_total"]
    )
    assert "le" in by_name["traces_span_metrics_duration_milliseconds_bucket"]
    custom = SpanMetricsConnector.from_config(
        {"namespace": "agent.spans", "histogram": {"unit": "s"}, "events": {"enabled": True}}
    )
    assert {m.name for m in custom.metrics()} >= {
        "agent_spans_duration_seconds_count",
        "agent_spans_events_total",
    }


def test_attribute_and_event_names_of_the_registry() -> None:
    assert is_known_attribute("agent.session.total_cost")  # ours
    assert is_known_attribute("gen_ai.request.model")  # official, in the reference model
    assert is_known_attribute("service.name")  # official, stable in the package
    assert not is_known_attribute("agent.session.cost")
    assert not is_known_attribute("service.nam")
    assert {"agent.change", "agent.session.pause"} <= known_event_names()
