"""A local OpenAI-compatible HTTP server whose "model" is a tiny rule-based stand-in.

Why it exists: the demo agent must make real LLM client calls — through the real ``openai``
SDK, over real HTTP, so that the instrumentation records real GenAI spans with tokens and
cost — on a machine without network access or an API key. This server gives it an endpoint
to talk to. It binds to 127.0.0.1 only and never opens a connection to anywhere.

The stand-in model is **not an AI**. It is a few dozen lines of rules that act like a coding
assistant on demo-sized problems (see :class:`StandInModel`):

- asked to find a bug, it looks for a two-argument function whose name and operator
  disagree (``def add(a, b): return a - b``) and answers with a plan to fix it;
- asked for a patch / the fixed line, it answers with the corrected line only;
- given ``tools`` and asked to run something (or forced by ``tool_choice``), it calls the
  tool, with the test command it found in backticks in the conversation;
- given a tool result, it says whether the tests passed.

Its answers are deterministic: the same request always gets the same text.

What follows the real Chat Completions API, because the instrumentation reads it:

- ``POST /v1/chat/completions``, non-streaming and ``stream: true`` (server-sent events ending
  in ``data: [DONE]``). ``stream_options.include_usage`` works as on api.openai.com: each chunk
  then carries ``"usage": null`` and a last extra chunk with empty ``choices`` carries the
  usage; without it no chunk has a ``usage`` key at all.
- ``tools`` / ``tool_choice`` (``auto``, ``none``, ``required`` or a named function), tool calls
  streamed as the API streams them (name first, then argument pieces).
- ``model`` in the response is the dated snapshot of the requested alias
  (``gpt-4o-mini`` -> ``gpt-4o-mini-2024-07-18``), as OpenAI reports it, so price tables
  (genai-prices) know the model; other names are echoed unchanged.
- ``GET /v1/models`` and ``GET /v1/models/{id}``; errors in OpenAI's ``{"error": {...}}`` shape.

Token counts are computed from the text, honestly but approximately: one token per
:data:`CHARS_PER_TOKEN` (4) characters, rounded up, plus :data:`MESSAGE_OVERHEAD_TOKENS` per
message and :data:`REPLY_PRIMING_TOKENS` per request, and the JSON of the tool definitions
counted as text — the rule of thumb OpenAI documents for English, not a real tokenizer.

Prompt caching is simulated so that cache pricing shows up: the server remembers every prefix
of every prompt it has seen (model, tools, then messages one by one), and a request that
starts with a remembered prefix reports those tokens as
``usage.prompt_tokens_details.cached_tokens``. Unlike OpenAI (1024-token minimum, 128-token
steps), any prefix of whole messages counts, so a demo-sized conversation shows cache hits.

Use it in-process::

    with LocalLLMServer() as server:        # port 0: a free port
        client = openai.OpenAI(base_url=server.base_url, api_key="local-demo")

or standalone: ``python examples/llm_server.py --port 8000`` (Ctrl-C stops it).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import re
import signal
import socket
import socketserver
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any

HOST = "127.0.0.1"
"""The only address the server binds to: loopback, unreachable from other machines."""

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 3
REPLY_PRIMING_TOKENS = 3

# Aliases and the dated snapshots OpenAI reports for them in responses.
SNAPSHOTS: Mapping[str, str] = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4.1": "gpt-4.1-2025-04-14",
    "gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
    "gpt-3.5-turbo": "gpt-3.5-turbo-0125",
}
OWNER = "agent-otel-stand-in"
SYSTEM_FINGERPRINT = "fp_stand_in"
# Bounds the prompt cache: an entry per message prefix, so a long-running standalone server
# keeps a few thousand prefixes, not every conversation it ever saw.
CACHE_MAX_PREFIXES = 4096
# Requests are a conversation's JSON; anything near this is a mistake, not a prompt.
MAX_BODY_BYTES = 16 * 1024 * 1024
# How long a kept-alive connection may sit idle before its handler thread gives up.
IDLE_TIMEOUT_S = 60.0


def count_tokens(text: str) -> int:
    """Approximate tokens of ``text``: one per CHARS_PER_TOKEN characters, rounded up."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def response_model(model: str) -> str:
    """The model name a response reports: the dated snapshot of a known alias."""
    return SNAPSHOTS.get(model, model)


