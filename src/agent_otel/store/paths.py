"""Where the local store lives and how its files are named.

The names are shared by the writer (which creates and rotates files) and the reader (which
must find them again, oldest first), so they are defined once here. Rotated files carry a
fixed-width UTC timestamp right after the stem, so sorting names sorts them by age, and a
strict pattern, so that pruning old files can never delete a file a person put in the store
directory by hand (``traces.backup.jsonl`` is left alone).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

HOME_ENV = "AGENT_OTEL_HOME"
"""Overrides the store directory (used as is, ``~`` expanded)."""

APP_DIR_NAME = "agent-otel"
TRACES_STEM = "traces"
METRICS_STEM = "metrics"
SUFFIX = ".jsonl"

# <stem>.<YYYYmmddTHHMMSS.ffffffZ>-<pid>[-<n>].jsonl
_ROTATED_MIDDLE = re.compile(r"(\d{8}T\d{6}\.\d{6}Z)-(\d+)(?:-(\d+))?")


def default_store_dir() -> Path:
    """The store directory used when none is given.

    ``AGENT_OTEL_HOME`` wins so that tests, containers and CI can redirect everything with one
    variable; otherwise each platform's convention for per-user application data, so the store
    is private to the user and survives reboots (unlike a temp dir).
    """
    override = os.environ.get(HOME_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA", "").strip()
        base = Path(local) if local else Path.home() / "AppData" / "Local"
        return base / APP_DIR_NAME
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_DIR_NAME
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    # The XDG spec says a relative value is invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / APP_DIR_NAME
    return Path.home() / ".local" / "share" / APP_DIR_NAME


def current_file(directory: str | os.PathLike[str], stem: str) -> Path:
    """The file that is being appended to, e.g. ``<dir>/traces.jsonl``."""
    return Path(directory) / f"{stem}{SUFFIX}"


def rotated_name(
    stem: str, *, now_ns: int | None = None, pid: int | None = None, counter: int = 0
) -> str:
    """Name for a file that is rotated away now: ``<stem>.<UTC timestamp>-<pid>.jsonl``.

    The pid keeps names distinct when two processes share a store; the writer passes a
    ``counter`` in the (practically impossible) case that the name already exists, because
    renaming onto an existing file would silently destroy it.
    """
    ns = time.time_ns() if now_ns is None else now_ns
    seconds, rest = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds))
    tail = f"-{counter}" if counter else ""
    return f"{stem}.{stamp}.{rest // 1000:06d}Z-{os.getpid() if pid is None else pid}{tail}{SUFFIX}"


def rotation_key(name: str, stem: str) -> tuple[str, int, int] | None:
    """Sort key (timestamp, pid, counter) of a rotated file name, ``None`` for other names.

    Plain name order would put ``…-12-1.jsonl`` (the later, collision-avoiding name) before
    ``…-12.jsonl``; the key keeps age order exact.
    """
    prefix = stem + "."
    if not (name.startswith(prefix) and name.endswith(SUFFIX)):
        return None
    match = _ROTATED_MIDDLE.fullmatch(name, len(prefix), len(name) - len(SUFFIX))
    if match is None:
        return None
    stamp, pid, counter = match.groups()
    return stamp, int(pid), int(counter or 0)


def is_rotated_name(name: str, stem: str) -> bool:
    """Whether ``name`` is a file that the writer rotated away for ``stem``."""
    return rotation_key(name, stem) is not None


def rotated_files(directory: str | os.PathLike[str], stem: str) -> list[Path]:
    """The rotated files of ``stem`` in ``directory``, oldest first (empty if none or missing)."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    keyed = [(key, name) for name in names if (key := rotation_key(name, stem)) is not None]
    keyed.sort()
    base = Path(directory)
    return [base / name for _, name in keyed]
