"""Real programs for the collector tests: the Collector built from our manifest, Jaeger v2 and
Prometheus, each a subprocess on free 127.0.0.1 ports, started and stopped by :class:`Programs`.

The binaries come from ``scripts/backends.sh`` (its ``--check`` mode names them without ever
building) or from ``AGENT_OTEL_OTELCOL`` / ``AGENT_OTEL_JAEGER``; ``prometheus`` from PATH
(``scripts/prometheus.sh``). Without them the tests skip, saying what to run, unless
``AGENT_OTEL_REQUIRE_BACKENDS=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest
import yaml

from agent_otel.spandata import SpanData
from agent_otel.store.otlp_json import decode_traces

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "collector-config"
BACKENDS_SCRIPT = ROOT / "scripts" / "backends.sh"
JAEGER_CONFIG = Path(__file__).with_name("jaeger.yaml")
OTELCOL_ENV = "AGENT_OTEL_OTELCOL"
JAEGER_ENV = "AGENT_OTEL_JAEGER"
REQUIRE_ENV = "AGENT_OTEL_REQUIRE_BACKENDS"
# Read at import, before tests/conftest.py clears AGENT_OTEL_* for each test.
REQUIRED = os.environ.get(REQUIRE_ENV) == "1"

STARTUP_TIMEOUT = 30.0
HTTP_TIMEOUT = 5.0
STOP_TIMEOUT = 10.0
LOG_TAIL = 6000

T = TypeVar("T")


def missing(why: str) -> NoReturn:
    """Skip the test because a program is missing, or fail it where they are required."""
    if REQUIRED:
        pytest.fail(f"{why} ({REQUIRE_ENV}=1)")
    pytest.skip(why)


@dataclass(frozen=True)
class Binaries:
    otelcol: Path
    jaeger: Path


@functools.cache
def find_binaries() -> Binaries | str:
    """The built Collector and Jaeger, or why they cannot be had. Read once per session,
    before the per-test environment clean-up of tests/conftest.py hides the variables."""
    found: dict[str, str] = {}
    if os.environ.get(OTELCOL_ENV) and os.environ.get(JAEGER_ENV):
        found = {"OTELCOL": os.environ[OTELCOL_ENV], "JAEGER": os.environ[JAEGER_ENV]}
    else:
        if shutil.which("go") is None:
            return "the Go toolchain is not on PATH: scripts/backends.sh needs it to build them"
        done = subprocess.run(
            [str(BACKENDS_SCRIPT), "--check"], capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            return done.stderr.strip() or f"{BACKENDS_SCRIPT} --check failed"
        for line in done.stdout.splitlines():
            name, _, value = line.partition("=")
            found[name] = value
    binaries = Binaries(Path(found["OTELCOL"]), Path(found["JAEGER"]))
    for path in (binaries.otelcol, binaries.jaeger):
        if not os.access(path, os.X_OK):
            return f"{path} is not an executable file; run scripts/backends.sh"
    return binaries


def require_binaries() -> Binaries:
    found = find_binaries()
    if isinstance(found, str):
        missing(found)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def loopback() -> str:
    """A free ``127.0.0.1:port`` endpoint."""
    return f"127.0.0.1:{free_port()}"


def get_json(url: str, **params: str) -> Any:
    """GET ``url`` as JSON; None on 404 (Jaeger's answer for a trace it does not have)."""
    if params:
        url = f"{url}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass
class Program:
    """One started process; its stdout and stderr go to ``log_path``."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return text if len(text) <= LOG_TAIL else "...\n" + text[-LOG_TAIL:]

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)


# Every program running now, for the failure report (see conftest.py).
RUNNING: list[Program] = []


@dataclass
class Programs:
    """Starts programs in ``workdir`` and stops every one of them in :meth:`stop_all`."""

    workdir: Path
    started: list[Program] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: Mapping[str, str], ready_url: str) -> Program:
        """Start ``argv`` and wait until ``ready_url`` answers 200; fail with the program's
        log if it exits or does not get ready in time."""
        log_path = self.workdir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv,
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
            )
        program = Program(name, process, log_path)
        self.started.append(program)
        RUNNING.append(program)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not http_ok(ready_url):
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{program.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{name} was not ready at {ready_url} in time:\n{program.log()}")
            time.sleep(0.1)
        return program

    def stop_all(self) -> None:
        for program in reversed(self.started):
            program.stop()
        self.started.clear()


def base_env() -> dict[str, str]:
    """The environment for a program: this one without OTEL_* / AGENT_OTEL_* settings, and
    with loopback exempt from any proxy (Go's and Python's gRPC clients honour *_PROXY)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(filter(None, [env.get(name, ""), "127.0.0.1", "localhost"]))
    return env


@dataclass
class Collector:
    """A running Collector and the endpoints it was given."""

    program: Program
    env: dict[str, str]

    @property
    def otlp_grpc(self) -> str:
        return self.env["OTELCOL_OTLP_GRPC_ENDPOINT"]


def start_collector(
    programs: Programs,
    binaries: Binaries,
    name: str,
    configs: list[str],
    env: Mapping[str, str],
) -> Collector:
    """``otelcol-agent-otel --config collector-config/<c>`` for each of ``configs``, with
    every endpoint a free loopback port unless ``env`` names it."""
    full = base_env()
    full.update(
        OTELCOL_OTLP_GRPC_ENDPOINT=loopback(),
        OTELCOL_OTLP_HTTP_ENDPOINT=loopback(),
        OTELCOL_HEALTH_ENDPOINT=loopback(),
        OTELCOL_METRICS_HOST="127.0.0.1",
        OTELCOL_METRICS_PORT=str(free_port()),
    )
    full.update(env)
    argv = [str(binaries.otelcol)]
    for config in configs:
        argv += ["--config", str(CONFIG_DIR / config)]
    ready = f"http://{full['OTELCOL_HEALTH_ENDPOINT']}/"
    return Collector(programs.start(name, argv, full, ready), full)


@dataclass
class Jaeger:
    """A running Jaeger v2 (all-in-one, in-memory storage)."""

    program: Program
    otlp_grpc: str
    query_url: str

    def trace(self, trace_id: str) -> list[SpanData] | None:
        """The spans Jaeger has of ``trace_id`` (its api/v3 answers in OTLP JSON, which the
        store's own decoder reads), or None when it has none."""
        body = get_json(f"{self.query_url}/api/v3/traces/{trace_id}")
        if body is None:
            return None
        return decode_traces(body["result"])

    def find(self, service: str, since: datetime) -> dict[str, list[SpanData]]:
        """The traces of ``service`` that started after ``since``, by trace id."""
        body = get_json(
            f"{self.query_url}/api/v3/traces",
            **{
                "query.service_name": service,
                "query.start_time_min": since.isoformat(),
                "query.start_time_max": (
                    datetime.now(timezone.utc) + timedelta(hours=1)
                ).isoformat(),
                "query.num_traces": "1000",
            },
        )
        traces: dict[str, list[SpanData]] = defaultdict(list)
        for span in decode_traces(body["result"]) if body else []:
            traces[span.trace_id].append(span)
        return dict(traces)


def start_jaeger(programs: Programs, binaries: Binaries, name: str) -> Jaeger:
    otlp_grpc = loopback()
    query_http = loopback()
    env = base_env()
    env.update(
        JAEGER_OTLP_GRPC_ENDPOINT=otlp_grpc,
        JAEGER_QUERY_HTTP_ENDPOINT=query_http,
        JAEGER_QUERY_GRPC_ENDPOINT=loopback(),
    )
    argv = [str(binaries.jaeger), "--config", f"file:{JAEGER_CONFIG}"]
    program = programs.start(name, argv, env, f"http://{query_http}/api/services")
    return Jaeger(program, otlp_grpc, f"http://{query_http}")


@dataclass
class Prometheus:
    """A running Prometheus server that scrapes its targets every second."""

    program: Program
    url: str

    def query(self, promql: str) -> list[dict[str, Any]]:
        body = get_json(f"{self.url}/api/v1/query", query=promql)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result


def start_prometheus(programs: Programs, name: str, targets: list[str]) -> Prometheus:
    executable = shutil.which("prometheus")
    if executable is None:
        missing("`prometheus` is not on PATH; run scripts/prometheus.sh")
    workdir = programs.workdir / name
    workdir.mkdir()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "gateways", "static_configs": [{"targets": targets}]}],
    }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    address = loopback()
    argv = [
        executable,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address={address}",
        "--log.level=warn",
    ]
    program = programs.start(name, argv, base_env(), f"http://{address}/-/ready")
    return Prometheus(program, f"http://{address}")
