"""Reading one byte range of a store file into what the index keeps about it.

A range is always a run of whole lines (or a final line without its newline). For every trace
with spans in the range it yields where those spans are (line offsets) and the rows of the
sessions found among them (:class:`~agent_otel.store.index.rows.TraceRows`, of the spans
as :func:`~agent_otel.store.index.skim.skim_line` reads them). Those rows are final when the
trace has no spans anywhere else; otherwise the index merges the trace by reading all of its
lines again (see :mod:`agent_otel.store.index.indexer`).

This module is what worker processes run when a large store is indexed for the first time,
so it works from a path and plain, picklable values, and checks that the path still names the
file that was planned (a writer may rotate the live file away at any moment).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import BinaryIO

from agent_otel.spandata import SpanData
from agent_otel.store.otlp_json import decode_traces
from agent_otel.store.reader import BAD_LINE_ERRORS

from .bulk import without_gc
from .entry import EntryRow
from .rows import TraceRows
from .skim import SkimmedTrace, skim_line

__all__ = [
    "FileChanged",
    "FileRange",
    "ScanResult",
    "TracePart",
    "bad_line_message",
    "decode_line",
    "read_exactly",
    "scan",
]

_MAX_ERROR_TEXT = 200


class FileChanged(Exception):
    """The file at a path is no longer the one (or as long as) the plan assumed."""


@dataclass(frozen=True, slots=True)
class FileRange:
    """Bytes ``[start, end)`` of the file ``path`` with identity ``(dev, ino)``."""

    path: str
    dev: int
    ino: int
    start: int
    end: int


@dataclass(slots=True)
class TracePart:
    """What one range holds of one trace."""

    trace_id: str
    lines: list[tuple[int, int, int]] = field(default_factory=list)
    """(offset, length without the newline, index of the trace's first span in the line)."""
    rows: list[EntryRow] = field(default_factory=list)
    """Entries of the sessions found among the range's spans of the trace, in order."""
    undone: set[str] = field(default_factory=set)
    """Ids of the changes that operations of this trace undo (from their links)."""


@dataclass(slots=True)
class ScanResult:
    range: FileRange
    first_line: int = 0
    """Line number (from 1) of the range's first line; filled in by the index, which knows
    how many lines precede the range."""
    newlines: int = 0
    complete: bool = True
    """Whether the range ends with a newline (else its last line may still be growing)."""
    parts: list[TracePart] = field(default_factory=list)
    """Traces in the order their first span appears."""
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    """(line number counted from 0 at the range's first line, warning text)."""


def bad_line_message(error: BaseException) -> str:
    text = str(error)
    if len(text) > _MAX_ERROR_TEXT:
        text = text[:_MAX_ERROR_TEXT] + "…"
    return f"skipped a corrupt or truncated line ({type(error).__name__}: {text})"


def decode_line(raw: bytes) -> list[SpanData]:
    """The spans of one line; none for other signals. Raises one of the reader's bad-line
    errors for a line that is not OTLP JSON, exactly where the reader would skip it."""
    message = json.loads(raw)
    if not isinstance(message, dict):
        raise TypeError(f"expected a JSON object, got {type(message).__name__}")
    if "resourceSpans" not in message:
        return []
    return decode_traces(message)


def read_exactly(handle: BinaryIO, offset: int, length: int) -> bytes:
    """``length`` bytes at ``offset``; :class:`FileChanged` if the file is shorter now."""
    handle.seek(offset)
    data = handle.read(length)
    if len(data) != length:
        raise FileChanged(f"{handle.name}: shorter than {offset + length} bytes now")
    return data


def scan(target: FileRange) -> ScanResult:
    """Index the lines of ``target``; :class:`FileChanged` if its path names another file."""
    with without_gc():
        return _scan(target)


def _scan(target: FileRange) -> ScanResult:
    with open(target.path, "rb") as handle:
        st = os.fstat(handle.fileno())
        if (st.st_dev, st.st_ino) != (target.dev, target.ino) or st.st_size < target.end:
            raise FileChanged(target.path)
        data = read_exactly(handle, target.start, target.end - target.start)
    result = ScanResult(target, complete=data.endswith(b"\n"))
    parts: dict[str, TracePart] = {}
    rows_of: dict[str, TraceRows] = {}  # by trace, until the parts' rows are made from them
    at = 0
    lineno = 0
    size = len(data)
    while at < size:
        stop = data.find(b"\n", at)
        if stop < 0:
            stop = size
        else:
            result.newlines += 1
        # With its newline, as the reader reads it (a JSON error can say where it met it).
        raw = data[at : stop + 1]
        if not raw.isspace():
            traces: dict[str, SkimmedTrace]
            try:
                traces = skim_line(raw)
            except BAD_LINE_ERRORS as error:
                result.bad_lines.append((lineno, bad_line_message(error)))
                traces = {}
            offset = target.start + at
            for trace_id, found in traces.items():
                part = parts.get(trace_id)
                if part is None:
                    part = parts[trace_id] = TracePart(trace_id)
                    trace_rows = rows_of[trace_id] = TraceRows()
                else:
                    trace_rows = rows_of[trace_id]
                trace_rows.add(found.spans)
                part.lines.append((offset, stop - at, found.position))
                part.undone.update(found.undone)
        at = stop + 1
        lineno += 1
    for trace_id, part in parts.items():
        part.rows = rows_of[trace_id].rows()
    result.parts = list(parts.values())
    return result
