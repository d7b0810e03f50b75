"""Keeping a store's index up to date, and answering from it.

**What is trusted.** Each store file is known by its identity (device and inode: a rotation
renames the live file, and its index moves with it) plus how many bytes of it are indexed,
its modification time and digests of the first and last 4 KiB of the indexed part. A file
that is longer now, with the same digests, has been appended to: only the new bytes are read
(that is how the live ``traces.jsonl`` is kept up to date). A file that is shorter, rewritten
in place (same size, other modification time) or whose digests differ is indexed again from
the start; a file that is gone is forgotten. A final line without its newline (a write in
progress, or a writer that crashed) is indexed on its own, and read again once the file grows.

**Traces split across files.** Rotation can cut a session in two, and its spans may sit in
several files, or in lines indexed at different times. Each indexed range records, per
trace, which lines hold its spans; when a trace turns up in a second range (or loses one),
all of its lines are read again and the trace's sessions are computed anew from the union,
in store order, as a full read computes them (:mod:`~agent_otel.store.index.rows`).

**Two CLIs at once.** Updates run under an exclusive ``flock`` on a lock file beside the
index, so a second CLI waits for the first instead of doing the same work; each step is one
SQLite transaction that first checks a generation counter, so that even without ``flock``
(some network file systems) an updater that finds the index changed under it starts over
instead of recording a range twice.

**First build.** A large store is cut into ranges of whole lines (:data:`CHUNK_BYTES`) that
worker processes read in parallel; the main process records their results in store order,
one transaction per range, so an interrupted build resumes where it stopped. Reading a range
is parsing its JSON, and little more: each line is skimmed for the few fields the rows need
(:mod:`~agent_otel.store.index.skim`) rather than decoded into spans and records.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import sqlite3
import sys
import warnings
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import BinaryIO

from agent_otel.errors import AgentOtelWarning
from agent_otel.records import AgentSession, sessions_from_spans
from agent_otel.spandata import SpanData
from agent_otel.store.reader import BAD_LINE_ERRORS, open_snapshot

from .bulk import without_gc
from .database import stored, unstored
from .entry import EntryRow, SessionEntry, entries_from_rows, entry_from_session, entry_row
from .rows import TraceRows
from .scan import FileChanged, FileRange, ScanResult, decode_line, read_exactly, scan
from .skim import SkimmedTrace, SpanFields, skim_line

if sys.platform != "win32":
    import fcntl

__all__ = ["CHUNK_BYTES", "POOL_MIN_BYTES", "Progress", "StaleIndex", "StoreIndex"]

Progress = Callable[[int, int], None]
"""Told (bytes done, bytes in all) while a store is being read; (0, total) first."""

CHUNK_BYTES = 32 * 1024 * 1024
"""Size of the ranges a file is indexed in: small enough to spread over processes and to
commit often, large enough that per-range overhead (a transaction, re-reading the lines of
traces cut at a range's edge) is noise."""

POOL_MIN_BYTES = 4 * CHUNK_BYTES
"""Below this much to read, starting worker processes costs more than it saves."""

# Lookups of the traces in the temporary table ``wanted``. It is joined as ``wanted CROSS
# JOIN locations`` because SQLite takes the left operand of a CROSS JOIN as the outer loop;
# left to choose, it scans every location (it cannot know that ``wanted`` is small).
SPLIT_TRACES = (
    "SELECT DISTINCT l.trace_id FROM wanted w CROSS JOIN locations l "
    "ON l.trace_id = w.trace_id WHERE l.segment_id != ?"
)
"""The wanted traces that have lines in other segments than the one given."""
TRACE_LINES = (
    "SELECT l.trace_id, l.segment_id, s.file_id, l.line_offset, l.length, l.position "
    "FROM wanted w CROSS JOIN locations l ON l.trace_id = w.trace_id "
    "JOIN segments s ON s.id = l.segment_id"
)
"""The lines of the wanted traces."""

_DIGEST_BYTES = 4096
_SEARCH_BYTES = 64 * 1024
_MAX_ATTEMPTS = 5
_SESSION_COLUMNS = "span_id, started_us, details"


class StaleIndex(Exception):
    """A line the index points at is not what it was when it was indexed (a file was
    rewritten in a way the size, time and digests did not reveal): rebuild the index."""


class _Conflict(Exception):
    """Another process changed the index since this one planned its update."""


@dataclass(frozen=True, slots=True)
class _File:
    """A store file as opened for this run."""

    rank: int
    path: Path
    handle: BinaryIO
    dev: int
    ino: int
    size: int
    mtime_ns: int

    def digests(self, size: int) -> tuple[bytes, bytes]:
        """Digests of the first and the last :data:`_DIGEST_BYTES` of ``[0, size)``."""
        head = read_exactly(self.handle, 0, min(size, _DIGEST_BYTES))
        tail_start = max(0, size - _DIGEST_BYTES)
        tail = read_exactly(self.handle, tail_start, size - tail_start)
        return _digest(head), _digest(tail)

    def read(self, offset: int, length: int) -> bytes:
        return read_exactly(self.handle, offset, length)


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


@dataclass(frozen=True, slots=True)
class _Work:
    """Bytes ``[start, file.size)`` of ``file`` to index; ``file_id`` None for a new file."""

    file: _File
    file_id: int | None
    start: int
    first_line: int


class StoreIndex:
    """The sessions of one store, answered from an index in ``conn``.

    Opened on a snapshot of the store's files (all opened at once, as the reader does, so a
    rotation meanwhile loses nothing); :meth:`refresh` brings the index up to date with it.
    """

    def __init__(self, store: Path, conn: sqlite3.Connection, lock_path: Path | None) -> None:
        self.store = store
        self._conn = conn
        self._lock_path = lock_path
        self._files: list[_File] = []
        self._by_id: dict[int, _File] = {}
        self._seen = -1
        """The index generation that :meth:`refresh` left, which the snapshot matches."""
        self._open_files()

    # -- the snapshot -----------------------------------------------------------------------

    def _open_files(self) -> None:
        files = []
        for rank, (path, handle) in enumerate(open_snapshot(self.store)):
            st = os.fstat(handle.fileno())
            identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            files.append(_File(rank, path, handle, *identity))
        self._files = files
        self._by_id = {}

    def _close_files(self) -> None:
        for f in self._files:
            f.handle.close()
        self._files = []

    def close(self) -> None:
        self._close_files()
        self._conn.close()

    def __enter__(self) -> StoreIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- updating ---------------------------------------------------------------------------

    def refresh(self, progress: Progress | None = None) -> None:
        """Index whatever the snapshot holds that the index does not (yet, or any more)."""
        with self._update_lock():
            for attempt in range(_MAX_ATTEMPTS):
                try:
                    self._refresh_once(progress)
                    self._seen = self._generation()
                    return
                except (FileChanged, _Conflict) as error:
                    if attempt == _MAX_ATTEMPTS - 1:
                        raise FileChanged(f"{self.store} kept changing while read") from error
                    self._close_files()
                    self._open_files()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """A read transaction on the state this object refreshed to.

        Another CLI may update the index at any time, perhaps to a newer state of the store
        (a file this object's snapshot does not have); then this object takes a new snapshot
        and refreshes first, so that what it reads always matches the files it holds open.
        """
        for _ in range(_MAX_ATTEMPTS):
            self._conn.execute("BEGIN")
            if self._generation() == self._seen:
                try:
                    yield
                finally:
                    self._conn.execute("COMMIT")
                return
            self._conn.execute("COMMIT")
            self._close_files()
            self._open_files()
            self.refresh()
        raise FileChanged(f"the index of {self.store} kept changing while read")

    @contextlib.contextmanager
    def _update_lock(self) -> Iterator[None]:
        if self._lock_path is None or sys.platform == "win32":
            yield
            return
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            # Without flock (some network file systems) the generation check still suffices.
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _generation(self) -> int:
        (value,) = self._conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(value)

    @contextlib.contextmanager
    def _step(self, generation: int) -> Iterator[int]:
        """One transaction of an update planned at ``generation``; yields the next one."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self._generation() != generation:
                raise _Conflict()
            yield generation + 1
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'generation'", (str(generation + 1),)
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _refresh_once(self, progress: Progress | None) -> None:
        conn = self._conn
        generation = self._generation()
        known = {
            (dev, ino): (file_id, path, size, mtime_ns, head, tail)
            for file_id, dev, ino, path, size, mtime_ns, head, tail in conn.execute(
                "SELECT id, dev, ino, path, size, mtime_ns, head, tail FROM files"
            )
        }
        work: list[_Work] = []
        drop_files: list[int] = []
        drop_segments: list[int] = []
        moved: list[tuple[str | bytes, int]] = []
        shortened: list[tuple[int, bytes, bytes, int]] = []
        for f in self._files:
            row = known.pop((f.dev, f.ino), None)
            if row is not None:
                file_id, path, size, mtime_ns, head, tail = row
                # Longer (appended to), or the same size and time; and the same bytes where
                # the digests look.
                plausible = f.size > size or (f.size == size and f.mtime_ns == mtime_ns)
                if plausible and f.digests(size) == (head, tail):
                    self._by_id[file_id] = f
                    if unstored(path) != os.fspath(f.path):
                        moved.append((stored(os.fspath(f.path)), file_id))
                    if f.size > size:
                        start, first_line, partial = self._resume_point(file_id, size)
                        if partial:
                            # What is indexed of the file now ends before that last line.
                            drop_segments.extend(partial)
                            shortened.append((start, *f.digests(start), file_id))
                        work.append(_Work(f, file_id, start, first_line))
                    continue
                drop_files.append(file_id)
            if f.size:
                work.append(_Work(f, None, 0, 1))
        drop_files.extend(row[0] for row in known.values())

        if drop_files or drop_segments or moved:
            with self._step(generation) as generation:
                conn.executemany("UPDATE files SET path = ? WHERE id = ?", moved)
                conn.executemany(
                    "UPDATE files SET size = ?, head = ?, tail = ? WHERE id = ?", shortened
                )
                segments = drop_segments + [
                    segment_id
                    for file_id in drop_files
                    for (segment_id,) in conn.execute(
                        "SELECT id FROM segments WHERE file_id = ?", (file_id,)
                    )
                ]
                affected = self._drop_segments(segments)
                conn.executemany("DELETE FROM files WHERE id = ?", [(i,) for i in drop_files])
                self._resolve(affected)
        if work:
            self._index(work, generation, progress)

    def _resume_point(self, file_id: int, size: int) -> tuple[int, int, list[int]]:
        """Where to go on indexing a file that grew: after its last complete line, dropping
        a last segment that ended without a newline (its line may have been completed)."""
        segments = self._conn.execute(
            "SELECT id, first_byte, first_line, newlines, complete FROM segments "
            "WHERE file_id = ? ORDER BY first_byte",
            (file_id,),
        ).fetchall()
        if segments and not segments[-1][4]:
            segment_id, first_byte, first_line, _, _ = segments[-1]
            return first_byte, first_line, [segment_id]
        return size, 1 + sum(segment[3] for segment in segments), []

    def _drop_segments(self, segments: Sequence[int]) -> set[str]:
        """Forget ``segments``; returns the traces that had lines in them."""
        conn = self._conn
        affected: set[str] = set()
        for segment_id in segments:
            affected.update(
                unstored(trace_id)
                for (trace_id,) in conn.execute(
                    "SELECT DISTINCT trace_id FROM locations WHERE segment_id = ?", (segment_id,)
                )
            )
            for table in ("locations", "undone", "bad_lines"):
                conn.execute(f"DELETE FROM {table} WHERE segment_id = ?", (segment_id,))
            conn.execute("DELETE FROM segments WHERE id = ?", (segment_id,))
        return affected

    def _index(self, work: list[_Work], generation: int, progress: Progress | None) -> None:
        plan = [(number, r) for number, w in enumerate(work) for r in _ranges(w.file, w.start)]
        total = sum(r.end - r.start for _, r in plan)
        done = 0
        if progress is not None:
            progress(0, total)
        file_ids = [w.file_id for w in work]
        first_lines = [w.first_line for w in work]
        with contextlib.closing(_scan_all([r for _, r in plan], total)) as results:
            for (number, target), result in zip(plan, results, strict=True):
                with self._step(generation) as generation:
                    file_id = self._record_file(work[number].file, file_ids[number], target.end)
                    file_ids[number] = file_id
                    result.first_line = first_lines[number]
                    first_lines[number] += result.newlines
                    self._record(file_id, result)
                done += target.end - target.start
                if progress is not None:
                    progress(done, total)

    def _record_file(self, f: _File, file_id: int | None, end: int) -> int:
        """Insert or update the file's row for ``[0, end)`` indexed; returns its id."""
        head, tail = f.digests(end)
        if file_id is None:
            cursor = self._conn.execute(
                "INSERT INTO files (dev, ino, path, size, mtime_ns, head, tail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (f.dev, f.ino, stored(os.fspath(f.path)), end, f.mtime_ns, head, tail),
            )
            assert cursor.lastrowid is not None
            file_id = cursor.lastrowid
        else:
            self._conn.execute(
                "UPDATE files SET path = ?, size = ?, mtime_ns = ?, head = ?, tail = ? "
                "WHERE id = ?",
                (stored(os.fspath(f.path)), end, f.mtime_ns, head, tail, file_id),
            )
        self._by_id[file_id] = f
        return file_id

    def _record(self, file_id: int, result: ScanResult) -> None:
        conn = self._conn
        target = result.range
        cursor = conn.execute(
            "INSERT INTO segments (file_id, first_byte, end_byte, first_line, newlines, complete) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (file_id, target.start, target.end, result.first_line, result.newlines,
             result.complete),
        )  # fmt: skip
        segment_id = cursor.lastrowid
        assert segment_id is not None
        conn.executemany(
            "INSERT INTO locations (trace_id, segment_id, line_offset, length, position) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (stored(part.trace_id), segment_id, offset, length, position)
                for part in result.parts
                for offset, length, position in part.lines
            ],
        )
        conn.executemany(
            "INSERT INTO undone (change_id, trace_id, segment_id) VALUES (?, ?, ?)",
            [
                (stored(change_id), stored(part.trace_id), segment_id)
                for part in result.parts
                for change_id in part.undone
            ],
        )
        conn.executemany(
            "INSERT INTO bad_lines (segment_id, line, message) VALUES (?, ?, ?)",
            [(segment_id, line, message) for line, message in result.bad_lines],
        )
        # Traces with lines in other segments too: their sessions are computed from all of
        # their lines. Asked in one statement (a range holds thousands of traces).
        split = self._elsewhere([part.trace_id for part in result.parts], segment_id)
        self._insert_sessions(
            [
                (part.trace_id, (segment_id, part.lines[0][0], part.lines[0][2]), part.rows)
                for part in result.parts
                if part.trace_id not in split
            ]
        )
        self._resolve(split)

    def _elsewhere(self, traces: Iterable[str], segment_id: int) -> set[str]:
        """Those of ``traces`` that have lines in other segments than ``segment_id``."""
        conn = self._conn
        self._want(traces)
        found = {unstored(trace_id) for (trace_id,) in conn.execute(SPLIT_TRACES, (segment_id,))}
        conn.execute("DELETE FROM wanted")
        return found

    def _want(self, traces: Iterable[str]) -> None:
        """Fill the temporary table ``wanted`` with ``traces`` (for :data:`SPLIT_TRACES` and
        :data:`TRACE_LINES`)."""
        conn = self._conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (trace_id TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM wanted")
        conn.executemany("INSERT OR IGNORE INTO wanted VALUES (?)", [(stored(t),) for t in traces])

    def _insert_sessions(
        self, traces: Iterable[tuple[str, tuple[int, int, int], Sequence[EntryRow]]]
    ) -> None:
        """Insert the rows of each (trace, where it first appears, rows)."""
        self._conn.executemany(
            "INSERT INTO sessions (trace_id, idx, first_segment, first_offset, first_position, "
            f"{_SESSION_COLUMNS}) VALUES ({', '.join('?' * 8)})",
            [
                (stored(trace_id), idx, *first, stored(span_id), started_us, details)
                for trace_id, first, rows in traces
                for idx, (span_id, started_us, details) in enumerate(rows)
            ],
        )

    def _resolve(self, traces: set[str]) -> None:
        """Compute the sessions of ``traces`` anew from all of their lines."""
        if not traces:
            return
        conn = self._conn
        conn.executemany("DELETE FROM sessions WHERE trace_id = ?", [(stored(t),) for t in traces])
        lines = self._lines_of(traces)
        by_trace: dict[str, list[tuple[_Line, int]]] = defaultdict(list)
        for line, positions in lines.items():
            for trace_id, position in positions:
                by_trace[trace_id].append((line, position))
        merged = []
        with without_gc():
            skimmed = {line: self._skim(line, traces) for line in lines}
            for trace_id, found in by_trace.items():
                found.sort(key=lambda item: self._line_order(item[0]))
                rows = TraceRows()
                for line, _ in found:
                    rows.add(self._spans(skimmed[line], trace_id, line))
                first, position = found[0]
                merged.append((trace_id, (first.segment_id, first.offset, position), rows.rows()))
        self._insert_sessions(merged)

    def _spans(
        self, skimmed: dict[str, SkimmedTrace], trace_id: str, line: _Line
    ) -> list[SpanFields]:
        """The spans of ``trace_id`` on an indexed line, which the index says it has."""
        found = skimmed.get(trace_id)
        if found is None:
            path = self._by_id[line.file_id].path
            raise StaleIndex(f"{path}: no spans of trace {trace_id} at byte {line.offset}")
        return found.spans

    def _lines_of(self, traces: Iterable[str]) -> dict[_Line, list[tuple[str, int]]]:
        """The lines that hold spans of ``traces``: line -> [(trace, position)]."""
        conn = self._conn
        self._want(traces)
        out: dict[_Line, list[tuple[str, int]]] = defaultdict(list)
        for trace_id, segment_id, file_id, offset, length, position in conn.execute(TRACE_LINES):
            out[_Line(file_id, segment_id, offset, length)].append((unstored(trace_id), position))
        conn.execute("DELETE FROM wanted")
        return out

    def _line_order(self, line: _Line) -> tuple[int, int]:
        return self._by_id[line.file_id].rank, line.offset

    def _skim(self, line: _Line, traces: set[str]) -> dict[str, SkimmedTrace]:
        """The spans of ``traces`` on an indexed line, read again (see :meth:`_decode`)."""
        raw = self._by_id[line.file_id].read(line.offset, line.length)
        try:
            return skim_line(raw, traces)
        except BAD_LINE_ERRORS as error:
            raise StaleIndex(f"{self._by_id[line.file_id].path}: {error}") from error

    def _decode(
        self, lines: Sequence[_Line], progress: Progress | None = None
    ) -> dict[_Line, list[SpanData]]:
        """Decode indexed lines again (they were good lines when indexed, and the digests
        vouch that they are unchanged)."""
        total = sum(line.length for line in lines)
        done = 0
        if progress is not None:
            progress(0, total)
        out = {}
        for line in lines:
            raw = self._by_id[line.file_id].read(line.offset, line.length)
            try:
                out[line] = decode_line(raw)
            except BAD_LINE_ERRORS as error:
                raise StaleIndex(f"{self._by_id[line.file_id].path}: {error}") from error
            done += line.length
            if progress is not None:
                progress(done, total)
        return out

    # -- answering --------------------------------------------------------------------------

    def entries(self) -> list[SessionEntry]:
        """Every session in the store, in the order a full read gives them (by start)."""
        with self._reading():
            rows = self._conn.execute(
                "SELECT s.trace_id, g.file_id, s.first_offset, s.first_position, s.idx, "
                f"{_SESSION_COLUMNS} FROM sessions s JOIN segments g ON g.id = s.first_segment"
            ).fetchall()
        rank = {file_id: f.rank for file_id, f in self._by_id.items()}
        # started_us, then where the trace first appears, then its order within the trace:
        # what the full read's stable sort by start over first-seen traces comes to.
        rows.sort(key=lambda r: (r[6], rank[r[1]], r[2], r[3], r[4]))
        return entries_from_rows([(unstored(r[0]), (unstored(r[5]), r[6], r[7])) for r in rows])

    def sessions(
        self, chosen: Sequence[SessionEntry], progress: Progress | None = None
    ) -> list[AgentSession]:
        """The full records of ``chosen``, in that order, read from their lines only.

        A change undone by an operation of another trace (``agent-otel undo`` runs its own
        session) gets its ``undo_operation_id`` as in a full read: the undoing traces are
        read too, and the records built from them all at once.
        """
        traces = {e.trace_id for e in chosen}
        built = self._build(traces, progress)
        changes = {c.id for s in built for op in s.operations for c in op.changes}
        with self._reading():
            undoers = self._undoers(changes) - traces
        if undoers:
            built = self._build(traces | undoers, progress)
        by_key: dict[tuple[str, str], list[AgentSession]] = defaultdict(list)
        for record in built:
            by_key[(record.trace_id, record.span_id)].append(record)
        out = []
        for entry in chosen:
            # A session can only be missing if another CLI found its file gone meanwhile.
            records = by_key.get((entry.trace_id, entry.span_id))
            if records:
                out.append(records.pop(_record_of(entry, records)))
        return out

    def _build(self, traces: set[str], progress: Progress | None) -> list[AgentSession]:
        with self._reading():
            lines = sorted(self._lines_of(traces), key=self._line_order)
        # Read outside the transaction: indexed bytes do not change, and the files are open.
        with without_gc():
            decoded = self._decode(lines, progress)
            return sessions_from_spans(
                s for line in lines for s in decoded[line] if s.trace_id in traces
            )

    def _undoers(self, change_ids: set[str]) -> set[str]:
        out: set[str] = set()
        ids = list(change_ids)
        for at in range(0, len(ids), 500):
            batch = [stored(change_id) for change_id in ids[at : at + 500]]
            out.update(
                unstored(trace_id)
                for (trace_id,) in self._conn.execute(
                    "SELECT DISTINCT trace_id FROM undone WHERE change_id IN "
                    f"({', '.join('?' * len(batch))})",
                    batch,
                )
            )
        return out

    def report_bad_lines(self) -> None:
        """Warn about each line that could not be read, in store order, as a full read
        would (one ``AgentOtelWarning`` per line, naming the file and line number)."""
        with self._reading():
            found = self._conn.execute(
                "SELECT g.file_id, g.first_line + b.line, b.message "
                "FROM bad_lines b JOIN segments g ON g.id = b.segment_id"
            ).fetchall()
        found.sort(key=lambda r: (self._by_id[r[0]].rank, r[1]))
        for file_id, lineno, message in found:
            warnings.warn(
                f"{self._by_id[file_id].path}:{lineno}: {message}", AgentOtelWarning, stacklevel=2
            )


def _record_of(entry: SessionEntry, records: list[AgentSession]) -> int:
    """Which of the records with the entry's trace and span id is the entry's. There is one,
    unless a damaged store holds two session spans with one id; then the first whose entry
    is this one."""
    if len(records) > 1:
        row = entry_row(entry)
        for number, record in enumerate(records):
            if entry_row(entry_from_session(record)) == row:
                return number
    return 0


@dataclass(frozen=True, slots=True)
class _Line:
    file_id: int
    segment_id: int
    offset: int
    length: int


def _ranges(f: _File, start: int) -> list[FileRange]:
    """``[start, f.size)`` of ``f`` cut into runs of whole lines of about
    :data:`CHUNK_BYTES`, with a last line that lacks its newline in a range of its own."""
    cuts = [start]
    at = start + CHUNK_BYTES
    while at < f.size:
        newline = _find_newline(f, at)
        if newline is None:
            break
        cuts.append(newline + 1)
        at = newline + 1 + CHUNK_BYTES
    end = f.size
    if end > cuts[-1] and f.read(end - 1, 1) != b"\n":
        last_newline = _find_last_newline(f, cuts[-1], end)
        if last_newline is not None:
            cuts.append(last_newline + 1)
    cuts.append(end)
    path = os.fspath(f.path)
    return [FileRange(path, f.dev, f.ino, a, b) for a, b in itertools.pairwise(cuts) if b > a]


def _find_newline(f: _File, at: int) -> int | None:
    """Offset of the first newline at or after ``at`` (before the snapshot's end)."""
    while at < f.size:
        window = f.read(at, min(_SEARCH_BYTES, f.size - at))
        found = window.find(b"\n")
        if found >= 0:
            return at + found
        at += len(window)
    return None


def _find_last_newline(f: _File, start: int, end: int) -> int | None:
    """Offset of the last newline in ``[start, end)``."""
    while end > start:
        at = max(start, end - _SEARCH_BYTES)
        found = f.read(at, end - at).rfind(b"\n")
        if found >= 0:
            return at + found
        end = at
    return None


def _scan_all(targets: list[FileRange], total: int) -> Generator[ScanResult, None, None]:
    """Scan ``targets``, in order; in worker processes when there is enough to read."""
    workers = min(os.cpu_count() or 1, len(targets))
    if total < POOL_MIN_BYTES or workers < 2:
        yield from map(scan, targets)
        return
    # spawn, not fork: the CLI may run inside an app whose threads hold locks.
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init)
    try:
        yield from pool.map(scan, targets)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _worker_init() -> None:
    """Workers leave Ctrl-C to the main process, which stops them."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
