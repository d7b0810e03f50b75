"""What every command shares: where the store is, reading sessions, finding one by id.

A command raises :class:`CliError` for anything the user has to fix; ``main`` prints it as
one line on stderr and exits with status 1.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rich import progress as rich_progress
from rich.console import Console

from agent_otel.records import AgentSession, sessions_from_spans
from agent_otel.store import default_store_dir, read_spans, store_files
from agent_otel.store.index import FileChanged, Progress, StoreIndex, open_index

from .output import _is_tty, make_console

MAX_CANDIDATES_SHOWN = 10


class CliError(Exception):
    """An error the user can act on; its message is printed as one line."""


@dataclass(frozen=True)
class Context:
    """What a command runs against."""

    store: Path
    """A store directory or one OTLP JSON lines file."""

    @classmethod
    def from_option(cls, store: str | os.PathLike[str] | None) -> Context:
        path = Path(store).expanduser() if store is not None else default_store_dir()
        return cls(store=path)

    def console(self) -> Console:
        return make_console()

    def sessions(self) -> list[AgentSession]:
        """Every session in the store, oldest first. Corrupt lines are reported as warnings
        by the reader and skipped; a store that does not exist is an error."""
        self.require_store()
        return sessions_from_spans(read_spans(self.store))

    def require_store(self) -> list[Path]:
        """The store's trace files, oldest first; :class:`CliError` when there are none."""
        files = store_files(self.store)
        if not files:
            raise CliError(
                f"no telemetry store at {self.store} (run an agent first, or pass --store)"
            )
        return files


def find_sessions(sessions: list[AgentSession], query: str) -> list[AgentSession]:
    """The sessions whose id is ``query``, or else whose trace id is ``query`` (as Jaeger
    or Tempo shows it), or else whose id starts with it (a unique prefix).

    Usually one record; several when one session id was used by several runs (each is its
    own trace). An unknown or ambiguous ``query`` raises :class:`CliError`.
    """
    exact = [s for s in sessions if s.id == query]
    if exact:
        return exact
    trace_id = query.lower()
    by_trace = [s for s in sessions if s.trace_id == trace_id]
    if by_trace:
        return by_trace
    matches = [s for s in sessions if s.id.startswith(query)]
    check_unique(query, [s.id for s in sorted(matches, key=lambda s: s.started_at)], "session")
    return matches


def check_unique(query: str, ids: list[str], noun: str) -> None:
    """Raise :class:`CliError` unless ``ids`` (the ids that ``query`` matched, oldest first,
    repeats allowed) name exactly one ``noun``; an ambiguous query lists the candidates."""
    distinct = list(dict.fromkeys(ids))
    if not distinct:
        raise CliError(f"no {noun} matches {query!r}")
    if len(distinct) > 1:
        shown = ", ".join(distinct[:MAX_CANDIDATES_SHOWN])
        more = len(distinct) - MAX_CANDIDATES_SHOWN
        if more > 0:
            shown += f" and {more} more"
        raise CliError(f"{query!r} is ambiguous; it matches {len(distinct)} {noun}s: {shown}")


# -- the session index and progress (for sessions and summary) ------------------------------

PROGRESS_MIN_BYTES = 4 * 1024 * 1024
"""Reading less than this is over before a progress bar would be worth drawing."""


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Progress | None]:
    """A progress callback that draws a bar on stderr, or ``None`` when stderr is not a
    terminal (pipes and logs get no bar). The bar appears only once the work turns out to be
    large, and is gone when the block ends, so the output that follows stands alone."""
    if not _is_tty(sys.stderr):
        yield None
        return
    bar: rich_progress.Progress | None = None
    task: rich_progress.TaskID | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar, task
        if bar is None:
            if total < PROGRESS_MIN_BYTES:
                return
            bar = rich_progress.Progress(
                rich_progress.TextColumn("{task.description}"),
                rich_progress.BarColumn(),
                rich_progress.DownloadColumn(),
                rich_progress.TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            bar.start()
            task = bar.add_task(description, total=total)
        assert task is not None
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if bar is not None:
            bar.stop()


@contextlib.contextmanager
def indexed_store(ctx: Context) -> Iterator[StoreIndex]:
    """The store's session index, brought up to date (see :mod:`agent_otel.store.index`),
    with a progress bar while that takes a while. A store that does not exist, or whose files
    cannot be read, is a :class:`CliError`; a corrupt line is a warning, as with a full read."""
    ctx.require_store()
    with progress_bar(f"Indexing {ctx.store}") as progress:
        try:
            index = open_index(ctx.store, progress)
        except FileChanged:
            raise CliError(
                f"the files of {ctx.store} kept being replaced while they were read; try again"
            ) from None
        except OSError as error:
            raise CliError(f"cannot read {ctx.store}: {error}") from None
    try:
        yield index
    finally:
        index.close()
