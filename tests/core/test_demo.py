"""The README's demo and the local OpenAI-compatible server it talks to.

The demo runs as users run it — a subprocess with no OpenAI settings, so it starts its own
loopback server — and its session is read back from the store it wrote. The server is also
tested alone, through the real ``openai`` SDK, against the shapes the real API uses.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import agent_otel
from agent_otel import semconv as sc
from agent_otel.records import AgentSession
from agent_otel.store import read_spans

openai = pytest.importorskip("openai")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MODEL = "gpt-4o-mini"
SNAPSHOT = "gpt-4o-mini-2024-07-18"
CONTEXT = (
    "The tests of calc fail. Find the bug and fix it.\n\n"
    "README.md:\nRun the tests with `python test_calc.py`.\n\n"
    "calc.py:\ndef add(a, b):\n    return a - b\n"
)
RUN_TOOL = {
    "type": "function",
    "function": {
        "name": "run_command",
        "description": "Run a shell command.",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    },
}
has_prices = importlib.util.find_spec("genai_prices") is not None


def _load_server_module() -> ModuleType:
    """examples/ is not a package; load llm_server.py by path, as the demo's own import does
    when run as a script."""
    spec = importlib.util.spec_from_file_location("llm_server", EXAMPLES / "llm_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["llm_server"] = module
    spec.loader.exec_module(module)
    return module


llm_server = _load_server_module()


# -- the demo ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[AgentSession, Path, str, float]:
    """Run the demo once: (its session, the store, its stdout, seconds it took)."""
    store = tmp_path_factory.mktemp("store")
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "OTEL_", "AGENT_OTEL_"))
    }
    env["AGENT_OTEL_HOME"] = str(store)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "demo_agent.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    sessions = agent_otel.read_sessions(store)
    assert len(sessions) == 1
    return sessions[0], store, done.stdout, elapsed


def test_demo_prints_the_line_demo_sh_parses(demo: tuple[AgentSession, Path, str, float]) -> None:
    session, store, stdout, elapsed = demo
    assert f"session {session.id} recorded to {store}\n" in stdout
    assert "local rule-based stand-in at http://127.0.0.1:" in stdout
    # The README promises a quick demo (< 5 s on a laptop); leave room for a busy CI machine.
    assert elapsed < 30


def test_demo_session_shows_every_kind_of_operation(
    demo: tuple[AgentSession, Path, str, float],
) -> None:
    session = demo[0]
    assert session.status == "completed"
    assert session.model == MODEL
    ops = session.operations
    assert {op.type for op in ops} == {"read", "write", "execute", "query"}
    assert session.operation_count == len(ops)
    statuses = [op.status for op in ops]
    assert statuses.count("blocked") == 1
    assert statuses.count("failed") == 1
    assert statuses.count("success") == len(ops) - 2

    executes = [op for op in ops if op.type == "execute"]
    assert [op.status for op in executes] == ["blocked", "failed", "success"]
    # The test command is the one the model asked for with its tool call.
    assert executes[1].target == executes[2].target == "python test_calc.py"
    assert executes[1].exit_code == 1 and executes[2].exit_code == 0
    assert "2 passed" in (executes[2].result or "")

    fix = next(op for op in ops if op.type == "write" and op.target == "calc.py")
    assert fix.approved and fix.approved_by == "bob"
    (change,) = fix.changes
    assert "-    return a - b" in (change.diff or "")
    assert "+    return a + b" in (change.diff or "")

    undone = [c for op in ops for c in op.changes if c.undo_operation_id]
    assert len(undone) == 1 and undone[0].path == "README.md"
    undo_op = next(op for op in ops if op.id == undone[0].undo_operation_id)
    assert undo_op.undoes_change_id == undone[0].id


def test_demo_llm_calls_sit_under_their_operations(
    demo: tuple[AgentSession, Path, str, float],
) -> None:
    session = demo[0]
    with_calls = [op for op in session.operations if op.llm_calls]
    assert [(op.type, len(op.llm_calls)) for op in with_calls] == [
        ("query", 1),  # the plan
        ("query", 1),  # the tool call that asks to run the tests
        ("write", 1),  # the streamed patch
    ]
    calls = [call for op in with_calls for call in op.llm_calls]
    assert {c.span_id for c in calls} == {c.span_id for c in session.llm_calls}
    for op in with_calls:
        (call,) = op.llm_calls
        assert call.operation_id == op.id
        assert call.model == SNAPSHOT
        assert call.provider == "openai"
        assert call.status != "ERROR"
        assert call.usage.input_tokens > 0 and call.usage.output_tokens > 0
        assert op.input_tokens == call.usage.input_tokens
        assert op.output_tokens == call.usage.output_tokens
    # Each request repeats the conversation so far: later ones read it from the prompt cache.
    assert calls[0].usage.cache_read_tokens == 0
    assert 0 < calls[1].usage.cache_read_tokens < calls[1].usage.input_tokens
    assert 0 < calls[2].usage.cache_read_tokens < calls[2].usage.input_tokens


def test_demo_session_totals_are_the_sum_of_its_llm_calls(
    demo: tuple[AgentSession, Path, str, float],
) -> None:
    session = demo[0]
    calls = session.llm_calls
    assert len(calls) == 3
    assert session.total_tokens == sum(c.usage.input_tokens + c.usage.output_tokens for c in calls)
    assert session.total_tokens > 0
    if not has_prices:
        pytest.skip("genai-prices is not installed (Python 3.10): costs are unknown")
    assert session.total_cost > 0
    assert session.total_cost == pytest.approx(sum(c.usage.cost for c in calls))
    assert all(c.usage.cost > 0 for c in calls)


def test_demo_streamed_call_has_usage(demo: tuple[AgentSession, Path, str, float]) -> None:
    session, store, _, _ = demo
    streamed = {
        s.span_id for s in read_spans(store) if s.attributes.get(sc.GEN_AI_REQUEST_STREAM) is True
    }
    calls = [c for c in session.llm_calls if c.span_id in streamed]
    assert len(calls) == 1
    (call,) = calls
    write = next(op for op in session.operations if op.id == call.operation_id)
    assert write.type == "write"
    assert call.usage.input_tokens > 0 and call.usage.output_tokens > 0


# -- the server alone -------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[Any]:
    with llm_server.LocalLLMServer() as running:
        yield running


@pytest.fixture
def client(server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # A proxy from the environment must not get between the client and the loopback server.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0) as sdk:
        yield sdk


def _messages(text: str = CONTEXT) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are a coding assistant."},
        {"role": "user", "content": text},
    ]


def _tokens(text: str) -> int:
    """The server's documented rule: 4 characters a token, rounded up."""
    return math.ceil(len(text) / 4)


