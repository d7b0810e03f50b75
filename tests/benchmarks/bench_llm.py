"""Benchmark: what the LLM instrumentation adds to one OpenAI call, in bare-span units.

The real ``openai`` SDK calls an in-process MockTransport (no network, so the SDK's own
work is the baseline), first uninstrumented, then instrumented (span, official metrics,
cost and agent-otel's processor included). The time added per call is compared with one bare
OpenTelemetry SDK span carrying 10 attributes, measured in the same run on the same pipeline.

    python tests/benchmarks/bench_llm.py            # full run
    python tests/benchmarks/bench_llm.py --quick    # CI

Exits 1 when a budget is exceeded: at most 4 bare spans added per call, and ``instrument()``
under 300 ms (measured in a fresh interpreter, imports included).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.instrumentation.openai_server import MODEL, FakeOpenAI

import agent_otel
from agent_otel.instrumentation.openai import OpenAIInstrumentor

SPAN_BUDGET = 4.0
INSTRUMENT_BUDGET_S = 0.300
MESSAGES = [{"role": "user", "content": "Fix the failing test"}]


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _per_call(fn: Callable[[], object], n: int) -> float:
    began = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - began) / n


def bare_span_cost(provider: TracerProvider, n: int) -> float:
    tracer = provider.get_tracer("bench")
    attrs = {f"attr.{i}": f"value-{i}" for i in range(10)}

    def one() -> None:
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes=attrs):
            pass

    return _per_call(one, n)


def instrument_time() -> float:
    # The app has imported openai already; what instrumenting adds is ours to measure.
    code = (
        "import openai, time; t=time.perf_counter();"
        "from agent_otel.instrumentation.openai import OpenAIInstrumentor;"
        "OpenAIInstrumentor().instrument();"
        "print(time.perf_counter()-t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    return min(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 300 if args.quick else 2_000
    rounds = 3 if args.quick else 7

    api = FakeOpenAI()
    client = api.sync_client()

    def create() -> object:
        return client.chat.completions.create(model=MODEL, messages=MESSAGES)

    def stream() -> object:
        return list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Drop()))
    tel = agent_otel.configure(tracer_provider=provider, set_global=False)
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    instrumentor = OpenAIInstrumentor()
    results: dict[str, list[float]] = {"bare span": [], "create": [], "stream": []}
    plain: dict[str, list[float]] = {"create": [], "stream": []}
    create(), stream()  # warm up the SDK
    for _ in range(rounds):
        results["bare span"].append(bare_span_cost(provider, n))
        for name, fn in (("create", create), ("stream", stream)):
            plain[name].append(_per_call(fn, n))
        instrumentor.instrument(tracer_provider=provider, meter_provider=meter_provider)
        create(), stream()  # warm up prices and instruments
        for name, fn in (("create", create), ("stream", stream)):
            results[name].append(_per_call(fn, n))
        instrumentor.uninstrument()
    tel.shutdown()

    span = statistics.median(results["bare span"])
    us = 1e6
    print(
        f"LLM calls: {n} per round, {rounds} rounds; bare span (10 attributes): {span * us:.1f} us"
    )
    status = 0
    for name in ("create", "stream"):
        base, inst = statistics.median(plain[name]), statistics.median(results[name])
        added = inst - base
        print(
            f"  {name:<7} uninstrumented {base * us:7.1f} us   instrumented {inst * us:7.1f} us"
            f"   added {added * us:6.1f} us = {added / span:4.2f} bare spans (budget {SPAN_BUDGET})"
        )
        if added / span > SPAN_BUDGET:
            status = 1
    took = instrument_time()
    budget_ms = INSTRUMENT_BUDGET_S * 1e3
    print(f"  instrument() in a fresh interpreter: {took * 1e3:.0f} ms (budget {budget_ms:.0f} ms)")
    if took > INSTRUMENT_BUDGET_S:
        status = 1
    if status:
        print("OVER BUDGET", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
