"""The Anthropic instrumentor with the real ``anthropic`` SDK, answered in-process by
MockTransport."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import agent_otel
from agent_otel import semconv as sc
from agent_otel.cost import TokenUsage, default_price_book
from agent_otel.instrumentation.anthropic import AnthropicInstrumentor
from tests.instrumentation.anthropic_server import (
    MODEL,
    OTEL_INPUT,
    RESPONSE_MODEL,
    FakeAnthropic,
    error_body,
)
from tests.instrumentation.conftest import LLMHarness, assert_semconv, instrumented
from tests.instrumentation.sdk_http import http_library
from tests.semconv.official import check_metric_against_reference

httpx = http_library("anthropic")

MESSAGES = [{"role": "user", "content": "Fix the failing test in src/app.py"}]
SYSTEM = "You are a coding agent."
NATIVE_SCOPE = "com.anthropic.sdk.python"


@pytest.fixture
def llm(tel) -> Iterator[LLMHarness]:  # type: ignore[no-untyped-def]
    yield from instrumented(tel, AnthropicInstrumentor())


@pytest.fixture
def api() -> FakeAnthropic:
    return FakeAnthropic()


def _create(client: Any, **kwargs: Any) -> Any:
    return client.messages.create(
        model=MODEL, max_tokens=1024, system=SYSTEM, messages=MESSAGES, **kwargs
    )


def _ended(llm: LLMHarness, count: int = 1) -> list[Any]:
    gc.collect()
    spans = llm.llm_spans()
    assert len(spans) == count, [s.name for s in spans]
    assert all(s.end_time is not None for s in spans)
    return spans


def _cost(usage: TokenUsage, model: str = RESPONSE_MODEL) -> float:
    cost = default_price_book().cost("anthropic", model, usage)
    assert cost is not None and cost > 0
    return cost


# -- non-streaming ---------------------------------------------------------------------------


def test_message_span_usage_cache_tokens_cost_and_rollup(
    llm: LLMHarness, api: FakeAnthropic
) -> None:
    client = api.sync_client()
    with agent_otel.session(user_id="alice") as s, s.operation("query", "plan the fix"):
        # this SDK version no longer has sampling parameters; older APIs take them
        result = _create(
            client,
            stop_sequences=["\n\nHuman:"],
            extra_body={"temperature": 0.3, "top_p": 0.9, "top_k": 40},
        )
        second = _create(client)
    assert result.content[0].text == "I'll read the file first."
    assert result.usage.input_tokens == 25  # the app sees Anthropic's own counts
    assert second.id == result.id

    spans = llm.llm_spans()
    assert len(spans) == 2
    span = spans[0]
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    a = span.attributes
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert a[sc.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert a[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert a[sc.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL
    assert a[sc.GEN_AI_RESPONSE_ID] == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 1024
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert a[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert a[sc.GEN_AI_REQUEST_TOP_K] == 40.0
    assert a[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ("\n\nHuman:",)
    # OTel convention: input includes cache read + cache creation
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == OTEL_INPUT == 6025
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 95
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 4800
    assert a[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 1200
    assert sc.GEN_AI_REQUEST_STREAM not in a
    assert a[sc.SERVER_ADDRESS] == "api.anthropic.com"
    assert a[sc.SERVER_PORT] == 443
    usage = TokenUsage(
        input_tokens=6025, output_tokens=95, cache_read_tokens=4800, cache_creation_tokens=1200
    )
    expected = _cost(usage)
    # cache reads are cheaper than plain input: the cache tokens were priced as such
    assert expected < _cost(TokenUsage(input_tokens=6025, output_tokens=95))
    assert a[sc.AGENT_USAGE_COST] == pytest.approx(expected)
    assert sc.AGENT_USAGE_COST_UNKNOWN not in a
    for key in (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES, sc.GEN_AI_SYSTEM_INSTRUCTIONS):
        assert key not in a  # content is opt-in
    assert_semconv(span)

    op_span = llm.core.span("execute_tool query")
    assert span.parent is not None and span.parent.span_id == op_span.context.span_id
    (session,) = llm.core.sessions()
    (op,) = session.operations
    assert (op.input_tokens, op.output_tokens) == (2 * 6025, 2 * 95)
    assert op.cost == pytest.approx(2 * expected)
    calls = op.llm_calls
    assert len(calls) == 2
    assert sum(c.usage.cache_read_tokens for c in calls) == 2 * 4800
    assert sum(c.usage.cache_creation_tokens for c in calls) == 2 * 1200
    assert session.total_tokens == sum(c.usage.total_tokens for c in calls) == 2 * (6025 + 95)
    assert session.total_cost == pytest.approx(sum(c.usage.cost for c in calls))
    assert session.total_cost == pytest.approx(2 * expected)
    assert span.attributes[sc.SESSION_ID] == session.id


def test_content_when_enabled(llm: LLMHarness, api: FakeAnthropic, capture_messages: None) -> None:
    api.tool_use = True
    client = api.sync_client()
    tools = [
        {
            "name": "read_file",
            "description": "Read a file",
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
        }
    ]
    result = client.messages.create(
        model=MODEL,
        max_tokens=1024,
        system=[
            {"type": "text", "text": SYSTEM},
            {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
        ],
        tools=tools,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this screenshot?"},
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": "iVBORw0KGgo=",
                        },
                    },
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me list the files."},
                    {"type": "tool_use", "id": "toolu_0", "name": "ls", "input": {"dir": "."}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_0", "content": "app.py"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "line 1"}],
                        "is_error": False,
                    },
                ],
            },
        ],
    )
    a = llm.llm_span().attributes
    assert json.loads(a[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {
            "role": "system",
            "parts": [
                {"type": "text", "content": SYSTEM},
                {"type": "text", "content": "Be brief."},
            ],
        }
    ]
    inputs = json.loads(a[sc.GEN_AI_INPUT_MESSAGES])
    assert inputs[0] == {
        "role": "user",
        "parts": [{"type": "text", "content": "What is in this screenshot?"}, {"type": "image"}],
    }
    assert "iVBORw0KGgo" not in a[sc.GEN_AI_INPUT_MESSAGES]  # never the image data
    assert inputs[1]["parts"][1] == {
        "type": "tool_call",
        "id": "toolu_0",
        "name": "ls",
        "arguments": {"dir": "."},
    }
    assert inputs[2] == {
        "role": "user",
        "parts": [
            {"type": "tool_call_response", "id": "toolu_0", "response": "app.py"},
            {"type": "tool_call_response", "id": "toolu_1", "response": "line 1"},
        ],
    }
    outputs = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert outputs == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "I'll read the file first."},
                {
                    "type": "tool_call",
                    "id": "toolu_01A09q90qw90lq917835lq9",
                    "name": "read_file",
                    "arguments": {"path": "src/app.py"},
                },
            ],
            "finish_reason": "tool_use",
        }
    ]
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert_semconv(llm.llm_span())

    # the app's next turn passes the SDK's typed blocks back as they are
    client.messages.create(
        model=MODEL,
        max_tokens=1024,
        system=SYSTEM,
        messages=[
            *MESSAGES,
            {"role": "assistant", "content": result.content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": result.content[1].id, "content": "ok"}
                ],
            },
        ],
    )
    second = llm.llm_spans()[1].attributes
    assert json.loads(second[sc.GEN_AI_SYSTEM_INSTRUCTIONS])[0]["parts"] == [
        {"type": "text", "content": SYSTEM}
    ]
    turn = json.loads(second[sc.GEN_AI_INPUT_MESSAGES])
    assert turn[1]["parts"][1]["arguments"] == {"path": "src/app.py"}
    assert turn[2]["parts"][0]["id"] == "toolu_01A09q90qw90lq917835lq9"


def test_thinking_blocks_and_reasoning_tokens(
    llm: LLMHarness, api: FakeAnthropic, capture_messages: None
) -> None:
    api.thinking = True
    _create(api.sync_client(), thinking={"type": "enabled", "budget_tokens": 2048})
    a = llm.llm_span().attributes
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 40
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 95  # thinking is part of the output
    parts = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"]
    assert parts[0] == {"type": "reasoning", "content": "The test imports app."}
    assert_semconv(llm.llm_span())


def test_secrets_in_prompts_are_redacted(
    llm: LLMHarness, api: FakeAnthropic, capture_messages: None
) -> None:
    secret = "sk-ant-api03-" + "A1b2C3d4E5f6G7h8I9j0" * 4
    api.sync_client().messages.create(
        model=MODEL,
        max_tokens=10,
        messages=[{"role": "user", "content": f"use key {secret} to deploy"}],
    )
    recorded = llm.llm_span().attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert secret not in recorded and "[REDACTED" in recorded


def test_one_shot_iterables_are_never_consumed(
    llm: LLMHarness, api: FakeAnthropic, capture_messages: None
) -> None:
    messages = (m for m in MESSAGES)
    api.sync_client().messages.create(model=MODEL, max_tokens=10, messages=messages)
    assert api.requests[-1]["body"]["messages"] == MESSAGES  # the SDK still sent them
    assert llm.llm_span().attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 95


def test_extra_body_and_json_output(llm: LLMHarness, api: FakeAnthropic) -> None:
    api.sync_client().messages.create(
        model=MODEL,
        max_tokens=10,
        messages=MESSAGES,
        output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
        extra_body={"temperature": 0.0},
    )
    a = llm.llm_span().attributes
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.0
    assert a[sc.GEN_AI_OUTPUT_TYPE] == "json"


def test_beta_messages_and_parse(llm: LLMHarness, api: FakeAnthropic) -> None:
    client = api.sync_client()
    beta = client.beta.messages.create(
        model=MODEL, max_tokens=10, messages=MESSAGES, betas=["context-1m-2025-08-07"]
    )
    assert beta.id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert api.requests[-1]["path"] == "/v1/messages"
    assert api.requests[-1]["headers"]["anthropic-beta"] == "context-1m-2025-08-07"
    parsed = client.messages.parse(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert parsed.id == beta.id
    spans = _ended(llm, 2)
    for span in spans:
        assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == OTEL_INPUT
        assert_semconv(span)


def test_count_tokens_and_other_endpoints_pass_through(llm: LLMHarness, api: FakeAnthropic) -> None:
    client = api.sync_client()
    counted = client.messages.count_tokens(model=MODEL, messages=MESSAGES)
    assert counted.input_tokens == 2095
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("claude-nonexistent")
    assert llm.llm_spans() == []
    assert [r["path"] for r in api.requests] == [
        "/v1/messages/count_tokens",
        "/v1/models/claude-nonexistent",
    ]


# -- streaming -------------------------------------------------------------------------------


def test_stream_events_usage_and_tool_call(
    llm: LLMHarness, api: FakeAnthropic, capture_messages: None
) -> None:
    api.tool_use = True
    stream = _create(api.sync_client(), stream=True)
    assert isinstance(stream, anthropic.Stream)
    assert stream.response.headers["request-id"] == "req_018EeWyXxfu5pfWkrYcMdjWG"
    events = list(stream)
    assert events[0].type == "message_start"
    assert "ping" not in [e.type for e in events]
    assert events[-1].type == "message_stop"

    span = llm.llm_span()
    a = span.attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_RESPONSE_ID] == "msg_014p7gG3wDgGV9EUtLvnow3U"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_use",)
    # input side from message_start (472 + 2048 cache read), output from message_delta
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 472 + 2048
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2048
    assert sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS not in a
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 15
    assert a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    expected = _cost(TokenUsage(input_tokens=2520, output_tokens=15, cache_read_tokens=2048))
    assert a[sc.AGENT_USAGE_COST] == pytest.approx(expected)
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Hello there"},
                {
                    "type": "tool_call",
                    "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                    "name": "run",
                    "arguments": {"cmd": "ls -la"},
                },
            ],
            "finish_reason": "tool_use",
        }
    ]
    assert_semconv(span)
    assert llm.metric_points("gen_ai.client.operation.time_to_first_chunk")


def test_stream_takes_the_latest_cumulative_usage(llm: LLMHarness, api: FakeAnthropic) -> None:
    api.repeat_input = True
    list(_create(api.sync_client(), stream=True))
    a = llm.llm_span().attributes
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 480 + 2048  # message_delta's, not message_start's
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 2048
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 15


def test_stream_helper_text_stream_and_final_message(
    llm: LLMHarness, api: FakeAnthropic, capture_messages: None
) -> None:
    client = api.sync_client()
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=MESSAGES) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello there"
    assert final.content[0].text == "Hello there"
    assert final.usage.output_tokens == 15
    (span,) = _ended(llm)
    a = span.attributes
    assert a[sc.GEN_AI_REQUEST_STREAM] is True
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 15
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2520
    assert json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])[0]["parts"] == [
        {"type": "text", "content": "Hello there"}
    ]
    assert_semconv(span)

    # get_final_message() alone reads the stream to the end
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=MESSAGES) as stream:
        assert stream.get_final_text() == "Hello there"
    # leaving the block early ends the call with what was seen
    with client.messages.stream(model=MODEL, max_tokens=1024, messages=MESSAGES) as stream:
        for event in stream:
            if event.type == "text":
                break
    spans = _ended(llm, 3)
    assert spans[1].attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 15
    early = spans[2].attributes
    assert early[sc.GEN_AI_RESPONSE_ID] == "msg_014p7gG3wDgGV9EUtLvnow3U"
    assert early[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2520  # message_start's counts
    assert sc.GEN_AI_RESPONSE_FINISH_REASONS not in early
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


def test_stream_ends_on_break_when_dropped(llm: LLMHarness, api: FakeAnthropic) -> None:
    stream = _create(api.sync_client(), stream=True)
    for _event in stream:
        break
    assert llm.llm_spans() == []  # still open: the app may go on reading
    del stream
    (span,) = _ended(llm)
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "msg_014p7gG3wDgGV9EUtLvnow3U"


def test_stream_ends_on_close_and_with_exit(llm: LLMHarness, api: FakeAnthropic) -> None:
    client = api.sync_client()
    stream = _create(client, stream=True)
    next(iter(stream))
    stream.close()
    assert len(llm.llm_spans()) == 1
    with _create(client, stream=True) as stream2:
        assert isinstance(stream2, anthropic.Stream)
        next(stream2)
    assert len(llm.llm_spans()) == 2
    assert all(s.status.status_code is StatusCode.UNSET for s in llm.llm_spans())


def test_stream_ends_when_the_loop_raises(llm: LLMHarness, api: FakeAnthropic) -> None:
    def consume() -> None:
        for _event in _create(api.sync_client(), stream=True):
            raise ValueError("app bug")

    with pytest.raises(ValueError, match="app bug"):
        consume()
    (span,) = _ended(llm)
    assert span.status.status_code is StatusCode.UNSET  # the app's error, not the call's


def test_error_event_mid_stream(
    llm: LLMHarness, api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.instrumentation.anthropic_server import sse, stream_events

    def handler(request: httpx.Request) -> httpx.Response:
        events = stream_events()[:4]
        body = (
            sse(events)
            + (
                "event: error\ndata: "
                + json.dumps(error_body("overloaded_error", "Overloaded"))
                + "\n\n"
            ).encode()
        )
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    monkeypatch.setattr(api, "handler", handler)
    with pytest.raises(anthropic.APIStatusError, match="Overloaded") as raised:
        list(_create(api.sync_client(), stream=True))
    assert raised.value.type == "overloaded_error"
    (span,) = _ended(llm)
    assert span.attributes[sc.ERROR_TYPE] == type(raised.value).__qualname__
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2520  # seen before the error


# -- async -----------------------------------------------------------------------------------


def test_async_create_stream_helper_and_cancellation(llm: LLMHarness, api: FakeAnthropic) -> None:
    async def main() -> None:
        client = api.async_client()
        result = await _create(client)
        assert result.usage.cache_read_input_tokens == 4800
        stream = await _create(client, stream=True)
        assert isinstance(stream, anthropic.AsyncStream)
        types = [event.type async for event in stream]
        assert types[-1] == "message_stop"
        async with client.messages.stream(
            model=MODEL, max_tokens=1024, messages=MESSAGES
        ) as helper:
            text = "".join([t async for t in helper.text_stream])
            final = await helper.get_final_message()
        assert text == "Hello there" and final.stop_reason == "end_turn"
        async with await _create(client, stream=True) as s2:
            await s2.__anext__()

        async def slow_reader() -> None:
            s3 = await _create(client, stream=True)
            async for _ in s3:
                await asyncio.sleep(10)

        task = asyncio.create_task(slow_reader())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    spans = _ended(llm, 5)
    assert spans[0].attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == OTEL_INPUT
    assert spans[1].attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 15
    assert spans[2].attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 15
    # cancelled in the loop body: the app's doing, not the call's failure
    assert spans[4].status.status_code is StatusCode.UNSET


def test_async_cancellation_while_waiting_for_the_server(llm: LLMHarness) -> None:
    from tests.instrumentation.anthropic_server import BASE_URL, sse, stream_events

    events = stream_events()

    async def body() -> Any:
        yield sse(events[:3])
        await asyncio.sleep(10)  # the model is slow
        yield sse(events[3:])

    async def handler(request: httpx.Request) -> httpx.Response:
        await request.aread()
        return httpx.Response(200, content=body(), headers={"content-type": "text/event-stream"})

    client = anthropic.AsyncAnthropic(
        api_key="sk-ant-test",
        base_url=BASE_URL,
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )

    async def main() -> None:
        async def reader() -> None:
            async with client.messages.stream(
                model=MODEL, max_tokens=10, messages=MESSAGES
            ) as stream:
                async for _ in stream.text_stream:
                    pass

        task = asyncio.create_task(reader())
        await asyncio.sleep(0.1)
        assert llm.llm_spans() == []
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    (span,) = _ended(llm)
    assert span.attributes[sc.ERROR_TYPE] == "CancelledError"
    assert span.attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == 2520  # message_start had arrived


def test_async_errors(llm: LLMHarness, api: FakeAnthropic) -> None:
    api.fail_with = 529

    async def main() -> None:
        with pytest.raises(anthropic.OverloadedError):
            await _create(api.async_client())

    asyncio.run(main())
    assert llm.llm_span().attributes[sc.ERROR_TYPE] == "OverloadedError"


# -- SDK contract ----------------------------------------------------------------------------


def test_raw_and_streaming_responses_keep_their_contract(
    llm: LLMHarness, api: FakeAnthropic
) -> None:
    client = api.sync_client()
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert raw.headers["request-id"] == "req_018EeWyXxfu5pfWkrYcMdjWG"
    assert raw.parse().usage.cache_creation_input_tokens == 1200
    with client.messages.with_streaming_response.create(
        model=MODEL, max_tokens=10, messages=MESSAGES
    ) as response:
        assert response.headers["request-id"] == "req_018EeWyXxfu5pfWkrYcMdjWG"
        assert response.parse().id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    raw_stream = client.messages.with_raw_response.create(
        model=MODEL, max_tokens=10, messages=MESSAGES, stream=True
    )
    assert [e.type for e in raw_stream.parse()][-1] == "message_stop"
    spans = _ended(llm, 3)
    assert spans[0].attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == OTEL_INPUT  # from the raw body
    assert spans[0].attributes[sc.AGENT_USAGE_COST] > 0


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, anthropic.BadRequestError),
        (429, anthropic.RateLimitError),
        (500, anthropic.InternalServerError),
        (529, anthropic.OverloadedError),
    ],
)
def test_api_errors_reach_the_app_unchanged(
    llm: LLMHarness, api: FakeAnthropic, status: int, error: type[Exception]
) -> None:
    api.fail_with = status
    with pytest.raises(error) as raised:
        _create(api.sync_client())
    assert type(raised.value) is error
    assert raised.value.status_code == status  # type: ignore[attr-defined]
    assert raised.value.request_id == "req_018EeWyXxfu5pfWkrYcMdjWG"  # type: ignore[attr-defined]
    span = llm.llm_span()
    assert span.attributes[sc.ERROR_TYPE] == error.__name__
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes
    (point,) = llm.metric_points("gen_ai.client.operation.duration")
    assert point.attributes[sc.ERROR_TYPE] == error.__name__
    assert_semconv(span)


def test_timeout_reaches_the_app(
    llm: LLMHarness, api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    monkeypatch.setattr(api, "handler", handler)
    with pytest.raises(anthropic.APITimeoutError):
        _create(api.sync_client())
    assert llm.llm_span().attributes[sc.ERROR_TYPE] == "APITimeoutError"


def test_unknown_model_cost_is_marked_unknown(
    llm: LLMHarness, api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = api.handler

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(original(request).content)
        body["model"] = "acme-claude-clone"
        return httpx.Response(200, json=body)

    monkeypatch.setattr(api, "handler", handler)
    api.sync_client().messages.create(model="acme-claude-clone", max_tokens=10, messages=MESSAGES)
    a = llm.llm_span().attributes
    assert a[sc.AGENT_USAGE_COST_UNKNOWN] is True
    assert sc.AGENT_USAGE_COST not in a
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == OTEL_INPUT


def test_metrics_follow_the_official_definitions(llm: LLMHarness, api: FakeAnthropic) -> None:
    _create(api.sync_client())
    data = llm.metrics.get_metrics_data()
    assert data is not None
    metrics = {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    for name in ("gen_ai.client.token.usage", "gen_ai.client.operation.duration"):
        assert not check_metric_against_reference(name, "histogram", metrics[name].unit)
    tokens = {
        p.attributes[sc.GEN_AI_TOKEN_TYPE]: p
        for p in metrics["gen_ai.client.token.usage"].data.data_points
    }
    assert tokens["input"].sum == OTEL_INPUT and tokens["output"].sum == 95
    assert tokens["input"].attributes[sc.GEN_AI_PROVIDER_NAME] == "anthropic"
    assert tokens["input"].attributes[sc.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL


def test_vertex_client_is_recorded_under_its_provider(llm: LLMHarness, api: FakeAnthropic) -> None:
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))  # Vertex AI's URL, the same Messages API body
        return api.handler(httpx.Request("POST", "https://x/v1/messages", content=request.content))

    client = anthropic.AnthropicVertex(
        region="us-east5",
        project_id="my-project",
        access_token="ya29.test",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    client.messages.create(model=MODEL, max_tokens=10, messages=MESSAGES)
    assert urls[0].endswith(f"/models/{MODEL}:rawPredict")
    a = llm.llm_span().attributes
    assert a[sc.GEN_AI_PROVIDER_NAME] == "gcp.vertex_ai"
    assert a[sc.SERVER_ADDRESS] == "us-east5-aiplatform.googleapis.com"
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == OTEL_INPUT
    assert_semconv(llm.llm_span())


def test_enriches_an_llm_client_span_made_by_another_instrumentation(
    llm: LLMHarness, api: FakeAnthropic
) -> None:
    other = llm.core.other_tracer("opentelemetry.instrumentation.anthropic")
    with other.start_as_current_span(
        f"chat {MODEL}",
        kind=SpanKind.CLIENT,
        attributes={sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_PROVIDER_NAME: "anthropic"},
    ):
        _create(api.sync_client())
    spans = [s for s in llm.core.spans() if s.kind is SpanKind.CLIENT]
    assert len(spans) == 1
    assert spans[0].attributes[sc.AGENT_USAGE_COST] > 0
    assert spans[0].attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] == OTEL_INPUT


# -- the SDK's native tracing ----------------------------------------------------------------


def _client_spans(llm: LLMHarness) -> list[Any]:
    gc.collect()
    return [s for s in llm.core.spans() if s.kind is SpanKind.CLIENT]


def _has_native_tracing() -> bool:
    import anthropic._base_client as base

    return "_tracer" in base.BaseClient.__dict__


needs_native_tracing = pytest.mark.skipif(
    not _has_native_tracing(), reason="this anthropic release has no native OpenTelemetry tracing"
)


@needs_native_tracing
def test_native_spans_are_replaced_while_instrumented(tel, api: FakeAnthropic) -> None:  # type: ignore[no-untyped-def]
    import anthropic._base_client as base

    native_tracer = base.BaseClient.__dict__.get("_tracer")
    client = api.sync_client(open_telemetry={"tracer_provider": tel.provider})

    _create(client)  # not instrumented: the SDK's own span, and its trace context sent
    (native,) = [s for s in tel.spans() if s.kind is SpanKind.CLIENT]
    assert native.instrumentation_scope.name == NATIVE_SCOPE
    assert "traceparent" in api.requests[-1]["headers"]
    tel.exporter.clear()

    instrumentor = AnthropicInstrumentor()
    for harness in instrumented(tel, instrumentor):
        assert base.BaseClient.__dict__.get("_tracer") is not native_tracer
        _create(client)
        list(_create(client, stream=True))
        with client.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES) as s:
            s.until_done()
        spans = _client_spans(harness)
        assert [s.instrumentation_scope.name for s in spans] == [instrumentor.scope] * 3
        for span in spans:
            assert span.attributes[sc.AGENT_USAGE_COST] > 0
        # the SDK still propagates the call's trace context: now our span's
        traceparent = api.requests[-1]["headers"]["traceparent"]
        assert traceparent.split("-")[2] == format(spans[-1].context.span_id, "016x")
        # other endpoints keep their native span
        client.messages.count_tokens(model=MODEL, messages=MESSAGES)
        (counted,) = [s for s in _client_spans(harness) if s not in spans]
        assert counted.name == "anthropic.messages.count_tokens"
        assert counted.instrumentation_scope.name == NATIVE_SCOPE
    assert base.BaseClient.__dict__.get("_tracer") is native_tracer
    tel.exporter.clear()
    _create(client)
    (native,) = [s for s in tel.spans() if s.kind is SpanKind.CLIENT]
    assert native.instrumentation_scope.name == NATIVE_SCOPE


@needs_native_tracing
def test_native_tracing_off_and_propagation_off(llm: LLMHarness, api: FakeAnthropic) -> None:
    _create(api.sync_client(open_telemetry=False))
    assert "traceparent" not in api.requests[-1]["headers"]
    no_propagation = {"tracer_provider": llm.core.provider, "propagation": False}
    _create(api.sync_client(open_telemetry=no_propagation))
    assert "traceparent" not in api.requests[-1]["headers"]
    spans = _client_spans(llm)
    assert len(spans) == 2
    assert all(s.attributes[sc.AGENT_USAGE_COST] > 0 for s in spans)


@needs_native_tracing
def test_native_tracing_with_a_global_provider(tmp_path: Path) -> None:
    """A global SDK tracer provider can be set once per process: in a subprocess, as an app
    under ``opentelemetry-instrument`` would have it."""
    script = tmp_path / "app.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, sys
            from opentelemetry import trace
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
                InMemorySpanExporter,
            )
            from agent_otel.instrumentation.anthropic import AnthropicInstrumentor
            from tests.instrumentation.anthropic_server import FakeAnthropic, MODEL

            exporter = InMemorySpanExporter()
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            api = FakeAnthropic()
            client = api.sync_client()

            def call():
                exporter.clear()
                client.messages.create(
                    model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "hi"}]
                )
                list(client.messages.create(
                    model=MODEL, max_tokens=10, stream=True,
                    messages=[{"role": "user", "content": "hi"}],
                ))
                return [
                    [s.name, s.instrumentation_scope.name, "agent.usage.cost" in s.attributes]
                    for s in exporter.get_finished_spans()
                ]

            result = {"before": call()}
            instrumentor = AnthropicInstrumentor()
            instrumentor.instrument()
            result["during"] = call()
            result["traceparent"] = "traceparent" in api.requests[-1]["headers"]
            instrumentor.uninstrument()
            result["after"] = call()
            print(json.dumps(result))
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_"))}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[2] / "src")]
    )
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    native = ["anthropic.messages.create", NATIVE_SCOPE, False]
    ours = [f"chat {MODEL}", "agent_otel.instrumentation.anthropic", True]
    assert result["before"] == [native, native]
    assert result["during"] == [ours, ours]
    assert result["traceparent"] is True
    assert result["after"] == [native, native]


@needs_native_tracing
def test_instrument_logs_how_to_keep_the_native_spans(
    tel, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.INFO, logger="agent_otel")
    for _harness in instrumented(tel, AnthropicInstrumentor()):
        records = [r for r in caplog.records if "anthropic" in r.getMessage()]
        assert len(records) == 1, [r.getMessage() for r in records]
        assert (
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=agent_otel_anthropic" in records[0].getMessage()
        )
        assert records[0].levelno == logging.INFO


# -- instrumentor life cycle -----------------------------------------------------------------


def test_uninstrument_restores_the_library_exactly(tel, api: FakeAnthropic) -> None:  # type: ignore[no-untyped-def]
    import anthropic._base_client as base

    before = (
        base.SyncAPIClient.request,
        base.AsyncAPIClient.request,
        base.BaseClient.__dict__.get("_tracer"),
    )
    instrumentor = AnthropicInstrumentor()
    for harness in instrumented(tel, instrumentor):
        assert base.SyncAPIClient.request is not before[0]
        instrumentor.instrument()  # twice is harmless
        _create(api.sync_client())
        assert len(harness.llm_spans()) == 1
    after = (
        base.SyncAPIClient.request,
        base.AsyncAPIClient.request,
        base.BaseClient.__dict__.get("_tracer"),
    )
    assert all(a is b for a, b in zip(after, before, strict=True))
    _create(api.sync_client())
    assert len([s for s in tel.spans() if s.kind is SpanKind.CLIENT]) == 1
    instrumentor.uninstrument()  # again: harmless


def test_unsupported_version_is_skipped_with_a_log_line(
    tel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    import anthropic._base_client as base

    from agent_otel.instrumentation import anthropic as module

    monkeypatch.setattr(module, "SUPPORTED", ("anthropic >= 99",))
    before = (base.SyncAPIClient.request, base.BaseClient.__dict__.get("_tracer"))
    caplog.set_level(logging.WARNING)
    for skip_dep_check in (False, True):  # as an app calls it; as opentelemetry-instrument does
        caplog.clear()
        instrumentor = AnthropicInstrumentor()
        instrumentor.instrument(skip_dep_check=skip_dep_check)
        try:
            assert base.SyncAPIClient.request is before[0]
            assert base.BaseClient.__dict__.get("_tracer") is before[1]
            assert any(
                "anthropic" in r.getMessage() and "99" in r.getMessage() for r in caplog.records
            )
        finally:
            instrumentor.uninstrument()
        assert base.BaseClient.__dict__.get("_tracer") is before[1]


def test_errors_of_ours_never_reach_the_app(
    llm: LLMHarness, api: FakeAnthropic, monkeypatch: pytest.MonkeyPatch, capture_messages: None
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected")

    module = "agent_otel.instrumentation.anthropic.extract"
    monkeypatch.setattr(f"{module}.read_response", broken)
    monkeypatch.setattr(f"{module}.MessageStreamState.observe", broken)
    monkeypatch.setattr(f"{module}.MessageStreamState.finish", broken)
    client = api.sync_client()
    assert _create(client).id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert len(list(_create(client, stream=True))) == 8
    with client.messages.stream(model=MODEL, max_tokens=10, messages=MESSAGES) as stream:
        assert stream.get_final_text() == "Hello there"
    _ended(llm, 3)

    monkeypatch.setattr(f"{module}.input_messages", broken)
    monkeypatch.setattr(f"{module}.request_attributes", broken)
    assert _create(client).id == "msg_01XFDUDYJgAACzvnptvVoYEL"  # not recorded, not broken
    assert len(llm.llm_spans()) == 3


def test_stream_state_reads_plain_json_events() -> None:
    """Events as plain JSON (what a raw stream's body holds): a thinking block, a tool
    without arguments (one empty input_json_delta), usage only in message_delta."""
    from agent_otel.instrumentation.anthropic.extract import MessageStreamState
    from agent_otel.instrumentation.llm_call import Response

    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_1", "model": MODEL, "usage": None}},
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Hmm."},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "x"},
        },
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_9", "name": "now", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
        {"type": "content_block_delta", "index": 7, "delta": {"type": "text_delta", "text": "?"}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {
                "input_tokens": 9,
                "output_tokens": 30,
                "cache_creation_input_tokens": 100,
                "output_tokens_details": {"thinking_tokens": 12},
            },
        },
        {"type": "message_stop"},
    ]
    state = MessageStreamState(capture=True)
    response = Response()
    assert not any(state.observe(response, event) for event in events)
    state.finish(response)
    assert response.response_id == "msg_1"
    assert response.usage == TokenUsage(
        input_tokens=109, output_tokens=30, cache_creation_tokens=100, reasoning_tokens=12
    )
    assert response.finish_reasons == ["tool_use"]
    assert response.output_messages == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "Hmm."},
                {"type": "tool_call", "id": "toolu_9", "name": "now", "arguments": {}},
            ],
            "finish_reason": "tool_use",
        }
    ]
