"""A fake OpenAI API answering the real ``openai`` SDK in-process through httpx's MockTransport.

Bodies follow the shapes the OpenAI API returns (ids, created, system_fingerprint, usage
details, SSE framing with ``data: [DONE]``); usage chunks are sent only when the request asks
for them, as the real API does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.instrumentation.sdk_http import http_library

httpx = http_library("openai")


MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"


def chat_completion(
    content: str | None = "Hello! How can I help?", *, tool_call: bool = False
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content,
        "refusal": None,
        "annotations": [],
    }
    finish = "stop"
    if tool_call:
        message["content"] = None
        message["tool_calls"] = [
            {
                "id": "call_abc123",
                "type": "function",
                "function": {"name": "read_file", "arguments": '{"path": "src/app.py"}'},
            }
        ]
        finish = "tool_calls"
    return {
        "id": "chatcmpl-9xYz",
        "object": "chat.completion",
        "created": 1727000000,
        "model": RESPONSE_MODEL,
        "system_fingerprint": "fp_0ba0d124f1",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 30,
            "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
    }


def chat_chunks(*, include_usage: bool, tool_call: bool = False) -> list[dict[str, Any]]:
    base = {
        "id": "chatcmpl-stream1",
        "object": "chat.completion.chunk",
        "created": 1727000001,
        "model": RESPONSE_MODEL,
        "system_fingerprint": "fp_0ba0d124f1",
    }
    extra = {"usage": None} if include_usage else {}
    chunks = [
        {
            **base,
            **extra,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": "", "refusal": None},
                    "logprobs": None,
                    "finish_reason": None,
                }
            ],
        },
    ]
    if tool_call:
        chunks.append(
            {
                **base,
                **extra,
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_s1",
                                    "type": "function",
                                    "function": {"name": "run", "arguments": ""},
                                }
                            ]
                        },
                        "logprobs": None,
                        "finish_reason": None,
                    }
                ],
            }
        )
        for piece in ('{"cmd"', ': "ls"}'):
            chunks.append(
                {
                    **base,
                    **extra,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {
                                "tool_calls": [{"index": 0, "function": {"arguments": piece}}]
                            },
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                }
            )
        finish = "tool_calls"
    else:
        for piece in ("Hel", "lo", " there"):
            chunks.append(
                {
                    **base,
                    **extra,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"content": piece},
                            "logprobs": None,
                            "finish_reason": None,
                        }
                    ],
                }
            )
        finish = "stop"
    chunks.append(
        {
            **base,
            **extra,
            "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}],
        }
    )
    if include_usage:
        chunks.append(
            {
                **base,
                "choices": [],
                "usage": {
                    "prompt_tokens": 40,
                    "completion_tokens": 3,
                    "total_tokens": 43,
                    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                    "completion_tokens_details": {
                        "reasoning_tokens": 0,
                        "audio_tokens": 0,
                        "accepted_prediction_tokens": 0,
                        "rejected_prediction_tokens": 0,
                    },
                },
            }
        )
    return chunks


def responses_object(status: str = "completed") -> dict[str, Any]:
    return {
        "id": "resp_67ccd2bed1ec8190",
        "object": "response",
        "created_at": 1741476542,
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": "You are terse.",
        "max_output_tokens": None,
        "model": "o4-mini-2025-04-16",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {
                "type": "message",
                "id": "msg_67ccd2bf17f0",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Done.", "annotations": []}],
            },
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_r1",
                "name": "grep",
                "arguments": '{"q":"TODO"}',
                "status": "completed",
            },
        ],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": "medium", "summary": None},
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": {
            "input_tokens": 36,
            "input_tokens_details": {"cached_tokens": 12},
            "output_tokens": 87,
            "output_tokens_details": {"reasoning_tokens": 64},
            "total_tokens": 123,
        },
        "user": None,
        "metadata": {},
    }


def responses_events() -> list[dict[str, Any]]:
    """The event sequence of a streamed response, as the Responses API sends it."""
    final = responses_object()
    reasoning, message, call = final["output"]
    created = {**final, "status": "in_progress", "output": [], "usage": None}
    msg_id = message["id"]
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": created},
        {"type": "response.in_progress", "response": created},
        {"type": "response.output_item.added", "output_index": 0, "item": reasoning},
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {**message, "status": "in_progress", "content": []},
        },
        {
            "type": "response.content_part.added",
            "item_id": msg_id,
            "output_index": 1,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
        {
            "type": "response.output_text.delta",
            "item_id": msg_id,
            "output_index": 1,
            "content_index": 0,
            "delta": "Done.",
            "logprobs": [],
        },
        {
            "type": "response.output_text.done",
            "item_id": msg_id,
            "output_index": 1,
            "content_index": 0,
            "text": "Done.",
            "logprobs": [],
        },
        {
            "type": "response.content_part.done",
            "item_id": msg_id,
            "output_index": 1,
            "content_index": 0,
            "part": message["content"][0],
        },
        {"type": "response.output_item.done", "output_index": 1, "item": message},
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {**call, "arguments": "", "status": "in_progress"},
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": call["id"],
            "output_index": 2,
            "delta": call["arguments"],
        },
        {
            "type": "response.function_call_arguments.done",
            "item_id": call["id"],
            "output_index": 2,
            "arguments": call["arguments"],
        },
        {"type": "response.output_item.done", "output_index": 2, "item": call},
        {"type": "response.completed", "response": final},
    ]
    return [{**event, "sequence_number": n} for n, event in enumerate(events)]


def embeddings(count: int = 2, dims: int = 8) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": [0.01 * j for j in range(dims)]}
            for i in range(count)
        ],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 9, "total_tokens": 9},
    }


def sse(events: list[dict[str, Any]], *, typed: bool = False, done: bool = True) -> bytes:
    lines = []
    for event in events:
        if typed:
            lines.append(f"event: {event['type']}\n")
        lines.append(f"data: {json.dumps(event)}\n\n")
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


ERRORS = {
    400: {
        "error": {
            "message": "Invalid value for 'temperature'.",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "invalid_value",
        }
    },
    429: {
        "error": {
            "message": "Rate limit reached for gpt-4o-mini.",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    },
    500: {
        "error": {
            "message": "The server had an error while processing your request.",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    },
}


@dataclass
class FakeOpenAI:
    """Routes requests; records what the SDK sent. ``fail_with`` makes the next calls fail."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: int | None = None
    tool_call: bool = False
    on_request: Callable[[httpx.Request], None] | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        self.requests.append(
            {"path": request.url.path, "body": body, "headers": dict(request.headers)}
        )
        if self.on_request:
            self.on_request(request)
        if self.fail_with:
            return httpx.Response(
                self.fail_with, json=ERRORS[self.fail_with], headers={"x-request-id": "req_err"}
            )
        path = request.url.path
        headers = {"x-request-id": "req_123", "openai-processing-ms": "42"}
        if path.endswith("/chat/completions"):
            if body.get("stream"):
                usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return httpx.Response(
                    200,
                    content=sse(chat_chunks(include_usage=usage, tool_call=self.tool_call)),
                    headers={**headers, "content-type": "text/event-stream"},
                )
            return httpx.Response(
                200, json=chat_completion(tool_call=self.tool_call), headers=headers
            )
        if path.endswith("/responses"):
            if body.get("stream"):
                return httpx.Response(
                    200,
                    content=sse(responses_events(), typed=True, done=False),
                    headers={**headers, "content-type": "text/event-stream"},
                )
            return httpx.Response(200, json=responses_object(), headers=headers)
        if path.endswith("/embeddings"):
            return httpx.Response(200, json=embeddings(), headers=headers)
        return httpx.Response(
            404, json={"error": {"message": "not found", "type": "invalid_request_error"}}
        )

    def sync_client(self, **kwargs: Any) -> Any:
        import openai

        return openai.OpenAI(
            api_key="sk-test",
            base_url="https://api.openai.com/v1",
            max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(self.handler)),
            **kwargs,
        )

    def async_client(self, **kwargs: Any) -> Any:
        import openai

        async def handler(request: httpx.Request) -> httpx.Response:
            await request.aread()
            return self.handler(request)

        return openai.AsyncOpenAI(
            api_key="sk-test",
            base_url="https://api.openai.com/v1",
            max_retries=0,
            http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
            **kwargs,
        )
