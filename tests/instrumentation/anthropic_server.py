"""A fake Anthropic API answering the real ``anthropic`` SDK in-process through httpx's
MockTransport.

Bodies follow the shapes the Messages API returns: ``msg_`` ids, content blocks (text,
thinking, tool_use), ``stop_reason``, usage with ``input_tokens`` *excluding* the prompt-cache
tokens, ``request-id`` headers, the error envelope ``{"type": "error", "error": {...}}``, and
SSE streams with named events (``message_start``, ``content_block_*``, ``ping``,
``message_delta`` with cumulative usage, ``message_stop``, ``error``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.instrumentation.sdk_http import http_library

httpx = http_library("anthropic")


MODEL = "claude-sonnet-4-6"
RESPONSE_MODEL = "claude-sonnet-4-6"
BASE_URL = "https://api.anthropic.com"

# What the API reports for the non-streamed message: input excludes the cache tokens.
USAGE = {
    "input_tokens": 25,
    "cache_creation_input_tokens": 1200,
    "cache_read_input_tokens": 4800,
    "output_tokens": 95,
}
# ... and in the OpenTelemetry convention.
OTEL_INPUT = 25 + 1200 + 4800


def message(*, tool_use: bool = False, thinking: bool = False) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    usage: dict[str, Any] = {
        **USAGE,
        "cache_creation": {"ephemeral_5m_input_tokens": 1200, "ephemeral_1h_input_tokens": 0},
        "server_tool_use": None,
        "service_tier": "standard",
    }
    if thinking:
        content.append(
            {"type": "thinking", "thinking": "The test imports app.", "signature": "EqQBCkYIBRgC"}
        )
        usage["output_tokens_details"] = {"thinking_tokens": 40}
    content.append({"type": "text", "text": "I'll read the file first."})
    stop_reason = "end_turn"
    if tool_use:
        content.append(
            {
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": "read_file",
                "input": {"path": "src/app.py"},
            }
        )
        stop_reason = "tool_use"
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": RESPONSE_MODEL,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def stream_events(*, tool_use: bool = False, repeat_input: bool = False) -> list[dict[str, Any]]:
    """A streamed message as the API sends it. ``repeat_input``: the message_delta repeats the
    input and cache counts, as newer API versions do (here with final values that differ
    from message_start's)."""
    start_usage = {
        "input_tokens": 472,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 2048,
        "output_tokens": 2,
        "service_tier": "standard",
    }
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_014p7gG3wDgGV9EUtLvnow3U",
                "type": "message",
                "role": "assistant",
                "model": RESPONSE_MODEL,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
    ]
    for piece in ("Hel", "lo", " there"):
        events.append(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": piece},
            }
        )
    events.append({"type": "content_block_stop", "index": 0})
    stop_reason = "end_turn"
    if tool_use:
        events.append(
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                    "name": "run",
                    "input": {},
                },
            }
        )
        for piece in ("", '{"cmd"', ': "ls', ' -la"}'):
            events.append(
                {
                    "type": "content_block_delta",
                    "index": 1,
                    "delta": {"type": "input_json_delta", "partial_json": piece},
                }
            )
        events.append({"type": "content_block_stop", "index": 1})
        stop_reason = "tool_use"
    delta_usage: dict[str, Any] = {"output_tokens": 15}
    if repeat_input:
        delta_usage.update(
            input_tokens=480, cache_creation_input_tokens=0, cache_read_input_tokens=2048
        )
    events.append(
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": delta_usage,
        }
    )
    events.append({"type": "message_stop"})
    return events


def sse(events: list[dict[str, Any]]) -> bytes:
    return "".join(
        f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events
    ).encode()


def error_body(kind: str, text: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": kind, "message": text},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }


ERRORS = {
    400: error_body("invalid_request_error", "max_tokens: Field required"),
    429: error_body("rate_limit_error", "Number of request tokens has exceeded your rate limit."),
    500: error_body("api_error", "Internal server error"),
    529: error_body("overloaded_error", "Overloaded"),
}
HEADERS = {"request-id": "req_018EeWyXxfu5pfWkrYcMdjWG", "anthropic-organization-id": "org-1"}


@dataclass
class FakeAnthropic:
    """Routes requests; records what the SDK sent. ``fail_with`` makes the calls fail."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None
    tool_use: bool = False
    thinking: bool = False
    repeat_input: bool = False
    on_request: Callable[[httpx.Request], None] | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        self.requests.append(
            {
                "path": request.url.path,
                "query": request.url.query.decode(),
                "body": body,
                "headers": dict(request.headers),
            }
        )
        if self.on_request:
            self.on_request(request)
        if self.fail_with:
            return httpx.Response(self.fail_with, json=ERRORS[self.fail_with], headers=HEADERS)
        path = request.url.path
        if path == "/v1/messages/count_tokens":
            return httpx.Response(200, json={"input_tokens": 2095}, headers=HEADERS)
        if path == "/v1/messages":
            if body.get("stream"):
                events = stream_events(tool_use=self.tool_use, repeat_input=self.repeat_input)
                return httpx.Response(
                    200,
                    content=sse(events),
                    headers={**HEADERS, "content-type": "text/event-stream; charset=utf-8"},
                )
            return httpx.Response(
                200, json=message(tool_use=self.tool_use, thinking=self.thinking), headers=HEADERS
            )
        return httpx.Response(
            404, json=error_body("not_found_error", f"{path} not found"), headers=HEADERS
        )

    def sync_client(self, **kwargs: Any) -> Any:
        import anthropic

        return anthropic.Anthropic(
            api_key="sk-ant-test",
            base_url=BASE_URL,
            max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(self.handler)),
            **kwargs,
        )

    def async_client(self, **kwargs: Any) -> Any:
        import anthropic

        async def handler(request: httpx.Request) -> httpx.Response:
            await request.aread()
            return self.handler(request)

        return anthropic.AsyncAnthropic(
            api_key="sk-ant-test",
            base_url=BASE_URL,
            max_retries=0,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
            **kwargs,
        )
