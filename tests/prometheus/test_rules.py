"""The recording rules under collector-config/prometheus: valid, unit-tested by promtool for
every rule, and reading the metric and label names that agent-otel's metrics really get from
the OpenTelemetry Prometheus exporter."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, generate_latest

import agent_otel
from agent_otel import errors
from agent_otel.metrics import USER_ID_ENV

from .conftest import RULE_TESTS, RULES_DIR, RULES_FILE, binary
from .workload import run_sessions


def _rules() -> list[dict[str, str]]:
    document = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_promtool_check_rules() -> None:
    promtool = binary("promtool")
    result = subprocess.run(
        [promtool, "check", "rules", str(RULES_FILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in result.stdout


def test_promtool_test_rules() -> None:
    promtool = binary("promtool")
    assert RULE_TESTS, f"no promtool tests in {RULES_DIR / 'tests'}"
    result = subprocess.run(
        [promtool, "test", "rules", *map(str, RULE_TESTS)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=RULES_DIR,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout + result.stderr


def test_every_rule_has_a_unit_test_and_a_readme_entry() -> None:
    tested: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("promql_expr_test", []):
                if check.get("exp_samples"):  # a check that the rule yields some value
                    tested.add(check["expr"].strip())
    readme = (RULES_DIR / "README.md").read_text(encoding="utf-8")
    names = [rule["record"] for rule in _rules()]
    assert len(names) == len(set(names)), "a rule name is recorded twice"
    assert [n for n in names if n not in tested] == [], "rules without an expected value"
    assert [n for n in names if f"`{n}`" not in readme] == [], "rules missing from README.md"
    assert all(n.startswith("agent:") for n in names)


def _exposition(monkeypatch: pytest.MonkeyPatch) -> str:
    """What agent-otel's metrics look like to Prometheus after a few sessions with user ids
    opted in: the exposition of the OpenTelemetry Prometheus exporter (no server needed)."""
    monkeypatch.setenv(USER_ID_ENV, "true")
    registry = CollectorRegistry()
    reader = PrometheusMetricReader(registry=registry)
    meter_provider = MeterProvider(metric_readers=[reader])
    tracer_provider = TracerProvider()
    tel = agent_otel.configure(
        tracer_provider=tracer_provider, meter_provider=meter_provider, set_global=False
    )
    try:
        assert tel.meter_provider is meter_provider, "agent-otel was already configured"
        run_sessions(tracer_provider.get_tracer("other-instrumentation"), sessions=8)
        return generate_latest(registry).decode()
    finally:
        tel.shutdown()
        errors.set_strict(None)
        tracer_provider.shutdown()
        meter_provider.shutdown()


def test_rules_read_the_names_the_exporter_gives_our_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exposed = _exposition(monkeypatch)
    series = {line.split("{")[0].split(" ")[0] for line in exposed.splitlines()}
    labels = set(re.findall(r"[{,]([a-zA-Z_][a-zA-Z0-9_]*)=", exposed))
    expressions = "\n".join(rule["expr"] for rule in _rules())
    names = set(re.findall(r"\b(agent_[a-zA-Z0-9_]+)\b", expressions))  # metrics and labels
    assert names <= series | labels, f"not exposed: {sorted(names - series - labels)}"
    # the metrics the rules read (README.md names them)
    read = {
        "agent_session_duration_seconds_count",
        "agent_session_active",
        "agent_operation_duration_seconds_count",
        "agent_token_usage_total",
        "agent_cost_USD_total",
    }
    assert read <= series, f"not exposed: {sorted(read - series)}; exposed: {sorted(series)}"
    assert {n for n in names if n not in labels} == read
    used_labels = set(re.findall(r"\b([a-z_]+)\s*(?:=~|!=|=)\s*\"", expressions))
    for by in re.findall(r"by \(([^)]*)\)", expressions):
        used_labels.update(label.strip() for label in by.split(","))
    assert used_labels <= labels, f"not exposed: {sorted(used_labels - labels)}"
