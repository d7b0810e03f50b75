"""The session index answers exactly what a full read of the store answers.

Stores are written by the real library in another process (``index_writer.py``: small export
batches and a small rotation size, so sessions are cut across lines and files), then damaged,
appended to, rotated, rewritten and pruned the ways real stores are. After every step the
index (:func:`agent_otel.store.index.open_index`) must give the same entries, in the same
order, the same full records and the same warnings as reading every span with the reader.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_otel.errors import AgentOtelWarning
from agent_otel.records import AgentSession, sessions_from_spans
from agent_otel.store import read_spans, store_files
from agent_otel.store.index import SessionEntry, database, entry_from_session, indexer, open_index
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
