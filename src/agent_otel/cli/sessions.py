"""``agent-otel sessions``: the sessions in the store as a table, filtered and sorted.

The list comes from the store's session index (:mod:`agent_otel.store.index`), so it takes
about the same time whether the store holds a hundred sessions or a hundred thousand; only
``--json``, which prints the full records (operations, LLM calls, changes), reads the spans
of the sessions it prints.

Times given to ``--since`` and ``--until`` are UTC, like the days of ``agent-otel summary``:
a day (``2026-11-30``: from its first moment, or through its last), an ISO 8601 time
(``2026-11-30T14:00``, an offset such as ``+01:00`` or ``Z`` is honoured) or an age
(``90m``, ``12h``, ``7d``, ``2w``: that long before now).
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

from rich.table import Table
from rich.text import Text

from agent_otel import formatting as fmt
from agent_otel import semconv as sc
from agent_otel.store.index import SessionEntry
from agent_otel.store.index.bulk import without_gc

from . import render
from .common import CliError, Context, indexed_store, progress_bar
from .output import write_json
from .terminal import for_terminal

NAME = "sessions"

SORT_KEYS = ("start", "cost", "tokens", "duration")
"""What ``--sort`` accepts; every key sorts the most (newest, costliest, ...) first."""

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_AGE = re.compile(r"(\d+)\s*([mhdw])")
_AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MICROSECOND = timedelta(microseconds=1)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        NAME,
        parents=parents,
        help="list the recorded sessions, newest first",
        description="List the sessions in the store, newest first (or by --sort). Times for "
        "--since and --until are UTC: a day (YYYY-MM-DD), an ISO 8601 time "
        "(2026-11-30T14:00, offsets honoured) or an age before now (90m, 12h, 7d, 2w).",
    )
    filters = parser.add_argument_group("filters")
    filters.add_argument("--user", metavar="USER", help="only sessions of this user id")
    filters.add_argument(
        "--status",
        choices=sc.AGENT_SESSION_STATUS_VALUES,
        help="only sessions with this status",
    )
    filters.add_argument(
        "--project", metavar="PROJECT", help="only sessions of this project (as in summary)"
    )
    filters.add_argument(
        "--model",
        metavar="MODEL",
        help="only sessions with this model: the session's, or that of one of its LLM calls",
    )
    filters.add_argument("--since", metavar="WHEN", help="only sessions started at or after WHEN")
    filters.add_argument(
        "--until",
        metavar="WHEN",
        help="only sessions started at or before WHEN (a day: through it)",
    )
    order = parser.add_argument_group("order")
    order.add_argument(
        "--sort",
        choices=SORT_KEYS,
        default="start",
        help="newest, costliest, most tokens or longest first (default: start)",
    )
    order.add_argument(
        "--reverse",
        action="store_true",
        help="the other way round (oldest, cheapest, ... first); unknown durations stay last",
    )
    order.add_argument(
        "--limit", type=positive_int, metavar="N", help="show at most N sessions (the first N)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the sessions' full records as one JSON document"
    )
    parser.set_defaults(run=run)


# -- arguments ------------------------------------------------------------------------------


def parse_when(text: str, option: str, now: datetime, *, through_day: bool = False) -> datetime:
    """A moment from ``--since``/``--until`` (see the module doc), as an aware UTC datetime.

    A day is its first moment, or with ``through_day`` the first moment of the next day
    (for a bound that excludes it). Anything else is a :class:`CliError`.
    """
    value = text.strip()
    age = _AGE.fullmatch(value.lower())
    if age:
        return now - timedelta(**{_AGE_UNITS[age.group(2)]: int(age.group(1))})
    try:
        if _DAY.fullmatch(value):
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            return start + timedelta(days=1) if through_day else start
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as error:
        raise CliError(
            f"{option}: {text!r} is not a day (YYYY-MM-DD), an ISO 8601 time or an age such "
            f"as 12h, 7d or 2w ({error})"
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


@dataclass(frozen=True, slots=True)
class Filters:
    """Which sessions to keep; ``None`` keeps all. ``since`` is inclusive, ``before``
    exclusive."""

    user: str | None = None
    status: str | None = None
    project: str | None = None
    model: str | None = None
    since: datetime | None = None
    before: datetime | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace, now: datetime) -> Filters:
        since = None if args.since is None else parse_when(args.since, "--since", now)
        before = None
        if args.until is not None:
            until = parse_when(args.until, "--until", now, through_day=True)
            # A day already ends before the next one; a moment is included itself, and
            # records are exact to the microsecond.
            before = until if _DAY.fullmatch(args.until.strip()) else until + _MICROSECOND
        if since is not None and before is not None and since >= before:
            raise CliError(f"--since {args.since} is not before --until {args.until}")
        return cls(args.user, args.status, args.project, args.model, since, before)

    def keep(self, entry: SessionEntry) -> bool:
        return (
            (self.user is None or entry.user_id == self.user)
            and (self.status is None or entry.status == self.status)
            and (self.project is None or entry.project == self.project)
            and (self.model is None or self.model in entry.models)
            and (self.since is None or entry.started_at >= self.since)
            and (self.before is None or entry.started_at < self.before)
        )


# -- choosing -------------------------------------------------------------------------------


class Listed(Protocol):
    """What :func:`select` needs of a session: full records and index entries both fit."""

    @property
    def user_id(self) -> str | None: ...

    @property
    def status(self) -> str: ...

    @property
    def started_at(self) -> datetime: ...


_L = TypeVar("_L", bound=Listed)

_SORT_VALUE: dict[str, Callable[[SessionEntry], float | None]] = {
    "cost": lambda e: e.total_cost,
    "tokens": lambda e: e.total_tokens,
    "duration": lambda e: e.duration_s,
}


def newest_first(sessions: Sequence[_L]) -> list[_L]:
    """By start, newest first; sessions that started at the same moment keep their order."""
    return sorted(sessions, key=lambda s: s.started_at, reverse=True)


def select(
    sessions: Sequence[_L], user: str | None, status: str | None, limit: int | None
) -> list[_L]:
    """The sessions of ``user`` with ``status`` (``None``: any), newest first, at most
    ``limit``."""
    chosen = newest_first(
        [
            s
            for s in sessions
            if (user is None or s.user_id == user) and (status is None or s.status == status)
        ]
    )
    return chosen[:limit] if limit is not None else chosen


def choose(
    entries: Sequence[SessionEntry],
    filters: Filters,
    sort: str = "start",
    *,
    reverse: bool = False,
    limit: int | None = None,
) -> list[SessionEntry]:
    """The entries that pass ``filters``, ordered by ``sort`` (most first, or least first
    with ``reverse``; ties newest first, sessions without a known value last), at most
    ``limit``."""
    kept = newest_first([e for e in entries if filters.keep(e)])
    if sort == "start":
        ordered = kept[::-1] if reverse else kept
    else:
        value = _SORT_VALUE[sort]
        known = [e for e in kept if _known(value(e))]
        unknown = [e for e in kept if not _known(value(e))]
        # Python's sort is stable in both directions, so ties stay newest first.
        ordered = sorted(known, key=lambda e: value(e) or 0.0, reverse=not reverse) + unknown
    return ordered[:limit] if limit is not None else ordered


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


# -- running --------------------------------------------------------------------------------


def run(args: argparse.Namespace, ctx: Context) -> int:
    filters = Filters.from_args(args, datetime.now(timezone.utc))
    with indexed_store(ctx) as index:
        everything = index.entries()
        chosen = choose(everything, filters, args.sort, reverse=args.reverse, limit=args.limit)
        if args.json:
            with progress_bar("Reading sessions") as progress:
                write_json(index.sessions(chosen, progress))
            return 0
    chosen = for_terminal(chosen)
    console = ctx.console()
    if not chosen:
        what = "No sessions match these filters" if everything else "No sessions recorded yet"
        console.print(Text(f"{what} (store: {ctx.store})."))
        return 0
    with without_gc():  # a row is 8 small objects, and there may be 100,000 rows
        console.print(render.FastTable(table(chosen)))
    console.print(footer(chosen, len(everything)))
    return 0


def table(sessions: Sequence[SessionEntry]) -> Table:
    """The sessions as a table; cells are Text (never markup), so that
    :class:`~agent_otel.cli.render.FastTable` can print many rows quickly."""
    grid = Table(box=None, header_style="bold", pad_edge=False)
    grid.add_column("ID", no_wrap=True, overflow="fold")
    grid.add_column("User", overflow="fold")
    grid.add_column("Status", no_wrap=True)
    grid.add_column("Start", no_wrap=True)
    grid.add_column("Duration", justify="right", no_wrap=True)
    grid.add_column("Operations", justify="right", no_wrap=True)
    grid.add_column("Tokens", justify="right", no_wrap=True)
    grid.add_column("Cost", justify="right", no_wrap=True)
    for s in sessions:
        grid.add_row(
            Text(s.id),
            Text(fmt.or_missing(s.user_id)),
            render.session_status(s.status),
            Text(fmt.local_time(s.started_at)),
            Text(fmt.duration(s.duration_s)),
            Text(str(s.operation_count)),
            Text(fmt.tokens(s.total_tokens)),
            Text(fmt.cost(s.total_cost)),
        )
    return grid


def footer(sessions: Sequence[SessionEntry], total: int) -> Text:
    count = len(sessions)
    parts = [
        f"{count:,} session{'s' if count != 1 else ''}"
        + (f" (of {total:,} in the store)" if total != count else ""),
        f"{sum(s.operation_count for s in sessions):,} operations",
        f"{fmt.tokens(sum(s.total_tokens for s in sessions))} tokens",
        fmt.cost(math.fsum(s.total_cost for s in sessions)),
    ]
    failed = sum(1 for s in sessions if s.status == "failed")
    if failed:
        parts.append(f"{failed:,} failed")
    return Text(" · ".join(parts), style="dim")
