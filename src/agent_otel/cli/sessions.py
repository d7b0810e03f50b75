"""``agent-otel sessions``: the sessions in the store, newest first, as a table."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table
from rich.text import Text

from agent_otel import semconv as sc
from agent_otel.records import AgentSession

from . import render
from .common import Context
from .output import write_json

NAME = "sessions"


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
        description="List the sessions in the store, newest first.",
    )
    parser.add_argument("--user", metavar="USER", help="only sessions of this user id")
    parser.add_argument(
        "--status",
        choices=sc.AGENT_SESSION_STATUS_VALUES,
        help="only sessions with this status",
    )
    parser.add_argument(
        "--limit", type=positive_int, metavar="N", help="show at most N sessions (the newest)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the sessions as one JSON document"
    )
    parser.set_defaults(run=run)


def select(
    sessions: list[AgentSession], user: str | None, status: str | None, limit: int | None
) -> list[AgentSession]:
    """The sessions that pass the filters, newest first, at most ``limit``."""
    chosen = [
        s
        for s in sessions
        if (user is None or s.user_id == user) and (status is None or s.status == status)
    ]
    chosen.sort(key=lambda s: s.started_at, reverse=True)
    return chosen[:limit] if limit is not None else chosen


def run(args: argparse.Namespace, ctx: Context) -> int:
    everything = ctx.sessions()
    chosen = select(everything, args.user, args.status, args.limit)
    if args.json:
        write_json(chosen)
        return 0
    console = ctx.console()
    if not chosen:
        what = "No sessions match these filters" if everything else "No sessions recorded yet"
        console.print(Text(f"{what} (store: {ctx.store})."))
        return 0
    console.print(table(chosen))
    console.print(footer(chosen, len(everything)))
    return 0


def table(sessions: list[AgentSession]) -> Table:
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
            Text(render.or_missing(s.user_id)),
            render.session_status(s.status),
            render.local_time(s.started_at),
            render.duration(s.duration_s),
            str(s.operation_count),
            render.tokens(s.total_tokens),
            render.cost(s.total_cost),
        )
    return grid


def footer(sessions: list[AgentSession], total: int) -> Text:
    count = len(sessions)
    parts = [
        f"{count} session{'s' if count != 1 else ''}"
        + (f" (of {total} in the store)" if total != count else ""),
        f"{sum(s.operation_count for s in sessions):,} operations",
        f"{render.tokens(sum(s.total_tokens for s in sessions))} tokens",
        render.cost(sum(s.total_cost for s in sessions)),
    ]
    failed = sum(1 for s in sessions if s.status == "failed")
    if failed:
        parts.append(f"{failed} failed")
    return Text(" · ".join(parts), style="dim")
