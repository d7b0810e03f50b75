"""``agent-otel show`` beyond the basics of test_cli.py: colours on a terminal, what a change
says about undoing it, and a store recorded without content capture."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.runner import clean_env, cli

HERE = Path(__file__).parent
ALPHA = "s-alpha-0001"
ANSI = re.compile(r"\x1b\[([0-9;]*)m")


def write_store(home: Path, *, capture: bool) -> Path:
    subprocess.run(
        [sys.executable, str(HERE / "write_store.py")],
        env=clean_env(
            AGENT_OTEL_HOME=str(home), AGENT_OTEL_CAPTURE_CONTENT="true" if capture else "false"
        ),
        check=True,
        timeout=120,
    )
    return home


@pytest.fixture(scope="module")
def with_content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("show-content"), capture=True)


@pytest.fixture(scope="module")
def without_content(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_store(tmp_path_factory.mktemp("show-no-content"), capture=False)


def styles(out: str, text: str) -> set[str]:
    """The SGR codes in effect where ``text`` starts, in coloured output."""
    for line in out.splitlines():
        start = ANSI.sub("", line).find(text)
        if start < 0:
            continue
        codes: set[str] = set()
        position = 0
        for piece in re.split(r"(\x1b\[[0-9;]*m)", line):
            match = ANSI.fullmatch(piece)
            if match:
                params = match.group(1)
                codes = set() if params in ("", "0") else codes | set(params.split(";"))
            elif position <= start < position + len(piece):
                return codes
            else:
                position += len(piece)
    raise AssertionError(f"{text!r} not in the output")


def test_colours_on_a_terminal(with_content: Path) -> None:
    out = cli("show", ALPHA, home=with_content, FORCE_COLOR="1").stdout
    red, green = {"31", "91"}, {"32", "92"}
    assert styles(out, "-old line") & red
    assert styles(out, "+new line") & green
    assert "1" in styles(out, "failed: tests failed") and styles(out, "failed: tests") & red
    assert "33" in styles(out, "blocked: destructive command")


def test_changes_say_whether_and_how_they_can_be_undone(with_content: Path) -> None:
    alpha = cli("show", ALPHA, "--json", home=with_content).json()
    undone = alpha["operations"][1]["changes"][0]
    undo_change = alpha["operations"][5]["changes"][0]
    out = cli("show", ALPHA, home=with_content).stdout
    undone_line = next(line for line in out.splitlines() if f"change {undone['id'][:8]}" in line)
    assert "can undo · undone by" in undone_line
    undo_line = next(line for line in out.splitlines() if f"change {undo_change['id'][:8]}" in line)
    assert undo_line.endswith(f"can undo: agent-otel undo {undo_change['id'][:8]}")


def test_without_content_capture(without_content: Path) -> None:
    result = cli("show", ALPHA, home=without_content, COLUMNS="200")  # one line per change
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Fix the failing test" not in out  # the prompt is content
    assert "@@" not in out  # so are diffs
    change_lines = [line for line in out.splitlines() if "change " in line and "modify" in line]
    assert len(change_lines) == 2
    for line in change_lines:
        assert "2 diff lines" in line  # metadata is always recorded
        assert "cannot undo: old content not captured (content capture was off)" in line
    assert out.count("diff not captured") == 2
    alpha = cli("show", ALPHA, "--json", home=without_content).json()
    change = alpha["operations"][1]["changes"][0]
    assert change["diff"] is None and change["before"] is None
    assert len(change["before_sha256"]) == 64
