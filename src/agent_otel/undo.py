"""Undoing a recorded file change: put a file back the way it was before an agent changed it.

A change record carries the SHA-256 of the file's content before and after the change and,
when content capture was on, the content before. That is enough to undo safely, and nothing
less is accepted:

- the file must still hold exactly what the change left behind (its hash equals the recorded
  ``after`` hash), so an undo never overwrites later work;
- the content written back must hash to the recorded ``before`` hash, so text that was
  redacted or cut to the content budget when it was captured is never written to disk;
- the path, with symlinks resolved, must lie inside the session's recorded workspace, so a
  record (or a symlink planted since) can never direct a write anywhere else.

Anything else is an :class:`UndoRefused` whose message says why, and nothing is touched. The
new content is written to a temporary file beside the target and renamed over it, keeping the
file's mode. The undo is itself recorded like any agent action: a ``write`` operation linked to
the operation it undoes, with its own change record.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

from agent_otel import formatting as fmt
from agent_otel.changes import content_bytes, sha256_hex, unified_diff
from agent_otel.content import as_text
from agent_otel.operations import Operation
from agent_otel.records import ChangeRecord
from agent_otel.sessions import Session, current_session

__all__ = [
    "UNDO_AGENT_NAME",
    "UndoPlan",
    "UndoRefused",
    "UndoResult",
    "apply_undo",
    "plan_undo",
    "undo_blocker",
    "undo_change",
    "undo_hint",
]

UNDO_AGENT_NAME = "agent-otel undo"
"""Agent name of the small session that records an undo made outside any session."""

UNDO_TOOL_NAME = "undo"
"""Tool name of the undo operation (its span is ``execute_tool undo``; its type is write)."""

_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)

# What undoing each kind of change is, as a change of its own.
_INVERSE = {"create": "delete", "modify": "modify", "delete": "create"}


class UndoRefused(Exception):
    """The change cannot be undone safely; the message says why. Nothing was changed."""


@dataclass(frozen=True, slots=True)
class UndoPlan:
    """What undoing one change will do, checked against the file as it is now."""

    change: ChangeRecord
    path: Path
    """The file to restore or delete: absolute, symlinks resolved, inside the workspace."""
    current: bytes | None
    """The file's content now; None when it does not exist (undoing a deletion)."""
    restored: bytes | None
    """The content after the undo; None when the undo deletes the file (undoing a creation)."""

    @property
    def action(self) -> str:
        """``restore``, ``delete`` or ``recreate``."""
        if self.restored is None:
            return "delete"
        return "recreate" if self.current is None else "restore"

    @property
    def change_type(self) -> str:
        """The change type of the undo itself: the inverse of the undone change's."""
        return _INVERSE[self.change.change_type]

    def diff(self) -> str:
        """The unified diff from the file now to the file after the undo."""
        before = as_text(self.current) if self.current is not None else ""
        after = as_text(self.restored) if self.restored is not None else ""
        # Both are text: binary changes are refused, and the current content hashes to the
        # recorded after-content, which was text.
        return unified_diff(self.change.path, before or "", after or "")


@dataclass(frozen=True, slots=True)
class UndoResult:
    """An undo that was applied and recorded."""

    plan: UndoPlan
    session_id: str
    operation_id: str
    change: ChangeRecord
    """The undo's own change record."""


def undo_blocker(change: ChangeRecord) -> str | None:
    """Why the record alone rules out an undo, or None when only the file itself (checked by
    :func:`plan_undo`) can still refuse it."""
    if change.binary:
        return "binary content is never recorded"
    if not change.can_undo:
        return "recorded as not undoable"
    if change.change_type not in _INVERSE:
        return f"unknown change type {change.change_type!r}"
    if change.change_type == "create":
        if change.after_sha256 is None:
            return "no hash of the created content was recorded"
        return None
    if change.before is None:
        return "old content not captured (content capture was off)"
    if change.before_sha256 is None or sha256_hex(change.before) != change.before_sha256:
        return "captured old content is not exact (secrets redacted or cut to the size limit)"
    if change.change_type == "modify" and change.after_sha256 is None:
        return "no hash of the new content was recorded"
    return None


def undo_hint(change: ChangeRecord) -> str:
    """Whether ``agent-otel undo`` can take the change back, as ``show`` and the report say
    it: the command that works, or why it would not."""
    blocker = undo_blocker(change)
    if blocker is not None:
        return f"cannot undo: {blocker}"
    if change.undo_operation_id:
        return "can undo"
    return f"can undo: agent-otel undo {fmt.short_id(change.id)}"


