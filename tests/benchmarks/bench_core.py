"""Benchmark: the cost of an agent-otel operation span against a bare OpenTelemetry SDK span.

Both sides run in this one process on identical pipelines (a TracerProvider with a
SimpleSpanProcessor and an exporter that drops the spans) and create the same spans with the
same attributes: the bare side replays exactly the attributes agent-otel recorded. The ratio
is what agent-otel's API, checks and span processor add on the agent's hot path.

    python tests/benchmarks/bench_core.py            # full run
    python tests/benchmarks/bench_core.py --quick    # a few seconds, as CI runs it

Exits 1 when the ratio is over the budget (DESIGN.md: at most 2x a bare span).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.pipeline import DropSpans

import agent_otel
from agent_otel import semconv as sc

BUDGET = 2.0


def _provider(exporter: SpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _recorded_attributes() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """What agent-otel records for the session and one operation: (session start, op start +
    end, session end) — the bare side sets exactly these."""
    memory = InMemorySpanExporter()
    tel = agent_otel.configure(tracer_provider=_provider(memory), set_global=False)
    with (
        agent_otel.session(user_id="bench", model="m", model_tier=2) as s,
        s.operation("read", target="src/app.py"),
    ):
        pass
    tel.shutdown()
    spans = {span.name: span for span in memory.get_finished_spans()}
    op = dict(spans["execute_tool read"].attributes or {})
    session = dict(spans["agent.session"].attributes or {})
    end_keys = {
        sc.AGENT_SESSION_STATUS,
        sc.AGENT_SESSION_TOTAL_TOKENS,
        sc.AGENT_SESSION_TOTAL_COST,
        sc.AGENT_SESSION_OPERATION_COUNT,
    }
    start = {k: v for k, v in session.items() if k not in end_keys}
    end = {k: v for k, v in session.items() if k in end_keys}
    return start, op, end


def bare_run(n: int) -> float:
    """n operation spans inside one session span, with the bare SDK; seconds."""
    session_start, op_attrs, session_end = _recorded_attributes()
    op_end_keys = (
        sc.AGENT_OPERATION_STATUS,
        sc.AGENT_OPERATION_APPROVED,
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS,
        sc.AGENT_USAGE_COST,
    )
    op_start = {k: v for k, v in op_attrs.items() if k not in op_end_keys}
    op_end = {k: op_attrs[k] for k in op_end_keys}
    tracer = _provider(DropSpans()).get_tracer("bench")
    began = time.perf_counter()
    with tracer.start_as_current_span("agent.session", attributes=session_start) as root:
        for _ in range(n):
            with tracer.start_as_current_span("execute_tool read", attributes=op_start) as span:
                span.set_attributes(op_end)
        root.set_attributes(session_end)
    return time.perf_counter() - began


# An agent works on a project's files, coming back to them: targets cycle through these.
TARGETS = [f"src/pkg{i % 7}/module_{i}.py" for i in range(200)]


def agent_run(n: int) -> float:
    """n operations in one session through agent-otel's public API; seconds."""
    tel = agent_otel.configure(tracer_provider=_provider(DropSpans()), set_global=False)
    targets = [TARGETS[i % len(TARGETS)] for i in range(n)]
    try:
        began = time.perf_counter()
        with agent_otel.session(user_id="bench", model="m", model_tier=2) as s:
            for target in targets:
                with s.operation("read", target=target):
                    pass
        return time.perf_counter() - began
    finally:
        tel.shutdown()


def measure(run: Callable[[int], float], n: int, rounds: int) -> list[float]:
    return [run(n) / n for _ in range(rounds)]


def import_time(module: str) -> float:
    """Seconds to import ``module`` in a fresh interpreter (best of 3)."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        best = min(best, time.perf_counter() - began)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (CI)")
    parser.add_argument("-n", type=int, help="operations per round")
    parser.add_argument("--rounds", type=int, help="rounds per side")
    args = parser.parse_args()
    n = args.n or (2_000 if args.quick else 20_000)
    rounds = args.rounds or (5 if args.quick else 9)

    measure(bare_run, n // 10, 1)  # warm up both paths
    measure(agent_run, n // 10, 1)
    bare: list[float] = []
    ours: list[float] = []
    for _ in range(rounds):  # interleave so that machine noise hits both sides alike
        bare += measure(bare_run, n, 1)
        ours += measure(agent_run, n, 1)
    best_ratio = min(ours) / min(bare)
    median_ratio = statistics.median(ours) / statistics.median(bare)

    us = 1e6
    print(f"operation spans: {n} per round, {rounds} rounds per side")
    for label, times in (("bare SDK span", bare), ("agent-otel operation", ours)):
        best, median = min(times) * us, statistics.median(times) * us
        print(f"  {label:<21} best {best:7.2f} us   median {median:7.2f} us")
    print(
        f"  {'ratio':<21} best {best_ratio:7.2f}x     median {median_ratio:7.2f}x"
        f"   (budget {BUDGET}x)"
    )
    if not args.quick:
        base = import_time("opentelemetry.sdk.trace")
        ours_import = import_time("agent_otel")
        print(
            "import (fresh interpreter, incl. startup): opentelemetry.sdk.trace "
            f"{base * 1e3:.0f} ms, agent_otel {ours_import * 1e3:.0f} ms"
        )
    if best_ratio > BUDGET:
        print(f"OVER BUDGET: {best_ratio:.2f}x > {BUDGET}x", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
