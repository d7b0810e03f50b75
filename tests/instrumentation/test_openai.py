"""The OpenAI instrumentor with the real ``openai`` SDK, answered in-process by MockTransport."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Iterator
from typing import Any

import openai
import pydantic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

import agent_otel
from agent_otel import semconv as sc
from agent_otel.cost import TokenUsage, default_price_book
from agent_otel.instrumentation.openai import OpenAIInstrumentor
from tests.instrumentation.conftest import LLMHarness, assert_semconv, instrumented
from tests.instrumentation.openai_server import (
    MODEL,
    RESPONSE_MODEL,
    FakeOpenAI,
    chat_chunks,
    sse,
)
from tests.instrumentation.sdk_http import http_library
from tests.semconv.official import check_metric_against_reference

httpx = http_library("openai")

MESSAGES = [
    {"role": "system", "content": "You are a coding agent."},
    {"role": "user", "content": "Fix the failing test in src/app.py"},
]


@pytest.fixture
def llm(tel) -> Iterator[LLMHarness]:  # type: ignore[no-untyped-def]
    yield from instrumented(tel, OpenAIInstrumentor())


@pytest.fixture
def api() -> FakeOpenAI:
    return FakeOpenAI()


# -- non-streaming ---------------------------------------------------------------------------


def test_chat_completion_span_usage_cost_and_rollup(llm: LLMHarness, api: FakeOpenAI) -> None:
    client = api.sync_client()
    with agent_otel.session(user_id="alice") as s, s.operation("query", "plan the fix"):
        result = client.chat.completions.create(
            model=MODEL, messages=MESSAGES, temperature=0.2, max_tokens=300, seed=7, stop=["\n\n"]
        )
    assert result.choices[0].message.content == "Hello! How can I help?"

    span = llm.llm_span()
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    a = span.attributes
    assert a[sc.GEN_AI_OPERATION_NAME] == "chat"
    assert a[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert a[sc.GEN_AI_REQUEST_MODEL] == MODEL
    assert a[sc.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-9xYz"
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[sc.GEN_AI_REQUEST_MAX_TOKENS] == 300
    assert a[sc.GEN_AI_REQUEST_SEED] == 7
    assert a[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ("\n\n",)
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 120
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 30
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 64
    assert a[sc.SERVER_ADDRESS] == "api.openai.com"
    assert a[sc.SERVER_PORT] == 443
    expected_cost = default_price_book().cost(
        "openai",
        RESPONSE_MODEL,
        TokenUsage(input_tokens=120, output_tokens=30, cache_read_tokens=64),
    )
    assert expected_cost is not None and expected_cost > 0
    assert a[sc.AGENT_USAGE_COST] == pytest.approx(expected_cost)
    assert sc.AGENT_USAGE_COST_UNKNOWN not in a
    for key in (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES):
        assert key not in a  # content is opt-in
    assert_semconv(span)

    # nested under the operation, and rolled up into operation and session
    op_span = llm.core.span("execute_tool query")
    assert span.parent.span_id == op_span.context.span_id
    (session,) = llm.core.sessions()
    (op,) = session.operations
    assert (op.input_tokens, op.output_tokens) == (120, 30)
    assert op.cost == pytest.approx(expected_cost)
    assert session.total_tokens == 150
    assert session.total_cost == pytest.approx(expected_cost)
    assert span.attributes[sc.SESSION_ID] == session.id


def test_message_content_when_enabled(
    llm: LLMHarness, api: FakeOpenAI, capture_messages: None
) -> None:
    api.tool_call = True
    client = api.sync_client()
    tools = [
        {"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}
    ]
    client.chat.completions.create(
        model=MODEL,
        messages=[
            *MESSAGES,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_0",
                        "type": "function",
                        "function": {"name": "ls", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_0", "content": "app.py"},
        ],
        tools=tools,
    )
    a = llm.llm_span().attributes
    inputs = json.loads(a[sc.GEN_AI_INPUT_MESSAGES])
    assert inputs[0] == {
        "role": "system",
        "parts": [{"type": "text", "content": "You are a coding agent."}],
    }
    assert inputs[2]["parts"][0] == {
        "type": "tool_call",
        "id": "call_0",
        "name": "ls",
        "arguments": {},
    }
    assert inputs[3] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": "call_0", "response": "app.py"}],
    }
    outputs = json.loads(a[sc.GEN_AI_OUTPUT_MESSAGES])
    assert outputs == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_abc123",
                    "name": "read_file",
                    "arguments": {"path": "src/app.py"},
                }
            ],
            "finish_reason": "tool_calls",
        }
    ]
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)


def test_secrets_in_prompts_are_redacted(
    llm: LLMHarness, api: FakeOpenAI, capture_messages: None
) -> None:
    secret = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2
    api.sync_client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": f"use key {secret} to deploy"}]
    )
    recorded = llm.llm_span().attributes[sc.GEN_AI_INPUT_MESSAGES]
    assert secret not in recorded and "[REDACTED" in recorded


def test_parse_with_pydantic_response_format(
    llm: LLMHarness, api: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Plan(pydantic.BaseModel):
        steps: list[str]

    original = api.handler

    def handler(request: httpx.Request) -> httpx.Response:
        response = original(request)
        body = json.loads(response.content)
        body["choices"][0]["message"]["content"] = json.dumps({"steps": ["read", "fix"]})
        return httpx.Response(200, json=body)

    monkeypatch.setattr(api, "handler", handler)
    parsed = api.sync_client().chat.completions.parse(
        model=MODEL, messages=MESSAGES, response_format=Plan
    )
    assert parsed.choices[0].message.parsed == Plan(steps=["read", "fix"])
    a = llm.llm_span().attributes
    assert a[sc.GEN_AI_OUTPUT_TYPE] == "json"
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 120


def test_embeddings(llm: LLMHarness, api: FakeOpenAI) -> None:
    result = api.sync_client().embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(result.data) == 2
    span = llm.llm_span()
    assert span.name == "embeddings text-embedding-3-small"
    a = span.attributes
    assert a[sc.GEN_AI_OPERATION_NAME] == "embeddings"
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 9
    assert a[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 8
    assert_semconv(span)


def test_responses_api(llm: LLMHarness, api: FakeOpenAI) -> None:
    response = api.sync_client().responses.create(
        model="o4-mini", input="Find TODOs", instructions="You are terse."
    )
    assert response.output_text == "Done."
    a = llm.llm_span().attributes
    assert llm.llm_span().name == "chat o4-mini"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == "o4-mini-2025-04-16"
    assert a[sc.GEN_AI_RESPONSE_ID] == "resp_67ccd2bed1ec8190"
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 36
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 87
    assert a[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 12
    assert a[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 64
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("completed",)
    assert a[sc.AGENT_USAGE_COST] > 0
    assert_semconv(llm.llm_span())


# -- streaming -------------------------------------------------------------------------------


def _chunks_seen(client: Any, **kwargs: Any) -> list[str]:
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True, **kwargs)
    return [chunk.to_json() for chunk in stream]


def test_stream_usage_is_requested_and_invisible_to_the_app(tel, api: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    bare = _chunks_seen(api.sync_client())
    for harness in instrumented(tel, OpenAIInstrumentor()):
        seen = _chunks_seen(api.sync_client())
        assert seen == bare  # byte for byte what the app would have received
        sent = api.requests[-1]["body"]
        assert sent["stream_options"] == {"include_usage": True}
        span = harness.llm_span()
        a = span.attributes
        assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 40
        assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
        assert a[sc.GEN_AI_REQUEST_STREAM] is True
        assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
        assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-stream1"
        assert a[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
        assert_semconv(span)
        assert harness.metric_points("gen_ai.client.operation.time_to_first_chunk")


def test_stream_usage_the_app_asked_for_is_kept(llm: LLMHarness, api: FakeOpenAI) -> None:
    chunks = list(
        api.sync_client().chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert len(chunks) == len(chat_chunks(include_usage=True))
    assert llm.llm_span().attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 3


def test_stream_usage_injection_can_be_turned_off(
    llm: LLMHarness, api: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_OTEL_OPENAI_STREAM_USAGE", "never")
    list(api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert "stream_options" not in api.requests[-1]["body"]
    a = llm.llm_span().attributes
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in a
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_unknown_host_gets_no_injection(llm: LLMHarness, api: FakeOpenAI) -> None:
    import openai as sdk

    client = sdk.OpenAI(
        api_key="x",
        base_url="http://127.0.0.1:8000/v1",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(api.handler)),
    )
    list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    assert "stream_options" not in api.requests[-1]["body"]
    assert llm.llm_span().attributes[sc.SERVER_PORT] == 8000


def test_server_follows_a_changed_base_url(llm: LLMHarness, api: FakeOpenAI) -> None:
    """The server of a base URL is remembered per URL object: a client given another base
    URL (or a new client on the same one) reports the server it now calls."""
    client = api.sync_client()
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    client.base_url = "http://127.0.0.1:8123/v1"  # type: ignore[assignment]
    client.chat.completions.create(model=MODEL, messages=MESSAGES)
    api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES)
    servers = [
        (s.attributes[sc.SERVER_ADDRESS], s.attributes[sc.SERVER_PORT]) for s in llm.llm_spans()
    ]
    assert servers == [("api.openai.com", 443), ("127.0.0.1", 8123), ("api.openai.com", 443)]


def test_streamed_tool_calls_with_content(
    llm: LLMHarness, api: FakeOpenAI, capture_messages: None
) -> None:
    api.tool_call = True
    chunks = list(
        api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    )
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    outputs = json.loads(llm.llm_span().attributes[sc.GEN_AI_OUTPUT_MESSAGES])
    assert outputs[0]["parts"] == [
        {"type": "tool_call", "id": "call_s1", "name": "run", "arguments": {"cmd": "ls"}}
    ]


def _one_ended_span(llm: LLMHarness) -> Any:
    gc.collect()
    span = llm.llm_span()
    assert span.end_time is not None
    return span


def test_stream_ends_on_break_when_dropped(llm: LLMHarness, api: FakeOpenAI) -> None:
    stream = api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    for _chunk in stream:
        break
    assert llm.llm_spans() == []  # still open: the app may go on reading
    del stream
    span = _one_ended_span(llm)
    assert sc.GEN_AI_USAGE_INPUT_TOKENS not in span.attributes  # usage had not arrived yet
    assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-stream1"


def test_stream_dropped_before_it_was_read_ends_its_span(llm: LLMHarness, api: FakeOpenAI) -> None:
    # A generator that never started runs no `finally`: the call ends when it is collected.
    stream = api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert llm.llm_spans() == []
    del stream
    assert _one_ended_span(llm).attributes[sc.GEN_AI_REQUEST_STREAM] is True


def test_async_stream_dropped_before_it_was_read_ends_its_span(
    llm: LLMHarness, api: FakeOpenAI
) -> None:
    async def main() -> None:
        await api.async_client().chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True
        )

    asyncio.run(main())
    assert _one_ended_span(llm).attributes[sc.GEN_AI_REQUEST_STREAM] is True


@pytest.mark.parametrize("ending", ["exhausted", "closed", "with"])
def test_an_ended_stream_leaves_no_reference_cycle_and_its_own_close(
    llm: LLMHarness, api: FakeOpenAI, ending: str
) -> None:
    """Once its call ends, nothing of the call lives as long as the stream, and nothing of it
    is left for the garbage collector: with a batch processor holding many spans, such
    cycles made every collection slower."""
    client = api.sync_client()
    gc.collect()
    gc.disable()
    try:
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        if ending == "exhausted":
            list(stream)
        elif ending == "closed":
            next(iter(stream))
            stream.close()
        else:
            with stream:
                next(iter(stream))
        assert "close" not in vars(stream)  # the SDK's own method again
        del stream
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            # (The httpx-based SDK generation leaves cycles of its own; none may be ours.)
            ours = [
                type(o).__qualname__
                for o in gc.garbage
                if type(o).__module__.startswith(("agent_otel", "opentelemetry"))
            ]
            assert ours == []
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    finally:
        gc.enable()
    assert llm.llm_span().end_time is not None


def test_stream_ends_on_close_and_with_exit(llm: LLMHarness, api: FakeOpenAI) -> None:
    client = api.sync_client()
    stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert isinstance(stream, openai.Stream)
    assert stream.response.status_code == 200
    next(iter(stream))
    stream.close()
    assert len(llm.llm_spans()) == 1
    with client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True) as stream2:
        assert isinstance(stream2, openai.Stream)
        next(stream2)
    assert len(llm.llm_spans()) == 2
    assert all(s.status.status_code is StatusCode.UNSET for s in llm.llm_spans())


def test_stream_ends_when_the_loop_raises(llm: LLMHarness, api: FakeOpenAI) -> None:
    def consume() -> None:
        for _chunk in api.sync_client().chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True
        ):
            raise ValueError("app bug")

    with pytest.raises(ValueError, match="app bug"):
        consume()
    span = _one_ended_span(llm)
    assert span.status.status_code is StatusCode.UNSET  # the app's error, not the call's


def test_stream_error_from_the_server_mid_stream(
    llm: LLMHarness, api: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        first = chat_chunks(include_usage=False)[1]
        error = {"error": {"message": "overloaded", "type": "server_error"}}
        body = sse([first, error], done=False)
        return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})

    monkeypatch.setattr(api, "handler", handler)
    with pytest.raises(openai.APIError, match="overloaded"):
        list(api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))
    span = _one_ended_span(llm)
    assert span.attributes[sc.ERROR_TYPE] == "APIError"
    assert span.status.status_code is StatusCode.ERROR


def test_chat_stream_helper(llm: LLMHarness, api: FakeOpenAI) -> None:
    with api.sync_client().chat.completions.stream(model=MODEL, messages=MESSAGES) as stream:
        text = "".join(e.delta for e in stream if e.type == "content.delta")
        final = stream.get_final_completion()
    assert text == "Hello there"
    assert final.choices[0].message.content == "Hello there"
    span = _one_ended_span(llm)
    assert span.attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 3


def test_responses_stream_and_helper(llm: LLMHarness, api: FakeOpenAI) -> None:
    client = api.sync_client()
    events = list(client.responses.create(model="o4-mini", input="x", stream=True))
    assert events[-1].type == "response.completed"
    with client.responses.stream(model="o4-mini", input="x") as stream:
        for _event in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == "Done."
    gc.collect()
    spans = llm.llm_spans()
    assert len(spans) == 2
    for span in spans:
        assert span.attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 64
        assert span.attributes[sc.GEN_AI_RESPONSE_ID] == "resp_67ccd2bed1ec8190"


# -- async -----------------------------------------------------------------------------------


def test_async_create_stream_and_cancellation(llm: LLMHarness, api: FakeOpenAI) -> None:
    async def main() -> None:
        client = api.async_client()
        result = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        assert result.usage.prompt_tokens == 120
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        assert isinstance(stream, openai.AsyncStream)
        texts = [c.choices[0].delta.content async for c in stream if c.choices]
        assert "".join(t or "" for t in texts) == "Hello there"
        async with await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True
        ) as s2:
            await s2.__anext__()

        async def slow_reader() -> None:
            s3 = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
            async for _ in s3:
                await asyncio.sleep(10)

        task = asyncio.create_task(slow_reader())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    gc.collect()
    spans = llm.llm_spans()
    assert len(spans) == 4
    assert all(s.end_time is not None for s in spans)
    assert spans[1].attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 3


# -- SDK contract ----------------------------------------------------------------------------


def test_raw_and_streaming_responses_keep_their_contract(llm: LLMHarness, api: FakeOpenAI) -> None:
    client = api.sync_client()
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=MESSAGES)
    assert raw.headers["x-request-id"] == "req_123"
    assert raw.parse().usage.completion_tokens == 30
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=MESSAGES
    ) as response:
        assert response.headers["x-request-id"] == "req_123"
        assert response.parse().id == "chatcmpl-9xYz"
    spans = llm.llm_spans()
    assert len(spans) == 2
    assert spans[0].attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 30  # read from the raw body
    assert spans[1].end_time is not None


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, openai.BadRequestError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
    ],
)
def test_api_errors_reach_the_app_unchanged(
    llm: LLMHarness, api: FakeOpenAI, status: int, error: type[Exception]
) -> None:
    api.fail_with = status
    with pytest.raises(error) as raised:
        api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES)
    assert raised.value.status_code == status  # type: ignore[attr-defined]
    span = llm.llm_span()
    assert span.attributes[sc.ERROR_TYPE] == error.__name__
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    (point,) = [p for p in llm.metric_points("gen_ai.client.operation.duration")]
    assert point.attributes[sc.ERROR_TYPE] == error.__name__


def test_a_failed_call_is_listed_under_its_operation_without_counting_usage(
    llm: LLMHarness, api: FakeOpenAI
) -> None:
    """A call that failed before the model answered reports no usage, but the session record
    (what `show` and the report display) still lists it, failed, under its operation."""
    client = api.sync_client()
    with agent_otel.session(user_id="alice") as s, s.operation("query", "plan") as op:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
        api.fail_with = 500
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model=MODEL, messages=MESSAGES)
        op_id = op.id
    (session,) = llm.core.sessions()
    (operation,) = session.operations
    assert operation.id == op_id
    assert [c.status for c in operation.llm_calls] == ["UNSET", "ERROR"]
    failed = operation.llm_calls[1]
    assert failed.usage.total_tokens == 0 and failed.model == MODEL
    assert session.total_tokens == operation.llm_calls[0].usage.total_tokens


def test_timeout_reaches_the_app(
    llm: LLMHarness, api: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    monkeypatch.setattr(api, "handler", handler)
    with pytest.raises(openai.APITimeoutError):
        api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES)
    assert llm.llm_span().attributes[sc.ERROR_TYPE] == "APITimeoutError"


def _azure_client(api: FakeOpenAI) -> openai.AzureOpenAI:
    return openai.AzureOpenAI(
        api_key="k",
        api_version="2024-10-21",
        azure_endpoint="https://myres.openai.azure.com",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(api.handler)),
    )


def test_azure_client(llm: LLMHarness, api: FakeOpenAI) -> None:
    client = _azure_client(api)
    client.chat.completions.create(model="gpt-4o-deploy", messages=MESSAGES)
    a = llm.llm_span().attributes
    assert a[sc.GEN_AI_PROVIDER_NAME] == "azure.ai.openai"
    assert a[sc.SERVER_ADDRESS] == "myres.openai.azure.com"


# Azure OpenAI opens a stream with the prompt filter's results: no id, no model, no choices.
AZURE_PROMPT_FILTER_CHUNK = {
    "choices": [],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "prompt_filter_results": [
        {
            "prompt_index": 0,
            "content_filter_results": {
                "hate": {"filtered": False, "severity": "safe"},
                "self_harm": {"filtered": False, "severity": "safe"},
                "sexual": {"filtered": False, "severity": "safe"},
                "violence": {"filtered": False, "severity": "safe"},
            },
        }
    ],
}


def test_azure_stream_takes_id_and_model_from_the_first_chunk_that_has_them(
    llm: LLMHarness, api: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        chunks = [AZURE_PROMPT_FILTER_CHUNK, *chat_chunks(include_usage=False)]
        return httpx.Response(
            200, content=sse(chunks), headers={"content-type": "text/event-stream"}
        )

    monkeypatch.setattr(api, "handler", handler)
    client = _azure_client(api)
    chunks = list(
        client.chat.completions.create(model="gpt-4o-deploy", messages=MESSAGES, stream=True)
    )
    assert len(chunks) == 6  # the app sees every chunk, the filter's too
    a = llm.llm_span().attributes
    assert a[sc.GEN_AI_RESPONSE_ID] == "chatcmpl-stream1"
    assert a[sc.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL
    assert a[sc.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)


def test_unknown_model_cost_is_marked_unknown(
    llm: LLMHarness, api: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = api.handler

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(original(request).content)
        body["model"] = "acme-llm-7"
        return httpx.Response(200, json=body)

    monkeypatch.setattr(api, "handler", handler)
    api.sync_client().chat.completions.create(model="acme-llm-7", messages=MESSAGES)
    a = llm.llm_span().attributes
    assert a[sc.AGENT_USAGE_COST_UNKNOWN] is True
    assert sc.AGENT_USAGE_COST not in a


def test_metrics_follow_the_official_definitions(llm: LLMHarness, api: FakeOpenAI) -> None:
    api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES)
    data = llm.metrics.get_metrics_data()
    metrics = {
        m.name: m for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics
    }
    for name in ("gen_ai.client.token.usage", "gen_ai.client.operation.duration"):
        metric = metrics[name]
        assert not check_metric_against_reference(name, "histogram", metric.unit)
    tokens = {
        p.attributes[sc.GEN_AI_TOKEN_TYPE]: p
        for p in metrics["gen_ai.client.token.usage"].data.data_points
    }
    assert tokens["input"].sum == 120 and tokens["output"].sum == 30
    assert tokens["input"].explicit_bounds[:3] == (1, 4, 16)
    assert tokens["input"].attributes[sc.GEN_AI_RESPONSE_MODEL] == RESPONSE_MODEL
    duration = metrics["gen_ai.client.operation.duration"].data.data_points[0]
    assert duration.explicit_bounds[0] == 0.01


# -- instrumentor life cycle -----------------------------------------------------------------


def test_uninstrument_restores_the_library_exactly(tel, api: FakeOpenAI) -> None:  # type: ignore[no-untyped-def]
    import openai._base_client as base

    before = (base.SyncAPIClient.request, base.AsyncAPIClient.request)
    instrumentor = OpenAIInstrumentor()
    for harness in instrumented(tel, instrumentor):
        assert base.SyncAPIClient.request is not before[0]
        instrumentor.instrument()  # twice is harmless
        api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES)
        assert len(harness.llm_spans()) == 1
    assert (base.SyncAPIClient.request, base.AsyncAPIClient.request) == before
    api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES)
    assert len([s for s in tel.spans() if s.kind is SpanKind.CLIENT]) == 1


def test_unsupported_version_is_skipped_with_a_log_line(
    tel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    import openai._base_client as base

    from agent_otel.instrumentation import openai as module

    monkeypatch.setattr(module, "SUPPORTED", ("openai >= 99",))
    before = base.SyncAPIClient.request
    caplog.set_level(logging.ERROR)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    try:
        assert base.SyncAPIClient.request is before
        assert any("openai" in r.getMessage() and "99" in r.getMessage() for r in caplog.records)
    finally:
        instrumentor.uninstrument()


def test_errors_of_ours_never_reach_the_app(
    llm: LLMHarness, api: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr("agent_otel.instrumentation.openai.extract.read_response", broken)
    monkeypatch.setattr("agent_otel.instrumentation.openai.extract.ChatStreamState.observe", broken)
    client = api.sync_client()
    assert client.chat.completions.create(model=MODEL, messages=MESSAGES).id == "chatcmpl-9xYz"
    assert (
        len(list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))) >= 5
    )
    gc.collect()
    assert len(llm.llm_spans()) == 2


def test_one_span_per_call_with_the_official_instrumentor_too(
    llm: LLMHarness, api: FakeOpenAI
) -> None:
    official = pytest.importorskip("opentelemetry.instrumentation.genai.openai")
    other = official.OpenAIInstrumentor()
    other.instrument(tracer_provider=llm.core.provider)
    try:
        api.sync_client().chat.completions.create(model=MODEL, messages=MESSAGES)
    finally:
        other.uninstrument()
    spans = [s for s in llm.core.spans() if s.kind is SpanKind.CLIENT]
    assert len(spans) == 1, [(s.name, s.instrumentation_scope.name) for s in spans]
    a = spans[0].attributes
    assert a[sc.AGENT_USAGE_COST] > 0  # our cost on the one span
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 120