def _expected_prompt_tokens(messages: list[dict[str, Any]], tools: Any = None) -> int:
    """Documented too: 3 tokens of overhead per message and 3 per request, and the tool
    definitions counted as their compact JSON."""
    tool_text = json.dumps(tools, separators=(",", ":"), sort_keys=True) if tools else ""
    return _tokens(tool_text) + sum(3 + _tokens(m["content"]) for m in messages) + 3


def test_server_binds_to_loopback_only(server: Any) -> None:
    assert server.host == "127.0.0.1"
    assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
    assert server.port > 0


def test_non_streamed_answer_plans_the_fix(client: Any) -> None:
    messages = _messages()
    response = client.chat.completions.create(model=MODEL, messages=messages)
    assert response.object == "chat.completion"
    assert response.model == SNAPSHOT
    (choice,) = response.choices
    assert choice.finish_reason == "stop"
    answer = choice.message.content
    assert answer.startswith("Plan:")
    assert "`return a - b`" in answer and "`return a + b`" in answer
    assert "`python test_calc.py`" in answer
    usage = response.usage
    assert usage.prompt_tokens == _expected_prompt_tokens(messages)
    assert usage.completion_tokens == _tokens(answer)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.cached_tokens == 0

    # Deterministic, and the repeated prompt is now read from the cache (all but priming).
    again = client.chat.completions.create(model=MODEL, messages=messages)
    assert again.choices[0].message.content == answer
    assert again.id != response.id
    cached = again.usage.prompt_tokens_details.cached_tokens
    assert cached == usage.prompt_tokens - llm_server.REPLY_PRIMING_TOKENS


def test_patch_request_answers_with_the_fixed_line(client: Any) -> None:
    messages = [*_messages(), {"role": "user", "content": "Reply with only the fixed line."}]
    response = client.chat.completions.create(model=MODEL, messages=messages)
    assert response.choices[0].message.content == "    return a + b"


