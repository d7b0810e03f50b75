"""Free text recorded whether or not content is captured — targets, reasons, paths, error
messages and stack traces — is redacted and cut like content (``ContentPolicy.metadata`` and
``ContentPolicy.exception_attributes``)."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv.attributes.exception_attributes import (
    EXCEPTION_ESCAPED,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)

from agent_otel.content import ContentPolicy
from tests.core.test_redaction import Fake

FAKE = Fake(5)
TOKEN = FAKE.github()
URL_PASSWORD = FAKE.password()


def test_metadata_is_redacted_cut_and_exportable() -> None:
    policy = ContentPolicy(max_bytes=100)
    assert (
        policy.metadata(f"GET /repos?token={TOKEN}") == "GET /repos?token=[REDACTED:github-token]"
    )
    assert policy.metadata("caf\udce9.txt") == "caf?.txt"
    long = "x" * 95 + " " + TOKEN  # the cut falls inside the marker: no half marker is kept
    assert policy.metadata(long) == "x" * 95 + " "
    # Short texts take a cached path, long ones not; both give the same answer.
    for size in (400, 4000):
        text = "a" * size + f" postgres://app:{URL_PASSWORD}@db/app"
        wide = ContentPolicy(max_bytes=10_000)
        assert URL_PASSWORD not in wide.metadata(text)
        assert wide.metadata(text).endswith("postgres://app:[REDACTED:url-password]@db/app")


def _failing_call() -> None:
    raise ConnectionError(f"cannot clone https://ci:{URL_PASSWORD}@git.acme.dev/shop.git")


def _sdk_event(error: BaseException, **kwargs: object) -> dict[str, object]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("s", record_exception=False) as span:
        span.record_exception(error, **kwargs)  # type: ignore[arg-type]
    (event,) = exporter.get_finished_spans()[0].events
    return dict(event.attributes or {})


def test_exception_attributes_are_the_sdks_with_message_and_stack_trace_redacted() -> None:
    try:
        _failing_call()
    except ConnectionError as caught:
        error = caught
    sdk = _sdk_event(error)
    ours = ContentPolicy().exception_attributes(error)
    assert set(ours) == set(sdk)
    assert ours[EXCEPTION_TYPE] == sdk[EXCEPTION_TYPE] == "ConnectionError"
    assert ours[EXCEPTION_ESCAPED] == sdk[EXCEPTION_ESCAPED]
    assert URL_PASSWORD in str(sdk[EXCEPTION_MESSAGE])  # what the SDK alone records
    for key in (EXCEPTION_MESSAGE, EXCEPTION_STACKTRACE):
        assert URL_PASSWORD not in ours[key]
        assert "[REDACTED:url-password]" in ours[key]
    assert "_failing_call" in ours[EXCEPTION_STACKTRACE]
    # Given to record_exception, they replace what the SDK would record.
    recorded = _sdk_event(error, attributes=ours)
    assert URL_PASSWORD not in str(recorded)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no message")


def test_an_exception_that_cannot_be_printed_is_recorded_anyway() -> None:
    attributes = ContentPolicy().exception_attributes(Unprintable())
    assert attributes[EXCEPTION_TYPE].endswith("Unprintable")
    assert "could not be read" in attributes[EXCEPTION_MESSAGE]
