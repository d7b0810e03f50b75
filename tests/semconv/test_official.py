"""The ``official`` test helper: span attributes and metrics checked against the reference model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.semconv.official import (
    check_metric_against_reference,
    check_span_against_reference,
    instrument_kind_of,
)

pytest.importorskip("yaml", reason="PyYAML (test extra) reads the reference model")

_MESSAGES = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}])

GOOD_CHAT_SPAN: dict[str, object] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "claude-sonnet-4-5",
    "gen_ai.request.max_tokens": 1024,
    "gen_ai.request.temperature": 0,  # double: an int is fine
    "gen_ai.request.top_p": 0.9,
    "gen_ai.request.top_k": 40,
    "gen_ai.request.stop_sequences": ("END",),
    "gen_ai.request.seed": 7,
    "gen_ai.request.stream": True,
    "gen_ai.output.type": "json",
    "gen_ai.response.id": "msg_01",
    "gen_ai.response.model": "claude-sonnet-4-5-20250929",
    "gen_ai.response.finish_reasons": ["end_turn"],
    "gen_ai.response.time_to_first_chunk": 0.42,
    "gen_ai.usage.input_tokens": 120,
    "gen_ai.usage.output_tokens": 30,
    "gen_ai.usage.cache_read.input_tokens": 100,
    "gen_ai.token.type": "output",
    "gen_ai.input.messages": _MESSAGES,
    "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
    "error.type": "RateLimitError",  # open enum: a custom value is fine
    "server.address": "api.anthropic.com",  # not in the reference copy: not checked
    "server.port": 443,
    "session.id": "s-1",
    "agent.usage.cost": 0.0012,  # ours: not checked
}


def test_a_well_formed_span_has_no_problems() -> None:
    assert check_span_against_reference(GOOD_CHAT_SPAN) == []


def test_an_open_enum_accepts_a_custom_value() -> None:
    assert check_span_against_reference({"gen_ai.provider.name": "my_gateway"}) == []


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("gen_ai.request.max_token", 10, "not in the official semantic conventions"),
        ("gen_ai.system", "openai", "deprecated (renamed to gen_ai.provider.name)"),
        ("gen_ai.usage.prompt_tokens", 3, "deprecated"),
        ("gen_ai.request.max_tokens", "100", "expected int, got str '100'"),
        ("gen_ai.usage.input_tokens", True, "expected int, got bool True"),
        ("gen_ai.request.temperature", "0.2", "expected double"),
        ("gen_ai.request.stream", 1, "expected boolean"),
        ("gen_ai.response.id", 123, "expected string"),
        ("gen_ai.response.finish_reasons", "stop", "expected string[] (a list or tuple)"),
        ("gen_ai.request.stop_sequences", ["a", 1], "expected string[], got items [1]"),
        ("gen_ai.operation.name", "Chat", "differs from the member 'chat' only by case"),
        ("gen_ai.provider.name", "OpenAI", "differs from the member 'openai' only by case"),
        ("gen_ai.operation.name", 3, "expected a string enum value"),
        ("gen_ai.input.messages", "Hi there", "non-JSON text"),
        ("gen_ai.output.messages", ("a",), "expected a JSON string"),
    ],
)
def test_a_bad_attribute_is_reported(name: str, value: object, problem: str) -> None:
    problems = check_span_against_reference({**GOOD_CHAT_SPAN, name: value})
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{name}: ")
    assert problem in problems[0]


def test_every_problem_of_a_bad_span_is_reported() -> None:
    bad = {
        "gen_ai.request.max_token": 10,
        "gen_ai.system": "openai",
        "gen_ai.request.max_tokens": "100",
        "gen_ai.operation.name": "Chat",
    }
    problems = check_span_against_reference(bad)
    assert [p.split(":")[0] for p in problems] == sorted(bad)


_TINY_REFERENCE = """
groups:
  - id: registry.demo
    type: attribute_group
    brief: Demo.
    attributes:
      - id: gen_ai.demo.kind
        type:
          members:
            - {id: old, value: legacy, deprecated: {reason: renamed, renamed_to: new}}
            - {id: new, value: modern}
      - id: gen_ai.demo.level
        type:
          members:
            - {id: low, value: 1}
            - {id: high, value: 2}
      - id: gen_ai.demo.header
        type: template[string[]]
  - id: metric.demo.size
    type: metric
    metric_name: gen_ai.demo.size
    instrument: gauge
    unit: By
    deprecated: {reason: obsoleted, note: Gone.}
"""


def test_deprecated_members_int_enums_templates_and_metrics(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(_TINY_REFERENCE, encoding="utf-8")
    good = {"gen_ai.demo.kind": "modern", "gen_ai.demo.level": 2, "gen_ai.demo.header.x": ["a"]}
    assert check_span_against_reference(good, model_dir=tmp_path) == []
    bad = {"gen_ai.demo.kind": "legacy", "gen_ai.demo.level": "2", "gen_ai.demo.header.x": "a"}
    assert check_span_against_reference(bad, model_dir=tmp_path) == [
        "gen_ai.demo.header.x: expected string[] (a list or tuple), got str 'a'",
        "gen_ai.demo.kind: value 'legacy' is deprecated",
        "gen_ai.demo.level: expected an int enum value, got str '2'",
    ]
    assert check_metric_against_reference(
        "gen_ai.demo.size", "gauge", "By", model_dir=tmp_path
    ) == ["gen_ai.demo.size: deprecated (Gone.)"]


def test_a_good_metric_has_no_problems() -> None:
    assert check_metric_against_reference("gen_ai.client.token.usage", "histogram", "{token}") == []
    assert (
        check_metric_against_reference("gen_ai.client.operation.duration", "Histogram", "s") == []
    )


@pytest.mark.parametrize(
    ("name", "kind", "unit", "problem"),
    [
        ("gen_ai.client.token.count", "histogram", "{token}", "not a metric of the official"),
        ("gen_ai.client.token.usage", "counter", "{token}", "instrument is 'counter'"),
        ("gen_ai.client.operation.duration", "histogram", "ms", "unit is 'ms'"),
        ("gen_ai.client.token.usage", "meter", "{token}", "instrument is 'meter'"),
    ],
)
def test_a_bad_metric_is_reported(name: str, kind: str, unit: str, problem: str) -> None:
    problems = check_metric_against_reference(name, kind, unit)
    assert len(problems) == 1, problems
    assert problem in problems[0]


def test_instrument_kinds_of_sdk_instruments() -> None:
    sdk_metrics = pytest.importorskip("opentelemetry.sdk.metrics")
    meter = sdk_metrics.MeterProvider().get_meter("test")
    assert instrument_kind_of(meter.create_histogram("h")) == "histogram"
    assert instrument_kind_of(meter.create_counter("c")) == "counter"
    assert instrument_kind_of(meter.create_up_down_counter("u")) == "updowncounter"
    assert instrument_kind_of(meter.create_observable_gauge("g")) == "gauge"
    assert instrument_kind_of("up_down_counter") == "updowncounter"
    assert instrument_kind_of(object()) == ""
