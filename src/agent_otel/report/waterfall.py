"""A session's timeline ("waterfall"): the session, its operations and their LLM calls as bars
placed by start time and duration on one time axis.

:func:`lanes` computes the geometry — each bar's offset and length as fractions of the
session's time window — and :func:`waterfall` draws it. Bars are SVG rectangles whose
``x``/``width`` are percentages of the track, so the page needs no inline styles (its
Content-Security-Policy allows none) and the drawing scales with the window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from agent_otel import formatting as fmt
from agent_otel.records import AgentOperation, AgentSession, LLMCall

from . import status
from .markup import Markup, element
from .svg import ticks

MIN_BAR_PERCENT = 0.25
"""Shortest bar drawn, so that an instant operation is still visible (and hoverable)."""

_TINY_WINDOW_S = 1e-6


@dataclass(frozen=True)
class Lane:
    """One row of the timeline."""

    kind: str
    """``session``, ``operation`` or ``llm``."""
    depth: int
    span_id: str
    name: str
    target: str | None
    status: str
    tone: str
    offset: float
    """Start, as a fraction of the session's window (0 = the session's start)."""
    length: float | None
    """Duration as a fraction of the window; None when the span has no end."""
    duration_s: float | None
    usage: str
    """Tokens and cost, for the tooltip; empty when there were none."""


def _end(start: datetime, duration_s: float | None) -> datetime | None:
    return None if duration_s is None else start + timedelta(seconds=duration_s)


def window(session: AgentSession) -> tuple[datetime, float]:
    """The session's start and the seconds its timeline spans: to its end, or to the last
    end of anything in it if that is later (or if the session has no end)."""
    ends = [session.ended_at]
    ends += [op.ended_at or op.timestamp for op in session.operations]
    ends += [_end(c.started_at, c.duration_s) or c.started_at for c in session.llm_calls]
    known = [end for end in ends if end is not None]
    last = max(known, default=session.started_at)
    return session.started_at, max((last - session.started_at).total_seconds(), _TINY_WINDOW_S)


def _usage(input_tokens: int, output_tokens: int, cost: float) -> str:
    if not (input_tokens or output_tokens or cost):
        return ""
    return f"{fmt.token_pair(input_tokens, output_tokens)} tokens, {fmt.cost(cost)}"


def lanes(session: AgentSession) -> list[Lane]:
    """The session, then its operations and the LLM calls outside operations in start
    order, each operation followed by its LLM calls."""
    start, total = window(session)

    def fraction(moment: datetime) -> float:
        return (moment - start).total_seconds() / total

    def share(seconds: float | None) -> float | None:
        return None if seconds is None else max(seconds, 0.0) / total

    def call_lane(call: LLMCall, depth: int) -> Lane:
        usage = call.usage
        return Lane(
            kind="llm",
            depth=depth,
            span_id=call.span_id,
            name=call.name,
            target=None,
            status=status.call_status(call),
            tone=status.call_tone(call),
            offset=fraction(call.started_at),
            length=share(call.duration_s),
            duration_s=call.duration_s,
            usage=_usage(usage.input_tokens, usage.output_tokens, usage.cost),
        )

    def operation_lanes(op: AgentOperation) -> Iterator[Lane]:
        yield Lane(
            kind="operation",
            depth=1,
            span_id=op.id,
            name=op.type or "operation",
            target=op.target,
            status=op.status,
            tone=status.operation_tone(op.status),
            offset=fraction(op.timestamp),
            length=share(op.duration_s),
            duration_s=op.duration_s,
            usage=_usage(op.input_tokens, op.output_tokens, op.cost),
        )
        for call in op.llm_calls:
            yield call_lane(call, 2)

    top: list[tuple[datetime, list[Lane]]] = [
        (op.timestamp, list(operation_lanes(op))) for op in session.operations
    ]
    top += [
        (call.started_at, [call_lane(call, 1)])
        for call in session.llm_calls
        if call.operation_id is None
    ]
    top.sort(key=lambda item: item[0])
    first = Lane(
        kind="session",
        depth=0,
        span_id=session.span_id,
        name="session",
        target=None,
        status=session.status,
        tone=status.session_tone(session.status),
        offset=0.0,
        length=share(session.duration_s),
        duration_s=session.duration_s,
        usage=(
            f"{fmt.tokens(session.total_tokens)} tokens, {fmt.cost(session.total_cost)}"
            if session.total_tokens or session.total_cost
            else ""
        ),
    )
    return [first, *(lane for _, group in top for lane in group)]


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4f}".rstrip("0").rstrip(".") + "%"


def _bar(lane: Lane, total_s: float) -> Markup:
    length = lane.length if lane.length is not None else 0.0
    width = max(length * 100, MIN_BAR_PERCENT)
    when = f"+{fmt.duration(lane.offset * total_s)}"
    lasted = "no end recorded" if lane.duration_s is None else fmt.duration(lane.duration_s)
    what = " ".join(part for part in (lane.name, lane.target) if part)
    tip = " · ".join(part for part in (what, lane.status, f"{when}, {lasted}", lane.usage) if part)
    return element(
        "svg",
        {"class": "wf-track", "aria-hidden": "true"},
        element(
            "rect",
            {
                "class": "wf-bar",
                "x": _percent(lane.offset),
                "width": f"{width:.4f}%",
                "y": 3,
                "height": 12,
                "rx": 2,
            },
            element("title", None, tip),
        ),
    )


def _label(lane: Lane) -> Markup:
    full = " ".join(part for part in (lane.name, lane.target) if part)
    return element(
        "div",
        {"class": "wf-label", "title": full},
        element("span", {"class": "wf-name"}, lane.name),
        (" ", element("span", {"class": "wf-target"}, lane.target)) if lane.target else None,
        status.badge(lane.status, lane.tone) if lane.tone not in ("ok", "llm") else None,
    )


def _decimals(step: float) -> int:
    """The decimals that show every multiple of ``step`` exactly (at most 3)."""
    for decimals in range(3):
        if abs(round(step, decimals) - step) <= 1e-9 * max(step, 1.0):
            return decimals
    return 3


def tick_label(seconds: float, step: float) -> str:
    """A tick's time since the start, as precise as the step between ticks needs: ``0``,
    ``0.25ms``, ``40ms``, ``1.5s``, ``30s``, ``2m00s``."""
    if seconds == 0:
        return "0"
    if seconds >= 60:
        return fmt.duration(seconds)
    if step >= 0.1:
        return f"{seconds:.{_decimals(step)}f}s"
    return f"{seconds * 1000:.{_decimals(step * 1000)}f}ms"


def _axis(total_s: float) -> tuple[Markup, Markup]:
    """The tick labels above the rows, and the grid lines behind them."""
    all_ticks = ticks(total_s, 5)
    step = all_ticks[1] if len(all_ticks) > 1 else total_s
    values = [t for t in all_ticks if t <= total_s * (1 + 1e-9)]
    labels = []
    lines = []
    for value in values:
        x = _percent(value / total_s)
        anchor = "start" if value == 0 else "end" if value >= total_s * 0.97 else "middle"
        labels.append(
            element(
                "text",
                {"x": x, "y": 13, "text-anchor": anchor},
                tick_label(value, step),
            )
        )
        lines.append(element("line", {"x1": x, "x2": x, "y1": "0", "y2": "100%"}))
    axis = element(
        "div",
        {"class": "wf-row wf-head"},
        element("div", {"class": "wf-label"}, "Time since start"),
        element("svg", {"class": "wf-axis", "aria-hidden": "true"}, labels),
        element("div", {"class": "wf-time"}, "Duration"),
    )
    grid = element("svg", {"class": "wf-grid", "aria-hidden": "true"}, lines)
    return axis, grid


def waterfall(session: AgentSession) -> Markup:
    """The timeline of ``session``: an axis, then one row per lane."""
    _, total = window(session)
    axis, grid = _axis(total)
    rows = [
        element(
            "div",
            {
                "class": f"wf-row kind-{lane.kind} depth-{lane.depth} tone-{lane.tone}",
                "data-span-id": lane.span_id,
            },
            _label(lane),
            _bar(lane, total),
            element("div", {"class": "wf-time num"}, fmt.duration(lane.duration_s)),
        )
        for lane in lanes(session)
    ]
    return element(
        "div",
        {"class": "waterfall"},
        axis,
        element("div", {"class": "wf-body"}, grid, rows),
    )
