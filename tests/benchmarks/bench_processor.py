"""Benchmark: what agent-otel's span processor adds to each span, against the bare SDK.

Both sides run in this one process on the pipeline of a production app (a TracerProvider
with a BatchSpanProcessor and an exporter that drops the spans) and create exactly the same
spans with the same attributes through a plain tracer; one side also has
``AgentSpanProcessor``, with its metrics on (a MeterProvider with an in-memory reader, as
``configure()`` wires it). The difference per span, divided by the bare side's cost per span,
is the processor's added cost in bare spans (DESIGN.md budget: at most 0.5). Rounds of the
two sides alternate, each on a fresh pipeline and a collected heap; the budgeted figure is
the median over the pairs of rounds, and the interquartile range shows how much they agree.
``--simple`` runs both sides on a SimpleSpanProcessor instead (a debugging pipeline whose
bare spans are cheaper, so the same work is a larger share of them).

Workloads:

* ``session``: agent sessions of 50 operations; inside each operation an LLM call (a CLIENT
  span with usage and cost) and, inside the call, the HTTP request span a client library's
  instrumentation makes — the processor stamps ``session.id``/``user.id`` on those, rolls
  the usage up, and records operation, session, token and cost metrics;
* ``no session``: the same LLM call and HTTP spans under a web request span, outside any
  session (token and cost metrics only);
* ``session, metrics off``: the first workload without a meter provider.

Operation durations are queued and handed to the SDK's histogram when a reader collects
(see ``agent_otel.deferred``); no collection happens during a round, as with the periodic
reader ``configure()`` sets up (every 60 s by default). That deferred work is not hidden:
one collection is timed after each round and printed per span beside the budgeted figure.

    python tests/benchmarks/bench_processor.py             # full run, prints the figures
    python tests/benchmarks/bench_processor.py --quick     # a few seconds, as CI runs it
    python tests/benchmarks/bench_processor.py --enforce   # exit 1 when over the budget
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.pipeline import DropSpans, collection_seconds

from agent_otel import semconv as sc
from agent_otel.processor import AgentSpanProcessor

BUDGET = 0.5  # bare spans per span
OPS_PER_SESSION = 50


SESSION_START: dict[str, AttributeValue] = {
    sc.SESSION_ID: "0b6f7c1e-5d8e-4a39-9a51-3f0e4f1d2c7a",
    sc.USER_ID: "alice",
    sc.AGENT_SESSION_STATUS: "active",
    sc.GEN_AI_OPERATION_NAME: "invoke_agent",
    sc.AGENT_SESSION_WORKSPACE: "/home/alice/shop",
    sc.AGENT_SESSION_PROJECT: "shop",
    sc.GEN_AI_REQUEST_MODEL: "claude-sonnet-4-5",
    sc.AGENT_SESSION_MODEL_TIER: 2,
}
SESSION_END: dict[str, AttributeValue] = {
    sc.AGENT_SESSION_STATUS: "completed",
    sc.AGENT_SESSION_TOTAL_TOKENS: 0,
    sc.AGENT_SESSION_TOTAL_COST: 0.0,
    sc.AGENT_SESSION_OPERATION_COUNT: OPS_PER_SESSION,
}
OP_START: dict[str, AttributeValue] = {
    sc.GEN_AI_OPERATION_NAME: "execute_tool",
    sc.GEN_AI_TOOL_NAME: "read",
    sc.AGENT_OPERATION_TYPE: "read",
    sc.AGENT_OPERATION_TARGET: "src/app.py",
    sc.FILE_PATH: "src/app.py",
    sc.SESSION_ID: SESSION_START[sc.SESSION_ID],
    sc.USER_ID: "alice",
}
OP_END: dict[str, AttributeValue] = {
    sc.AGENT_OPERATION_STATUS: "success",
    sc.AGENT_OPERATION_APPROVED: False,
    sc.GEN_AI_USAGE_INPUT_TOKENS: 0,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 0,
    sc.AGENT_USAGE_COST: 0.0,
}
LLM_START: dict[str, AttributeValue] = {
    sc.GEN_AI_OPERATION_NAME: "chat",
    sc.GEN_AI_PROVIDER_NAME: "openai",
    sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
    sc.SERVER_ADDRESS: "api.openai.com",
    sc.SERVER_PORT: 443,
}
LLM_END: dict[str, AttributeValue] = {
    sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
    sc.GEN_AI_RESPONSE_ID: "chatcmpl-123",
    sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
    sc.GEN_AI_USAGE_INPUT_TOKENS: 1200,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 80,
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1024,
    sc.AGENT_USAGE_COST: 0.0019,
}
HTTP_START: dict[str, AttributeValue] = {
    "http.request.method": "POST",
    "url.full": "https://api.openai.com/v1/chat/completions",
    sc.SERVER_ADDRESS: "api.openai.com",
    sc.SERVER_PORT: 443,
}
HTTP_END: dict[str, AttributeValue] = {"http.response.status_code": 200}


def _call(tracer: Tracer) -> None:
    """One LLM call: its client span and, inside it, the HTTP request's span."""
    with tracer.start_as_current_span(
        "chat gpt-4o", kind=SpanKind.CLIENT, attributes=LLM_START
    ) as llm:
        with tracer.start_as_current_span(
            "POST", kind=SpanKind.CLIENT, attributes=HTTP_START
        ) as http:
            http.set_attributes(HTTP_END)
        llm.set_attributes(LLM_END)


