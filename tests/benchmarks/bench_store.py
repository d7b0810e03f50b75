"""Benchmark: ``agent-otel sessions`` and ``summary`` over a store of 100,000 sessions.

Generates a store in a temporary directory, then times the installed ``agent-otel`` console
script on it, as a user runs it (the time, and the CPU time of the command with its worker
processes): the first run (which builds the session index), runs with the index in place, a
run after more sessions were appended to the live file, and a run after that file was
rotated. With ``--direct`` it also times a full read of the store (what
every command did before the index), and with ``--check`` (on by default with ``--quick``)
it checks that the index gives exactly what a full read gives: the same sessions in the same
order, the same daily and project summaries.

How the store is made: a dozen template sessions are recorded with the real library
(``agent_otel.session`` / ``operation`` / ``record_change`` / undo, LLM CLIENT spans with an
HTTP span inside, blocked and failed operations, failed and cancelled sessions; about 20
spans each). Every generated session is a clone of one template, with new trace and span
ids and change ids, its own user, project, workspace, model, start time and usage (all of a
session's tokens and costs scaled by one factor, so its totals still add up). Eight agents
run sessions at once, so the spans of concurrent sessions interleave; they are written in
the order they end, 512 to a line (the batch span processor's default), through the
project's own OTLP JSON encoder, into files rotated at 64 MiB and named as the store's
writer names them (so sessions are cut by rotation, as in real stores).

    python tests/benchmarks/bench_store.py            # 100,000 sessions, prints the figures
    python tests/benchmarks/bench_store.py --quick    # 5,000 sessions, checked; CI runs this
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags, Tracer
from opentelemetry.util.types import AttributeValue

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import agent_otel
from agent_otel import semconv as sc
from agent_otel.errors import AgentOtelWarning
from agent_otel.records import sessions_from_spans
from agent_otel.store import read_spans
from agent_otel.store.index import entry_from_session, open_index
from agent_otel.store.otlp_json import dumps_line, encode_spans
from agent_otel.store.paths import TRACES_STEM, current_file, rotated_name
from agent_otel.summaries import daily_summaries, project_summaries

SCRIPT = Path(sys.executable).parent / "agent-otel"
TEMPLATES = 12
AGENTS = 8
SPANS_PER_LINE = 512
FILE_BYTES = 64 * 1024 * 1024
STRETCH = 20_000
"""Template sessions run in milliseconds; their clones last minutes."""
USERS = tuple(f"user-{n:02d}" for n in range(40))
PROJECTS = tuple(f"project-{n:02d}" for n in range(12))
MODELS = ("claude-sonnet-4-5", "claude-haiku-4-5", "gpt-4o", "gpt-4o-mini", "o3-mini")
TOKEN_KEYS = frozenset(
    {
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
        sc.AGENT_SESSION_TOTAL_TOKENS,
    }
)
COST_KEYS = frozenset({sc.AGENT_USAGE_COST, sc.AGENT_SESSION_TOTAL_COST})
MODEL_KEYS = frozenset({sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_RESPONSE_MODEL})
TEMPLATE_MODEL = "template-model"


# -- templates, recorded with the real library ----------------------------------------------


def _llm_call(tracer: Tracer, rng: random.Random) -> None:
    """An LLM call as an instrumented client makes it, with its HTTP request inside."""
    input_tokens, output_tokens = rng.randint(200, 6000), rng.randint(20, 1500)
    attributes: dict[str, AttributeValue] = {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: TEMPLATE_MODEL,
        sc.GEN_AI_RESPONSE_MODEL: TEMPLATE_MODEL,
        sc.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
        sc.AGENT_USAGE_COST: round((input_tokens * 3 + output_tokens * 15) / 1e6, 6),
    }
    with tracer.start_as_current_span(
        f"chat {TEMPLATE_MODEL}", kind=SpanKind.CLIENT, attributes=attributes
    ):
        http: dict[str, AttributeValue] = {
            "http.request.method": "POST",
            "url.full": "https://api.example.com/v1/chat/completions",
            "server.address": "api.example.com",
            "http.response.status_code": 200,
        }
        with tracer.start_as_current_span("POST", kind=SpanKind.CLIENT, attributes=http):
            pass


class _Failed(Exception):
    pass


def _template_session(number: int, tracer: Tracer) -> None:
    rng = random.Random(number)
    try:
        with agent_otel.session(
            session_id=f"template-{number}",
            user_id="template-user",
            workspace="/work/template",
            model=TEMPLATE_MODEL,
            agent_name="bench-agent",
        ) as session:
            for path in ("src/app.py", "src/util.py", "tests/test_app.py"):
                with session.operation("read", path) as op:
                    op.set_result("...")
            change = None
            for path in ("src/app.py", "src/util.py"):
                with session.operation("write", path, approved=True, approved_by="lead") as op:
                    change = op.record_change(path, "modify", before="a\nb\n", after="a\nc\n")
            with session.operation("execute", "pytest -x") as op:
                if rng.random() < 0.3:
                    op.set_exit_code(1)
                    op.fail("tests failed")
                else:
                    op.set_exit_code(0)
            with session.operation("execute", "rm -rf build") as op:
                if rng.random() < 0.5:
                    op.block("destructive command")
            for question in ("plan the fix", "review the diff"):
                with session.operation("query", question):
                    for _ in range(rng.choice((1, 1, 2))):
                        _llm_call(tracer, rng)
            if change is not None and number % 3 == 0:
                with agent_otel.operation("write", "src/util.py", undoes=change) as op:
                    op.record_change("src/util.py", "modify", before="a\nc\n", after="a\nb\n")
            _llm_call(tracer, rng)
            ending = rng.random()
            if ending < 0.08:
                raise _Failed("the agent gave up")
            if ending < 0.12:
                session.cancel()
    except _Failed:
        pass


def record_templates() -> list[list[ReadableSpan]]:
    """Template sessions from the real library, each its spans in the order they ended."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tel = agent_otel.configure(
        service_name="bench-agent", tracer_provider=provider, set_global=False
    )
    tracer = provider.get_tracer("openai-like-client")
    for number in range(TEMPLATES):
        _template_session(number, tracer)
    tel.shutdown()
    by_trace: dict[int, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        by_trace.setdefault(span.context.trace_id, []).append(span)
    return list(by_trace.values())


# -- clones ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What makes one generated session its own."""

    number: int
    start_ns: int
    user: str
    project: str
    model: str
    scale: int


def clone(template: list[ReadableSpan], shape: Shape, rng: random.Random) -> list[ReadableSpan]:
    """The template's spans as a new session: new ids, times, names and usage."""
    root = next(s for s in template if s.parent is None)
    origin = root.start_time or 0
    trace_id = rng.getrandbits(128)
    span_ids = {s.context.span_id: rng.getrandbits(64) for s in template}
    change_ids: dict[str, str] = {}
    session_id = f"s-{shape.number:06d}-{trace_id & 0xFFFF:04x}"

    def moved(ns: int | None) -> int | None:
        return None if ns is None else shape.start_ns + (ns - origin) * STRETCH

    def value(key: str, old: object) -> object:
        if key in TOKEN_KEYS and isinstance(old, int):
            return old * shape.scale
        if key in COST_KEYS and isinstance(old, float):
            return old * shape.scale
        if key == sc.SESSION_ID:
            return session_id
        if key == sc.USER_ID:
            return shape.user
        if key == sc.AGENT_SESSION_PROJECT:
            return shape.project
        if key == sc.AGENT_SESSION_WORKSPACE:
            return f"/home/{shape.user}/{shape.project}"
        if key in MODEL_KEYS and old == TEMPLATE_MODEL:
            return shape.model
        if key in (sc.AGENT_CHANGE_ID, sc.AGENT_UNDO_CHANGE_ID) and isinstance(old, str):
            return change_ids.setdefault(old, f"{trace_id:032x}-{len(change_ids)}")
        return old

    def attributes(old: object) -> dict[str, object]:
        return {k: value(k, v) for k, v in dict(old or {}).items()}  # type: ignore[call-overload]

    def context(span_id: int) -> SpanContext:
        return SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1))

    out = []
    for span in template:
        parent = None if span.parent is None else context(span_ids[span.parent.span_id])
        out.append(
            ReadableSpan(
                name=span.name.replace(TEMPLATE_MODEL, shape.model),
                context=context(span_ids[span.context.span_id]),
                parent=parent,
                resource=span.resource,
                attributes=attributes(span.attributes),  # type: ignore[arg-type]
                events=[
                    Event(e.name, attributes(e.attributes), moved(e.timestamp))  # type: ignore[arg-type]
                    for e in span.events
                ],
                links=[
                    Link(context(span_ids[link.context.span_id]), attributes(link.attributes))  # type: ignore[arg-type]
                    for link in span.links
                ],
                kind=span.kind,
                status=span.status,
                start_time=moved(span.start_time),
                end_time=moved(span.end_time),
                instrumentation_scope=span.instrumentation_scope,
            )
        )
    return out


