"""Benchmark: what the LLM instrumentation adds to one OpenAI call, in bare-span units.

The real ``openai`` SDK calls an in-process MockTransport (no network, so the SDK's own
work is the baseline), uninstrumented and instrumented (span, official metrics, cost and
agent-otel's processor included), on the pipeline of a production app (a TracerProvider
with a BatchSpanProcessor). What the instrumentation adds to a call is compared with what
one bare OpenTelemetry SDK span carrying 10 attributes adds *around the same call* — what an
app would pay that made a span of its own for each call, under the same conditions — and,
for reference, with that bare span alone in a tight loop, which costs two to three times
less because nothing else runs between its starts and ends to evict it from the CPU's
caches or to make the garbage collector walk it.

A call takes about 0.9 ms of the SDK's own work and the instrumentation adds a tenth of it,
so the machine's noise (another process, the batch exporter's thread, the CPU's clock) is
as large as what is measured. The figures are therefore paired: each block of instrumented
calls, and each block of calls inside a bare span, is compared with the blocks of
uninstrumented calls just before and just after it; the budgeted figure is the median over
many pairs of (time the instrumentation adds / time the bare span adds), and the
interquartile range shows how much the pairs agree.

For streams two figures are given: the instrumentation itself (usage not requested,
``AGENT_OTEL_OPENAI_STREAM_USAGE=never``), which the budget applies to, and with the usage
chunk requested — which adds the SDK's parsing of one more chunk, the price of knowing a
stream's tokens (the same an app pays that asks for usage itself).

    python tests/benchmarks/bench_llm.py            # full run
    python tests/benchmarks/bench_llm.py --quick    # CI (with --enforce)

Budgets (DESIGN.md / the instrumentation issue): at most 4 bare spans (around the call)
added per call, and
``instrument()`` under 300 ms (in a fresh interpreter that has imported ``openai``). Every
figure is printed with its budget; ``--enforce`` makes a missed budget exit 1.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer

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
    """Seconds per call of ``fn``, from a collected heap: each block pays for the garbage
    collections that its own allocations cause, not for those of the block before."""
    gc.collect()
    began = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - began) / n


BARE_ATTRIBUTES = {f"attr.{i}": f"value-{i}" for i in range(10)}


def bare_span_cost(tracer: Tracer, n: int) -> float:
    """A bare span with 10 attributes, alone in a loop."""

    def one() -> None:
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes=BARE_ATTRIBUTES):
            pass

    return _per_call(one, n)


def in_a_bare_span(tracer: Tracer, fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` inside a bare span with 10 attributes: what an app pays that wraps each call
    in a span of its own, under the same conditions as the instrumentation."""

    def wrapped() -> object:
        with tracer.start_as_current_span("chat gpt-4o-mini", attributes=BARE_ATTRIBUTES):
            return fn()

    return wrapped


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


@dataclass
class Pairs:
    """One case's paired blocks, per call: the time the instrumentation adds, the time a
    bare span around the same call adds, and the time its deferred metric points took at
    collection."""

    added: list[float] = field(default_factory=list)
    bare_around: list[float] = field(default_factory=list)
    bare_loop: list[float] = field(default_factory=list)
    plain: list[float] = field(default_factory=list)
    deferred: list[float] = field(default_factory=list)

    def ratios(self, bare: list[float]) -> list[float]:
        return [added / span for added, span in zip(self.added, bare, strict=True)]


def _spread(values: list[float]) -> tuple[float, float, float]:
    """Median and interquartile range."""
    low, mid, high = statistics.quantiles(values, n=4)
    return mid, low, high


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (CI)")
    parser.add_argument("--enforce", action="store_true", help="exit 1 when over a budget")
    args = parser.parse_args()
    calls = 100 if args.quick else 200  # per block
    pairs = 12 if args.quick else 40

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
    tracer = provider.get_tracer("bench")
    tel = agent_otel.configure(tracer_provider=provider, set_global=False)
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    instrumentor = OpenAIInstrumentor()
    results = {name: Pairs() for name in cases}
    create(), stream()  # warm up the SDK
    for number in range(pairs):
        for name, (fn, usage) in cases.items():
            pair = results[name]

            def instrumented(
                fn: Callable[[], object] = fn, usage: str = usage, pair: Pairs = pair
            ) -> float:
                instrumentor.instrument(tracer_provider=provider, meter_provider=meter_provider)
                os.environ[STREAM_USAGE_ENV] = usage
                fn()  # warm up prices and instruments
                collection_seconds(reader)
                took = _per_call(fn, calls)
                pair.deferred.append(collection_seconds(reader) / calls)
                instrumentor.uninstrument()
                return took

            def around(fn: Callable[[], object] = fn) -> float:
                return _per_call(in_a_bare_span(tracer, fn), calls)

            # Uninstrumented blocks before and after; the two others in turns, so that
            # neither always runs on a heap the other left.
            before = _per_call(fn, calls)
            first, second = (instrumented, around) if number % 2 == 0 else (around, instrumented)
            one, two = first(), second()
            after = _per_call(fn, calls)
            with_instrumentation, with_bare_span = (one, two) if number % 2 == 0 else (two, one)
            plain = (before + after) / 2
            pair.plain.append(plain)
            pair.added.append(with_instrumentation - plain)
            pair.bare_around.append(with_bare_span - plain)
            pair.bare_loop.append(bare_span_cost(tracer, 10 * calls))
    os.environ.pop(STREAM_USAGE_ENV, None)
    tel.shutdown()

    us = 1e6
    print(
        f"LLM calls: {pairs} pairs of blocks of {calls} calls per case "
        f"(median [interquartile range])"
    )
    status = 0
    for name, pair in results.items():
        budgeted = name != "stream, usage requested"
        added, added_low, added_high = _spread(pair.added)
        around_us, around_low, around_high = _spread(pair.bare_around)
        loop_us, loop_low, loop_high = _spread(pair.bare_loop)
        ratio, ratio_low, ratio_high = _spread(pair.ratios(pair.bare_around))
        loop_ratio, loop_ratio_low, loop_ratio_high = _spread(pair.ratios(pair.bare_loop))
        print(f"  {name}: uninstrumented {statistics.median(pair.plain) * us:.1f} us per call")
        print(
            f"    instrumentation adds        {added * us:6.1f} us "
            f"[{added_low * us:.0f}..{added_high * us:.0f}]"
        )
        print(
            f"    a bare span around the call {around_us * us:6.1f} us "
            f"[{around_low * us:.0f}..{around_high * us:.0f}]  ->  "
            f"{ratio:.2f} bare spans [{ratio_low:.2f}..{ratio_high:.2f}]"
            + (f" (budget {SPAN_BUDGET})" if budgeted else "")
        )
        print(
            f"    a bare span in a loop       {loop_us * us:6.1f} us "
            f"[{loop_low * us:.0f}..{loop_high * us:.0f}]  ->  "
            f"{loop_ratio:.2f} bare spans [{loop_ratio_low:.2f}..{loop_ratio_high:.2f}]"
        )
        print(
            f"    metric points recorded at collection (reader thread): "
            f"{statistics.median(pair.deferred) * us:.1f} us per call"
        )
        if budgeted and ratio > SPAN_BUDGET:
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