def text_of(content: Any) -> str:
    """The text of a message's ``content``: a string, or a list of parts of which the text
    parts count (images and audio have no text to answer)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def message_tokens(message: Mapping[str, Any]) -> int:
    """Prompt tokens of one message: its text, name and tool calls, plus the per-message
    overhead."""
    tokens = MESSAGE_OVERHEAD_TOKENS + count_tokens(text_of(message.get("content")))
    name = message.get("name")
    if isinstance(name, str):
        tokens += count_tokens(name)
    for call in message.get("tool_calls") or ():
        function = (call.get("function") or {}) if isinstance(call, dict) else {}
        tokens += count_tokens(str(function.get("name", "")))
        tokens += count_tokens(str(function.get("arguments", "")))
    return tokens


def tools_tokens(tools: Sequence[Any] | None) -> int:
    """Prompt tokens of the tool definitions, counted as their compact JSON."""
    if not tools:
        return 0
    return count_tokens(json.dumps(tools, separators=(",", ":"), sort_keys=True))


# -- the stand-in model -----------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What the stand-in model answers: text, or one call of a tool."""

    content: str | None = None
    tool_name: str | None = None
    tool_arguments: str = ""


@dataclass(frozen=True)
class Bug:
    """A function whose operator contradicts its name, as the stand-in can spot one."""

    function: str
    operator: str
    line: str
    fixed_line: str


# Which operator a function name promises. Only the obvious names: the rules must be right
# when they fire, and say nothing otherwise.
_INTENDED_OPERATOR = {
    "add": "+",
    "plus": "+",
    "sum": "+",
    "sub": "-",
    "subtract": "-",
    "minus": "-",
    "mul": "*",
    "multiply": "*",
    "times": "*",
    "product": "*",
    "div": "/",
    "divide": "/",
}
_VERBS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}
_BINARY_FUNCTION = re.compile(
    r"def (?P<name>\w+)\(\s*(?P<a>\w+)\s*,\s*(?P<b>\w+)\s*\):[ \t]*\n"
    r"(?P<indent>[ \t]+)return\s+(?P=a)\s*(?P<op>[-+*/])\s*(?P=b)[ \t]*$",
    re.MULTILINE,
)
_BACKTICKED = re.compile(r"`([^`\n]+)`")
_ASKS_FOR_PATCH = re.compile(
    r"\b(patch|diff|fixed line|corrected line|fixed version|corrected version)\b", re.I
)
_ASKS_TO_RUN = re.compile(r"\b(run|rerun|execute)\b", re.I)
_ASKS_FOR_BUG = re.compile(r"\b(bug|fail|fails|failing|broken|wrong|fix|plan)\b", re.I)
_RUN_TOOL_NAME = re.compile(r"run|exec|shell|command|bash|terminal|test", re.I)
_COMMAND_PARAMETERS = ("command", "cmd", "cmdline", "command_line", "script")
_DEFAULT_TEST_COMMAND = "python -m pytest"
_ABOUT = (
    "I am a rule-based stand-in for a coding model, for offline demos. I can spot a simple "
    "bug in code you show me and plan its fix, write the fixed line, and ask to run the tests."
)


