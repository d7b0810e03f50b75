"""Real OTLP trace receivers on loopback, for ``agent-otel export`` tests: an OTLP/HTTP
server (protobuf POSTs to /v1/traces) and an OTLP/gRPC server implementing TraceService from
opentelemetry-proto. Both keep every request they receive, and the headers/metadata sent."""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from agent_otel.spandata import SpanData
from agent_otel.store.otlp_json import decode_traces

ExportRequest = trace_service_pb2.ExportTraceServiceRequest


@dataclass
class Received:
    """What a receiver got: the requests, in order, and the headers of each."""

    requests: list[Any] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: Any, headers: dict[str, str]) -> None:
        with self.lock:
            self.requests.append(request)
            self.headers.append(headers)

    def spans(self) -> list[SpanData]:
        """Every received span, decoded by the store's own OTLP JSON decoder from the
        protobuf's canonical JSON form (ids in base64, which the decoder accepts)."""
        out: list[SpanData] = []
        for request in self.requests:
            out += decode_traces(MessageToDict(request))
        return out

    def messages(self) -> list[dict[str, Any]]:
        """Each request as OTLP JSON: the canonical JSON form with ids in lowercase hex,
        int64 values as strings and enums as integers, as the store writes them."""
        return [to_otlp_json(MessageToDict(r, use_integers_for_enums=True)) for r in self.requests]


def to_otlp_json(value: Any, key: str = "") -> Any:
    """Protobuf JSON to OTLP JSON: trace/span ids from base64 to hex."""
    import base64

    if isinstance(value, dict):
        return {k: to_otlp_json(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [to_otlp_json(v, key) for v in value]
    if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
        return base64.b64decode(value).hex()
    return value


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        if self.path != "/v1/traces" or self.server.status != 200:
            status = 404 if self.path != "/v1/traces" else self.server.status
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        request = ExportRequest()
        request.ParseFromString(body)
        self.server.received.add(request, {k.lower(): v for k, v in self.headers.items()})
        reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    received: Received
    status: int


@contextmanager
def http_receiver(status: int = 200) -> Iterator[tuple[str, Received]]:
    """An OTLP/HTTP receiver on 127.0.0.1 (a free port); yields its base URL. ``status``
    other than 200 makes it refuse every request with that HTTP status."""
    server = _HttpServer(("127.0.0.1", 0), _Handler)
    server.received = Received()
    server.status = status
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.received
    finally:
        server.shutdown()
        server.server_close()


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, received: Received) -> None:
        self.received = received

    def Export(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.received.add(request, dict(context.invocation_metadata()))
        return trace_service_pb2.ExportTraceServiceResponse()


@contextmanager
def grpc_receiver() -> Iterator[tuple[str, Received]]:
    """An OTLP/gRPC receiver on 127.0.0.1 (a free port); yields ``host:port``."""
    received = Received()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(received), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", received
    finally:
        server.stop(grace=None)


def spans_by_id(messages: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every span of some OTLP JSON messages, keyed by span id, with the resource and scope
    it came with; empty values dropped (the protobuf JSON form omits what the store keeps
    as ``{}``), so that two exports of the same spans compare equal however they were
    batched."""
    out: dict[str, dict[str, Any]] = {}
    for message in messages:
        for resource_spans in message.get("resourceSpans", []):
            resource = {k: v for k, v in resource_spans.items() if k != "scopeSpans"}
            for scope_spans in resource_spans.get("scopeSpans", []):
                scope = {k: v for k, v in scope_spans.items() if k != "spans"}
                for span in scope_spans.get("spans", []):
                    out[span["spanId"]] = _without_empty(
                        {"resource": resource, "scope": scope, "span": span}
                    )
    return out


def _without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        kept = {k: _without_empty(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [], None)}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value
