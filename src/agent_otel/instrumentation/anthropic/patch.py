"""The wrapper around the Anthropic client's ``request`` method, and the hand-over from the
SDK's own spans to ours.

Every API call of the ``anthropic`` SDK — ``messages.create``, the ``messages.stream()``
helper, ``messages.parse()``, their ``beta`` forms, raw-response variants — goes through
``SyncAPIClient.request`` (``AsyncAPIClient.request``). Wrapping there sees each call once
and returns the SDK's own result objects, so every SDK contract stays as it is.

The SDK's native tracing (anthropic 2.x) starts its own span in that same ``request`` when
the client has a tracer (``BaseClient._tracer``). While a call we record is being sent, the
SDK is handed a tracer whose spans record nothing and carry our span's context instead: so
it makes no second span, yet its trace-header propagation (on unless the client's
``open_telemetry`` option turns it off) still sends the trace context — ours. A client
whose native tracing is off keeps its ``None`` tracer and sends no trace headers, as before.
Other API calls (``count_tokens``, files, batches, the tool runner's loop spans) keep the
native spans: agent-otel records nothing for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanKind, Tracer
from opentelemetry.util.types import Attributes

from agent_otel.instrumentation.anthropic import extract
from agent_otel.instrumentation.fields import get
from agent_otel.instrumentation.llm_call import Response
from agent_otel.instrumentation.messages import Message
from agent_otel.instrumentation.stainless import (
    RECORDING,
    Args,
    ClientAdapter,
    Kwargs,
    Plan,
    StreamReader,
    base_plan,
    request_options,
)

# -- the SDK's native spans ------------------------------------------------------------------


class _ContextOnlyTracer(Tracer):
    """Gives non-recording spans with the current span's context (our call's span): the SDK
    records nothing on them, and propagates that context if it propagates at all."""

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        return NonRecordingSpan(trace.get_current_span(context).get_span_context())

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[Span]:
        span = self.start_span(name, context)
        with trace.use_span(span, end_on_exit=False):
            yield span


_CONTEXT_ONLY = _ContextOnlyTracer()


def replace_native_tracer(base_client: type) -> property | None:
    """Make ``base_client._tracer`` give the context-only tracer during our calls. Returns
    the original property to restore, or None when this SDK has no native tracing."""
    original = base_client.__dict__.get("_tracer")
    if not isinstance(original, property) or original.fget is None:
        return None
    native = original.fget

    def _tracer(client: Any) -> Any:
        tracer = native(client)
        if tracer is None or not RECORDING.get():
            return tracer
        return _CONTEXT_ONLY

    base_client._tracer = property(_tracer, doc=original.__doc__)  # type: ignore[attr-defined]
    return original


def restore_native_tracer(base_client: type, original: property) -> None:
    base_client._tracer = original  # type: ignore[attr-defined]


# -- requests --------------------------------------------------------------------------------


class AnthropicAdapter(ClientAdapter):
    label = "Anthropic"

    def plan(self, client: Any, args: Args, kwargs: Kwargs) -> tuple[Plan, Args, Kwargs] | None:
        """The plan for a Messages API call, None for any other request (passed through)."""
        options, _ = request_options(args, kwargs)
        if options is None or not extract.is_messages_call(
            str(get(options, "method") or ""), str(get(options, "url") or "")
        ):
            return None
        body = get(options, "json_data")
        if not isinstance(body, dict):
            return None
        extra = get(options, "extra_json")  # `extra_body=`: merged into the body by the SDK
        if isinstance(extra, dict) and extra:
            body = {**body, **extra}
        return base_plan(extract.OPERATION, client, options, kwargs, body), args, kwargs

    def operation(self, plan: Plan) -> str:
        return extract.OPERATION

    def provider(self, client: Any, plan: Plan) -> str:
        # The SDK's own name for where its client sends calls (anthropic 2.x): "anthropic",
        # "aws.bedrock", "gcp.vertex_ai".
        name = getattr(type(client), "_gen_ai_provider_name", None)
        if isinstance(name, str) and name:
            return name
        cls = type(client).__name__
        if "Bedrock" in cls:
            return "aws.bedrock"
        if "Vertex" in cls:
            return "gcp.vertex_ai"
        return "anthropic"

    def request_attributes(self, plan: Plan) -> dict[str, Any]:
        return extract.request_attributes(plan.body)

    def input_messages(self, plan: Plan) -> list[Message]:
        return extract.input_messages(plan.body)

    def system_instructions(self, plan: Plan) -> list[dict[str, Any]]:
        return list(extract.system_instructions(plan.body))

    def read_body(self, plan: Plan, body: Any, response: Response, *, capture: bool) -> None:
        extract.read_response(body, response, capture=capture)

    def stream_reader(self, plan: Plan, *, capture: bool) -> StreamReader:
        return extract.MessageStreamState(capture)