class Generator:
    """Sessions of :data:`AGENTS` concurrent agents over ``days``, written as a store."""

    def __init__(self, templates: list[list[ReadableSpan]], sessions: int, seed: int = 5) -> None:
        self.templates = templates
        self.rng = random.Random(seed)
        days = max(7.0, 90.0 * sessions / 100_000)
        self.interval_ns = int(days * 86_400e9 / sessions)
        self.base_ns = 1_780_000_000 * 10**9  # 2026-05-28
        self.number = 0
        self.spans = 0

    def shapes(self, count: int) -> Iterator[Shape]:
        rng = self.rng
        for _ in range(count):
            n = self.number
            self.number += 1
            yield Shape(
                number=n,
                start_ns=self.base_ns + n * self.interval_ns + rng.randrange(self.interval_ns),
                user=USERS[(n % AGENTS) * 5 + rng.randrange(5)],
                project=PROJECTS[rng.randrange(len(PROJECTS))],
                model=MODELS[rng.randrange(len(MODELS))],
                scale=rng.randint(1, 6),
            )

    def lines(self, count: int) -> Iterator[tuple[int, bytes]]:
        """``count`` more sessions as store lines, in the order their spans end:
        (end of the line's last span, line)."""
        pending: list[tuple[int, int, ReadableSpan]] = []
        batch: list[ReadableSpan] = []
        tie = 0
        for shape in self.shapes(count):
            # Spans that ended before this session started cannot be overtaken any more.
            while pending and pending[0][0] < shape.start_ns:
                batch.append(heapq.heappop(pending)[2])
                if len(batch) == SPANS_PER_LINE:
                    yield self._line(batch)
                    batch = []
            for span in clone(self.templates[shape.number % len(self.templates)], shape, self.rng):
                tie += 1
                heapq.heappush(pending, (span.end_time or 0, tie, span))
        while pending:
            batch.append(heapq.heappop(pending)[2])
            if len(batch) == SPANS_PER_LINE:
                yield self._line(batch)
                batch = []
        if batch:
            yield self._line(batch)

    def _line(self, batch: list[ReadableSpan]) -> tuple[int, bytes]:
        self.spans += len(batch)
        return batch[-1].end_time or 0, dumps_line(encode_spans(batch))


