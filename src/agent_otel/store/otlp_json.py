"""OTLP JSON encoding of SDK spans and metrics, and fast decoding of OTLP JSON traces.

The local store holds one ``ExportTraceServiceRequest`` (or ``ExportMetricsServiceRequest``)
per line, exactly what the OpenTelemetry Collector's ``file`` exporter writes and its
``otlpjsonfile`` receiver reads, so the store can be shipped to any backend later.

Why not the official ``opentelemetry-exporter-otlp-json-common``: it is a beta that pins one
SDK minor version, and it builds a tree of message objects per span only to turn them back
into dicts. Here the dicts are built directly. The output is kept *identical* to the official
encoder's ``to_dict()`` (field names, key order, which empty/default fields are omitted, ids as
lowercase hex, 64-bit integers as strings, enums as ints, non-finite doubles as strings) and a
test compares the two, so the format cannot drift silently.

Decoding is written for reading millions of spans: plain dict lookups straight into
:class:`~agent_otel.spandata.SpanData`, no intermediate message objects.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agent_otel.spandata import EventData, LinkData, SpanData

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricsData
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext

__all__ = [
    "decode_traces",
    "dumps_line",
    "encode_metrics",
    "encode_spans",
]

_logger = logging.getLogger("agent_otel.store")

JsonDict = dict[str, Any]

# Span flags as the official encoder sets them (opentelemetry.proto.trace.v1.SpanFlags).
_FLAG_HAS_IS_REMOTE = 0x100
_FLAG_IS_REMOTE = 0x200

_INF = float("inf")
_UNSEEN = object()

# --------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------


def _float(value: float) -> float | str:
    """Proto3 JSON spells non-finite doubles as strings; bare NaN/Infinity is not JSON."""
    if value != value:
        return "NaN"
    if value == _INF:
        return "Infinity"
    if value == -_INF:
        return "-Infinity"
    return value


def _encode_value(value: object) -> JsonDict:
    """One ``AnyValue``. Exact type checks first (the common case), then the same
    ``isinstance`` order as the official encoder so subclasses land in the same field."""
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    if kind is bool:
        return {"boolValue": value}
    if kind is int:
        return {"intValue": str(value)}
    if kind is float:
        return {"doubleValue": _float(value)}  # type: ignore[arg-type]
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": bool(value)}
    if isinstance(value, str):
        return {"stringValue": str(value)}
    if isinstance(value, int):
        return {"intValue": str(int(value))}
    if isinstance(value, float):
        return {"doubleValue": _float(float(value))}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Sequence):
        values = [_encode_value(item) for item in value]
        return {"arrayValue": {"values": values} if values else {}}
    if isinstance(value, Mapping):
        kvs = [_encode_key_value(str(k), v) for k, v in value.items()]
        return {"kvlistValue": {"values": kvs} if kvs else {}}
    raise TypeError(f"invalid attribute value type {kind.__name__}")


def _encode_key_value(key: str, value: object) -> JsonDict:
    if key:
        return {"key": key, "value": _encode_value(value)}
    return {"value": _encode_value(value)}


def _encode_attributes(attributes: Mapping[str, object]) -> list[JsonDict]:
    """Encode attributes; a value of an unsupported type is dropped with a log record (as the
    official encoder does) instead of failing the whole batch."""
    out: list[JsonDict] = []
    for key, value in attributes.items():
        try:
            out.append(_encode_key_value(key, value))
        except Exception as error:
            _logger.warning("agent-otel store: cannot encode attribute %r: %s", key, error)
    return out


def _encode_scope(scope: InstrumentationScope | None) -> JsonDict:
    out: JsonDict = {}
    if scope is None:
        return out
    if scope.name:
        out["name"] = scope.name
    if scope.version:
        out["version"] = scope.version
    if scope.attributes:
        out["attributes"] = _encode_attributes(scope.attributes)
    return out


def _encode_resource(resource: Resource) -> JsonDict:
    attributes = resource.attributes
    return {"attributes": _encode_attributes(attributes)} if attributes else {}


def _flags(context: SpanContext | None) -> int:
    if context is not None and context.is_remote:
        return _FLAG_HAS_IS_REMOTE | _FLAG_IS_REMOTE
    return _FLAG_HAS_IS_REMOTE


def _encode_span(span: ReadableSpan) -> JsonDict:
    context = span.get_span_context()
    parent = span.parent
    out: JsonDict = {
        "traceId": format(context.trace_id if context else 0, "032x"),
        "spanId": format(context.span_id if context else 0, "016x"),
    }
    if context is not None and context.trace_state:
        out["traceState"] = ",".join(f"{k}={v}" for k, v in context.trace_state.items())
    if parent is not None:
        out["parentSpanId"] = format(parent.span_id, "016x")
    out["flags"] = _flags(parent)
    if span.name:
        out["name"] = span.name
    # The API numbers SpanKind from INTERNAL=0; OTLP from UNSPECIFIED=0, INTERNAL=1.
    out["kind"] = span.kind.value + 1
    if span.start_time:
        out["startTimeUnixNano"] = str(span.start_time)
    if span.end_time:
        out["endTimeUnixNano"] = str(span.end_time)
    if span.attributes:
        out["attributes"] = _encode_attributes(span.attributes)
    if span.dropped_attributes:
        out["droppedAttributesCount"] = span.dropped_attributes
    if span.events:
        events = []
        for event in span.events:
            encoded: JsonDict = {}
            if event.timestamp:
                encoded["timeUnixNano"] = str(event.timestamp)
            if event.name:
                encoded["name"] = event.name
            if event.attributes:
                encoded["attributes"] = _encode_attributes(event.attributes)
            if event.dropped_attributes:
                encoded["droppedAttributesCount"] = event.dropped_attributes
            events.append(encoded)
        out["events"] = events
    if span.dropped_events:
        out["droppedEventsCount"] = span.dropped_events
    if span.links:
        links = []
        for link in span.links:
            # Like the official encoders (JSON and protobuf), the link's trace state is not
            # carried; keeping the output identical matters more here.
            encoded = {
                "traceId": format(link.context.trace_id, "032x"),
                "spanId": format(link.context.span_id, "016x"),
            }
            if link.attributes:
                encoded["attributes"] = _encode_attributes(link.attributes)
            if link.dropped_attributes:
                encoded["droppedAttributesCount"] = link.dropped_attributes
            encoded["flags"] = _flags(link.context)
            links.append(encoded)
        out["links"] = links
    if span.dropped_links:
        out["droppedLinksCount"] = span.dropped_links
    status: JsonDict = {}
    if span.status.description:
        status["message"] = span.status.description
    if span.status.status_code.value:
        status["code"] = span.status.status_code.value
    out["status"] = status
    return out


def encode_spans(spans: Iterable[ReadableSpan]) -> JsonDict:
    """Spans as an OTLP JSON ``ExportTraceServiceRequest`` dict, grouped by resource, then by
    instrumentation scope, in first-seen order (as the official encoder groups them)."""
    groups: dict[Resource, dict[InstrumentationScope | None, list[JsonDict]]] = {}
    # Resource.__hash__ serialises all attributes, so skip the lookup while consecutive spans
    # share the same objects, which is the normal case.
    last_resource: object = None
    last_scope: object = None
    scopes: dict[InstrumentationScope | None, list[JsonDict]] = {}
    bucket: list[JsonDict] = []
    for span in spans:
        resource = span.resource
        scope = span.instrumentation_scope or None
        if resource is not last_resource:
            scopes = groups.setdefault(resource, {})
            last_resource = resource
            last_scope = _UNSEEN
        if scope is not last_scope:
            bucket = scopes.setdefault(scope, [])
            last_scope = scope
        bucket.append(_encode_span(span))

    resource_spans = []
    for resource, by_scope in groups.items():
        scope_spans = []
        for scope, encoded in by_scope.items():
            entry: JsonDict = {"scope": _encode_scope(scope)}
            if encoded:
                entry["spans"] = encoded
            if scope is not None and scope.schema_url:
                entry["schemaUrl"] = scope.schema_url
            scope_spans.append(entry)
        item: JsonDict = {"resource": _encode_resource(resource)}
        if scope_spans:
            item["scopeSpans"] = scope_spans
        if resource.schema_url:
            item["schemaUrl"] = resource.schema_url
        resource_spans.append(item)
    return {"resourceSpans": resource_spans} if resource_spans else {}


def _encode_exemplars(exemplars: Collection[Any]) -> list[JsonDict]:
    out = []
    for exemplar in exemplars:
        encoded: JsonDict = {}
        if exemplar.filtered_attributes:
            encoded["filteredAttributes"] = _encode_attributes(exemplar.filtered_attributes)
        if exemplar.time_unix_nano:
            encoded["timeUnixNano"] = str(exemplar.time_unix_nano)
        if exemplar.span_id is not None and exemplar.trace_id is not None:
            encoded["spanId"] = format(exemplar.span_id, "016x")
            encoded["traceId"] = format(exemplar.trace_id, "032x")
        value = exemplar.value
        if isinstance(value, float):
            encoded["asDouble"] = _float(value)
        else:
            encoded["asInt"] = str(int(value))
        out.append(encoded)
    return out


def _number_point(point: Any, with_start: bool) -> JsonDict:
    out: JsonDict = {}
    if point.attributes:
        out["attributes"] = _encode_attributes(point.attributes)
    if with_start and point.start_time_unix_nano:
        out["startTimeUnixNano"] = str(point.start_time_unix_nano)
    if point.time_unix_nano:
        out["timeUnixNano"] = str(point.time_unix_nano)
    if point.exemplars:
        out["exemplars"] = _encode_exemplars(point.exemplars)
    value = point.value
    if isinstance(value, int):
        out["asInt"] = str(int(value))
    else:
        out["asDouble"] = _float(value)
    return out


def _common_point_head(point: Any) -> JsonDict:
    out: JsonDict = {}
    if point.attributes:
        out["attributes"] = _encode_attributes(point.attributes)
    if point.start_time_unix_nano:
        out["startTimeUnixNano"] = str(point.start_time_unix_nano)
    if point.time_unix_nano:
        out["timeUnixNano"] = str(point.time_unix_nano)
    if point.count:
        out["count"] = str(point.count)
    if point.sum is not None:
        out["sum"] = _float(point.sum)
    return out


def _histogram_point(point: Any) -> JsonDict:
    out = _common_point_head(point)
    if point.bucket_counts:
        out["bucketCounts"] = [str(c) for c in point.bucket_counts]
    if point.explicit_bounds:
        out["explicitBounds"] = [_float(b) for b in point.explicit_bounds]
    return _with_exemplars_and_range(out, point)


def _with_exemplars_and_range(out: JsonDict, point: Any) -> JsonDict:
    """The fields histogram and exponential-histogram points end with, in the same order."""
    if point.exemplars:
        out["exemplars"] = _encode_exemplars(point.exemplars)
    if point.min is not None:
        out["min"] = _float(point.min)
    if point.max is not None:
        out["max"] = _float(point.max)
    return out


def _buckets(buckets: Any) -> JsonDict:
    out: JsonDict = {}
    if buckets.offset:
        out["offset"] = buckets.offset
    out["bucketCounts"] = [str(c) for c in buckets.bucket_counts]
    return out


def _exponential_point(point: Any) -> JsonDict:
    out = _common_point_head(point)
    if point.scale:
        out["scale"] = point.scale
    if point.zero_count:
        out["zeroCount"] = str(point.zero_count)
    if point.positive.bucket_counts:
        out["positive"] = _buckets(point.positive)
    if point.negative.bucket_counts:
        out["negative"] = _buckets(point.negative)
    if point.flags:
        out["flags"] = point.flags
    return _with_exemplars_and_range(out, point)


def _encode_metric(metric: Any) -> JsonDict:
    from opentelemetry.sdk.metrics.export import ExponentialHistogram, Gauge, Histogram, Sum

    out: JsonDict = {}
    if metric.name:
        out["name"] = metric.name
    if metric.description:
        out["description"] = metric.description
    if metric.unit:
        out["unit"] = metric.unit
    data = metric.data
    body: JsonDict = {}
    if isinstance(data, Gauge):
        points = [_number_point(p, with_start=False) for p in data.data_points]
        if points:
            body["dataPoints"] = points
        out["gauge"] = body
    elif isinstance(data, Histogram):
        points = [_histogram_point(p) for p in data.data_points]
        if points:
            body["dataPoints"] = points
        if data.aggregation_temporality:
            body["aggregationTemporality"] = int(data.aggregation_temporality)
        out["histogram"] = body
    elif isinstance(data, Sum):
        points = [_number_point(p, with_start=True) for p in data.data_points]
        if points:
            body["dataPoints"] = points
        if data.aggregation_temporality:
            body["aggregationTemporality"] = int(data.aggregation_temporality)
        if data.is_monotonic:
            body["isMonotonic"] = True
        out["sum"] = body
    elif isinstance(data, ExponentialHistogram):
        points = [_exponential_point(p) for p in data.data_points]
        if points:
            body["dataPoints"] = points
        if data.aggregation_temporality:
            body["aggregationTemporality"] = int(data.aggregation_temporality)
        out["exponentialHistogram"] = body
    else:
        _logger.warning("agent-otel store: unsupported metric data %s", type(data).__name__)
    return out


def encode_metrics(data: MetricsData) -> JsonDict:
    """SDK ``MetricsData`` as an OTLP JSON ``ExportMetricsServiceRequest`` dict."""
    resource_metrics = []
    for rm in data.resource_metrics:
        scope_metrics = []
        for sm in rm.scope_metrics:
            entry: JsonDict = {"scope": _encode_scope(sm.scope)}
            metrics = [_encode_metric(m) for m in sm.metrics]
            if metrics:
                entry["metrics"] = metrics
            if sm.scope.schema_url:
                entry["schemaUrl"] = sm.scope.schema_url
            scope_metrics.append(entry)
        item: JsonDict = {"resource": _encode_resource(rm.resource)}
        if scope_metrics:
            item["scopeMetrics"] = scope_metrics
        if rm.resource.schema_url:
            item["schemaUrl"] = rm.resource.schema_url
        resource_metrics.append(item)
    return {"resourceMetrics": resource_metrics} if resource_metrics else {}


def dumps_line(message: JsonDict) -> bytes:
    """One JSON line (compact, UTF-8, newline-terminated).

    Non-ASCII text stays readable UTF-8. A string holding a lone surrogate cannot be UTF-8
    encoded; then the line falls back to ASCII escapes rather than losing the batch.
    ``allow_nan=False`` guarantees that no bare ``NaN`` (invalid JSON) is ever written.
    """
    try:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        text = json.dumps(message, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
        return text.encode("ascii") + b"\n"


# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

_EMPTY: Mapping[str, Any] = MappingProxyType({})

# Kind 0 (UNSPECIFIED) is read as INTERNAL, as the OTLP spec allows receivers to assume.
# Enum names are accepted too: the proto3 JSON mapping allows them even though OTLP writers
# must use integers.
SPAN_KINDS: dict[int | str, str] = {
    0: "INTERNAL",
    1: "INTERNAL",
    2: "SERVER",
    3: "CLIENT",
    4: "PRODUCER",
    5: "CONSUMER",
    "SPAN_KIND_UNSPECIFIED": "INTERNAL",
    "SPAN_KIND_INTERNAL": "INTERNAL",
    "SPAN_KIND_SERVER": "SERVER",
    "SPAN_KIND_CLIENT": "CLIENT",
    "SPAN_KIND_PRODUCER": "PRODUCER",
    "SPAN_KIND_CONSUMER": "CONSUMER",
}
STATUS_CODES: dict[int | str, str] = {
    0: "UNSET",
    1: "OK",
    2: "ERROR",
    "STATUS_CODE_UNSET": "UNSET",
    "STATUS_CODE_OK": "OK",
    "STATUS_CODE_ERROR": "ERROR",
}


_UINT64_END = 2**64


def decode_nanos(value: Any) -> int:
    """A timestamp: OTLP's fixed64 nanoseconds, written as a string (or a number by some
    writers). Anything else, or out of range, is an error of the line: a record with a time
    past the year 2554 or before 1970 would only break whoever reads it later."""
    try:
        number = int(value)
    except OverflowError:  # a JSON number too large for a float: Infinity
        raise ValueError(f"timestamp {value!r} is not a number of nanoseconds") from None
    if not 0 <= number < _UINT64_END:
        raise ValueError(f"timestamp {value!r} is out of range")
    return number


def _decode_value(value: Mapping[str, Any] | None) -> Any:
    """One ``AnyValue``: arrays become tuples (as the SDK stores them), kvlists dicts, bytes
    ``bytes``, an empty value ``None``. int64 and double accept numbers or strings."""
    if not value:
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])  # also parses "NaN", "Infinity", "-Infinity"
    if "arrayValue" in value:
        return tuple([_decode_value(v) for v in value["arrayValue"].get("values") or ()])
    if "kvlistValue" in value:
        return decode_attributes(value["kvlistValue"].get("values"), {})
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"], validate=True)
    return None


def decode_attributes(
    kvs: Sequence[Mapping[str, Any]] | None, empty: Mapping[str, Any] = _EMPTY
) -> Mapping[str, Any]:
    """OTLP ``KeyValue`` list to a mapping (``empty``, shared, when there is none)."""
    if not kvs:
        return empty
    out: dict[str, Any] = {}
    for kv in kvs:
        value = kv.get("value")
        # Plain strings are by far the most common attribute; skip the call for them.
        if value is not None and "stringValue" in value:
            out[kv.get("key", "")] = value["stringValue"]
        else:
            out[kv.get("key", "")] = _decode_value(value)
    return out


def decode_odd_id(value: str, size: int) -> str:
    """An id that is not ``2*size`` hex digits: empty, or base64 as protobuf's generic JSON
    mapping writes ``bytes`` (some tools produce that); anything else is kept as it is."""
    if not value:
        return ""
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.lower()
    return raw.hex() if len(raw) == size else value.lower()


def _decode_span(span: Mapping[str, Any], resource: Mapping[str, Any], scope: str) -> SpanData:
    trace_id = span.get("traceId") or ""
    trace_id = trace_id.lower() if len(trace_id) == 32 else decode_odd_id(trace_id, 16)
    span_id = span.get("spanId") or ""
    span_id = span_id.lower() if len(span_id) == 16 else decode_odd_id(span_id, 8)
    parent: str | None = span.get("parentSpanId")
    parent = (parent.lower() if len(parent) == 16 else decode_odd_id(parent, 8)) if parent else None
    end = span.get("endTimeUnixNano")

    events: tuple[EventData, ...] = ()
    raw_events = span.get("events")
    if raw_events:
        events = tuple(
            [
                EventData(
                    e.get("name", ""),
                    decode_nanos(e.get("timeUnixNano", 0)),
                    decode_attributes(e.get("attributes")),
                )
                for e in raw_events
            ]
        )
    links: tuple[LinkData, ...] = ()
    raw_links = span.get("links")
    if raw_links:
        decoded = []
        for link in raw_links:
            link_trace = link.get("traceId") or ""
            link_span = link.get("spanId") or ""
            decoded.append(
                LinkData(
                    link_trace.lower() if len(link_trace) == 32 else decode_odd_id(link_trace, 16),
                    link_span.lower() if len(link_span) == 16 else decode_odd_id(link_span, 8),
                    decode_attributes(link.get("attributes")),
                )
            )
        links = tuple(decoded)

    status = span.get("status")
    if status:
        status_code = STATUS_CODES.get(status.get("code", 0), "UNSET")
        status_message = status.get("message", "")
    else:
        status_code, status_message = "UNSET", ""

    return SpanData(
        trace_id,
        span_id,
        parent,
        span.get("name", ""),
        decode_nanos(span.get("startTimeUnixNano", 0)),
        decode_nanos(end) if end is not None else None,
        SPAN_KINDS.get(span.get("kind", 0), "INTERNAL"),
        decode_attributes(span.get("attributes")),
        events,
        links,
        status_code,
        status_message,
        resource,
        scope,
    )


def decode_traces(message: Mapping[str, Any]) -> list[SpanData]:
    """All spans of one OTLP JSON traces message (a parsed line), in file order.

    Resource attributes are decoded once per ``resourceSpans`` and shared, read-only, by its
    spans. Raises ``KeyError``/``TypeError``/``ValueError``/``AttributeError`` on a message that
    is not valid OTLP JSON; the reader turns that into a warning for the line.
    """
    out: list[SpanData] = []
    append = out.append
    for resource_spans in message.get("resourceSpans") or ():
        resource_msg = resource_spans.get("resource")
        attributes = decode_attributes(resource_msg.get("attributes")) if resource_msg else None
        resource = MappingProxyType(attributes) if attributes else _EMPTY
        for scope_spans in resource_spans.get("scopeSpans") or ():
            scope_msg = scope_spans.get("scope")
            scope_name = (scope_msg.get("name") or "") if scope_msg else ""
            for span in scope_spans.get("spans") or ():
                append(_decode_span(span, resource, scope_name))
    return out
