"""The session index answers exactly what a full read of the store answers.

Stores are written by the real library in another process (``index_writer.py``: small export
batches and a small rotation size, so sessions are cut across lines and files), then damaged,
appended to, rotated, rewritten and pruned the ways real stores are. After every step the
index (:func:`agent_otel.store.index.open_index`) must give the same entries, in the same
order, the same full records and the same warnings as reading every span with the reader.

The index makes its rows from lines skimmed for a few fields of each span, not from records:
Hypothesis generates spans of every shape (nesting, missing parents and session spans, other
libraries' usage names, invalid values) whose rows must be those of the records, and every
value of a line is replaced by wrong ones to check that the skim rejects what the reader
rejects.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from agent_otel import semconv as sc
from agent_otel import usage
from agent_otel.errors import AgentOtelWarning
from agent_otel.records import AgentSession, sessions_from_spans
from agent_otel.spandata import SpanData
from agent_otel.store import read_spans, reader, store_files
from agent_otel.store.index import (
    SessionEntry,
    database,
    entry_from_session,
    indexer,
    open_index,
    skim,
)
from agent_otel.store.index.entry import EntryRow, entry_row
from agent_otel.store.index.rows import TraceRows
from agent_otel.store.index.scan import decode_line
from agent_otel.store.index.skim import SpanFields, skim_line
from agent_otel.store.otlp_json import dumps_line, encode_spans
from agent_otel.store.paths import TRACES_STEM, rotated_name
from agent_otel.summaries import PERIODS, daily_summaries, project_summaries
from tests.cli.runner import clean_env

HERE = Path(__file__).parent
WRITER_ENV = {
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "40",
    "AGENT_OTEL_STORE_MAX_BYTES": "100000",
    "AGENT_OTEL_STORE_MAX_FILES": "100000",
}


def write_sessions(home: Path, count: int, seed: int) -> None:
    subprocess.run(
        [sys.executable, str(HERE / "index_writer.py"), str(count), str(seed)],
        env=clean_env(AGENT_OTEL_HOME=str(home), **WRITER_ENV),
        cwd=home,
        check=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of 120 generated sessions and a cross-session undo, never indexed itself."""
    home = tmp_path_factory.mktemp("index-store")
    write_sessions(home, 120, seed=1)
    return home


@pytest.fixture
def store(written: Path, tmp_path: Path) -> Path:
    """A private copy of the written store for one test to index and change."""
    copy = tmp_path / "store"
    shutil.copytree(written, copy)
    return copy


class Recorder:
    """A progress callback that remembers the totals it was told."""

    def __init__(self) -> None:
        self.totals: list[int] = []
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if done == 0:
            self.totals.append(total)
        self.done = done


def full_read(store: Path) -> tuple[list[SessionEntry], list[AgentSession], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AgentOtelWarning)
        sessions = sessions_from_spans(read_spans(store))
    return [entry_from_session(s) for s in sessions], sessions, [str(w.message) for w in caught]


def indexed(
    store: Path, progress: Recorder | None = None
) -> tuple[list[SessionEntry], list[AgentSession], list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AgentOtelWarning)
        with open_index(store, progress) as index:
            entries = index.entries()
            sessions = index.sessions(entries)
    return entries, sessions, [str(w.message) for w in caught]


def assert_same(store: Path, progress: Recorder | None = None) -> list[SessionEntry]:
    """The index of ``store`` gives what a full read gives; returns the entries."""
    entries, sessions, said = indexed(store, progress)
    expected_entries, expected_sessions, expected_said = full_read(store)
    assert entries == expected_entries
    assert sessions == expected_sessions
    assert said == expected_said
    return entries


def trace_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in store_files(store))


# -- equal to a full read -------------------------------------------------------------------


