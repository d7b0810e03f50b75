"""The local store: OTLP JSON lines written by our exporters, read back by our reader.

Everything runs through the real OpenTelemetry SDK. The encoder is checked against the
official OTLP JSON encoder and against the OTLP protobuf schema; concurrency is checked with
real separate processes.
"""

from __future__ import annotations

import base64
import errno
import itertools
import json
import logging
import math
import os
import stat
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from opentelemetry import trace
from opentelemetry.exporter.otlp.json.common.metrics_encoder import (
    encode_metrics as official_encode_metrics,
)
from opentelemetry.exporter.otlp.json.common.trace_encoder import (
    encode_spans as official_encode_spans,
)
from opentelemetry.exporter.otlp.proto.common.trace_encoder import (
    encode_spans as official_encode_spans_protobuf,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto_json.trace.v1.trace import TracesData as JsonTracesData
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    InMemoryMetricReader,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceFlags, TraceState
from opentelemetry.util._importlib_metadata import entry_points

from agent_otel.errors import AgentOtelWarning
from agent_otel.spandata import SpanData
from agent_otel.store import (
    StoreMetricExporter,
    StoreSpanExporter,
    default_store_dir,
    read_spans,
    store_files,
)
from agent_otel.store import paths as store_paths
from agent_otel.store.otlp_json import decode_traces, encode_metrics, encode_spans
from agent_otel.store.paths import is_rotated_name, rotated_name
from agent_otel.store.writer import JsonLinesFile

HELPER = Path(__file__).with_name("concurrent_writer.py")
STORE_LOGGER = "agent_otel.store"


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


class Pipeline:
    """A real SDK tracer whose spans go both to the store and to memory."""

    def __init__(self, store: StoreSpanExporter, resource: Resource | None = None) -> None:
        self.memory = InMemorySpanExporter()
        self.store = store
        self.provider = TracerProvider(
            resource=resource or Resource.create({"service.name": "store-tests"})
        )
        self.provider.add_span_processor(SimpleSpanProcessor(store))
        self.provider.add_span_processor(SimpleSpanProcessor(self.memory))
        self.tracer = self.provider.get_tracer("agent-otel.tests", "1.2.3")

    def expected(self) -> list[SpanData]:
        return [SpanData.from_readable(s) for s in self.memory.get_finished_spans()]


def make_spans(n: int, *, blob: str = "", prefix: str = "span") -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "batch"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("batch")
    for i in range(n):
        attributes: dict[str, Any] = {"i": i}
        if blob:
            attributes["blob"] = blob
        with tracer.start_as_current_span(f"{prefix}-{i}", attributes=attributes):
            pass
    return list(memory.get_finished_spans())


def store_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == STORE_LOGGER and r.levelno >= logging.WARNING]


def file_lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def ids_to_base64(message: Any) -> Any:
    """OTLP JSON spells ids as hex, protobuf's generic JSON mapping as base64 (the Collector
    special-cases these fields); convert so protobuf's strict parser can check the rest."""
    if isinstance(message, dict):
        out = {}
        for key, value in message.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                out[key] = b64(bytes.fromhex(value))
            else:
                out[key] = ids_to_base64(value)
        return out
    if isinstance(message, list):
        return [ids_to_base64(v) for v in message]
    return message


def rich_span_tree(pipeline: Pipeline) -> None:
    """Spans with every attribute type, events, links, error status, nesting and non-ASCII."""
    tracer = pipeline.tracer
    every_type: dict[str, Any] = {
        "str": "plain",
        "str.empty": "",
        "str.unicode": "naïve café — 日本語 — 🚀",
        "bool.true": True,
        "bool.false": False,
        "int": 42,
        "int.zero": 0,
        "int.negative": -7,
        "int.big": 2**63 - 1,
        "int.min": -(2**63),
        "float": 3.25,
        "float.negative": -0.5,
        "float.tiny": 1e-300,
        "str.array": ["a", "ß", ""],
        "bool.array": [True, False],
        "int.array": [1, -2, 2**62],
        "float.array": [1.5, -2.25],
        "empty.array": [],
    }
    with tracer.start_as_current_span(
        "session ünïcödé 🤖", kind=SpanKind.SERVER, attributes=every_type
    ) as root:
        root.add_event("paused", {"reason": "waiting for approval ✋", "attempt": 2})
        root.add_event("resumed")
        with tracer.start_as_current_span("operation read", kind=SpanKind.CLIENT) as op:
            op.set_attribute("file.path", "/tmp/données/файл.txt")
            op.add_event("change", {"lines": 3, "can_undo": True, "ratio": 0.5, "tags": ["x"]})
        link_attributes = {"undone.change.id": "c-1", "weight": 1.5}
        with tracer.start_as_current_span(
            "operation undo",
            links=[Link(op.get_span_context(), link_attributes), Link(root.get_span_context())],
        ) as undo:
            undo.set_status(Status(StatusCode.ERROR, "could not undo: fichier verrouillé"))
            with tracer.start_as_current_span("leaf", kind=SpanKind.PRODUCER):
                pass
        with tracer.start_as_current_span("ok", kind=SpanKind.CONSUMER) as ok:
            ok.set_status(Status(StatusCode.OK))


# --------------------------------------------------------------------------------------------
# round trip
# --------------------------------------------------------------------------------------------


