"""The store as raw lines, and turning trace lines into something useful one at a time.

:func:`~agent_otel.store.read_spans` is the way to read spans. Two readers need the lines
themselves: ``agent-otel export`` rebuilds SDK spans from the full OTLP message of each line
(scope versions, trace state and flags are not in :class:`~agent_otel.spandata.SpanData`),
and ``agent-otel tail`` gets its lines from :class:`~agent_otel.store.follow.StoreFollower`.
Both decode a line the same way and report a corrupt one the same way as ``read_spans``: one
warning naming the file and line, and reading goes on.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from agent_otel.errors import AgentOtelWarning
from agent_otel.store.paths import default_store_dir

# The reader's own snapshot logic and bad-line report, shared so that every reader of the
# store opens files and words a corrupt-line warning identically.
from agent_otel.store.reader import BAD_LINE_ERRORS, open_snapshot, warn_bad_line

__all__ = ["Line", "decode_lines", "read_lines"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Line:
    """One whole line (without its newline) and where it was read."""

    path: Path
    lineno: int
    data: bytes


def read_lines(path: str | os.PathLike[str] | None = None) -> Iterator[Line]:
    """Every non-blank line of a store directory (``None``: the default one), oldest file
    first, or of one OTLP JSON lines file; a consistent snapshot, like ``read_spans``. A file
    that cannot be read is reported with a warning and skipped, as there."""
    handles = open_snapshot(Path(path) if path is not None else default_store_dir())
    try:
        for file_path, handle in handles:
            try:
                for lineno, raw in enumerate(handle, 1):
                    if not raw.isspace():
                        yield Line(file_path, lineno, raw.rstrip(b"\r\n"))
            except OSError as error:
                warnings.warn(f"cannot read {file_path}: {error}", AgentOtelWarning, stacklevel=2)
    finally:
        for _, handle in handles:
            handle.close()


def decode_lines(
    lines: Iterable[Line], decode: Callable[[Mapping[str, Any]], T]
) -> Iterator[tuple[Line, T]]:
    """``decode`` applied to the OTLP JSON traces message of each line, with its line.

    Lines of other signals (metrics, logs) are skipped silently. A line that is not valid
    JSON, not an object, or that ``decode`` rejects with one of the errors ``read_spans``
    takes for a corrupt line (``ValueError``, ``TypeError``, ``KeyError``...) is reported
    with one ``AgentOtelWarning`` and skipped.
    """
    for line in lines:
        try:
            message = json.loads(line.data)
            if not isinstance(message, dict):
                raise TypeError(f"expected a JSON object, got {type(message).__name__}")
            if "resourceSpans" not in message:
                continue
            decoded = decode(message)
        except BAD_LINE_ERRORS as error:
            warn_bad_line(line.path, line.lineno, error)
            continue
        yield line, decoded