class StandInModel:
    """The rule-based "coding assistant" behind the server. Deterministic and stateless.

    It reads the conversation the way a model would see it — every message's text — and
    picks the first rule that applies to the latest message (see the module docstring).
    """

    def reply(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
        tool_choice: Any = None,
    ) -> Reply:
        last = messages[-1] if messages else {}
        # The instruction is the first line of the latest message; what follows it (files,
        # READMEs) and the earlier messages are context.
        instruction = text_of(last.get("content")).strip().split("\n", 1)[0]
        conversation = [text_of(m.get("content")) for m in messages]
        if last.get("role") == "tool":
            return Reply(content=self._judge_tool_result(conversation[-1]))

        tool = _forced_tool(tools, tool_choice)
        if tool is None and tools and tool_choice != "none":
            run = bool(_ASKS_TO_RUN.search(instruction))
            if tool_choice == "required" or (run and not _ASKS_FOR_PATCH.search(instruction)):
                tool = _run_tool(tools)
        if tool is not None:
            return self._call_tool(tool, conversation)

        bug = find_bug("\n".join(conversation))
        if _ASKS_FOR_PATCH.search(instruction):
            if bug is None:
                return Reply(content="I could not find a bug to patch in the code you showed me.")
            return Reply(content=bug.fixed_line)
        if _ASKS_FOR_BUG.search(instruction):
            return Reply(content=self._plan(bug, conversation))
        return Reply(content=_ABOUT)

    @staticmethod
    def _plan(bug: Bug | None, conversation: Sequence[str]) -> str:
        command = find_test_command(conversation)
        run = f"`{command}`" if command else "the test suite"
        if bug is None:
            return (
                "Plan:\n"
                f"1. Run the tests ({run}) and read the first failure.\n"
                "2. Open the function the failing test calls and compare it with what the "
                "test expects.\n"
                "3. Fix that function.\n"
                "4. Run the tests again."
            )
        wrong = bug.line.strip()
        right = bug.fixed_line.strip()
        return (
            "Plan:\n"
            f"1. Run the tests ({run}) to see the failure.\n"
            f"2. The bug: `{bug.function}` is meant to {_VERBS[bug.operator]} its arguments, "
            f"but it does `{wrong}`.\n"
            f"3. Change the line `{wrong}` to `{right}`.\n"
            "4. Run the tests again to confirm the fix."
        )

    @staticmethod
    def _judge_tool_result(output: str) -> str:
        lines = [line for line in output.splitlines() if line.strip()]
        failed = re.search(r"\b(Error|FAILED|failed|Traceback|exited with status)\b", output)
        if failed:
            detail = lines[-1].strip() if lines else "no output"
            return f"The tests fail: {detail}. Next: patch the code, then run them again."
        if re.search(r"\bpassed\b", output):
            return "The tests pass. The fix is done."
        return "The command finished without a failure."

    @staticmethod
    def _call_tool(tool: Mapping[str, Any], conversation: Sequence[str]) -> Reply:
        function = tool.get("function") or {}
        properties = (function.get("parameters") or {}).get("properties") or {}
        arguments: dict[str, Any] = {}
        for name in properties:
            if name in _COMMAND_PARAMETERS:
                arguments[name] = find_test_command(conversation) or _DEFAULT_TEST_COMMAND
        return Reply(tool_name=str(function.get("name", "")), tool_arguments=json.dumps(arguments))


def find_bug(text: str) -> Bug | None:
    """The first two-argument function in ``text`` whose operator contradicts its name."""
    for match in _BINARY_FUNCTION.finditer(text):
        intended = _INTENDED_OPERATOR.get(match["name"].lower())
        if intended is not None and intended != match["op"]:
            a, b, indent = match["a"], match["b"], match["indent"]
            return Bug(
                function=match["name"],
                operator=intended,
                line=f"{indent}return {a} {match['op']} {b}",
                fixed_line=f"{indent}return {a} {intended} {b}",
            )
    return None


def find_test_command(conversation: Sequence[str]) -> str | None:
    """The newest backticked snippet that mentions tests, e.g. a README's
    "Run the tests with `python test_calc.py`"."""
    for text in reversed(conversation):
        snippets: list[str] = _BACKTICKED.findall(text)
        for snippet in reversed(snippets):
            if "test" in snippet.lower() and " " in snippet.strip():
                return snippet.strip()
    return None


