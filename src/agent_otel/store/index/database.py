"""Where a store's index lives, its SQLite schema, and what happens when it cannot be used.

Why SQLite (the standard library's ``sqlite3``): every change to the index is one
transaction, so a CLI killed half-way leaves the index as it was before that step, and two
CLIs can read and update the same index at once (their writes are serialised by SQLite's
lock; see :mod:`agent_otel.store.index.indexer` for how they avoid duplicate work).

Where: a store directory keeps its index inside itself (``index.sqlite``; the store's reader
only looks at ``traces*.jsonl``), private to the user like the store. When that directory is
not writable (someone else's store, a read-only mount) or the store is a single file (a
Collector's output, where a stranger's directory is no place for our files), the index goes
to the user's cache directory, named after the store's real path — but only for stores of at
least :data:`CACHE_MIN_BYTES`: below that, reading the whole store takes well under a second,
and an index in memory for this run is all it needs. If no place works, the index is kept in
memory for this run, with one warning (the answers are the same, only slower).

The index is only a cache of the store. Anything wrong with it — another schema, another
version of agent-otel, a damaged file — means it is rebuilt from the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import sys
from pathlib import Path

from agent_otel.store.paths import APP_DIR_NAME
from agent_otel.version import __version__

__all__ = [
    "CACHE_MIN_BYTES",
    "INDEX_NAME",
    "SCHEMA",
    "connect",
    "default_cache_dir",
    "index_candidates",
    "is_damaged",
    "remove_database",
    "stored",
    "unstored",
]

INDEX_NAME = "index.sqlite"
CACHE_MIN_BYTES = 16 * 1024 * 1024
"""Smallest store worth an index in the user's cache directory (see the module doc)."""

SCHEMA_VERSION = 2
"""Bumped whenever the tables or the meaning of a stored value change."""

_BUSY_TIMEOUT_S = 120.0
"""How long a statement waits for another CLI's transaction; each of those is short."""

_CACHE_KIB = 64 * 1024
"""SQLite's page cache per connection. A first build inserts locations and sessions in the
random order of their trace ids; with SQLite's default of 2 MiB, once the tables outgrow it,
most of those inserts read a page back from the file."""

_DIR_MODE = 0o700
_FILE_MODE = 0o600

SCHEMA = (
    # key 'library': the agent-otel version that wrote the entries; 'generation': bumped by
    # every change, so that an updater notices another one having changed the index.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # A store file, known by its identity (a rotation renames it), with how much of it is
    # indexed and digests of the first and last bytes of that part.
    """CREATE TABLE files (
        id INTEGER PRIMARY KEY, dev INTEGER NOT NULL, ino INTEGER NOT NULL, path TEXT NOT NULL,
        size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, head BLOB NOT NULL, tail BLOB NOT NULL,
        UNIQUE (dev, ino))""",
    # A run of whole lines of a file, indexed in one step.
    """CREATE TABLE segments (
        id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, first_byte INTEGER NOT NULL,
        end_byte INTEGER NOT NULL, first_line INTEGER NOT NULL, newlines INTEGER NOT NULL,
        complete INTEGER NOT NULL)""",
    "CREATE INDEX segments_by_file ON segments (file_id)",
    # The lines that hold spans of a trace.
    """CREATE TABLE locations (
        trace_id TEXT NOT NULL, segment_id INTEGER NOT NULL, line_offset INTEGER NOT NULL,
        length INTEGER NOT NULL, position INTEGER NOT NULL)""",
    "CREATE INDEX locations_by_trace ON locations (trace_id)",
    "CREATE INDEX locations_by_segment ON locations (segment_id)",
    # Changes that operations of a trace undo (their links), to complete full records.
    """CREATE TABLE undone (
        change_id TEXT NOT NULL, trace_id TEXT NOT NULL, segment_id INTEGER NOT NULL)""",
    "CREATE INDEX undone_by_change ON undone (change_id)",
    "CREATE INDEX undone_by_segment ON undone (segment_id)",
    # Lines that could not be read, reported again on every run as the reader would.
    """CREATE TABLE bad_lines (
        segment_id INTEGER NOT NULL, line INTEGER NOT NULL, message TEXT NOT NULL)""",
    "CREATE INDEX bad_lines_by_segment ON bad_lines (segment_id)",
    # One row per session (see entry.EntryRow), with where its trace first appears.
    """CREATE TABLE sessions (
        trace_id TEXT NOT NULL, idx INTEGER NOT NULL, first_segment INTEGER NOT NULL,
        first_offset INTEGER NOT NULL, first_position INTEGER NOT NULL,
        span_id TEXT NOT NULL, started_us INTEGER NOT NULL, details TEXT NOT NULL,
        PRIMARY KEY (trace_id, idx))""",
)


