"""Drop-in: an unmodified app under ``opentelemetry-instrument`` gets a session, LLM spans,
cost and roll-ups, with nothing but environment variables."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import agent_otel
from tests.instrumentation.openai_server import chat_completion

BIN = Path(sys.executable).parent
APP = """
import os, sys, time
import openai

client = openai.OpenAI()
reply = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hi"}]
)
print("app got:", reply.choices[0].message.content, flush=True)
mode = os.environ.get("APP_MODE", "ok")
if mode == "raise":
    raise RuntimeError("the app crashed")
if mode == "exit3":
    sys.exit(3)
if mode == "sleep":
    print("sleeping", flush=True)
    time.sleep(60)
"""


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps(chat_completion()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def llm_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def _run(tmp_path: Path, base_url: str, mode: str, **popen: object) -> subprocess.Popen[str]:
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(APP))
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_", "OPENAI_"))
    }
    env.update(
        AGENT_OTEL_HOME=str(tmp_path / "store"),
        AGENT_OTEL_AUTO_SESSION="1",
        AGENT_OTEL_SESSION_USER="dropin-user",
        OTEL_SERVICE_NAME="dropin-app",
        OTEL_PYTHON_CONFIGURATOR="agent_otel",
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY="sk-local",
        APP_MODE=mode,
    )
    return subprocess.Popen(
        [str(BIN / "opentelemetry-instrument"), sys.executable, str(app)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,  # type: ignore[arg-type]
    )


def _session(tmp_path: Path) -> agent_otel.AgentSession:
    (session,) = agent_otel.read_sessions(tmp_path / "store")
    return session


def test_unmodified_app_gets_session_llm_span_cost(tmp_path: Path, llm_server: str) -> None:
    proc = _run(tmp_path, llm_server, "ok")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "app got: Hello! How can I help?" in out
    session = _session(tmp_path)
    assert session.status == "completed"
    assert session.user_id == "dropin-user"
    assert session.agent_name == "dropin-app"
    (call,) = session.llm_calls
    assert call.model == "gpt-4o-mini-2024-07-18" and call.provider == "openai"
    assert (call.usage.input_tokens, call.usage.output_tokens) == (120, 30)
    assert call.usage.cost > 0
    assert session.total_tokens == 150
    assert session.total_cost == pytest.approx(call.usage.cost)


@pytest.mark.parametrize(
    ("mode", "status", "code"), [("raise", "failed", 1), ("exit3", "failed", 3)]
)
def test_auto_session_status_follows_the_process(
    tmp_path: Path, llm_server: str, mode: str, status: str, code: int
) -> None:
    proc = _run(tmp_path, llm_server, mode)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    session = _session(tmp_path)
    assert session.status == status
    assert len(session.llm_calls) == 1
    if mode == "raise":
        assert "the app crashed" in (session.error or "")


def test_sigterm_cancels_the_auto_session(tmp_path: Path, llm_server: str) -> None:
    proc = _run(tmp_path, llm_server, "sleep")
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while "sleeping" not in proc.stdout.readline():
        assert time.monotonic() < deadline and proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM
    session = _session(tmp_path)
    assert session.status == "cancelled"
    assert len(session.llm_calls) == 1