def test_the_index_equals_a_full_read_with_sessions_cut_by_rotation(store: Path) -> None:
    files_of: dict[str, set[Path]] = defaultdict(set)
    for path in store_files(store):
        for span in read_spans(path):
            files_of[span.trace_id].add(path)
    assert len(store_files(store)) > 10
    assert sum(1 for files in files_of.values() if len(files) > 1) >= 5  # cut by rotation

    entries = assert_same(store)
    assert len(entries) == 120 + 8 + 2  # generated, boundary and undo sessions
    facts = [e.facts for e in entries]
    expected = [e.facts for e in full_read(store)[0]]
    assert daily_summaries(facts) == daily_summaries(expected)
    for period in PERIODS:
        assert project_summaries(facts, period) == project_summaries(expected, period)
    # The undo crosses sessions, and the records read through the index carry it.
    _, sessions, _ = indexed(store)
    (source,) = [s for s in sessions if s.id == "undo-source-1"]
    (later,) = [s for s in sessions if s.id == "undo-later-1"]
    assert source.operations[0].changes[0].undo_operation_id == later.operations[0].id
    # Records of a few sessions only, read through the index, are those of a full read.
    with open_index(store) as index:
        chosen = index.entries()[5:9]
        assert index.sessions(chosen) == [s for s in sessions if s.span_id in {
            e.span_id for e in chosen}]  # fmt: skip
        assert index.sessions([e for e in index.entries() if e.id == "undo-source-1"]) == [source]


def test_corrupt_lines_are_reported_as_the_reader_reports_them(store: Path) -> None:
    rotated = store_files(store)[3]
    lines = rotated.read_bytes().splitlines(keepends=True)
    rotated.write_bytes(lines[0] + b'{"resourceSpans": [{"scopeSpans": tru\n' + b"".join(lines[1:]))
    with (store / "traces.jsonl").open("ab") as f:
        f.write(b"[1, 2]\n\n   \n")
    _, _, said = indexed(store)
    assert len(said) == 2
    assert said[0].startswith(f"{rotated}:2: skipped a corrupt or truncated line")
    assert said[1].startswith(f"{store / 'traces.jsonl'}:")
    assert_same(store)  # again from the index: same warnings, same entries


# -- what is read again, and what is not ----------------------------------------------------


def test_an_unchanged_store_is_not_read_again_and_an_appended_one_only_in_part(
    store: Path,
) -> None:
    first = Recorder()
    assert_same(store, first)
    assert first.totals == [trace_bytes(store)]
    again = Recorder()
    assert_same(store, again)
    assert again.totals == []

    sizes = {p.stat().st_ino: p.stat().st_size for p in store_files(store)}
    write_sessions(store, 20, seed=2)  # appends, and rotates the live file by renaming it
    after = {p.stat().st_ino: p.stat().st_size for p in store_files(store)}
    appended = sum(size - sizes.get(ino, 0) for ino, size in after.items())
    more = Recorder()
    entries = assert_same(store, more)
    assert more.totals == [appended]
    assert {"undo-later-1", "undo-later-2"} <= {e.id for e in entries}


def test_files_that_changed_or_went_are_read_again(store: Path) -> None:
    assert_same(store)
    files = store_files(store)
    # Rewritten shorter: indexed again from its start.
    files[4].write_bytes(files[4].read_bytes().splitlines(keepends=True)[0])
    progress = Recorder()
    assert_same(store, progress)
    assert progress.totals == [files[4].stat().st_size]
    # Pruned, as the writer deletes the oldest files.
    files[0].unlink()
    assert_same(store)
    # Rewritten in place with the same size and time: the digests notice.
    target = files[6]
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[:40] = data[:40].replace(b'"resourceSpans"', b'"resourceXpans"')
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_size == st.st_size
    progress = Recorder()
    assert_same(store, progress)
    assert progress.totals == [st.st_size]


def test_a_rotation_keeps_what_was_indexed(store: Path) -> None:
    assert_same(store)
    live = store / "traces.jsonl"
    live.rename(store / rotated_name(TRACES_STEM, pid=99))
    progress = Recorder()
    assert_same(store, progress)
    assert progress.totals == []


def test_a_line_being_written_is_read_again_when_it_is_complete(store: Path, written: Path) -> None:
    live = store / "traces.jsonl"
    donor = store_files(written)[2].read_bytes().splitlines(keepends=True)[0]
    half = len(donor) // 2
    with live.open("ab") as f:
        f.write(donor[:half])
    _, _, said = indexed(store)
    assert len(said) == 1 and "skipped a corrupt or truncated line" in said[0]
    assert_same(store)
    with live.open("ab") as f:
        f.write(donor[half:])
    progress = Recorder()
    _, _, said = indexed(store, progress)
    assert said == []
    assert progress.totals == [len(donor)]
    assert_same(store)