def _forced_tool(
    tools: Sequence[Mapping[str, Any]] | None, choice: Any
) -> Mapping[str, Any] | None:
    """The tool ``tool_choice`` names, if it names one."""
    if not tools or not isinstance(choice, dict):
        return None
    name = (choice.get("function") or {}).get("name")
    return next((t for t in tools if (t.get("function") or {}).get("name") == name), None)


def _run_tool(tools: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The tool that looks like it runs commands, else the first one."""
    for tool in tools:
        if _RUN_TOOL_NAME.search(str((tool.get("function") or {}).get("name", ""))):
            return tool
    return tools[0]


# -- prompt cache -----------------------------------------------------------------------------


class PromptCache:
    """Remembers prompt prefixes to report ``cached_tokens`` like OpenAI's prompt caching.

    A prefix is (model, tools, first k messages), stored as a chain of hashes; the cache is a
    bounded LRU shared by all handler threads.
    """

    def __init__(self, max_prefixes: int = CACHE_MAX_PREFIXES) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._max = max_prefixes
        self._lock = threading.Lock()

    def cached_tokens(
        self, model: str, tools: Sequence[Any] | None, messages: Sequence[Mapping[str, Any]]
    ) -> int:
        """Tokens of the longest prefix of this prompt seen before; then remember its
        prefixes."""
        head = hashlib.sha256(_canonical([model, tools or []]).encode()).hexdigest()
        keys: list[str] = []
        for message in messages:
            head = hashlib.sha256((head + _canonical(message)).encode()).hexdigest()
            keys.append(head)
        with self._lock:
            hit = max((k + 1 for k, key in enumerate(keys) if key in self._seen), default=0)
            for key in keys:
                self._seen[key] = None
                self._seen.move_to_end(key)
            while len(self._seen) > self._max:
                self._seen.popitem(last=False)
        if hit == 0:
            return 0
        return tools_tokens(tools) + sum(message_tokens(m) for m in messages[:hit])


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


# -- the API ----------------------------------------------------------------------------------


class APIError(Exception):
    """A request the API would refuse; becomes an OpenAI-shaped error response."""

    def __init__(
        self,
        status: HTTPStatus,
        message: str,
        param: str | None = None,
        code: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = (
            status,
            message,
            param,
            code,
            kind,
        )

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass(frozen=True)
class ChatRequest:
    """The parts of a Chat Completions request the stand-in honours, validated."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool
    include_usage: bool
    tools: list[dict[str, Any]] | None
    tool_choice: Any
    max_tokens: int | None

    @classmethod
    def parse(cls, body: Any) -> ChatRequest:
        if not isinstance(body, dict):
            raise APIError(HTTPStatus.BAD_REQUEST, "The request body must be a JSON object.")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise APIError(HTTPStatus.BAD_REQUEST, "You must provide a model parameter.", "model")
        messages = body.get("messages")
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages)
        ):
            raise APIError(
                HTTPStatus.BAD_REQUEST,
                "'messages' must be a non-empty array of objects with a 'role'.",
                "messages",
            )
        stream = body.get("stream") is True
        options = body.get("stream_options")
        if options is not None and not stream:
            raise APIError(
                HTTPStatus.BAD_REQUEST,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
            )
        n = body.get("n")
        if n not in (None, 1):
            raise APIError(HTTPStatus.BAD_REQUEST, "The stand-in model supports only n=1.", "n")
        tools = body.get("tools")
        if tools is not None and not (
            isinstance(tools, list) and all(isinstance(t, dict) for t in tools)
        ):
            raise APIError(HTTPStatus.BAD_REQUEST, "'tools' must be an array of objects.", "tools")
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        return cls(
            model=model,
            messages=messages,
            stream=stream,
            include_usage=isinstance(options, dict) and options.get("include_usage") is True,
            tools=tools or None,
            tool_choice=body.get("tool_choice"),
            max_tokens=limit if isinstance(limit, int) and limit > 0 else None,
        )


