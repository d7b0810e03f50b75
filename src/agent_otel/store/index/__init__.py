"""An index of the sessions in a store, so that listing and summarising do not re-read it.

Reading a store means parsing every span; at 100,000 sessions (about 2 million spans) that
takes minutes. The index keeps, beside the store, one row per session
(:class:`SessionEntry`: what ``agent-otel sessions`` and ``summary`` need) and where each
trace's spans are, and is brought up to date on every use by reading only what changed since
(see :mod:`.indexer` for what is trusted, and :mod:`.database` for where it lives). Its
answers are those of a full read — same sessions, same order, same facts — which the tests
check on stores written by the library, with rotation in the middle of sessions and corrupt
lines, and on generated spans of every shape. Full records are read back only for the
sessions asked for (:meth:`StoreIndex.sessions`).

    with open_index(path) as index:
        entries = index.entries()
        newest = index.sessions(entries[-10:])
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import warnings
from pathlib import Path

from agent_otel.errors import AgentOtelWarning
from agent_otel.store.reader import store_files

from . import database
from .database import connect, index_candidates, is_damaged, remove_database
from .entry import SessionEntry, entry_from_session
from .indexer import Progress, StaleIndex, StoreIndex
from .scan import FileChanged

__all__ = [
    "FileChanged",
    "Progress",
    "SessionEntry",
    "StoreIndex",
    "entry_from_session",
    "open_index",
]


def open_index(store: str | os.PathLike[str], progress: Progress | None = None) -> StoreIndex:
    """The up-to-date index of a store directory or OTLP JSON lines file; close it after use.

    Lines that cannot be read are reported as the reader reports them (one
    ``AgentOtelWarning`` each), on every call. An index that cannot be kept anywhere is kept
    in memory for this call; for a large store that is one warning, since every call will
    then read the whole store. A damaged index is rebuilt, with one warning.
    ``progress`` is told how far the reading has got. Raises :class:`FileChanged` if the
    store's files kept being replaced while they were read, ``OSError`` if they cannot be.
    """
    base = Path(store)
    size = _store_bytes(base)
    failures: list[str] = []
    for candidate in index_candidates(base, size):
        try:
            index = _open_fresh(base, candidate, progress)
        except (sqlite3.Error, OSError, StaleIndex) as error:
            if not (is_damaged(error) or isinstance(error, StaleIndex)):
                failures.append(f"{candidate}: {error}")
                continue
            try:
                remove_database(candidate)
                index = _open_fresh(base, candidate, progress)
            except (sqlite3.Error, OSError) as again:
                failures.append(f"{candidate}: {again}")
                continue
            warnings.warn(
                f"the index {candidate} was damaged ({error}); it has been rebuilt",
                AgentOtelWarning,
                stacklevel=2,
            )
        index.report_bad_lines()
        return index
    index = _open_fresh(base, None, progress)
    if failures and size >= database.CACHE_MIN_BYTES:
        warnings.warn(
            f"cannot keep an index of {base} ({failures[-1]}); the whole store is read each time",
            AgentOtelWarning,
            stacklevel=2,
        )
    index.report_bad_lines()
    return index


def _open_fresh(store: Path, database: Path | None, progress: Progress | None) -> StoreIndex:
    conn = connect(database)
    lock = None if database is None else database.with_name(database.name + ".lock")
    index = StoreIndex(store, conn, lock)
    try:
        index.refresh(progress)
    except BaseException:
        index.close()
        raise
    return index


def _store_bytes(store: Path) -> int:
    total = 0
    for path in store_files(store):
        with contextlib.suppress(FileNotFoundError):  # rotated away or pruned meanwhile
            total += path.stat().st_size
    return total
