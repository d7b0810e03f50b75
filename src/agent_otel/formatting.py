"""How agent-otel writes numbers, times and ids for people, in one place.

The CLI and the HTML report format durations, costs, token counts, timestamps and ids the
same way, so a session reads identically in ``sessions``, ``show``, ``summary`` and the
report. Plain strings only: colour and layout belong to each output.
"""

from __future__ import annotations

import math
from datetime import datetime

MISSING = "—"
"""Shown where a value was not recorded."""

SHORT_ID_LENGTH = 8


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


def token_details(cache_read: int, cache_write: int, reasoning: int) -> list[str]:
    """The parts of a call's tokens worth naming when there are any: ``cache read 1,024``,
    ``cache write 300``, ``reasoning 64``."""
    return [
        f"{name} {tokens(n)}"
        for name, n in (
            ("cache read", cache_read),
            ("cache write", cache_write),
            ("reasoning", reasoning),
        )
        if n
    ]


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


def one_line(text: str, limit: int = 120) -> str:
    """The first line of ``text``, cut to ``limit`` characters, marked when anything was cut."""
    lines = text.strip().splitlines() or [""]
    first = lines[0]
    if len(first) > limit:
        return first[: limit - 1] + "…"
    return first + (" …" if len(lines) > 1 else "")


def clock(moment: datetime | None) -> str:
    """The local time of day, to the second: ``14:05:09``."""
    return MISSING if moment is None else moment.astimezone().strftime("%H:%M:%S")


def dollars(usd: float) -> str:
    """USD to the cent: ``$1,234.57``; ``<$0.01`` for a cost that rounds to nothing."""
    if math.isnan(usd):
        return MISSING
    if usd == 0:
        return "$0.00"
    if 0 < usd < 0.005:
        return "<$0.01"
    return f"${usd:,.2f}"


def percent(rate: float | None) -> str:
    """``87.5%``; ``—`` when no operation ran."""
    return MISSING if rate is None else f"{rate:.1%}"
