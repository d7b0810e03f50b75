"""``os.fork()`` and ``multiprocessing`` children get working telemetry, without exporting
their parent's spans a second time and without losing their own; parent and child share
the store safely."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import agent_otel
from agent_otel.store import read_spans
from tests.reliability.otlp_servers import OtlpHttpReceiver

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


@pytest.fixture
def receiver() -> Iterator[OtlpHttpReceiver]:
    r = OtlpHttpReceiver()
    r.start()
    yield r
    r.close()


def run_app(mode: str, home: Path, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.reliability.forking_app", mode],
        cwd=ROOT,
        env={**base, "AGENT_OTEL_HOME": str(home), "OTEL_METRICS_EXPORTER": "none", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "child exited 0" in proc.stdout, proc.stdout
    return proc.stderr


def stored_spans(home: Path) -> list[agent_otel.SpanData]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a corrupt or interleaved line fails the test
        return list(read_spans(home))


def assert_each_span_once(spans: list[agent_otel.SpanData]) -> None:
    counts = Counter(s.span_id for s in spans)
    twice = {span_id: n for span_id, n in counts.items() if n > 1}
    assert not twice, f"spans exported more than once: {twice}"


def test_a_child_forked_mid_session_exports_only_its_own_spans(
    receiver: OtlpHttpReceiver, tmp_path: Path
) -> None:
    """The child inherits the parent's open session and queued spans: it must neither end
    that session nor export that queue (the parent does both), yet its own spans — a session
    of its own and an operation inside the inherited session — arrive."""
    run_app(
        "fork",
        tmp_path,
        OTEL_TRACES_EXPORTER="otlp,agent_otel_store",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL=receiver.protocol,
    )
    for spans in (stored_spans(tmp_path), list(receiver.spans())):
        assert_each_span_once(spans)
        sessions = {s.id: s for s in agent_otel.sessions_from_spans(spans)}
        assert set(sessions) == {"before", "parent", "child"}
        assert all(s.status == "completed" for s in sessions.values())
        assert [o.target for o in sessions["before"].operations] == [
            f"before/{i}.py" for i in range(3)
        ]
        assert [o.target for o in sessions["child"].operations] == [
            f"child/{i}.py" for i in range(5)
        ]
        # The child's operation lands under the session it ran in, which the parent ended.
        assert sorted(o.target for o in sessions["parent"].operations) == [
            "child/in-parent",
            "parent/op",
        ]


def test_a_multiprocessing_child_flushes_before_it_exits(tmp_path: Path) -> None:
    """multiprocessing ends a forked child with ``os._exit``, so exit hooks never run there;
    agent-otel flushes through multiprocessing's own finalizers instead."""
    run_app("multiprocessing", tmp_path)
    spans = stored_spans(tmp_path)
    assert_each_span_once(spans)
    sessions = {s.id: s for s in agent_otel.sessions_from_spans(spans)}
    assert set(sessions) == {"mp-child", "mp-parent"}
    assert len(sessions["mp-child"].operations) == 5


def test_parent_and_child_write_one_store_at_once(tmp_path: Path) -> None:
    """Each process locks the store file through its own descriptor (a lock taken through
    the inherited one would not keep the other out): 80 sessions written at once, through
    rotations, all readable, none interleaved, none twice."""
    run_app(
        "together",
        tmp_path,
        AGENT_OTEL_STORE_MAX_BYTES="20000",
        AGENT_OTEL_STORE_MAX_FILES="10000",
    )
    spans = stored_spans(tmp_path)
    assert_each_span_once(spans)
    sessions = agent_otel.sessions_from_spans(spans)
    expected = {f"{who}-{n}" for who in ("parent", "child") for n in range(40)}
    assert {s.id for s in sessions} == expected
    assert all(len(s.operations) == 10 for s in sessions)
    assert len(list(tmp_path.glob("traces.*.jsonl"))) > 10, "the test must cross rotations"
