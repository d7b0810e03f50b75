"""What the benchmarks share: an exporter that drops spans, and the timing of the metric work
that agent-otel defers to collection time.

Histogram points (operation durations, the GenAI client metrics) are queued on the hot path
and recorded when a metric reader collects (``agent_otel.deferred``). A benchmark that only
timed the hot path would hide that work, so each benchmark also times one collection after a
round and reports it per call or span, beside the budgeted figure.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class DropSpans(SpanExporter):
    """Exports nowhere: the pipeline's cost without an exporter's."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def collection_seconds(reader: InMemoryMetricReader) -> float:
    """Seconds one collection takes: recording the queued points, then reading every
    metric (what a periodic reader does on its own thread)."""
    began = time.perf_counter()
    reader.get_metrics_data()
    return time.perf_counter() - began
