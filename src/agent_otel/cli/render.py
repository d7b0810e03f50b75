"""How the CLI writes numbers, times and statuses for people, in one place.

Every command formats durations, costs, token counts, timestamps and statuses the same way,
so a session reads identically in ``sessions``, ``show`` and whatever comes next.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

MISSING = "—"
"""Shown where a value was not recorded."""

SHORT_ID_LENGTH = 8

SESSION_STATUS_STYLES = {
    "completed": "green",
    "failed": "bold red",
    "cancelled": "yellow",
    "paused": "yellow",
    "active": "cyan",
}

OPERATION_STATUS_STYLES = {
    "success": "green",
    "failed": "bold red",
    "blocked": "yellow",
    "pending": "cyan",
}


def duration(seconds: float | None) -> str:
    """``850ms``, ``12.3s``, ``4m05s``, ``2h03m``, ``3d04h``; ``—`` when unknown."""
    if seconds is None or math.isnan(seconds):
        return MISSING
    seconds = max(seconds, 0.0)
    if seconds < 1:
        ms = seconds * 1000
        return "<1ms" if 0 < ms < 0.5 else f"{ms:.0f}ms"
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    minutes = whole // 60
    if minutes < 24 * 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    hours = minutes // 60
    return f"{hours // 24}d{hours % 24:02d}h"


def cost(usd: float) -> str:
    """USD with 4 decimals; ``$0`` for nothing, ``<$0.0001`` for a cost too small to show."""
    if usd == 0 or math.isnan(usd):
        return "$0"
    if abs(usd) < 0.00005:
        return "<$0.0001"
    return f"${usd:.4f}"


def tokens(count: int) -> str:
    """A token count with thousands separators: ``12,345``."""
    return f"{count:,}"


def token_pair(input_tokens: int, output_tokens: int) -> str:
    """``1,200 in / 350 out``."""
    return f"{tokens(input_tokens)} in / {tokens(output_tokens)} out"


def local_time(moment: datetime | None, *, zone: bool = False) -> str:
    """A timestamp in the local time zone, to the second: ``2025-01-31 14:05:09``."""
    if moment is None:
        return MISSING
    local = moment.astimezone()
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text} {local.strftime('%Z')}".rstrip() if zone else text


def short_id(identifier: str | None) -> str:
    """The first characters of a span or change id, enough to tell them apart on screen."""
    return (identifier or "")[:SHORT_ID_LENGTH] or MISSING


def or_missing(value: object) -> str:
    return MISSING if value is None or value == "" else str(value)


def session_status(status: str) -> Text:
    return Text(status or "unknown", style=SESSION_STATUS_STYLES.get(status, "magenta"))


def operation_status(status: str) -> Text:
    return Text(status or "unknown", style=OPERATION_STATUS_STYLES.get(status, "magenta"))


def one_line(text: str, limit: int = 120) -> str:
    """The first line of ``text``, cut to ``limit`` characters, marked when anything was cut."""
    lines = text.strip().splitlines() or [""]
    first = lines[0]
    if len(first) > limit:
        return first[: limit - 1] + "…"
    return first + (" …" if len(lines) > 1 else "")


def diff(text: str) -> Syntax:
    """A unified diff, coloured on a terminal (removed lines red, added green)."""
    return Syntax(text, "diff", theme="ansi_dark", background_color="default", word_wrap=True)


def clock(moment: datetime | None) -> str:
    """The local time of day, to the second: ``14:05:09``."""
    return MISSING if moment is None else moment.astimezone().strftime("%H:%M:%S")


class FastTable:
    """A borderless table as the CLI draws them, printed in time linear in its rows.

    rich's ``Table`` lays out and renders every cell as a renderable of its own (about a
    millisecond per row), which makes a list of 100,000 sessions take minutes. When the table
    is a plain grid — no box, no edge padding, single-line text cells, left/right/centre
    justified — and its natural width fits, this prints the same lines rich would print (same
    widths, padding and cell styles) by padding the cells itself, as plain strings when no
    colour is written (a pipe, a file). Anything else is left to rich.
    """

    def __init__(self, table: Table) -> None:
        self.table = table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        rows = self._rows(console)
        if rows is None:
            yield self.table
            return
        widths = [max(cell_len(row[i].plain) for row in rows) for i in range(len(rows[0]))]
        if sum(widths) + 2 * (len(widths) - 1) > options.max_width:
            yield self.table
            return
        justify = [_JUSTIFY[column.justify] for column in self.table.columns]
        if console.color_system is None:
            newline = Segment.line()
            for row in rows:
                cells = []
                for width, before, cell in zip(widths, justify, row, strict=True):
                    pad = width - cell_len(cell.plain)
                    cells.append(" " * before(pad) + cell.plain + " " * (pad - before(pad)))
                yield Segment("  ".join(cells))
                yield newline
            return
        for row in rows:
            for index, (width, before, cell) in enumerate(zip(widths, justify, row, strict=True)):
                pad = width - cell_len(cell.plain)
                yield Segment(("  " if index else "") + " " * before(pad))
                if cell.spans:
                    yield from cell.render(console)
                else:  # render() would drop the style of a text without spans
                    yield Segment(cell.plain, console.get_style(cell.style) if cell.style else None)
                yield Segment(" " * (pad - before(pad)))
            yield Segment.line()

    def _rows(self, console: Console) -> list[list[Text]] | None:
        """The header (styled) and the rows as single-line texts; None if the table is not
        a plain grid of them."""
        table = self.table
        simple = (
            table.box is None
            and not table.pad_edge
            and table.padding == (0, 1, 0, 1)
            and not table.expand
            and not table.show_footer
            and table.title is None
            and table.caption is None
            and not table.row_styles
            and all(
                c.justify in _JUSTIFY and not c.style and not c.header_style for c in table.columns
            )
        )
        if not simple:
            return None
        columns = [[_as_text(console, cell) for cell in c.cells] for c in table.columns]
        if table.show_header:
            for column, spec in zip(columns, table.columns, strict=True):
                header = _as_text(console, spec.header)
                if header is not None:
                    header = header.copy()
                    header.stylize_before(table.header_style or "")
                column.insert(0, header)
        rows = [list(row) for row in zip(*columns, strict=True)]
        if not rows or any(cell is None for row in rows for cell in row):
            return None
        return rows


_JUSTIFY: dict[str, Callable[[int], int]] = {
    "left": lambda pad: 0,
    "right": lambda pad: pad,
    "center": lambda pad: pad // 2,
}
"""How many of a cell's padding spaces go before it, by the column's justification."""


def _as_text(console: Console, cell: object) -> Text | None:
    """A cell as a single line of Text, as rich would render it; None if it is not one."""
    if isinstance(cell, Text):
        text = cell
    elif isinstance(cell, str):
        # Only markup ("[") and emoji codes (":") can make rich show a string otherwise.
        plain = "[" not in cell and ":" not in cell
        text = Text(cell) if plain else console.render_str(cell, highlight=False)
    else:
        return None
    return None if "\n" in text.plain else text
