"""Histogram points queued on the hot path reach the SDK at collection, with their exemplars."""

from __future__ import annotations

import threading

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider

from agent_otel import deferred
from agent_otel.deferred import HOOK_NAME, deferred_points


def _points(reader: InMemoryMetricReader, name: str) -> list[HistogramDataPoint]:
    data = reader.get_metrics_data()
    found: list[HistogramDataPoint] = []
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)  # type: ignore[arg-type]
    return found


def _names(reader: InMemoryMetricReader) -> set[str]:
    data = reader.get_metrics_data()
    return {
        metric.name
        for resource in (data.resource_metrics if data else ())
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }


def test_points_are_recorded_when_a_reader_collects_with_exemplars_of_their_span() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    histogram = meter.create_histogram("work.duration", unit="s")
    points = deferred_points(meter)
    span = TracerProvider().get_tracer("t").start_span("work")
    points.record(histogram.record, 0.25, {"k": "a"}, span.get_span_context())
    points.record(histogram.record, 0.75, {"k": "a"}, span.get_span_context())
    points.record(histogram.record, 2.0, {"k": "b"})
    span.end()

    by_key = {p.attributes["k"]: p for p in _points(reader, "work.duration")}
    assert by_key["a"].count == 2 and by_key["a"].sum == 1.0
    assert by_key["b"].count == 1 and by_key["b"].sum == 2.0
    exemplar_spans = {e.span_id for e in by_key["a"].exemplars}
    assert exemplar_spans == {span.get_span_context().span_id}
    # Drained: a second collection adds nothing (cumulative sums stay as they were).
    again = {p.attributes["k"]: p for p in _points(reader, "work.duration")}
    assert again["a"].count == 2


def test_the_hook_gauge_is_never_exported() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    histogram = meter.create_histogram("work.duration")
    deferred_points(meter).record(histogram.record, 1.0, {})
    names = _names(reader)
    assert "work.duration" in names
    assert HOOK_NAME not in names


def test_one_queue_per_meter_so_that_its_hook_runs() -> None:
    # The SDK keeps the first callback of an instrument name per meter; a second queue on the
    # same meter would never be drained.
    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    meter = provider.get_meter("t")
    assert deferred_points(meter) is deferred_points(provider.get_meter("t"))
    assert deferred_points(meter) is not deferred_points(provider.get_meter("other"))


def test_a_queue_no_reader_drains_is_recorded_in_place_at_its_bound(monkeypatch) -> None:
    """Beyond the bound each new point is recorded at once (no span waits for a whole
    queue to be recorded), and a collection still gets every point."""
    monkeypatch.setattr(deferred, "MAX_PENDING", 5)
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    histogram = meter.create_histogram("work.duration")
    points = deferred_points(meter)
    attributes: dict[str, str] = {}
    record = histogram.record
    for _ in range(8):
        points.record(record, 1.0, attributes)
    assert points.pending == 5
    (point,) = _points(reader, "work.duration")
    assert point.count == 8
    assert points.pending == 0


def test_points_beyond_the_series_bound_are_recorded_in_place(monkeypatch) -> None:
    """A caller that makes a new attribute dict for every point makes a series of each:
    beyond the bound they are recorded at once, and none is lost."""
    monkeypatch.setattr(deferred, "MAX_SERIES", 3)
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    histogram = meter.create_histogram("work.duration")
    points = deferred_points(meter)
    for _ in range(10):
        points.record(histogram.record, 0.5, {"k": "v"})
    assert points.pending == 3
    (point,) = _points(reader, "work.duration")
    assert point.count == 10 and point.sum == 5.0


def test_values_keep_their_type_and_odd_values_are_recorded_in_place() -> None:
    """A counter of integers exports integers; a float among them, or an integer too large
    for the queue's array, is recorded at once rather than lost or rounded."""
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    counter = meter.create_up_down_counter("work.active")
    points = deferred_points(meter)
    attributes, add = {"k": "v"}, counter.add  # one bound method: one series
    for value in (1, 1, -1, 2**70, 0.5):
        points.record(add, value, attributes)
    assert points.pending == 3
    (point,) = _points(reader, "work.active")
    assert point.value == 1 + 2**70 + 0.5


def test_the_latest_points_of_a_series_keep_their_spans_for_the_exemplars() -> None:
    """The SDK keeps the latest point of each histogram bucket as its exemplar: the queue
    keeps the span of the latest points of each series, so that exemplars point at them."""
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    histogram = meter.create_histogram(
        "work.duration", explicit_bucket_boundaries_advisory=[1.0, 2.0, 3.0]
    )
    points = deferred_points(meter)
    tracer = TracerProvider().get_tracer("t")
    attributes, record = {"k": "v"}, histogram.record
    spans = []
    for number in range(deferred.EXEMPLAR_SPANS + 6):
        span = tracer.start_span(f"work {number}")
        spans.append(span.get_span_context())
        # The older points in bucket (1, 2], the latest ones one in each other bucket.
        latest = number >= 6
        value = [0.5, 2.5, 3.5, 1.5][number - 6] if latest else 1.5
        points.record(record, value, attributes, span.get_span_context())
        span.end()
    (point,) = _points(reader, "work.duration")
    assert point.count == deferred.EXEMPLAR_SPANS + 6
    exemplar_spans = {e.span_id for e in point.exemplars}
    assert exemplar_spans == {s.span_id for s in spans[6:]}


def test_points_recorded_from_threads_while_a_reader_collects_are_each_counted_once() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    histogram = meter.create_histogram("work.duration")
    points = deferred_points(meter)
    record, attributes = histogram.record, {"k": "v"}
    per_thread, threads = 5_000, 4
    done = threading.Event()

    def work() -> None:
        for _ in range(per_thread):
            points.record(record, 0.5, attributes)

    def collect() -> None:
        while not done.is_set():
            reader.get_metrics_data()

    collector = threading.Thread(target=collect)
    collector.start()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    collector.join()
    (point,) = _points(reader, "work.duration")
    assert point.count == per_thread * threads
    assert point.sum == 0.5 * per_thread * threads
