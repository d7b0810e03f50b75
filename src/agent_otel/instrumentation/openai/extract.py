"""What OpenAI requests, responses and stream chunks say, in GenAI convention terms.

Covers the Chat Completions API (``/chat/completions``), the Responses API (``/responses``)
and embeddings (``/embeddings``), on OpenAI and Azure OpenAI. Every function accepts the SDK's
typed objects and plain JSON alike (see :mod:`..fields`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_otel import semconv as sc
from agent_otel.cost import TokenUsage
from agent_otel.instrumentation.fields import arguments_value, as_int, as_list, get, reader
from agent_otel.instrumentation.llm_call import Response
from agent_otel.instrumentation.messages import (
    Message,
    text_part,
    tool_call_part,
    tool_response_part,
)

CHAT, RESPONSES, EMBEDDINGS, COMPLETIONS = "chat", "responses", "embeddings", "completions"

_ENDPOINTS = (
    ("/chat/completions", CHAT),
    ("/responses", RESPONSES),
    ("/embeddings", EMBEDDINGS),
    ("/completions", COMPLETIONS),
)
OPERATION_NAMES = {
    CHAT: "chat",
    RESPONSES: "chat",
    EMBEDDINGS: "embeddings",
    COMPLETIONS: "text_completion",
}


def endpoint_of(method: str, url: str) -> str | None:
    """Which API a request goes to; None for anything that is not an LLM call."""
    if method.lower() != "post":
        return None
    path = url.split("?", 1)[0].rstrip("/")
    for suffix, endpoint in _ENDPOINTS:
        if path.endswith(suffix):
            return endpoint
    return None


# -- requests --------------------------------------------------------------------------------


def request_attributes(endpoint: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``gen_ai.request.*`` attributes of a request body."""
    attrs: dict[str, Any] = {}
    if _REQUEST_FIELDS.isdisjoint(body):
        return attrs  # only the model and the input: nothing more to read
    simple = (
        ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE, float),
        ("top_p", sc.GEN_AI_REQUEST_TOP_P, float),
        ("frequency_penalty", sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, float),
        ("presence_penalty", sc.GEN_AI_REQUEST_PRESENCE_PENALTY, float),
        ("seed", sc.GEN_AI_REQUEST_SEED, int),
    )
    for key, attr, kind in simple:
        value = body.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[attr] = kind(value)
    for key in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = as_int(body.get(key))
        if value is not None:
            attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = value
            break
    choices = as_int(body.get("n"))
    if choices is not None and choices != 1:
        attrs[sc.GEN_AI_REQUEST_CHOICE_COUNT] = choices
    stop = body.get("stop")
    if isinstance(stop, str):
        attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = (stop,)
    elif isinstance(stop, (list, tuple)) and stop:
        attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)
    output_type = _output_type(body)
    if output_type:
        attrs[sc.GEN_AI_OUTPUT_TYPE] = output_type
    if endpoint == EMBEDDINGS:
        fmt = body.get("encoding_format")
        if isinstance(fmt, str):
            attrs[sc.GEN_AI_REQUEST_ENCODING_FORMATS] = (fmt,)
        dims = as_int(body.get("dimensions"))
        if dims is not None:
            attrs[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = dims
    return attrs


_REQUEST_FIELDS = frozenset(
    {
        "temperature",
        "top_p",
        "frequency_penalty",
        "presence_penalty",
        "seed",
        "max_completion_tokens",
        "max_tokens",
        "max_output_tokens",
        "n",
        "stop",
        "response_format",
        "text",
        "encoding_format",
        "dimensions",
    }
)
"""The body fields that :func:`request_attributes` reads."""


def _output_type(body: Mapping[str, Any]) -> str | None:
    fmt = get(body, "response_format", "type") or get(body, "text", "format", "type")
    if fmt in ("json_object", "json_schema"):
        return "json"
    if fmt == "text":
        return "text"
    return None


def input_messages(endpoint: str, body: Mapping[str, Any]) -> list[Message]:
    """The conversation sent, as GenAI messages (only built when content is captured)."""
    if endpoint == CHAT:
        return [_chat_message(m) for m in as_list(body.get("messages"))]
    if endpoint == RESPONSES:
        items = body.get("input")
        if isinstance(items, str):
            return [{"role": "user", "parts": [text_part(items)]}]
        return [m for m in (_responses_item(i) for i in as_list(items)) if m]
    return []


def system_instructions(endpoint: str, body: Mapping[str, Any]) -> list[dict[str, Any]]:
    instructions = body.get("instructions") if endpoint == RESPONSES else None
    return [text_part(instructions)] if isinstance(instructions, str) else []


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [text_part(content)]
    parts = []
    for part in as_list(content):
        kind = get(part, "type")
        text = get(part, "text")
        if isinstance(text, str):
            parts.append(text_part(text))
        elif kind:
            parts.append({"type": str(kind)})  # images, audio, files: their kind, not the data
    return parts


def _chat_message(message: Any) -> Message:
    role = str(get(message, "role") or "user")
    if role == "tool":
        return {
            "role": "tool",
            "parts": [tool_response_part(get(message, "tool_call_id"), get(message, "content"))],
        }
    parts = _content_parts(get(message, "content"))
    for call in as_list(get(message, "tool_calls")):
        parts.append(
            tool_call_part(
                get(call, "id"),
                get(call, "function", "name"),
                arguments_value(get(call, "function", "arguments")),
            )
        )
    return {"role": role, "parts": parts}


def _responses_item(item: Any) -> Message | None:
    kind = get(item, "type")
    if kind == "function_call_output":
        return {
            "role": "tool",
            "parts": [tool_response_part(get(item, "call_id"), get(item, "output"))],
        }
    if kind == "function_call":
        call = tool_call_part(
            get(item, "call_id"), get(item, "name"), arguments_value(get(item, "arguments"))
        )
        return {"role": "assistant", "parts": [call]}
    role = get(item, "role")
    if role is None:
        return None
    parts = []
    for part in (
        as_list(get(item, "content"))
        if not isinstance(get(item, "content"), str)
        else [get(item, "content")]
    ):
        text = part if isinstance(part, str) else get(part, "text")
        if isinstance(text, str):
            parts.append(text_part(text))
    return {"role": str(role), "parts": parts}


# -- responses -------------------------------------------------------------------------------


def chat_usage(usage: Any) -> TokenUsage | None:
    if usage is None:
        return None
    read = reader(usage)
    return TokenUsage(
        input_tokens=as_int(read(usage, "prompt_tokens")) or 0,
        output_tokens=as_int(read(usage, "completion_tokens")) or 0,
        cache_read_tokens=as_int(read(read(usage, "prompt_tokens_details"), "cached_tokens")) or 0,
        reasoning_tokens=as_int(read(read(usage, "completion_tokens_details"), "reasoning_tokens"))
        or 0,
    )


def responses_usage(usage: Any) -> TokenUsage | None:
    if usage is None:
        return None
    return TokenUsage(
        input_tokens=as_int(get(usage, "input_tokens")) or 0,
        output_tokens=as_int(get(usage, "output_tokens")) or 0,
        cache_read_tokens=as_int(get(usage, "input_tokens_details", "cached_tokens")) or 0,
        reasoning_tokens=as_int(get(usage, "output_tokens_details", "reasoning_tokens")) or 0,
    )


def read_response(endpoint: str, body: Any, response: Response, *, capture: bool) -> None:
    """Fill ``response`` from a complete (non-streamed) response body."""
    read = reader(body)  # (the body and its parts are all typed objects, or all JSON)
    response.response_id = read(body, "id") or response.response_id
    response.response_model = read(body, "model") or response.response_model
    if endpoint in (CHAT, COMPLETIONS):
        response.usage = chat_usage(read(body, "usage"))
        for choice in as_list(read(body, "choices")):
            reason = read(choice, "finish_reason")
            if reason:
                response.finish_reasons.append(str(reason))
            if capture and endpoint == CHAT:
                message = _chat_message(get(choice, "message"))
                message["finish_reason"] = reason
                response.output_messages.append(message)
    elif endpoint == RESPONSES:
        _read_responses_object(body, response, capture=capture)
    elif endpoint == EMBEDDINGS:
        usage = get(body, "usage")
        if usage is not None:
            response.usage = TokenUsage(input_tokens=as_int(get(usage, "prompt_tokens")) or 0)
        first = get(body, "data", 0, "embedding")
        if isinstance(first, (list, tuple)):
            response.attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = len(first)


def _read_responses_object(body: Any, response: Response, *, capture: bool) -> None:
    response.response_id = get(body, "id") or response.response_id
    response.response_model = get(body, "model") or response.response_model
    response.usage = responses_usage(get(body, "usage"))
    status = get(body, "status")
    reason = get(body, "incomplete_details", "reason") or status
    if reason:
        response.finish_reasons = [str(reason)]
    if not capture:
        return
    parts: list[dict[str, Any]] = []
    for item in as_list(get(body, "output")):
        kind = get(item, "type")
        if kind == "message":
            parts.extend(
                text_part(t)
                for t in (get(c, "text") for c in as_list(get(item, "content")))
                if isinstance(t, str)
            )
        elif kind == "function_call":
            parts.append(
                tool_call_part(
                    get(item, "call_id"), get(item, "name"), arguments_value(get(item, "arguments"))
                )
            )
    if parts:
        response.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": reason}]


# -- streams ---------------------------------------------------------------------------------


@dataclass
class ChatStreamState:
    """What the chunks of a chat completion stream add up to."""

    hide_usage_chunk: bool
    capture: bool
    texts: dict[int, list[str]] = field(default_factory=dict)
    tool_calls: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)
    _read: Callable[[Any, str], Any] | None = None

    def observe(self, response: Response, chunk: Any) -> bool:
        """Read one chunk; True when it must be hidden from the app."""
        read = self._read
        if read is None:  # the first chunk: the kind of all of them (typed or JSON)
            read = self._read = reader(chunk)
        # Azure's first chunk (prompt filter results) has an empty id and model.
        if not response.response_id:
            response.response_id = read(chunk, "id") or None
        if not response.response_model:
            response.response_model = read(chunk, "model") or None
        choices = read(chunk, "choices") or ()
        usage = read(chunk, "usage")
        if usage is not None:
            response.usage = chat_usage(usage)
        for choice in choices:
            reason = read(choice, "finish_reason")
            if reason:
                self.reasons[read(choice, "index") or 0] = str(reason)
            if self.capture:
                self._collect(read(choice, "index") or 0, read(choice, "delta"))
        if self.hide_usage_chunk:
            if usage is not None and not choices:
                return True  # the chunk exists only because we asked for usage
            fields_set = getattr(chunk, "__pydantic_fields_set__", None)
            if usage is None and isinstance(fields_set, set):
                # With usage requested every chunk carries "usage": null; make it look unset,
                # as it is when usage was not requested.
                fields_set.discard("usage")
        return False

    def _collect(self, index: int, delta: Any) -> None:
        text = get(delta, "content")
        if isinstance(text, str):
            self.texts.setdefault(index, []).append(text)
        for call in as_list(get(delta, "tool_calls")):
            slot = self.tool_calls.setdefault(index, {}).setdefault(
                get(call, "index") or 0, {"arguments": ""}
            )
            if get(call, "id"):
                slot["id"] = get(call, "id")
            name = get(call, "function", "name")
            if name:
                slot["name"] = name
            args = get(call, "function", "arguments")
            if isinstance(args, str):
                slot["arguments"] += args

    def finish(self, response: Response) -> None:
        response.finish_reasons = [self.reasons[i] for i in sorted(self.reasons)]
        if not self.capture:
            return
        for index in sorted(set(self.texts) | set(self.tool_calls) | set(self.reasons)):
            text = "".join(self.texts.get(index, ()))
            parts = [text_part(text)] if text else []
            for call in (self.tool_calls.get(index) or {}).values():
                parts.append(
                    tool_call_part(
                        call.get("id"), call.get("name"), arguments_value(call["arguments"])
                    )
                )
            response.output_messages.append(
                {"role": "assistant", "parts": parts, "finish_reason": self.reasons.get(index)}
            )


@dataclass
class ResponsesStreamState:
    """Events of a Responses API stream; the final event carries the whole response."""

    capture: bool

    def observe(self, response: Response, event: Any) -> bool:
        kind = get(event, "type")
        if kind in ("response.created", "response.in_progress"):
            response.response_id = get(event, "response", "id") or response.response_id
            response.response_model = get(event, "response", "model") or response.response_model
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            _read_responses_object(get(event, "response"), response, capture=self.capture)
        return False

    def finish(self, response: Response) -> None:
        return None
