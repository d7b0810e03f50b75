"""Users add secret patterns and allow-lists, from the environment and from code; a bad
pattern is one clear warning naming it (an error in strict mode), never a crash, and never
silently drops the good ones."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agent_otel
from agent_otel import AgentOtelWarning, errors
from agent_otel import semconv as sc
from agent_otel.content import ContentPolicy
from agent_otel.instrumentation.openai import OpenAIInstrumentor
from agent_otel.redaction import ALLOW_ENV, PATTERNS_ENV, Redactor
from tests.security.scenario import SecretOpenAI

FIXTURE_TOKEN = "ghp_" + "T3stF1xtureT0ken" * 2 + "abcd"  # a test fixture's, allowed
TEXT = f"ticket ACME-123456, employee 55123, badge B-77, fixture {FIXTURE_TOKEN}"


def _redacted(policy: ContentPolicy, text: str = TEXT) -> str:
    captured = policy.capture_text(text)
    assert captured is not None
    return captured.text


def test_patterns_and_allow_list_from_arguments_add_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PATTERNS_ENV, r"badge B-\d+")
    policy = ContentPolicy.from_env(
        capture=True,
        redact_patterns=[r"ACME-\d{6}", re.compile(r"employee (?P<secret>\d{5})")],
        redact_allow=[re.escape(FIXTURE_TOKEN)],
    )
    assert _redacted(policy) == (
        "ticket [REDACTED:custom], employee [REDACTED:custom], [REDACTED:custom], "
        f"fixture {FIXTURE_TOKEN}"
    )
    # Without the allow-list the fixture's token is a GitHub token like any other.
    assert FIXTURE_TOKEN not in _redacted(ContentPolicy(capture=True))


def test_one_string_is_one_pattern() -> None:
    policy = ContentPolicy.from_env(capture=True, redact_patterns=r"ACME-\d+", redact_allow="x")
    assert _redacted(policy, "ACME-1 and x") == "[REDACTED:custom] and x"


def test_each_bad_pattern_is_one_warning_naming_it_and_the_good_ones_still_apply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PATTERNS_ENV, r"(unclosed;;ACME-\d+")
    monkeypatch.setenv(ALLOW_ENV, r"[z-a]")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        policy = ContentPolicy.from_env(
            capture=True,
            redact_patterns=["badge B-\\d+", "*star", 42, re.compile(rb"bytes")],  # type: ignore[list-item]
            redact_allow=["(?P<x>"],
        )
    messages = [str(w.message) for w in caught]
    assert all(issubclass(w.category, AgentOtelWarning) for w in caught)
    assert len(messages) == 6, messages
    expected = [
        f"{PATTERNS_ENV}: skipped the invalid regular expression '(unclosed'",
        f"{ALLOW_ENV}: skipped the invalid regular expression '[z-a]'",
        "configure(): redact_patterns: skipped the invalid regular expression '*star'",
        "configure(): redact_patterns: 42 is not a regular expression",
        "configure(): redact_patterns: re.compile(b'bytes') is not a regular expression",
        "configure(): redact_allow: skipped the invalid regular expression '(?P<x>'",
    ]
    for start in expected:
        assert any(m.startswith(start) for m in messages), (start, messages)
    assert _redacted(policy, "ACME-1 badge B-2") == "[REDACTED:custom] [REDACTED:custom]"


def test_a_bad_pattern_is_an_error_in_strict_mode() -> None:
    errors.set_strict(True)
    try:
        with pytest.raises(ValueError, match=r"redact_patterns: skipped the invalid .*'\(x'"):
            ContentPolicy.from_env(redact_patterns=["(x"])
        with pytest.raises(TypeError, match="redact_allow: 42 is not a regular expression"):
            ContentPolicy.from_env(redact_allow=[42])  # type: ignore[list-item]
        with pytest.raises(ValueError, match=r"Redactor\(\): extra pattern: skipped"):
            Redactor(extra_patterns=["[unclosed"])
    finally:
        errors.set_strict(None)


@pytest.fixture
def configured_with_patterns(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[InMemorySpanExporter, SecretOpenAI]]:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tel = agent_otel.configure(
        tracer_provider=provider,
        set_global=False,
        capture_content=True,
        redact_patterns=[r"ACME-\d{6}"],
        redact_allow=[re.escape(FIXTURE_TOKEN)],
    )
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield exporter, SecretOpenAI()
    finally:
        instrumentor.uninstrument()
        tel.shutdown()


def test_configure_patterns_apply_to_everything_recorded_llm_calls_included(
    configured_with_patterns: tuple[InMemorySpanExporter, SecretOpenAI],
) -> None:
    exporter, api = configured_with_patterns
    client = api.sync_client()
    api.answer.text = "your ticket is ACME-654321"
    with agent_otel.session(user_id="u", initial_prompt=TEXT) as s, s.operation("query", TEXT):
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": TEXT}]
        )
    recorded = "\n".join(str(dict(span.attributes or {})) for span in exporter.get_finished_spans())
    assert "ACME-123456" not in recorded and "ACME-654321" not in recorded
    assert FIXTURE_TOKEN in recorded
    llm = [s for s in exporter.get_finished_spans() if s.name.startswith("chat")]
    assert "[REDACTED:custom]" in str(llm[0].attributes[sc.GEN_AI_OUTPUT_MESSAGES])
