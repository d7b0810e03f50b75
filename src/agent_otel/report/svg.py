"""Charts as inline SVG, drawn here in Python: nothing to download when the report is opened.

Two kinds are enough for the summaries: stacked columns (a value per period, split by user or
project) and horizontal bars (a value per model). Coordinates are in the units of a fixed
``viewBox`` that the page scales to its width; colours and fonts come from the page's CSS
(series classes ``series-0`` … ``series-7``), so the charts follow the light and dark themes.
Every mark carries its exact value in ``data-value`` and a ``<title>`` for the tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .markup import Markup, element, join

PALETTE_SIZE = 8
"""Distinct series colours in the CSS; further series reuse them in order."""

WIDTH = 760
COLUMNS_HEIGHT = 260
ROW_HEIGHT = 26
LABEL_CHARS = 28
"""Longer model names are cut in the bar chart's labels (the tooltip has them whole)."""

Format = Callable[[float], str]


@dataclass(frozen=True)
class Column:
    """One stacked column: its x-axis label and its parts (series, value), bottom first."""

    label: str
    parts: tuple[tuple[str, float], ...]

    @property
    def total(self) -> float:
        return math.fsum(value for _, value in self.parts)


def ticks(maximum: float, count: int = 4) -> list[float]:
    """Round axis values from 0 to the first one at or above ``maximum``, about ``count``
    steps of 1, 2, 2.5 or 5 times a power of ten."""
    if not maximum > 0 or not math.isfinite(maximum):
        return [0.0]
    raw = maximum / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude * (1 + 1e-9))
    steps = max(1, math.ceil(maximum / step - 1e-9))
    return [i * step for i in range(steps + 1)]


def series_class(index: int) -> str:
    return f"series-{index % PALETTE_SIZE}"


def _num(value: float) -> str:
    """A coordinate, short: ``12.5``, ``40``."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def legend(series: Sequence[str]) -> Markup:
    """The series names with their colour swatches, as an HTML list under a chart."""
    return element(
        "ul",
        {"class": "legend"},
        (
            element(
                "li",
                None,
                element(
                    "svg",
                    {"class": "swatch", "viewBox": "0 0 10 10", "aria-hidden": "true"},
                    element("rect", {"class": series_class(i), "width": 10, "height": 10}),
                ),
                name,
            )
            for i, name in enumerate(series)
        ),
    )


def stacked_columns(
    columns: Sequence[Column], series: Sequence[str], value_format: Format, label: str
) -> Markup:
    """Columns of stacked values over a y axis from 0, one colour per series (in the order
    of ``series``), with a legend. ``label`` is the chart's accessible name."""
    left, right, top, bottom = 76.0, 40.0, 22.0, 40.0
    plot_w = WIDTH - left - right
    plot_h = COLUMNS_HEIGHT - top - bottom
    axis = ticks(max((c.total for c in columns), default=0.0))
    scale = plot_h / axis[-1] if axis[-1] > 0 else 0.0
    colour = {name: i for i, name in enumerate(series)}
    slot = plot_w / max(len(columns), 1)
    bar_w = min(slot * 0.72, 56.0)
    # Show every k-th x label so that labels (about 70 units wide) never overlap.
    every = max(1, math.ceil(len(columns) * 72 / plot_w))

    marks: list[Markup] = []
    for value in axis:
        y = top + plot_h - value * scale
        marks.append(
            element(
                "line",
                {
                    "class": "grid",
                    "x1": _num(left),
                    "x2": _num(WIDTH - right),
                    "y1": _num(y),
                    "y2": _num(y),
                },
            )
        )
        marks.append(
            element(
                "text",
                {"class": "tick", "x": _num(left - 8), "y": _num(y + 4), "text-anchor": "end"},
                value_format(value),
            )
        )
    for index, column in enumerate(columns):
        x = left + index * slot + (slot - bar_w) / 2
        base = top + plot_h
        parts: list[Markup] = []
        for name, value in column.parts:
            if value <= 0:
                continue
            height = value * scale
            base -= height
            parts.append(
                element(
                    "rect",
                    {
                        "class": series_class(colour[name]),
                        "x": _num(x),
                        "y": _num(base),
                        "width": _num(bar_w),
                        "height": _num(max(height, 0.5)),
                        "data-series": name,
                        "data-value": repr(value),
                    },
                    element("title", None, f"{column.label} · {name}: {value_format(value)}"),
                )
            )
        centre = x + bar_w / 2
        if len(columns) <= 16 and column.total > 0:
            parts.append(
                element(
                    "text",
                    {
                        "class": "total",
                        "x": _num(centre),
                        "y": _num(base - 5),
                        "text-anchor": "middle",
                    },
                    value_format(column.total),
                )
            )
        if index % every == 0:
            parts.append(
                element(
                    "text",
                    {
                        "class": "tick",
                        "x": _num(centre),
                        "y": _num(top + plot_h + 18),
                        "text-anchor": "middle",
                    },
                    column.label,
                )
            )
        marks.append(
            element(
                "g",
                {"class": "column", "data-label": column.label, "data-total": repr(column.total)},
                parts,
            )
        )
    marks.append(
        element(
            "line",
            {
                "class": "axis",
                "x1": _num(left),
                "x2": _num(WIDTH - right),
                "y1": _num(top + plot_h),
                "y2": _num(top + plot_h),
            },
        )
    )
    chart = element(
        "svg",
        {
            "class": "chart columns",
            "viewBox": f"0 0 {WIDTH} {COLUMNS_HEIGHT}",
            "role": "img",
            "aria-label": label,
        },
        marks,
    )
    return join([chart, legend(series)])


def horizontal_bars(rows: Sequence[tuple[str, float]], value_format: Format, label: str) -> Markup:
    """One bar per (name, value), longest first as given, the value written after it."""
    name_w, value_w, top = 220.0, 96.0, 4.0
    plot_w = WIDTH - name_w - value_w
    height = top * 2 + ROW_HEIGHT * max(len(rows), 1)
    largest = max((value for _, value in rows), default=0.0)
    scale = plot_w / largest if largest > 0 else 0.0
    marks: list[Markup] = []
    for index, (name, value) in enumerate(rows):
        y = top + index * ROW_HEIGHT
        shown = name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"
        width = max(value * scale, 1.0) if value > 0 else 0.0
        marks.append(
            element(
                "g",
                {"class": "bar-row", "data-label": name, "data-value": repr(value)},
                element("title", None, f"{name}: {value_format(value)}"),
                element(
                    "text",
                    {
                        "class": "tick",
                        "x": _num(name_w - 10),
                        "y": _num(y + 17),
                        "text-anchor": "end",
                    },
                    shown,
                ),
                element(
                    "rect",
                    {
                        "class": series_class(index),
                        "x": _num(name_w),
                        "y": _num(y + 5),
                        "width": _num(width),
                        "height": _num(ROW_HEIGHT - 10),
                        "rx": 2,
                    },
                ),
                element(
                    "text",
                    {"class": "value", "x": _num(name_w + width + 6), "y": _num(y + 17)},
                    value_format(value),
                ),
            )
        )
    return element(
        "svg",
        {
            "class": "chart bars",
            "viewBox": f"0 0 {WIDTH} {_num(height)}",
            "role": "img",
            "aria-label": label,
        },
        marks,
    )
