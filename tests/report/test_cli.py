"""``agent-otel report`` as users run it: the installed console script over a store written
by the real library in another process (tests/report/write_store.py)."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import agent_otel
from agent_otel.records import AgentSession
from agent_otel.store import StoreSpanExporter
from tests.cli.runner import cli
from tests.conftest import Harness
from tests.summaries.workload import install_clock

from .agent import HOSTILE_ID
from .dom import Node, parse
from .expected import newest_first


def sessions_in(html: str) -> list[str]:
    root, _ = parse(html)
    return [d.attrs["data-session-id"] or "" for d in root.all("details", cls="session")]


def test_writes_every_session_to_a_private_file(
    report_file: Path, stored: list[AgentSession]
) -> None:
    html = report_file.read_text(encoding="utf-8")
    assert sessions_in(html) == [s.id for s in newest_first(stored)]
    assert stat.S_IMODE(report_file.stat().st_mode) == 0o600  # prompts and diffs inside
    assert [p.name for p in report_file.parent.iterdir()] == ["report.html"]  # no temp files


def test_prints_what_it_wrote(store: Path, tmp_path: Path, stored: list[AgentSession]) -> None:
    out = tmp_path / "r.html"
    result = cli("report", "--output", str(out), home=store)
    assert result.returncode == 0, result.stderr
    size = out.stat().st_size
    assert result.stdout == f"Wrote {out}: {len(stored)} sessions, {size / 1024:,.0f} KB\n"


def test_dash_writes_the_html_to_stdout_alone(store: Path) -> None:
    result = cli("report", "hostile", "-o", "-", home=store)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith('<!DOCTYPE html>\n<html lang="en">')
    assert result.stdout.endswith("</html>\n")
    assert sessions_in(result.stdout) == [HOSTILE_ID]


def test_session_ids_and_prefixes_pick_sessions_once(
    store: Path, tmp_path: Path, stored: list[AgentSession]
) -> None:
    out = tmp_path / "picked.html"
    result = cli("report", "sum-0001", "sum-0003", "sum-000", "-o", str(out), home=store)
    # "sum-000" matches several sessions: one clear error, nothing written.
    assert result.returncode == 1
    assert result.stderr.startswith("agent-otel: 'sum-000' is ambiguous; it matches ")
    assert not out.exists()

    result = cli("report", "sum-0003", "sum-0001", "sum-0001", "-o", str(out), home=store)
    assert result.returncode == 0, result.stderr
    picked = [s for s in stored if s.id in ("sum-0001", "sum-0003")]
    assert sessions_in(out.read_text(encoding="utf-8")) == [s.id for s in newest_first(picked)]


def test_filters_select_like_the_sessions_command(
    store: Path, tmp_path: Path, stored: list[AgentSession]
) -> None:
    out = tmp_path / "f.html"
    result = cli("report", "--user", "dave", "--limit", "3", "-o", str(out), home=store)
    assert result.returncode == 0, result.stderr
    daves = [s for s in newest_first(stored) if s.user_id == "dave"]
    assert sessions_in(out.read_text(encoding="utf-8")) == [s.id for s in daves[:3]]

    result = cli(
        "report", "--since", "2026-12-05", "--status", "completed", "-o", str(out), home=store
    )
    assert result.returncode == 0, result.stderr
    since = datetime(2026, 12, 5, tzinfo=timezone.utc)
    chosen = [s for s in stored if s.started_at >= since and s.status == "completed"]
    assert sessions_in(out.read_text(encoding="utf-8")) == [s.id for s in newest_first(chosen)]


def test_since_an_age(tel: Harness, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Sessions 3 days, 5 hours and 10 minutes old, exported to a store by the store's own
    exporter; ``--since`` counts ages from now."""
    clock = install_clock(monkeypatch.setattr)
    now = datetime.now(timezone.utc)
    ages = {
        "days": timedelta(days=3),
        "hours": timedelta(hours=5),
        "minutes": timedelta(minutes=10),
    }
    for name, age in ages.items():
        clock.set(now - age)
        with agent_otel.session(session_id=f"aged-{name}", user_id="erin"):
            pass
    home = tmp_path / "store"
    exporter = StoreSpanExporter(home)
    exporter.export(tel.spans())
    exporter.shutdown()

    for since, ids in (
        ("1h", ["aged-minutes"]),
        ("6H", ["aged-minutes", "aged-hours"]),
        ("2d", ["aged-minutes", "aged-hours"]),
        ("1w", ["aged-minutes", "aged-hours", "aged-days"]),
        ("180m", ["aged-minutes"]),
    ):
        out = tmp_path / f"since-{since}.html"
        result = cli("report", "--since", since, "-o", str(out), home=home)
        assert result.returncode == 0, result.stderr
        assert sessions_in(out.read_text(encoding="utf-8")) == ids, since


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--since", "last week"],
            "agent-otel: --since: 'last week' is not a day (YYYY-MM-DD), an ISO 8601 time or an "
            "age such as 12h, 7d or 2w (Invalid isoformat string: 'last week')",
        ),
        (
            ["--since", "2026-02-30"],
            "agent-otel: --since: '2026-02-30' is not a day (YYYY-MM-DD), an ISO 8601 time or an "
            "age such as 12h, 7d or 2w (day is out of range for month)",
        ),
        (
            ["--period", "year"],
            "agent-otel: --period: expected one of day, week, month, got 'year'",
        ),
        (["--top", "0"], "agent-otel: --top: must be at least 1, got 0"),
        (["sum-0001", "--limit", "2"], "agent-otel: give session ids or --limit, not both"),
        (["no-such-session"], "agent-otel: no session matches 'no-such-session'"),
        (
            ["--user", "nobody"],
            "agent-otel: no sessions match these filters (store: {store}); no report written",
        ),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    store: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "bad.html"
    result = cli("report", *args, "-o", str(out), home=store)
    assert result.returncode == 1
    assert result.stderr == message.format(store=store) + "\n"
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_is_one_line_and_keeps_the_old_file(store: Path, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "r.html"
    result = cli("report", "sum-0001", "-o", str(missing), home=store)
    assert result.returncode == 1
    assert result.stderr == (
        f"agent-otel: cannot write the report to {missing}: No such file or directory\n"
    )

    a_directory = tmp_path / "taken"
    a_directory.mkdir()
    result = cli("report", "sum-0001", "-o", str(a_directory), home=store)
    assert result.returncode == 1
    assert (
        result.stderr == f"agent-otel: cannot write the report to {a_directory}: Is a directory\n"
    )
    assert list(tmp_path.iterdir()) == [a_directory]  # no temporary file left behind

    old = tmp_path / "old.html"
    old.write_text("previous report", encoding="utf-8")
    result = cli("report", "sum-0001", "-o", str(old), home=store)
    assert result.returncode == 0, result.stderr
    assert sessions_in(old.read_text(encoding="utf-8")) == ["sum-0001"]


def test_period_top_and_title(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.html"
    args = ["--period", "month", "--top", "1", "--title", "Q4 <agents>", "-o", str(out)]
    result = cli("report", *args, home=store)
    assert result.returncode == 0, result.stderr
    root, _ = parse(out.read_text(encoding="utf-8"))
    assert root.one("head").child("title").text() == root.one("h1").text() == "Q4 <agents>"
    table: Node = root.one("table", cls="projects")
    assert table.one("thead").all("th")[0].text() == "Month (UTC)"
    assert {len(ranked.all("li")) for ranked in table.all("ul", cls="ranked")} == {1}


def test_no_store_is_an_error(tmp_path: Path) -> None:
    result = cli("report", "-o", str(tmp_path / "r.html"), home=tmp_path / "empty")
    assert result.returncode == 1
    assert result.stderr.startswith("agent-otel: no telemetry store at ")
