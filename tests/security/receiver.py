"""A tiny OTLP/HTTP receiver on loopback that keeps the raw bytes of every export.

The leak tests grep what really went over the wire, so this receiver decodes nothing on the
way in: it stores each request body as received (gunzipped if the exporter compressed it)
and answers 200 with an empty export response, which the OTLP exporters take as success.
"""

from __future__ import annotations

import gzip
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2


@dataclass(frozen=True)
class Export:
    path: str  # /v1/traces or /v1/metrics
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    server: RawReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.keep(Export(self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


class RawReceiver(ThreadingHTTPServer):
    """``with RawReceiver() as r:`` serves on ``r.endpoint`` until the block ends."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.exports: list[Export] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def keep(self, export: Export) -> None:
        with self._lock:
            self.exports.append(export)

    def bodies(self, path: str) -> list[bytes]:
        with self._lock:
            return [e.body for e in self.exports if e.path == path]

    def trace_requests(self) -> list[trace_service_pb2.ExportTraceServiceRequest]:
        return [
            trace_service_pb2.ExportTraceServiceRequest.FromString(b)
            for b in self.bodies("/v1/traces")
        ]

    def metric_requests(self) -> list[metrics_service_pb2.ExportMetricsServiceRequest]:
        return [
            metrics_service_pb2.ExportMetricsServiceRequest.FromString(b)
            for b in self.bodies("/v1/metrics")
        ]

    def __enter__(self) -> RawReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=10)
