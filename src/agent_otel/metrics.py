"""The agent metrics the span processor records: sessions, operations, tokens and cost.

Names, units, descriptions and advisory buckets come from the semantic-convention registry
(``semconv/model/metrics.yaml``). Every point is recorded with the context of the span it
comes from, so that the SDK's trace-based exemplar filter links it to that span when the
span is sampled.

Tokens and cost are counted on the hot path of every LLM call, where a synchronous SDK
measurement would cost about half a span; so they are summed here, per attribute set, and
reported by observable counters when a reader collects (cumulative sums, as counters are;
the exemplar of each point is the latest call of its attribute set). Operation and session
durations and the changes of the active-session count are queued and handed to the SDK when
a reader collects (:mod:`agent_otel.deferred`), so that they cost the agent a queue append
instead of a synchronous measurement.

No attribute of unbounded cardinality is recorded by default: ``session.id`` never, and
``user.id`` only when ``AGENT_OTEL_METRICS_USER_ID=true``, then for at most
``AGENT_OTEL_METRICS_USER_ID_LIMIT`` distinct users per process (default 100); later users
are recorded as ``_OTHER``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import (
    CallbackOptions,
    Histogram,
    Meter,
    MeterProvider,
    Observation,
    UpDownCounter,
    get_meter,
)
from opentelemetry.trace import NonRecordingSpan, SpanContext, set_span_in_context

from agent_otel import semconv as sc
from agent_otel.deferred import deferred_points, kept
from agent_otel.errors import env_flag
from agent_otel.version import __version__

_logger = logging.getLogger("agent_otel")

USER_ID_ENV = "AGENT_OTEL_METRICS_USER_ID"
USER_ID_LIMIT_ENV = "AGENT_OTEL_METRICS_USER_ID_LIMIT"
DEFAULT_USER_ID_LIMIT = 100
#: The ``user.id`` recorded for users beyond the limit.
OTHER_USER = "_OTHER"
#: The instrumentation scope of the agent metrics (the same as agent-otel's tracer).
SCOPE = "agent_otel"

#: The attributes every point of a session carries (project, user), as a hashable tuple of
#: (key, value) pairs.
BaseAttributes = tuple[tuple[str, Any], ...]
#: How many distinct (session attributes, model, provider) sums are kept; beyond, new ones
#: are counted under one overflow set (``otel.metric.overflow=true``), like the SDK does.
MAX_USAGE_SERIES = 2000
_OVERFLOW: BaseAttributes = (("otel.metric.overflow", True),)
_UsageKey = tuple[BaseAttributes, str | None, str | None]


class _UsageSum:
    __slots__ = ("cost", "cost_known", "input_tokens", "output_tokens", "span")

    def __init__(self) -> None:
        self.input_tokens = 0
        self.output_tokens = 0
        self.cost = 0.0
        self.cost_known = False
        self.span: SpanContext | None = None  # the latest call's, for the exemplar


def env_int(name: str, default: int) -> int:
    """A non-negative integer from the environment; a bad value is one warning and the
    default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw.isdigit():
        return int(raw)
    _logger.warning("agent-otel: %s=%r is not a non-negative integer; using %d", name, raw, default)
    return default