def plan_undo(change: ChangeRecord, workspace: str | os.PathLike[str] | None) -> UndoPlan:
    """Check that ``change`` can be undone now and say what the undo will do.

    ``workspace`` is the workspace of the session that recorded the change; relative change
    paths are resolved against it and no path may leave it. Raises :class:`UndoRefused`.
    """
    blocker = undo_blocker(change)
    if blocker is not None:
        raise UndoRefused(blocker)
    path = resolve_path(change.path, workspace)
    current = read_file(path)
    before = None if change.before is None else content_bytes(change.before)
    if change.change_type == "delete":
        if current is not None:
            raise UndoRefused(f"{path} exists again (the change deleted it)")
        if not path.parent.is_dir():
            raise UndoRefused(f"the directory {path.parent} no longer exists")
        return UndoPlan(change, path, None, before)
    if current is None:
        raise UndoRefused(f"{path} no longer exists")
    if sha256_hex(current) != change.after_sha256:
        if change.undo_operation_id:
            raise UndoRefused(f"it was already undone by operation {change.undo_operation_id}")
        raise UndoRefused(
            f"{path} has changed since (its SHA-256 is not the one recorded after the change)"
        )
    return UndoPlan(change, path, current, None if change.change_type == "create" else before)


def resolve_path(recorded: str, workspace: str | os.PathLike[str] | None) -> Path:
    """The real path of ``recorded`` (relative to ``workspace`` unless absolute), symlinks
    resolved; :class:`UndoRefused` when it leaves the workspace."""
    if not workspace:
        raise UndoRefused(f"the session recorded no workspace to check {recorded} against")
    if not os.path.isabs(workspace):
        raise UndoRefused(f"the session's workspace {workspace} is a relative path")
    root = Path(os.path.realpath(workspace))
    if not root.is_dir():
        raise UndoRefused(f"the session's workspace {workspace} does not exist")
    real = Path(os.path.realpath(Path(workspace, recorded)))
    if real != root and root not in real.parents:
        raise UndoRefused(f"{recorded} resolves to {real}, outside the workspace {root}")
    return real


def read_file(path: Path) -> bytes | None:
    """The content of the regular file at ``path``; None when nothing is there."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UndoRefused(f"cannot inspect {path}: {error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UndoRefused(f"{path} is not a regular file")
    try:
        return path.read_bytes()
    except OSError as error:
        raise UndoRefused(f"cannot read {path}: {error.strerror or error}") from None


def apply_undo(plan: UndoPlan) -> None:
    """Carry out ``plan``: write the restored content atomically, or delete the file.

    The file is read once more first; if it changed since the plan was made, nothing is
    written (:class:`UndoRefused`). ``OSError`` from the file system propagates.
    """
    if read_file(plan.path) != plan.current:
        raise UndoRefused(f"{plan.path} changed while the undo was prepared; nothing was written")
    if plan.restored is None:
        os.unlink(plan.path)
    else:
        write_atomically(plan.path, plan.restored, replace=plan.current is not None)


def write_atomically(path: Path, data: bytes, *, replace: bool) -> None:
    """Write ``data`` to a new file beside ``path`` and move it into place in one step, so
    that ``path`` never holds a partial content.

    ``replace``: the file exists and keeps its mode. Otherwise the file is created with the
    default mode (0666 less the umask) and never overwrites one that appeared meanwhile.
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.undo")
    fd = os.open(temporary, _CREATE_FLAGS, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if a file appeared at path meanwhile
            os.unlink(temporary)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def undo_change(
    change: ChangeRecord,
    workspace: str | os.PathLike[str] | None,
    *,
    project: str | None = None,
) -> UndoResult:
    """Undo ``change`` and record the undo: plan, apply, and record a ``write`` operation that
    links to the undone operation, with the undo's own change record.

    The operation joins the current session; with none, it gets a small session of its own
    (agent name :data:`UNDO_AGENT_NAME`, the OS user, ``workspace`` and ``project``).
    Raises :class:`UndoRefused` before anything is touched when the undo is not safe, and
    ``OSError`` when writing fails (the operation is then recorded as failed).
    """
    plan = plan_undo(change, workspace)
    if current_session() is not None:
        return _apply_recorded(plan)
    with Session(workspace=workspace, agent_name=UNDO_AGENT_NAME, project=project):
        return _apply_recorded(plan)


def _apply_recorded(plan: UndoPlan) -> UndoResult:
    change = plan.change
    with Operation("write", change.path, undoes=change, tool_name=UNDO_TOOL_NAME) as op:
        apply_undo(plan)
        record = op.record_change(
            change.path, plan.change_type, before=plan.current, after=plan.restored
        )
    session = op.session
    return UndoResult(plan, session.id if session else "", op.id, record)
