"""Telemetry made safe to print on a terminal.

Telemetry is text from anywhere (an agent's commands, a model's answers, file names), and a
terminal obeys some characters instead of showing them. What would act on it is shown as an
escape instead: C0 controls but line feed and tab (ESC starts colour, cursor, screen, title
and hyperlink sequences; CR and BS overwrite what was printed), DEL, the C1 controls (0x9B is
an 8-bit ``ESC [``), and the bidi controls that make a line read differently from what it
holds. JSON output needs none of it: JSON escapes control characters itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_UNPRINTABLE = {
    c: f"\\x{c:02x}" for c in (*range(0x09), *range(0x0B, 0x20), 0x7F, *range(0x80, 0xA0))
}
_UNPRINTABLE.update({c: f"\\u{c:04x}" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def printable(text: str) -> str:
    """``text`` with every character that would act on a terminal written as an escape:
    ``\\x1b[31m`` is shown, not obeyed."""
    return text.translate(_UNPRINTABLE)


def for_terminal(value: T) -> T:
    """``value`` — a record, an index entry, a list of them — with every string in it made
    :func:`printable`, for a command that prints telemetry for people."""
    result: Any = value
    if isinstance(value, str):
        result = printable(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: for_terminal(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.init
        }
        result = dataclasses.replace(value, **changes)
    elif isinstance(value, (list, tuple)):
        result = type(value)(for_terminal(v) for v in value)
    elif isinstance(value, Mapping):
        result = {for_terminal(k): for_terminal(v) for k, v in value.items()}
    return result  # type: ignore[no-any-return]
