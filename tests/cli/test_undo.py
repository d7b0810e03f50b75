"""``agent-otel undo``, run as users run it, on files that an agent process really changed and
recorded through the library (see undo_workload.py)."""

from __future__ import annotations

import getpass
import hashlib
import itertools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import agent_otel
from agent_otel.store import read_spans
from agent_otel.undo import UndoRefused, undo_change
from tests.cli.runner import Result, clean_env, cli
from tests.conftest import Harness

HERE = Path(__file__).parent


@dataclass
class Workload:
    home: Path
    workspace: Path
    ids: dict[str, str]

    def undo(self, name: str, *options: str) -> Result:
        return cli("undo", self.ids[name], *options, home=self.home)

    def sessions(self) -> list[dict[str, Any]]:
        result = cli("sessions", "--json", home=self.home)
        assert result.returncode == 0, result.stderr
        sessions: list[dict[str, Any]] = result.json()
        return sessions

    def change(self, name: str) -> dict[str, Any]:
        source = cli("show", "undo-src", "--json", home=self.home).json()
        return next(
            c for op in source["operations"] for c in op["changes"] if c["id"] == self.ids[name]
        )


def run_workload(tmp_path: Path, *, capture: bool) -> Workload:
    home, workspace = tmp_path / "store", tmp_path / "ws"
    done = subprocess.run(
        [sys.executable, str(HERE / "undo_workload.py"), str(workspace)],
        env=clean_env(
            AGENT_OTEL_HOME=str(home),
            AGENT_OTEL_CAPTURE_CONTENT="true" if capture else "false",
            AGENT_OTEL_CONTENT_MAX_BYTES="2048",
        ),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return Workload(home, workspace, json.loads(done.stdout))


@pytest.fixture
def work(tmp_path: Path) -> Workload:
    """Files changed by an agent with content capture on."""
    return run_workload(tmp_path, capture=True)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def default_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# -- undoing --------------------------------------------------------------------------------


def test_undo_restores_the_file_and_records_a_linked_write(work: Workload) -> None:
    app = work.workspace / "app.py"
    assert app.read_text() == "new\n"
    result = work.undo("modify")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert app.read_text() == "old\n"
    out = result.stdout
    assert f"Restored {app}" in out
    assert "-new" in out and "+old" in out
    assert "Recorded as operation" in out

    # The undo is a session of its own, by the CLI's user, in the workspace of the change.
    undo_session = next(s for s in work.sessions() if s["id"] != "undo-src")
    assert undo_session["agent_name"] == "agent-otel undo"
    assert undo_session["user_id"] == getpass.getuser()
    assert undo_session["workspace"] == str(work.workspace)
    assert undo_session["status"] == "completed"
    (op,) = undo_session["operations"]
    assert op["type"] == "write"
    assert op["target"] == "app.py"
    assert op["status"] == "success"
    assert op["undoes_change_id"] == work.ids["modify"]
    (own,) = op["changes"]
    assert own["change_type"] == "modify"
    assert own["before_sha256"] == sha256(b"new\n")
    assert own["after_sha256"] == sha256(b"old\n")
    recorded = f"Recorded as operation {op['id'][:8]} of session {undo_session['id']} in"
    assert f"{recorded} {work.home}." in " ".join(out.split())

    # The undone change points back at it, through the span link of the undo operation.
    undone = work.change("modify")
    assert undone["undo_operation_id"] == op["id"]
    (link,) = [link for s in read_spans(work.home) if s.span_id == op["id"] for link in s.links]
    assert link.trace_id == undone["trace_id"]
    assert link.span_id == undone["operation_id"]


def test_a_change_read_from_a_single_file_is_recorded_in_the_default_store(
    work: Workload, tmp_path: Path
) -> None:
    exported = tmp_path / "collector-output.json"
    exported.write_bytes((work.home / "traces.jsonl").read_bytes())
    home = tmp_path / "default-store"
    result = cli("--store", str(exported), "undo", work.ids["modify"], home=home)
    assert result.returncode == 0, result.stderr
    assert f"in {home}." in " ".join(result.stdout.split())  # however the line was wrapped
    assert exported.read_bytes() == (work.home / "traces.jsonl").read_bytes()
    (undo,) = cli("sessions", "--json", home=home).json()
    assert undo["operations"][0]["undoes_change_id"] == work.ids["modify"]


def test_json_outcome(work: Workload) -> None:
    result = work.undo("nested", "--json")
    assert result.returncode == 0, result.stderr
    outcome = result.json()
    assert outcome["change_id"] == work.ids["nested"]
    assert outcome["path"] == str(work.workspace / "pkg" / "sub" / "mod.py")
    assert outcome["action"] == "restore"
    assert outcome["dry_run"] is False
    assert "-x = 2\n+x = 1" in outcome["diff"]
    assert outcome["store"] == str(work.home)
    ops = [op["id"] for s in work.sessions() for op in s["operations"]]
    assert outcome["operation_id"] in ops
    assert (work.workspace / "pkg" / "sub" / "mod.py").read_text() == "x = 1\n"


def test_dry_run_shows_the_diff_and_changes_nothing(work: Workload) -> None:
    traces = (work.home / "traces.jsonl").read_bytes()
    result = work.undo("modify", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"Would restore {work.workspace / 'app.py'}" in result.stdout
    assert "@@ -1 +1 @@" in result.stdout and "-new" in result.stdout
    assert "+old" in result.stdout
    assert (work.workspace / "app.py").read_text() == "new\n"
    assert (work.home / "traces.jsonl").read_bytes() == traces
    dry = work.undo("modify", "--dry-run", "--json").json()
    assert dry["dry_run"] is True and dry["operation_id"] is None


def test_undoing_a_creation_deletes_the_file(work: Workload) -> None:
    created = work.workspace / "created.txt"
    result = work.undo("create")
    assert result.returncode == 0, result.stderr
    assert f"Deleted {created}" in result.stdout
    assert not created.exists()
    (undo,) = [s for s in work.sessions() if s["id"] != "undo-src"]
    (change,) = undo["operations"][0]["changes"]
    assert change["change_type"] == "delete"
    assert change["before_sha256"] == sha256(b"hello\n")


def test_undoing_a_deletion_recreates_the_file(work: Workload) -> None:
    gone = work.workspace / "gone.txt"
    assert not gone.exists()
    result = work.undo("delete")
    assert result.returncode == 0, result.stderr
    assert f"Recreated {gone}" in result.stdout
    assert gone.read_text() == "bye\n"
    assert gone.stat().st_mode & 0o777 == default_file_mode()
    assert [p.name for p in work.workspace.iterdir() if p.name.endswith(".undo")] == []


def test_the_file_keeps_its_mode(work: Workload) -> None:
    tool = work.workspace / "tool.sh"
    assert tool.stat().st_mode & 0o777 == 0o750
    result = work.undo("mode")
    assert result.returncode == 0, result.stderr
    assert tool.read_text() == "#!/bin/sh\necho old\n"
    assert tool.stat().st_mode & 0o777 == 0o750


# -- refusals -------------------------------------------------------------------------------


def edit_app(work: Workload) -> None:
    (work.workspace / "app.py").write_text("edited by hand\n")


def remove_app(work: Workload) -> None:
    (work.workspace / "app.py").unlink()


def link_outside(work: Workload) -> None:
    """linked.txt becomes a symlink to a file outside the workspace holding exactly what the
    change left, so that only the symlink check can stop the undo."""
    elsewhere = work.workspace.parent / "elsewhere.txt"
    elsewhere.write_text("linked new\n")
    (work.workspace / "linked.txt").unlink()
    (work.workspace / "linked.txt").symlink_to(elsewhere)


def recreate_gone(work: Workload) -> None:
    (work.workspace / "gone.txt").write_text("back\n")


def nothing(work: Workload) -> None:
    pass


@pytest.mark.parametrize(
    ("name", "setup", "reason"),
    [
        ("modify", edit_app, "app.py has changed since (its SHA-256 is not the one recorded"),
        ("modify", remove_app, "app.py no longer exists"),
        ("binary", nothing, "binary content is never recorded"),
        (
            "secret",
            nothing,
            "captured old content is not exact (secrets redacted or cut to the size limit)",
        ),
        ("big", nothing, "captured old content is not exact"),
        ("escape", nothing, "../outside.txt resolves to"),
        ("linked", link_outside, "linked.txt resolves to"),
        ("delete", recreate_gone, "gone.txt exists again (the change deleted it)"),
    ],
)
def test_unsafe_undo_is_refused_with_the_reason(
    work: Workload, name: str, setup: Any, reason: str
) -> None:
    setup(work)
    files = snapshot(work.workspace.parent)
    result = work.undo(name)
    assert result.returncode == 1
    assert result.stdout == ""
    short = work.ids[name][:8]
    assert result.stderr.startswith(f"agent-otel: cannot undo change {short} (")
    assert result.stderr.count("\n") == 1
    assert reason in result.stderr
    if name in ("escape", "linked"):
        assert f"outside the workspace {work.workspace}" in result.stderr
    assert snapshot(work.workspace.parent) == files
    assert [s["id"] for s in work.sessions()] == ["undo-src"]


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file (content) and symlink (target) under ``root``, but the store."""
    out: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        if "store" in path.relative_to(root).parts:
            continue
        if path.is_symlink():
            out[str(path)] = os.readlink(path)
        elif path.is_file():
            out[str(path)] = path.read_bytes()
    return out


def test_a_change_is_undone_once(work: Workload) -> None:
    first = work.undo("modify")
    assert first.returncode == 0, first.stderr
    undo_op = next(s for s in work.sessions() if s["id"] != "undo-src")["operations"][0]["id"]
    again = work.undo("modify")
    assert again.returncode == 1
    assert f"it was already undone by operation {undo_op}" in again.stderr
    assert (work.workspace / "app.py").read_text() == "old\n"


def test_without_captured_content_only_creations_can_be_undone(tmp_path: Path) -> None:
    work = run_workload(tmp_path, capture=False)
    result = work.undo("modify")
    assert result.returncode == 1
    assert "old content not captured (content capture was off)" in result.stderr
    assert (work.workspace / "app.py").read_text() == "new\n"
    # Undoing a creation needs only the hash of what was created.
    created = work.undo("create")
    assert created.returncode == 0, created.stderr
    assert not (work.workspace / "created.txt").exists()


# -- finding the change ---------------------------------------------------------------------


def test_a_unique_prefix_finds_the_change(work: Workload) -> None:
    result = cli("undo", work.ids["modify"][:8], "--dry-run", home=work.home)
    assert result.returncode == 0, result.stderr
    assert "Would restore" in result.stdout


def test_unknown_and_ambiguous_change_ids(work: Workload) -> None:
    unknown = cli("undo", "zzzz", home=work.home)
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert unknown.stderr == "agent-otel: no change matches 'zzzz'\n"
    # The longest prefix two change ids share (the empty prefix, rarely, matches them all).
    ids = sorted(work.ids.values())
    prefix = max((shared_prefix(a, b) for a, b in itertools.pairwise(ids)), key=len)
    ambiguous = cli("undo", prefix, home=work.home)
    assert ambiguous.returncode == 1
    assert ambiguous.stderr.startswith(f"agent-otel: {prefix!r} is ambiguous; it matches ")
    assert ambiguous.stderr.count("\n") == 1


def shared_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def test_missing_store(tmp_path: Path) -> None:
    result = cli("undo", "abc", home=tmp_path / "none")
    assert result.returncode == 1
    assert result.stderr.startswith(f"agent-otel: no telemetry store at {tmp_path / 'none'}")


# -- what show says about undoing -----------------------------------------------------------


def test_show_says_which_changes_can_be_undone_and_how(tmp_path: Path) -> None:
    work = run_workload(tmp_path / "on", capture=True)
    out = cli("show", "undo-src", home=work.home).stdout
    lines = {name: line_of(out, work.ids[name]) for name in work.ids}
    assert f"can undo: agent-otel undo {work.ids['modify'][:8]}" in lines["modify"]
    assert "cannot undo: binary content is never recorded" in lines["binary"]
    assert "cannot undo: captured old content is not exact" in lines["secret"]

    off = run_workload(tmp_path / "off", capture=False)
    out = cli("show", "undo-src", home=off.home).stdout
    modify = line_of(out, off.ids["modify"])
    assert "cannot undo: old content not captured (content capture was off)" in modify
    assert "diff not captured" in out
    assert f"can undo: agent-otel undo {off.ids['create'][:8]}" in line_of(out, off.ids["create"])


def line_of(out: str, change_id: str) -> str:
    return next(line for line in out.splitlines() if f"change {change_id[:8]}" in line)


# -- from Python ----------------------------------------------------------------------------


def test_undo_from_python_joins_the_current_session(tel_content: Harness, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("one\n")
    with agent_otel.session(workspace=tmp_path) as session:
        with session.operation("write", "notes.txt") as op:
            target.write_text("two\n")
            change = op.record_change("notes.txt", "modify", before="one\n", after="two\n")
        result = undo_change(change, tmp_path)
        with pytest.raises(UndoRefused, match="has changed since"):
            undo_change(change, tmp_path)
    assert target.read_text() == "one\n"
    (recorded,) = tel_content.sessions()
    write, undo = recorded.operations
    assert (result.session_id, result.operation_id) == (session.id, undo.id)
    assert undo.undoes_change_id == change.id
    assert write.changes[0].undo_operation_id == undo.id
    assert undo.changes == (result.change,)