def test_round_trip_through_real_tracer_provider(tmp_path: Path) -> None:
    pipeline = Pipeline(StoreSpanExporter(tmp_path))
    rich_span_tree(pipeline)

    expected = pipeline.expected()
    got = list(read_spans(tmp_path))

    assert len(expected) == 5
    assert got == expected
    # The things most likely to go wrong, spelled out so a failure says which.
    by_name = {s.name: s for s in got}
    root = by_name["session ünïcödé 🤖"]
    assert root.parent_span_id is None and root.kind == "SERVER"
    assert root.attributes["int.big"] == 2**63 - 1 and root.attributes["int.min"] == -(2**63)
    assert root.attributes["float.array"] == (1.5, -2.25)
    assert root.attributes["empty.array"] == ()
    assert root.resource["service.name"] == "store-tests"
    assert root.scope_name == "agent-otel.tests"
    undo = by_name["operation undo"]
    assert undo.status_code == "ERROR"
    assert undo.status_message == "could not undo: fichier verrouillé"
    assert undo.parent_span_id == root.span_id
    assert undo.links[0].span_id == by_name["operation read"].span_id
    assert by_name["leaf"].parent_span_id == undo.span_id
    assert by_name["ok"].status_code == "OK"
    # Readable UTF-8 on disk, not \u escapes.
    assert "日本語".encode() in (tmp_path / "traces.jsonl").read_bytes()


def test_round_trip_keeps_order_within_and_across_batches(tmp_path: Path) -> None:
    exporter = StoreSpanExporter(tmp_path)
    first, second = make_spans(7, prefix="a"), make_spans(5, prefix="b")
    assert exporter.export(first) is SpanExportResult.SUCCESS
    assert exporter.export(second) is SpanExportResult.SUCCESS
    assert exporter.export([]) is SpanExportResult.SUCCESS  # no empty line written

    got = list(read_spans(tmp_path))

    assert got == [SpanData.from_readable(s) for s in first + second]
    assert len(file_lines(tmp_path / "traces.jsonl")) == 2


def test_non_finite_doubles_round_trip_as_json_strings(tmp_path: Path) -> None:
    pipeline = Pipeline(StoreSpanExporter(tmp_path))
    with pipeline.tracer.start_as_current_span(
        "odd", attributes={"nan": math.nan, "inf": math.inf, "ninf": -math.inf}
    ):
        pass

    line = (tmp_path / "traces.jsonl").read_text("utf-8")
    json.loads(line, parse_constant=lambda c: pytest.fail(f"bare {c} is not JSON"))
    (span,) = read_spans(tmp_path)
    assert math.isnan(span.attributes["nan"])  # type: ignore[arg-type]
    assert span.attributes["inf"] == math.inf and span.attributes["ninf"] == -math.inf


def test_decoder_accepts_every_any_value_kind_and_spec_variants() -> None:
    """What other writers (a Collector, protobuf's JSON mapping) may legally produce."""
    trace_id = "5B8EFFF798038103D269B633813FC60C"  # upper case is valid hex
    message = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "host", "value": {"stringValue": "h"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "collector-scope"},
                        "spans": [
                            {
                                "traceId": trace_id,
                                "spanId": "eee19b7ec3c1b174",
                                "parentSpanId": "",
                                "name": "all kinds",
                                "kind": 3,
                                "startTimeUnixNano": 1544712660000000000,  # number, not str
                                "endTimeUnixNano": "1544712661000000000",
                                "attributes": [
                                    {"key": "s", "value": {"stringValue": "x"}},
                                    {"key": "i", "value": {"intValue": "-5"}},
                                    {"key": "i2", "value": {"intValue": 7}},
                                    {"key": "d", "value": {"doubleValue": 2}},
                                    {"key": "nan", "value": {"doubleValue": "NaN"}},
                                    {"key": "inf", "value": {"doubleValue": "-Infinity"}},
                                    {"key": "b", "value": {"boolValue": False}},
                                    {
                                        "key": "bytes",
                                        "value": {"bytesValue": b64(b"\x00\xff")},
                                    },
                                    {
                                        "key": "arr",
                                        "value": {
                                            "arrayValue": {
                                                "values": [
                                                    {"stringValue": "a"},
                                                    {"intValue": "1"},
                                                    {"arrayValue": {}},
                                                ]
                                            }
                                        },
                                    },
                                    {
                                        "key": "kv",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [
                                                    {"key": "k", "value": {"boolValue": True}},
                                                    {"key": "e", "value": {}},
                                                ]
                                            }
                                        },
                                    },
                                    {"key": "empty", "value": {}},
                                    {"key": "missing"},
                                ],
                                "events": [{"name": "e", "timeUnixNano": "5"}],
                                "links": [
                                    {
                                        # base64 ids, as protobuf's generic JSON mapping writes
                                        "traceId": b64(bytes.fromhex(trace_id)),
                                        "spanId": b64(bytes(range(8))),
                                    }
                                ],
                                "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
                            },
                            {
                                "traceId": trace_id.lower(),
                                "spanId": "0000000000000001",
                                "parentSpanId": "EEE19B7EC3C1B174",
                                "kind": "SPAN_KIND_CONSUMER",
                            },
                            {"traceId": trace_id, "spanId": "0000000000000002", "kind": 0},
                        ],
                    },
                    {"spans": [{"traceId": trace_id, "spanId": "0000000000000003", "kind": 2}]},
                ],
            },
            {"scopeSpans": [{"spans": [{"spanId": "0000000000000004", "status": {"code": 1}}]}]},
        ]
    }

    spans = decode_traces(message)

    first = spans[0]
    assert first.trace_id == trace_id.lower() and first.parent_span_id is None
    assert (first.kind, first.status_code, first.status_message) == ("CLIENT", "ERROR", "boom")
    assert (first.start_ns, first.end_ns) == (1544712660000000000, 1544712661000000000)
    attrs = first.attributes
    assert attrs["s"] == "x" and attrs["i"] == -5 and attrs["i2"] == 7
    assert attrs["d"] == 2.0 and isinstance(attrs["d"], float)
    assert math.isnan(attrs["nan"]) and attrs["inf"] == -math.inf  # type: ignore[arg-type]
    assert attrs["b"] is False
    assert attrs["bytes"] == b"\x00\xff"
    assert attrs["arr"] == ("a", 1, ())
    assert attrs["kv"] == {"k": True, "e": None}
    assert attrs["empty"] is None and attrs["missing"] is None
    assert first.events[0].name == "e" and first.events[0].time_ns == 5
    assert first.links[0].trace_id == trace_id.lower()
    assert first.links[0].span_id == "0001020304050607"
    assert first.resource == {"host": "h"} and first.scope_name == "collector-scope"
    assert spans[1].parent_span_id == "eee19b7ec3c1b174" and spans[1].kind == "CONSUMER"
    assert spans[1].end_ns is None and spans[1].name == ""
    assert spans[2].kind == "INTERNAL"  # UNSPECIFIED is read as INTERNAL
    assert spans[3].kind == "SERVER" and spans[3].scope_name == ""
    assert spans[4].status_code == "OK" and spans[4].resource == {} and spans[4].trace_id == ""