def test_small_ranges_in_worker_processes(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many ranges (traces cut at every range's edge), scanned by worker processes."""
    monkeypatch.setattr(indexer, "CHUNK_BYTES", 1)  # one range per line
    monkeypatch.setattr(indexer, "POOL_MIN_BYTES", 0)
    assert_same(store)
    with sqlite3.connect(store / database.INDEX_NAME) as conn:
        (segments,) = conn.execute("SELECT COUNT(*) FROM segments").fetchone()
    assert segments > len(store_files(store)) + 10


def test_an_interrupted_build_resumes_where_it_stopped(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexer, "CHUNK_BYTES", 100_000)

    def interrupt(done: int, total: int) -> None:
        if done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        open_index(store, interrupt)
    progress = Recorder()
    assert_same(store, progress)
    assert 0 < progress.totals[0] < trace_bytes(store)


# -- two at once ----------------------------------------------------------------------------


def test_two_clis_at_once_agree_and_record_each_range_once(store: Path) -> None:
    script = Path(sys.executable).parent / "agent-otel"
    runs = [
        subprocess.Popen(
            [str(script), "--store", str(store), "sessions", "--json"],
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert outputs[0] == outputs[1]
    assert outputs[0][1] == b""
    with sqlite3.connect(store / database.INDEX_NAME) as conn:
        indexed_bytes = dict(
            conn.execute(
                "SELECT f.path, SUM(s.end_byte - s.first_byte) FROM segments s "
                "JOIN files f ON f.id = s.file_id GROUP BY f.id"
            ).fetchall()
        )
    assert indexed_bytes == {os.fspath(p): p.stat().st_size for p in store_files(store)}


# -- where the index lives, and when it cannot ----------------------------------------------


def test_a_damaged_index_is_rebuilt_with_one_warning(store: Path) -> None:
    (store / database.INDEX_NAME).write_bytes(b"this is not a database\n" * 200)
    entries, _, said = indexed(store)
    assert len(said) == 1 and "was damaged" in said[0]
    assert entries == full_read(store)[0]
    assert indexed(store)[2] == []


def test_an_index_from_another_version_is_rebuilt(store: Path) -> None:
    assert_same(store)
    with sqlite3.connect(store / database.INDEX_NAME) as conn:
        conn.execute("UPDATE meta SET value = '0.0.0' WHERE key = 'library'")
    progress = Recorder()
    assert_same(store, progress)
    assert progress.totals == [trace_bytes(store)]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    directory = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(directory))
    yield directory / "agent-otel" / "index"


def test_an_unwritable_store_keeps_its_index_in_the_cache_or_in_memory(
    store: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (store / database.INDEX_NAME).mkdir()  # the place is taken: nothing can be written there
    # A small store: read into memory each time, silently, and nothing written anywhere.
    assert_same(store)
    assert not cache.exists()
    # A large one: its index goes to the user's cache directory.
    monkeypatch.setattr(database, "CACHE_MIN_BYTES", 1)
    assert_same(store)
    assert [p.suffix for p in cache.iterdir() if p.suffix == ".sqlite"] == [".sqlite"]
    progress = Recorder()
    assert_same(store, progress)
    assert progress.totals == []
    # No usable cache either: one warning, and the same answers.
    blocked = cache.parent.parent.parent / "not-a-directory"
    blocked.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    entries, _, said = indexed(store)
    assert len(said) == 1 and said[0].startswith(f"cannot keep an index of {store}")
    assert entries == full_read(store)[0]


def test_a_single_file_of_any_name(store: Path, cache: Path, tmp_path: Path) -> None:
    collector = tmp_path / "collector-output.json"
    collector.write_bytes(b"".join(p.read_bytes() for p in store_files(store)))
    assert_same(collector)
    assert sorted(os.listdir(tmp_path)) == ["collector-output.json", "store"]
    assert not cache.exists()


def test_an_index_another_cli_updated_meanwhile(store: Path) -> None:
    """An index opened earlier answers for the store as it is now once another process has
    indexed newer files (it never mixes the two states)."""
    with open_index(store) as earlier:
        write_sessions(store, 10, seed=3)  # appends, and rotates the live file away
        with open_index(store) as later:
            assert later.entries() == full_read(store)[0]
        entries = earlier.entries()
        sessions = earlier.sessions(entries)
    expected_entries, expected_sessions, _ = full_read(store)
    assert entries == expected_entries
    assert sessions == expected_sessions


# -- the rows are those of the records, whatever the spans ----------------------------------
#
# The index computes its rows from skimmed spans (store.index.skim / rows) instead of full
# records. Hypothesis generates traces of spans that exercise every rule the records follow,
# encoded by the library's own OTLP JSON encoder, with attributes drawn from every name the
# library knows (so that a rule reading another attribute is exercised too).

ALL_NAMES = sorted(
    {v for v in vars(sc).values() if isinstance(v, str) and "." in v and "/" not in v}
    | {v for k, v in vars(usage).items() if k.isupper() and isinstance(v, str) and "." in v}
)
USAGE_NAMES = [
    sc.GEN_AI_USAGE_INPUT_TOKENS,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    usage.OPENLLMETRY_PROMPT_TOKENS,
    usage.OPENLLMETRY_COMPLETION_TOKENS,
    usage.OPENINFERENCE_TOKEN_COUNT_PROMPT,
    usage.OPENINFERENCE_TOKEN_COUNT_COMPLETION,
    sc.AGENT_USAGE_COST,
    usage.OPENINFERENCE_COST_TOTAL,
    sc.GEN_AI_REQUEST_MODEL,
    sc.GEN_AI_RESPONSE_MODEL,
    usage.OPENINFERENCE_MODEL_NAME,
    usage.OPENINFERENCE_SPAN_KIND,
    sc.GEN_AI_OPERATION_NAME,
]
SESSION_NAMES = [
    sc.SESSION_ID,
    sc.USER_ID,
    sc.GEN_AI_REQUEST_MODEL,
    sc.AGENT_SESSION_PROJECT,
    sc.AGENT_SESSION_WORKSPACE,
    sc.AGENT_SESSION_TOTAL_TOKENS,
    sc.AGENT_SESSION_TOTAL_COST,
    sc.AGENT_SESSION_OPERATION_COUNT,
]
WORDS = [
    "", "chat", "embeddings", "invoke_agent", "execute_tool", "LLM", "EMBEDDING", "AGENT",
    "CHAIN", "completed", "failed", "read", "write", "success", "blocked", "gpt-4o",
    "claude-haiku-4-5", "/home/alice/shop", "/home/alice/shop/", "/", "relative/dir", "s-1",
    "/home/alice/caf\udce9",  # an undecodable file name, as os.getcwd() gives it
]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(WORDS),
    st.integers(-3, 10**6),
    st.integers(2**62, 2**64),
    st.booleans(),
    st.floats(),  # NaN and infinities too
    st.lists(st.sampled_from(WORDS) | st.integers(0, 3), max_size=2).map(tuple),
)
ROLE_ATTRIBUTES = {
    "session": st.fixed_dictionaries(
        {sc.AGENT_SESSION_STATUS: VALUES},
        optional={name: VALUES for name in SESSION_NAMES},
    ),
    "operation": st.fixed_dictionaries(
        {sc.AGENT_OPERATION_TYPE: VALUES},
        optional={
            # An operation of a session whose span is not there stands in for it by its id.
            sc.SESSION_ID: st.sampled_from(["s-1", "s-2"]) | VALUES,
            **{name: VALUES for name in (sc.AGENT_OPERATION_STATUS, sc.USER_ID, *USAGE_NAMES)},
        },
    ),
    "call": st.dictionaries(st.sampled_from(USAGE_NAMES), VALUES, min_size=1, max_size=6),
    "other": st.just({}),
}
BASE_NS = 1_780_000_000 * 10**9
# Derandomized: CI runs the same examples every time; a failure prints its example.
MANY_EXAMPLES = settings(
    max_examples=400,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SOME_EXAMPLES = settings(MANY_EXAMPLES, max_examples=40)
RESOURCES = [Resource({"service.name": "agent"}), Resource({"service.name": "other"})]


@st.composite
def traces(draw: st.DrawFn) -> list[ReadableSpan]:
    """The spans of one to three traces, in one store order: sessions, operations and LLM
    calls (our names, OpenLLMetry's and OpenInference's; valid and invalid values) nested
    every which way, with spans whose parent is missing, ids used twice, parent cycles,
    starts within the same microsecond, spans without an end, change events and undo links."""
    spans = []
    for _ in range(draw(st.integers(1, 3))):
        trace_id = draw(st.integers(1, 2**128 - 1))
        count = draw(st.integers(1, 12))
        ids = draw(st.lists(st.integers(1, 2**64 - 1), min_size=count, max_size=count, unique=True))
        for index in range(count):
            role = draw(st.sampled_from(["session", "operation", "call", "call", "other"]))
            attributes = {
                **draw(st.dictionaries(st.sampled_from(ALL_NAMES), VALUES, max_size=3)),
                **draw(ROLE_ATTRIBUTES[role]),
            }
            # Mostly a tree (a parent that came before), sometimes not: no parent, a parent
            # not in the store, any span of the trace (cycles), an id used twice.
            span_id = ids[index]
            if index and draw(st.integers(0, 19)) == 7:
                span_id = draw(st.sampled_from(ids[:index]))
            parent: int | None = None
            kind = draw(st.integers(0, 9))
            if kind in (4, 5):
                parent = draw(st.integers(1, 2**64 - 1))
            elif kind == 6:
                parent = draw(st.sampled_from(ids))
            elif kind != 3 and index:
                parent = draw(st.sampled_from(ids[:index]))
            start = BASE_NS + draw(st.integers(0, 5000))
            events = []
            if draw(st.booleans()):
                change = {sc.AGENT_CHANGE_ID: f"c-{draw(st.integers(0, 3))}"}
                events.append(Event(sc.EVENT_AGENT_CHANGE, change, start + 1))
            links = []
            if draw(st.booleans()):
                undone = draw(st.sampled_from(["c-0", "c-1", 5, None]))
                link_attributes = {} if undone is None else {sc.AGENT_UNDO_CHANGE_ID: undone}
                links.append(Link(_context(trace_id, ids[0]), link_attributes))
            spans.append(
                ReadableSpan(
                    name=role,
                    context=_context(trace_id, span_id),
                    parent=None if parent is None else _context(trace_id, parent),
                    resource=draw(st.sampled_from(RESOURCES)),
                    attributes=attributes,
                    events=events,
                    links=links,
                    kind=draw(st.sampled_from(SpanKind)),
                    status=Status(draw(st.sampled_from(StatusCode)), None),
                    start_time=start,
                    end_time=draw(st.none() | st.integers(start, start + 10**12)),
                    instrumentation_scope=InstrumentationScope(draw(st.sampled_from("ab"))),
                )
            )
    return draw(st.permutations(spans))


def _context(trace_id: int, span_id: int) -> SpanContext:
    return SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(1))


@st.composite
def store_lines(draw: st.DrawFn) -> list[bytes]:
    """The spans of :func:`traces` cut into store lines."""
    spans = draw(traces())
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(spans) - 1)), max_size=4)))
    bounds = [0, *cuts, len(spans)]
    return [dumps_line(encode_spans(spans[a:b])) for a, b in itertools.pairwise(bounds) if b > a]


