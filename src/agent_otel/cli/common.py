"""What every command shares: where the store is, reading sessions, finding one by id.

A command raises :class:`CliError` for anything the user has to fix; ``main`` prints it as
one line on stderr and exits with status 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from agent_otel.records import AgentSession, sessions_from_spans
from agent_otel.store import default_store_dir, read_spans, store_files

from .output import make_console

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
        if not store_files(self.store):
            raise CliError(
                f"no telemetry store at {self.store} (run an agent first, or pass --store)"
            )
        return sessions_from_spans(read_spans(self.store))


def find_sessions(sessions: list[AgentSession], query: str) -> list[AgentSession]:
    """The sessions whose id is ``query``, or else starts with it (a unique prefix).

    Usually one record; several when one session id was used by several runs (each is its
    own trace). An unknown or ambiguous ``query`` raises :class:`CliError`.
    """
    exact = [s for s in sessions if s.id == query]
    if exact:
        return exact
    matches = [s for s in sessions if s.id.startswith(query)]
    ids = list(dict.fromkeys(s.id for s in sorted(matches, key=lambda s: s.started_at)))
    if not ids:
        raise CliError(f"no session matches {query!r}")
    if len(ids) > 1:
        shown = ", ".join(ids[:MAX_CANDIDATES_SHOWN])
        more = len(ids) - MAX_CANDIDATES_SHOWN
        if more > 0:
            shown += f" and {more} more"
        raise CliError(f"{query!r} is ambiguous; it matches {len(ids)} sessions: {shown}")
    return matches
