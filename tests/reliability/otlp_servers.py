"""OTLP receivers on loopback that misbehave on demand: the endpoints of the fault tests.

Both receivers start *refusing connections*: their port is bound but not listening, so a
connection attempt is refused at once, exactly as when a Collector is down. ``start()``
begins serving on that same port; ``fault`` then says how each export is answered:

* ``"ok"``: accepted (the request is kept in ``requests``);
* ``"hang"``: never answered until the receiver stops (the exporter's timeout must end it);
* ``"slow"``: accepted after ``delay`` seconds;
* ``"500"`` (not retried by the exporters) and ``"429"`` (retried with back-off), and their
  gRPC equivalents ``INTERNAL`` and ``RESOURCE_EXHAUSTED``.

Used by the tests (in-process) and by ``tests/benchmarks/bench_faults.py`` (which runs the
agent in a subprocess pointed at one of them).
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.metrics.v1 import (
    metrics_service_pb2,
    metrics_service_pb2_grpc,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

import agent_otel
from agent_otel.spandata import SpanData
from agent_otel.store.otlp_json import decode_traces

Request = trace_service_pb2.ExportTraceServiceRequest


def _reserve_port() -> socket.socket:
    """A loopback port that is bound but not listening: connections to it are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class Receiver:
    """What both receivers share: the port, the fault, the requests received."""

    name = ""  # "http" or "grpc"
    protocol = ""  # as OTEL_EXPORTER_OTLP_PROTOCOL spells it

    def __init__(self, fault: str = "ok", delay: float = 0.2) -> None:
        self._reserved: socket.socket | None = _reserve_port()
        self.port: int = self._reserved.getsockname()[1]
        self.fault = fault
        self.delay = delay
        self.requests: list[Request] = []
        self.attempts = 0
        self._release = threading.Event()  # ends hanging requests
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _listen(self) -> None:
        """Give the reserved port up so the server can bind it."""
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None

    def _receive(self, request: Request) -> str:
        """Decide how to answer one export: the fault in force, after any delay."""
        with self._lock:
            self.attempts += 1
        fault = self.fault
        if fault == "hang":
            self._release.wait()
            return "hang"
        if fault == "slow":
            time.sleep(self.delay)
        if fault in ("ok", "slow"):
            with self._lock:
                self.requests.append(request)
            return "ok"
        return fault

    def _answer_other(self) -> str:
        """How a request of another signal (metrics) is answered: as traces, not kept."""
        if self.fault == "hang":
            self._release.wait()
        return "ok" if self.fault in ("ok", "slow") else self.fault

    def start(self, fault: str | None = None) -> None:
        """Stop refusing: serve on the port, answering with ``fault`` (default: unchanged)."""
        raise NotImplementedError

    def spans(self) -> Iterator[SpanData]:
        """Every span received so far, decoded by agent-otel's OTLP JSON reader."""
        with self._lock:
            requests = list(self.requests)
        for request in requests:
            yield from decode_traces(MessageToDict(request))

    def sessions(self) -> dict[str, agent_otel.AgentSession]:
        """The sessions received so far, by id."""
        return {s.id: s for s in agent_otel.sessions_from_spans(self.spans())}

    def wait_for(self, predicate: Any, timeout: float = 30.0) -> bool:
        """Wait until ``predicate(self)`` holds (exports arrive from another thread)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.02)
        return bool(predicate(self))

    def release(self) -> None:
        """Let requests that hang go (they are dropped unanswered); later ones hang no more."""
        self._release.set()

    def close(self) -> None:
        self.release()
        if self._reserved is not None:
            self._reserved.close()
            self._reserved = None


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        receiver = self.server.receiver
        if self.path == "/v1/traces":
            request = Request()
            request.ParseFromString(body)
            answer = receiver._receive(request)
        else:  # metrics: answered like traces, not kept
            answer = receiver._answer_other()
        if answer == "hang":
            self.close_connection = True  # released: drop the connection unanswered
            return
        status = 200 if answer == "ok" else int(answer)
        payload = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: OtlpHttpReceiver


class OtlpHttpReceiver(Receiver):
    """An OTLP/HTTP (protobuf) receiver; set ``OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf``."""

    name = "http"
    protocol = "http/protobuf"

    def __init__(self, fault: str = "ok", delay: float = 0.2) -> None:
        super().__init__(fault, delay)
        self._server: _HttpServer | None = None

    def start(self, fault: str | None = None) -> None:
        if fault is not None:
            self.fault = fault
        self._listen()
        server = _HttpServer(("127.0.0.1", self.port), _Handler)
        server.receiver = self
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self._server = server

    def close(self) -> None:
        super().close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


_GRPC_CODES = {"500": "INTERNAL", "429": "RESOURCE_EXHAUSTED"}


def _grpc_answer(answer: str, context: Any) -> None:
    """Abort the call unless ``answer`` is "ok"."""
    import grpc

    if answer == "hang":
        context.abort(grpc.StatusCode.UNAVAILABLE, "receiver closing")
    if answer != "ok":
        context.abort(getattr(grpc.StatusCode, _GRPC_CODES[answer]), f"fault {answer}")


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpGrpcReceiver) -> None:
        self.receiver = receiver

    def Export(self, request: Request, context: Any) -> Any:
        _grpc_answer(self.receiver._receive(request), context)
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OtlpGrpcReceiver) -> None:
        self.receiver = receiver

    def Export(self, request: Any, context: Any) -> Any:
        _grpc_answer(self.receiver._answer_other(), context)
        return metrics_service_pb2.ExportMetricsServiceResponse()


class OtlpGrpcReceiver(Receiver):
    """An OTLP/gRPC receiver (the exporters' default protocol); faults as HTTP status names
    (``"500"`` answers ``INTERNAL``, ``"429"`` ``RESOURCE_EXHAUSTED``)."""

    name = "grpc"
    protocol = "grpc"

    def __init__(self, fault: str = "ok", delay: float = 0.2) -> None:
        super().__init__(fault, delay)
        self._server: Any = None

    def start(self, fault: str | None = None) -> None:
        import grpc

        if fault is not None:
            self.fault = fault
        self._listen()
        server = grpc.server(futures.ThreadPoolExecutor(8))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(self), server)
        bound = server.add_insecure_port(f"127.0.0.1:{self.port}")
        if bound != self.port:
            raise RuntimeError(f"gRPC receiver could not bind port {self.port}")
        server.start()
        self._server = server

    def close(self) -> None:
        super().close()
        if self._server is not None:
            self._server.stop(0)
            self._server = None


RECEIVERS: dict[str, type[Receiver]] = {"http": OtlpHttpReceiver, "grpc": OtlpGrpcReceiver}


def make_receiver(protocol: str, fault: str = "ok", delay: float = 0.2) -> Receiver:
    """An OtlpHttpReceiver (``"http"``) or OtlpGrpcReceiver (``"grpc"``), not yet started."""
    return RECEIVERS[protocol](fault, delay)
