"""Metric points queued on the hot path and handed to the SDK when a metric reader collects.

A synchronous SDK measurement (a histogram record, an up-down counter add) validates and
hashes the point's attributes, offers it to the exemplar reservoir and takes a lock: on the
order of half a span or more. An LLM call records three such points and every
operation one, which would be a large share of what telemetry adds to the app. So they are
appended to a queue here (one tuple) and recorded when a reader collects: the SDK runs the
callbacks of observable instruments before it reads its other instruments, so a callback that
records the queued points lands them in the very collection that follows. The callback
belongs to an observable gauge that never observes anything, and a metric without points
is not exported, so the hook is invisible to backends.

Nothing is lost or delayed for a reader: a point queued before a collection is in it. The
exemplar of each point still links to its span, because the span's context is kept with the
point. A queue that no reader drains (a meter provider without readers, or the API's no-op
one) is recorded in place once it holds :data:`MAX_PENDING` points, which bounds memory.

One queue serves one meter (the SDK keeps the first callback of an instrument name per
meter and ignores later ones, so a second hook on the same meter would never run).
"""

from __future__ import annotations

import threading
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.trace import NonRecordingSpan, SpanContext, set_span_in_context

from agent_otel.errors import internal_error

#: Points queued before they are recorded in place (no reader collecting).
MAX_PENDING = 10_000

#: The name of the hook gauge. It never reports a point, so no backend sees it.
HOOK_NAME = "agent_otel.internal.deferred_points"

#: What records a point: a histogram's ``record`` or a counter's ``add``.
Measure = Callable[..., None]
_Point = tuple[Measure, float, Mapping[str, Any], SpanContext | None]


class DeferredPoints:
    """The queue of metric points of one meter; see the module docstring."""

    def __init__(self, meter: Meter) -> None:
        self._pending: deque[_Point] = deque()
        meter.create_observable_gauge(
            HOOK_NAME,
            [self._collect],
            description="Not a metric: records queued points before a collection.",
        )

    def record(
        self,
        measure: Measure,
        value: float,
        attributes: Mapping[str, Any],
        span: SpanContext | None = None,
    ) -> None:
        """Queue one point; ``span`` (the context of the span it comes from) decides its
        exemplar."""
        pending = self._pending
        pending.append((measure, value, attributes, span))
        if len(pending) > MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        """Record every queued point now. Safe from any thread: each point is popped once."""
        pending = self._pending
        while True:
            try:
                measure, value, attributes, span = pending.popleft()
            except IndexError:
                return
            try:
                context = None if span is None else set_span_in_context(NonRecordingSpan(span))
                measure(value, attributes, context=context)
            except Exception:  # one bad point must not cost the others
                internal_error("recording the agent metrics")

    def _collect(self, options: CallbackOptions) -> Iterable[Observation]:
        self.flush()
        return ()


_by_meter: weakref.WeakKeyDictionary[Meter, DeferredPoints] = weakref.WeakKeyDictionary()
_by_meter_lock = threading.Lock()


def deferred_points(meter: Meter) -> DeferredPoints:
    """The queue of ``meter``, created with its hook on first use."""
    with _by_meter_lock:
        points = _by_meter.get(meter)
        if points is None:
            points = _by_meter[meter] = DeferredPoints(meter)
        return points
