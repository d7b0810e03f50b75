"""The store follower under ``agent-otel tail``, in process, against the store's real writer
(:class:`JsonLinesFile`: flock, rotation, pruning) and against what a writer can leave behind
(a half-written line, a line taken back, a replaced file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent_otel.store import follow
from agent_otel.store.follow import StoreFollower
from agent_otel.store.lines import Line
from agent_otel.store.writer import JsonLinesFile


def line(n: int) -> bytes:
    return b'{"n": %d, "pad": "%s"}\n' % (n, b"x" * 40)


def data(lines: list[Line]) -> list[bytes]:
    """The lines as written, newline included."""
    return [item.data + b"\n" for item in lines]


def writer(directory: Path, max_file_bytes: int = 1 << 20, max_files: int = 1000) -> JsonLinesFile:
    return JsonLinesFile(
        directory / "traces.jsonl", max_file_bytes=max_file_bytes, max_files=max_files
    )


def test_starts_at_the_end_and_numbers_lines_from_the_file_start(tmp_path: Path) -> None:
    out = writer(tmp_path)
    for n in range(3):
        out.write(line(n))
    follower = StoreFollower(tmp_path)
    assert follower.poll() == []
    out.write(line(3))
    (got,) = follower.poll()
    assert (got.path, got.lineno, got.data + b"\n") == (tmp_path / "traces.jsonl", 4, line(3))


def test_from_start_reads_rotated_files_then_the_current_one(tmp_path: Path) -> None:
    out = writer(tmp_path, max_file_bytes=100)
    for n in range(6):
        out.write(line(n))
    assert len(list(tmp_path.glob("traces.*-*.jsonl"))) == 5
    assert data(StoreFollower(tmp_path, from_start=True).poll()) == [line(n) for n in range(6)]


def test_many_rotations_between_two_polls(tmp_path: Path) -> None:
    out = writer(tmp_path, max_file_bytes=200)
    out.write(line(0))
    follower = StoreFollower(tmp_path)
    got = []
    for start in range(1, 60, 7):
        for n in range(start, start + 7):
            out.write(line(n))
        got += follower.poll()
    assert data(got) == [line(n) for n in range(1, 64)]


def test_a_store_that_appears_later(tmp_path: Path) -> None:
    store = tmp_path / "later"
    follower = StoreFollower(store)
    assert not follower.exists()
    assert follower.poll() == []
    out = writer(store, max_file_bytes=100)
    for n in range(3):
        out.write(line(n))  # rotates before the follower looks again
    assert follower.exists()
    assert data(follower.poll()) == [line(n) for n in range(3)]


def test_a_half_written_line_waits_for_its_end(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_bytes(line(0))
    follower = StoreFollower(tmp_path)
    with path.open("ab") as f:
        f.write(line(1)[:10])
    assert follower.poll() == []
    with path.open("ab") as f:
        f.write(line(1)[10:] + line(2)[:5])
    assert data(follower.poll()) == [line(1)]
    with path.open("ab") as f:
        f.write(line(2)[5:])
    assert data(follower.poll()) == [line(2)]


def test_a_line_the_writer_took_back_is_forgotten(tmp_path: Path) -> None:
    """The writer truncates a line it could not finish (say, on a full disk) and later
    writes a whole one in its place."""
    path = tmp_path / "traces.jsonl"
    path.write_bytes(line(0))
    follower = StoreFollower(tmp_path)
    with path.open("ab") as f:
        f.write(b'{"broken": "frag')
    assert follower.poll() == []
    os.truncate(path, len(line(0)))
    assert follower.poll() == []
    with path.open("ab") as f:
        f.write(line(1))
    (got,) = follower.poll()
    assert (got.lineno, got.data + b"\n") == (2, line(1))


def test_a_followed_file_that_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "collector-output.json"
    path.write_bytes(line(0))
    follower = StoreFollower(path)
    replacement = tmp_path / "new.json"
    replacement.write_bytes(line(1) + line(2))
    os.replace(replacement, path)
    assert data(follower.poll()) == [line(1), line(2)]


def test_an_unfinished_line_in_a_rotated_file_is_handed_over(tmp_path: Path) -> None:
    """A writer that died mid-line leaves a fragment that the rotation ends; the caller gets
    it, to report it as the truncated line it is."""
    out = writer(tmp_path, max_file_bytes=100)
    out.write(line(0))
    follower = StoreFollower(tmp_path)
    with (tmp_path / "traces.jsonl").open("ab") as f:
        f.write(b'{"dead": ')
    out.write(line(1))  # starts a fresh line, and rotates
    fragment, whole = follower.poll()
    assert (fragment.lineno, fragment.data) == (2, b'{"dead": ')
    assert (whole.lineno, whole.data + b"\n") == (1, line(1))


def test_rotations_right_after_each_directory_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worst timing: the writer rotates each time just after the follower has listed the
    rotated files, so that the current file it opens next is newer than what it listed."""
    out = writer(tmp_path, max_file_bytes=100)
    out.write(line(0))
    follower = StoreFollower(tmp_path)
    out.write(line(1))
    pending = [line(n) for n in range(5, 1, -1)]
    listed = follow.rotated_files

    def listing_then_rotation(directory: Path, stem: str) -> list[Path]:
        found = listed(directory, stem)
        if pending:
            out.write(pending.pop())  # each line is a new file: the previous one rotates
        return found

    monkeypatch.setattr(follow, "rotated_files", listing_then_rotation)
    got = follower.poll()
    got += follower.poll()
    assert not pending
    assert data(got) == [line(n) for n in range(1, 6)]
