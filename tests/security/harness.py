"""agent-otel configured to export through every kind of exporter at once, for leak tests.

Spans and metrics go to in-memory exporters, to the local store (the real store exporters
writing a temporary directory) and over OTLP/HTTP protobuf to a loopback receiver that keeps
the raw bytes; the openai and anthropic instrumentors record into the same pipeline, with
message content captured. Afterwards the ``agent-otel`` console script lists the store, which
builds its index beside it (searched too), and its ``--json`` output is kept. So are the
warnings and log records raised meanwhile, which end up in the app's logs: agent-otel's own
and the OpenTelemetry SDK's (the client SDKs' debug logs print whole requests by design, and
are not ours to police).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agent_otel
from agent_otel.instrumentation.anthropic import AnthropicInstrumentor
from agent_otel.instrumentation.messages import CAPTURE_ENV
from agent_otel.instrumentation.openai import OpenAIInstrumentor
from agent_otel.store import StoreMetricExporter, StoreSpanExporter
from tests.security import sinks
from tests.security.cli import run_cli
from tests.security.corpus import Secret
from tests.security.receiver import RawReceiver
from tests.security.scenario import Agent

# Exported only when flushed: the tests flush and shut down explicitly.
_NEVER_MS = 3_600_000
_OUR_LOGGERS = ("agent_otel", "opentelemetry")


@dataclass
class Exported:
    planted: list[tuple[Secret, str]]
    haystacks: list[sinks.Haystack]
    spans: sinks.Haystack  # the in-memory spans, to check that content got through
    warnings: list[warnings.WarningMessage]


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def record_everywhere(
    store: Path,
    monkeypatch: pytest.MonkeyPatch,
    scenario: Callable[[Agent], list[tuple[Secret, str]]],
) -> Exported:
    """Run ``scenario`` with content capture on and every exporter attached; return what it
    planted and everything that was exported or logged."""
    monkeypatch.setenv(CAPTURE_ENV, "true")
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    kept = _Keep()
    loggers = [logging.getLogger(name) for name in _OUR_LOGGERS]
    old_levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(kept)
        logger.setLevel(logging.DEBUG)
    span_memory = InMemorySpanExporter()
    metric_memory = InMemoryMetricReader()
    instrumentors = [OpenAIInstrumentor(), AnthropicInstrumentor()]
    try:
        with RawReceiver() as receiver, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            url = receiver.endpoint
            none = Compression.NoCompression
            tel = agent_otel.configure(
                span_exporters=[
                    span_memory,
                    StoreSpanExporter(store),
                    OTLPSpanExporter(endpoint=f"{url}/v1/traces", compression=none),
                ],
                metric_readers=[
                    metric_memory,
                    PeriodicExportingMetricReader(
                        StoreMetricExporter(store), export_interval_millis=_NEVER_MS
                    ),
                    PeriodicExportingMetricReader(
                        OTLPMetricExporter(endpoint=f"{url}/v1/metrics", compression=none),
                        export_interval_millis=_NEVER_MS,
                    ),
                ],
                capture_content=True,
                set_global=False,
            )
            try:
                for instrumentor in instrumentors:
                    instrumentor.instrument(
                        tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider
                    )
                planted = scenario(Agent())
                assert tel.force_flush(), "an exporter did not confirm the flush"
                metrics = metric_memory.get_metrics_data()
            finally:
                for instrumentor in instrumentors:
                    instrumentor.uninstrument()
                tel.shutdown()
            listing = run_cli("sessions", "--json", store=store, cwd=store.parent)
            assert listing.returncode == 0, listing.stderr
            spans = sinks.memory_spans(span_memory.get_finished_spans())
            haystacks = [
                spans,
                sinks.memory_metrics(metrics),
                *sinks.store(store),
                *sinks.otlp("traces", receiver.bodies("/v1/traces"), receiver.trace_requests()),
                *sinks.otlp("metrics", receiver.bodies("/v1/metrics"), receiver.metric_requests()),
                sinks.Haystack("log records", "\n".join(kept.lines)),
                sinks.Haystack("agent-otel sessions --json", listing.stdout.decode()),
                sinks.Haystack("warnings", "\n".join(str(w.message) for w in caught)),
            ]
    finally:
        for logger, level in zip(loggers, old_levels, strict=True):
            logger.removeHandler(kept)
            logger.setLevel(level)
    return Exported(planted, haystacks, spans, list(caught))