def records_rows(lines: list[bytes]) -> dict[str, list[EntryRow]]:
    """Each trace's rows as a full read makes them: records, then entry_from_session."""
    by_trace: dict[str, list[SpanData]] = defaultdict(list)
    for line in lines:
        for span in decode_line(line):
            by_trace[span.trace_id].append(span)
    return {
        trace_id: [entry_row(entry_from_session(s)) for s in sessions_from_spans(spans)]
        for trace_id, spans in by_trace.items()
    }


def skimmed_rows(lines: list[bytes]) -> dict[str, list[EntryRow]]:
    """Each trace's rows as the index makes them."""
    rows: dict[str, TraceRows] = {}
    for line in lines:
        for trace_id, found in skim_line(line).items():
            rows.setdefault(trace_id, TraceRows()).add(found.spans)
    return {trace_id: r.rows() for trace_id, r in rows.items()}


@MANY_EXAMPLES
@given(store_lines())
def test_the_rows_are_those_of_the_records(lines: list[bytes]) -> None:
    assert skimmed_rows(lines) == records_rows(lines)


def _span(
    trace_id: int, span_id: int, parent: int | None, start: int, **attributes: Any
) -> ReadableSpan:
    return ReadableSpan(
        name="span",
        context=_context(trace_id, span_id),
        parent=None if parent is None else _context(trace_id, parent),
        attributes={getattr(sc, key, key): value for key, value in attributes.items()},
        start_time=BASE_NS + start,
        end_time=BASE_NS + start + 5,
    )


