"""``agent-otel sessions`` filters and sorting, its fast table, and its progress bar, run as
users run them (the console script) over stores written by the real library.

Expected selections are computed here from a full read of the store, by plain loops over the
records, independently of the CLI's own filtering code.
"""

from __future__ import annotations

import io
import math
import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from agent_otel import formatting as fmt
from agent_otel.cli import render
from agent_otel.cli import sessions as sessions_command
from agent_otel.cli import summary as summary_command
from agent_otel.records import AgentSession, sessions_from_spans
from agent_otel.store import read_spans
from agent_otel.store.index import open_index
from agent_otel.summaries import daily_summaries, facts_from_session
from tests.cli.runner import SCRIPT, clean_env, cli

HERE = Path(__file__).parent
STORE_TESTS = HERE.parent / "store"
UTC = timezone.utc


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """130 sessions of four users and three projects over six weeks, with rotation."""
    home = tmp_path_factory.mktemp("filters-store")
    subprocess.run(
        [sys.executable, str(STORE_TESTS / "index_writer.py"), "120", "7"],
        env=clean_env(
            AGENT_OTEL_HOME=str(home),
            OTEL_BSP_MAX_EXPORT_BATCH_SIZE="40",
            AGENT_OTEL_STORE_MAX_BYTES="100000",
            AGENT_OTEL_STORE_MAX_FILES="100000",
        ),
        cwd=home,
        check=True,
        timeout=300,
    )
    return home


@pytest.fixture(scope="module")
def records(store: Path) -> list[AgentSession]:
    return sessions_from_spans(read_spans(store))


def keys(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(s["id"], s["span_id"]) for s in items]


def expected(
    records: list[AgentSession],
    keep: Callable[[AgentSession], bool],
    value: Callable[[AgentSession], float | None] | None = None,
    *,
    reverse: bool = False,
) -> list[tuple[str, str]]:
    """Kept sessions newest first, or by ``value`` (most first; ties newest first; unknown
    values last), the other way round with ``reverse``."""
    kept = [s for s in records if keep(s)]
    kept.sort(key=lambda s: s.started_at, reverse=True)
    if value is None:
        ordered = kept[::-1] if reverse else kept
    else:
        known = [s for s in kept if value(s) is not None]
        ordered = sorted(known, key=lambda s: value(s) or 0, reverse=not reverse)
        ordered += [s for s in kept if value(s) is None]
    return [(s.id, s.span_id) for s in ordered]


def project(s: AgentSession) -> str | None:
    return facts_from_session(s).project


def made_with(model: str) -> Callable[[AgentSession], bool]:
    return lambda s: s.model == model or any(c.model == model for c in s.llm_calls)


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


CASES: list[tuple[list[str], Callable[[AgentSession], bool], Any, bool]] = [
    (["--user", "alice"], lambda s: s.user_id == "alice", None, False),
    (["--status", "cancelled"], lambda s: s.status == "cancelled", None, False),
    (["--project", "shop"], lambda s: project(s) == "shop", None, False),
    (["--project", "billing", "--user", "bob"],
     lambda s: project(s) == "billing" and s.user_id == "bob", None, False),
    (["--model", "model-a-2026-01"], made_with("model-a-2026-01"), None, False),
    (["--model", "model-b"], made_with("model-b"), None, False),
    (["--since", "2026-11-30"], lambda s: s.started_at >= day("2026-11-30"), None, False),
    (["--until", "2026-11-29"], lambda s: s.started_at < day("2026-11-30"), None, False),
    (["--since", "2026-11-29", "--until", "2026-11-30"],
     lambda s: day("2026-11-29") <= s.started_at < day("2026-12-01"), None, False),
    (["--since", "2026-11-29T23:59:59Z", "--until", "2026-11-30T00:00:00.500000+00:00"],
     lambda s: day("2026-11-29T23:59:59") <= s.started_at <= day("2026-11-30T00:00:00.5"),
     None, False),
    (["--sort", "cost"], lambda s: True, lambda s: s.total_cost, False),
    (["--sort", "tokens", "--user", "carol"], lambda s: s.user_id == "carol",
     lambda s: s.total_tokens, False),
    (["--sort", "duration"], lambda s: True, lambda s: s.duration_s, False),
    (["--sort", "duration", "--reverse"], lambda s: True, lambda s: s.duration_s, True),
    (["--reverse"], lambda s: True, None, True),
    (["--since", "10000d"], lambda s: True, None, False),
    (["--until", "10000d"], lambda s: False, None, False),
]  # fmt: skip


@pytest.mark.parametrize(("options", "keep", "value", "reverse"), CASES)
def test_filters_and_sorting(
    store: Path,
    records: list[AgentSession],
    options: list[str],
    keep: Callable[[AgentSession], bool],
    value: Callable[[AgentSession], float | None] | None,
    reverse: bool,
) -> None:
    want = expected(records, keep, value, reverse=reverse)
    result = cli("sessions", *options, "--json", home=store)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert keys(result.json()) == want
    limited = cli("sessions", *options, "--limit", "3", "--json", home=store)
    assert keys(limited.json()) == want[:3]
    table = cli("sessions", *options, "--limit", "5", home=store)
    assert table.returncode == 0, table.stderr
    ids = [line.split()[0] for line in table.stdout.splitlines()[1:-1]]
    assert ids == [session_id for session_id, _ in want[:5]]
    if want:
        assert f"{min(5, len(want))} session" in table.stdout.splitlines()[-1]
        assert f"(of {len(records)} in the store)" in table.stdout or len(want) == len(records)
    else:
        assert "No sessions match these filters" in table.stdout