def test_stream_without_usage_has_no_usage_key(client: Any) -> None:
    messages = _messages()
    expected = client.chat.completions.create(model=MODEL, messages=messages)
    chunks = list(client.chat.completions.create(model=MODEL, messages=messages, stream=True))
    assert all(c.object == "chat.completion.chunk" and c.model == SNAPSHOT for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert all("usage" not in c.model_fields_set and c.usage is None for c in chunks)
    assert all(len(c.choices) == 1 for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks[-2:]] == [None, "stop"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == expected.choices[0].message.content


def test_stream_with_usage_ends_with_a_usage_chunk(client: Any) -> None:
    messages = _messages("Find the bug.\n\ndef mul(a, b):\n    return a + b\n")
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    *content, last = chunks
    # As on api.openai.com: "usage": null on every chunk, then one with empty choices.
    assert all("usage" in c.model_fields_set and c.usage is None for c in content)
    assert all(len(c.choices) == 1 for c in content)
    assert content[-1].choices[0].finish_reason == "stop"
    assert last.choices == []
    text = "".join(c.choices[0].delta.content or "" for c in content)
    assert "`return a * b`" in text
    assert last.usage.prompt_tokens == _expected_prompt_tokens(messages)
    assert last.usage.completion_tokens == _tokens(text)
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens


def test_raw_event_stream_is_framed_like_the_api(server: Any) -> None:
    body = {"model": MODEL, "messages": _messages(), "stream": True}
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxies
    with opener.open(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        raw = response.read().decode()
    events = raw.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    payloads = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert all(e.startswith("data: ") for e in events[:-1])
    assert all("usage" not in p for p in payloads)


def test_tool_call_asks_to_run_the_tests(client: Any) -> None:
    messages = [*_messages(), {"role": "user", "content": "Run the tests."}]
    response = client.chat.completions.create(model=MODEL, messages=messages, tools=[RUN_TOOL])
    (choice,) = response.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "run_command"
    assert json.loads(call.function.arguments) == {"command": "python test_calc.py"}
    assert response.usage.prompt_tokens == _expected_prompt_tokens(messages, [RUN_TOOL])

    # With tool_choice "none" the same request gets words, not a call.
    words = client.chat.completions.create(
        model=MODEL, messages=messages, tools=[RUN_TOOL], tool_choice="none"
    )
    assert words.choices[0].message.tool_calls is None


def test_streamed_tool_call_arrives_in_pieces(client: Any) -> None:
    messages = [*_messages(), {"role": "user", "content": "Please go on."}]
    chunks = list(
        client.chat.completions.create(
            model=MODEL,
            messages=messages,
            tools=[RUN_TOOL],
            tool_choice={"type": "function", "function": {"name": "run_command"}},
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    head = deltas[0].tool_calls[0]
    assert head.id.startswith("call_") and head.function.name == "run_command"
    arguments = "".join(
        d.tool_calls[0].function.arguments or "" for d in deltas if d.tool_calls is not None
    )
    assert json.loads(arguments) == {"command": "python test_calc.py"}
    assert chunks[-2].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].usage.completion_tokens > 0


def test_tool_result_is_judged(client: Any) -> None:
    messages = [
        *_messages(),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "run_command", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Traceback ...\nAssertionError"},
    ]
    response = client.chat.completions.create(model=MODEL, messages=messages, tools=[RUN_TOOL])
    assert response.choices[0].message.content.startswith("The tests fail: AssertionError")


def test_models_and_errors(client: Any) -> None:
    ids = {m.id for m in client.models.list().data}
    assert {MODEL, SNAPSHOT} <= ids
    assert client.models.retrieve(MODEL).id == MODEL
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")
    with pytest.raises(openai.BadRequestError, match="stream_options"):
        client.chat.completions.create(
            model=MODEL, messages=_messages(), stream_options={"include_usage": True}
        )
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model=MODEL, messages=[])


def test_max_tokens_cuts_the_answer(client: Any) -> None:
    response = client.chat.completions.create(model=MODEL, messages=_messages(), max_tokens=5)
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 5


@pytest.mark.skipif(not has_prices, reason="genai-prices is not installed (Python 3.10)")
def test_every_snapshot_has_a_price() -> None:
    from agent_otel.cost import PriceBook, TokenUsage

    book = PriceBook()
    for snapshot in llm_server.SNAPSHOTS.values():
        cost = book.cost("openai", snapshot, TokenUsage(input_tokens=1000, output_tokens=100))
        assert cost is not None and cost > 0, snapshot


def test_stop_ends_kept_alive_connections_and_frees_the_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    before = set(threading.enumerate())
    server = llm_server.LocalLLMServer().start()
    sdk = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    sdk.chat.completions.create(model=MODEL, messages=_messages())  # leaves a pooled connection
    started = time.perf_counter()
    server.stop()
    assert time.perf_counter() - started < 5
    assert set(threading.enumerate()) <= before
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=1):
        pass
    sdk.close()
