"""Checks of public-API arguments that warn (or raise in strict mode) and keep what they can.

Each check names the call, the field, the value and what is allowed, and returns the value to
record — converted when the intent is clear (``model_tier="2"``), ``None`` when it is not —
so that a mistake in the app costs a warning, never the telemetry around it.

A warning lands in the app's logs, so the value it shows is redacted and cut short
(:func:`shown`); and nothing here raises on a hostile value (a ``__str__`` or ``__repr__``
that raises) except, in strict mode, the error the check is for.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import TypeVar

from agent_otel.content import ContentPolicy, exportable
from agent_otel.errors import misuse

T = TypeVar("T")

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

SHOWN_MAX_BYTES = 200
"""How much of a wrong value a warning shows (UTF-8 bytes)."""
# Redacts first, then cuts: cutting first could leave half a secret that no longer looks
# like one.
_SHOWN = ContentPolicy(max_bytes=SHOWN_MAX_BYTES)


def shown(value: object) -> str:
    """``repr(value)`` for a warning: see :func:`brief`; never an exception (a broken
    ``__repr__`` gives the type's name)."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return brief(text)


def brief(text: str) -> str:
    """``text`` for a warning or a log line: secrets redacted, then cut to
    :data:`SHOWN_MAX_BYTES`."""
    return _SHOWN.metadata(text)


def as_str(value: object) -> str:
    """``str(value)``, or its type's name when its ``__str__`` raises."""
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def check_choice(where: str, field: str, value: object, allowed: Iterable[str]) -> str | None:
    """A value from a closed set (operation type, status, change type)."""
    allowed = tuple(allowed)
    if isinstance(value, str) and value in allowed:
        return value
    if not isinstance(value, str):
        misuse(
            f"{where}: {field}={shown(value)} must be a string, one of {', '.join(allowed)}; "
            "it was not recorded",
            TypeError,
        )
        return None
    misuse(
        f"{where}: {field}={shown(value)} is not allowed; use one of {', '.join(allowed)}. "
        "It was recorded as given (redacted and cut short).",
        ValueError,
    )
    return brief(value)


def check_str(where: str, field: str, value: object, *, path_ok: bool = False) -> str | None:
    """A string field; ``None`` stays ``None``. Paths are accepted where ``path_ok``. A lone
    surrogate (a file name decoded with ``surrogateescape``) becomes ``?``: it cannot be
    exported, and OTLP exporters would drop the whole value."""
    if value is None:
        return None
    if isinstance(value, str):
        return exportable(value)
    if path_ok and isinstance(value, os.PathLike):
        try:
            return exportable(str(os.fspath(value)))
        except Exception:  # a PathLike whose __fspath__ fails: reported below
            pass
    misuse(
        f"{where}: {field} must be a string, got {type(value).__name__} {shown(value)}; "
        "recorded as str(value)",
        TypeError,
    )
    return exportable(as_str(value))


def check_bool(where: str, field: str, value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    try:
        truth = bool(value)
    except Exception:  # a __bool__ that raises (numpy arrays, pandas frames)
        truth = False
    misuse(
        f"{where}: {field} must be True or False, got {type(value).__name__} {shown(value)}; "
        f"recorded as {truth}",
        TypeError,
    )
    return truth


def check_int(
    where: str, field: str, value: object, *, low: int | None = None, high: int | None = None
) -> int | None:
    """An integer within [low, high] and within 64 bits (what OTLP carries); numeric strings
    are converted, other values dropped."""
    if value is None:
        return None
    low = _INT64_MIN if low is None else max(low, _INT64_MIN)
    high = _INT64_MAX if high is None else min(high, _INT64_MAX)
    allowed = _range_text(low, high)
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and (number := _parse_int(value)) is not None:
        misuse(
            f"{where}: {field} must be an integer ({allowed}), got the string {shown(value)}; "
            f"recorded as {number}",
            TypeError,
        )
    else:
        misuse(
            f"{where}: {field} must be an integer ({allowed}), got {type(value).__name__} "
            f"{shown(value)}; it was not recorded",
            TypeError,
        )
        return None
    if number < low or number > high:
        misuse(
            f"{where}: {field}={number} is out of range ({allowed}); it was not recorded",
            ValueError,
        )
        return None
    return number


def check_number(
    where: str, field: str, value: object, *, low: float | None = None
) -> float | None:
    """A finite real number >= low; numeric strings are converted, other values dropped."""
    if value is None:
        return None
    allowed = "a finite number" + ("" if low is None else f" >= {low:g}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except Exception:  # not a number; or an int too large for a float (OverflowError)
        misuse(
            f"{where}: {field} must be {allowed}, got {type(value).__name__} {shown(value)}; "
            "it was not recorded",
            TypeError,
        )
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        misuse(
            f"{where}: {field} must be {allowed}, got {type(value).__name__} {shown(value)}; "
            f"recorded as {number:g}",
            TypeError,
        )
    if not math.isfinite(number) or (low is not None and number < low):
        misuse(
            f"{where}: {field}={shown(value)} is not {allowed}; it was not recorded",
            ValueError,
        )
        return None
    return number


def _parse_int(text: str) -> int | None:
    """An integer written as decimal ASCII digits with an optional sign; None otherwise
    (``"²"`` is a digit to ``str.isdigit`` but not to ``int``)."""
    digits = text.strip()
    if not digits.lstrip("+-").isdigit() or not digits.isascii() or len(digits) > 4000:
        return None
    try:
        return int(digits)
    except ValueError:  # "--5"
        return None


def _range_text(low: int, high: int) -> str:
    if low > _INT64_MIN and high < _INT64_MAX:
        return f"{low}..{high}"
    if low > _INT64_MIN:
        return f">= {low}"
    if high < _INT64_MAX:
        return f"<= {high}"
    return "a 64-bit integer"
