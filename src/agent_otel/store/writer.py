"""Append whole lines to a JSON lines file that several processes share, with rotation.

Several agent processes (and their sub-processes) write to the same store at once, so each
batch must land as one intact line: the line is written with a single ``os.write`` on an
``O_APPEND`` descriptor while an exclusive ``flock`` is held. ``O_APPEND`` alone is not enough:
POSIX only promises atomic appends for pipes up to ``PIPE_BUF``, and a batch line can be
megabytes. The lock also serialises rotation, so no line is written to a file that another
process is renaming away, and no two processes rotate the same file.

Telemetry must never break the app: every OS error (disk full, read-only directory, missing
permission) becomes one ``logging`` warning per kind of failure and a ``False`` return; the
next write simply tries again, so the store recovers on its own when the cause goes away.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Final

from agent_otel.store.paths import SUFFIX, rotated_files, rotated_name

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt
else:
    import fcntl

__all__ = [
    "DEFAULT_MAX_FILES",
    "DEFAULT_MAX_FILE_BYTES",
    "MAX_BYTES_ENV",
    "MAX_FILES_ENV",
    "JsonLinesFile",
    "resolve_limits",
]

_logger = logging.getLogger("agent_otel.store")

MAX_BYTES_ENV: Final = "AGENT_OTEL_STORE_MAX_BYTES"
MAX_FILES_ENV: Final = "AGENT_OTEL_STORE_MAX_FILES"
DEFAULT_MAX_FILE_BYTES: Final = 64 * 1024 * 1024
DEFAULT_MAX_FILES: Final = 8

# O_RDWR (not O_WRONLY) so the writer can peek at the last byte of the file; see _write.
_OPEN_FLAGS: Final = (
    os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)
_FILE_MODE: Final = 0o600
_DIR_MODE: Final = 0o700
# Enough for a few concurrent rotations by other processes between our open and our lock.
_MAX_ATTEMPTS: Final = 16
_ROTATION_RETRY_SECONDS: Final = 60.0
# flock is unsupported on some network file systems; then we write without it.
_NO_LOCK_ERRNOS: Final = frozenset(
    {errno.ENOLCK, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP), errno.EINVAL}
)


def _env_limit(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        _logger.warning(
            "agent-otel store: ignoring %s=%r (expected a positive integer); using %d",
            name,
            raw,
            default,
        )
        return default
    return value


def resolve_limits(max_file_bytes: int | None, max_files: int | None) -> tuple[int, int]:
    """Explicit arguments win, then ``AGENT_OTEL_STORE_MAX_BYTES`` / ``_MAX_FILES``, then the
    defaults (64 MiB, 8 files). Bad values fall back to the defaults with a warning rather
    than failing the app's start-up."""
    if max_file_bytes is None:
        max_file_bytes = _env_limit(MAX_BYTES_ENV, DEFAULT_MAX_FILE_BYTES)
    if max_files is None:
        max_files = _env_limit(MAX_FILES_ENV, DEFAULT_MAX_FILES)
    if max_file_bytes <= 0:
        raise ValueError(f"max_file_bytes must be positive, got {max_file_bytes}")
    if max_files <= 0:
        raise ValueError(f"max_files must be positive, got {max_files}")
    return max_file_bytes, max_files


def _lock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        # Best effort: lock byte 0 (locking beyond EOF is allowed). LK_LOCK retries for ~10 s
        # and then raises, which the caller reports like any other OS error.
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_EX)


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)


