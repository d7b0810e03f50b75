"""``agent_otel.configure()``: tracer and meter providers, the agent processor, exporters.

One call wires everything; calling it again returns the same handle. When the app (or
``opentelemetry-instrument``) already set up an SDK tracer provider, agent-otel joins it —
adding its processor and nothing else — instead of creating a second pipeline.

It also sees to the end of the process, where telemetry is most easily lost or most easily
in the way: sessions and operations still open are ended (at exit, and on SIGTERM, which
would otherwise kill the process with everything unexported), and the final flush is bounded
by ``AGENT_OTEL_SHUTDOWN_TIMEOUT`` so that an unreachable endpoint delays the exit by at most
that (the SDK alone waits up to 30 s).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from agent_otel import errors
from agent_otel.content import ContentPolicy
from agent_otel.exporters import metric_readers_from_env, span_exporters_from_env
from agent_otel.metrics import env_int
from agent_otel.processor import AgentSpanProcessor
from agent_otel.scope import end_open_scopes
from agent_otel.version import __version__

if TYPE_CHECKING:  # the metrics SDK is imported when configure() needs it, not at import
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader

    from agent_otel.redaction import Patterns

_logger = logging.getLogger("agent_otel")

INSTRUMENTATION_NAME = "agent_otel"

SHUTDOWN_TIMEOUT_ENV = "AGENT_OTEL_SHUTDOWN_TIMEOUT"
DEFAULT_SHUTDOWN_TIMEOUT_MILLIS = 5_000
# What the metric readers get at shutdown even when the span exporters used the time up.
_METRICS_SHUTDOWN_FLOOR_MILLIS = 250


@dataclass
class Telemetry:
    """What :func:`configure` set up. Keep it to flush or shut down at the end."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider | None
    processor: AgentSpanProcessor
    content: ContentPolicy
    store_dir: Path | None = None
    owns_providers: bool = True
    batch_processors: list[BatchSpanProcessor] = field(default_factory=list)
    tracer: trace.Tracer = field(init=False)

    def __post_init__(self) -> None:
        self.tracer = self.tracer_provider.get_tracer(INSTRUMENTATION_NAME, __version__)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Hand everything finished so far to the exporters and wait until they return.

        False when a processor ran out of time. True does not mean delivered: the SDK's
        batch processor returns True even when its exporter failed (the exporter logs the
        failure), and it waits for its exporter whatever ``timeout_millis`` says.
        """
        ok = self.tracer_provider.force_flush(timeout_millis)
        if self.meter_provider is not None:
            ok = self.meter_provider.force_flush(timeout_millis) and ok
        return ok

    def shutdown(self, timeout_millis: int | None = None) -> None:
        """Flush and stop what configure() created, and forget this configuration so that
        the next configure() starts anew. Providers that agent-otel joined are flushed but
        left running: they belong to the app.

        The flush of what configure() created takes at most ``timeout_millis`` (default
        ``AGENT_OTEL_SHUTDOWN_TIMEOUT``, 5 s); what is not exported by then is dropped, so
        that an endpoint that is down or hangs cannot hold the app's exit up.
        """
        global _telemetry
        with _lock:
            if _telemetry is self:
                _telemetry = None
        if timeout_millis is None:
            timeout_millis = shutdown_timeout_millis()
        try:
            if self.owns_providers:
                self._shutdown_providers(time.monotonic() + timeout_millis / 1000)
            else:
                self.force_flush(timeout_millis)
        except Exception:
            errors.internal_error("shutting down telemetry")
        self.processor.shutdown()

    def _shutdown_providers(self, deadline: float) -> None:
        """Span exporters in order (configure() puts the local store first: it is quick and
        must not lose its last spans to an endpoint that hangs), then the metric readers,
        which get a short while even when the spans used the time up, so that the local
        store's reader (first, too) writes its final point."""
        for batch in self.batch_processors:
            _shutdown_batch_processor(batch, _millis_until(deadline))
        self.tracer_provider.shutdown()
        _retired.add(id(self.tracer_provider))
        if self.meter_provider is None:
            return
        left = max(_millis_until(deadline), _METRICS_SHUTDOWN_FLOOR_MILLIS)
        try:
            self.meter_provider.shutdown(timeout_millis=left)
        except Exception as error:  # a reader failed or ran out of time: the SDK says which
            _logger.warning("agent-otel: metrics not fully exported at shutdown: %s", error)


def shutdown_timeout_millis() -> int:
    """How long the final flush may take: ``AGENT_OTEL_SHUTDOWN_TIMEOUT`` (milliseconds)."""
    return env_int(SHUTDOWN_TIMEOUT_ENV, DEFAULT_SHUTDOWN_TIMEOUT_MILLIS)


def _millis_until(deadline: float) -> int:
    return max(int((deadline - time.monotonic()) * 1000), 0)


