"""Choosing exporters from the standard ``OTEL_*`` environment variables.

Users of OpenTelemetry already know ``OTEL_TRACES_EXPORTER``, ``OTEL_METRICS_EXPORTER`` and
``OTEL_EXPORTER_OTLP_*``; agent-otel honours them exactly as the Python SDK's own
auto-configuration does (exporters are found through the same entry points, ``otlp`` follows
``OTEL_EXPORTER_OTLP_PROTOCOL``). The one difference is the default: with nothing configured,
telemetry goes to the local store instead of an OTLP endpoint that is probably not there.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace.export import SpanExporter

_logger = logging.getLogger("agent_otel.exporters")

TRACES_GROUP = "opentelemetry_traces_exporter"
METRICS_GROUP = "opentelemetry_metrics_exporter"
STORE_EXPORTER = "agent_otel_store"  # the local store's entry point name, in both groups


def _names(variable: str) -> list[str] | None:
    """The exporter names in ``variable``, the local store's first: exporters are flushed in
    this order at shutdown, within one time budget, and the local store is quick and must
    not lose its last data to an endpoint that hangs."""
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return None
    names = [name.strip() for name in raw.split(",") if name.strip()]
    return sorted(names, key=lambda name: name != STORE_EXPORTER)


def _endpoint_configured(signal: str) -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
    )


def _resolve_name(name: str, signal: str) -> str:
    """``otlp`` means gRPC unless the protocol variables ask for HTTP, as in the SDK."""
    if name != "otlp":
        return name
    protocol = (
        os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "grpc"
    ).strip()
    return "otlp_proto_http" if protocol.startswith("http") else "otlp_proto_grpc"


def _load(group: str, name: str) -> Any | None:
    from opentelemetry.util._importlib_metadata import entry_points

    for entry_point in entry_points(group=group, name=name):
        try:
            return entry_point.load()
        except Exception:
            _logger.warning(
                "agent-otel: exporter %r (%s) could not be loaded", name, group, exc_info=True
            )
            return None
    _logger.warning(
        "agent-otel: no exporter named %r is installed (entry point group %s); it is skipped",
        name,
        group,
    )
    return None


def span_exporters_from_env() -> list[SpanExporter] | None:
    """The span exporters the environment asks for; None when it asks for nothing."""
    names = _names("OTEL_TRACES_EXPORTER")
    if names is None:
        if not _endpoint_configured("TRACES"):
            return None
        names = ["otlp"]
    exporters: list[SpanExporter] = []
    for name in names:
        if name == "none":
            continue
        cls = _load(TRACES_GROUP, _resolve_name(name, "TRACES"))
        if cls is not None:
            exporters.append(cls())
    return _or_store(exporters, names, "OTEL_TRACES_EXPORTER")


def metric_readers_from_env() -> list[MetricReader] | None:
    """The metric readers the environment asks for; None when it asks for nothing."""
    from opentelemetry.sdk.metrics.export import (
        MetricExporter,
        MetricReader,
        PeriodicExportingMetricReader,
    )

    names = _names("OTEL_METRICS_EXPORTER")
    if names is None:
        if not _endpoint_configured("METRICS"):
            return None
        names = ["otlp"]
    readers: list[MetricReader] = []
    for name in names:
        if name == "none":
            continue
        cls = _load(METRICS_GROUP, _resolve_name(name, "METRICS"))
        if cls is None:
            continue
        instance = cls()
        if isinstance(instance, MetricReader):  # e.g. the Prometheus reader
            readers.append(instance)
        elif isinstance(instance, MetricExporter):
            readers.append(PeriodicExportingMetricReader(instance))
    return _or_store(readers, names, "OTEL_METRICS_EXPORTER")


def _or_store(found: list[Any], names: list[str], variable: str) -> list[Any] | None:
    """None (the local store) when every exporter asked for failed: losing all telemetry
    to a typo is worse than writing it where the CLI can still show it."""
    if found or all(name == "none" for name in names):
        return found
    _logger.warning(
        "agent-otel: none of %s=%s could be used; writing to the local store instead",
        variable,
        ",".join(names),
    )
    return None