def test_the_rows_of_traces_that_lack_their_session_spans() -> None:
    """Operations of a session whose span is missing (still running, or its process killed)
    stand for it, with the LLM calls under them; and the cases around that rule."""
    spent = {
        "GEN_AI_USAGE_INPUT_TOKENS": 10,
        "GEN_AI_USAGE_OUTPUT_TOKENS": 5,
        "AGENT_USAGE_COST": 0.25,
    }
    spans = [
        # Trace 1: two operations of a missing session 9 (the later one first), an LLM call
        # in one, another call right under the missing session, an operation of another
        # missing session (8), and one whose session id is not text.
        _span(1, 2, 9, 30, AGENT_OPERATION_TYPE="write", SESSION_ID="s-9", USER_ID="ann", **spent),
        _span(1, 3, 9, 20, AGENT_OPERATION_TYPE="read", SESSION_ID="s-9", **spent),
        _span(1, 4, 2, 31, GEN_AI_OPERATION_NAME="chat", GEN_AI_RESPONSE_MODEL="m", **spent),
        _span(1, 5, 9, 40, GEN_AI_OPERATION_NAME="chat", **spent),
        _span(1, 6, 8, 10, AGENT_OPERATION_TYPE="query", SESSION_ID="s-8"),
        _span(1, 7, 8, 11, AGENT_OPERATION_TYPE="query", SESSION_ID=8),
        # Trace 2: an operation that is its own parent; one whose session span comes later,
        # in another line; one of a missing session whose id a present session has.
        _span(2, 1, 1, 0, AGENT_OPERATION_TYPE="read", SESSION_ID="s-1"),
        _span(2, 2, 3, 1, AGENT_OPERATION_TYPE="read", SESSION_ID="s-3"),
        _span(2, 4, 5, 2, AGENT_OPERATION_TYPE="read", SESSION_ID="s-3"),
    ]
    later = [_span(2, 3, None, 0, AGENT_SESSION_STATUS="completed", SESSION_ID="s-3")]
    lines = [dumps_line(encode_spans(spans)), dumps_line(encode_spans(later))]
    expected = records_rows(lines)
    assert skimmed_rows(lines) == expected
    statuses = [json.loads(row[2])[2] for rows in expected.values() for row in rows]
    assert statuses == ["unknown", "unknown", "completed"]  # s-8, s-9; s-3 (s-1 owns itself)


