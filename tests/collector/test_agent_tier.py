"""The agent tier (collector-config/agent.yaml) as a real Collector between an app and an OTLP
receiver: its redaction layer masks every kind of secret agent-otel's own redactor knows
wherever it sits (span, event and resource attributes), masks whole values kept under a
secret's name, leaves everything else alone, cuts long values to the size budget on a UTF-8
boundary, and with OTELCOL_AGENT_CONTENT=drop removes the content attributes of a real demo
agent session while keeping the rest.

The spans of the redaction tests come from the plain OpenTelemetry SDK, not agent-otel, so
nothing is redacted before the Collector: what comes out masked was masked by it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Tracer

from agent_otel import semconv
from agent_otel.redaction import KINDS, Redactor
from agent_otel.spandata import SpanData
from tests.cli.otlp_receivers import Received, grpc_receiver
from tests.polling import wait_for

from .apps import run_demo
from .configs import registry_attributes
from .programs import Binaries, Collector, Programs, start_collector

MASK = "****"
BUDGET = 2048
RECEIVE_TIMEOUT = 30.0

# kind of agent-otel's redactor -> (text holding a fake secret, the secret part of it)
SECRETS = {
    "private-key": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAplanted0123\n"
        "-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEAplanted0123",
    ),
    "jwt": (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlcGxhbnRlZA",
        "eyJzdWIiOiJwbGFudGVkIn0",
    ),
    "anthropic-key": ("sk-ant-api03-Planted0123456789ABCDEFabcdef", "Planted0123456789ABCDEF"),
    "openai-key": ("sk-proj-Planted0123456789ABCDEFabcdef", "Planted0123456789ABCDEF"),
    "aws-access-key-id": ("AKIAZ7PLANTEDKEY0042", "AKIAZ7PLANTEDKEY0042"),
    "aws-secret-key": (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLANTEDKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYPLANTEDKEY",
    ),
    "github-token": (
        "ghp_Planted0123456789abcdefABCDEF0123456",
        "Planted0123456789abcdefABCDEF0123456",
    ),
    "slack-token": ("xoxb-123456789012-Planted0123", "Planted0123"),
    "slack-webhook": (
        "https://hooks.slack.com/services/T0000/B0000/Planted0123",
        "B0000/Planted0123",
    ),
    "google-api-key": (
        "AIzaSyPlanted0123456789abcdefABCDEF0123",
        "SyPlanted0123456789abcdefABCDEF0123",
    ),
    "stripe-key": ("sk_live_Planted0123456789", "Planted0123456789"),
    "authorization": ("Authorization: Token Planted0123456789", "Planted0123456789"),
    "bearer-token": ("Bearer Planted0123456789abcdef", "Planted0123456789abcdef"),
    "basic-auth": ("curl -u admin:Pl4ntedPass https://example.com", "Pl4ntedPass"),
    "url-password": ("postgres://admin:Pl4nted-pass@db.internal:5432/app", "Pl4nted-pass"),
    "connection-string": (
        "Server=db;Database=app;Password=Pl4nted!Secret;Encrypt=True",
        "Pl4nted!Secret",
    ),
}
# What only agent-otel's redactor recognises: secrets known by the name they are assigned to
# (it parses code, .env, JSON and YAML for that) and patterns the app adds itself.
NOT_IN_THE_COLLECTOR = {"secret", "custom"}

NOT_SECRETS = (
    "task-force-alpha-bravo-charlie-delta-echo",
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "0f8fad5b-d9cb-469f-a165-70867728950e",
    "the bearer of bad news",
    "postgres://db.internal:5432/app",
    "Authorization: required",
    "sk-short",
    "pytest -u tests/",
)


@dataclass
class Tier:
    collector: Collector
    received: Received

    def send(self, build: Callable[[Tracer], None], **resource: str) -> None:
        """Send the spans ``build`` makes, with the plain OpenTelemetry SDK, to the agent
        Collector."""
        provider = TracerProvider(resource=Resource.create({"service.name": "sdk-app", **resource}))
        exporter = OTLPSpanExporter(endpoint=f"http://{self.collector.otlp_grpc}", insecure=True)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        build(provider.get_tracer("collector-tests"))
        provider.shutdown()

    def spans_named(self, prefix: str, count: int) -> list[SpanData]:
        """The ``count`` spans whose name starts with ``prefix``, once they all arrived."""

        def arrived() -> list[SpanData] | None:
            spans = [s for s in self.received.spans() if s.name.startswith(prefix)]
            return spans if len(spans) >= count else None

        spans = wait_for(f"{count} spans named {prefix}*", arrived, RECEIVE_TIMEOUT)
        assert len(spans) == count
        return spans


@pytest.fixture(scope="module")
def agent(programs: Programs, binaries: Binaries) -> Iterator[Tier]:
    with grpc_receiver() as (endpoint, received):
        collector = start_collector(
            programs,
            binaries,
            "agent",
            ["agent.yaml"],
            {"OTELCOL_EXPORT_ENDPOINT": endpoint, "OTELCOL_EXPORT_INSECURE": "true"},
        )
        yield Tier(collector, received)
        collector.program.stop()  # before its receiver goes away


def test_every_kind_the_inprocess_redactor_knows_is_sampled_here() -> None:
    assert set(SECRETS) | NOT_IN_THE_COLLECTOR == set(KINDS)
    redactor = Redactor()
    for kind, (text, secret) in SECRETS.items():
        redacted = redactor.redact(text)
        assert f"[REDACTED:{kind}]" in redacted and secret not in redacted, (kind, redacted)
    for text in NOT_SECRETS:
        assert redactor.redact(text) == text


@pytest.mark.e2e
def test_secrets_are_masked_in_span_attributes(agent: Tier) -> None:
    prefix = f"secrets-{uuid.uuid4().hex[:8]} "

    def build(tracer: Tracer) -> None:
        for kind, (text, _) in SECRETS.items():
            with tracer.start_as_current_span(prefix + kind) as span:
                span.set_attribute(semconv.AGENT_OPERATION_RESULT, f"before {text} after")

    agent.send(build)
    for span in agent.spans_named(prefix, len(SECRETS)):
        kind = span.name.removeprefix(prefix)
        secret = SECRETS[kind][1]
        value = span.attributes[semconv.AGENT_OPERATION_RESULT]
        assert secret not in value, (kind, value)
        assert MASK in value, (kind, value)
        assert value.startswith("before ") and value.endswith(" after"), (kind, value)
        assert span.attributes["redaction.masked.count"] == 1


@pytest.mark.e2e
def test_secrets_are_masked_in_events_and_resources(agent: Tier) -> None:
    prefix = f"places-{uuid.uuid4().hex[:8]}"
    text, secret = SECRETS["openai-key"]

    def build(tracer: Tracer) -> None:
        with tracer.start_as_current_span(prefix) as span:
            span.add_event("agent.change", {semconv.AGENT_CHANGE_DIFF: f"+KEY = '{text}'"})

    agent.send(build, **{"deployment.secret_note": f"key {text}"})
    (span,) = agent.spans_named(prefix, 1)
    (event,) = span.events
    assert secret not in event.attributes[semconv.AGENT_CHANGE_DIFF]
    assert MASK in event.attributes[semconv.AGENT_CHANGE_DIFF]
    assert span.resource["deployment.secret_note"] == f"key {MASK}"


@pytest.mark.e2e
def test_values_under_a_secrets_name_are_masked_whole(agent: Tier) -> None:
    prefix = f"keys-{uuid.uuid4().hex[:8]}"

    def build(tracer: Tracer) -> None:
        with tracer.start_as_current_span(prefix) as span:
            span.set_attribute("db.password", "hunter2")
            span.set_attribute("http.request.header.authorization", "whatever it is")

    agent.send(build)
    (span,) = agent.spans_named(prefix, 1)
    assert span.attributes["db.password"] == MASK
    assert span.attributes["http.request.header.authorization"] == MASK


@pytest.mark.e2e
def test_what_is_not_a_secret_passes_unchanged(agent: Tier) -> None:
    """Every attribute of the registry under its own name, and values that only resemble
    secrets, come out exactly as they went in."""
    prefix = f"clean-{uuid.uuid4().hex[:8]}"
    values = {name: f"value of {name} 0123456789" for name in registry_attributes()}
    # What agent-otel's redactor made of each secret: its markers stay as they are, so that
    # a reader can tell which layer found what.
    texts = [*NOT_SECRETS, *(Redactor().redact(text) for text, _ in SECRETS.values())]

    def build(tracer: Tracer) -> None:
        with tracer.start_as_current_span(prefix + "-registry") as span:
            span.set_attributes(values)
        for number, text in enumerate(texts):
            with tracer.start_as_current_span(f"{prefix}-{number}") as span:
                span.set_attribute(semconv.AGENT_OPERATION_RESULT, text)

    agent.send(build)
    spans = {s.name: s for s in agent.spans_named(prefix, 1 + len(texts))}
    assert dict(spans[prefix + "-registry"].attributes) == values
    for number, text in enumerate(texts):
        assert spans[f"{prefix}-{number}"].attributes[semconv.AGENT_OPERATION_RESULT] == text


@pytest.mark.e2e
def test_long_values_are_cut_to_the_budget_on_a_character_boundary(agent: Tier) -> None:
    prefix = f"budget-{uuid.uuid4().hex[:8]}"
    ascii_text = "a" * 5000
    accented = "é" * 2000  # 4000 bytes, two per character

    def build(tracer: Tracer) -> None:
        with tracer.start_as_current_span(prefix + "-with-event") as span:
            span.set_attribute(semconv.AGENT_OPERATION_RESULT, ascii_text)
            span.add_event("agent.change", {semconv.AGENT_CHANGE_DIFF: ascii_text})
        with tracer.start_as_current_span(prefix + "-plain") as span:
            span.set_attribute(semconv.AGENT_OPERATION_RESULT, ascii_text)
            span.set_attribute(semconv.GEN_AI_INPUT_MESSAGES, accented)
            span.set_attribute(semconv.AGENT_OPERATION_TARGET, "short stays whole")

    agent.send(build, **{"deployment.notes": ascii_text})
    spans = {s.name.removeprefix(prefix): s for s in agent.spans_named(prefix, 2)}
    for span in spans.values():
        assert span.attributes[semconv.AGENT_OPERATION_RESULT] == "a" * BUDGET
        assert span.resource["deployment.notes"] == "a" * BUDGET
    assert spans["-with-event"].events[0].attributes[semconv.AGENT_CHANGE_DIFF] == "a" * BUDGET
    plain = spans["-plain"].attributes
    assert plain[semconv.GEN_AI_INPUT_MESSAGES] == "é" * (BUDGET // 2)
    assert plain[semconv.AGENT_OPERATION_TARGET] == "short stays whole"


@pytest.mark.e2e
def test_content_is_dropped_when_asked(
    programs: Programs, binaries: Binaries, tmp_path: Path
) -> None:
    """OTELCOL_AGENT_CONTENT=drop: a real demo agent session (which captures content) comes
    out with no content attribute on any span or event, and with everything else, including
    the sizes agent-otel records only when it captured the content."""
    with grpc_receiver() as (endpoint, received):
        collector = start_collector(
            programs,
            binaries,
            "agent-content-drop",
            ["agent.yaml"],
            {
                "OTELCOL_EXPORT_ENDPOINT": endpoint,
                "OTELCOL_EXPORT_INSECURE": "true",
                "OTELCOL_AGENT_CONTENT": "drop",
            },
        )
        try:
            session_id = run_demo(
                collector.otlp_grpc,
                tmp_path / "workspace",
                tmp_path / "home",
                {"OTEL_METRICS_EXPORTER": "none"},
            )

            def session_arrived() -> list[SpanData] | None:
                spans = [
                    s
                    for s in received.spans()
                    if s.attributes.get(semconv.SESSION_ID) == session_id
                ]
                roots = [s for s in spans if s.parent_span_id is None]
                return spans if roots else None

            spans = wait_for("the demo session", session_arrived, RECEIVE_TIMEOUT)
        finally:
            collector.program.stop()
    attributes = [dict(s.attributes) for s in spans]
    attributes += [dict(e.attributes) for s in spans for e in s.events]
    present = {key for attrs in attributes for key in attrs}
    assert not present & semconv.CONTENT_ATTRIBUTES
    assert {
        semconv.AGENT_OPERATION_RESULT_SIZE,
        semconv.AGENT_SESSION_INITIAL_PROMPT_SIZE,
        semconv.AGENT_CHANGE_DIFF_LINES,
        semconv.AGENT_CHANGE_AFTER_SHA256,
        semconv.GEN_AI_USAGE_INPUT_TOKENS,
    } <= present