def test_the_filters_cover_every_kind_of_session(records: list[AgentSession]) -> None:
    """The cases above are not vacuous: each filter keeps some sessions and drops others."""
    for options, keep, _, _ in CASES[:10]:
        kept = sum(1 for s in records if keep(s))
        assert 0 < kept < len(records), options
    assert len({s.total_cost for s in records}) > 50


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not a day (YYYY-MM-DD)"),
        (["--until", "2026-02-30"], "--until: '2026-02-30' is not a day (YYYY-MM-DD)"),
        (
            ["--since", "2026-12-01", "--until", "2026-11-01"],
            "--since 2026-12-01 is not before --until 2026-11-01",
        ),
    ],
)
def test_bad_times_are_one_clear_error(store: Path, options: list[str], message: str) -> None:
    result = cli("sessions", *options, home=store)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"agent-otel: {message}")


def test_usage_errors(store: Path) -> None:
    assert cli("sessions", "--sort", "price", home=store).returncode == 2
    assert cli("sessions", "--limit", "-1", home=store).returncode == 2


# -- the fast table -------------------------------------------------------------------------


def printed(renderable: Any, width: int, color: bool = False) -> str:
    console = Console(
        file=io.StringIO(),
        width=width,
        color_system="truecolor" if color else None,
        force_terminal=color,
        highlight=False,
        emoji=False,
    )
    console.print(renderable)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(text, str)
    return text


@pytest.mark.parametrize("width", [200, 120, 80, 50])
def test_the_fast_table_prints_what_rich_prints(store: Path, width: int) -> None:
    with open_index(store) as index:
        entries = index.entries()
    table = sessions_command.table(entries)
    assert printed(render.FastTable(table), width) == printed(table, width)
    facts = [e.facts for e in entries]
    daily = summary_command.daily_table(daily_summaries(facts))
    assert printed(render.FastTable(daily), width) == printed(daily, width)


def test_the_fast_table_keeps_the_colours(store: Path) -> None:
    with open_index(store) as index:
        entries = index.entries()
    out = printed(render.FastTable(sessions_command.table(entries)), 160, color=True)
    assert "\x1b[1mID" in out  # bold header
    assert "\x1b[32mcompleted\x1b[0m" in out and "\x1b[1;31mfailed\x1b[0m" in out


# -- progress, and large stores -------------------------------------------------------------


@pytest.fixture(scope="module")
def large_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 8 MiB of generated sessions (the benchmark's generator), in two files."""
    from tests.benchmarks.bench_store import Generator, record_templates, write_store

    home = tmp_path_factory.mktemp("large-store")
    write_store(home, Generator(record_templates(), 400).lines(400), 4 * 1024 * 1024)
    assert sum(p.stat().st_size for p in home.iterdir()) > 6 * 1024 * 1024
    return home


def run_with_terminal_stderr(store: Path, *args: str) -> tuple[str, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe): (stdout, terminal)."""
    main, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(SCRIPT), "--store", str(store), *args],
            env=clean_env(TERM="xterm", COLUMNS="100"),
            stdout=subprocess.PIPE,
            stderr=secondary,
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        assert process.wait(timeout=300) == 0
    finally:
        os.close(main)
    return stdout, b"".join(chunks).decode(errors="replace")


def test_a_progress_bar_on_a_terminal_only_while_indexing(
    large_store: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    shutil.copytree(large_store, store)
    stdout, terminal = run_with_terminal_stderr(store, "sessions", "--limit", "3")
    assert f"Indexing {store}" in terminal
    assert "\x1b" not in stdout and len(stdout.splitlines()) == 5
    stdout_again, terminal_again = run_with_terminal_stderr(store, "sessions", "--limit", "3")
    assert stdout_again == stdout
    assert "Indexing" not in terminal_again


def test_a_large_store_lists_and_summarises_every_session(
    large_store: Path, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    shutil.copytree(large_store, store)
    records = sessions_from_spans(read_spans(store))
    result = cli("--store", str(store), "sessions", home=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(records) + 2
    assert lines[-1].startswith(f"{len(records)} sessions · ")
    total = math.fsum(s.total_cost for s in records)
    assert fmt.cost(total) in lines[-1]
    newest = max(records, key=lambda s: s.started_at)
    assert lines[1].split()[0] == newest.id
    daily = cli("--store", str(store), "summary", "--daily", "--json", home=tmp_path).json()
    assert sum(row["session_count"] for row in daily) == len(records)
    since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    recent = cli("--store", str(store), "sessions", "--since", since, home=tmp_path)
    assert "No sessions match these filters" in recent.stdout
