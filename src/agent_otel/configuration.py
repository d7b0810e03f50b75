"""``agent_otel.configure()``: tracer and meter providers, the agent processor, exporters.

One call wires everything; calling it again returns the same handle. When the app (or
``opentelemetry-instrument``) already set up an SDK tracer provider, agent-otel joins it —
adding its processor and nothing else — instead of creating a second pipeline.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from agent_otel import errors
from agent_otel.content import ContentPolicy
from agent_otel.exporters import metric_readers_from_env, span_exporters_from_env
from agent_otel.processor import AgentSpanProcessor
from agent_otel.version import __version__

if TYPE_CHECKING:  # the metrics SDK is imported when configure() needs it, not at import
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader

_logger = logging.getLogger("agent_otel")

INSTRUMENTATION_NAME = "agent_otel"


@dataclass
class Telemetry:
    """What :func:`configure` set up. Keep it to flush or shut down at the end."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider | None
    processor: AgentSpanProcessor
    content: ContentPolicy
    store_dir: Path | None = None
    owns_providers: bool = True
    tracer: trace.Tracer = field(init=False)

    def __post_init__(self) -> None:
        self.tracer = self.tracer_provider.get_tracer(INSTRUMENTATION_NAME, __version__)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export everything finished so far; True when every exporter confirmed."""
        ok = self.tracer_provider.force_flush(timeout_millis)
        if self.meter_provider is not None:
            ok = self.meter_provider.force_flush(timeout_millis) and ok
        return ok

    def shutdown(self) -> None:
        """Flush and stop what configure() created, and forget this configuration so that
        the next configure() starts anew. Providers that agent-otel joined are flushed but
        left running: they belong to the app."""
        global _telemetry
        with _lock:
            if _telemetry is self:
                _telemetry = None
        try:
            if self.owns_providers:
                self.tracer_provider.shutdown()
                if self.meter_provider is not None:
                    self.meter_provider.shutdown()
                _retired.add(id(self.tracer_provider))
            else:
                self.force_flush()
        except Exception:
            errors.internal_error("shutting down telemetry")
        self.processor.shutdown()


_lock = threading.RLock()
_telemetry: Telemetry | None = None
# Providers we shut down but that remain OpenTelemetry's global (it cannot be replaced).
_retired: set[int] = set()


def configure(
    service_name: str | None = None,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    span_exporters: list[SpanExporter] | None = None,
    metric_readers: list[MetricReader] | None = None,
    store_dir: str | os.PathLike[str] | None = None,
    capture_content: bool | None = None,
    content_max_bytes: int | None = None,
    strict: bool | None = None,
    set_global: bool = True,
) -> Telemetry:
    """Set up agent-otel once for this process and return its :class:`Telemetry`.

    Exporters come from ``span_exporters``/``metric_readers`` if given, else from the
    standard ``OTEL_*`` variables; with neither, from the local store (``store_dir``, or
    ``AGENT_OTEL_HOME``, or the platform's data directory). ``OTEL_SERVICE_NAME`` wins over
    ``service_name``, which is the app's default. Pass a ``tracer_provider`` to add
    agent-otel to a pipeline of your own. ``capture_content`` overrides
    ``AGENT_OTEL_CAPTURE_CONTENT``; ``strict`` overrides ``AGENT_OTEL_STRICT``.
    ``set_global`` makes the providers OpenTelemetry's global ones, so that other
    libraries' spans join the sessions.
    """
    global _telemetry
    with _lock:
        if _telemetry is not None:
            _logger.debug("agent-otel is already configured; returning the existing setup")
            return _telemetry
        if strict is not None:
            errors.set_strict(strict)
        content = ContentPolicy.from_env(capture_content, content_max_bytes)
        processor = AgentSpanProcessor()
        store = Path(store_dir) if store_dir is not None else None

        owns = tracer_provider is None
        if tracer_provider is None and set_global:
            existing = trace.get_tracer_provider()
            if isinstance(existing, TracerProvider) and id(existing) not in _retired:
                tracer_provider, owns = existing, False
                if meter_provider is None:
                    meter_provider = _global_sdk_meter_provider()
        if tracer_provider is None:
            resource = _resource(service_name)
            tracer_provider = TracerProvider(resource=resource)
            exporters = span_exporters if span_exporters is not None else span_exporters_from_env()
            if exporters is None:
                store = store or _default_store()
                exporters = [_store_span_exporter(store)]
            for exporter in exporters:
                tracer_provider.add_span_processor(BatchSpanProcessor(exporter))
            if meter_provider is None:
                from opentelemetry.sdk.metrics import MeterProvider
                from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

                readers = (
                    metric_readers if metric_readers is not None else metric_readers_from_env()
                )
                if readers is None:
                    store = store or _default_store()
                    readers = [PeriodicExportingMetricReader(_store_metric_exporter(store))]
                meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        # The agent metrics go to the meter provider set up here (or given, or the app's
        # global one when joining its pipeline); without one there are none.
        processor.set_meter_provider(meter_provider)
        tracer_provider.add_span_processor(processor)

        if set_global and owns:
            _set_global(tracer_provider, meter_provider)
        _telemetry = Telemetry(
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            processor=processor,
            content=content,
            store_dir=store,
            owns_providers=owns,
        )
        return _telemetry


def get_telemetry() -> Telemetry:
    """The current configuration, configuring from the environment on first use so that a
    session works even when the app never called configure()."""
    current = _telemetry
    return current if current is not None else configure()


def _resource(service_name: str | None) -> Resource:
    attributes = {}
    if service_name and not os.environ.get("OTEL_SERVICE_NAME"):
        attributes[SERVICE_NAME] = service_name
    return Resource.create(attributes)


def _default_store() -> Path:
    from agent_otel.store import default_store_dir

    return Path(default_store_dir())


def _store_span_exporter(directory: Path) -> SpanExporter:
    from agent_otel.store import StoreSpanExporter

    return StoreSpanExporter(directory)


def _store_metric_exporter(directory: Path) -> MetricExporter:
    from agent_otel.store import StoreMetricExporter

    return StoreMetricExporter(directory)


def _global_sdk_meter_provider() -> MeterProvider | None:
    """The app's global meter provider when it is an SDK one (set up by the app or by
    ``opentelemetry-instrument``), for the agent metrics of a joined pipeline."""
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider

    current = metrics.get_meter_provider()
    return current if isinstance(current, MeterProvider) else None


def _set_global(tracer_provider: TracerProvider, meter_provider: MeterProvider | None) -> None:
    """Become OpenTelemetry's global providers where nobody else is yet."""
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider

    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        _logger.warning(
            "agent-otel: a global tracer provider is already set and cannot be replaced; "
            "spans of other libraries will not join agent sessions"
        )
    else:
        trace.set_tracer_provider(tracer_provider)
    if meter_provider is not None and not isinstance(metrics.get_meter_provider(), MeterProvider):
        metrics.set_meter_provider(meter_provider)
