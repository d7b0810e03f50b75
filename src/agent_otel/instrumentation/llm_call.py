"""One LLM API call, recorded as the official GenAI client span plus cost and metrics.

Every instrumentor turns its library's request into an :class:`LLMCall`, feeds it what the
response (or the stream) reveals, and finishes it exactly once, whatever path the call takes.
Everything here is guarded: an error of ours is logged and the app's call goes on untouched.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.metrics import MeterProvider, get_meter
from opentelemetry.semconv.attributes.exception_attributes import EXCEPTION_MESSAGE
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, TracerProvider

from agent_otel import semconv as sc
from agent_otel.content import EXCEPTION_EVENT, ContentPolicy
from agent_otel.cost import PriceBook, TokenUsage, default_price_book
from agent_otel.errors import internal_error
from agent_otel.instrumentation.messages import (
    CAPTURE_ENV,
    Message,
    content_policy_from_env,
    encode_messages,
)
from agent_otel.instrumentation.metrics import GenAIMetrics
from agent_otel.usage import is_llm_operation
from agent_otel.version import __version__


@dataclass
class Recorder:
    """What one instrumentor records with: its tracer, metrics, prices and content policy."""

    tracer: Tracer
    metrics: GenAIMetrics
    prices: PriceBook | None = None
    _content: ContentPolicy | None = None
    _content_switch: str | None = None

    @property
    def content(self) -> ContentPolicy:
        """The content policy, following the capture variable even when it changes at run
        time (it is one environment lookup per call)."""
        switch = os.environ.get(CAPTURE_ENV)
        if self._content is None or switch != self._content_switch:
            self._content, self._content_switch = content_policy_from_env(), switch
        return self._content

    @classmethod
    def create(
        cls,
        scope: str,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> Recorder:
        tracer = trace.get_tracer(scope, __version__, tracer_provider, schema_url=sc.SCHEMA_URL)
        meter = get_meter(scope, __version__, meter_provider, schema_url=sc.SCHEMA_URL)
        return cls(tracer, GenAIMetrics(meter))

    def price_book(self) -> PriceBook:
        if self.prices is None:
            self.prices = default_price_book()
        return self.prices

    def start(
        self,
        *,
        operation: str,
        provider: str,
        request_model: str | None,
        server_address: str | None,
        server_port: int | None,
        attributes: Mapping[str, Any],
        input_messages: Sequence[Message] = (),
        system_instructions: Sequence[Mapping[str, Any]] = (),
        stream: bool = False,
        content: ContentPolicy | None = None,
    ) -> LLMCall | None:
        """Start recording a call, or None when instrumentation is suppressed here.

        ``content`` is the policy the caller already read for this call (one environment
        lookup per call, not one per use)."""
        if not is_instrumentation_enabled():
            return None
        try:
            return LLMCall(
                self,
                operation=operation,
                provider=provider,
                request_model=request_model,
                server_address=server_address,
                server_port=server_port,
                attributes=attributes,
                input_messages=input_messages,
                system_instructions=system_instructions,
                stream=stream,
                content=content if content is not None else self.content,
            )
        except Exception:
            internal_error(f"starting the span of a {provider} {operation} call")
            return None


@dataclass
class Response:
    """What a response (or a finished stream) tells about the call."""

    response_id: str | None = None
    response_model: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    usage: TokenUsage | None = None
    output_messages: list[Message] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


def is_llm_client_span(span: Span) -> bool:
    """A recording span made by another instrumentation for the same LLM call: the official
    ``opentelemetry-instrumentation-genai-*`` ones wrap the client one level above us."""
    if getattr(span, "kind", None) is not SpanKind.CLIENT or not span.is_recording():
        return False  # (most often an operation span: INTERNAL)
    attrs = getattr(span, "attributes", None) or {}
    return is_llm_operation(attrs.get(sc.GEN_AI_OPERATION_NAME))


class LLMCall:
    """The span of one call and what is known about it so far."""

    def __init__(
        self,
        recorder: Recorder,
        *,
        operation: str,
        provider: str,
        request_model: str | None,
        server_address: str | None,
        server_port: int | None,
        attributes: Mapping[str, Any],
        input_messages: Sequence[Message],
        system_instructions: Sequence[Mapping[str, Any]],
        stream: bool,
        content: ContentPolicy,
    ) -> None:
        self._recorder = recorder
        self._content = content
        # Run first when the call finishes: a stream's reader turns what it gathered into
        # the response (finish reasons, output messages).
        self.before_finish: Callable[[LLMCall], None] | None = None
        self._started = time.perf_counter()
        self._first_chunk: float | None = None
        self._finished = False
        self.response = Response()
        self._metric_attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: operation,
            sc.GEN_AI_PROVIDER_NAME: provider,
        }
        if request_model:
            self._metric_attrs[sc.GEN_AI_REQUEST_MODEL] = request_model
        if server_address:
            self._metric_attrs[sc.SERVER_ADDRESS] = server_address
            if server_port:
                self._metric_attrs[sc.SERVER_PORT] = server_port
        self._stream = stream
        self._provider = provider
        self._request_model = request_model

        start_attrs: dict[str, Any] = {**self._metric_attrs, **attributes}
        if stream:
            start_attrs[sc.GEN_AI_REQUEST_STREAM] = True
        if input_messages:  # (given only when content is captured)
            inputs = encode_messages(input_messages, content)
            if inputs is not None:
                start_attrs[sc.GEN_AI_INPUT_MESSAGES] = inputs
        if system_instructions:
            instructions = encode_messages(
                [{"role": "system", "parts": list(system_instructions)}], content
            )
            if instructions is not None:
                start_attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = instructions

        current = trace.get_current_span()
        if is_llm_client_span(current):
            # Enrich the span another instrumentation made for this call: one span per call.
            self.span: Span = current
            self._owns_span = False
            for key, value in start_attrs.items():
                if key not in (getattr(current, "attributes", None) or {}):
                    current.set_attribute(key, value)
        else:
            name = f"{operation} {request_model}" if request_model else operation
            self.span = recorder.tracer.start_span(
                name, kind=SpanKind.CLIENT, attributes=start_attrs
            )
            self._owns_span = True
        # The call's context: current while the request is sent, and the context of its
        # metric points, so that their exemplars point at this span.
        self._context = trace.set_span_in_context(self.span)

    def attach(self) -> object:
        """Make the span current while the library sends the request, so that HTTP spans
        nest under it and a nested instrumented call sees that it is inside one. Returns
        the token for :meth:`detach`."""
        return otel_context.attach(self._context)

    @staticmethod
    def detach(token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    @property
    def capture_content(self) -> bool:
        return self._content.capture

    def chunk_received(self) -> None:
        if self._first_chunk is None:
            self._first_chunk = time.perf_counter()

    @property
    def finished(self) -> bool:
        return self._finished

    def __del__(self) -> None:
        # A call nobody finished and nobody can reach any more: a stream the app dropped
        # before reading it. Its span still ends (and its node in the processor goes).
        if not getattr(self, "_finished", True):  # (True: __init__ failed, nothing to end)
            self.finish()

    def finish(self, error: BaseException | None = None) -> None:
        """Set what the response said, the cost and the error, record the metrics and end
        the span. Safe to call more than once; only the first call counts."""
        if self._finished:
            return
        self._finished = True
        try:
            if self.before_finish is not None:
                self.before_finish(self)
            self._finish(error)
        except Exception:
            internal_error(f"finishing the span of a {self._provider} call")
            if self._owns_span:
                self.span.end()

    def _finish(self, error: BaseException | None) -> None:
        ended = time.perf_counter()
        response = self.response
        span = self.span
        attrs: dict[str, Any] = dict(response.attributes)
        if response.response_id:
            attrs[sc.GEN_AI_RESPONSE_ID] = response.response_id
        if response.response_model:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = response.response_model
            self._metric_attrs[sc.GEN_AI_RESPONSE_MODEL] = response.response_model
        if response.finish_reasons:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = tuple(response.finish_reasons)
        if self._stream and self._first_chunk is not None:
            attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = self._first_chunk - self._started
        usage = response.usage
        if usage is not None:
            attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = usage.input_tokens
            attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = usage.output_tokens
            if usage.cache_read_tokens:
                attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = usage.cache_read_tokens
            if usage.cache_creation_tokens:
                attrs[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = usage.cache_creation_tokens
            if usage.reasoning_tokens:
                attrs[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = usage.reasoning_tokens
            model = response.response_model or self._request_model
            cost = self._recorder.price_book().cost(self._provider, model, usage)
            if cost is None:
                attrs[sc.AGENT_USAGE_COST_UNKNOWN] = True
            else:
                attrs[sc.AGENT_USAGE_COST] = cost
        if response.output_messages:  # (read only when content is captured)
            outputs = encode_messages(response.output_messages, self._content)
            if outputs is not None:
                attrs[sc.GEN_AI_OUTPUT_MESSAGES] = outputs
        if error is not None:
            error_type = type(error).__qualname__
            attrs[sc.ERROR_TYPE] = error_type
            self._metric_attrs[sc.ERROR_TYPE] = error_type
        span.set_attributes(attrs)
        if error is not None:
            # An API error quotes what it was sent or given (an invalid key, a prompt):
            # redacted and cut like all metadata.
            exception = self._content.exception_attributes(error)
            if self._owns_span:
                span.add_event(EXCEPTION_EVENT, exception)
            message = exception[EXCEPTION_MESSAGE] or type(error).__name__
            span.set_status(Status(StatusCode.ERROR, message))
        if self._owns_span:
            span.end()

        attrs_m = self._metric_attrs
        self._recorder.metrics.record_call(
            attrs_m,
            span.get_span_context(),
            ended - self._started,
            self._first_chunk - self._started
            if self._stream and self._first_chunk is not None
            else None,
            usage.input_tokens if usage is not None else None,
            usage.output_tokens
            if usage is not None and attrs_m[sc.GEN_AI_OPERATION_NAME] != "embeddings"
            else None,
        )
