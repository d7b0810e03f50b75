"""What OpenAI requests mean to the shared ``request`` wrapper (:mod:`..stainless`).

Besides reading calls, the adapter asks for streamed usage where it would otherwise be
missing: a Chat Completions stream reports tokens only when the request says
``stream_options.include_usage``. When the app did not ask, and the endpoint is known to
accept it (or ``AGENT_OTEL_OPENAI_STREAM_USAGE=always``), the request asks, and the extra
usage-only chunk is hidden so the app receives exactly the chunks it would have received.
"""

from __future__ import annotations

import os
from typing import Any

from agent_otel.instrumentation.fields import get
from agent_otel.instrumentation.llm_call import Response
from agent_otel.instrumentation.messages import Message
from agent_otel.instrumentation.openai import extract
from agent_otel.instrumentation.stainless import (
    Args,
    ClientAdapter,
    Kwargs,
    Plan,
    StreamReader,
    base_plan,
    request_options,
)

STREAM_USAGE_ENV = "AGENT_OTEL_OPENAI_STREAM_USAGE"
# Hosts known to accept `stream_options: {"include_usage": true}`; others may reject it.
_STREAM_USAGE_HOSTS = ("api.openai.com",)


def _wants_stream_usage(host: str | None) -> bool:
    mode = os.environ.get(STREAM_USAGE_ENV, "auto").strip().lower()
    if mode in ("never", "off", "false", "0"):
        return False
    if mode in ("always", "on", "true", "1"):
        return True
    return bool(host) and str(host).endswith(_STREAM_USAGE_HOSTS)


class OpenAIAdapter(ClientAdapter):
    label = "OpenAI"

    def plan(self, client: Any, args: Args, kwargs: Kwargs) -> tuple[Plan, Args, Kwargs] | None:
        options, by_keyword = request_options(args, kwargs)
        if options is None:
            return None
        endpoint = extract.endpoint_of(
            str(getattr(options, "method", None) or ""), str(getattr(options, "url", None) or "")
        )
        body = getattr(options, "json_data", None)
        if endpoint is None or not isinstance(body, dict):
            return None
        plan = base_plan(endpoint, client, options, kwargs, body)
        if (
            endpoint == extract.CHAT
            and plan.stream
            and plan.raw is None
            and not get(body, "stream_options", "include_usage")
            and _wants_stream_usage(plan.server_address)
        ):
            options = options.model_copy()
            options.json_data = {
                **body,
                "stream_options": {**(body.get("stream_options") or {}), "include_usage": True},
            }
            if by_keyword:
                kwargs = {**kwargs, "options": options}
            else:
                args = (args[0], options, *args[2:])
            plan.usage_injected = True
        return plan, args, kwargs

    def operation(self, plan: Plan) -> str:
        return extract.OPERATION_NAMES[plan.endpoint]

    def provider(self, client: Any, plan: Plan) -> str:
        if type(client).__name__.startswith(("AzureOpenAI", "AsyncAzureOpenAI")) or (
            plan.server_address or ""
        ).endswith((".openai.azure.com", ".cognitiveservices.azure.com")):
            return "azure.ai.openai"
        return "openai"

    def request_attributes(self, plan: Plan) -> dict[str, Any]:
        return extract.request_attributes(plan.endpoint, plan.body)

    def input_messages(self, plan: Plan) -> list[Message]:
        return extract.input_messages(plan.endpoint, plan.body)

    def system_instructions(self, plan: Plan) -> list[dict[str, Any]]:
        return extract.system_instructions(plan.endpoint, plan.body)

    def read_body(self, plan: Plan, body: Any, response: Response, *, capture: bool) -> None:
        extract.read_response(plan.endpoint, body, response, capture=capture)

    def stream_reader(self, plan: Plan, *, capture: bool) -> StreamReader:
        if plan.endpoint == extract.RESPONSES:
            return extract.ResponsesStreamState(capture)
        return extract.ChatStreamState(plan.usage_injected, capture)
