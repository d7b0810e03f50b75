"""The ``agent-otel`` command line, run as users run it: the installed console script in a
subprocess, over a store written by the real library in another process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.cli.runner import Result, clean_env, cli

HERE = Path(__file__).parent
ALPHA, BETA = "s-alpha-0001", "s-beta-0002"
ANSI_ESCAPE = "\x1b"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store written by agent_otel.configure() in its own process (see write_store.py)."""
    home = tmp_path_factory.mktemp("cli-store")
    subprocess.run(
        [sys.executable, str(HERE / "write_store.py")],
        env=clean_env(AGENT_OTEL_HOME=str(home), AGENT_OTEL_CAPTURE_CONTENT="true"),
        cwd=home,
        check=True,
        timeout=120,
    )
    assert (home / "traces.jsonl").is_file()
    return home


@pytest.fixture(scope="module")
def alpha(store: Path) -> dict[str, Any]:
    """The alpha session as ``show --json`` gives it."""
    result = cli("show", ALPHA, "--json", home=store)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = result.json()
    return data


def rows(stdout: str) -> dict[str, list[str]]:
    """Table rows of `sessions` output, keyed by session id."""
    out = {}
    for line in stdout.splitlines():
        cells = line.split()
        if cells and cells[0] in (ALPHA, BETA, "twin-a1", "twin-a2"):
            out[cells[0]] = cells
    return out


# -- sessions -------------------------------------------------------------------------------


def test_sessions_lists_every_session_newest_first(store: Path) -> None:
    result = cli("sessions", home=store)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    table = rows(result.stdout)
    assert list(table) == ["twin-a2", "twin-a1", BETA, ALPHA]
    alpha = table[ALPHA]
    assert alpha[1:3] == ["alice", "completed"]
    # id, user, status, date, time, duration, operations, tokens, cost
    assert alpha[6:] == ["6", "1,560", "$0.0436"]
    assert table[BETA][1:3] == ["bob", "failed"]
    assert table[BETA][6:] == ["1", "0", "$0"]
    assert table["twin-a1"][1:3] == ["carol", "completed"]
    assert "4 sessions · 7 operations · 1,560 tokens · $0.0436 · 1 failed" in result.stdout


def test_sessions_start_is_local_time(store: Path, alpha: dict[str, Any]) -> None:
    started = datetime.fromisoformat(alpha["started_at"])
    table = rows(cli("sessions", home=store).stdout)
    shown = datetime.strptime(" ".join(table[ALPHA][3:5]), "%Y-%m-%d %H:%M:%S")
    local = started.astimezone().replace(tzinfo=None)
    assert abs(shown - local) < timedelta(seconds=1)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--user", "bob"], [BETA]),
        (["--status", "failed"], [BETA]),
        (["--user", "carol", "--limit", "1"], ["twin-a2"]),
        (["--limit", "2"], ["twin-a2", "twin-a1"]),
        (["--user", "alice", "--status", "completed"], [ALPHA]),
    ],
)
def test_sessions_filters(store: Path, options: list[str], expected: list[str]) -> None:
    result = cli("sessions", *options, home=store)
    assert result.returncode == 0, result.stderr
    assert list(rows(result.stdout)) == expected
    assert "(of 4 in the store)" in result.stdout


def test_sessions_no_match_is_not_an_error(store: Path) -> None:
    result = cli("sessions", "--user", "nobody", home=store)
    assert result.returncode == 0
    assert "No sessions match" in result.stdout
    assert cli("sessions", "--user", "nobody", "--json", home=store).json() == []


def test_sessions_json(store: Path) -> None:
    result = cli("sessions", "--json", home=store)
    assert result.returncode == 0, result.stderr
    data = result.json()
    assert [s["id"] for s in data] == ["twin-a2", "twin-a1", BETA, ALPHA]
    alpha = data[3]
    assert alpha["user_id"] == "alice"
    assert alpha["status"] == "completed"
    assert alpha["operation_count"] == 6
    assert alpha["total_tokens"] == 1560
    assert alpha["total_cost"] == pytest.approx(0.0436)
    assert alpha["model"] == "claude-test"
    assert alpha["service_name"] == "cli-test-agent"
    assert [op["type"] for op in alpha["operations"]] == [
        "read", "write", "execute", "execute", "query", "write",
    ]  # fmt: skip
    started = datetime.fromisoformat(alpha["started_at"])
    ended = datetime.fromisoformat(alpha["ended_at"])
    assert started.utcoffset() == timedelta(0)
    assert alpha["duration_s"] == pytest.approx((ended - started).total_seconds(), abs=1e-3)
    assert data[2]["status"] == "failed"
    assert data[2]["error"] == "RuntimeError: model exploded"


