"""The official GenAI client metrics, created once per meter provider.

Their points are queued and recorded when a metric reader collects
(:mod:`agent_otel.deferred`): three synchronous histogram updates would otherwise be a large
part of what the instrumentation adds to each call.
"""

from __future__ import annotations

from opentelemetry.metrics import Histogram, Meter

from agent_otel import semconv as sc
from agent_otel.deferred import deferred_points


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

    @staticmethod
    def _histogram(meter: Meter, spec: sc.MetricSpec) -> Histogram:
        buckets = list(spec.buckets) if spec.buckets else None
        return meter.create_histogram(
            spec.name,
            unit=spec.unit,
            description=spec.description,
            explicit_bucket_boundaries_advisory=buckets,
        )
