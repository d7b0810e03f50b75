"""The span processor that ties other spans to agent sessions and rolls usage up the tree.

Two jobs need to see every span as it starts and ends, whoever created it:

* stamping ``session.id`` and ``user.id`` on every span started inside a session, so that a
  backend can find all of a session's telemetry, other libraries' spans included;
* summing the token usage and cost of the LLM calls inside an operation or session, so that
  the operation and session spans can carry their totals when they end.

State is kept per *open* span only (a small node keyed by span id, dropped when the span
ends), so memory is bounded by what is open, never by how much has happened.
"""

from __future__ import annotations

import logging
import threading

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from agent_otel import semconv as sc
from agent_otel.errors import internal_error
from agent_otel.usage import Usage, is_llm_span, parse_usage

_logger = logging.getLogger("agent_otel.processor")

_SESSION, _OPERATION, _OTHER = 0, 1, 2


class _SessionState:
    __slots__ = ("operation_count", "session_id", "user_id")

    def __init__(self, session_id: object, user_id: object) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.operation_count = 0


class _Node:
    """An open span inside a session, with the usage its finished children reported."""

    __slots__ = ("is_open", "kind", "parent", "session", "usage")

    def __init__(self, parent: _Node | None, session: _SessionState, kind: int) -> None:
        self.parent = parent
        self.session = session
        self.kind = kind
        self.usage = Usage()
        self.is_open = True


class AgentSpanProcessor(SpanProcessor):
    """Stamps session identity on every span of a session and keeps running usage totals.

    Sessions and operations are recognised by their attributes (``agent.session.status``,
    ``agent.operation.type``), so spans made by any tracer take part. An LLM span inside
    another LLM span (one instrumented client calling another) is counted once: a span that
    reports usage itself passes up its own figures, not those of the spans inside it. A
    session nested in another keeps its usage to itself, so that summing sessions never
    counts a call twice.
    """

    def __init__(self) -> None:
        self._open: dict[int, _Node] = {}
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    # -- SpanProcessor -------------------------------------------------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            self._start(span)
        except Exception:
            internal_error("tracking a started span")

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._end(span)
        except Exception:
            internal_error("rolling up a finished span")

    def shutdown(self) -> None:
        self._open.clear()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    # -- queries used by sessions and operations before they end ---------------------------

    def usage_of(self, span_id: int) -> Usage:
        """Usage of the finished LLM calls inside the open span ``span_id``."""
        node = self._open.get(span_id)
        return node.usage if node is not None else Usage()

    def operation_count(self, span_id: int) -> int:
        """Operations started inside the open session span ``span_id``."""
        node = self._open.get(span_id)
        return node.session.operation_count if node is not None else 0

    def add_usage(self, span_id: int, usage: Usage) -> None:
        """Usage the app reports itself for an open operation (calls made without an
        instrumented client)."""
        node = self._open.get(span_id)
        if node is not None:
            with self._lock:
                node.usage = node.usage + usage

    def open_span_count(self) -> int:
        """How many spans are being tracked now (for tests of bounded memory)."""
        return len(self._open)

    # -- internals -------------------------------------------------------------------------

    def _start(self, span: Span) -> None:
        attrs = span.attributes or {}
        parent_ctx = span.parent
        parent = self._open.get(parent_ctx.span_id) if parent_ctx is not None else None
        if sc.AGENT_SESSION_STATUS in attrs:
            session = _SessionState(attrs.get(sc.SESSION_ID), attrs.get(sc.USER_ID))
            kind = _SESSION
        elif parent is None:
            return  # not inside a session: nothing to stamp or roll up
        else:
            session = parent.session
            if sc.AGENT_OPERATION_TYPE in attrs:
                kind = _OPERATION
                with self._lock:
                    session.operation_count += 1
            else:
                kind = _OTHER
            if sc.SESSION_ID not in attrs and isinstance(session.session_id, str):
                span.set_attribute(sc.SESSION_ID, session.session_id)
            if sc.USER_ID not in attrs and isinstance(session.user_id, str):
                span.set_attribute(sc.USER_ID, session.user_id)
        self._open[span.context.span_id] = _Node(parent, session, kind)

    def _end(self, span: ReadableSpan) -> None:
        ctx = span.context
        node = self._open.pop(ctx.span_id, None) if ctx is not None else None
        if node is None:
            return
        node.is_open = False
        if node.kind == _SESSION:
            return
        attrs = span.attributes or {}
        if node.kind == _OTHER and is_llm_span(attrs):
            contribution, problems = parse_usage(attrs)
            if problems:
                self._warn_malformed(span.name, problems)
        else:
            contribution = node.usage
        if not contribution:
            return
        target = node.parent
        while target is not None and not target.is_open:
            if target.kind == _SESSION:
                return  # the session already ended; its totals are final
            target = target.parent
        if target is not None:
            with self._lock:
                target.usage = target.usage + contribution

    def _warn_malformed(self, span_name: str, problems: list[str]) -> None:
        new = [p for p in problems if p.split("=", 1)[0] not in self._warned]
        if not new:
            return
        self._warned.update(p.split("=", 1)[0] for p in new)
        _logger.warning(
            "agent-otel: span %r reports malformed usage, left out of the totals: %s",
            span_name,
            "; ".join(new),
        )
