"""``agent-otel summary``: the seed's DailySummary and ProjectSummary views of the store.

``--daily`` gives one row per UTC day and user, ``--project`` one row per project and day,
ISO week or month. The numbers come from :mod:`agent_otel.summaries`, the same code that
computes the views in-process, over the session facts kept by the store's index
(:mod:`agent_otel.store.index`), so a large store is not re-read; this module only prints.
Costs are shown to the cent here; ``--json`` has them unrounded.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from agent_otel import formatting as fmt
from agent_otel.facts import SessionFacts
from agent_otel.summaries import (
    DEFAULT_TOP,
    PERIODS,
    DailySummary,
    Period,
    ProjectSummary,
    daily_summaries,
    project_summaries,
)

from . import render
from .common import CliError, Context, indexed_store
from .output import to_jsonable
from .terminal import for_terminal

NAME = "summary"


_DATE_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}")
_T = TypeVar("_T")


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        NAME,
        parents=parents,
        help="daily or per-project summaries of the recorded sessions",
        description="Summarise the sessions in the store, either per UTC day and user "
        "(--daily) or per project and day, ISO week or month (--project). A session counts "
        "in the period in which it started. Success rate = success / (success + failed) "
        "operations; blocked and pending operations did not run.",
    )
    mode = parser.add_argument_group("view (exactly one)")
    mode.add_argument(
        "--daily", action="store_true", help="one row per UTC day and user (seed: DailySummary)"
    )
    mode.add_argument(
        "--project",
        action="store_true",
        help="one row per project and period (seed: ProjectSummary)",
    )
    daily = parser.add_argument_group("--daily options")
    daily.add_argument("--user", metavar="USER", help="only this user id")
    daily.add_argument("--date", metavar="YYYY-MM-DD", help="only this UTC day")
    project = parser.add_argument_group("--project options")
    project.add_argument(
        "--period",
        metavar="|".join(PERIODS),
        help="cut periods by UTC day (default), ISO week or calendar month",
    )
    project.add_argument(
        "--top",
        metavar="N",
        help=f"list the N costliest models and most frequent operation types "
        f"(default {DEFAULT_TOP})",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summaries as one JSON document"
    )
    parser.set_defaults(run=run)


# -- arguments ------------------------------------------------------------------------------


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` to a date; anything else is a :class:`CliError`."""
    if not _DATE_FORMAT.fullmatch(text.strip()):
        raise CliError(f"--date: expected a date as YYYY-MM-DD, got {text!r}")
    try:
        return date.fromisoformat(text.strip())
    except ValueError as error:
        raise CliError(f"--date: {text!r} is not a valid date ({error})") from None


def parse_period(text: str | None) -> Period:
    if text is None:
        return "day"
    for period in PERIODS:
        if text.strip().lower() == period:
            return period
    raise CliError(f"--period: expected one of {', '.join(PERIODS)}, got {text!r}")


def parse_top(text: str | None) -> int:
    if text is None:
        return DEFAULT_TOP
    try:
        value = int(text)
    except ValueError:
        raise CliError(f"--top: expected a whole number, got {text!r}") from None
    if value < 1:
        raise CliError(f"--top: must be at least 1, got {value}")
    return value


def _check_mode(args: argparse.Namespace) -> None:
    if args.daily == args.project:
        raise CliError("give exactly one of --daily or --project")
    misplaced = (
        [f"--{name}" for name in ("period", "top") if getattr(args, name) is not None]
        if args.daily
        else [f"--{name}" for name in ("user", "date") if getattr(args, name) is not None]
    )
    if misplaced:
        mode = "--project" if args.daily else "--daily"
        verb = "apply" if len(misplaced) > 1 else "applies"
        raise CliError(f"{' and '.join(misplaced)} only {verb} to {mode}")


# -- running --------------------------------------------------------------------------------


def run(args: argparse.Namespace, ctx: Context) -> int:
    _check_mode(args)
    console = ctx.console()
    if args.daily:
        day = None if args.date is None else parse_day(args.date)
        facts = load_facts(ctx)
        daily = daily_summaries(facts, user=args.user, day=day)
        if args.json:
            write_json(daily)
        elif daily:
            daily = for_terminal(daily)
            console.print(render.FastTable(daily_table(daily)))
            console.print(daily_footer(daily))
        else:
            console.print(Text(_nothing(facts, ctx)))
        return 0
    period = parse_period(args.period)
    top = parse_top(args.top)
    facts = load_facts(ctx)
    projects = project_summaries(facts, period, top=top)
    if args.json:
        write_json(projects)
    elif projects:
        projects = for_terminal(projects)
        console.print(project_table(projects))
        console.print(project_footer(projects, for_terminal(facts)))
    else:
        console.print(Text(_nothing(facts, ctx)))
    return 0


def load_facts(ctx: Context) -> list[SessionFacts]:
    """The facts of every session in the store, from its session index (kept up to date on
    every run; a progress bar on stderr while that takes a while, on a terminal only)."""
    with indexed_store(ctx) as index:
        return [entry.facts for entry in index.entries()]