# --------------------------------------------------------------------------------------------
# identical to the official encoder, valid for the Collector
# --------------------------------------------------------------------------------------------


def varied_spans() -> list[ReadableSpan]:
    """Spans that exercise every branch of the encoder: two resources (one with a schema URL),
    two scopes (one with attributes and a schema URL), remote parents, trace state, limits
    that drop attributes/events/links, empty names, all kinds and statuses."""
    memory = InMemorySpanExporter()
    limits = SpanLimits(max_span_attributes=3, max_events=1, max_links=1, max_event_attributes=1)
    first = TracerProvider(
        resource=Resource({"service.name": "a", "n": 1}, schema_url="https://schema/1"),
        span_limits=limits,
    )
    second = TracerProvider(resource=Resource({"service.name": "b"}))
    for provider in (first, second):
        provider.add_span_processor(SimpleSpanProcessor(memory))
    scoped = first.get_tracer(
        "scoped", "9.9", schema_url="https://schema/scope", attributes={"scope.attr": "v"}
    )
    plain = second.get_tracer("plain")
    bare = first.get_tracer("")

    remote = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "value"), ("other", "x")]),
    )
    remote_ctx = trace.set_span_in_context(NonRecordingSpan(remote))
    with scoped.start_as_current_span(
        "",
        context=remote_ctx,
        kind=SpanKind.SERVER,
        attributes={"a": 1, "b": 2.5, "c": "three", "d": True, "e": [1]},
        links=[Link(remote, {"l": 1}), Link(remote)],
    ) as span:
        span.add_event("one", {"x": 1, "y": 2})
        span.add_event("two")
        span.set_status(Status(StatusCode.ERROR, "bad"))
        with plain.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            child.set_attribute("nan", math.nan)
            child.set_attribute("inf", [math.inf, -math.inf, 0.0])
            child.set_attribute("unicode", "ünï 🚀")
        with bare.start_as_current_span("producer", kind=SpanKind.PRODUCER) as producer:
            producer.set_status(Status(StatusCode.OK))
    with plain.start_as_current_span("consumer", kind=SpanKind.CONSUMER):
        pass
    return list(memory.get_finished_spans())


def test_span_encoding_equals_official_json_encoder() -> None:
    spans = varied_spans()

    ours = encode_spans(spans)
    official = official_encode_spans(spans).to_dict()

    assert ours == official
    # Same key order too, so the bytes on disk are what the official encoder would produce.
    assert json.dumps(ours) == json.dumps(official)
    assert len(ours["resourceSpans"]) == 2


def test_span_encoding_with_interleaved_resources_groups_like_official() -> None:
    spans = varied_spans()
    shuffled = spans[::-1] + spans[1::2]

    assert encode_spans(shuffled) == official_encode_spans(shuffled).to_dict()


