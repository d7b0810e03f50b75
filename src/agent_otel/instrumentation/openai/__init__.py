"""Instrumentation of the ``openai`` client library (OpenAI and Azure OpenAI).

    from agent_otel.instrumentation.openai import OpenAIInstrumentor
    OpenAIInstrumentor().instrument()

or let ``opentelemetry-instrument`` find it through the ``opentelemetry_instrumentor`` entry
point (``agent_otel_openai``). Chat Completions (incl. ``.parse()`` and ``.stream()``), the
Responses API and embeddings are recorded, sync and async, streamed or not.
"""

from __future__ import annotations

from collections.abc import Collection

from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from agent_otel.instrumentation.base import LLMInstrumentor
from agent_otel.instrumentation.llm_call import Recorder
from agent_otel.instrumentation.openai.patch import OpenAIAdapter
from agent_otel.instrumentation.stainless import async_wrapper, sync_wrapper

_MODULE = "openai._base_client"
SUPPORTED = ("openai >= 1.40.0, < 5",)


class OpenAIInstrumentor(LLMInstrumentor):
    """Records every OpenAI API call as a GenAI client span with tokens and cost."""

    scope = "agent_otel.instrumentation.openai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return SUPPORTED

    def _patch(self, recorder: Recorder) -> None:
        adapter = OpenAIAdapter()
        wrap_function_wrapper(_MODULE, "SyncAPIClient.request", sync_wrapper(recorder, adapter))
        wrap_function_wrapper(_MODULE, "AsyncAPIClient.request", async_wrapper(recorder, adapter))

    def _unpatch(self) -> None:
        import openai._base_client as base

        unwrap(base.SyncAPIClient, "request")
        unwrap(base.AsyncAPIClient, "request")


__all__ = ["OpenAIInstrumentor"]
