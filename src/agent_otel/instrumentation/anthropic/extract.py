"""What Anthropic Messages API requests, responses and stream events say, in GenAI terms.

Covers ``POST /v1/messages`` (``messages.create``, ``messages.stream``, ``messages.parse``
and their ``beta`` forms). Every function accepts the SDK's typed objects and plain JSON
alike (see :mod:`..fields`).

Token counts: Anthropic reports ``input_tokens`` *without* the prompt-cache tokens, while
the OpenTelemetry convention (and :class:`~agent_otel.cost.TokenUsage`) counts them in, so
``gen_ai.usage.input_tokens = input_tokens + cache_read_input_tokens +
cache_creation_input_tokens``.

Request bodies are read, never iterated: the SDK accepts one-shot iterables for ``messages``
and ``system`` and walks them itself after this module has looked, so only lists and tuples
are read here (anything else is left alone and recorded as nothing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_otel import semconv as sc
from agent_otel.cost import TokenUsage
from agent_otel.instrumentation.fields import arguments_value, as_int, as_list, get
from agent_otel.instrumentation.llm_call import Response
from agent_otel.instrumentation.messages import (
    Message,
    Part,
    text_part,
    tool_call_part,
    tool_response_part,
)

OPERATION = "chat"
_MESSAGES_PATH = "/v1/messages"


def is_messages_call(method: str, url: str) -> bool:
    """Whether a request creates a message (``POST /v1/messages``, with or without the
    ``?beta=true`` some SDK versions put in the URL). ``/v1/messages/count_tokens``,
    ``/v1/messages/batches`` and every other endpoint are not LLM calls."""
    if method.lower() != "post":
        return False
    return url.split("?", 1)[0].rstrip("/").endswith(_MESSAGES_PATH)


def _seq(value: Any) -> list[Any] | tuple[Any, ...]:
    """A list or tuple as it is; anything else (an app's generator, the SDK's ``omit``) is
    not read, so that nothing is consumed before the SDK sends it."""
    return value if isinstance(value, (list, tuple)) else ()


# -- requests --------------------------------------------------------------------------------


def request_attributes(body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``gen_ai.request.*`` attributes of a request body."""
    attrs: dict[str, Any] = {}
    max_tokens = as_int(body.get("max_tokens"))
    if max_tokens is not None:
        attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    for key, attr in (
        ("temperature", sc.GEN_AI_REQUEST_TEMPERATURE),
        ("top_p", sc.GEN_AI_REQUEST_TOP_P),
        ("top_k", sc.GEN_AI_REQUEST_TOP_K),
    ):
        value = body.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[attr] = float(value)
    stop = body.get("stop_sequences")
    if isinstance(stop, (list, tuple)) and stop:
        attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] = tuple(str(s) for s in stop)
    # `output_format` is the older spelling of `output_config.format`.
    for fmt in (get(body, "output_config", "format"), body.get("output_format")):
        if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
            attrs[sc.GEN_AI_OUTPUT_TYPE] = "json"
            break
    return attrs


def input_messages(body: Mapping[str, Any]) -> list[Message]:
    """The conversation sent, as GenAI messages (only built when content is captured)."""
    messages = []
    for message in _seq(body.get("messages")):
        role = get(message, "role")
        messages.append(
            {"role": str(role or "user"), "parts": content_parts(get(message, "content"))}
        )
    return messages


def system_instructions(body: Mapping[str, Any]) -> list[Part]:
    """``system``: a string, or a list of text blocks."""
    system = body.get("system")
    if isinstance(system, str):
        return [text_part(system)] if system else []
    parts = []
    for block in _seq(system):
        text = get(block, "text")
        if isinstance(text, str):
            parts.append(text_part(text))
    return parts


def content_parts(content: Any) -> list[Part]:
    """Message content — a string or content blocks, from a request or a response — as
    GenAI parts. Media (images, documents) are recorded by kind only, never their data."""
    if isinstance(content, str):
        return [text_part(content)]
    parts: list[Part] = []
    for block in _seq(content):
        part = _block_part(block)
        if part is not None:
            parts.append(part)
    return parts


def _block_part(block: Any) -> Part | None:
    kind = get(block, "type")
    if kind == "text":
        text = get(block, "text")
        return text_part(text) if isinstance(text, str) else None
    if kind == "tool_use":
        return tool_call_part(get(block, "id"), get(block, "name"), get(block, "input"))
    if kind == "tool_result":
        return tool_response_part(get(block, "tool_use_id"), _tool_result(get(block, "content")))
    if kind == "thinking":
        thinking = get(block, "thinking")
        return {"type": "reasoning", "content": thinking if isinstance(thinking, str) else None}
    if kind == "redacted_thinking":
        return {"type": "reasoning"}
    if kind == "server_tool_use":
        return {"type": "server_tool_call", "id": get(block, "id"), "name": get(block, "name")}
    if isinstance(kind, str):
        return {"type": kind}  # image, document, search results...: their kind, not the data
    return None


def _tool_result(content: Any) -> Any:
    """A tool result's content: its text, or its parts when it is more than text."""
    if content is None or isinstance(content, str):
        return content
    parts = content_parts(content)
    if parts and all(p.get("type") == "text" for p in parts):
        return "".join(str(p.get("content") or "") for p in parts)
    return parts


# -- responses -------------------------------------------------------------------------------


