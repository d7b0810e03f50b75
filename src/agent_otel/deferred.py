"""Metric points queued on the hot path and handed to the SDK when a metric reader collects.

A synchronous SDK measurement (a histogram record, an up-down counter add) validates and
hashes the point's attributes, offers it to the exemplar reservoir and takes a lock: on the
order of half a span or more. An LLM call records three such points and every
operation one, which would be a large share of what telemetry adds to the app. So they are
queued here and recorded when a reader collects: the SDK runs the callbacks of observable
instruments before it reads its other instruments, so a callback that records the queued
points lands them in the very collection that follows. The callback belongs to an
observable gauge that never observes anything, and a metric without points is not
exported, so the hook is invisible to backends.

The queue is kept small, as readers collect every minute by default and a busy app makes
thousands of points in that time: points are grouped in series (one instrument, one
attribute dict — callers reuse their attribute dicts) and a series keeps its values in an
array of doubles, 8 bytes a point, and the span contexts of only its latest
:data:`EXEMPLAR_SPANS` points: those points are recorded with their span, so that the
exemplars the SDK keeps (the latest in each histogram bucket) point at the latest spans of
the series; the others are recorded without one.

Nothing is lost or delayed for a reader: a point queued before a collection is in it. When
the queue holds :data:`MAX_PENDING` points (a meter provider without readers, or an app
faster than its reader's interval), each further point is recorded in place, as is any
point beyond :data:`MAX_SERIES` series (a caller that makes a new attribute dict for every
point): memory stays bounded (about 1 MB), and no span ever waits for the whole queue.

One queue serves one meter (the SDK keeps the first callback of an instrument name per
meter and ignores later ones, so a second hook on the same meter would never run).
"""

from __future__ import annotations

import threading
import weakref
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.trace import NonRecordingSpan, SpanContext, set_span_in_context

from agent_otel.errors import internal_error

#: Points queued at most; beyond, each point is recorded in place.
MAX_PENDING = 100_000

#: Series (instrument and attribute dict) queued at once; a point of another series is
#: recorded in place.
MAX_SERIES = 4096

#: The latest points of a series that keep their span, for the exemplars.
EXEMPLAR_SPANS = 4

#: Attribute dicts a caller keeps for reuse (see :func:`kept`); beyond, each point gets a
#: dict of its own, and so a series of its own, up to :data:`MAX_SERIES`.
MAX_ATTRIBUTE_SETS = 1024

#: The name of the hook gauge. It never reports a point, so no backend sees it.
HOOK_NAME = "agent_otel.internal.deferred_points"

K = TypeVar("K")
V = TypeVar("V")

#: What records a point: a histogram's ``record`` or a counter's ``add``.
Measure = Callable[..., None]


class _Series:
    """The queued points of one instrument with one attribute dict."""

    __slots__ = ("attributes", "measure", "spans", "values")

    def __init__(self, measure: Measure, attributes: Mapping[str, Any], first: float) -> None:
        self.measure = measure  # (held, with the dict: their ids key the series)
        self.attributes = attributes
        # Integers stay integers (a counter of ints exports ints): the first value decides.
        self.values: array[Any] = array("q" if type(first) is int else "d")
        self.spans: deque[SpanContext | None] = deque(maxlen=EXEMPLAR_SPANS)


class DeferredPoints:
    """The queue of metric points of one meter; see the module docstring."""

    def __init__(self, meter: Meter) -> None:
        self._series: dict[tuple[int, int], _Series] = {}
        self._pending = 0
        self._lock = threading.Lock()
        meter.create_observable_gauge(
            HOOK_NAME,
            [self._collect],
            description="Not a metric: records queued points before a collection.",
        )

    @property
    def pending(self) -> int:
        """Points queued now."""
        return self._pending

    def record(
        self,
        measure: Measure,
        value: float,
        attributes: Mapping[str, Any],
        span: SpanContext | None = None,
    ) -> None:
        """Queue one point; ``span`` (the context of the span it comes from) decides its
        exemplar. ``measure`` and ``attributes`` are grouped by identity: pass the same
        bound method and the same dict for points of the same series."""
        key = (id(measure), id(attributes))
        queued = False
        with self._lock:
            if self._pending < MAX_PENDING:
                series = self._series.get(key)
                if series is None and len(self._series) < MAX_SERIES:
                    series = self._series[key] = _Series(measure, attributes, value)
                if series is not None:
                    try:
                        series.values.append(value)
                    except (TypeError, OverflowError):  # a float among ints, a huge int
                        pass
                    else:
                        series.spans.append(span)
                        self._pending += 1
                        queued = True
        if not queued:
            _record(measure, value, attributes, span)

    def flush(self) -> None:
        """Record every queued point now. Safe from any thread: each point is taken once."""
        with self._lock:
            taken, self._series, self._pending = self._series, {}, 0
        for series in taken.values():
            values, spans = series.values, series.spans
            measure, attributes = series.measure, series.attributes
            plain = len(values) - len(spans)  # the points that kept no span
            for value in values[:plain]:
                _record(measure, value, attributes, None)
            for value, span in zip(values[plain:], spans, strict=True):
                _record(measure, value, attributes, span)

    def _collect(self, options: CallbackOptions) -> Iterable[Observation]:
        self.flush()
        return ()


def _record(
    measure: Measure, value: float, attributes: Mapping[str, Any], span: SpanContext | None
) -> None:
    try:
        context = None if span is None else set_span_in_context(NonRecordingSpan(span))
        measure(value, attributes, context=context)
    except Exception:  # one bad point must not cost the others
        internal_error("recording the agent metrics")


def kept(cache: dict[K, V], key: K, value: V) -> V:
    """``value``, remembered in ``cache`` under ``key`` while the cache holds fewer than
    :data:`MAX_ATTRIBUTE_SETS`: callers reuse one attribute dict per distinct set, since the
    queue groups points by the identity of their dict."""
    if len(cache) < MAX_ATTRIBUTE_SETS:
        cache[key] = value
    return value


_by_meter: weakref.WeakKeyDictionary[Meter, DeferredPoints] = weakref.WeakKeyDictionary()
_by_meter_lock = threading.Lock()


def deferred_points(meter: Meter) -> DeferredPoints:
    """The queue of ``meter``, created with its hook on first use."""
    with _by_meter_lock:
        points = _by_meter.get(meter)
        if points is None:
            points = _by_meter[meter] = DeferredPoints(meter)
        return points