def metrics_data() -> MetricsData:
    reader = InMemoryMetricReader()
    provider = MeterProvider(
        resource=Resource({"service.name": "m"}, schema_url="https://schema/m"),
        metric_readers=[reader],
        views=[View(instrument_name="exp.*", aggregation=ExponentialBucketHistogramAggregation())],
    )
    meter = provider.get_meter("meter.a", "1.0", schema_url="https://schema/meter")
    other = provider.get_meter("meter.b")
    tracer_provider = TracerProvider()
    tracer = tracer_provider.get_tracer("t")

    counter = meter.create_counter("tokens", unit="{token}", description="Tokens used")
    updown = meter.create_up_down_counter("active")
    histogram = meter.create_histogram("duration", unit="s")
    exp_histogram = meter.create_histogram("exp.latency")
    gauge = other.create_gauge("temperature")
    meter.create_observable_gauge(
        "observed", callbacks=[lambda _options: [_observation(1.5), _observation(-2)]]
    )

    counter.add(5, {"model": "gpt", "kind": "input"})
    counter.add(3, {"model": "gpt", "kind": "output"})
    updown.add(2)
    updown.add(-1)
    with tracer.start_as_current_span("sampled"):  # gives the histogram exemplars
        histogram.record(0.25, {"op": "read"})
        histogram.record(7, {"op": "read"})
        exp_histogram.record(3.0)
        exp_histogram.record(-0.5)
        exp_histogram.record(0)
    gauge.set(21.5)
    data = reader.get_metrics_data()
    assert data is not None
    return data


def _observation(value: float) -> Any:
    from opentelemetry.metrics import Observation

    return Observation(value, {"sign": "neg" if value < 0 else "pos"})


def test_metric_encoding_equals_official_json_encoder() -> None:
    data = metrics_data()

    ours = encode_metrics(data)
    official = official_encode_metrics(data).to_dict()

    assert ours == official
    assert json.dumps(ours) == json.dumps(official)
    encoded = json.dumps(ours)
    for kind in ('"sum"', '"gauge"', '"histogram"', '"exponentialHistogram"', '"exemplars"'):
        assert kind in encoded, f"test data does not exercise {kind}"


def test_store_line_is_a_valid_export_trace_service_request(tmp_path: Path) -> None:
    """What the Collector's otlpjsonfile receiver would accept: checked (1) with the OTLP
    JSON classes of ``opentelemetry.proto_json`` (``TracesData.from_dict``) and (2) strictly,
    against the real protobuf schema, with ``json_format.Parse`` (unknown fields rejected)
    after turning the hex ids into protobuf's base64, and compared with what the official
    protobuf encoder sends over OTLP/gRPC for the same spans."""
    spans = varied_spans()
    exporter = StoreSpanExporter(tmp_path)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    (line,) = file_lines(tmp_path / "traces.jsonl")
    message = json.loads(line)

    parsed = JsonTracesData.from_dict(message)
    assert parsed.to_dict() == message  # nothing was dropped as unknown
    assert sum(len(ss.spans) for rs in parsed.resource_spans for ss in rs.scope_spans) == len(spans)

    request = ExportTraceServiceRequest()
    json_format.Parse(json.dumps(ids_to_base64(message)), request, ignore_unknown_fields=False)
    official = official_encode_spans_protobuf(spans)
    assert request.SerializeToString(deterministic=True) == official.SerializeToString(
        deterministic=True
    )


def test_metrics_store_line_is_a_valid_export_metrics_service_request(tmp_path: Path) -> None:
    exporter = StoreMetricExporter(tmp_path)
    assert exporter.export(metrics_data()) is MetricExportResult.SUCCESS
    (line,) = file_lines(tmp_path / "metrics.jsonl")

    request = ExportMetricsServiceRequest()
    json_format.Parse(
        json.dumps(ids_to_base64(json.loads(line))), request, ignore_unknown_fields=False
    )
    names = {
        m.name for rm in request.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    assert names == {"tokens", "active", "duration", "exp.latency", "temperature", "observed"}


# --------------------------------------------------------------------------------------------
# metrics exporter through a real MeterProvider
# --------------------------------------------------------------------------------------------


def test_metric_exporter_writes_cumulative_metrics_jsonl(tmp_path: Path) -> None:
    exporter = StoreMetricExporter(tmp_path)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    counter = provider.get_meter("m").create_counter("calls")
    counter.add(2)
    provider.force_flush()
    counter.add(3)
    provider.shutdown()

    lines = [json.loads(b) for b in file_lines(tmp_path / "metrics.jsonl")]
    sums = [
        m["sum"]
        for line in lines
        for rm in line["resourceMetrics"]
        for sm in rm["scopeMetrics"]
        for m in sm["metrics"]
    ]
    assert [s["dataPoints"][0]["asInt"] for s in sums] == ["2", "5"]  # cumulative, not 2 then 3
    assert all(s["aggregationTemporality"] == 2 for s in sums)
    assert not (tmp_path / "traces.jsonl").exists()
    assert list(read_spans(tmp_path)) == []


def test_metric_exporter_after_shutdown_fails_with_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = StoreMetricExporter(tmp_path)
    exporter.shutdown()
    exporter.shutdown()

    assert exporter.export(metrics_data()) is MetricExportResult.FAILURE
    assert len(store_warnings(caplog)) == 1
    assert not (tmp_path / "metrics.jsonl").exists()


# --------------------------------------------------------------------------------------------
# several processes, one store
# --------------------------------------------------------------------------------------------


def run_writers(
    store: Path, tmp_path: Path, *, writers: int, batches: int, per_batch: int, max_bytes: int
) -> None:
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HELPER),
                str(store),
                f"w{n}",
                str(batches),
                str(per_batch),
                "10",  # every 10th batch carries a 1.2 MB attribute
                str(max_bytes),
                str(go),
            ],
            stderr=subprocess.PIPE,
        )
        for n in range(writers)
    ]
    # Start them together, once all have imported the SDK, so that they really overlap.
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-w{n}").exists() for n in range(writers)):
        assert all(p.poll() is None for p in procs), "a writer died before starting"
        assert time.monotonic() < deadline, "writers did not start"
        time.sleep(0.005)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode(errors="replace")


