"""Data tables: sticky headers, numbers right-aligned, every number's exact value kept.

A numeric cell shows the number as the CLI formats it and keeps the unrounded value in
``data-value``, which the page's script sorts by (and which a program reading the report can
use). The page's script makes the headers of these tables sort them; without it they are
plain tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .markup import Child, Markup, element


@dataclass(frozen=True)
class Cell:
    content: Child
    value: str | None = None
    """The exact value behind a formatted number (``data-value``)."""
    numeric: bool = False


def number(text: str, value: float | None) -> Cell:
    """A right-aligned number: ``text`` shown, ``value`` kept exactly (None: not recorded)."""
    return Cell(text, "" if value is None else repr(value), numeric=True)


@dataclass(frozen=True)
class Column:
    title: str
    numeric: bool = False
    wrap: bool = False
    """Long free text (ids, projects, rankings) that may wrap anywhere; other columns keep
    each value on one line."""


def cell(content: Cell | Child, tag: str = "td", *, wrap: bool = False) -> Markup:
    """A ``<td>`` (or a row's ``<th>``) of plain content or of a :class:`Cell`."""
    scope = "row" if tag == "th" else None
    if not isinstance(content, Cell):
        return element(tag, {"class": "wrap" if wrap else None, "scope": scope}, content)
    return element(
        tag,
        {
            "class": "num" if content.numeric else "wrap" if wrap else None,
            "data-value": content.value,
            "scope": scope,
        },
        content.content,
    )


def table(
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell | Child]],
    *,
    label: str,
    kind: str,
) -> Markup:
    """A sortable table whose first cell in each row is the row's header. ``label`` is its
    accessible name, ``kind`` a class naming what it lists (``daily``, ``sessions`` …)."""
    body = element(
        "tbody",
        None,
        (
            element(
                "tr",
                None,
                (
                    cell(c, "th" if i == 0 else "td", wrap=column.wrap)
                    for i, (c, column) in enumerate(zip(row, columns, strict=True))
                ),
            )
            for row in rows
        ),
    )
    return element(
        "div",
        {"class": "table-wrap"},
        element(
            "table", {"class": f"data sortable {kind}", "aria-label": label}, header(columns), body
        ),
    )


def header(columns: Sequence[Column]) -> Markup:
    """The ``<thead>`` of a table with these columns."""
    return element(
        "thead",
        None,
        element(
            "tr",
            None,
            (
                element("th", {"scope": "col", "class": "num" if c.numeric else None}, c.title)
                for c in columns
            ),
        ),
    )