class AgentMetrics:
    """The five agent metrics, created from one meter provider.

    ``user_ids`` adds ``user.id`` to every point, for at most ``user_limit`` distinct users
    (then ``_OTHER``).
    """

    def __init__(
        self,
        meter_provider: MeterProvider,
        *,
        user_ids: bool = False,
        user_limit: int = DEFAULT_USER_ID_LIMIT,
    ) -> None:
        meter = get_meter(SCOPE, __version__, meter_provider, schema_url=sc.SCHEMA_URL)
        self.session_duration = _histogram(meter, sc.METRIC_AGENT_SESSION_DURATION)
        self.active_sessions = _updowncounter(meter, sc.METRIC_AGENT_SESSION_ACTIVE)
        self.operation_duration = _histogram(meter, sc.METRIC_AGENT_OPERATION_DURATION)
        self._usage: dict[_UsageKey, _UsageSum] = {}
        self._lock = threading.Lock()
        self._deferred = deferred_points(meter)
        # The queue groups points by bound method and attribute dict (identity): one each.
        self._add_active = self.active_sessions.add
        self._record_session = self.session_duration.record
        self._record_operation = self.operation_duration.record
        self._operation_attrs: dict[tuple[BaseAttributes, object, object], dict[str, Any]] = {}
        self._base_attrs: dict[BaseAttributes, dict[str, Any]] = {}
        spec = sc.METRIC_AGENT_TOKEN_USAGE
        self.token_usage = meter.create_observable_counter(
            spec.name,
            [self._observe_tokens],
            unit=spec.unit,
            description=spec.description,
        )
        spec = sc.METRIC_AGENT_COST
        self.cost = meter.create_observable_counter(
            spec.name, [self._observe_cost], unit=spec.unit, description=spec.description
        )
        self.user_ids = user_ids
        self.user_limit = user_limit
        self._users: set[str] = set()

    @classmethod
    def from_env(cls, meter_provider: MeterProvider) -> AgentMetrics:
        return cls(
            meter_provider,
            user_ids=env_flag(USER_ID_ENV),
            user_limit=env_int(USER_ID_LIMIT_ENV, DEFAULT_USER_ID_LIMIT),
        )

    # -- attributes ------------------------------------------------------------------------

    def base_attributes(self, project: object, user_id: object) -> BaseAttributes:
        """The attributes every point of a session carries: its project and, if opted in,
        its (bounded) user."""
        attrs: list[tuple[str, Any]] = []
        if isinstance(project, str):
            attrs.append((sc.AGENT_SESSION_PROJECT, project))
        if self.user_ids and isinstance(user_id, str):
            attrs.append((sc.USER_ID, self._bounded_user(user_id)))
        return tuple(attrs)

    def _bounded_user(self, user_id: str) -> str:
        users = self._users
        if user_id in users:
            return user_id
        with self._lock:
            if user_id in users:
                return user_id
            if len(users) >= self.user_limit:
                return OTHER_USER
            users.add(user_id)
            return user_id

    # -- recording -------------------------------------------------------------------------

    def _base_dict(self, base: BaseAttributes) -> dict[str, Any]:
        """One dict per base attribute set (a few: projects, and users when opted in)."""
        attrs = self._base_attrs.get(base)
        if attrs is None:
            attrs = kept(self._base_attrs, base, dict(base))
        return attrs

    def session_started(self, base: BaseAttributes, span: SpanContext) -> None:
        """Count one more active session (queued: see :mod:`agent_otel.deferred`)."""
        self._deferred.record(self._add_active, 1, self._base_dict(base), span)

    def session_ended(
        self,
        base: BaseAttributes,
        duration_s: float,
        status: object,
        model: object,
        model_tier: object,
        span: SpanContext,
    ) -> None:
        """Count the session out of the active ones and record its duration (queued)."""
        self._deferred.record(self._add_active, -1, self._base_dict(base), span)
        attrs = dict(base)
        attrs[sc.AGENT_SESSION_STATUS] = status if isinstance(status, str) else "unknown"
        if isinstance(model, str):
            attrs[sc.GEN_AI_REQUEST_MODEL] = model
        if isinstance(model_tier, int) and not isinstance(model_tier, bool):
            attrs[sc.AGENT_SESSION_MODEL_TIER] = model_tier
        self._deferred.record(self._record_session, duration_s, attrs, span)

    def operation_ended(
        self,
        base: BaseAttributes,
        duration_s: float,
        op_type: object,
        status: object,
        span: SpanContext,
    ) -> None:
        """Queue one operation's duration (``span`` is the operation's, for the exemplar).

        The point's attributes come from a small cache: there are few combinations of
        session attributes, type and status, and one dict per operation would be garbage."""
        key = (base, op_type, status)
        attrs = self._operation_attrs.get(key)
        if attrs is None:
            attrs = dict(base)
            attrs[sc.AGENT_OPERATION_TYPE] = op_type if isinstance(op_type, str) else "unknown"
            attrs[sc.AGENT_OPERATION_STATUS] = status if isinstance(status, str) else "unknown"
            kept(self._operation_attrs, key, attrs)
        self._deferred.record(self._record_operation, duration_s, attrs, span)

    def usage(
        self,
        base: BaseAttributes,
        model: str | None,
        provider: str | None,
        input_tokens: int,
        output_tokens: int,
        cost: float | None,
        span: SpanContext | None,
    ) -> None:
        """Count the tokens and the cost (None: unknown) of one LLM call, or of several
        calls of the same model; ``span`` is the (latest) call's, for the exemplar."""
        key = (base, model, provider)
        with self._lock:
            usage = self._usage.get(key)
            if usage is None:
                if len(self._usage) >= MAX_USAGE_SERIES:
                    key = (_OVERFLOW, None, None)
                    usage = self._usage.get(key)
                if usage is None:
                    usage = self._usage[key] = _UsageSum()
            usage.input_tokens += input_tokens
            usage.output_tokens += output_tokens
            if cost is not None:
                usage.cost += cost
                usage.cost_known = True
            usage.span = span

    def _snapshot(self) -> list[tuple[dict[str, Any], int, int, float | None, Context | None]]:
        with self._lock:
            sums = [
                (key, u.input_tokens, u.output_tokens, u.cost if u.cost_known else None, u.span)
                for key, u in self._usage.items()
            ]
        out = []
        for (base, model, provider), input_tokens, output_tokens, cost, span in sums:
            attrs = dict(base)
            if model is not None:
                attrs[sc.GEN_AI_RESPONSE_MODEL] = model
            if provider is not None:
                attrs[sc.GEN_AI_PROVIDER_NAME] = provider
            context = None if span is None else set_span_in_context(NonRecordingSpan(span))
            out.append((attrs, input_tokens, output_tokens, cost, context))
        return out

    def _observe_tokens(self, options: CallbackOptions) -> Iterable[Observation]:
        """``input`` and ``output`` tokens; cache and reasoning tokens are parts of them and
        not reported apart, so that summing over token types counts each token once."""
        kind = sc.GEN_AI_TOKEN_TYPE
        for attrs, input_tokens, output_tokens, _, context in self._snapshot():
            if input_tokens:
                yield Observation(input_tokens, {**attrs, kind: "input"}, context)
            if output_tokens:
                yield Observation(output_tokens, {**attrs, kind: "output"}, context)

    def _observe_cost(self, options: CallbackOptions) -> Iterable[Observation]:
        """The cost of the calls whose price is known (an unknown price is not a zero)."""
        for attrs, _, _, cost, context in self._snapshot():
            if cost is not None:
                yield Observation(cost, attrs, context)


def _histogram(meter: Meter, spec: sc.MetricSpec) -> Histogram:
    return meter.create_histogram(
        spec.name,
        unit=spec.unit,
        description=spec.description,
        explicit_bucket_boundaries_advisory=list(spec.buckets) if spec.buckets else None,
    )


def _updowncounter(meter: Meter, spec: sc.MetricSpec) -> UpDownCounter:
    return meter.create_up_down_counter(spec.name, unit=spec.unit, description=spec.description)