# -- show -----------------------------------------------------------------------------------


def test_show_renders_the_session_tree(store: Path, alpha: dict[str, Any]) -> None:
    result = cli("show", "s-al", home=store)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    # header
    for text in ("s-alpha-0001", "alice", "coder", "claude-test", "Fix the failing test"):
        assert text in out
    assert "Tier         2" in out
    assert "Temperature  0.2" in out
    assert "Tokens       1,560" in out
    assert "Cost         $0.0436" in out
    # every operation, in start order, with its status
    ops = alpha["operations"]
    tree = out[out.index("Operations (6)") : out.index("LLM calls outside operations")]
    op_lines = [ln for ln in tree.splitlines() if ln.startswith(("├── ", "└── "))]
    assert [ln[4:12] for ln in op_lines] == [op["id"][:8] for op in ops]
    read, write, blocked, failed, query, undo = op_lines
    assert "read src/app.py" in read and "success" in read
    assert "write src/app.py" in write and "approved by bob" in write
    assert "execute rm -rf build" in blocked and "blocked: destructive command" in blocked
    assert "execute pytest -x" in failed and "failed: tests failed" in failed
    assert "exit 1" in failed
    assert "query how to fix the test" in query and "1,200 in / 300 out tokens" in query
    assert "$0.0425" in query
    # the change, its diff, and the undo relation both ways
    change_id = ops[1]["changes"][0]["id"][:8]
    undo_id = ops[5]["id"][:8]
    assert f"undoes change {change_id}" in undo
    change_line = next(ln for ln in out.splitlines() if f"change {change_id}" in ln)
    assert "modify src/app.py" in change_line
    assert "2 diff lines" in change_line and "can undo" in change_line
    assert f"undone by {undo_id}" in change_line
    assert "+new line" in out and "-old line" in out
    assert "@@ -1 +1 @@" in out
    # LLM calls: inside the query operation, and outside any operation
    call = next(ln for ln in out.splitlines() if "chat gpt-test" in ln)
    assert "model gpt-test" in call and "provider openai" in call and "$0.0425" in call
    assert "LLM calls outside operations (1)" in out
    assert "model gpt-mini" in out
    assert out.index("chat gpt-test") < out.index("LLM calls outside operations")


def test_show_failed_session_shows_its_error(store: Path) -> None:
    result = cli("show", BETA, home=store)
    assert result.returncode == 0, result.stderr
    assert "failed" in result.stdout
    assert "Error        RuntimeError: model exploded" in result.stdout
    assert "read README.md" in result.stdout


def test_show_json(store: Path, alpha: dict[str, Any]) -> None:
    assert alpha["id"] == ALPHA
    assert alpha["initial_prompt"] == "Fix the failing test"
    ops = alpha["operations"]
    blocked, failed = ops[2], ops[3]
    assert blocked["status"] == "blocked"
    assert blocked["blocked_reason"] == "destructive command"
    assert failed["status"] == "failed"
    assert failed["error"] == "tests failed"
    assert failed["exit_code"] == 1
    change = ops[1]["changes"][0]
    assert change["undo_operation_id"] == ops[5]["id"]
    assert ops[5]["undoes_change_id"] == change["id"]
    assert "+new line" in change["diff"]
    assert datetime.fromisoformat(change["timestamp"]).utcoffset() == timedelta(0)
    (call,) = ops[4]["llm_calls"]
    assert call["model"] == "gpt-test"
    assert call["usage"] == {
        "input_tokens": 1200,
        "output_tokens": 300,
        "cache_read_tokens": 0,
        "cache_creation_tokens": 0,
        "reasoning_tokens": 0,
        "cost": pytest.approx(0.0425),
        "total_tokens": 1500,
    }
    outside = [c for c in alpha["llm_calls"] if c["operation_id"] is None]
    assert [c["model"] for c in outside] == ["gpt-mini"]


def test_show_accepts_the_full_id_even_when_it_prefixes_nothing_else(store: Path) -> None:
    assert cli("show", "twin-a1", "--json", home=store).json()["id"] == "twin-a1"


