"""The wrapper around the OpenAI client's ``request`` method.

Every API call of the ``openai`` SDK — whichever resource method, helper (``.parse()``,
``.stream()``), or raw-response variant started it — goes through ``SyncAPIClient.request``
(``AsyncAPIClient.request``). Wrapping there sees each call once, with its final options,
and returns the SDK's own result objects, so every SDK contract stays as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent_otel.errors import internal_error
from agent_otel.instrumentation.fields import get
from agent_otel.instrumentation.llm_call import LLMCall, Recorder
from agent_otel.instrumentation.openai import extract
from agent_otel.instrumentation.streams import wrap_stream

STREAM_USAGE_ENV = "AGENT_OTEL_OPENAI_STREAM_USAGE"
# Hosts known to accept `stream_options: {"include_usage": true}`; others may reject it.
_STREAM_USAGE_HOSTS = ("api.openai.com",)
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


@dataclass
class _Plan:
    """What the wrapper decided about one request before sending it."""

    endpoint: str
    body: dict[str, Any]
    stream: bool
    usage_injected: bool
    raw: str | None


def _provider(client: Any, host: str | None) -> str:
    if type(client).__name__.startswith(("AzureOpenAI", "AsyncAzureOpenAI")) or (
        host or ""
    ).endswith((".openai.azure.com", ".cognitiveservices.azure.com")):
        return "azure.ai.openai"
    return "openai"


def _server(client: Any) -> tuple[str | None, int | None]:
    url = getattr(client, "base_url", None)
    host = getattr(url, "host", None) or None
    port = getattr(url, "port", None)
    if port is None and host:
        port = 443 if getattr(url, "scheme", "https") == "https" else 80
    return host, port


def _wants_stream_usage(host: str | None) -> bool:
    mode = os.environ.get(STREAM_USAGE_ENV, "auto").strip().lower()
    if mode in ("never", "off", "false", "0"):
        return False
    if mode in ("always", "on", "true", "1"):
        return True
    return bool(host) and str(host).endswith(_STREAM_USAGE_HOSTS)


def _options_arg(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, bool]:
    """The FinalRequestOptions argument and whether it was passed by keyword."""
    if "options" in kwargs:
        return kwargs["options"], True
    return (args[1] if len(args) > 1 else None), False


def _prepare(
    client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[_Plan, tuple[Any, ...], dict[str, Any]] | None:
    """Decide whether this request is an LLM call, and adjust it if usage must be asked for.
    Returns the plan and the (possibly changed) arguments, or None to pass through."""
    options, by_keyword = _options_arg(args, kwargs)
    if options is None:
        return None
    endpoint = extract.endpoint_of(
        str(get(options, "method") or ""), str(get(options, "url") or "")
    )
    body = get(options, "json_data")
    if endpoint is None or not isinstance(body, dict):
        return None
    stream = bool(kwargs.get("stream", False) or body.get("stream"))
    headers = get(options, "headers")
    raw = headers.get(RAW_RESPONSE_HEADER) if isinstance(headers, dict) else None
    injected = False
    if (
        endpoint == extract.CHAT
        and stream
        and raw is None
        and not get(body, "stream_options", "include_usage")
        and _wants_stream_usage(_server(client)[0])
    ):
        new_body = {
            **body,
            "stream_options": {**(body.get("stream_options") or {}), "include_usage": True},
        }
        options = options.model_copy()
        options.json_data = new_body
        if by_keyword:
            kwargs = {**kwargs, "options": options}
        else:
            args = (args[0], options, *args[2:])
        injected = True
    return _Plan(endpoint, body, stream, injected, raw), args, kwargs


def _start(recorder: Recorder, client: Any, plan: _Plan) -> LLMCall | None:
    host, port = _server(client)
    capture = recorder.content.capture
    model = plan.body.get("model")
    return recorder.start(
        operation=extract.OPERATION_NAMES[plan.endpoint],
        provider=_provider(client, host),
        request_model=model if isinstance(model, str) else None,
        server_address=host,
        server_port=port,
        attributes=extract.request_attributes(plan.endpoint, plan.body),
        input_messages=extract.input_messages(plan.endpoint, plan.body) if capture else (),
        system_instructions=extract.system_instructions(plan.endpoint, plan.body)
        if capture
        else (),
        stream=plan.stream,
    )


def _handle_result(call: LLMCall, plan: _Plan, result: Any, *, is_async: bool) -> Any:
    """Record what the result says; return what the app gets (the result, or its stream
    wrapped)."""
    capture = call.capture_content
    try:
        if (
            plan.stream
            and plan.raw is None
            and hasattr(result, "__iter__" if not is_async else "__aiter__")
        ):
            state: Any
            if plan.endpoint == extract.RESPONSES:
                state = extract.ResponsesStreamState(capture)
            else:
                state = extract.ChatStreamState(plan.usage_injected, capture)

            call.before_finish = lambda c: state.finish(c.response)
            return wrap_stream(
                result, call, lambda c, item: state.observe(c.response, item), is_async=is_async
            )
        if plan.raw is not None:
            _read_raw(call, plan, result, capture)
        else:
            extract.read_response(plan.endpoint, result, call.response, capture=capture)
    except Exception:
        internal_error("reading an OpenAI response")
    call.finish()
    return result


def _read_raw(call: LLMCall, plan: _Plan, result: Any, capture: bool) -> None:
    """``with_raw_response``: the body was read, so read it too. ``with_streaming_response``:
    the body belongs to the app; only the response headers are known now."""
    http = getattr(result, "http_response", None)
    if plan.stream or plan.raw == "stream" or http is None:
        return
    try:
        body = http.json()
    except Exception:
        return
    extract.read_response(plan.endpoint, body, call.response, capture=capture)


def sync_wrapper(recorder: Recorder) -> Callable[..., Any]:
    def request(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            prepared = _prepare(instance, args, kwargs)
            call = _start(recorder, instance, prepared[0]) if prepared else None
        except Exception:
            internal_error("preparing an OpenAI call")
            prepared = call = None
        if prepared is None or call is None:
            return wrapped(*args, **kwargs)
        plan, args, kwargs = prepared
        try:
            with call.current():
                result = wrapped(*args, **kwargs)
        except BaseException as error:
            call.finish(error)
            raise
        return _handle_result(call, plan, result, is_async=False)

    return request


def async_wrapper(recorder: Recorder) -> Callable[..., Any]:
    async def request(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        try:
            prepared = _prepare(instance, args, kwargs)
            call = _start(recorder, instance, prepared[0]) if prepared else None
        except Exception:
            internal_error("preparing an OpenAI call")
            prepared = call = None
        if prepared is None or call is None:
            return await wrapped(*args, **kwargs)
        plan, args, kwargs = prepared
        try:
            with call.current():
                result = await wrapped(*args, **kwargs)
        except BaseException as error:
            call.finish(error)
            raise
        return _handle_result(call, plan, result, is_async=True)

    return request
