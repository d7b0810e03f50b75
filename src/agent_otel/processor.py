"""The span processor that ties other spans to agent sessions, rolls usage up the tree and
derives the agent metrics and the in-process session facts.

Everything that must see every span as it starts and ends, whoever created it, is here:

* stamping ``session.id`` and ``user.id`` on every span started inside a session, so that a
  backend can find all of a session's telemetry, other libraries' spans included;
* summing the token usage and cost of the LLM calls inside an operation or session, so that
  the operation and session spans can carry their totals when they end;
* the agent metrics (:mod:`agent_otel.metrics`): session and operation durations, active
  sessions, tokens and cost — the latter for LLM calls inside sessions and outside them;
* the facts the summaries need about each finished session (:class:`SessionFacts`).

State is kept per *open* span only (a small node keyed by span id, dropped when the span
ends), so memory is bounded by what is open, never by how much has happened. The one
exception is by design: the compact facts of finished sessions, capped by
``AGENT_OTEL_SUMMARY_MAX_SESSIONS`` (default 100,000; the oldest are dropped first).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING, TypeGuard

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanContext

from agent_otel import semconv as sc
from agent_otel.errors import internal_error
from agent_otel.facts import SessionFacts
from agent_otel.metrics import AgentMetrics, BaseAttributes, env_int
from agent_otel.records import to_datetime
from agent_otel.sessions import project_of
from agent_otel.spandata import Attributes
from agent_otel.usage import (
    TokenCounts,
    Usage,
    UsageSum,
    cost_is_priced,
    is_llm_span,
    llm_model,
    llm_provider,
    read_usage,
)

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

_logger = logging.getLogger("agent_otel.processor")

_SESSION, _OPERATION, _OTHER = 0, 1, 2

MAX_SESSIONS_ENV = "AGENT_OTEL_SUMMARY_MAX_SESSIONS"
DEFAULT_MAX_SESSIONS = 100_000
#: What the facts count a call without a model (an operation without a type or status) under.
UNKNOWN = "unknown"

# The facts of one finished session, as compact as a tuple of its fields: (session_id,
# user_id, project, start_ns, status, total_tokens, total_cost, operations_by_type,
# operations_by_status, cost_by_model), the mappings as tuples of (key, value) pairs.
_CompactFacts = tuple[
    str,
    str | None,
    str | None,
    int,
    str,
    int,
    float,
    tuple[tuple[str, int], ...],
    tuple[tuple[str, int], ...],
    tuple[tuple[str, float], ...],
]
# What identifies the pending calls that can be summed: model, provider, project, user.
_CallKey = tuple[str | None, str | None, object, object]


class _SessionState:
    """Running facts of one open session."""

    __slots__ = (
        "cost_by_model",
        "metric_base",
        "model",
        "operation_count",
        "ops_by_status",
        "ops_by_type",
        "project",
        "session_id",
        "stamp",
        "stamp_length",
        "user_id",
    )

    def __init__(self, session_id: object, user_id: object, project: object, model: object):
        self.session_id = session_id
        self.user_id = user_id
        self.project = project
        self.model = model
        self.operation_count = 0
        self.ops_by_type: dict[str, int] = {}
        self.ops_by_status: dict[str, int] = {}
        self.cost_by_model: dict[str, float] = {}
        self.metric_base: BaseAttributes | None = None
        # What is stamped on every span inside the session (string values only).
        self.stamp = {
            key: value
            for key, value in ((sc.SESSION_ID, session_id), (sc.USER_ID, user_id))
            if isinstance(value, str)
        }
        self.stamp_length = max(map(len, self.stamp.values()), default=0)


class _Calls:
    """LLM calls (of one model, provider, project and user) reported inside a span that is
    still open and may turn out to be an LLM call itself; they are settled — counted in the
    metrics and the session facts — when it ends as something else."""

    __slots__ = ("cost", "cost_known", "input_tokens", "output_tokens", "span")

    def __init__(
        self,
        input_tokens: int,
        output_tokens: int,
        cost: float,
        cost_known: bool,
        span: SpanContext | None,
    ) -> None:
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.cost = cost
        self.cost_known = cost_known
        self.span = span  # of the latest call: its exemplar

    def merge(self, other: _Calls) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost += other.cost
        self.cost_known = self.cost_known or other.cost_known
        self.span = other.span


class _Node:
    """An open span, with the usage its finished children reported (None: none yet)."""

    __slots__ = ("calls", "context", "is_open", "kind", "parent", "session", "usage")

    def __init__(
        self,
        parent: _Node | None,
        session: _SessionState | None,
        kind: int,
        context: SpanContext,
    ) -> None:
        self.parent = parent
        self.context = context
        self.session = session
        self.kind = kind
        self.usage: UsageSum | None = None
        self.is_open = True
        self.calls: dict[_CallKey, _Calls] | None = None


class AgentSpanProcessor(SpanProcessor):
    """Stamps session identity on every span of a session, keeps running usage totals, and
    records the agent metrics and session facts.

    Sessions and operations are recognised by their attributes (``agent.session.status``,
    ``agent.operation.type``), so spans made by any tracer take part; LLM calls by their
    usage attributes (:func:`agent_otel.usage.is_llm_span`). An LLM span inside another LLM
    span (one instrumented client calling another) is counted once: a span that reports usage
    itself passes up its own figures, not those of the spans inside it — for the totals, the
    metrics and the facts alike. A session nested in another keeps its usage to itself, so
    that summing sessions never counts a call twice.

    ``meter_provider`` enables the metrics (none without it). ``max_sessions`` caps the facts
    kept about finished sessions (default: ``AGENT_OTEL_SUMMARY_MAX_SESSIONS``, else 100,000).
    """

    def __init__(
        self,
        meter_provider: MeterProvider | None = None,
        *,
        max_sessions: int | None = None,
    ) -> None:
        self._open: dict[int, _Node] = {}
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._metrics: AgentMetrics | None = None
        if max_sessions is None:
            max_sessions = env_int(MAX_SESSIONS_ENV, DEFAULT_MAX_SESSIONS)
        self._finished: deque[_CompactFacts] = deque(maxlen=max_sessions)
        if meter_provider is not None:
            self.set_meter_provider(meter_provider)

    def set_meter_provider(self, meter_provider: MeterProvider | None) -> None:
        """Record the agent metrics with ``meter_provider`` from now on (None: no metrics)."""
        self._metrics = None if meter_provider is None else AgentMetrics.from_env(meter_provider)

    @property
    def metrics(self) -> AgentMetrics | None:
        return self._metrics

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
        totals = node.usage if node is not None else None
        return totals.usage() if totals is not None else Usage()

    def operation_count(self, span_id: int) -> int:
        """Operations started inside the open session span ``span_id``."""
        node = self._open.get(span_id)
        return node.session.operation_count if node is not None and node.session else 0

    def add_usage(self, span_id: int, usage: Usage) -> None:
        """Usage the app reports itself for an open operation (calls made without an
        instrumented client). It counts under the session's model, or ``unknown``, in the
        facts and, without a model attribute unless the session has one, in the metrics."""
        node = self._open.get(span_id)
        if node is None:
            return
        session = node.session
        model = session.model if session is not None and isinstance(session.model, str) else None
        with self._lock:
            if node.usage is None:
                node.usage = UsageSum()
            node.usage.add_usage(usage)
            if session is not None and usage.cost > 0:
                _add(session.cost_by_model, model or UNKNOWN, usage.cost)
        metrics = self._metrics
        if metrics is None:
            return
        try:
            base = _metric_base(metrics, session, None, None)
            metrics.usage(
                base,
                model,
                None,
                usage.input_tokens,
                usage.output_tokens,
                usage.cost if usage.cost > 0 else None,
                node.context,  # the operation's: the call has no span of its own
            )
        except Exception:
            internal_error(_RECORDING)

    def open_span_count(self) -> int:
        """How many spans are being tracked now (for tests of bounded memory)."""
        return len(self._open)

    def finished_sessions(self) -> list[SessionFacts]:
        """The facts of the sessions that ended in this process, oldest first (at most
        ``AGENT_OTEL_SUMMARY_MAX_SESSIONS`` of the latest)."""
        return [_facts(compact) for compact in list(self._finished)]

    # -- internals: start ------------------------------------------------------------------

    def _start(self, span: Span) -> None:
        bounded = getattr(span, "_attributes", None)
        attrs = _attributes(span, bounded)
        parent_ctx = span.parent
        parent = self._open.get(parent_ctx.span_id) if parent_ctx is not None else None
        session: _SessionState | None
        if sc.AGENT_SESSION_STATUS in attrs:
            session = _SessionState(
                attrs.get(sc.SESSION_ID),
                attrs.get(sc.USER_ID),
                attrs.get(sc.AGENT_SESSION_PROJECT),
                attrs.get(sc.GEN_AI_REQUEST_MODEL),
            )
            kind = _SESSION
            metrics = self._metrics
            if metrics is not None:
                try:
                    base = metrics.base_attributes(session.project, session.user_id)
                    metrics.session_started(base, span.get_span_context())
                    session.metric_base = base  # only if counted: then it is counted down
                except Exception:
                    internal_error(_RECORDING)
        elif parent is None:
            if self._metrics is None:
                return  # not inside a session and no metrics: nothing to do
            # Outside sessions LLM calls still count in the token and cost metrics; the
            # span is tracked so that nested LLM spans are counted once there too.
            session = None
            kind = _OPERATION if sc.AGENT_OPERATION_TYPE in attrs else _OTHER
        else:
            session = parent.session
            kind = _OPERATION if sc.AGENT_OPERATION_TYPE in attrs else _OTHER
            if session is not None:
                if kind == _OPERATION:
                    with self._lock:
                        session.operation_count += 1
                if session.stamp:
                    _stamp(span, attrs, bounded, session)
        ctx = span.context
        self._open[ctx.span_id] = _Node(parent, session, kind, ctx)

    # -- internals: end --------------------------------------------------------------------

    def _end(self, span: ReadableSpan) -> None:
        ctx = span.context
        node = self._open.pop(ctx.span_id, None) if ctx is not None else None
        if node is None or ctx is None:
            return
        node.is_open = False
        attrs = _attributes(span)
        kind = node.kind
        if kind == _SESSION:
            self._end_session(span, ctx, node, attrs)
            return
        calls = None
        totals: UsageSum | None = None  # what the span's children added up to
        call: tuple[TokenCounts, float] | None = None  # an LLM call's own figures
        cost_known = False
        if kind == _OPERATION:
            self._end_operation(span, ctx, node, attrs)
            totals = node.usage
        elif is_llm_span(attrs):
            # An LLM call: its own figures count, not those of calls inside it (counted once).
            counts, cost, cost_found, problems = read_usage(attrs)
            if problems:
                self._warn_malformed(span.name, problems)
            call = (counts, cost)
            cost_known = cost_found and cost_is_priced(attrs)
        else:
            totals, calls = node.usage, node.calls
            if totals is None and calls is None:
                return  # the common case of a plain span: nothing to pass up
        # Where the span's usage and calls go: the nearest span above it that is still open.
        # A session that already ended has its totals final: nothing goes past it.
        target = node.parent
        while target is not None and not target.is_open:
            target = None if target.kind == _SESSION else target.parent
        if target is not None and node.session is not None and (call or totals) is not None:
            with self._lock:
                into = target.usage
                if into is None:
                    into = target.usage = UsageSum()
                if call is not None:
                    into.add(*call)
                elif totals is not None:
                    into.add_sum(totals)
        if call is not None and (node.session is not None or self._metrics is not None):
            session = node.session
            if session is not None:
                project, user = session.project, session.user_id
            else:
                project, user = None, attrs.get(sc.USER_ID)
            metrics_on = self._metrics is not None
            counts, cost = call
            key = (llm_model(attrs), llm_provider(attrs), project, user)
            known, exemplar = metrics_on and cost_known, ctx if metrics_on else None
            if target is not None and target.kind == _OTHER:
                self._place(target, key, _Calls(counts[0], counts[1], cost, known, exemplar))
            else:  # the common case: settled at once, nothing to hold
                self._settle(target, key, counts[0], counts[1], cost, known, exemplar)
        elif calls:
            for key, pending in calls.items():
                self._place(target, key, pending)

    def _end_session(
        self, span: ReadableSpan, ctx: SpanContext, node: _Node, attrs: Attributes
    ) -> None:
        state = node.session
        if state is None:
            return
        start, end = span.start_time or 0, span.end_time or 0
        metrics = self._metrics
        if metrics is not None and state.metric_base is not None:
            try:
                metrics.session_ended(
                    state.metric_base,
                    max(end - start, 0) / 1e9,
                    attrs.get(sc.AGENT_SESSION_STATUS),
                    state.model,
                    attrs.get(sc.AGENT_SESSION_MODEL_TIER),
                    ctx,
                )
            except Exception:
                internal_error(_RECORDING)
        if self._finished.maxlen == 0:
            return
        tokens = attrs.get(sc.AGENT_SESSION_TOTAL_TOKENS)
        cost = attrs.get(sc.AGENT_SESSION_TOTAL_COST)
        totals = node.usage if node.usage is not None else UsageSum()
        with self._lock:
            compact: _CompactFacts = (
                str(attrs.get(sc.SESSION_ID, format(ctx.span_id, "016x"))),
                _str_or_none(attrs.get(sc.USER_ID)),
                _project(attrs),
                start,
                str(attrs.get(sc.AGENT_SESSION_STATUS, "")),
                tokens if _is_int(tokens) else totals.input_tokens + totals.output_tokens,
                float(cost) if _is_number(cost) else totals.cost,
                tuple(state.ops_by_type.items()),
                tuple(state.ops_by_status.items()),
                tuple(state.cost_by_model.items()),
            )
        self._finished.append(compact)

    def _end_operation(
        self, span: ReadableSpan, ctx: SpanContext, node: _Node, attrs: Attributes
    ) -> None:
        session = node.session
        op_type = attrs.get(sc.AGENT_OPERATION_TYPE)
        status = attrs.get(sc.AGENT_OPERATION_STATUS)
        if session is not None:
            with self._lock:
                _add(session.ops_by_type, _label(op_type), 1)
                _add(session.ops_by_status, _label(status), 1)
        metrics = self._metrics
        if metrics is None:
            return
        try:
            base = _metric_base(metrics, session, None, attrs.get(sc.USER_ID))
            start, end = span.start_time or 0, span.end_time or 0
            metrics.operation_ended(base, max(end - start, 0) / 1e9, op_type, status, ctx)
        except Exception:
            internal_error(_RECORDING)

    # -- internals: LLM calls --------------------------------------------------------------

    def _place(self, target: _Node | None, key: _CallKey, pending: _Calls) -> None:
        """Hand LLM calls to the open span ``target`` above them: an operation or session (or
        nothing) settles them; any other span keeps them until it ends, since it may be an
        LLM call itself, whose own figures would count instead."""
        if target is not None and target.kind == _OTHER:
            with self._lock:
                held = target.calls
                if held is None:
                    target.calls = {key: pending}
                elif key in held:
                    held[key].merge(pending)
                else:
                    held[key] = pending
            return
        self._settle(
            target,
            key,
            pending.input_tokens,
            pending.output_tokens,
            pending.cost,
            pending.cost_known,
            pending.span,
        )

    def _settle(
        self,
        target: _Node | None,
        key: _CallKey,
        input_tokens: int,
        output_tokens: int,
        cost: float,
        cost_known: bool,
        span: SpanContext | None,
    ) -> None:
        """Count LLM calls whose owner is known: in the session's facts (cost by model) and
        in the token and cost metrics."""
        session = target.session if target is not None else None
        model, provider, project, user = key
        if session is not None:
            with self._lock:
                _add(session.cost_by_model, model or UNKNOWN, cost)
        metrics = self._metrics
        if metrics is None:
            return
        try:
            base = _metric_base(metrics, session, project, user)
            metrics.usage(
                base,
                model,
                provider,
                input_tokens,
                output_tokens,
                cost if cost_known else None,
                span,
            )
        except Exception:
            internal_error(_RECORDING)

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


_RECORDING = "recording the agent metrics"


def _attributes(span: ReadableSpan, bounded: object = None) -> Attributes:
    """The span's attributes as the plain dict inside the SDK's ``BoundedAttributes`` when it
    is there: ``span.attributes`` wraps it twice (a read-only proxy over a mapping written in
    Python), which makes each of the few dozen lookups per span several Python calls. The
    public view is the fallback for any other SDK shape. (``bounded``: ``span._attributes``,
    when the caller has it.)"""
    if bounded is None:
        bounded = getattr(span, "_attributes", None)
    inner = getattr(bounded, "_dict", None)
    if type(inner) is dict:
        return inner
    return span.attributes or {}


def _stamp(span: Span, attrs: Attributes, bounded: object, session: _SessionState) -> None:
    """Set the session's ``session.id``/``user.id`` on a span that lacks them.

    ``span.set_attributes`` takes a lock and validates every value again, which costs more
    than the rest of the processor's work on the span; these values are plain strings,
    validated once, and the span is not yet visible to anybody else. So they go straight
    into the SDK's attribute dict when it is there and they fit its limits (count, value
    length); otherwise through the public call."""
    stamp = session.stamp
    if sc.SESSION_ID in attrs or sc.USER_ID in attrs:
        stamp = {key: value for key, value in stamp.items() if key not in attrs}
        if not stamp:
            return
    inner = getattr(bounded, "_dict", None)
    if type(inner) is dict and getattr(bounded, "_immutable", True) is False:
        maxlen = getattr(bounded, "maxlen", 0)
        max_value_len = getattr(bounded, "max_value_len", 0)
        if (maxlen is None or len(inner) + len(stamp) <= maxlen) and (
            max_value_len is None or session.stamp_length <= max_value_len
        ):
            inner.update(stamp)
            return
    span.set_attributes(stamp)


def _metric_base(
    metrics: AgentMetrics, session: _SessionState | None, project: object, user: object
) -> BaseAttributes:
    """The attributes a metric point starts from: its session's (made when the session
    started), or, outside sessions, those of ``project`` and ``user``."""
    if session is not None and session.metric_base is not None:
        return session.metric_base
    return metrics.base_attributes(project, user)


def _add(counts: dict[str, int] | dict[str, float], key: str, value: float) -> None:
    counts[key] = counts.get(key, 0) + value  # type: ignore[assignment]


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _label(value: object) -> str:
    """An operation's type or status as the facts count it (as records read it back)."""
    text = "" if value is None else str(value)
    return text or UNKNOWN


def _project(attrs: Attributes) -> str | None:
    """The session's project; for sessions recorded without one, their workspace's name."""
    workspace = attrs.get(sc.AGENT_SESSION_WORKSPACE)
    return project_of(
        _str_or_none(attrs.get(sc.AGENT_SESSION_PROJECT)),
        workspace if isinstance(workspace, str) else None,
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _facts(compact: _CompactFacts) -> SessionFacts:
    (sid, user, project, start, status, tokens, cost, by_type, by_status, by_model) = compact
    return SessionFacts(
        session_id=sid,
        user_id=user,
        project=project,
        started_at=to_datetime(start),
        status=status,
        total_tokens=tokens,
        total_cost=cost,
        operations_by_type=dict(by_type),
        operations_by_status=dict(by_status),
        cost_by_model=dict(by_model),
    )