def test_show_finds_a_session_by_its_trace_id(store: Path, alpha: dict[str, Any]) -> None:
    """The id Jaeger and Tempo show, in either case, names the session of that trace."""
    for trace_id in (alpha["trace_id"], alpha["trace_id"].upper()):
        assert cli("show", trace_id, "--json", home=store).json()["id"] == ALPHA


# -- output for pipes and terminals ---------------------------------------------------------


@pytest.mark.parametrize("command", [["sessions"], ["show", ALPHA]])
def test_plain_text_when_stdout_is_not_a_terminal(store: Path, command: list[str]) -> None:
    result = cli(*command, home=store)
    assert result.returncode == 0, result.stderr
    assert ANSI_ESCAPE not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 120
    narrow = cli(*command, home=store, COLUMNS="80")
    assert ANSI_ESCAPE not in narrow.stdout
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80


def test_colour_when_forced(store: Path) -> None:
    result = cli("sessions", home=store, FORCE_COLOR="1")
    assert result.returncode == 0, result.stderr
    assert ANSI_ESCAPE + "[" in result.stdout


# -- where the telemetry comes from ---------------------------------------------------------


def test_store_option_reads_a_directory_or_an_otlp_json_file(store: Path, tmp_path: Path) -> None:
    empty_home = tmp_path / "nothing-here"
    for args in (
        ["--store", str(store), "sessions", "--json"],
        ["sessions", "--store", str(store), "--json"],
        ["--store", str(store / "traces.jsonl"), "sessions", "--json"],
    ):
        result = cli(*args, home=empty_home)
        assert result.returncode == 0, result.stderr
        assert len(result.json()) == 4


def test_corrupt_line_is_reported_once_and_skipped(store: Path, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged"
    shutil.copytree(store, damaged)
    traces = damaged / "traces.jsonl"
    good_lines = len(traces.read_bytes().splitlines())
    with traces.open("ab") as f:
        f.write(b'{"resourceSpans": [{"scopeSpans": tru\n')
    for args in (["sessions"], ["show", ALPHA]):
        result = cli(*args, home=damaged)
        assert result.returncode == 0, result.stderr
        assert ALPHA in result.stdout
        warnings = result.stderr.splitlines()
        assert len(warnings) == 1, result.stderr
        assert warnings[0].startswith("agent-otel: warning: ")
        assert f"{traces}:{good_lines + 1}" in warnings[0]
    assert len(rows(cli("sessions", home=damaged).stdout)) == 4


# -- errors ---------------------------------------------------------------------------------


def assert_error(result: Result, message: str) -> None:
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"agent-otel: {message}\n"


@pytest.mark.parametrize("command", [["sessions"], ["show", ALPHA], ["sessions", "--json"]])
def test_missing_store(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "no-store"
    hint = "(run an agent first, or pass --store)"
    assert_error(cli(*command, home=missing), f"no telemetry store at {missing} {hint}")
    missing_file = tmp_path / "collector-output.json"
    assert_error(
        cli("--store", str(missing_file), *command, home=tmp_path),
        f"no telemetry store at {missing_file} {hint}",
    )


def test_unknown_session(store: Path) -> None:
    assert_error(cli("show", "xyz", home=store), "no session matches 'xyz'")
    assert_error(cli("show", "xyz", "--json", home=store), "no session matches 'xyz'")


def test_ambiguous_prefix_lists_the_candidates(store: Path) -> None:
    result = cli("show", "twin-a", home=store)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("agent-otel: 'twin-a' is ambiguous")
    assert "twin-a1" in result.stderr and "twin-a2" in result.stderr


def test_usage_errors(store: Path) -> None:
    assert cli(home=store).returncode == 2
    assert cli("sessions", "--limit", "0", home=store).returncode == 2
    assert cli("sessions", "--status", "weird", home=store).returncode == 2
    assert cli("show", home=store).returncode == 2


# -- entry points ---------------------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    from agent_otel import __version__

    assert cli("--version", home=tmp_path).stdout == f"agent-otel {__version__}\n"
    module = subprocess.run(
        [sys.executable, "-m", "agent_otel", "--version"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert module.returncode == 0
    assert module.stdout == f"agent-otel {__version__}\n"


def test_python_m_runs_the_same_cli(store: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent_otel", "sessions", "--json"],
        env=clean_env(AGENT_OTEL_HOME=str(store)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 4