def session_workload(tracer: Tracer, n_ops: int) -> int:
    """Sessions of operations, each with one LLM call; returns the number of spans."""
    spans = 0
    for _ in range(max(1, n_ops // OPS_PER_SESSION)):
        with tracer.start_as_current_span("agent.session", attributes=SESSION_START) as root:
            for _ in range(OPS_PER_SESSION):
                with tracer.start_as_current_span("execute_tool read", attributes=OP_START) as op:
                    _call(tracer)
                    op.set_attributes(OP_END)
            root.set_attributes(SESSION_END)
        spans += 1 + 3 * OPS_PER_SESSION
    return spans


def no_session_workload(tracer: Tracer, n_ops: int) -> int:
    """The same calls under a web request span, no session; returns the number of spans."""
    spans = 0
    for _ in range(n_ops):
        with tracer.start_as_current_span("POST /ask", kind=SpanKind.SERVER):
            _call(tracer)
        spans += 3
    return spans


def _pipeline(
    processor: bool, metrics: bool, simple: bool
) -> tuple[Tracer, InMemoryMetricReader | None, Callable[[], None]]:
    provider = TracerProvider()
    if simple:
        provider.add_span_processor(SimpleSpanProcessor(DropSpans()))
    else:
        provider.add_span_processor(
            BatchSpanProcessor(DropSpans(), max_queue_size=1 << 16, schedule_delay_millis=200)
        )
    meters: MeterProvider | None = None
    reader: InMemoryMetricReader | None = None
    if processor:
        if metrics:
            reader = InMemoryMetricReader()
            meters = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
        provider.add_span_processor(AgentSpanProcessor(meters))

    def close() -> None:
        provider.shutdown()
        if meters is not None:
            meters.shutdown()

    return provider.get_tracer("bench"), reader, close


@dataclass
class Workload:
    label: str
    make_spans: Callable[[Tracer, int], int]
    metrics: bool


def per_span(workload: Workload, n: int, processor: bool, simple: bool) -> tuple[float, float]:
    """Seconds per span of one round on a fresh pipeline and a collected heap, and seconds
    per span of the collection that follows it (the metric work deferred to the reader's
    thread)."""
    tracer, reader, close = _pipeline(processor, workload.metrics, simple)
    try:
        gc.collect()
        began = time.perf_counter()
        spans = workload.make_spans(tracer, n)
        took = (time.perf_counter() - began) / spans
        deferred = collection_seconds(reader) / spans if reader is not None else 0.0
        return took, deferred
    finally:
        close()


def run(workload: Workload, n: int, rounds: int, simple: bool) -> float:
    """Both sides, round after round; prints the figures, returns the median added cost in
    bare spans per span."""
    per_span(workload, n // 10, False, simple)  # warm up both paths
    per_span(workload, n // 10, True, simple)
    bare: list[float] = []
    ours: list[float] = []
    deferred: list[float] = []
    for number in range(rounds):  # in turns, so that neither side always runs first
        sides = (False, True) if number % 2 == 0 else (True, False)
        for processor in sides:
            took, later = per_span(workload, n, processor, simple)
            (ours if processor else bare).append(took)
            if processor:
                deferred.append(later)
    ratios = [(o - b) / b for o, b in zip(ours, bare, strict=True)]
    low, ratio, high = statistics.quantiles(ratios, n=4)
    us = 1e6
    bare_us, ours_us = statistics.median(bare) * us, statistics.median(ours) * us
    print(
        f"  {workload.label:<21} bare {bare_us:6.2f} us/span   with processor {ours_us:6.2f} "
        f"us/span   added {ours_us - bare_us:5.2f} us = {ratio:.2f} bare spans "
        f"[{low:.2f}..{high:.2f}]"
    )
    if workload.metrics:
        print(
            f"  {'':<21} metric points recorded at collection (reader thread): "
            f"{statistics.median(deferred) * us:5.2f} us/span"
        )
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (CI)")
    parser.add_argument("--enforce", action="store_true", help=f"exit 1 over {BUDGET} bare spans")
    parser.add_argument("--simple", action="store_true", help="on a SimpleSpanProcessor")
    parser.add_argument("-n", type=int, help="operations (LLM calls) per round")
    parser.add_argument("--rounds", type=int, help="rounds per side")
    args = parser.parse_args()
    n = args.n or (1_000 if args.quick else 10_000)
    rounds = args.rounds or (8 if args.quick else 16)

    pipeline = "SimpleSpanProcessor" if args.simple else "BatchSpanProcessor"
    print(
        f"processor cost per span ({pipeline} pipeline): {n} operations per round, {rounds} "
        f"rounds per side, median [interquartile range] (budget {BUDGET} bare spans per span)"
    )
    workloads = (
        Workload("session", session_workload, True),
        Workload("no session", no_session_workload, True),
        Workload("session, metrics off", session_workload, False),
    )
    ratios = {w.label: run(w, n, rounds, args.simple) for w in workloads}
    over = {label: r for label, r in ratios.items() if r > BUDGET}
    if over:
        listing = ", ".join(f"{label} {r:.2f}" for label, r in over.items())
        print(f"OVER BUDGET ({BUDGET} bare spans per span): {listing}", file=sys.stderr)
        if args.enforce:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
