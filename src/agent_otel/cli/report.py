"""``agent-otel report``: sessions as one self-contained HTML file (see :mod:`agent_otel.report`).

Without session ids the report holds every session in the store, or those that ``--since``,
``--user``, ``--status`` and ``--limit`` select (as ``agent-otel sessions`` selects them). The
file is written whole or not at all (a temporary file renamed into place), readable only by
its owner like the store, since it may hold prompts and diffs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from agent_otel import semconv as sc
from agent_otel.records import AgentSession
from agent_otel.report import DEFAULT_TITLE, render_report
from agent_otel.summaries import DEFAULT_TOP, PERIODS

from .common import CliError, Context, find_sessions
from .sessions import parse_when, positive_int, select
from .summary import parse_period, parse_top

NAME = "report"

DEFAULT_OUTPUT = "agent-otel-report.html"


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        NAME,
        parents=parents,
        help="write the sessions as one self-contained HTML report",
        description="Write one HTML file that shows the sessions (newest first) with their "
        "timelines, operations, LLM calls, diffs, tokens and cost, and the daily, project and "
        "per-model summaries of those sessions as charts and tables. The file needs no network "
        "to view. Without SESSION_ID, every session in the store, or those the filters select.",
    )
    parser.add_argument(
        "session_ids",
        nargs="*",
        metavar="SESSION_ID",
        help="sessions to report (an id or a unique prefix each)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        default=DEFAULT_OUTPUT,
        help=f"the HTML file to write, '-' for stdout (default: {DEFAULT_OUTPUT})",
    )
    selection = parser.add_argument_group("selection, without SESSION_ID")
    selection.add_argument(
        "--since",
        metavar="WHEN",
        help="only sessions started on or after a UTC day (YYYY-MM-DD), or within an age "
        "(30m, 12h, 7d, 2w)",
    )
    selection.add_argument("--user", metavar="USER", help="only sessions of this user id")
    selection.add_argument(
        "--status", choices=sc.AGENT_SESSION_STATUS_VALUES, help="only sessions with this status"
    )
    selection.add_argument(
        "--limit", type=positive_int, metavar="N", help="at most N sessions (the newest)"
    )
    parser.add_argument(
        "--period",
        metavar="|".join(PERIODS),
        help="cut the project summary by UTC day (default), ISO week or calendar month",
    )
    parser.add_argument(
        "--top",
        metavar="N",
        help=f"models and operation types listed per project and period (default {DEFAULT_TOP})",
    )
    parser.add_argument("--title", metavar="TEXT", help="the report's title")
    parser.set_defaults(run=run)


def choose(args: argparse.Namespace, sessions: list[AgentSession]) -> list[AgentSession]:
    """The sessions named on the command line, or those the filters select."""
    if args.session_ids:
        filters = [
            f"--{name}" for name in ("since", "user", "status", "limit") if getattr(args, name)
        ]
        if filters:
            raise CliError(f"give session ids or {', '.join(filters)}, not both")
        return _unique(s for query in args.session_ids for s in find_sessions(sessions, query))
    if args.since is not None:
        since = parse_when(args.since, "--since", datetime.now(timezone.utc))
        sessions = [s for s in sessions if s.started_at >= since]
    return select(sessions, args.user, args.status, args.limit)


def _unique(sessions: Iterable[AgentSession]) -> list[AgentSession]:
    """Each session once, even when two ids given match it (a prefix and the full id)."""
    seen: dict[tuple[str, str], AgentSession] = {}
    for s in sessions:
        seen.setdefault((s.trace_id, s.span_id), s)
    return list(seen.values())


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, as a file only its owner can read; on
    failure nothing is left behind and an existing file is unchanged."""
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _size(count: int) -> str:
    return f"{count / 1024:,.0f} KB" if count >= 1024 else f"{count} bytes"


def run(args: argparse.Namespace, ctx: Context) -> int:
    period = parse_period(args.period)
    top = parse_top(args.top)
    everything = ctx.sessions()
    chosen = choose(args, everything)
    if not chosen:
        what = "no sessions match these filters" if everything else "no sessions recorded yet"
        raise CliError(f"{what} (store: {ctx.store}); no report written")
    html = render_report(
        chosen, period=period, top=top, title=args.title or DEFAULT_TITLE, source=str(ctx.store)
    )
    if args.output == "-":
        sys.stdout.write(html)
        return 0
    path = Path(args.output).expanduser()
    try:
        write_private(path, html)
    except OSError as error:
        raise CliError(f"cannot write the report to {path}: {error.strerror or error}") from None
    count = len(chosen)
    ctx.console().print(
        f"Wrote {path}: {count} session{'s' if count != 1 else ''}, "
        f"{_size(len(html.encode('utf-8')))}",
        markup=False,
        highlight=False,
    )
    return 0