class JsonLinesFile:
    """One store file (e.g. ``traces.jsonl``) that this process appends whole lines to.

    Thread-safe and fork-safe (a child process opens its own descriptor, because a ``flock``
    held through an inherited descriptor would not exclude the parent). The file is opened
    lazily on the first write and kept open; the hot path per write is: lock, two ``stat``
    calls (has another process rotated the file? is it full?), one ``pread`` of the last
    byte, one ``write``, unlock. The directory is only listed when rotating.

    ``max_files`` counts the current file too, so the store never holds more than about
    ``max_files * max_file_bytes`` bytes (a single line larger than the limit still goes into
    a file of its own rather than being dropped).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, max_file_bytes: int, max_files: int
    ) -> None:
        self._path = Path(path)
        self._path_str = os.fspath(self._path)
        name = self._path.name
        self._stem = name[: -len(SUFFIX)] if name.endswith(SUFFIX) and name != SUFFIX else name
        self._max_file_bytes = max_file_bytes
        self._max_files = max_files
        self._fd: int | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._use_flock = True
        # After a failed rotation, keep appending and only try again after a pause.
        self._next_rotation = 0.0
        # Kinds of failure already reported since the last successful write.
        self._reported: set[tuple[str, int | None]] = set()

    @property
    def path(self) -> Path:
        return self._path

    @property
    def max_file_bytes(self) -> int:
        return self._max_file_bytes

    @property
    def max_files(self) -> int:
        return self._max_files

    def write(self, line: bytes) -> bool:
        """Append ``line`` (which must end with a newline) as one unit; ``False`` on failure.

        Never raises ``OSError``: the failure is logged once per kind and the next call retries.
        """
        if self._pid != os.getpid():
            self._after_fork()
        with self._lock:
            try:
                self._write(line)
            except OSError as error:
                self._close_fd()
                self._report("write", error)
                return False
            if self._reported:
                self._forget("write", "writing to %s works again")
            return True

    def close(self) -> None:
        """Close the descriptor. A later ``write`` opens the file again."""
        with self._lock:
            self._close_fd()

    # -- internals ---------------------------------------------------------------------------

    def _after_fork(self) -> None:
        # The parent's lock may have been held by a thread that does not exist here, and the
        # inherited descriptor shares the parent's flock; start afresh without closing it
        # through the parent's lock.
        self._lock = threading.Lock()
        self._pid = os.getpid()
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _open(self) -> int:
        directory = self._path.parent
        if not directory.is_dir():
            os.makedirs(directory, mode=_DIR_MODE, exist_ok=True)
        self._fd = os.open(self._path_str, _OPEN_FLAGS, _FILE_MODE)
        return self._fd

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _try_lock(self, fd: int) -> bool:
        if not self._use_flock:
            return False
        try:
            _lock(fd)
        except OSError as error:
            if error.errno not in _NO_LOCK_ERRNOS:
                raise
            self._use_flock = False
            self._report("lock", error, "writing without a lock; lines may interleave")
            return False
        return True

    def _write(self, line: bytes) -> None:
        for _ in range(_MAX_ATTEMPTS):
            fd = self._fd if self._fd is not None else self._open()
            locked = self._try_lock(fd)
            try:
                st = os.fstat(fd)
                try:
                    at_path: os.stat_result | None = os.stat(self._path_str)
                except FileNotFoundError:
                    at_path = None
                if at_path is None or (at_path.st_ino, at_path.st_dev) != (st.st_ino, st.st_dev):
                    # Another process rotated (or someone removed) the file since we opened
                    # it: follow the path to the new file.
                    reopen = True
                else:
                    regular = stat.S_ISREG(st.st_mode)
                    size = st.st_size if regular else 0
                    if (
                        size
                        and size + len(line) > self._max_file_bytes
                        and time.monotonic() >= self._next_rotation
                    ):
                        # Rotated: write to the new file. Not rotated (reported): append
                        # here, unless the attempt had to give up the descriptor (Windows).
                        reopen = self._rotate(fd, locked) or self._fd is None
                    else:
                        reopen = False
                    if not reopen:
                        self._append(fd, line, size if regular else None)
                        return
            finally:
                if locked and self._fd == fd:
                    _unlock(fd)
            self._close_fd()
        raise OSError(errno.EAGAIN, "the file kept being rotated by other processes", self._path)

    def _append(self, fd: int, line: bytes, size: int | None) -> None:
        """Append ``line`` at ``size`` (``None``: not a regular file, e.g. a device)."""
        if size and hasattr(os, "pread") and os.pread(fd, 1, size - 1) != b"\n":
            # A writer crashed mid-line. Start on a fresh line so that only the broken line is
            # lost, not ours as well.
            line = b"\n" + line
        written = 0
        try:
            written = os.write(fd, line)
            while written < len(line):  # only for short writes, e.g. on a nearly full disk
                n = os.write(fd, memoryview(line)[written:])
                if n <= 0:
                    raise OSError(errno.EIO, "short write", self._path)
                written += n
        except OSError:
            if written and size is not None:
                # Take back the partial line (we hold the lock, so nobody appended after it)
                # rather than leave a fragment that would corrupt the next line too — in a
                # new, empty file as well.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
            raise

    def _rotate(self, fd: int, locked: bool) -> bool:
        """Rename the full file away and prune old ones; ``False`` (keep appending) if the
        rename fails, because losing the size limit is better than losing telemetry."""
        directory = self._path.parent
        counter = 0
        target = directory / rotated_name(self._stem)
        while os.path.lexists(target):
            counter += 1
            target = directory / rotated_name(self._stem, counter=counter)
        if sys.platform == "win32":  # pragma: no cover
            # Windows cannot rename a file that is open; give up our lock and descriptor first.
            if locked:
                _unlock(fd)
            self._close_fd()
        try:
            os.rename(self._path_str, target)
        except OSError as error:
            self._report("rotate", error, "the file keeps growing past its size limit")
            self._next_rotation = time.monotonic() + _ROTATION_RETRY_SECONDS
            return False
        if self._reported:
            self._forget("rotate", "rotating %s works again")
        self._prune()
        return True

    def _prune(self) -> None:
        old = rotated_files(self._path.parent, self._stem)
        excess = len(old) - (self._max_files - 1)
        for path in old[: max(excess, 0)]:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass  # another process pruned it first
            except OSError as error:
                self._report("delete", error, "old store files are not being removed")

    def _forget(self, action: str, message: str) -> None:
        """Re-arm the warning for ``action`` after it succeeded, so a later outage is reported
        again; other kinds (e.g. a lock the file system lacks) stay reported once."""
        kinds = {kind for kind in self._reported if kind[0] == action}
        if kinds:
            self._reported -= kinds
            _logger.info("agent-otel store: " + message, self._path)

    def _report(self, action: str, error: OSError, consequence: str | None = None) -> None:
        kind = (action, error.errno)
        if kind in self._reported:
            return
        self._reported.add(kind)
        _logger.warning(
            "agent-otel store: cannot %s %s: %s (%s)",
            action,
            error.filename or self._path,
            error.strerror or error,
            consequence or "telemetry is dropped until this is fixed; every export retries",
        )
