"""An agent run that sends planted secrets through every public path that takes content.

A *path* is one way text enters agent-otel: an argument of the public API (the session's
initial prompt, an operation's target, result, block reason, the texts and path of a
change...), an exception, or what an instrumented LLM client sends and receives (system and
user messages, tool-call arguments and results, completions, streamed chunks, error
messages). :func:`run` records each document of the corpus through one path, inside
sessions and operations as an agent would, with the real ``openai`` and ``anthropic`` SDKs
answered in-process by the fakes below (built on the instrumentation tests' fakes).

Paths in :data:`MISUSE` call the API wrongly on purpose: their warnings quote the value,
and must not quote a secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import agent_otel
from tests.instrumentation import anthropic_server, openai_server
from tests.instrumentation.sdk_http import http_library
from tests.security.corpus import Document, Secret

openai_httpx = http_library("openai")
anthropic_httpx = http_library("anthropic")

NEUTRAL = "Done: the tests pass."


def thirds(text: str) -> list[str]:
    """``text`` in three pieces, so that a streamed secret is split across chunks."""
    a, b = len(text) // 3, 2 * len(text) // 3
    return [text[:a], text[a:b], text[b:]]


def tool_arguments(doc: Document) -> dict[str, Any]:
    """A document as the arguments of a tool call: tool-argument documents as the JSON
    object they are (so keys such as ``password`` sit next to their values), others as the
    text of one argument."""
    if doc.category == "tool-args":
        value = json.loads(doc.text)
        if isinstance(value, dict):
            return value
    return {"input": doc.text}


@dataclass
class Answer:
    """What the fake APIs answer the next call with; reset after each call."""

    text: str = NEUTRAL
    arguments: dict[str, Any] = field(default_factory=lambda: {"path": "README.md"})
    error: str | None = None


class SecretOpenAI(openai_server.FakeOpenAI):
    """The OpenAI fake, answering with :attr:`answer` (chat, streamed chat, Responses)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = Answer()

    def handler(self, request: Any) -> Any:
        answer, self.answer = self.answer, Answer()
        body = json.loads(request.content or b"{}")
        if answer.error is not None:
            error = {"message": answer.error, "type": "invalid_request_error", "param": None}
            return openai_httpx.Response(401, json={"error": {**error, "code": "invalid_api_key"}})
        path = request.url.path
        if path.endswith("/responses"):
            response = openai_server.responses_object()
            response["output"][1]["content"][0]["text"] = answer.text
            response["output"][2]["arguments"] = json.dumps(answer.arguments)
            return openai_httpx.Response(200, json=response)
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = openai_server.chat_chunks(include_usage=usage)
            deltas = [
                c["choices"][0]["delta"]
                for c in chunks
                if c["choices"] and c["choices"][0]["delta"].get("content")
            ]
            for delta, piece in zip(deltas, thirds(answer.text), strict=True):
                delta["content"] = piece
            return openai_httpx.Response(
                200,
                content=openai_server.sse(chunks),
                headers={"content-type": "text/event-stream"},
            )
        completion = openai_server.chat_completion(tool_call=True)
        message = completion["choices"][0]["message"]
        message["content"] = answer.text
        message["tool_calls"][0]["function"]["arguments"] = json.dumps(answer.arguments)
        return openai_httpx.Response(200, json=completion)


