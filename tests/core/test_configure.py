"""configure(): the standard OTEL_* variables, real OTLP over loopback, and the local store."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agent_otel
from agent_otel import semconv as sc

RUN_AGENT = str(Path(__file__).with_name("run_agent.py"))


def run_agent(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the sample agent with a clean environment plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    proc = subprocess.run(
        [sys.executable, RUN_AGENT, *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def _spans(requests: list[trace_service_pb2.ExportTraceServiceRequest]):  # type: ignore[no-untyped-def]
    for request in requests:
        for rs in request.resource_spans:
            resource = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    yield resource, span


class _OtlpHttp(BaseHTTPRequestHandler):
    received: list[trace_service_pb2.ExportTraceServiceRequest]
    headers_seen: list[dict[str, str]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path == "/v1/traces":
            request = trace_service_pb2.ExportTraceServiceRequest()
            request.ParseFromString(body)
            self.server.received.append(request)  # type: ignore[attr-defined]
            self.server.headers_seen.append(dict(self.headers))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def otlp_http() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtlpHttp)
    server.received = []  # type: ignore[attr-defined]
    server.headers_seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def test_otlp_http_from_standard_variables(otlp_http, tmp_path: Path) -> None:
    port = otlp_http.server_address[1]
    run_agent(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "from-env",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=test,team=agents",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=s3cret",
            "OTEL_METRICS_EXPORTER": "none",
            "AGENT_OTEL_HOME": str(tmp_path),
        },
        "2",
        "http",
    )
    spans = list(_spans(otlp_http.received))
    names = sorted(span.name for _, span in spans)
    assert names.count("agent.session") == 2
    assert names.count("execute_tool read") == 2 and names.count("chat m") == 2
    for resource, _ in spans:
        assert resource["service.name"] == "from-env"  # the variable wins over the code
        assert resource["team"] == "agents"
    assert all(h.get("x-api-key") == "s3cret" for h in otlp_http.headers_seen)
    # every span of a session carries its id, including the other library's span
    for _, span in spans:
        attrs = {kv.key: kv.value.string_value for kv in span.attributes}
        assert attrs[sc.SESSION_ID].startswith("http-")
    assert not list(tmp_path.iterdir()), "nothing may go to the local store when OTLP is set"


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.received: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request, context):  # type: ignore[no-untyped-def]
        self.received.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


def test_otlp_grpc_is_the_default_protocol(tmp_path: Path) -> None:
    import grpc

    service = _TraceService()
    server = grpc.server(futures.ThreadPoolExecutor(2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(service, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        run_agent(
            {
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{port}",
                "OTEL_METRICS_EXPORTER": "none",
                "AGENT_OTEL_HOME": str(tmp_path),
            },
            "1",
            "grpc",
        )
    finally:
        server.stop(0)
    names = sorted(span.name for _, span in _spans(service.received))
    assert names == ["agent.session", "chat m", "execute_tool read", "execute_tool write"]
    resource = next(iter(_spans(service.received)))[0]
    assert resource["service.name"] == "run-agent"


def test_nothing_configured_writes_the_local_store(tmp_path: Path) -> None:
    run_agent({"AGENT_OTEL_HOME": str(tmp_path)}, "3", "store")
    sessions = agent_otel.read_sessions(tmp_path)
    assert [s.id for s in sessions] == ["store-0", "store-1", "store-2"]
    for s in sessions:
        assert s.user_id == "store-user" and s.status == "completed"
        assert s.total_tokens == 12 and s.operation_count == 2
        assert s.service_name == "run-agent"
        assert s.operations[1].changes[0].diff_lines == 4000


def test_store_selected_by_exporter_name_and_typo_falls_back(tmp_path: Path) -> None:
    run_agent({"AGENT_OTEL_HOME": str(tmp_path / "a"), "OTEL_TRACES_EXPORTER": "agent_otel_store"})
    assert len(agent_otel.read_sessions(tmp_path / "a")) == 1
    proc = run_agent({"AGENT_OTEL_HOME": str(tmp_path / "b"), "OTEL_TRACES_EXPORTER": "otlpp"})
    assert "no exporter named 'otlpp'" in proc.stderr
    assert "writing to the local store instead" in proc.stderr
    assert len(agent_otel.read_sessions(tmp_path / "b")) == 1


def test_two_processes_share_one_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))} | {
        "AGENT_OTEL_HOME": str(tmp_path),
        "AGENT_OTEL_CAPTURE_CONTENT": "true",
    }
    procs = [
        subprocess.Popen([sys.executable, RUN_AGENT, "40", tag], env=env, stderr=subprocess.PIPE)
        for tag in ("left", "right")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    sessions = agent_otel.read_sessions(tmp_path)
    assert sorted(s.id for s in sessions) == sorted(
        f"{tag}-{i}" for tag in ("left", "right") for i in range(40)
    )
    for s in sessions:
        (change,) = s.operations[1].changes
        assert change.before == "x\n" * 2000  # large lines arrived whole


def test_configure_is_idempotent_and_joins_an_existing_provider(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tel = agent_otel.configure(tracer_provider=provider, set_global=False)
    try:
        assert agent_otel.configure(service_name="ignored") is tel
        assert tel.owns_providers is False
        with agent_otel.session(user_id="u"):
            pass
        assert [s.name for s in exporter.get_finished_spans()] == ["agent.session"]
    finally:
        tel.shutdown()
    assert not list(tmp_path.iterdir())


def test_global_sdk_provider_is_joined(tmp_path: Path) -> None:
    """An app (or opentelemetry-instrument) already set up the SDK: agent-otel joins it."""
    script = f"""
import sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import agent_otel
mem = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(mem))
trace.set_tracer_provider(provider)
tel = agent_otel.configure(service_name="x")
assert tel.tracer_provider is provider and not tel.owns_providers
with agent_otel.session(user_id="u"):
    with trace.get_tracer("lib").start_as_current_span("lib span"):
        pass
spans = {{s.name: s for s in mem.get_finished_spans()}}
assert set(spans) == {{"agent.session", "lib span"}}, spans
assert "{sc.SESSION_ID}" in spans["lib span"].attributes
print("joined")
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    env["AGENT_OTEL_HOME"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "joined" in proc.stdout
    assert not list(tmp_path.iterdir())


def test_session_without_configure_configures_from_environment(tmp_path: Path) -> None:
    script = """
import agent_otel
with agent_otel.session(user_id="lazy", session_id="lazy-1"):
    with agent_otel.operation("read", "x"):
        pass
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    env["AGENT_OTEL_HOME"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    # the SDK's exit hook flushed the batch processor into the store
    (session,) = agent_otel.read_sessions(tmp_path)
    assert session.id == "lazy-1" and session.operation_count == 1


def test_span_exporters_argument(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    tel = agent_otel.configure(
        "svc", span_exporters=[exporter], metric_readers=[], set_global=False
    )
    try:
        with agent_otel.session(user_id="u"):
            pass
        tel.force_flush()
        (span,) = exporter.get_finished_spans()
        assert span.resource.attributes["service.name"] == "svc"
        assert trace.get_tracer_provider() is not tel.tracer_provider
    finally:
        tel.shutdown()
    assert not list(tmp_path.iterdir())
