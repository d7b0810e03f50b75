"""``agent-otel export``, run as users run it, from a store written by the real library to
real OTLP receivers on loopback (see otlp_receivers.py): what arrives must be exactly what was
stored — ids, parents, timestamps, attributes, events, links, status, trace state, flags,
resource and scope."""

from __future__ import annotations

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_otel.store import read_spans
from agent_otel.store.lines import read_lines
from tests.cli.otlp_receivers import grpc_receiver, http_receiver, spans_by_id
from tests.cli.runner import SCRIPT, Result, clean_env, cli

HERE = Path(__file__).parent
ALPHA = "s-alpha-0001"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sessions of write_store.py (changes, an undo link, LLM calls of another scope, a
    failed session) and of remote_session.py (a remote parent, a trace state), one store."""
    home = tmp_path_factory.mktemp("export-store")
    env = clean_env(AGENT_OTEL_HOME=str(home), AGENT_OTEL_CAPTURE_CONTENT="true")
    for script in ("write_store.py", "remote_session.py"):
        subprocess.run([sys.executable, str(HERE / script)], env=env, check=True, timeout=120)
    return home


def stored(home: Path) -> dict[str, dict[str, Any]]:
    """Every stored span, with its resource and scope, keyed by span id."""
    return spans_by_id([json.loads(line.data) for line in read_lines(home)])


def export(home: Path, *args: str, **env: str) -> Result:
    return cli("export", *args, home=home, timeout=60, **env)


def test_http_round_trip_is_exact(store: Path) -> None:
    expected = stored(store)
    with http_receiver() as (url, received):
        result = export(
            store,
            "--to",
            url,
            "--batch-size",
            "4",
            "--header",
            "Authorization=t0k",
            OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-from-env=1",
        )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    traces = {span["span"]["traceId"] for span in expected.values()}
    assert result.stdout.startswith(
        f"Exported {len(expected)} spans of {len(traces)} traces to {url}/v1/traces in "
    )
    assert len(received.requests) == math.ceil(len(expected) / 4)
    for headers in received.headers:
        assert (headers["authorization"], headers["x-from-env"]) == ("t0k", "1")
    assert spans_by_id(received.messages()) == expected
    assert_the_hard_parts_arrived(received.messages())
    # The same spans, read by the store's own reader, as SpanData.
    by_id = {s.span_id: s for s in received.spans()}
    assert by_id == {s.span_id: s for s in read_spans(store)}


def assert_the_hard_parts_arrived(messages: list[dict[str, Any]]) -> None:
    """Spell out the fields that an export most easily loses, beyond the equality above."""
    spans = spans_by_id(messages)
    # The session of remote_session.py, continuing the remote caller's trace.
    (remote,) = [s for s in spans.values() if s["span"].get("parentSpanId") == "00f067aa0ba902b7"]
    assert remote["span"]["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert remote["span"]["traceState"] == "vendor=abc,other=1"
    assert remote["span"]["flags"] == 0x300  # the parent is remote
    assert remote["scope"]["scope"]["version"]
    undo = next(s["span"] for s in spans.values() if s["span"].get("links"))
    (link,) = undo["links"]
    assert link["spanId"] in spans
    assert any(
        e["name"] == "agent.change" for s in spans.values() for e in s["span"].get("events", [])
    )
    failed = [s for s in spans.values() if s["span"].get("status", {}).get("code") == 2]
    assert {s["span"]["status"]["message"] for s in failed} >= {"RuntimeError: model exploded"}


@pytest.mark.parametrize("form", ["grpc://{}", "http://{} --protocol grpc"])
def test_grpc_round_trip_is_exact(store: Path, form: str) -> None:
    expected = stored(store)
    with grpc_receiver() as (address, received):
        to, *protocol = form.format(address).split()
        result = export(
            store,
            "--to",
            to,
            *protocol,
            "--header",
            "X-Tenant=acme",
            OTEL_EXPORTER_OTLP_HEADERS="x-from-env=1,x-tenant=overridden",
        )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert f"to grpc://{address} in " in result.stdout
    for headers in received.headers:
        assert (headers["x-tenant"], headers["x-from-env"]) == ("acme", "1")
    assert spans_by_id(received.messages()) == expected
    assert_the_hard_parts_arrived(received.messages())


def test_one_session(store: Path) -> None:
    alpha = cli("show", ALPHA, "--json", home=store).json()
    expected = {k: v for k, v in stored(store).items() if v["span"]["traceId"] == alpha["trace_id"]}
    with http_receiver() as (url, received):
        result = export(store, "--to", url, "--session", "s-alph", "--json")
    assert result.returncode == 0, result.stderr
    assert result.json() == {"endpoint": f"{url}/v1/traces", "spans": len(expected), "traces": 1}
    assert spans_by_id(received.messages()) == expected


def test_unknown_or_ambiguous_session(store: Path) -> None:
    with http_receiver() as (url, received):
        unknown = export(store, "--to", url, "--session", "nope")
        ambiguous = export(store, "--to", url, "--session", "twin-a")
    assert (unknown.returncode, unknown.stderr) == (1, "agent-otel: no session matches 'nope'\n")
    assert ambiguous.returncode == 1
    assert ambiguous.stderr.startswith("agent-otel: 'twin-a' is ambiguous")
    assert received.requests == []


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound, never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_unreachable_endpoint_is_one_line(store: Path, closed_port: int, scheme: str) -> None:
    started = time.monotonic()
    result = export(store, "--to", f"{scheme}://127.0.0.1:{closed_port}")
    assert time.monotonic() - started < 10  # no retrying until a timeout
    assert result.returncode == 1
    assert result.stdout == ""
    path = "/v1/traces" if scheme == "http" else ""
    assert result.stderr == (
        f"agent-otel: cannot reach {scheme}://127.0.0.1:{closed_port}{path}: Connection refused\n"
    )


def test_endpoint_that_rejects_the_spans(store: Path) -> None:
    with http_receiver(status=400) as (url, _):
        result = export(store, "--to", url)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"agent-otel: export to {url}/v1/traces failed after 0 spans were sent: Failed to "
        "export spans batch code: 400, reason: Bad Request\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "localhost:4318"], "--to: expected a URL such as http://localhost:4318"),
        (["--to", "ftp://host"], "--to: expected a URL such as http://localhost:4318"),
        (["--to", "grpc://host:4317/v1/traces"], "--to: a gRPC endpoint has no path"),
        (
            ["--to", "grpc://host", "--protocol", "http/protobuf"],
            "--to: a grpc:// URL cannot be used with --protocol http/protobuf",
        ),
        (["--to", "http://host:99999"], "--to: Port out of range 0-65535"),
        (["--to", "http://host", "--header", "no-value"], "--header: expected KEY=VALUE"),
    ],
)
def test_bad_arguments(store: Path, args: list[str], message: str) -> None:
    result = export(store, *args)
    assert result.returncode == 1
    assert result.stderr.startswith(f"agent-otel: {message}")
    assert result.stderr.count("\n") == 1


def test_usage_errors(store: Path) -> None:
    assert export(store).returncode == 2  # --to is required
    assert export(store, "--to", "http://h", "--batch-size", "0").returncode == 2
    assert export(store, "--to", "http://h", "--timeout", "soon").returncode == 2


def test_corrupt_line_is_reported_and_the_rest_exported(store: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(store, damaged)
    traces = damaged / "traces.jsonl"
    lines = traces.read_bytes().splitlines(keepends=True)
    traces.write_bytes(b"".join([lines[0], b'{"resourceSpans": [{"scopeSpans": tru\n', *lines[1:]]))
    with http_receiver() as (url, received):
        result = export(damaged, "--to", url)
    assert result.returncode == 0, result.stderr
    (warning,) = result.stderr.splitlines()
    assert warning.startswith(f"agent-otel: warning: {traces}:2: skipped a corrupt")
    assert spans_by_id(received.messages()) == stored(store)


def test_missing_store(tmp_path: Path) -> None:
    result = export(tmp_path / "none", "--to", "http://127.0.0.1:4318")
    assert result.returncode == 1
    assert result.stderr.startswith(f"agent-otel: no telemetry store at {tmp_path / 'none'}")


def test_progress_bar_for_a_large_store_on_a_terminal(tmp_path: Path) -> None:
    """With stderr on a terminal, a store of several megabytes gets a progress bar there;
    stdout (a pipe) stays plain."""
    pty = pytest.importorskip("pty")
    home = tmp_path / "big"
    subprocess.run(
        [sys.executable, str(HERE / "live_agent.py"), "s-big", "5000"],
        env=clean_env(AGENT_OTEL_HOME=str(home)),
        check=True,
        timeout=120,
    )
    assert (home / "traces.jsonl").stat().st_size > 4 * 1024 * 1024
    controller, terminal = pty.openpty()
    with http_receiver() as (url, received):
        process = subprocess.Popen(
            [str(SCRIPT), "export", "--to", url],
            env=clean_env(AGENT_OTEL_HOME=str(home), TERM="xterm"),
            stdout=subprocess.PIPE,
            stderr=terminal,
            text=True,
        )
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal's other end closed: the process is done
                break
            if not chunk:
                break
            drawn += chunk
        stdout, _ = process.communicate(timeout=60)
    os.close(controller)
    assert process.returncode == 0
    assert f"Exporting to {url}/v1/traces".encode() in drawn
    assert stdout.startswith("Exported ") and "\x1b" not in stdout
    assert spans_by_id(received.messages()) == stored(home)
