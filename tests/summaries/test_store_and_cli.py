"""The summaries of a real local store (written by the library in another process) equal the
in-memory summaries of the same sessions, and ``agent-otel summary`` prints exactly them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import agent_otel
from agent_otel.facts import SessionFacts
from agent_otel.summaries import DailySummary, ProjectSummary, facts_from_session, from_store
from tests.cli.runner import SCRIPT, clean_env, cli

from . import brute_force
from .workload import generate, install_clock, run

HERE = Path(__file__).parent
ANSI_ESCAPE = "\x1b"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated workload, written by agent_otel.configure() in its own process."""
    home = tmp_path_factory.mktemp("summary-store")
    subprocess.run(
        [sys.executable, str(HERE / "write_store.py")],
        env=clean_env(AGENT_OTEL_HOME=str(home)),
        cwd=home,
        check=True,
        timeout=300,
    )
    assert (home / "traces.jsonl").is_file()
    return home


@pytest.fixture(scope="module")
def stored(store: Path) -> list[SessionFacts]:
    return from_store(store)


@pytest.fixture
def in_memory(tel, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[SessionFacts]]:  # type: ignore[no-untyped-def]
    clock = install_clock(monkeypatch.setattr)
    run(generate(), tel.other_tracer("fake-llm-client"), clock)
    yield [facts_from_session(s) for s in tel.sessions()]


def daily_json(d: DailySummary) -> dict[str, Any]:
    return {
        "date": d.date.isoformat(),
        "user_id": d.user_id,
        "session_count": d.session_count,
        "operation_count": d.operation_count,
        "total_tokens": d.total_tokens,
        "total_cost": d.total_cost,
        "success_rate": d.success_rate,
        "blocked_operations": d.blocked_operations,
    }


def project_json(p: ProjectSummary) -> dict[str, Any]:
    return {
        "project_id": p.project_id,
        "period": p.period,
        "period_start": p.period_start.isoformat(),
        "period_label": p.period_label,
        "active_users": p.active_users,
        "total_cost": p.total_cost,
        "top_models": [{"model": m.model, "cost": m.cost} for m in p.top_models],
        "top_operations": [{"type": o.type, "count": o.count} for o in p.top_operations],
    }


# -- store ----------------------------------------------------------------------------------


def test_store_facts_equal_in_memory_facts(
    stored: list[SessionFacts], in_memory: list[SessionFacts]
) -> None:
    assert len(stored) == len(generate())
    assert sorted(stored, key=lambda f: f.session_id) == sorted(
        in_memory, key=lambda f: f.session_id
    )


def test_store_summaries_equal_in_memory_summaries_and_the_brute_force(
    stored: list[SessionFacts], in_memory: list[SessionFacts]
) -> None:
    specs = generate()
    assert agent_otel.daily_summaries(stored) == agent_otel.daily_summaries(in_memory)
    assert agent_otel.daily_summaries(stored) == brute_force.daily(specs)
    for period in ("day", "week", "month"):
        from_disk = agent_otel.project_summaries(stored, period)  # type: ignore[arg-type]
        assert from_disk == agent_otel.project_summaries(in_memory, period)  # type: ignore[arg-type]
        assert from_disk == brute_force.projects(specs, period)


