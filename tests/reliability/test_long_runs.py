"""Long runs: a session of a million operations keeps memory flat; a session of 24 hours
(simulated time) is exported with the right timestamps and durations."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

import agent_otel
from agent_otel.records import to_datetime
from agent_otel.store import read_spans
from tests.reliability.otlp_servers import OtlpHttpReceiver

ROOT = Path(__file__).resolve().parents[2]
MILLION = 1_000_000
CHECKPOINT = 50_000
# By then the batch queue, the caches and the allocator's arenas have filled (measured: the
# last step up, of about 3 MiB, comes between 250,000 and 300,000 operations).
WARM_UP = 300_000
MAX_GROWTH = 4 * 1024 * 1024  # 6 bytes per operation over the 700,000 after the warm-up


def run_app(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.reliability.long_run_app", *args],
        cwd=ROOT,
        env={**base, "AGENT_OTEL_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc/self/status")
def test_a_million_operations_in_one_session_keep_memory_flat(tmp_path: Path) -> None:
    """Through the default pipeline (batch processor, local store rotating 16 MiB files):
    resident memory after the warm-up stays where it was, and the session still ends with
    its full count."""
    proc = run_app(
        tmp_path,
        "soak",
        str(MILLION),
        str(CHECKPOINT),
        AGENT_OTEL_STORE_MAX_BYTES=str(16 * 1024 * 1024),
        AGENT_OTEL_STORE_MAX_FILES="2",
    )
    reports = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["ops"] for r in reports] == list(range(CHECKPOINT, MILLION + 1, CHECKPOINT))
    settled = [r["rss"] for r in reports if r["ops"] >= WARM_UP]
    early, late = statistics.mean(settled[:3]), statistics.mean(settled[-3:])
    mib = [round(r["rss"] / 2**20, 1) for r in reports]
    assert late - early < MAX_GROWTH, f"resident memory (MiB) per 50,000 operations: {mib}"
    assert max(settled) - min(settled) < 4 * MAX_GROWTH, mib

    (session,) = [s for s in agent_otel.sessions_from_spans(read_spans(tmp_path))]
    assert session.id == "soak" and session.status == "completed"
    assert session.operation_count == MILLION
    assert sum(f.stat().st_size for f in tmp_path.glob("traces*.jsonl")) <= 2 * 16 * 2**20 * 1.1


def test_a_24_hour_session_exports_its_times(tmp_path: Path) -> None:
    """One session over 24 hours of simulated time, to the local store and over OTLP:
    start, end and duration, each operation's time and length, the change events and the
    pause, and the session-duration metric, all on the simulated clock."""
    receiver = OtlpHttpReceiver()
    receiver.start()
    try:
        proc = run_app(
            tmp_path,
            "day",
            OTEL_TRACES_EXPORTER="otlp,agent_otel_store",
            OTEL_METRICS_EXPORTER="agent_otel_store",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL=receiver.protocol,
        )
        stored = list(read_spans(tmp_path))
        received = list(receiver.spans())
    finally:
        receiver.close()
    times = json.loads(proc.stdout)
    by_id = sorted(stored, key=lambda s: s.span_id)
    assert by_id == sorted(received, key=lambda s: s.span_id), "the same spans both ways"

    (day,) = agent_otel.sessions_from_spans(stored)
    assert abs((day.started_at - to_datetime(times["start"])).total_seconds()) < 1
    assert day.ended_at is not None
    assert abs((day.ended_at - to_datetime(times["end"])).total_seconds()) < 1
    assert day.duration_s is not None
    assert abs(day.duration_s - 24 * 3600) < 60, day.duration_s
    assert day.status == "completed"
    assert len(day.operations) == 96
    for n, op in enumerate(day.operations):
        offset = (op.timestamp - day.started_at).total_seconds()
        assert abs(offset - n * 15 * 60) < 30, (n, offset)
        assert op.duration_s is not None and abs(op.duration_s - 60) < 5, op.duration_s
        (change,) = op.changes
        assert change.timestamp is not None
        assert timedelta(0) <= change.timestamp - op.timestamp <= timedelta(seconds=61)

    session_span = next(s for s in stored if s.span_id == day.span_id)
    pause, resume = session_span.events
    assert abs((resume.time_ns - pause.time_ns) / 1e9 - 14 * 60) < 5

    durations = [
        point
        for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
        for rm in json.loads(line)["resourceMetrics"]
        for sm in rm["scopeMetrics"]
        for metric in sm["metrics"]
        if metric["name"] == "agent.session.duration"
        for point in metric["histogram"]["dataPoints"]
    ]
    assert durations, "the session-duration metric was exported"
    assert abs(durations[-1]["sum"] - 24 * 3600) < 60
    assert durations[-1]["count"] == "1"