def assert_every_span_once(store: Path, *, writers: int, batches: int, per_batch: int) -> None:
    files = store_files(store)
    lines = 0
    big_lines = 0
    line_writers = []
    for path in files:
        for raw in file_lines(path):
            assert raw, f"empty line in {path}"
            message = json.loads(raw)  # every line is complete JSON: nothing interleaved
            lines += 1
            big_lines += len(raw) > 1_000_000
            line_writers.append(decode_traces(message)[0].attributes["writer"])
    assert lines == writers * batches
    assert big_lines == writers * ((batches + 9) // 10)
    switches = sum(a != b for a, b in itertools.pairwise(line_writers))
    assert switches >= writers, "the writers did not overlap; the test proved nothing"

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spans = list(read_spans(store))
    seen = Counter(
        (s.attributes["writer"], s.attributes["batch"], s.attributes["index"]) for s in spans
    )
    expected = {
        (f"w{w}", b, i) for w in range(writers) for b in range(batches) for i in range(per_batch)
    }
    assert set(seen) == expected
    assert max(seen.values()) == 1
    assert len({s.span_id for s in spans}) == len(spans)


def test_two_processes_write_one_store_without_interleaving(tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_writers(store, tmp_path, writers=2, batches=60, per_batch=20, max_bytes=1 << 30)

    assert store_files(store) == [store / "traces.jsonl"]
    assert_every_span_once(store, writers=2, batches=60, per_batch=20)


def test_two_processes_rotating_concurrently_lose_nothing(tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_writers(store, tmp_path, writers=2, batches=60, per_batch=20, max_bytes=300_000)

    files = store_files(store)
    assert len(files) > 10, "rotation did not happen often enough to test anything"
    assert all(is_rotated_name(f.name, "traces") for f in files[:-1])
    assert all(f.stat().st_size <= 300_000 or len(file_lines(f)) == 1 for f in files)
    assert_every_span_once(store, writers=2, batches=60, per_batch=20)


def test_threads_sharing_one_exporter_write_whole_lines(tmp_path: Path) -> None:
    exporter = StoreSpanExporter(tmp_path, max_file_bytes=200_000, max_files=1000)
    batches = [make_spans(5, prefix=f"t{n}", blob="y" * 30_000) for n in range(8)]
    results: list[SpanExportResult] = []

    def work(spans: list[ReadableSpan]) -> None:
        for _ in range(10):
            results.append(exporter.export(spans))

    threads = [threading.Thread(target=work, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert results == [SpanExportResult.SUCCESS] * 80
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spans = list(read_spans(tmp_path))
    assert len(spans) == 8 * 10 * 5


def test_writer_follows_a_rotation_done_by_another_writer(tmp_path: Path) -> None:
    """Two writers with their own descriptors (as two processes have): when one rotates,
    the other must notice that the path names a new file and write there."""
    path = tmp_path / "traces.jsonl"
    a = JsonLinesFile(path, max_file_bytes=100, max_files=10)
    b = JsonLinesFile(path, max_file_bytes=10_000, max_files=10)
    assert b.write(b'{"n":1}\n')
    assert a.write(b'{"n":2}\n')
    assert a.write(b'{"n":3,"pad":"' + b"p" * 120 + b'"}\n')  # over a's limit: a rotates
    assert b.write(b'{"n":4}\n')  # b's descriptor still points at the rotated file

    (rotated,) = store_files(tmp_path)[:-1]
    assert [json.loads(x)["n"] for x in file_lines(rotated)] == [1, 2]
    assert [json.loads(x)["n"] for x in file_lines(path)] == [3, 4]


# --------------------------------------------------------------------------------------------
# rotation, limits, permissions
# --------------------------------------------------------------------------------------------


def test_rotation_keeps_at_most_max_files(tmp_path: Path) -> None:
    (tmp_path / "traces.notes.jsonl").write_text("mine\n")  # not ours: never pruned
    exporter = StoreSpanExporter(tmp_path, max_file_bytes=2_000, max_files=3)
    batches = [make_spans(3, prefix=f"b{n}", blob="z" * 1_000) for n in range(10)]
    for batch in batches:
        assert exporter.export(batch) is SpanExportResult.SUCCESS

    files = store_files(tmp_path)
    assert len(files) == 3
    assert files[-1] == tmp_path / "traces.jsonl"
    assert (tmp_path / "traces.notes.jsonl").exists()
    # The newest batches survive, oldest first.
    assert [s.name for s in read_spans(tmp_path)] == [
        s.name for batch in batches[-3:] for s in batch
    ]


def test_a_single_line_larger_than_the_limit_is_still_written(tmp_path: Path) -> None:
    exporter = StoreSpanExporter(tmp_path, max_file_bytes=1_000, max_files=2)
    big = make_spans(1, blob="q" * 5_000)
    assert exporter.export(big) is SpanExportResult.SUCCESS
    assert exporter.export(big) is SpanExportResult.SUCCESS
    assert len(store_files(tmp_path)) == 2
    assert len(list(read_spans(tmp_path))) == 2


def test_limits_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AGENT_OTEL_STORE_MAX_BYTES", "1234")
    monkeypatch.setenv("AGENT_OTEL_STORE_MAX_FILES", "5")
    exporter = StoreSpanExporter(tmp_path)
    assert (exporter._out.file.max_file_bytes, exporter._out.file.max_files) == (1234, 5)
    explicit = StoreSpanExporter(tmp_path, max_file_bytes=99, max_files=2)
    assert (explicit._out.file.max_file_bytes, explicit._out.file.max_files) == (99, 2)

    monkeypatch.setenv("AGENT_OTEL_STORE_MAX_BYTES", "lots")
    monkeypatch.setenv("AGENT_OTEL_STORE_MAX_FILES", "-1")
    fallback = StoreMetricExporter(tmp_path)
    assert (fallback._out.file.max_file_bytes, fallback._out.file.max_files) == (64 << 20, 8)
    assert len(store_warnings(caplog)) == 2


def test_rotated_names_sort_by_age() -> None:
    t0 = 1_700_000_000_123_456_789
    names = [
        rotated_name("traces", now_ns=t0, pid=99),
        rotated_name("traces", now_ns=t0, pid=99, counter=1),
        rotated_name("traces", now_ns=t0 + 1_000, pid=5),
        rotated_name("traces", now_ns=t0 + 10**9, pid=123456),
    ]
    assert names[0] == "traces.20231114T221320.123456Z-99.jsonl"
    assert all(is_rotated_name(n, "traces") for n in names)
    assert not is_rotated_name("traces.jsonl", "traces")
    assert not is_rotated_name("traces.backup.jsonl", "traces")
    assert not is_rotated_name(names[0], "metrics")


def test_rotated_files_are_listed_oldest_first(tmp_path: Path) -> None:
    t0 = 1_700_000_000_000_000_000
    names = [
        rotated_name("traces", now_ns=t0, pid=12),
        rotated_name("traces", now_ns=t0, pid=12, counter=1),
        rotated_name("traces", now_ns=t0, pid=12, counter=2),
        rotated_name("traces", now_ns=t0 + 1_000, pid=3),
    ]
    for name in reversed(names):
        (tmp_path / name).write_text("")
    (tmp_path / "traces.jsonl").write_text("")
    (tmp_path / rotated_name("metrics", now_ns=t0, pid=1)).write_text("")

    assert [p.name for p in store_files(tmp_path)] == [*names, "traces.jsonl"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_files_are_private_to_the_user(tmp_path: Path) -> None:
    store = tmp_path / "new" / "store"
    old_umask = os.umask(0)  # so only our explicit modes can make the files private
    try:
        assert StoreSpanExporter(store).export(make_spans(1)) is SpanExportResult.SUCCESS
        assert StoreMetricExporter(store).export(metrics_data()) is MetricExportResult.SUCCESS
        rotating = StoreSpanExporter(store, max_file_bytes=10)
        assert rotating.export(make_spans(1)) is SpanExportResult.SUCCESS
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    for path in [*store.iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert len(list(store.iterdir())) == 3  # traces, rotated traces, metrics


def test_nothing_touches_the_disk_before_the_first_export(tmp_path: Path) -> None:
    store = tmp_path / "lazy"
    StoreSpanExporter(store)
    StoreMetricExporter(store)
    assert not store.exists()


# --------------------------------------------------------------------------------------------
# damaged files
# --------------------------------------------------------------------------------------------


def test_corrupt_and_truncated_lines_warn_with_file_and_line(tmp_path: Path) -> None:
    exporter = StoreSpanExporter(tmp_path)
    batches = [make_spans(2, prefix=f"b{n}") for n in range(4)]
    for batch in batches[:2]:
        exporter.export(batch)
    path = tmp_path / "traces.jsonl"
    with path.open("ab") as f:
        f.write(b'{"resourceSpans": [{"scopeSpans": [ garbage\n')  # line 3
    exporter.export(batches[2])  # line 4
    full = path.read_bytes().splitlines()[-1]
    with path.open("ab") as f:
        f.write(full[: len(full) // 2])  # a crash mid-write: line 5, no newline

    with pytest.warns(AgentOtelWarning) as caught:
        got = list(read_spans(tmp_path))

    messages = [str(w.message) for w in caught]
    assert len(messages) == 2
    assert f"{path}:3:" in messages[0]
    assert f"{path}:5:" in messages[1]
    assert got == [SpanData.from_readable(s) for batch in batches[:3] for s in batch]

    # The next writer starts on a fresh line, so only the broken line is lost.
    exporter.export(batches[3])
    with pytest.warns(AgentOtelWarning) as caught:
        got = list(read_spans(tmp_path))
    assert len(caught) == 2
    assert got == [SpanData.from_readable(s) for batch in batches for s in batch]


def test_lines_holding_metrics_or_logs_are_skipped_silently(tmp_path: Path) -> None:
    """A Collector file exporter may put all signals in one file of any name."""
    path = tmp_path / "collector-output.json"
    spans = make_spans(3)
    with path.open("w", encoding="utf-8") as f:
        f.write(json.dumps(encode_metrics(metrics_data())) + "\n")
        f.write(json.dumps(encode_spans(spans)) + "\n")
        f.write('{"resourceLogs": [{"scopeLogs": []}]}\n')
        f.write("\n")
        f.write("{}\n")
        f.write(json.dumps(encode_spans(spans)))  # no final newline: still a whole line

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = list(read_spans(path))

    assert store_files(path) == [path]
    assert got == [SpanData.from_readable(s) for s in spans] * 2


def test_valid_json_that_is_not_otlp_warns(tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text('[1, 2]\n{"resourceSpans": [{"scopeSpans": [{"spans": [7]}]}]}\n')
    with pytest.warns(AgentOtelWarning) as caught:
        assert list(read_spans(path)) == []
    assert [f"{path}:1:" in str(w.message) for w in caught] == [True, False]
    assert f"{path}:2:" in str(caught[1].message)


def test_missing_store_reads_as_empty(tmp_path: Path) -> None:
    assert store_files(tmp_path / "nothing") == []
    assert list(read_spans(tmp_path / "nothing")) == []


def test_read_spans_defaults_to_the_default_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_OTEL_HOME", str(tmp_path / "home"))
    spans = make_spans(2)
    assert StoreSpanExporter().export(spans) is SpanExportResult.SUCCESS
    assert (tmp_path / "home" / "traces.jsonl").is_file()
    assert list(read_spans()) == [SpanData.from_readable(s) for s in spans]
    assert store_files() == [tmp_path / "home" / "traces.jsonl"]


# --------------------------------------------------------------------------------------------
# failures never reach the caller; the store recovers
# --------------------------------------------------------------------------------------------


def test_unwritable_path_fails_once_with_warning_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the store directory should be")
    store = blocker / "store"
    pipeline = Pipeline(StoreSpanExporter(store))
    caplog.set_level(logging.INFO, logger=STORE_LOGGER)

    for name in ("lost-1", "lost-2", "lost-3"):
        with pipeline.tracer.start_as_current_span(name):
            pass
    assert pipeline.store.export(make_spans(1)) is SpanExportResult.FAILURE

    (warning,) = store_warnings(caplog)
    assert str(blocker) in warning.getMessage()
    assert "Not a directory" in warning.getMessage() or "exists" in warning.getMessage()

    blocker.unlink()
    spans = make_spans(2)
    assert pipeline.store.export(spans) is SpanExportResult.SUCCESS
    assert list(read_spans(store)) == [SpanData.from_readable(s) for s in spans]
    assert len(store_warnings(caplog)) == 1


def permissions_enforced(directory: Path) -> bool:
    """False where a read-only directory can still be written (root, or not POSIX)."""
    probe = directory / "probe"
    probe.mkdir()
    probe.chmod(0o500)
    try:
        (probe / "x").touch()
    except PermissionError:
        return True
    finally:
        probe.chmod(0o700)
    return False


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_read_only_directory_fails_once_with_warning_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if not permissions_enforced(tmp_path):
        pytest.skip("directory permissions are not enforced for this user (root?)")
    store = tmp_path / "store"
    store.mkdir()
    store.chmod(0o500)
    exporter = StoreSpanExporter(store)
    try:
        assert exporter.export(make_spans(1)) is SpanExportResult.FAILURE
        assert exporter.export(make_spans(1)) is SpanExportResult.FAILURE
        (warning,) = store_warnings(caplog)
        assert "Permission denied" in warning.getMessage()
        assert str(store) in warning.getMessage()
    finally:
        store.chmod(0o700)
    assert exporter.export(make_spans(1)) is SpanExportResult.SUCCESS


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_disk_full_fails_once_with_warning_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "traces.jsonl").symlink_to("/dev/full")  # every write: ENOSPC
    exporter = StoreSpanExporter(tmp_path)

    for _ in range(3):
        assert exporter.export(make_spans(2)) is SpanExportResult.FAILURE
    (warning,) = store_warnings(caplog)
    assert "No space left on device" in warning.getMessage()
    assert "traces.jsonl" in warning.getMessage()

    (tmp_path / "traces.jsonl").unlink()
    spans = make_spans(2)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    assert list(read_spans(tmp_path)) == [SpanData.from_readable(s) for s in spans]


def test_a_partial_write_is_taken_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = StoreSpanExporter(tmp_path)
    first = make_spans(2, prefix="first")
    assert exporter.export(first) is SpanExportResult.SUCCESS
    before = (tmp_path / "traces.jsonl").read_bytes()
    real_write = os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        written = real_write(fd, bytes(data[: len(data) // 2]))
        monkeypatch.setattr(os, "write", failing)
        return written

    def failing(fd: int, data: bytes | memoryview) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    assert exporter.export(make_spans(3, prefix="lost")) is SpanExportResult.FAILURE
    monkeypatch.setattr(os, "write", real_write)

    assert (tmp_path / "traces.jsonl").read_bytes() == before
    second = make_spans(1, prefix="second")
    assert exporter.export(second) is SpanExportResult.SUCCESS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = list(read_spans(tmp_path))
    assert got == [SpanData.from_readable(s) for s in first + second]


def test_failed_rotation_keeps_appending_and_retries_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Losing the size limit for a while is better than losing telemetry."""
    exporter = StoreSpanExporter(tmp_path, max_file_bytes=500, max_files=5)
    renames: list[object] = []

    def refuse(src: object, dst: object) -> None:
        renames.append(src)
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(os, "rename", refuse)
    for n in range(3):
        assert exporter.export(make_spans(2, prefix=f"kept{n}")) is SpanExportResult.SUCCESS
    assert len(renames) == 1  # not retried on every export
    (warning,) = store_warnings(caplog)
    assert "rotate" in warning.getMessage() and "Permission denied" in warning.getMessage()
    assert store_files(tmp_path) == [tmp_path / "traces.jsonl"]

    monkeypatch.undo()
    assert exporter._out.file._next_rotation > time.monotonic() + 30  # pausing retries
    exporter._out.file._next_rotation = 0.0  # the pause is over
    assert exporter.export(make_spans(1, prefix="after")) is SpanExportResult.SUCCESS
    assert len(store_files(tmp_path)) == 2
    assert len(list(read_spans(tmp_path))) == 7


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_file_system_without_locks_still_gets_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import fcntl

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    exporter = StoreSpanExporter(tmp_path)
    for _ in range(3):
        assert exporter.export(make_spans(1)) is SpanExportResult.SUCCESS
    (warning,) = store_warnings(caplog)
    assert "lock" in warning.getMessage()
    assert len(list(read_spans(tmp_path))) == 3


def test_span_exporter_shutdown_is_idempotent_and_later_exports_fail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    exporter = StoreSpanExporter(tmp_path)
    assert exporter.export(make_spans(1)) is SpanExportResult.SUCCESS
    assert exporter.force_flush() is True
    exporter.shutdown()
    exporter.shutdown()

    assert exporter.export(make_spans(1)) is SpanExportResult.FAILURE
    assert exporter.export(make_spans(1)) is SpanExportResult.FAILURE
    (warning,) = store_warnings(caplog)
    assert "after shutdown" in warning.getMessage()
    assert len(list(read_spans(tmp_path))) == 1


def test_unencodable_attribute_is_dropped_not_the_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Attributes are validated by the SDK, but an exporter must survive a span that was
    built by hand (e.g. by a processor) with a value of the wrong type."""
    (span,) = make_spans(1)
    span._attributes = {"ok": 1, "bad": object()}  # type: ignore[assignment]

    assert StoreSpanExporter(tmp_path).export([span]) is SpanExportResult.SUCCESS
    (got,) = read_spans(tmp_path)
    assert got.attributes == {"ok": 1}
    assert "bad" in store_warnings(caplog)[0].getMessage()


# --------------------------------------------------------------------------------------------
# discovery and configuration
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "cls"),
    [
        ("opentelemetry_traces_exporter", StoreSpanExporter),
        ("opentelemetry_metrics_exporter", StoreMetricExporter),
    ],
)
def test_entry_points_load_the_exporters(group: str, cls: type) -> None:
    (entry_point,) = entry_points(group=group, name="agent_otel_store")
    assert entry_point.load() is cls


def test_exporters_built_without_arguments_use_the_default_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """How ``opentelemetry-instrument`` builds them (OTEL_TRACES_EXPORTER=agent_otel_store)."""
    monkeypatch.setenv("AGENT_OTEL_HOME", str(tmp_path / "h"))
    assert StoreSpanExporter().path == tmp_path / "h" / "traces.jsonl"
    assert StoreMetricExporter().path == tmp_path / "h" / "metrics.jsonl"


def _platform(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(store_paths, "sys", type("FakeSys", (), {"platform": name}))


def test_default_store_dir_follows_platform_conventions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    monkeypatch.delenv("AGENT_OTEL_HOME")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)

    _platform(monkeypatch, "linux")
    assert default_store_dir() == home / ".local" / "share" / "agent-otel"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_dir() == tmp_path / "xdg" / "agent-otel"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/is/ignored")
    assert default_store_dir() == home / ".local" / "share" / "agent-otel"

    _platform(monkeypatch, "freebsd14")
    assert default_store_dir() == home / ".local" / "share" / "agent-otel"

    _platform(monkeypatch, "darwin")
    assert default_store_dir() == home / "Library" / "Application Support" / "agent-otel"

    _platform(monkeypatch, "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert default_store_dir() == tmp_path / "Local" / "agent-otel"
    monkeypatch.delenv("LOCALAPPDATA")
    assert default_store_dir() == home / "AppData" / "Local" / "agent-otel"

    monkeypatch.setenv("AGENT_OTEL_HOME", "~/custom")
    assert default_store_dir() == home / "custom"


@pytest.fixture
def _no_leaked_fds() -> Iterator[None]:
    if not Path("/proc/self/fd").is_dir():
        yield
        return
    before = len(os.listdir("/proc/self/fd"))
    yield
    assert len(os.listdir("/proc/self/fd")) <= before


@pytest.mark.usefixtures("_no_leaked_fds")
def test_reader_closes_files_even_when_abandoned(tmp_path: Path) -> None:
    exporter = StoreSpanExporter(tmp_path, max_file_bytes=500, max_files=10)
    for n in range(4):
        exporter.export(make_spans(2, prefix=f"r{n}"))
    exporter.shutdown()
    assert len(store_files(tmp_path)) == 4

    iterator = read_spans(tmp_path)
    assert next(iterator).name == "r0-0"
    iterator.close()  # type: ignore[attr-defined]
    assert [s.name for s in read_spans(tmp_path)][-1] == "r3-1"