def test_from_store_default_is_agent_otel_home(
    store: Path, stored: list[SessionFacts], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENT_OTEL_HOME", str(store))
    assert from_store() == stored
    assert from_store(store / "traces.jsonl") == stored  # one OTLP JSON file


# -- CLI: --daily ---------------------------------------------------------------------------


def test_daily_json_equals_the_library(store: Path, stored: list[SessionFacts]) -> None:
    result = cli("summary", "--daily", "--json", home=store)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.json() == [daily_json(d) for d in agent_otel.daily_summaries(stored)]


@pytest.mark.parametrize(
    ("options", "user", "day"),
    [
        (["--user", "alice"], "alice", None),
        (["--date", "2026-11-29"], None, date(2026, 11, 29)),
        (["--date", "2026-11-30", "--user", "bob"], "bob", date(2026, 11, 30)),
    ],
)
def test_daily_filters(
    store: Path,
    stored: list[SessionFacts],
    options: list[str],
    user: str | None,
    day: date | None,
) -> None:
    expected = agent_otel.daily_summaries(stored, user=user, day=day)
    assert expected
    result = cli("summary", "--daily", *options, "--json", home=store)
    assert result.returncode == 0, result.stderr
    assert result.json() == [daily_json(d) for d in expected]


def _dollars(usd: float) -> str:
    return "$0.00" if usd == 0 else "<$0.01" if usd < 0.005 else f"${usd:,.2f}"


def test_daily_table(store: Path, stored: list[SessionFacts]) -> None:
    result = cli("summary", "--daily", home=store)
    assert result.returncode == 0, result.stderr
    assert ANSI_ESCAPE not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "Day",
        "(UTC)",
        "User",
        "Sessions",
        "Operations",
        "Tokens",
        "Cost",
        "Success",
        "Blocked",
    ]
    expected = agent_otel.daily_summaries(stored)
    rows = [line.split() for line in lines[1 : 1 + len(expected)]]
    assert rows == [
        [
            d.date.isoformat(),
            d.user_id,
            str(d.session_count),
            f"{d.operation_count:,}",
            f"{d.total_tokens:,}",
            _dollars(d.total_cost),
            "—" if d.success_rate is None else f"{100 * d.success_rate:.1f}%",
            str(d.blocked_operations),
        ]
        for d in expected
    ]
    assert any(row[6] == "—" for row in rows)
    days = len({d.date for d in expected})
    assert lines[-1].startswith(f"{days} days · {len(stored)} sessions · ")


def test_daily_with_no_match_is_not_an_error(store: Path) -> None:
    result = cli("summary", "--daily", "--user", "nobody", home=store)
    assert result.returncode == 0
    assert result.stdout.startswith("No sessions match these filters")
    assert cli("summary", "--daily", "--user", "nobody", "--json", home=store).json() == []


# -- CLI: --project -------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_project_json_equals_the_library(
    store: Path, stored: list[SessionFacts], period: str
) -> None:
    result = cli("summary", "--project", "--period", period, "--json", home=store)
    assert (result.returncode, result.stderr) == (0, "")
    expected = agent_otel.project_summaries(stored, period)  # type: ignore[arg-type]
    assert result.json() == [project_json(p) for p in expected]


def test_project_default_period_is_day_and_top_is_an_option(
    store: Path, stored: list[SessionFacts]
) -> None:
    default = cli("summary", "--project", "--json", home=store).json()
    assert default == [project_json(p) for p in agent_otel.project_summaries(stored)]
    top1 = cli("summary", "--project", "--period", "month", "--top", "1", "--json", home=store)
    expected = agent_otel.project_summaries(stored, "month", top=1)
    assert top1.json() == [project_json(p) for p in expected]


@pytest.mark.parametrize(
    ("period", "labels"),
    [
        ("week", ["2026-W47", "2026-W48", "2026-W49", "2026-W50", "2026-W53", "2027-W01"]),
        ("month", ["2026-11", "2026-12", "2027-01"]),
    ],
)
def test_project_table(
    store: Path, stored: list[SessionFacts], period: str, labels: list[str]
) -> None:
    result = cli("summary", "--project", "--period", period, home=store)
    assert result.returncode == 0, result.stderr
    assert ANSI_ESCAPE not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == [period.capitalize(), "(UTC)", "Project", "Users", "Cost"]
    expected = agent_otel.project_summaries(stored, period)  # type: ignore[arg-type]
    assert sorted({p.period_label for p in expected}) == labels
    body = lines[1:-1]
    starts = [n for n, row in enumerate(body) if row[:1].strip()]
    assert len(starts) == len(expected)
    for p, first, after in zip(expected, starts, [*starts[1:], len(body)], strict=True):
        fields = body[first].split()
        assert fields[:4] == [
            p.period_label,
            p.project_id,
            str(p.active_users),
            _dollars(p.total_cost),
        ]
        # The lists wrap between entries, never inside one.
        cell_lines = body[first:after]
        entries = [f"{m.model} {_dollars(m.cost)}" for m in p.top_models] + [
            f"{o.type} {o.count:,}" for o in p.top_operations
        ]
        for entry in entries:
            assert any(entry in line for line in cell_lines), (entry, cell_lines)
        if not p.top_operations:
            assert "—" in body[first]
    assert lines[-1].startswith(f"{len(labels)} {period}s · 3 projects · {len(stored)} sessions")