def _nothing(facts: list[SessionFacts], ctx: Context) -> str:
    what = "No sessions match these filters" if facts else "No sessions recorded yet"
    return f"{what} (store: {ctx.store})."


def write_json(value: Any) -> None:
    """The summaries as one JSON document; dates as ``YYYY-MM-DD``, costs unrounded."""
    sys.stdout.write(
        json.dumps(to_jsonable(value), indent=2, default=_iso_date, allow_nan=False) + "\n"
    )


def _iso_date(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


# -- formatting -----------------------------------------------------------------------------


class Ranked:
    """``claude $1.20, gpt $0.40``: ranked entries, most first, on one line when the column
    is wide enough, otherwise wrapped between entries, never inside one; ``—`` for none."""

    SEPARATOR = ", "

    def __init__(self, entries: Sequence[str]) -> None:
        self.entries = list(entries) or [fmt.MISSING]

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        longest = max(cell_len(entry) for entry in self.entries) + 1  # and its comma
        one_line = cell_len(self.SEPARATOR.join(self.entries))
        return Measurement(min(longest, one_line), one_line).clamp(max_width=options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines: list[str] = []
        line = ""
        last = len(self.entries) - 1
        for number, entry in enumerate(self.entries):
            piece = entry + (self.SEPARATOR.rstrip() if number < last else "")
            joined = f"{line} {piece}" if line else piece
            if line and cell_len(joined) > options.max_width:
                lines.append(line)
                line = piece
            else:
                line = joined
        lines.append(line)
        yield Text("\n".join(lines), overflow="fold")


def ranked(items: Sequence[_T], text: Callable[[_T], str]) -> Ranked:
    return Ranked([text(item) for item in items])


def daily_table(rows: list[DailySummary]) -> Table:
    grid = Table(box=None, header_style="bold", pad_edge=False)
    grid.add_column("Day (UTC)", no_wrap=True)
    grid.add_column("User", overflow="fold")
    grid.add_column("Sessions", justify="right", no_wrap=True)
    grid.add_column("Operations", justify="right", no_wrap=True)
    grid.add_column("Tokens", justify="right", no_wrap=True)
    grid.add_column("Cost", justify="right", no_wrap=True)
    grid.add_column("Success", justify="right", no_wrap=True)
    grid.add_column("Blocked", justify="right", no_wrap=True)
    for row in rows:
        grid.add_row(
            Text(row.date.isoformat()),
            Text(fmt.or_missing(row.user_id)),
            Text(f"{row.session_count:,}"),
            Text(f"{row.operation_count:,}"),
            Text(fmt.tokens(row.total_tokens)),
            Text(fmt.dollars(row.total_cost)),
            Text(fmt.percent(row.success_rate)),
            Text(f"{row.blocked_operations:,}", style="yellow" if row.blocked_operations else ""),
        )
    return grid


def daily_footer(rows: list[DailySummary]) -> Text:
    days = len({row.date for row in rows})
    sessions = sum(row.session_count for row in rows)
    parts = [
        f"{days} day{'s' if days != 1 else ''}",
        f"{sessions:,} session{'s' if sessions != 1 else ''}",
        f"{sum(row.operation_count for row in rows):,} operations",
        f"{fmt.tokens(sum(row.total_tokens for row in rows))} tokens",
        fmt.dollars(math.fsum(row.total_cost for row in rows)),
    ]
    return Text(" · ".join(parts), style="dim")


def project_table(rows: list[ProjectSummary]) -> Table:
    grid = Table(box=None, header_style="bold", pad_edge=False)
    grid.add_column(f"{rows[0].period.capitalize()} (UTC)", no_wrap=True)
    grid.add_column("Project", overflow="fold")
    grid.add_column("Users", justify="right", no_wrap=True)
    grid.add_column("Cost", justify="right", no_wrap=True)
    grid.add_column("Top models", overflow="fold")
    grid.add_column("Top operations", overflow="fold")
    for row in rows:
        grid.add_row(
            row.period_label,
            Text(row.project_id),
            f"{row.active_users:,}",
            fmt.dollars(row.total_cost),
            ranked(row.top_models, lambda m: f"{m.model} {fmt.dollars(m.cost)}"),
            ranked(row.top_operations, lambda o: f"{o.type} {o.count:,}"),
        )
    return grid


def project_footer(rows: list[ProjectSummary], facts: list[SessionFacts]) -> Text:
    periods = len({row.period_start for row in rows})
    projects = len({row.project_id for row in rows})
    parts = [
        f"{periods} {rows[0].period}{'s' if periods != 1 else ''}",
        f"{projects} project{'s' if projects != 1 else ''}",
        f"{len(facts):,} session{'s' if len(facts) != 1 else ''}",
        fmt.dollars(math.fsum(row.total_cost for row in rows)),
    ]
    return Text(" · ".join(parts), style="dim")
