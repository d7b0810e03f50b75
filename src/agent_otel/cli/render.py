"""How the CLI writes numbers, times and statuses for people, in one place.

Every command formats durations, costs, token counts, timestamps and statuses the same way,
so a session reads identically in ``sessions``, ``show`` and whatever comes next.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

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


def session_status(status: str) -> Text:
    return Text(status or "unknown", style=SESSION_STATUS_STYLES.get(status, "magenta"))


def operation_status(status: str) -> Text:
    return Text(status or "unknown", style=OPERATION_STATUS_STYLES.get(status, "magenta"))


def diff(text: str) -> Syntax:
    """A unified diff, coloured on a terminal (removed lines red, added green)."""
    return Syntax(text, "diff", theme="ansi_dark", background_color="default", word_wrap=True)


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