def test_on_a_terminal(store: Path, stored: list[SessionFacts]) -> None:
    """On a TTY: colour and a transient spinner while reading, and the same table."""
    import pty

    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [str(SCRIPT), "summary", "--daily", "--user", "carol"],
            env=clean_env(AGENT_OTEL_HOME=str(store), COLUMNS="140", TERM="xterm"),
            stdin=terminal,
            stdout=terminal,
            stderr=subprocess.PIPE,
        )
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.wait(timeout=120) == 0
        assert proc.stderr is not None and proc.stderr.read() == b""
    finally:
        os.close(controller)
    text = b"".join(chunks).decode("utf-8", "replace")
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    for d in agent_otel.daily_summaries(stored, user="carol"):
        assert f"{d.date.isoformat()}  carol" in plain


# -- CLI: errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--daily", "--date", "27/11/2026"], "--date: expected a date as YYYY-MM-DD"),
        (["--daily", "--date", "2026-02-30"], "--date: '2026-02-30' is not a valid date"),
        (["--daily", "--date", "2026-1-5"], "--date: expected a date as YYYY-MM-DD"),
        ([], "give exactly one of --daily or --project"),
        (["--daily", "--project"], "give exactly one of --daily or --project"),
        (["--project", "--user", "alice"], "--user only applies to --daily"),
        (["--project", "--date", "2026-11-29"], "--date only applies to --daily"),
        (["--daily", "--period", "week", "--top", "2"], "--period and --top only apply to"),
        (["--project", "--period", "year"], "--period: expected one of day, week, month"),
        (["--project", "--top", "many"], "--top: expected a whole number"),
        (["--project", "--top", "0"], "--top: must be at least 1"),
    ],
)
def test_errors_are_one_line(store: Path, args: list[str], message: str) -> None:
    result = cli("summary", *args, home=store)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("agent-otel: ")
    assert message in result.stderr


def test_missing_store_is_one_line(tmp_path: Path) -> None:
    result = cli("summary", "--daily", home=tmp_path / "nothing-here")
    assert result.returncode == 1
    assert result.stderr.startswith("agent-otel: no telemetry store at")
    assert result.stderr.count("\n") == 1


def test_empty_store(tmp_path: Path) -> None:
    (tmp_path / "traces.jsonl").write_text("")
    result = cli("summary", "--project", home=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("No sessions recorded yet")
    assert cli("summary", "--project", "--json", home=tmp_path).json() == []


def test_in_process_facts_give_the_same_summaries(
    tel, monkeypatch: pytest.MonkeyPatch, stored: list[SessionFacts]
) -> None:  # type: ignore[no-untyped-def]
    """The span processor's facts of the sessions this process saw feed the same code and
    give the same summaries as the store's (the costs are exact binary fractions, so ==)."""
    clock = install_clock(monkeypatch.setattr)
    run(generate(), tel.other_tracer("fake-llm-client"), clock)
    live = tel.telemetry.processor.finished_sessions()
    assert sorted(live, key=lambda f: f.session_id) == sorted(stored, key=lambda f: f.session_id)
    assert agent_otel.daily_summaries(live) == agent_otel.daily_summaries(stored)
    for period in ("day", "week", "month"):
        assert agent_otel.project_summaries(live, period) == (  # type: ignore[arg-type]
            agent_otel.project_summaries(stored, period)  # type: ignore[arg-type]
        )
