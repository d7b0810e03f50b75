"""Read spans back from the local store or from any OTLP JSON lines file.

The same reader serves the store written by :class:`~agent_otel.store.StoreSpanExporter`
and the output of a Collector's ``file`` exporter, so it accepts any file name and skips
lines it has no use for (metrics, logs, profiles) without complaint.

A store can be damaged in ordinary ways (a process killed mid-write, a full disk), and one
bad line must not hide everything after it: a line that cannot be parsed produces one
warning naming the file and line number, and reading goes on.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from agent_otel.errors import AgentOtelWarning
from agent_otel.spandata import SpanData
from agent_otel.store.otlp_json import decode_traces
from agent_otel.store.paths import TRACES_STEM, current_file, default_store_dir, rotated_files

__all__ = ["read_spans", "store_files"]

# What a line that is not valid OTLP JSON can raise while being parsed and decoded
# (OverflowError: a JSON number such as 1e999 where an integer belongs).
BAD_LINE_ERRORS = (ValueError, TypeError, KeyError, AttributeError, RecursionError, OverflowError)
_MAX_ERROR_TEXT = 200


def store_files(path: str | os.PathLike[str] | None = None) -> list[Path]:
    """The trace files to read, oldest first.

    A directory gives its rotated ``traces.<timestamp>-<pid>.jsonl`` files in age order and
    then the current ``traces.jsonl``; any other existing path is a single file of any name
    (e.g. a Collector file-exporter output). ``None`` means the default store directory. A
    path that does not exist yields nothing: an empty store is not an error.
    """
    base = Path(path) if path is not None else default_store_dir()
    if base.is_dir():
        files = rotated_files(base, TRACES_STEM)
        current = current_file(base, TRACES_STEM)
        if current.is_file():
            files.append(current)
        return files
    if base.exists():
        return [base]
    return []


def open_snapshot(path: Path) -> list[tuple[Path, BinaryIO]]:
    """Open every file to read before reading any, so a rotation meanwhile loses nothing.

    The current file is opened first; a rotated file that turns out to be that same file
    (another process rotated it in between) is skipped, because the descriptor we already
    hold reads it in the right place, last.
    """
    if not path.is_dir():
        return [(f, h) for f in store_files(path) if (h := _try_open(f)) is not None]
    current_path = current_file(path, TRACES_STEM)
    current = _try_open(current_path)
    current_id = _file_id(current) if current is not None else None
    opened: list[tuple[Path, BinaryIO]] = []
    for rotated in rotated_files(path, TRACES_STEM):
        handle = _try_open(rotated)
        if handle is None:
            continue
        if current_id is not None and _file_id(handle) == current_id:
            handle.close()
            continue
        opened.append((rotated, handle))
    if current is not None:
        opened.append((current_path, current))
    return opened


def _try_open(path: Path) -> BinaryIO | None:
    """Open a file for reading; ``None`` if it vanished (a writer pruned it since we listed
    the directory) or cannot be opened (reported, the other files are still read)."""
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None
    except OSError as error:
        warnings.warn(f"cannot read {path}: {error}", AgentOtelWarning, stacklevel=4)
        return None


def _file_id(handle: BinaryIO) -> tuple[int, int]:
    st = os.fstat(handle.fileno())
    return st.st_dev, st.st_ino


def warn_bad_line(path: Path, lineno: int, error: BaseException) -> None:
    """One AgentOtelWarning for a line that is skipped, naming the file and line."""
    text = str(error)
    if len(text) > _MAX_ERROR_TEXT:
        text = text[:_MAX_ERROR_TEXT] + "…"
    warnings.warn(
        f"{path}:{lineno}: skipped a corrupt or truncated line ({type(error).__name__}: {text})",
        AgentOtelWarning,
        stacklevel=4,
    )


def _read_file(path: Path, handle: BinaryIO) -> Iterator[SpanData]:
    loads = json.loads
    for lineno, raw in enumerate(handle, 1):
        if raw.isspace():
            continue
        try:
            message = loads(raw)
            if not isinstance(message, dict):
                raise TypeError(f"expected a JSON object, got {type(message).__name__}")
            if "resourceSpans" not in message:
                continue  # metrics, logs, profiles, or an empty request
            spans = decode_traces(message)
        except BAD_LINE_ERRORS as error:
            warn_bad_line(path, lineno, error)
            continue
        yield from spans


def read_spans(path: str | os.PathLike[str] | None = None) -> Iterator[SpanData]:
    """Every span in the store (``None``: the default directory), a store directory, or one
    OTLP JSON lines file, in file order: oldest file first, spans of a line in line order.

    All files are opened when iteration starts, so the result is a consistent snapshot even
    while writers append and rotate. A file that cannot be opened or read is reported with a
    warning and skipped; so is each corrupt or truncated line.
    """
    handles = open_snapshot(Path(path) if path is not None else default_store_dir())
    try:
        for file_path, handle in handles:
            try:
                yield from _read_file(file_path, handle)
            except OSError as error:
                warnings.warn(f"cannot read {file_path}: {error}", AgentOtelWarning, stacklevel=2)
    finally:
        for _, handle in handles:
            handle.close()
