"""The store is readable by its owner only: every file and directory agent-otel creates in
it — current, rotated (traces and metrics alike), the CLI's index and its lock — even under
a umask that would let anyone read them."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent_otel
from tests.security.cli import run_cli, write_store

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)  # nothing masked: only the modes agent-otel asks for protect the files
    try:
        yield
    finally:
        os.umask(old)


def _agent(rounds: int) -> None:
    tel = agent_otel.configure()  # the configuration write_store made
    for i in range(rounds):
        session = agent_otel.session(user_id="alice", initial_prompt=f"task {i}")
        with session as s, s.operation("write", "app.py") as op:
            op.record_change("app.py", "modify", before="a\n" * 50, after="b\n" * 50)
        assert tel.force_flush()  # one line in traces and one in metrics per round


def test_every_store_file_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask: None
) -> None:
    monkeypatch.setenv("AGENT_OTEL_STORE_MAX_BYTES", "2048")  # every line rotates the file
    monkeypatch.setenv("AGENT_OTEL_STORE_MAX_FILES", "3")
    parent = tmp_path / "shared"
    parent.mkdir(mode=0o755)
    store = parent / "store"
    write_store(store, lambda: _agent(rounds=6))
    for command in (["sessions"], ["sessions", "--json"], ["summary", "--daily"]):
        done = run_cli(*command, store=store, cwd=tmp_path)  # builds the index
        assert done.returncode == 0, done.stderr

    entries = list(store.rglob("*"))
    names = [p.name for p in entries]
    assert "traces.jsonl" in names and "metrics.jsonl" in names
    assert any(n.startswith("traces.") and n != "traces.jsonl" for n in names), names
    assert any(n.startswith("metrics.") and n != "metrics.jsonl" for n in names), names
    assert len(names) > 4, names  # rotated files, and whatever the index keeps
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    for path in entries:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path.name, oct(mode))