@SOME_EXAMPLES
@given(store_lines(), st.integers(1, 3), st.integers(1, 4000), st.booleans())
def test_a_store_of_any_spans_is_indexed_as_it_is_read(
    lines: list[bytes], files: int, chunk: int, corrupt: bool
) -> None:
    """The same spans in a store of several files, indexed in ranges of ``chunk`` bytes (so
    that traces are cut across ranges and files), and with a truncated line among them."""
    if corrupt:
        lines.insert(len(lines) // 2, lines[0][: len(lines[0]) // 2] + b"\n")
    with tempfile.TemporaryDirectory() as directory:
        store = Path(directory)
        per_file = -(-len(lines) // files)
        for number in range(files):
            name = rotated_name(TRACES_STEM, now_ns=BASE_NS + number * 1000, pid=7)
            if number == files - 1:
                name = f"{TRACES_STEM}.jsonl"
            (store / name).write_bytes(b"".join(lines[number * per_file : (number + 1) * per_file]))
        with mock.patch.object(indexer, "CHUNK_BYTES", chunk):
            entries, sessions, said = indexed(store)
        expected_entries, expected_sessions, expected_said = full_read(store)
    # Rows and reprs rather than the objects: NaN, which the spans may hold, is unequal to
    # itself.
    assert [entry_row(e) for e in entries] == [entry_row(e) for e in expected_entries]
    assert [e.trace_id for e in entries] == [e.trace_id for e in expected_entries]
    assert repr(sessions) == repr(expected_sessions)
    assert said == expected_said


# -- lines are accepted and rejected as the reader does -------------------------------------

WRONG_VALUES: list[object] = [
    None, True, 0, -1, 7, 2**64, 1.5, float("inf"), "", "x", "12", "NaN", "f" * 32,
    "AAAAAAAAAAAAAAAAAAAAAA==", [], [1], {}, {"a": 1}, {"stringValue": "s"},
    {"intValue": "x"}, {"arrayValue": 3},
]  # fmt: skip


def _paths(node: object, path: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    """The path of every value inside a parsed JSON document."""
    if isinstance(node, dict):
        children: list[tuple[object, object]] = list(node.items())
    elif isinstance(node, list):
        children = list(enumerate(node))
    else:
        return
    for key, child in children:
        yield (*path, key)
        yield from _paths(child, (*path, key))


def _changed(document: Any, path: tuple[Any, ...], value: object) -> Any:
    copy = json.loads(json.dumps(document))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if value is _DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copy


_DELETE = object()


def _outcome(read: Any, line: bytes) -> tuple[object, ...]:
    try:
        return ("read", read(line))
    except reader.BAD_LINE_ERRORS as error:
        return ("rejected", type(error), str(error))


def _as_decoded(line: bytes) -> str:
    """What skim_line should give for a line, from the reader's decoding of it."""
    out: dict[str, tuple[int, list[SpanFields], list[str]]] = {}
    for position, span in enumerate(decode_line(line)):
        found = out.setdefault(span.trace_id, (position, [], []))
        found[1].append((span.span_id, span.parent_span_id, span.start_ns, span.end_ns,
                         span.attributes))  # fmt: skip
        for link in span.links:
            change_id = link.attributes.get(sc.AGENT_UNDO_CHANGE_ID)
            if isinstance(change_id, str):
                found[2].append(change_id)
    return repr(out)  # repr: NaN attributes compare equal


def _as_skimmed(line: bytes) -> str:
    return repr({t: (f.position, f.spans, f.undone) for t, f in skim_line(line).items()})


def _varied_line() -> bytes:
    """A line written by the library with every kind of span field: events, links, status,
    kinds, two resources and scopes, schema URLs."""
    trace_id, other = 0x5B8EFFF798038103D269B633813FC60C, 0x0AF7651916CD43DD8448EB211C80319C
    session = ReadableSpan(
        name=sc.SPAN_AGENT_SESSION,
        context=_context(trace_id, 1),
        resource=RESOURCES[0],
        attributes={sc.AGENT_SESSION_STATUS: "completed", sc.AGENT_SESSION_TOTAL_COST: 0.5},
        status=Status(StatusCode.ERROR, "gave up"),
        start_time=BASE_NS,
        end_time=BASE_NS + 9,
        instrumentation_scope=InstrumentationScope("agent_otel"),
    )
    operation = ReadableSpan(
        name=f"{sc.SPAN_AGENT_OPERATION} write",
        context=_context(trace_id, 2),
        parent=_context(trace_id, 1),
        resource=RESOURCES[0],
        attributes={sc.AGENT_OPERATION_TYPE: "write", sc.PROCESS_EXIT_CODE: 1},
        events=[Event(sc.EVENT_AGENT_CHANGE, {sc.AGENT_CHANGE_ID: "c-1"}, BASE_NS + 2)],
        links=[Link(_context(other, 3), {sc.AGENT_UNDO_CHANGE_ID: "c-0"})],
        start_time=BASE_NS + 1,
        end_time=BASE_NS + 3,
        instrumentation_scope=InstrumentationScope("agent_otel"),
    )
    call = ReadableSpan(
        name="chat",
        context=_context(other, 4),
        parent=_context(other, 3),
        resource=Resource({"service.name": "other"}, schema_url="https://example.com/r"),
        attributes={sc.GEN_AI_USAGE_INPUT_TOKENS: 3, "ratio": 0.25, "flags": (True, False)},
        kind=SpanKind.CLIENT,
        start_time=BASE_NS + 4,
        instrumentation_scope=InstrumentationScope("client", schema_url="https://example.com/s"),
    )
    return dumps_line(encode_spans([session, operation, call]))


def test_skimming_accepts_and_rejects_the_lines_the_reader_does() -> None:
    """Every value of a line, replaced by every kind of wrong value or removed: the skim
    reads what the reader reads, and rejects what it rejects with the same error, whether
    the line is laid out as the library writes it (read span by span) or otherwise."""
    line = _varied_line()
    assert _as_skimmed(line) == _as_decoded(line)
    assert skim._skim_written(line, None)  # as written: read span by span
    document = json.loads(line)
    outcomes: Counter[str] = Counter()
    for path in _paths(document):
        for value in [_DELETE, *WRONG_VALUES]:
            changed = _changed(document, path, value)
            for text in (json.dumps(changed, separators=(",", ":")), json.dumps(changed)):
                expected = _outcome(_as_decoded, text.encode())
                assert _outcome(_as_skimmed, text.encode()) == expected, text
                outcomes[str(expected[0])] += 1
    assert outcomes["read"] > 1000 and outcomes["rejected"] > 1000  # both kinds well covered


def test_skimming_a_line_reads_its_text_as_the_reader_does() -> None:
    """Every character of a line written by the library removed, or another put before it
    (whitespace, JSON punctuation, a letter): read span by span or whole, the skim gives
    what the reader gives, or the same error."""
    text = _varied_line().decode()
    edits = [text[:i] + text[i + 1 :] for i in range(len(text))] + [
        text[:i] + extra + text[i:] for i in range(len(text) + 1) for extra in ' \n,:]}{"x'
    ]
    for edited in edits:
        line = edited.encode()
        assert _outcome(_as_skimmed, line) == _outcome(_as_decoded, line), edited


# -- lookups by trace -----------------------------------------------------------------------


def test_lookups_by_trace_use_the_index_of_locations(store: Path) -> None:
    """Reading a few traces' lines (every full record, every trace cut across ranges) looks
    them up, rather than scanning the locations of every trace in the store."""
    assert_same(store)
    with sqlite3.connect(store / database.INDEX_NAME) as conn:
        conn.execute("CREATE TEMP TABLE wanted (trace_id TEXT PRIMARY KEY)")
        for query, parameters in ((indexer.SPLIT_TRACES, (1,)), (indexer.TRACE_LINES, ())):
            plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {query}",
                                                             parameters))  # fmt: skip
            assert "SEARCH l USING INDEX locations_by_trace" in plan, plan


def test_text_sqlite_cannot_hold_is_kept_exactly(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lone surrogates, which SQLite's UTF-8 cannot hold: in a project named after an
    undecodable directory name (as ``os.getcwd()`` gives it), in the ids of a damaged store,
    and in the name of the file itself; and a token count beyond 64 bits."""
    session = ReadableSpan(
        name=sc.SPAN_AGENT_SESSION,
        context=_context(1, 1),
        attributes={
            sc.AGENT_SESSION_STATUS: "completed",
            sc.AGENT_SESSION_WORKSPACE: "/home/alice/caf\udce9",
            sc.USER_ID: "al\udcefce",
            sc.AGENT_SESSION_TOTAL_TOKENS: 2**70,
        },
        start_time=BASE_NS,
        end_time=BASE_NS + 10,
    )
    operation = ReadableSpan(
        name=f"{sc.SPAN_AGENT_OPERATION} write",
        context=_context(1, 2),
        parent=_context(1, 1),
        attributes={sc.AGENT_OPERATION_TYPE: "write"},
        links=[Link(_context(1, 1), {sc.AGENT_UNDO_CHANGE_ID: "change"})],
        start_time=BASE_NS + 1,
        end_time=BASE_NS + 2,
    )
    document = json.loads(dumps_line(encode_spans([session, operation])))
    (spans,) = [s["spans"] for r in document["resourceSpans"] for s in r["scopeSpans"]]
    spans[0]["spanId"] = spans[1]["parentSpanId"] = "span\ud800"
    spans[1]["links"][0]["attributes"][0]["value"]["stringValue"] = "change\udcff"
    hostile = json.loads(json.dumps(document))
    for span in hostile["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        span["traceId"] = "trace\ud800"
    path = tmp_path / os.fsdecode(b"collector-\xff.json")
    path.write_bytes(json.dumps(document).encode() + b"\n" + json.dumps(hostile).encode() + b"\n")
    monkeypatch.setattr(database, "CACHE_MIN_BYTES", 1)  # an index on disk, in the cache
    entries = assert_same(path)
    assert {e.project for e in entries} == {"caf\udce9"}
    assert {e.trace_id for e in entries} == {f"{1:032x}", "trace\ud800"}
    assert {e.total_tokens for e in entries} == {2**70}
    progress = Recorder()
    assert_same(path, progress)  # again, from the index
    assert progress.totals == []
