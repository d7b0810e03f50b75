"""Span and metric exporters that write the local store.

They are what agent-otel uses when no OTLP endpoint is configured, and they are registered
as ``opentelemetry_traces_exporter`` / ``opentelemetry_metrics_exporter`` entry points named
``agent_otel_store``, so ``OTEL_TRACES_EXPORTER=agent_otel_store`` works with
``opentelemetry-instrument`` too (which constructs them without arguments).

Each export is encoded to one OTLP JSON line and appended at once; nothing is buffered, so
``force_flush`` has nothing to do and a crash loses at most the batch being written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
)
from opentelemetry.sdk.metrics.view import Aggregation
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agent_otel.store.otlp_json import dumps_line, encode_metrics, encode_spans
from agent_otel.store.paths import METRICS_STEM, TRACES_STEM, current_file, default_store_dir
from agent_otel.store.writer import JsonLinesFile, resolve_limits

__all__ = ["StoreMetricExporter", "StoreSpanExporter"]

_logger = logging.getLogger("agent_otel.store")

StorePath: TypeAlias = "str | os.PathLike[str]"
_T = TypeVar("_T")


class _StoreOutput:
    """What both exporters share: the store file, encoding failures, shutdown state."""

    def __init__(
        self,
        stem: str,
        directory: StorePath | None,
        max_file_bytes: int | None,
        max_files: int | None,
    ) -> None:
        self.directory = Path(directory) if directory is not None else default_store_dir()
        limit_bytes, limit_files = resolve_limits(max_file_bytes, max_files)
        self.file = JsonLinesFile(
            current_file(self.directory, stem), max_file_bytes=limit_bytes, max_files=limit_files
        )
        self.is_shut_down = False
        self._warned_after_shutdown = False

    def write(self, what: str, encode: Callable[[_T], dict[str, Any]], data: _T) -> bool:
        if self.is_shut_down:
            if not self._warned_after_shutdown:
                self._warned_after_shutdown = True
                _logger.warning(
                    "agent-otel store: %s exported after shutdown are dropped (%s)",
                    what,
                    self.file.path,
                )
            return False
        try:
            line = dumps_line(encode(data))
        except Exception:
            # An exporter must not raise into the SDK; an unencodable batch is a bug to report.
            _logger.warning(
                "agent-otel store: cannot encode %s; batch dropped", what, exc_info=True
            )
            return False
        return self.file.write(line)

    def shutdown(self) -> None:
        self.is_shut_down = True
        self.file.close()


class _StoreLocation:
    """Where an exporter writes: shared by the span and the metric exporter."""

    _out: _StoreOutput

    @property
    def directory(self) -> Path:
        return self._out.directory

    @property
    def path(self) -> Path:
        """The file being appended to."""
        return self._out.file.path


class StoreSpanExporter(_StoreLocation, SpanExporter):
    """Append each batch of finished spans to ``<directory>/traces.jsonl`` as one OTLP JSON
    ``ExportTraceServiceRequest`` line.

    ``directory`` defaults to :func:`~agent_otel.store.default_store_dir`; ``max_file_bytes``
    and ``max_files`` default to ``AGENT_OTEL_STORE_MAX_BYTES`` / ``AGENT_OTEL_STORE_MAX_FILES``
    or 64 MiB / 8 files. Nothing touches the disk until the first export.
    """

    def __init__(
        self,
        directory: StorePath | None = None,
        *,
        max_file_bytes: int | None = None,
        max_files: int | None = None,
    ) -> None:
        self._out = _StoreOutput(TRACES_STEM, directory, max_file_bytes, max_files)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans and not self._out.is_shut_down:
            return SpanExportResult.SUCCESS
        ok = self._out.write("spans", encode_spans, spans)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._out.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


_CUMULATIVE: dict[type, AggregationTemporality] = {
    instrument: AggregationTemporality.CUMULATIVE
    for instrument in (
        Counter,
        UpDownCounter,
        Histogram,
        ObservableCounter,
        ObservableUpDownCounter,
        ObservableGauge,
    )
}


class StoreMetricExporter(_StoreLocation, MetricExporter):
    """Append each metrics collection to ``<directory>/metrics.jsonl`` as one OTLP JSON
    ``ExportMetricsServiceRequest`` line.

    Temporality is cumulative for every instrument unless ``preferred_temporality`` says
    otherwise: each line is then self-contained (totals so far), which is what a file that
    may be read partially, rotated or pruned needs. Directory and limits as for
    :class:`StoreSpanExporter`.
    """

    def __init__(
        self,
        directory: StorePath | None = None,
        *,
        max_file_bytes: int | None = None,
        max_files: int | None = None,
        preferred_temporality: dict[type, AggregationTemporality] | None = None,
        preferred_aggregation: dict[type, Aggregation] | None = None,
    ) -> None:
        temporality = dict(_CUMULATIVE)
        if preferred_temporality:
            temporality.update(preferred_temporality)
        super().__init__(
            preferred_temporality=temporality, preferred_aggregation=preferred_aggregation
        )
        self._out = _StoreOutput(METRICS_STEM, directory, max_file_bytes, max_files)

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        if not metrics_data.resource_metrics and not self._out.is_shut_down:
            return MetricExportResult.SUCCESS
        ok = self._out.write("metrics", encode_metrics, metrics_data)
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._out.shutdown()
