"""Benchmark: what the LLM instrumentation adds to one OpenAI call, in bare-span units.

The real ``openai`` SDK calls an in-process MockTransport (no network, so the SDK's own
work is the baseline), first uninstrumented, then instrumented (span, official metrics,
cost and agent-otel's processor included). The time added per call is compared with one bare
OpenTelemetry SDK span carrying 10 attributes, measured in the same run on the same pipeline
(a TracerProvider with a BatchSpanProcessor, as production apps use).

For streams two figures are given: the instrumentation itself (usage not requested,
``AGENT_OTEL_OPENAI_STREAM_USAGE=never``), which the budget applies to, and with the usage
chunk requested — which adds the SDK's parsing of one more chunk, the price of knowing a
stream's tokens (the same an app pays that asks for usage itself).

    python tests/benchmarks/bench_llm.py            # full run
    python tests/benchmarks/bench_llm.py --quick    # CI

Budgets (DESIGN.md / the instrumentation issue): at most 4 bare spans added per call, and
``instrument()`` under 300 ms (in a fresh interpreter that has imported ``openai``). Every
figure is printed with its budget; ``--enforce`` makes a missed budget exit 1. (The per-call
budget is not met yet — see the README's performance section — so CI runs this without
``--enforce`` and shows the figures.)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.pipeline import DropSpans, collection_seconds
from tests.instrumentation.openai_server import MODEL, FakeOpenAI

import agent_otel
from agent_otel.instrumentation.openai import OpenAIInstrumentor
from agent_otel.instrumentation.openai.patch import STREAM_USAGE_ENV

SPAN_BUDGET = 4.0
INSTRUMENT_BUDGET_S = 0.300
MESSAGES = [{"role": "user", "content": "Fix the failing test"}]


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
    parser.add_argument("--quick", action="store_true", help="small run (CI)")
    parser.add_argument("--enforce", action="store_true", help="exit 1 when over a budget")
    args = parser.parse_args()
    n = 300 if args.quick else 2_000
    rounds = 5 if args.quick else 9

    client = FakeOpenAI().sync_client()

    def create() -> object:
        return client.chat.completions.create(model=MODEL, messages=MESSAGES)

    def stream() -> object:
        return list(client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True))

    cases: dict[str, tuple[Callable[[], object], str]] = {
        "create": (create, "never"),
        "stream": (stream, "never"),
        "stream, usage requested": (stream, "always"),
    }
    # The pipeline of a production app: a batch processor (here exporting nowhere).
    provider = TracerProvider()
    provider.add_span_processor(
        BatchSpanProcessor(DropSpans(), max_queue_size=1 << 16, schedule_delay_millis=200)
    )
    tel = agent_otel.configure(tracer_provider=provider, set_global=False)
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = OpenAIInstrumentor()
    spans: list[float] = []
    plain: dict[str, list[float]] = {name: [] for name in cases}
    instrumented: dict[str, list[float]] = {name: [] for name in cases}
    deferred: dict[str, list[float]] = {name: [] for name in cases}
    create(), stream()  # warm up the SDK
    for _ in range(rounds):  # interleaved, so that machine noise hits every side alike
        spans.append(bare_span_cost(provider, n))
        for name, (fn, _usage) in cases.items():
            plain[name].append(_per_call(fn, n))
        instrumentor.instrument(tracer_provider=provider, meter_provider=meter_provider)
        for name, (fn, usage) in cases.items():
            os.environ[STREAM_USAGE_ENV] = usage
            fn()  # warm up prices and instruments
            collection_seconds(reader)
            instrumented[name].append(_per_call(fn, n))
            deferred[name].append(collection_seconds(reader) / n)
        instrumentor.uninstrument()
    os.environ.pop(STREAM_USAGE_ENV, None)
    tel.shutdown()

    span = min(spans)
    us = 1e6
    print(f"LLM calls: {n} per round, {rounds} rounds (best round); bare span with 10 attributes:")
    print(f"  {span * us:.1f} us (BatchSpanProcessor pipeline)")
    status = 0
    for name in cases:
        base, inst = min(plain[name]), min(instrumented[name])
        added = inst - base
        budgeted = name != "stream, usage requested"
        print(
            f"  {name:<24} uninstrumented {base * us:7.1f} us  instrumented {inst * us:7.1f} us"
            f"  added {added * us:6.1f} us = {added / span:5.2f} bare spans"
            + (f" (budget {SPAN_BUDGET})" if budgeted else "")
        )
        print(
            f"  {'':<24} metric points recorded at collection (reader thread): "
            f"{min(deferred[name]) * us:5.1f} us per call"
        )
        if budgeted and added / span > SPAN_BUDGET:
            status = 1
    took = instrument_time()
    budget_ms = INSTRUMENT_BUDGET_S * 1e3
    print(f"  instrument() in a fresh interpreter: {took * 1e3:.0f} ms (budget {budget_ms:.0f} ms)")
    if took > INSTRUMENT_BUDGET_S:
        status = 1
    if status:
        print("OVER BUDGET", file=sys.stderr)
    return status if args.enforce else 0


if __name__ == "__main__":
    sys.exit(main())
