"""Push many spans through agent-otel's processor and print resident memory as it goes.

Run by tests/processor/test_memory.py in a subprocess (a fresh interpreter, so nothing else
the test session allocated blurs the figures)::

    python tests/processor/run_spans.py TOTAL_SPANS SPANS_PER_SESSION CHECKPOINT

Sessions of operations, each with two LLM calls (one of them wrapped by a plain span, one
nested inside another LLM span every tenth time), and LLM calls outside sessions, with
metrics on; the exporter drops everything. Prints one JSON line per checkpoint:
``{"spans": N, "rss": BYTES, "open": OPEN_SPANS, "sessions": FINISHED_FACTS}``.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
from collections.abc import Sequence

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

import agent_otel
from agent_otel import semconv as sc


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def rss_bytes() -> int:
    """Resident memory now (Linux), else the peak so far (other Unixes)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def main(total: int, per_session: int, checkpoint: int) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Drop()))
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    tel = agent_otel.configure(tracer_provider=provider, meter_provider=meters, set_global=False)
    processor = tel.processor
    llm = provider.get_tracer("llm")
    framework = provider.get_tracer("framework")
    models = ("gpt-4o", "claude-sonnet-4-5", "gemini-2.5-pro")
    spans = 0
    next_report = checkpoint

    def call(i: int) -> None:
        attrs = {
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: models[i % 3],
            sc.GEN_AI_USAGE_INPUT_TOKENS: 100 + i % 50,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 10,
            sc.AGENT_USAGE_COST: 0.001,
        }
        with llm.start_as_current_span("chat", kind=SpanKind.CLIENT, attributes=attrs):
            pass

    # Operations are made with a plain tracer and the attributes the API gives them (the
    # API's own cost is not what is measured here), sessions with the API.
    op_start = {sc.AGENT_OPERATION_TYPE: "read", sc.AGENT_OPERATION_TARGET: "src/app.py"}
    op_end = {sc.AGENT_OPERATION_STATUS: "success"}
    i = 0
    while spans < total:
        with agent_otel.session(user_id=f"user{i % 7}", model="m", project=f"p{i % 3}"):
            spans += 1
            done = 1
            while done < per_session and spans < total:
                i += 1
                with framework.start_as_current_span(
                    "execute_tool read", attributes=op_start
                ) as op:
                    call(i)
                    with framework.start_as_current_span("step"):
                        call(i + 1)
                        if i % 10 == 0:
                            with llm.start_as_current_span("outer"):
                                call(i + 2)
                            spans += 2
                    op.set_attributes(op_end)
                spans += 4
                done += 4
        call(i)  # outside any session
        spans += 1
        if spans >= next_report:
            gc.collect()
            report = {
                "spans": spans,
                "rss": rss_bytes(),
                "open": processor.open_span_count(),
                "sessions": len(processor.finished_sessions()),
            }
            print(json.dumps(report), flush=True)
            next_report += checkpoint
    reader.get_metrics_data()  # the metrics were recorded all along
    tel.shutdown()


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:4]))
