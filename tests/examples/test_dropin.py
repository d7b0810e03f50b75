"""examples/dropin/: the unmodified OpenAI app, run exactly as its README says, lands in the
store as one session with its LLM calls under it.

Both programs run as real subprocesses: the stand-in model server (``examples/llm_server.py``
on a free loopback port) and ``opentelemetry-instrument python examples/dropin/review.py``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent_otel
from agent_otel.semconv import (
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_STREAM,
    SPAN_AGENT_SESSION,
)
from agent_otel.store import read_spans

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"
APP = EXAMPLES / "dropin" / "review.py"
BIN = Path(sys.executable).parent
TIMEOUT = 120

# What the README's command sets (besides the endpoint and key of the stand-in).
README_ENV = {
    "AGENT_OTEL_AUTO_SESSION": "1",
    "AGENT_OTEL_SESSION_USER": "alice",
    "OTEL_SERVICE_NAME": "code-reviewer",
    "AGENT_OTEL_OPENAI_STREAM_USAGE": "always",
}


@pytest.fixture(scope="module")
def stand_in() -> Iterator[str]:
    """``python examples/llm_server.py --port 0``; yields the base URL it prints."""
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "llm_server.py"), "--port", "0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        banner = server.stdout.readline()  # printed before it serves; "" if it died
        found = re.search(r"http://127\.0\.0\.1:\d+/v1", banner)
        if found is None:
            server.kill()
            _, err = server.communicate(timeout=10)
            pytest.fail(f"the stand-in server did not start: {banner!r} {err}")
        yield found.group(0)
    finally:
        server.terminate()
        try:
            server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


def _environment(store: Path, base_url: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OTEL_", "AGENT_OTEL_", "OPENAI_"))
    }
    env.update(README_ENV)
    env.update(
        AGENT_OTEL_HOME=str(store),
        OPENAI_BASE_URL=base_url,
        OPENAI_API_KEY="local-demo",
        # agent-otel's configurator, should another one be installed in this environment
        OTEL_PYTHON_CONFIGURATOR="agent_otel",
        NO_PROXY="127.0.0.1",
        no_proxy="127.0.0.1",
    )
    return env


@pytest.fixture(scope="module")
def run(stand_in: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The README's command, once; returns the store directory and the app's output."""
    store = tmp_path_factory.mktemp("dropin") / "store"
    result = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, str(APP)],
        env=_environment(store, stand_in),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return store, result.stdout


def test_the_app_imports_no_telemetry_code() -> None:
    tree = ast.parse(APP.read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "openai" in imported
    assert not {m for m in imported if m.split(".")[0] in ("agent_otel", "opentelemetry")}


def test_the_app_works_unchanged(run: tuple[Path, str]) -> None:
    _, out = run
    assert "`add` is meant to add its arguments" in out  # the review, from the stand-in
    assert "corrected line:     return a + b" in out  # the streamed answer, whole


def test_the_run_is_one_completed_session(run: tuple[Path, str]) -> None:
    store, _ = run
    (session,) = agent_otel.read_sessions(store)
    assert session.status == "completed"
    assert session.user_id == "alice"
    assert session.agent_name == "code-reviewer"
    assert len(session.llm_calls) == 2
    for call in session.llm_calls:
        assert call.provider == "openai"
        assert call.model == "gpt-4o-mini-2024-07-18"
        assert call.usage.input_tokens > 0 and call.usage.output_tokens > 0
    assert session.total_tokens == sum(
        c.usage.input_tokens + c.usage.output_tokens for c in session.llm_calls
    )
    if all(c.usage.cost is not None for c in session.llm_calls):  # priced (Python >= 3.11)
        assert session.total_cost == pytest.approx(sum(c.usage.cost for c in session.llm_calls))
        assert session.total_cost > 0


def test_the_llm_spans_are_children_of_the_session_span(run: tuple[Path, str]) -> None:
    store, _ = run
    spans = list(read_spans(store))
    (root,) = [s for s in spans if s.name.startswith(SPAN_AGENT_SESSION)]
    assert root.parent_span_id is None
    calls = [s for s in spans if s.attributes.get(GEN_AI_PROVIDER_NAME) == "openai"]
    assert len(calls) == 2
    for call in calls:
        assert call.kind == "CLIENT"
        assert (call.trace_id, call.parent_span_id) == (root.trace_id, root.span_id)
    assert [c.attributes.get(GEN_AI_REQUEST_STREAM) for c in calls].count(True) == 1


def test_the_cli_lists_the_session(run: tuple[Path, str]) -> None:
    store, _ = run
    listed = subprocess.run(
        [str(BIN / "agent-otel"), "--store", str(store), "sessions", "--json"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    (row,) = json.loads(listed.stdout)
    assert (row["user_id"], row["status"], row["agent_name"]) == (
        "alice",
        "completed",
        "code-reviewer",
    )