class ChatCompletions:
    """Turns a validated request into the API's response objects (one, or a chunk list)."""

    def __init__(self, model: StandInModel, cache: PromptCache) -> None:
        self._model = model
        self._cache = cache
        self._counter = 0
        self._lock = threading.Lock()

    def _ids(self, request: ChatRequest) -> tuple[str, str]:
        """A completion id and a tool call id, unique per server and reproducible."""
        with self._lock:
            self._counter += 1
            number = self._counter
        seed = hashlib.sha256(f"{number}:{_canonical(request.messages)}".encode()).hexdigest()
        return f"chatcmpl-{seed[:29]}", f"call_{seed[29:53]}"

    def answer(self, request: ChatRequest) -> tuple[Reply, str, dict[str, Any], tuple[str, str]]:
        """The reply, its finish reason, the usage and the ids."""
        reply = self._model.reply(request.messages, request.tools, request.tool_choice)
        finish = "tool_calls" if reply.tool_name is not None else "stop"
        limit = request.max_tokens
        if reply.content is not None and limit is not None and count_tokens(reply.content) > limit:
            reply = Reply(content=reply.content[: limit * CHARS_PER_TOKEN])
            finish = "length"
        prompt = (
            tools_tokens(request.tools)
            + sum(message_tokens(m) for m in request.messages)
            + REPLY_PRIMING_TOKENS
        )
        if reply.tool_name is not None:
            completion = count_tokens(reply.tool_name) + count_tokens(reply.tool_arguments)
        else:
            completion = count_tokens(reply.content or "")
        cached = self._cache.cached_tokens(
            response_model(request.model), request.tools, request.messages
        )
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        return reply, finish, usage, self._ids(request)

    def completion(self, request: ChatRequest) -> dict[str, Any]:
        """The ``chat.completion`` object of a non-streaming request."""
        reply, finish, usage, (completion_id, call_id) = self.answer(request)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.content,
            "refusal": None,
            "annotations": [],
        }
        if reply.tool_name is not None:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": reply.tool_name, "arguments": reply.tool_arguments},
                }
            ]
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": response_model(request.model),
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": usage,
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }

    def chunks(self, request: ChatRequest) -> Iterator[dict[str, Any]]:
        """The ``chat.completion.chunk`` objects of a streaming request, in order."""
        reply, finish, usage, (completion_id, call_id) = self.answer(request)
        base: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": response_model(request.model),
            "service_tier": "default",
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }
        if request.include_usage:
            base["usage"] = None

        def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            return {**base, "choices": [choice]}

        if reply.tool_name is not None:
            head = {"index": 0, "id": call_id, "type": "function"}
            yield chunk(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {**head, "function": {"name": reply.tool_name, "arguments": ""}}
                    ],
                    "refusal": None,
                }
            )
            for piece in _pieces(reply.tool_arguments):
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        else:
            yield chunk({"role": "assistant", "content": "", "refusal": None})
            for piece in _pieces(reply.content or ""):
                yield chunk({"content": piece})
        yield chunk({}, finish)
        if request.include_usage:
            yield {**base, "choices": [], "usage": usage}


def _pieces(text: str) -> list[str]:
    """``text`` cut the way a model streams it: a word with its leading space at a time."""
    return re.findall(r"\s*\S+\s*$|\s*\S+", text) or ([text] if text else [])


def models_list() -> dict[str, Any]:
    """``GET /v1/models``: the aliases and snapshots the stand-in answers as."""
    names = sorted({*SNAPSHOTS, *SNAPSHOTS.values()})
    return {"object": "list", "data": [_model_object(name) for name in names]}


