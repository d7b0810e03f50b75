"""Change records: diff line counts, hashes, content capture and its budget, binary content."""

from __future__ import annotations

import hashlib

import agent_otel
from agent_otel import semconv as sc
from agent_otel.changes import count_diff_lines, unified_diff

OLD = "def add(a, b):\n    return a - b\n\n\nprint(add(1, 2))\n"
NEW = "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\nprint(add(3, 4))\n"


def _sha(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def test_modify_records_metadata_without_content(tel) -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("write", "calc.py") as op:
        change = op.record_change("calc.py", "modify", before=OLD, after=NEW)
    # one line changed (-1 +1) and one added (+1)
    assert change.diff_lines == 3
    assert change.can_undo is True
    assert change.operation_id == op.id
    assert change.before is None and change.after is None and change.diff is None
    (event,) = [e for e in tel.span("execute_tool write").events if e.name == sc.EVENT_AGENT_CHANGE]
    a = event.attributes
    assert a[sc.AGENT_CHANGE_ID] == change.id
    assert a[sc.FILE_PATH] == "calc.py"
    assert a[sc.AGENT_CHANGE_TYPE] == "modify"
    assert a[sc.AGENT_CHANGE_DIFF_LINES] == 3
    assert a[sc.AGENT_CHANGE_CAN_UNDO] is True
    assert a[sc.AGENT_CHANGE_BINARY] is False
    assert a[sc.AGENT_CHANGE_BEFORE_SHA256] == _sha(OLD)
    assert a[sc.AGENT_CHANGE_AFTER_SHA256] == _sha(NEW)
    assert a[sc.AGENT_CHANGE_BEFORE_SIZE] == len(OLD)
    assert a[sc.AGENT_CHANGE_AFTER_SIZE] == len(NEW)
    for key in (sc.AGENT_CHANGE_BEFORE, sc.AGENT_CHANGE_AFTER, sc.AGENT_CHANGE_DIFF):
        assert key not in a
    (read_back,) = tel.sessions()[0].operations[0].changes
    assert read_back.id == change.id and read_back.diff_lines == 3
    assert read_back.before_sha256 == change.before_sha256
    assert read_back.timestamp == change.timestamp


def test_content_capture_records_texts_and_a_real_unified_diff(tel_content) -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("write", "calc.py") as op:
        change = op.record_change("calc.py", "modify", before=OLD, after=NEW)
    assert change.before == OLD and change.after == NEW
    assert change.diff is not None
    assert change.diff.startswith("--- a/calc.py\n+++ b/calc.py\n@@")
    assert "-    return a - b" in change.diff and "+print(add(3, 4))" in change.diff
    assert change.diff_size == len(change.diff)
    (read_back,) = tel_content.sessions()[0].operations[0].changes
    assert (read_back.before, read_back.after, read_back.diff) == (OLD, NEW, change.diff)


def test_create_and_delete(tel) -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("write", "new.py") as op:
        created = op.record_change("new.py", "create", after="a\nb\n")
        deleted = op.record_change("old.py", "delete", before="x\ny\nz\n")
        unknown_old = op.record_change("gone.py", "delete")
    assert created.diff_lines == 2 and created.can_undo is True
    assert created.before_sha256 is None and created.after_sha256 == _sha("a\nb\n")
    assert deleted.diff_lines == 3 and deleted.can_undo is True
    assert deleted.after_sha256 is None
    assert unknown_old.can_undo is False  # nothing to restore from
    assert [c.change_type for c in tel.sessions()[0].operations[0].changes] == [
        "create",
        "delete",
        "delete",
    ]


def test_budget_truncates_and_keeps_original_size(tel) -> None:
    tel.telemetry.content = type(tel.telemetry.content)(capture=True, max_bytes=64)
    big_before = "é" * 100 + "\n"  # 201 bytes of UTF-8
    big_after = "ü" * 100 + "\n"
    with agent_otel.session(user_id="u"), agent_otel.operation("write", "big.txt") as op:
        change = op.record_change("big.txt", "modify", before=big_before, after=big_after)
    assert change.before is not None and len(change.before.encode()) <= 64
    assert change.before == "é" * 32  # never half a character
    assert change.before_size == 201 and change.after_size == 201
    a = next(e for e in tel.span("execute_tool write").events if e.name == sc.EVENT_AGENT_CHANGE)
    assert len(a.attributes[sc.AGENT_CHANGE_DIFF].encode()) <= 64
    assert a.attributes[sc.AGENT_CHANGE_DIFF_SIZE] > 64


def test_binary_and_non_utf8_content_is_hashed_not_diffed(tel_content) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff\xfe" * 10
    latin1 = "café\n".encode("latin-1")
    with agent_otel.session(user_id="u"), agent_otel.operation("write", "img.png") as op:
        binary = op.record_change("img.png", "modify", before=png, after=png + b"\x00")
        text_bytes = op.record_change("a.txt", "modify", before=b"a\n", after=b"b\n")
        legacy = op.record_change("l.txt", "modify", before=latin1, after=b"cafe\n")
    assert binary.binary is True and binary.diff_lines == 0 and binary.diff is None
    assert binary.before_sha256 == _sha(png) and binary.after_size == len(png) + 1
    assert binary.before is None  # binary content is never put in a string attribute
    assert text_bytes.binary is False and text_bytes.diff_lines == 2
    assert text_bytes.before == "a\n"
    assert legacy.binary is True and legacy.before_sha256 == _sha(latin1)


def test_diff_helpers() -> None:
    diff = unified_diff("f", "a\nb\nc\n", "a\nc\nd\n")
    assert count_diff_lines(diff) == 2
    assert count_diff_lines(unified_diff("f", "same\n", "same\n")) == 0
    # lines that look like headers inside the body still count as changes
    assert count_diff_lines(unified_diff("f", "-- x\n", "++ y\n")) == 2