class SecretAnthropic(anthropic_server.FakeAnthropic):
    """The Anthropic fake, answering with :attr:`answer` (messages, streamed messages)."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = Answer()

    def handler(self, request: Any) -> Any:
        answer, self.answer = self.answer, Answer()
        body = json.loads(request.content or b"{}")
        headers = anthropic_server.HEADERS
        if answer.error is not None:
            error = anthropic_server.error_body("authentication_error", answer.error)
            return anthropic_httpx.Response(401, json=error, headers=headers)
        if body.get("stream"):
            events = anthropic_server.stream_events()
            deltas = [
                e["delta"]
                for e in events
                if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"
            ]
            for delta, piece in zip(deltas, thirds(answer.text), strict=True):
                delta["text"] = piece
            return anthropic_httpx.Response(
                200,
                content=anthropic_server.sse(events),
                headers={**headers, "content-type": "text/event-stream; charset=utf-8"},
            )
        message = anthropic_server.message(tool_use=True)
        message["content"][0]["text"] = answer.text
        message["content"][1]["input"] = answer.arguments
        return anthropic_httpx.Response(200, json=message, headers=headers)


class Agent:
    """The clients a run uses."""

    def __init__(self) -> None:
        self.openai_api = SecretOpenAI()
        self.anthropic_api = SecretAnthropic()
        self.openai = self.openai_api.sync_client()
        self.anthropic = self.anthropic_api.sync_client()


Path = Callable[[Agent, Document], None]
PATHS: dict[str, Path] = {}
MISUSE: list[str] = []  # paths that warn (AgentOtelWarning) by design


def path(name: str, misuse: bool = False) -> Callable[[Path], Path]:
    def register(fn: Path) -> Path:
        PATHS[name] = fn
        if misuse:
            MISUSE.append(name)
        return fn

    return register


# -- the agent API ----------------------------------------------------------------------------


@path("session(initial_prompt=...)")
def _initial_prompt(agent: Agent, doc: Document) -> None:
    with agent_otel.session(user_id="alice", initial_prompt=doc.text):
        pass


def _in_operation(kind: str, target: str, act: Callable[[agent_otel.Operation], None]) -> None:
    with agent_otel.session(user_id="alice"), agent_otel.operation(kind, target) as op:
        act(op)


@path("operation('read', target)")
def _read_target(agent: Agent, doc: Document) -> None:
    _in_operation("read", doc.text, lambda op: None)


@path("operation('write', target)")
def _write_target(agent: Agent, doc: Document) -> None:
    _in_operation("write", doc.text, lambda op: None)


@path("operation('execute', target)")
def _execute_target(agent: Agent, doc: Document) -> None:
    _in_operation("execute", doc.text, lambda op: op.set_exit_code(0))


@path("operation('query', target)")
def _query_target(agent: Agent, doc: Document) -> None:
    _in_operation("query", doc.text, lambda op: None)


@path("Operation.set_result(str)")
def _result(agent: Agent, doc: Document) -> None:
    _in_operation("execute", "make deploy", lambda op: op.set_result(doc.text))


@path("Operation.set_result(bytes)")
def _result_bytes(agent: Agent, doc: Document) -> None:
    _in_operation("read", "build.log", lambda op: op.set_result(doc.text.encode()))


@path("Operation.block(reason)")
def _block(agent: Agent, doc: Document) -> None:
    _in_operation("execute", "./deploy.sh", lambda op: op.block(doc.text))


@path("Operation.record_change(path)")
def _change_path(agent: Agent, doc: Document) -> None:
    _in_operation(
        "write",
        "config",
        lambda op: op.record_change(doc.text, "modify", before="a\n", after="b\n"),
    )


@path("Operation.record_change(before=...) and its diff")
def _change_before(agent: Agent, doc: Document) -> None:
    _in_operation("write", ".env", lambda op: op.record_change(".env", "delete", before=doc.text))


@path("Operation.record_change(after=...) and its diff")
def _change_after(agent: Agent, doc: Document) -> None:
    _in_operation(
        "write",
        "settings.py",
        lambda op: op.record_change("settings.py", "modify", before="# settings\n", after=doc.text),
    )


@path("Operation.record_change(after=bytes)")
def _change_after_bytes(agent: Agent, doc: Document) -> None:
    _in_operation(
        "write",
        "notes.txt",
        lambda op: op.record_change("notes.txt", "create", after=doc.text.encode()),
    )


@path("Session.pause(reason)")
def _pause(agent: Agent, doc: Document) -> None:
    with agent_otel.session(user_id="alice") as s:
        s.pause(doc.text)
        s.resume()


@path("Session.fail(message)")
def _session_fail(agent: Agent, doc: Document) -> None:
    with agent_otel.session(user_id="alice") as s:
        s.fail(doc.text)


@path("exception leaving a session")
def _session_exception(agent: Agent, doc: Document) -> None:
    try:
        with agent_otel.session(user_id="alice"):
            raise RuntimeError(doc.text)
    except RuntimeError:
        pass


@path("Operation.fail(message)")
def _operation_fail(agent: Agent, doc: Document) -> None:
    _in_operation("execute", "pytest", lambda op: op.fail(doc.text))


@path("Operation.fail(exception)")
def _operation_fail_exception(agent: Agent, doc: Document) -> None:
    _in_operation("execute", "pytest", lambda op: op.fail(ValueError(doc.text)))


@path("exception leaving an operation")
def _operation_exception(agent: Agent, doc: Document) -> None:
    try:
        with agent_otel.session(user_id="alice"), agent_otel.operation("execute", "make"):
            raise ConnectionError(doc.text)
    except ConnectionError:
        pass


# -- misuse: the warning shows the wrong value, and the value is recorded as text ---------------


@path("misuse: a list where text belongs", misuse=True)
def _wrong_type(agent: Agent, doc: Document) -> None:
    _in_operation("execute", "deploy", lambda op: op.block(doc.text.splitlines()))  # type: ignore[arg-type]


@path("misuse: an operation type outside the set", misuse=True)
def _wrong_choice(agent: Agent, doc: Document) -> None:
    _in_operation(doc.text, "deploy", lambda op: None)


@path("misuse: a call on an ended operation", misuse=True)
def _after_end(agent: Agent, doc: Document) -> None:
    with agent_otel.session(user_id="alice"), agent_otel.operation("execute", doc.text) as op:
        pass
    op.set_result("late")


# -- LLM calls through the instrumented SDKs ----------------------------------------------------


def _openai_chat(agent: Agent, messages: list[dict[str, Any]], **kwargs: Any) -> None:
    with agent_otel.session(user_id="alice"), agent_otel.operation("query", "plan"):
        reply = agent.openai.chat.completions.create(
            model=openai_server.MODEL, messages=messages, **kwargs
        )
        if kwargs.get("stream"):
            for _ in reply:
                pass


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


@path("openai: system message")
def _openai_system(agent: Agent, doc: Document) -> None:
    _openai_chat(agent, [{"role": "system", "content": doc.text}, _user("go on")])


@path("openai: user message")
def _openai_user(agent: Agent, doc: Document) -> None:
    _openai_chat(agent, [_user(doc.text)])


def _openai_tool_turn(arguments: dict[str, Any], result: str) -> list[dict[str, Any]]:
    call = {"id": "call_1", "type": "function"}
    call["function"] = {"name": "run", "arguments": json.dumps(arguments)}  # type: ignore[assignment]
    return [
        _user("deploy it"),
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": result},
    ]


@path("openai: tool-call arguments sent")
def _openai_tool_args(agent: Agent, doc: Document) -> None:
    _openai_chat(agent, _openai_tool_turn(tool_arguments(doc), "ok"))


@path("openai: tool result sent")
def _openai_tool_result(agent: Agent, doc: Document) -> None:
    _openai_chat(agent, _openai_tool_turn({"cmd": "env"}, doc.text))


@path("openai: completion text")
def _openai_answer(agent: Agent, doc: Document) -> None:
    agent.openai_api.answer.text = doc.text
    _openai_chat(agent, [_user("what changed?")])


@path("openai: tool-call arguments received")
def _openai_answer_args(agent: Agent, doc: Document) -> None:
    agent.openai_api.answer.arguments = tool_arguments(doc)
    _openai_chat(agent, [_user("run it")])


@path("openai: streamed completion")
def _openai_stream(agent: Agent, doc: Document) -> None:
    agent.openai_api.answer.text = doc.text
    _openai_chat(agent, [_user("explain")], stream=True)


@path("openai: Responses instructions and input")
def _openai_responses_input(agent: Agent, doc: Document) -> None:
    with agent_otel.session(user_id="alice"), agent_otel.operation("query", "plan"):
        agent.openai.responses.create(model="o4-mini", instructions=doc.text, input=doc.text)


@path("openai: Responses output")
def _openai_responses_output(agent: Agent, doc: Document) -> None:
    agent.openai_api.answer.text = doc.text
    agent.openai_api.answer.arguments = tool_arguments(doc)
    with agent_otel.session(user_id="alice"), agent_otel.operation("query", "plan"):
        agent.openai.responses.create(model="o4-mini", input="summarise")


@path("openai: API error message")
def _openai_error(agent: Agent, doc: Document) -> None:
    agent.openai_api.answer.error = doc.text
    try:
        _openai_chat(agent, [_user("hi")])
    except Exception as error:  # openai.AuthenticationError
        if "401" not in str(error):
            raise


def _anthropic_call(agent: Agent, messages: list[dict[str, Any]], **kwargs: Any) -> None:
    with agent_otel.session(user_id="alice"), agent_otel.operation("query", "plan"):
        if kwargs.pop("stream", False):
            with agent.anthropic.messages.stream(
                model=anthropic_server.MODEL, max_tokens=512, messages=messages, **kwargs
            ) as stream:
                for _ in stream.text_stream:
                    pass
        else:
            agent.anthropic.messages.create(
                model=anthropic_server.MODEL, max_tokens=512, messages=messages, **kwargs
            )


@path("anthropic: system prompt")
def _anthropic_system(agent: Agent, doc: Document) -> None:
    _anthropic_call(agent, [_user("go on")], system=doc.text)


@path("anthropic: user message")
def _anthropic_user(agent: Agent, doc: Document) -> None:
    _anthropic_call(agent, [_user(doc.text)])


def _anthropic_tool_turn(arguments: dict[str, Any], result: str) -> list[dict[str, Any]]:
    use = {"type": "tool_use", "id": "toolu_1", "name": "run", "input": arguments}
    done = {"type": "tool_result", "tool_use_id": "toolu_1", "content": result}
    return [
        _user("deploy it"),
        {"role": "assistant", "content": [use]},
        {"role": "user", "content": [done]},
    ]


@path("anthropic: tool_use input sent")
def _anthropic_tool_input(agent: Agent, doc: Document) -> None:
    _anthropic_call(agent, _anthropic_tool_turn(tool_arguments(doc), "ok"))


@path("anthropic: tool_result sent")
def _anthropic_tool_result(agent: Agent, doc: Document) -> None:
    _anthropic_call(agent, _anthropic_tool_turn({"cmd": "env"}, doc.text))


@path("anthropic: completion text")
def _anthropic_answer(agent: Agent, doc: Document) -> None:
    agent.anthropic_api.answer.text = doc.text
    _anthropic_call(agent, [_user("what changed?")])


@path("anthropic: tool_use input received")
def _anthropic_answer_input(agent: Agent, doc: Document) -> None:
    agent.anthropic_api.answer.arguments = tool_arguments(doc)
    _anthropic_call(agent, [_user("run it")])


@path("anthropic: streamed completion")
def _anthropic_stream(agent: Agent, doc: Document) -> None:
    agent.anthropic_api.answer.text = doc.text
    _anthropic_call(agent, [_user("explain")], stream=True)


@path("anthropic: API error message")
def _anthropic_error(agent: Agent, doc: Document) -> None:
    agent.anthropic_api.answer.error = doc.text
    try:
        _anthropic_call(agent, [_user("hi")])
    except Exception as error:  # anthropic.AuthenticationError
        if "401" not in str(error):
            raise


FIXED = [name for name in PATHS if name not in MISUSE]


def run(
    agent: Agent, documents: list[Document], paths: list[str], offset: int = 0
) -> list[tuple[Secret, str]]:
    """Record document ``i`` through ``paths[(i + offset) % len(paths)]``; return every
    planted secret with the path it went through."""
    planted = []
    for i, doc in enumerate(documents):
        name = paths[(i + offset) % len(paths)]
        PATHS[name](agent, doc)
        planted.extend((secret, name) for secret in doc.secrets)
    return planted
