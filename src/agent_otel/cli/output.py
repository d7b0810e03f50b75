"""Where the CLI's output goes: a rich console for people, JSON for programs.

People get colour on a terminal and plain text anywhere else (a pipe, a file, CI logs), at a
width that does not depend on whatever rich guesses for a non-terminal. Programs get one JSON
document on stdout: the records as dicts, datetimes in ISO 8601 UTC, strict JSON.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, TextIO

from rich.console import Console

DEFAULT_WIDTH = 120
"""Width of the text written to a pipe or file when ``COLUMNS`` does not say otherwise."""

# Read-only properties of the records that are worth having in the JSON as well.
_DERIVED = ("duration_s", "total_tokens")


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def make_console(stream: TextIO | None = None) -> Console:
    """A console on ``stream`` (stdout): rich's own sizing on a terminal, otherwise
    ``COLUMNS`` or :data:`DEFAULT_WIDTH` columns; colour only on a terminal (rich decides,
    honouring ``NO_COLOR`` and ``FORCE_COLOR``)."""
    stream = stream if stream is not None else sys.stdout
    width: int | None = None
    if not _is_tty(stream):
        columns = os.environ.get("COLUMNS", "").strip()
        width = int(columns) if columns.isdigit() and int(columns) >= 40 else DEFAULT_WIDTH
    return Console(file=stream, width=width, highlight=False, emoji=False)


def to_jsonable(value: Any) -> Any:
    """Records (dataclasses) to dicts, recursively; tuples to lists; datetimes to ISO 8601
    in UTC. Derived properties such as ``duration_s`` are included beside the fields."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name in _DERIVED:
            if hasattr(type(value), name):
                out[name] = to_jsonable(getattr(value, name))
        return out
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(timezone.utc).isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or Infinity (jq and browsers reject them)
    if isinstance(value, bytes):
        return value.hex()  # an attribute another tool wrote as bytes
    return value


def write_json(value: Any, stream: TextIO | None = None) -> None:
    """Write ``value`` as one indented JSON document and a newline."""
    stream = stream if stream is not None else sys.stdout
    stream.write(json.dumps(to_jsonable(value), indent=2, allow_nan=False) + "\n")