def token_usage(
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read: int | None,
    cache_creation: int | None,
    thinking: int | None,
) -> TokenUsage:
    """Anthropic's counts in the OpenTelemetry convention: input includes the cache tokens."""
    read = cache_read or 0
    created = cache_creation or 0
    return TokenUsage(
        input_tokens=(input_tokens or 0) + read + created,
        output_tokens=output_tokens or 0,
        cache_read_tokens=read,
        cache_creation_tokens=created,
        reasoning_tokens=thinking or 0,
    )


def usage_of(usage: Any) -> TokenUsage | None:
    if usage is None:
        return None
    return token_usage(
        as_int(get(usage, "input_tokens")),
        as_int(get(usage, "output_tokens")),
        as_int(get(usage, "cache_read_input_tokens")),
        as_int(get(usage, "cache_creation_input_tokens")),
        as_int(get(usage, "output_tokens_details", "thinking_tokens")),
    )


def read_response(body: Any, response: Response, *, capture: bool) -> None:
    """Fill ``response`` from a complete (non-streamed) Message."""
    response.response_id = get(body, "id") or response.response_id
    response.response_model = get(body, "model") or response.response_model
    response.usage = usage_of(get(body, "usage")) or response.usage
    reason = get(body, "stop_reason")
    if reason:
        response.finish_reasons = [str(reason)]
    if capture:
        parts = [p for p in (_block_part(b) for b in as_list(get(body, "content"))) if p]
        response.output_messages = [
            {"role": str(get(body, "role") or "assistant"), "parts": parts, "finish_reason": reason}
        ]


# -- streams ---------------------------------------------------------------------------------


# The field each kind of content_block_delta carries its piece in.
_DELTA_FIELDS = {
    "text_delta": "text",
    "input_json_delta": "partial_json",
    "thinking_delta": "thinking",
}


@dataclass
class _Block:
    """One content block of a streamed message, as far as it has arrived."""

    start: Any
    pieces: list[str] = field(default_factory=list)


@dataclass
class MessageStreamState:
    """What the events of a streamed Message add up to.

    ``message_start`` carries the id, the model and the input side of the usage;
    ``message_delta`` the stop reason and the usage so far — cumulative, and on newer APIs
    with the input and cache counts again — so the latest value of each count wins.
    ``ping`` and ``error`` events never reach here: the SDK drops the one and raises the
    other, which ends the call with that error.
    """

    capture: bool
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read: int | None = None
    cache_creation: int | None = None
    thinking: int | None = None
    seen_usage: bool = False
    stop_reason: str | None = None
    blocks: dict[int, _Block] = field(default_factory=dict)

    def observe(self, response: Response, event: Any) -> bool:
        """Read one event; never hides it from the app."""
        kind = get(event, "type")
        if kind == "content_block_delta":
            if self.capture:
                self._delta(get(event, "index"), get(event, "delta"))
        elif kind == "message_start":
            message = get(event, "message")
            response.response_id = get(message, "id") or response.response_id
            response.response_model = get(message, "model") or response.response_model
            self._usage(get(message, "usage"))
        elif kind == "message_delta":
            reason = get(event, "delta", "stop_reason")
            if reason:
                self.stop_reason = str(reason)
            self._usage(get(event, "usage"))
        elif kind == "content_block_start" and self.capture:
            index = get(event, "index")
            if isinstance(index, int):
                self.blocks[index] = _Block(get(event, "content_block"))
        return False

    def _usage(self, usage: Any) -> None:
        if usage is None:
            return
        self.seen_usage = True
        for name, value in (
            ("input_tokens", get(usage, "input_tokens")),
            ("output_tokens", get(usage, "output_tokens")),
            ("cache_read", get(usage, "cache_read_input_tokens")),
            ("cache_creation", get(usage, "cache_creation_input_tokens")),
            ("thinking", get(usage, "output_tokens_details", "thinking_tokens")),
        ):
            count = as_int(value)
            if count is not None:
                setattr(self, name, count)

    def _delta(self, index: Any, delta: Any) -> None:
        block = self.blocks.get(index) if isinstance(index, int) else None
        if block is None:
            return
        name = _DELTA_FIELDS.get(get(delta, "type"))
        piece = get(delta, name) if name else None
        if isinstance(piece, str):
            block.pieces.append(piece)

    def finish(self, response: Response) -> None:
        if self.seen_usage:
            response.usage = token_usage(
                self.input_tokens,
                self.output_tokens,
                self.cache_read,
                self.cache_creation,
                self.thinking,
            )
        if self.stop_reason:
            response.finish_reasons = [self.stop_reason]
        if not self.capture or not self.blocks:
            return
        parts = []
        for index in sorted(self.blocks):
            part = self._part(self.blocks[index])
            if part is not None:
                parts.append(part)
        response.output_messages = [
            {"role": "assistant", "parts": parts, "finish_reason": self.stop_reason}
        ]

    @staticmethod
    def _part(block: _Block) -> Part | None:
        part = _block_part(block.start)
        if part is None or not block.pieces:
            return part
        joined = "".join(block.pieces)
        kind = part["type"]
        if kind in ("text", "reasoning"):
            part["content"] = str(part.get("content") or "") + joined
        elif kind == "tool_call" and joined.strip():
            # A tool without arguments streams one empty piece: keep the start's `{}`.
            part["arguments"] = arguments_value(joined)
        return part
