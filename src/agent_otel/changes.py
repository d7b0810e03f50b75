"""Change records: what an operation did to a file, how big the change was, and how to undo it.

A change is recorded as an ``agent.change`` event on its operation's span. Its metadata — id,
path, type, diff line count, content hashes and sizes — is always recorded; the texts
(before, after, unified diff) are content and only recorded when content capture is on.
The hashes let an undo check that a file is still what the change left behind.
"""

from __future__ import annotations

import difflib
import hashlib
import uuid
from typing import Any

from agent_otel import semconv as sc
from agent_otel.content import ContentPolicy, as_text
from agent_otel.records import ChangeRecord

CHANGE_TYPES = sc.AGENT_CHANGE_TYPE_VALUES


def content_bytes(value: str | bytes) -> bytes:
    """The bytes a file holds for ``value``: text is UTF-8, as agents write files. Text that
    was decoded with ``surrogateescape`` gets its original bytes back."""
    if isinstance(value, bytes):
        return value
    try:
        return value.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", errors="surrogatepass")


def sha256_hex(value: str | bytes) -> str:
    return hashlib.sha256(content_bytes(value)).hexdigest()


def unified_diff(path: str, before: str, after: str) -> str:
    """A unified diff between two texts, with ``a/`` and ``b/`` paths as git writes them."""
    lines = difflib.unified_diff(
        before.splitlines(),
        after.splitlines(),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
        lineterm="",
    )
    return "\n".join(lines)


def count_diff_lines(diff: str) -> int:
    """Added plus removed lines of a unified diff. File headers (``---``/``+++`` before the
    first hunk) are not changes; inside a hunk every ``+``/``-`` line is, whatever follows."""
    count = 0
    in_hunk = False
    for line in diff.splitlines():
        if line.startswith("@@"):
            in_hunk = True
        elif in_hunk and line.startswith(("+", "-")):
            count += 1
    return count


def build_change(
    *,
    operation_id: str,
    trace_id: str,
    path: str,
    change_type: str,
    before: str | bytes | None,
    after: str | bytes | None,
    can_undo: bool | None,
    content: ContentPolicy,
) -> tuple[ChangeRecord, dict[str, Any]]:
    """The ChangeRecord for one change and the attributes of its span event."""
    before_text = as_text(before) if before is not None else ""
    after_text = as_text(after) if after is not None else ""
    binary = before_text is None or after_text is None
    diff = None if binary else unified_diff(path, before_text or "", after_text or "")
    if can_undo is None:
        # Undoing a creation deletes the file; anything else needs the old content.
        can_undo = change_type == "create" or before is not None

    attrs: dict[str, Any] = {
        sc.AGENT_CHANGE_ID: str(uuid.uuid4()),
        sc.FILE_PATH: path,
        sc.AGENT_CHANGE_TYPE: change_type,
        sc.AGENT_CHANGE_DIFF_LINES: count_diff_lines(diff) if diff is not None else 0,
        sc.AGENT_CHANGE_CAN_UNDO: can_undo,
        sc.AGENT_CHANGE_BINARY: binary,
    }
    if before is not None:
        attrs[sc.AGENT_CHANGE_BEFORE_SHA256] = sha256_hex(before)
        attrs[sc.AGENT_CHANGE_BEFORE_SIZE] = len(content_bytes(before))
    if after is not None:
        attrs[sc.AGENT_CHANGE_AFTER_SHA256] = sha256_hex(after)
        attrs[sc.AGENT_CHANGE_AFTER_SIZE] = len(content_bytes(after))
    if diff is not None:
        attrs[sc.AGENT_CHANGE_DIFF_SIZE] = len(diff.encode("utf-8", errors="replace"))

    texts = {}
    if content.capture:
        for key, text in (
            (sc.AGENT_CHANGE_BEFORE, before_text if before is not None else None),
            (sc.AGENT_CHANGE_AFTER, after_text if after is not None else None),
            (sc.AGENT_CHANGE_DIFF, diff),
        ):
            captured = content.capture_text(text) if text is not None else None
            if captured is not None:
                attrs[key] = texts[key] = captured.text

    record = ChangeRecord(
        id=attrs[sc.AGENT_CHANGE_ID],
        operation_id=operation_id,
        path=path,
        change_type=change_type,
        diff_lines=attrs[sc.AGENT_CHANGE_DIFF_LINES],
        can_undo=can_undo,
        before=texts.get(sc.AGENT_CHANGE_BEFORE),
        after=texts.get(sc.AGENT_CHANGE_AFTER),
        diff=texts.get(sc.AGENT_CHANGE_DIFF),
        before_sha256=attrs.get(sc.AGENT_CHANGE_BEFORE_SHA256),
        after_sha256=attrs.get(sc.AGENT_CHANGE_AFTER_SHA256),
        before_size=attrs.get(sc.AGENT_CHANGE_BEFORE_SIZE),
        after_size=attrs.get(sc.AGENT_CHANGE_AFTER_SIZE),
        diff_size=attrs.get(sc.AGENT_CHANGE_DIFF_SIZE),
        binary=binary,
        trace_id=trace_id,
    )
    return record, attrs
