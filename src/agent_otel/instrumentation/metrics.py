"""The official GenAI client metrics, created once per meter provider.

Their points are queued and recorded when a metric reader collects
(:mod:`agent_otel.deferred`): three synchronous histogram updates would otherwise be a large
part of what the instrumentation adds to each call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.metrics import Histogram, Meter
from opentelemetry.trace import SpanContext

from agent_otel import semconv as sc
from agent_otel.deferred import deferred_points, kept

# The point attributes of a call: with token type input, with token type output, without.
_AttributeSets = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


class GenAIMetrics:
    """``gen_ai.client.token.usage``, ``gen_ai.client.operation.duration`` and, for streams,
    ``gen_ai.client.operation.time_to_first_chunk`` — with the spec's advisory buckets, so
    that a backend's histograms line up with other GenAI instrumentations'."""

    def __init__(self, meter: Meter) -> None:
        self.token_usage = self._histogram(meter, sc.METRIC_GEN_AI_CLIENT_TOKEN_USAGE)
        self.duration = self._histogram(meter, sc.METRIC_GEN_AI_CLIENT_OPERATION_DURATION)
        self.time_to_first_chunk = self._histogram(
            meter, sc.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
        )
        self.points = deferred_points(meter)
        # One bound method each, and one attribute dict per distinct set: the queue groups
        # points by their identity (see agent_otel.deferred).
        self._record_duration = self.duration.record
        self._record_first_chunk = self.time_to_first_chunk.record
        self._record_tokens = self.token_usage.record
        self._attribute_sets: dict[tuple[tuple[str, Any], ...], _AttributeSets] = {}

    def record_call(
        self,
        attributes: Mapping[str, Any],
        span: SpanContext,
        duration_s: float,
        first_chunk_s: float | None,
        input_tokens: int | None,
        output_tokens: int | None,
    ) -> None:
        """Queue the points of one call: its duration, its time to first chunk (streams)
        and its input and output tokens (output only where the operation has any)."""
        key = tuple(attributes.items())
        sets = self._attribute_sets.get(key)
        if sets is None:
            base = dict(attributes)
            kind = sc.GEN_AI_TOKEN_TYPE
            sets = kept(
                self._attribute_sets, key, ({**base, kind: "input"}, {**base, kind: "output"}, base)
            )
        as_input, as_output, base = sets
        record = self.points.record
        record(self._record_duration, duration_s, base, span)
        if first_chunk_s is not None:
            record(self._record_first_chunk, first_chunk_s, base, span)
        if input_tokens is not None:
            record(self._record_tokens, input_tokens, as_input, span)
        if output_tokens is not None:
            record(self._record_tokens, output_tokens, as_output, span)

    @staticmethod
    def _histogram(meter: Meter, spec: sc.MetricSpec) -> Histogram:
        buckets = list(spec.buckets) if spec.buckets else None
        return meter.create_histogram(
            spec.name,
            unit=spec.unit,
            description=spec.description,
            explicit_bucket_boundaries_advisory=buckets,
        )