def _shutdown_batch_processor(processor: BatchSpanProcessor, timeout_millis: int) -> None:
    """Shut a batch processor down within ``timeout_millis``. ``BatchSpanProcessor.shutdown()``
    takes no timeout and waits up to 30 s for an exporter that gets no answer; the batch
    processor inside it takes one. (Should a later SDK not have it, the tracer provider's
    shutdown that follows still shuts the processor down, only without the bound.)"""
    inner = getattr(processor, "_batch_processor", None)
    if inner is not None:
        inner.shutdown(timeout_millis=timeout_millis)


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
    redact_patterns: Patterns | None = None,
    redact_allow: Patterns | None = None,
    set_global: bool = True,
) -> Telemetry:
    """Set up agent-otel once for this process and return its :class:`Telemetry`.

    Exporters come from ``span_exporters``/``metric_readers`` if given, else from the
    standard ``OTEL_*`` variables; with neither, from the local store (``store_dir``, or
    ``AGENT_OTEL_HOME``, or the platform's data directory). ``OTEL_SERVICE_NAME`` wins over
    ``service_name``, which is the app's default. Pass a ``tracer_provider`` to add
    agent-otel to a pipeline of your own. ``capture_content`` overrides
    ``AGENT_OTEL_CAPTURE_CONTENT``; ``strict`` overrides ``AGENT_OTEL_STRICT``.
    ``redact_patterns`` (regular expressions of more secrets to redact) and ``redact_allow``
    (of values never redacted) add to ``AGENT_OTEL_REDACT_PATTERNS`` /
    ``AGENT_OTEL_REDACT_ALLOW``, for everything recorded, LLM calls included; an invalid
    expression is skipped with a warning (an error in strict mode).
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
        content = ContentPolicy.from_env(
            capture_content,
            content_max_bytes,
            redact_patterns=redact_patterns,
            redact_allow=redact_allow,
        )
        processor = AgentSpanProcessor()
        store = Path(store_dir) if store_dir is not None else None

        owns = tracer_provider is None
        if tracer_provider is None and set_global:
            existing = trace.get_tracer_provider()
            if isinstance(existing, TracerProvider) and id(existing) not in _retired:
                tracer_provider, owns = existing, False
                if meter_provider is None:
                    meter_provider = _global_sdk_meter_provider()
        batch_processors: list[BatchSpanProcessor] = []
        if tracer_provider is None:
            resource = _resource(service_name)
            # Shut down by our exit hook, after the open sessions ended and within a budget.
            tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
            exporters = span_exporters if span_exporters is not None else span_exporters_from_env()
            if exporters is None:
                store = store or _default_store()
                exporters = [_store_span_exporter(store)]
            for exporter in exporters:
                batch = BatchSpanProcessor(exporter)
                tracer_provider.add_span_processor(batch)
                batch_processors.append(batch)
            if meter_provider is None:
                from opentelemetry.sdk.metrics import MeterProvider
                from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

                readers = (
                    metric_readers if metric_readers is not None else metric_readers_from_env()
                )
                if readers is None:
                    store = store or _default_store()
                    readers = [PeriodicExportingMetricReader(_store_metric_exporter(store))]
                meter_provider = MeterProvider(
                    resource=resource, metric_readers=readers, shutdown_on_exit=False
                )
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
            batch_processors=batch_processors,
        )
        _install_process_end_hooks()
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


# -- the end of the process --------------------------------------------------------------------

_exit_hook_installed = False
_signal_hook_installed = False


def _install_process_end_hooks() -> None:
    """Once per process: end what is open and flush at exit and on SIGTERM.

    The exit hook is registered after the providers were created, and atexit runs hooks
    last-in first-out, so it runs before the exit hooks of providers that the app created
    (joined ones), while they still export. It is inherited by forked children, which run
    it at their own exit; ``multiprocessing`` children get it from a finalizer instead (see
    :func:`_after_fork_in_child`). SIGTERM is taken over only when nobody handles it
    (``SIG_DFL``) and only from the main thread (where Python allows it); after the flush
    the process dies of the signal as it would have without agent-otel.
    """
    global _exit_hook_installed, _signal_hook_installed
    if not _exit_hook_installed:
        _exit_hook_installed = True
        atexit.register(_at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=_after_fork_in_child)
    if not _signal_hook_installed and threading.current_thread() is threading.main_thread():
        _signal_hook_installed = True
        try:
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):  # not the main interpreter, or no such signal here
            errors.internal_error("installing the SIGTERM handler")


def _end_process(cause: errors.ProcessEnded) -> None:
    """End every open session and operation with ``cause``, then flush (and shut down what
    configure() created, within the shutdown budget)."""
    try:
        end_open_scopes(cause)
        current = _telemetry
        if current is None:
            return
        if current.owns_providers:
            current.shutdown()
        else:
            current.force_flush(shutdown_timeout_millis())
    except Exception:
        errors.internal_error("ending telemetry at the end of the process")


def _at_exit() -> None:
    """The exit hook; also run by multiprocessing children, as a finalizer."""
    cause = errors.ProcessEnded("the process exited while it was open")
    current = _telemetry
    if current is not None and not current.owns_providers:
        # The app's providers flush in their own exit hooks, which run after this one.
        end_open_scopes(cause)
    else:
        _end_process(cause)


def _after_fork_in_child() -> None:
    """``multiprocessing`` ends the children it forks with ``os._exit()``, which skips exit
    hooks, after running its own finalizers: have the child's exit hook run as one. (It
    clears the finalizers when the child starts, then runs its after-fork callbacks: hence
    a callback that registers the finalizer. A child of a plain ``os.fork()`` never runs
    the callback.) Only if the app uses multiprocessing: it is never imported here."""
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.register_after_fork(_at_exit, _finalize_with)


def _finalize_with(hook: Callable[[], None]) -> None:
    util = sys.modules["multiprocessing.util"]
    util.Finalize(None, hook, exitpriority=0)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """End and flush in a helper thread, waiting at most the shutdown budget (plus a
    second): this handler interrupts the main thread wherever it was, possibly holding a
    lock that ending a span needs, and waiting for it would hang the process instead of
    letting it die."""
    cause = errors.ProcessEnded("the process received SIGTERM")
    try:
        worker = threading.Thread(
            target=_end_process, args=(cause,), name="agent-otel-sigterm", daemon=True
        )
        worker.start()
        worker.join(shutdown_timeout_millis() / 1000 + 1)
    except RuntimeError:  # no new threads: the interpreter is shutting down
        _end_process(cause)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
