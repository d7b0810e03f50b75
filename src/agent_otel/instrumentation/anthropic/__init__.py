"""Instrumentation of the ``anthropic`` client library (the Messages API).

    from agent_otel.instrumentation.anthropic import AnthropicInstrumentor
    AnthropicInstrumentor().instrument()

or let ``opentelemetry-instrument`` find it through the ``opentelemetry_instrumentor`` entry
point (``agent_otel_anthropic``). ``messages.create`` (streamed or not), the
``messages.stream()`` helper, ``messages.parse()`` and the ``beta.messages`` forms are
recorded, sync and async, with tool use, prompt-cache tokens and cost. Other endpoints
(``messages.count_tokens``, batches, files, models...) pass through untouched. Clients for
Bedrock and Vertex AI go through the same code and are recorded under their provider
(``aws.bedrock``, ``gcp.vertex_ai``).

Native tracing of the SDK
-------------------------
anthropic 2.x makes its own CLIENT span for every API call when a tracer provider is
available (turned off by ``ANTHROPIC_OPEN_TELEMETRY=false`` or the client's
``open_telemetry`` option). Decision: while this instrumentor is active, agent-otel's span
*replaces* the SDK's native span of each Messages API call — one span per call, with the same
shape, attributes and cost for every provider, instead of two spans for one call (which
would also count its tokens twice). The SDK still propagates the trace context of the call
(now agent-otel's span) in its request headers, as its ``propagation`` option says.
``uninstrument()`` brings the native spans back. To keep the SDK's spans instead of ours,
disable this instrumentor: ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=agent_otel_anthropic``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection

from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from agent_otel.instrumentation.anthropic.patch import (
    AnthropicAdapter,
    replace_native_tracer,
    restore_native_tracer,
)
from agent_otel.instrumentation.base import LLMInstrumentor
from agent_otel.instrumentation.llm_call import Recorder
from agent_otel.instrumentation.stainless import async_wrapper, sync_wrapper

_logger = logging.getLogger("agent_otel.instrumentation")

_MODULE = "anthropic._base_client"
SUPPORTED = ("anthropic >= 0.40.0, < 3",)


class AnthropicInstrumentor(LLMInstrumentor):
    """Records every Anthropic Messages API call as a GenAI client span with tokens and cost."""

    scope = "agent_otel.instrumentation.anthropic"
    _native_tracer: property | None = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return SUPPORTED

    def _patch(self, recorder: Recorder) -> None:
        import anthropic._base_client as base

        adapter = AnthropicAdapter()
        wrap_function_wrapper(_MODULE, "SyncAPIClient.request", sync_wrapper(recorder, adapter))
        wrap_function_wrapper(_MODULE, "AsyncAPIClient.request", async_wrapper(recorder, adapter))
        self._native_tracer = replace_native_tracer(base.BaseClient)
        if self._native_tracer is not None:
            _logger.info(
                "agent-otel: the anthropic SDK's own spans of Messages API calls are replaced "
                "by agent-otel's (one span per call, with cost); to keep the SDK's spans "
                "instead, set OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=agent_otel_anthropic"
            )

    def _unpatch(self) -> None:
        base = sys.modules.get(_MODULE)
        if base is None:  # never imported, so never patched
            return
        unwrap(base.SyncAPIClient, "request")
        unwrap(base.AsyncAPIClient, "request")
        if self._native_tracer is not None:
            restore_native_tracer(base.BaseClient, self._native_tracer)
            self._native_tracer = None


__all__ = ["AnthropicInstrumentor"]
