"""Checks of public-API arguments that warn (or raise in strict mode) and keep what they can.

Each check names the call, the field, the value and what is allowed, and returns the value to
record — converted when the intent is clear (``model_tier="2"``), ``None`` when it is not —
so that a mistake in the app costs a warning, never the telemetry around it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import TypeVar

from agent_otel.errors import misuse

T = TypeVar("T")


def check_choice(where: str, field: str, value: object, allowed: Iterable[str]) -> str | None:
    """A value from a closed set (operation type, status, change type)."""
    allowed = tuple(allowed)
    if isinstance(value, str) and value in allowed:
        return value
    if not isinstance(value, str):
        misuse(
            f"{where}: {field}={value!r} must be a string, one of {', '.join(allowed)}; "
            "it was not recorded",
            TypeError,
        )
        return None
    misuse(
        f"{where}: {field}={value!r} is not allowed; use one of {', '.join(allowed)}. "
        "It was recorded as given.",
        ValueError,
    )
    return value


def check_str(where: str, field: str, value: object, *, path_ok: bool = False) -> str | None:
    """A string field; ``None`` stays ``None``. Paths are accepted where ``path_ok``."""
    if value is None or isinstance(value, str):
        return value
    if path_ok and isinstance(value, os.PathLike):
        return str(os.fspath(value))
    misuse(
        f"{where}: {field} must be a string, got {type(value).__name__} {value!r}; "
        "recorded as str(value)",
        TypeError,
    )
    return str(value)


def check_bool(where: str, field: str, value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    misuse(
        f"{where}: {field} must be True or False, got {type(value).__name__} {value!r}; "
        f"recorded as {bool(value)}",
        TypeError,
    )
    return bool(value)


def check_int(
    where: str, field: str, value: object, *, low: int | None = None, high: int | None = None
) -> int | None:
    """An integer within [low, high]; numeric strings are converted, other values dropped."""
    if value is None:
        return None
    allowed = _range_text(low, high)
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value)
        misuse(
            f"{where}: {field} must be an integer ({allowed}), got the string {value!r}; "
            f"recorded as {number}",
            TypeError,
        )
    else:
        misuse(
            f"{where}: {field} must be an integer ({allowed}), got {type(value).__name__} "
            f"{value!r}; it was not recorded",
            TypeError,
        )
        return None
    if (low is not None and number < low) or (high is not None and number > high):
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
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            misuse(
                f"{where}: {field} must be {allowed}, got {type(value).__name__} {value!r}; "
                "it was not recorded",
                TypeError,
            )
            return None
        misuse(
            f"{where}: {field} must be {allowed}, got {type(value).__name__} {value!r}; "
            f"recorded as {number:g}",
            TypeError,
        )
    if not math.isfinite(number) or (low is not None and number < low):
        misuse(
            f"{where}: {field}={value!r} is not {allowed}; it was not recorded",
            ValueError,
        )
        return None
    return number


def _range_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{low}..{high}"
    if low is not None:
        return f">= {low}"
    if high is not None:
        return f"<= {high}"
    return "any integer"