def _model_object(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": OWNER}


# -- HTTP -------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive (the SDK pools connections); SSE as chunked transfer."""

    protocol_version = "HTTP/1.1"
    server_version = "agent-otel-stand-in/1"
    timeout = IDLE_TIMEOUT_S
    # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
    # and the client's delayed ACK add ~40 ms to every kept-alive response.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/v1/models":
            self._send_json(HTTPStatus.OK, models_list())
        elif path.startswith("/v1/models/") and path.count("/") == 3:
            name = path.rsplit("/", 1)[1]
            if name in SNAPSHOTS or name in SNAPSHOTS.values():
                self._send_json(HTTPStatus.OK, _model_object(name))
            else:
                error = APIError(
                    HTTPStatus.NOT_FOUND,
                    f"The model '{name}' does not exist",
                    "model",
                    "model_not_found",
                )
                self._send_json(error.status, error.body())
        else:
            self._not_found()

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES or "Transfer-Encoding" in self.headers:
            # A body we cannot read exactly would desynchronise the kept-alive connection.
            self.close_connection = True
            error = APIError(HTTPStatus.BAD_REQUEST, "Send a JSON body with a Content-Length.")
            self._send_json(error.status, error.body())
            return
        raw = self.rfile.read(length)
        if self.path.split("?", 1)[0].rstrip("/") != "/v1/chat/completions":
            self._not_found()
            return
        try:
            try:
                body = json.loads(raw or b"null")
            except ValueError as exc:
                raise APIError(
                    HTTPStatus.BAD_REQUEST, "The request body is not valid JSON."
                ) from exc
            request = ChatRequest.parse(body)
        except APIError as error:
            self._send_json(error.status, error.body())
            return
        api = self.server.api
        if request.stream:
            self._send_events(api.chunks(request))
        else:
            self._send_json(HTTPStatus.OK, api.completion(request))

    def _not_found(self) -> None:
        error = APIError(
            HTTPStatus.NOT_FOUND,
            f"Invalid URL ({self.command} {self.path})",
            code="unknown_url",
        )
        self._send_json(error.status, error.body())

    def _send_json(self, status: HTTPStatus, body: Mapping[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_{hashlib.sha256(data).hexdigest()[:24]}")
        self.end_headers()
        self.wfile.write(data)

    def _send_events(self, chunks: Iterator[Mapping[str, Any]]) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        events = (f"data: {json.dumps(c)}\n\n" for c in chunks)
        for event in (*events, "data: [DONE]\n\n"):
            data = event.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)


class _HTTPServer(ThreadingHTTPServer):
    """Tracks its open connections so that stopping it ends kept-alive ones too."""

    # Handler threads are joined by server_close(): stopping returns only when all are done.
    daemon_threads = False

    def __init__(self, port: int, api: ChatCompletions, log_requests: bool) -> None:
        self.api = api
        self.log_requests = log_requests
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((HOST, port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can query DNS; skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "localhost"
        self.server_port = self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on every client, so that handler threads blocked on idle keep-alive
        connections return at once."""
        with self._connections_lock:
            open_now = list(self._connections)
        for connection in open_now:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-stream is normal, not worth a traceback.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class LocalLLMServer:
    """The server on 127.0.0.1, run in a background thread; a context manager.

    ``port=0`` takes a free port; ``base_url`` is what an OpenAI client needs.
    """

    def __init__(self, port: int = 0, *, log_requests: bool = False) -> None:
        self._httpd = _HTTPServer(
            port, ChatCompletions(StandInModel(), PromptCache()), log_requests
        )
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def start(self) -> LocalLLMServer:
        """Serve in a background thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"llm-server-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (the standalone mode)."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._httpd.close_connections()
            self._httpd.server_close()

    def stop(self) -> None:
        """Stop accepting, hang up on open connections, wait for every handler thread, and
        release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    args = parser.parse_args(argv)
    server = LocalLLMServer(args.port, log_requests=not args.quiet)
    print(
        f"stand-in model (rule-based, not an AI) serving the OpenAI API on {server.base_url}\n"
        f"  OPENAI_BASE_URL={server.base_url} OPENAI_API_KEY=local-demo   (Ctrl-C stops)",
        flush=True,
    )
    # Stop cleanly on Ctrl-C and on `kill` alike (a shell may start background jobs with
    # SIGINT ignored, hence the explicit handler).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    main()