def write_store(directory: Path, lines: Iterator[tuple[int, bytes]], file_bytes: int) -> None:
    """Append ``lines`` to the store's live file, rotating it as the writer does."""
    live = current_file(directory, TRACES_STEM)
    out = live.open("ab")
    size = out.tell()
    try:
        for end_ns, line in lines:
            if size and size + len(line) > file_bytes:
                out.close()
                os.rename(live, directory / rotated_name(TRACES_STEM, now_ns=end_ns, pid=4242))
                out = live.open("ab")
                size = 0
            out.write(line)
            size += len(line)
    finally:
        out.close()


# -- timing ---------------------------------------------------------------------------------


def cli(store: Path, *args: str) -> str:
    """How long the console script takes for ``args`` (output to a pipe, as in scripts): the
    time it takes, and the CPU time it and its worker processes use (which says more than the
    time alone on a machine that other work shares)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    begin, used = time.perf_counter(), _children_cpu()
    done = subprocess.run(
        [str(SCRIPT), "--store", str(store), *args], env=env, capture_output=True, timeout=3600
    )
    seconds, cpu = time.perf_counter() - begin, _children_cpu() - used
    if done.returncode != 0 or done.stderr:
        raise SystemExit(f"agent-otel {' '.join(args)} failed:\n{done.stderr.decode()}")
    return f"{seconds:7.2f} s {cpu:7.1f} s"


def _children_cpu() -> float:
    """CPU seconds of the child processes that ended (with theirs; 0 where not known)."""
    times = os.times()
    return times.children_user + times.children_system


def mib(count: int) -> str:
    return f"{count / 2**20:,.1f} MiB"


def store_bytes(directory: Path, pattern: str) -> int:
    return sum(p.stat().st_size for p in directory.glob(pattern))


def check(store: Path) -> None:
    """The index answers exactly what a full read does."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", AgentOtelWarning)
        direct = [entry_from_session(s) for s in sessions_from_spans(read_spans(store))]
        with open_index(store) as index:
            indexed = index.entries()
    assert indexed == direct, "the index differs from a full read"
    facts = [e.facts for e in direct]
    indexed_facts = [e.facts for e in indexed]
    assert daily_summaries(indexed_facts) == daily_summaries(facts)
    assert project_summaries(indexed_facts, "week") == project_summaries(facts, "week")
    print(f"check: the index equals a full read ({len(direct):,} sessions, summaries equal)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 sessions, with --check")
    parser.add_argument("--sessions", type=int, help="how many sessions (default 100,000)")
    parser.add_argument("--direct", action="store_true", help="also time a full read")
    parser.add_argument("--check", action="store_true", help="compare with a full read")
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    args = parser.parse_args()
    sessions = args.sessions or (5_000 if args.quick else 100_000)
    file_bytes = 8 * 1024 * 1024 if args.quick else FILE_BYTES
    temporary = None if args.keep else tempfile.mkdtemp(prefix="agent-otel-bench-store-")
    store = Path(args.keep or temporary)  # type: ignore[arg-type]
    store.mkdir(parents=True, exist_ok=True)
    try:
        begin = time.perf_counter()
        generator = Generator(record_templates(), sessions)
        write_store(store, generator.lines(sessions), file_bytes)
        files = len(list(store.glob("traces*.jsonl")))
        print(
            f"store: {sessions:,} sessions, {generator.spans:,} spans, {files} files, "
            f"{mib(store_bytes(store, 'traces*.jsonl'))} "
            f"(generated in {time.perf_counter() - begin:.0f} s); {os.cpu_count()} CPUs"
        )
        commands = [
            "sessions --limit 20",
            "sessions --limit 20",
            "sessions",
            "sessions --user user-07 --since 2026-06-15 --sort cost --limit 20",
            "sessions --json --limit 100",
            "summary --daily",
            "summary --project --period week",
        ]
        print(f"{'command':<68} {'time':>9} {'CPU':>9}")
        for number, command in enumerate(commands):
            label = command + (" (first run: builds the index)" if number == 0 else "")
            print(f"{label:<68} {cli(store, *command.split())}")
        print(f"index: {mib(store_bytes(store, 'index.sqlite*'))}")

        more = max(1, sessions // 100)
        write_store(store, generator.lines(more), 2**62)
        timing = cli(store, "sessions", "--limit", "20")
        print(f"{f'sessions --limit 20 after {more:,} sessions were appended':<68} {timing}")
        live = current_file(store, TRACES_STEM)
        os.rename(live, store / rotated_name(TRACES_STEM, pid=4243))
        write_store(store, generator.lines(10), 2**62)
        timing = cli(store, "sessions", "--limit", "20")
        print(f"{'sessions --limit 20 after a rotation and 10 new sessions':<68} {timing}")

        if args.direct:
            begin = time.perf_counter()
            count = len(sessions_from_spans(read_spans(store)))
            print(f"{f'full read of the store ({count:,} sessions, in-process)':<68} "
                  f"{time.perf_counter() - begin:7.2f} s")  # fmt: skip
        if args.check or args.quick:
            check(store)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
