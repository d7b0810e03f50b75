"""An OTLP endpoint that refuses, hangs, fails (500 / 429) or answers slowly: the app's
result is unchanged, the loss is logged rather than silent, memory stays bounded, and once
the endpoint recovers new sessions arrive whole.

The receivers are real servers on loopback (OTLP/HTTP and OTLP/gRPC, see otlp_servers.py);
agent-otel is configured from the standard variables as an app would configure it. How
long the app's operations take under each fault is measured by
``tests/benchmarks/bench_faults.py``, not here.
"""

from __future__ import annotations

import logging
import time
import tracemalloc
from collections.abc import Iterator

import pytest

import agent_otel
from agent_otel import deferred
from agent_otel.configuration import Telemetry
from tests.reliability.agent_app import expected, run_session
from tests.reliability.otlp_servers import Receiver, make_receiver

PROTOCOLS = ("http", "grpc")
# What the exporters do with the batch they could not deliver: only a slow answer delivers.
FAULTS = ("refuse", "hang", "500", "429", "slow")
EXPORTER_LOGGERS = ("opentelemetry.exporter", "opentelemetry.sdk")
STEPS = 50


@pytest.fixture(autouse=True)
def _fresh_duplicate_filters() -> None:
    """Some SDK loggers drop a message that repeats the previous one (same level and text)
    for 20 s, per process; forget what earlier tests logged so each test sees its own lines."""
    for name in list(logging.Logger.manager.loggerDict):
        if name.startswith("opentelemetry"):
            for log_filter in logging.getLogger(name).filters:
                if hasattr(log_filter, "last_log"):
                    del log_filter.last_log


@pytest.fixture(params=PROTOCOLS)
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    r = make_receiver(request.param)
    yield r
    r.close()


def configure_for(receiver: Receiver, monkeypatch: pytest.MonkeyPatch, **env: str) -> Telemetry:
    """agent-otel configured from the environment, exporting to ``receiver`` only."""
    settings = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": receiver.protocol,
        # Seconds, as the Python exporters read it. Long enough for one retry after a back-off
        # of about 1 s: the first gRPC export after an outage needs it (the channel reports
        # the outage once more, then reconnects).
        "OTEL_EXPORTER_OTLP_TIMEOUT": "3",
        "OTEL_METRICS_EXPORTER": "none",
        **env,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return agent_otel.configure(service_name="reliability", set_global=False)


def exporter_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name.startswith(EXPORTER_LOGGERS) and r.levelno >= logging.WARNING
    ]


@pytest.mark.parametrize("fault", FAULTS)
def test_faulty_endpoint_leaves_the_app_alone_and_recovers(
    receiver: Receiver,
    fault: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    if fault != "refuse":
        receiver.start(fault)
    tel = configure_for(receiver, monkeypatch)
    try:
        assert run_session("during", STEPS) == expected("during", STEPS)
        began = time.monotonic()
        tel.force_flush()
        flush_seconds = time.monotonic() - began

        received = receiver.sessions()
        if fault == "slow":
            assert receiver.attempts == 1
            assert len(received["during"].operations) == STEPS
            assert not exporter_errors(caplog)
        else:
            # The batch is lost, and the loss is logged, never silent.
            assert "during" not in received
            assert exporter_errors(caplog), "a failed export must be logged"
            # "refuse" fails before any request; a retried fault (429, hang) retries within
            # the exporter's 3 s timeout; 500 is not retried.
            attempts = {"refuse": (0, 0), "500": (1, 1), "429": (2, 6), "hang": (1, 2)}
            low, high = attempts[fault]
            assert low <= receiver.attempts <= high
        assert flush_seconds < 6, "the exporter's timeout bounds a flush"

        # Recovery: the endpoint comes (back) up; the next session arrives complete.
        if fault == "refuse":
            receiver.start("ok")
        else:
            receiver.fault = "ok"
        assert run_session("after", STEPS) == expected("after", STEPS)
        tel.force_flush()
        assert receiver.wait_for(lambda r: "after" in r.sessions())
        after = receiver.sessions()["after"]
        assert after.status == "completed"
        assert after.operation_count == STEPS
        assert [op.target for op in after.operations] == [f"after/{i}.py" for i in range(STEPS)]
    finally:
        tel.shutdown(timeout_millis=2_000)


def test_an_outage_of_many_exports_then_recovery(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Several batches fail in a row against a refusing endpoint (gRPC's reconnect back-off
    grows meanwhile); the first export after it comes up still gets through. Each lost batch
    is one error line over HTTP; the gRPC exporter drops a message that repeats the previous
    one in the same 20 s window."""
    caplog.set_level(logging.ERROR)
    tel = configure_for(receiver, monkeypatch)
    try:
        for n in range(3):
            assert run_session(f"down-{n}", 5) == expected(f"down-{n}", 5)
            tel.force_flush()
        errors = exporter_errors(caplog)
        if receiver.name == "http":
            assert len(errors) == 3
        else:
            # The SDK's filter drops a repeat within the same 20 s window of the wall clock
            # (time // 20): one line per window the three failures fell in (one, or two when
            # they straddle a window's end).
            assert len(errors) == len({int(r.created // 20) for r in errors}) >= 1, errors
        receiver.start("ok")
        assert run_session("up", 5) == expected("up", 5)
        tel.force_flush()
        assert receiver.wait_for(lambda r: "up" in r.sessions())
        assert set(receiver.sessions()) == {"up"}
    finally:
        tel.shutdown(timeout_millis=2_000)


@pytest.mark.slow
def test_memory_stays_bounded_while_the_endpoint_hangs(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Spans wait in the batch processor's queue (OTEL_BSP_MAX_QUEUE_SIZE, here 256) and
    are dropped beyond it, with a log line (repeats dropped for 20 s): after a warm-up (which also
    fills agent-otel's bounded caches, e.g. of redacted targets, and its queue of metric
    points, here 1,000), 20,000 operations more
    leave traced memory where it was. Then the endpoint answers again and new sessions
    arrive."""
    receiver.start("hang")
    caplog.set_level(logging.WARNING)
    # The metric points queued until the next collection are bounded too (8 bytes a point):
    # a small bound here, reached in the warm-up, as the batch queue's is.
    monkeypatch.setattr(deferred, "MAX_PENDING", 1_000)
    tel = configure_for(
        receiver,
        monkeypatch,
        OTEL_BSP_MAX_QUEUE_SIZE="256",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE="64",
        OTEL_EXPORTER_OTLP_TIMEOUT="30",  # the worker stays stuck in one export
    )
    try:
        tracemalloc.start()
        assert run_session("flood", 2_000, files=500) == expected("flood", 2_000)
        before, _ = tracemalloc.get_traced_memory()
        assert run_session("flood", 20_000, files=500) == expected("flood", 20_000)
        after, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        growth = after - before
        assert growth < 64 * 1024, f"traced memory grew by {growth / 1024:.0f} KiB"
        assert tel.processor.open_span_count() == 0
        dropped = [r for r in caplog.records if "Queue full" in r.getMessage()]
        assert 1 <= len(dropped) <= 10, "queue overflow is logged, but not once per span"

        receiver.fault = "ok"
        receiver.release()
        assert run_session("after", 5) == expected("after", 5)
        tel.force_flush()
        assert receiver.wait_for(lambda r: "after" in r.sessions())
        assert receiver.sessions()["after"].operation_count == 5
    finally:
        tracemalloc.stop()
        tel.shutdown(timeout_millis=2_000)
