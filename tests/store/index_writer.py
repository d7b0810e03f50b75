"""Write sessions into a local store with the real library, as an agent app would; run as a
script: ``index_writer.py COUNT SEED``, with ``AGENT_OTEL_HOME`` set by the caller.

The sessions are the summaries' generated workload (``tests/summaries/workload.py``: random
operations, LLM calls, outcomes and start times on a replaced SDK clock), then a change in
one session that a later session undoes (the link crosses traces, as ``agent-otel undo``
makes it). Callers set small export batches and a small rotation size, so that the spans of
one session land on several lines and in several files.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

from opentelemetry import trace

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import agent_otel
from tests.summaries.workload import generate, install_clock, run


def main(count: int, seed: int) -> None:
    clock = install_clock()
    tel = agent_otel.configure(service_name="index-test-agent")
    run(generate(count, seed), trace.get_tracer("fake-llm-client"), clock)
    clock.set(datetime(2026, 12, 20, 9, 0, seed % 60, tzinfo=timezone.utc))
    with (
        agent_otel.session(session_id=f"undo-source-{seed}", user_id="alice") as s,
        s.operation("write", "notes.txt") as op,
    ):
        change = op.record_change("notes.txt", "modify", before="one\n", after="two\n")
    clock.set(datetime(2026, 12, 21, 9, 0, seed % 60, tzinfo=timezone.utc))
    with (
        agent_otel.session(session_id=f"undo-later-{seed}", user_id="bob") as s,
        s.operation("write", "notes.txt", undoes=change) as op,
    ):
        op.record_change("notes.txt", "modify", before="two\n", after="one\n")
    tel.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