def default_cache_dir() -> Path:
    """The per-user cache directory of agent-otel (``$XDG_CACHE_HOME/agent-otel`` or
    ``~/.cache/agent-otel``; ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows)."""
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA", "").strip()
        base = Path(local) if local else Path.home() / "AppData" / "Local"
        return base / APP_DIR_NAME / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_DIR_NAME
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / APP_DIR_NAME
    return Path.home() / ".cache" / APP_DIR_NAME


def index_candidates(store: Path, store_bytes: int) -> list[Path]:
    """Where the index of ``store`` may live, in order of preference (see the module doc)."""
    candidates = [store / INDEX_NAME] if store.is_dir() else []
    if store_bytes >= CACHE_MIN_BYTES:
        key = hashlib.sha256(os.fsencode(os.path.realpath(store))).hexdigest()[:32]
        candidates.append(default_cache_dir() / "index" / f"{key}.sqlite")
    return candidates


def is_damaged(error: BaseException) -> bool:
    """Whether SQLite says the file is not a (healthy) database, as opposed to being locked,
    read-only or impossible to open."""
    return isinstance(error, sqlite3.DatabaseError) and not isinstance(
        error, sqlite3.OperationalError
    )


def connect(path: Path | None) -> sqlite3.Connection:
    """Open (creating if needed) the index at ``path``, or one in memory for ``None``, with
    the current schema. Raises ``sqlite3.Error`` or ``OSError`` if it cannot be used for
    writing, which the caller takes as "try the next place"."""
    if path is None:
        conn = sqlite3.connect(":memory:", isolation_level=None)
    else:
        if not path.parent.is_dir():
            os.makedirs(path.parent, mode=_DIR_MODE, exist_ok=True)
        # Create it private before SQLite does (SQLite gives its journal the same mode).
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), _FILE_MODE))
        conn = sqlite3.connect(os.fspath(path), timeout=_BUSY_TIMEOUT_S, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        _prepare(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(conn: sqlite3.Connection) -> None:
    """Create the schema, or recreate it when it was written by another schema or version.

    This takes the write lock once, which is also the test that the index is writable.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        library = None
        if version == SCHEMA_VERSION:
            row = conn.execute("SELECT value FROM meta WHERE key = 'library'").fetchone()
            library = row[0] if row else None
        if library != __version__:
            tables = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
            for (name,) in tables:
                conn.execute(f'DROP TABLE "{name}"')
            for statement in SCHEMA:
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [("library", __version__), ("generation", "0")],
            )
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def stored(text: str) -> str | bytes:
    """Text (an id, a file name) as the index keeps it: as it is, or, when it holds lone
    surrogates (an undecodable file name; an id in a damaged or hostile store), which SQLite's
    UTF-8 cannot hold, as its bytes with the surrogates kept. A blob never equals a text, so
    every text still has a value of its own. :func:`unstored` gives the text back."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")
    return text


def unstored(value: str | bytes) -> str:
    """The text that :func:`stored` gave ``value`` for."""
    return value if isinstance(value, str) else value.decode("utf-8", "surrogatepass")


def remove_database(path: Path) -> None:
    """Delete an index and its journals (to rebuild a damaged one)."""
    for name in (path.name, path.name + "-journal", path.name + "-wal", path.name + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path.with_name(name))
