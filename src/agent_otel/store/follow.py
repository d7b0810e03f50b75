"""Follow a store while agents write to it: every whole line appended from now on, once.

``agent-otel tail`` needs what :func:`~agent_otel.store.read_spans` cannot give: the lines
that appear after it started, while writers keep appending and rotating. Following is done by
polling (portable, and a store grows by a few lines a second at most), and it has to survive
what the writer does to the files:

- **rotation**: ``traces.jsonl`` is renamed to ``traces.<timestamp>-<pid>.jsonl`` and a new
  ``traces.jsonl`` begins. The follower keeps its open descriptor on the renamed file, reads
  it to the end, then every file rotated after it (more than one rotation may happen between
  two polls), then the new current file from its start — opened only once no file was
  rotated meanwhile, so that lines come out in the order they were written;
- **a partly written line**: a large batch is one ``write()``, but a reader may see it half
  done; the incomplete tail is kept until its newline arrives. A writer that fails mid-line
  truncates its fragment away; the follower notices the file shrinking and forgets it;
- **no store yet**: nothing is read until the files appear; whatever appears after the
  follower started is new and read from its start.

Lines are returned as :class:`~agent_otel.store.lines.Line` (bytes, file and line number)
for :func:`~agent_otel.store.lines.decode_lines`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from agent_otel.store.lines import Line

# rotation_key: the writer's own age order of rotated file names (timestamp, pid, counter).
from agent_otel.store.paths import TRACES_STEM, current_file, rotated_files, rotation_key

RotationKey = tuple[str, int, int]

_CHUNK_BYTES = 1 << 20

__all__ = ["StoreFollower"]


class _OpenFile:
    """A file being read: its descriptor, how far it was read, the incomplete last line."""

    def __init__(self, path: Path, handle: BinaryIO) -> None:
        self.path = path
        self.handle = handle
        self.offset = 0
        self.lineno = 0
        self.partial = b""
        st = os.fstat(handle.fileno())
        self.identity = (st.st_dev, st.st_ino)

    def skip_to_end(self) -> None:
        """Start after what the file holds now, counting its lines for later line numbers.
        An incomplete last line is counted as begun, and its end will be read as new."""
        while chunk := self.handle.read(_CHUNK_BYTES):
            self.offset += len(chunk)
            newlines = chunk.count(b"\n")
            self.lineno += newlines
            if newlines:
                self.partial = chunk[chunk.rfind(b"\n") + 1 :]
            else:
                self.partial += chunk

    def read_lines(self) -> list[Line]:
        """The whole lines appended since the last call."""
        size = os.fstat(self.handle.fileno()).st_size
        if size < self.offset:
            # The writer took back a line it could not finish (a full disk): forget the
            # fragment and continue where that line began.
            self.offset = max(self.offset - len(self.partial), 0)
            self.partial = b""
            self.handle.seek(self.offset)
        data = self.handle.read()
        if not data:
            return []
        self.offset += len(data)
        pieces = (self.partial + data).split(b"\n")
        self.partial = pieces.pop()
        lines = []
        for piece in pieces:
            self.lineno += 1
            if piece.strip():
                lines.append(Line(self.path, self.lineno, piece))
        return lines

    def close(self) -> None:
        self.handle.close()


class StoreFollower:
    """The lines appended to a store's trace files, one :meth:`poll` at a time.

    ``path`` is a store directory (it may not exist yet) or a single OTLP JSON lines file
    (followed across being replaced, but not rotated). With ``from_start`` the first poll
    returns everything already stored, oldest file first; otherwise only what is written
    after the follower was created.

    A line that was still incomplete when its file was rotated away or replaced is returned
    as it is, so that the caller reports it as the truncated line it is.
    """

    def __init__(self, path: str | os.PathLike[str], *, from_start: bool = False) -> None:
        base = Path(path)
        self._directory = None if base.exists() and not base.is_dir() else base
        self._current_path = current_file(base, TRACES_STEM) if self._directory else base
        # Rotation key of the newest rotated file that was read (or skipped at the start):
        # the rotated files newer than it are the ones still to read.
        self._last: RotationKey | None = None
        self._file: _OpenFile | None = None
        if not from_start:
            _, self._file = self._open_current(skip=True)
            if self._file is not None:
                self._file.skip_to_end()

    def exists(self) -> bool:
        """Whether there is anything to follow yet."""
        return self._file is not None or self._current_path.exists() or bool(self._rotated())

    def poll(self) -> list[Line]:
        """Every whole line written since the previous poll, in the order written."""
        lines: list[Line] = []
        if self._file is not None:
            lines += self._file.read_lines()
            if self._still_current(self._file):
                return lines
            lines += self._finish(self._file)
            self._file = None
        read, self._file = self._open_current()
        lines += read
        if self._file is not None:
            lines += self._file.read_lines()
        return lines

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- internals ---------------------------------------------------------------------------

    def _rotated(self) -> list[Path]:
        return rotated_files(self._directory, TRACES_STEM) if self._directory else []

    def _newer_rotated(self) -> list[tuple[RotationKey, Path]]:
        """The rotated files newer than the last one read, oldest first."""
        newer = []
        for path in self._rotated():
            key = rotation_key(path.name, TRACES_STEM)
            if key is not None and (self._last is None or key > self._last):
                newer.append((key, path))
        return newer

    def _open_current(self, *, skip: bool = False) -> tuple[list[Line], _OpenFile | None]:
        """Read the rotated files not read yet (``skip``: only mark them as read), then open
        the current file; again if a file was rotated meanwhile, so that the current file is
        only read after every older one."""
        lines: list[Line] = []
        while True:
            for key, path in self._newer_rotated():
                opened = None if skip else self._open(path)
                if opened is not None:
                    lines += self._finish(opened)
                self._last = key
            current = self._open(self._current_path)
            if current is None or not self._newer_rotated():
                return lines, current
            current.close()

    def _open(self, path: Path) -> _OpenFile | None:
        try:
            handle = open(path, "rb", buffering=0)  # noqa: SIM115 - kept open across polls
        except FileNotFoundError:
            return None
        return _OpenFile(path, handle)

    def _still_current(self, opened: _OpenFile) -> bool:
        try:
            st = os.stat(self._current_path)
        except FileNotFoundError:
            return False
        return (st.st_dev, st.st_ino) == opened.identity

    def _finish(self, opened: _OpenFile) -> list[Line]:
        """Read a file that no longer grows to its end, and close it; when it is a rotated
        file, the files rotated before it are not to be read any more."""
        lines = opened.read_lines()
        if opened.partial:
            opened.lineno += 1
            lines.append(Line(opened.path, opened.lineno, opened.partial))
        for key, path in self._newer_rotated():
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) == opened.identity:
                self._last = key
        opened.close()
        return lines
