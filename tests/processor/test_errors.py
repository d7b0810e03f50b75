"""A failure inside the processor's metrics never breaks span ending, nor the roll-up."""

from __future__ import annotations

import logging

import pytest

import agent_otel
from agent_otel import semconv as sc
from agent_otel.metrics import AgentMetrics
from tests.processor.conftest import MetricsHarness, llm_span


def _broken(*args: object, **kwargs: object) -> None:
    raise RuntimeError("injected failure")


@pytest.mark.parametrize(
    "method", ["session_started", "session_ended", "operation_ended", "usage", "base_attributes"]
)
def test_a_metrics_failure_never_breaks_span_ending(
    mtel: MetricsHarness,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    method: str,
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(AgentMetrics, method, _broken)
    llm = mtel.tracer()
    with agent_otel.session(user_id="u", project="p") as s:
        with s.operation("read", "a.py") as op:
            with llm_span(llm, "m", 10, 2, 0.5):
                pass
            op.add_usage(input_tokens=1, output_tokens=1, cost=0.25)
        with llm_span(llm, "m", 3, 1, 0.125):
            pass
    with llm_span(llm, "m", 1, 1, 0.1):  # outside any session
        pass
    spans = mtel.spans()
    assert len(spans) == 5 and all(span.end_time is not None for span in spans)
    assert s.status == "completed"
    # the roll-up and the facts are intact
    session = mtel.span("agent.session").attributes
    assert session[sc.AGENT_SESSION_TOTAL_TOKENS] == 18
    assert session[sc.AGENT_SESSION_TOTAL_COST] == 0.875
    [facts] = mtel.processor.finished_sessions()
    assert facts.total_cost == 0.875 and facts.operations_by_status == {"success": 1}
    assert mtel.processor.open_span_count() == 0
    assert any("recording the agent metrics failed" in r.getMessage() for r in caplog.records), (
        method
    )


def test_a_failure_of_the_meter_itself_is_contained(
    mtel: MetricsHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Deeper down: the SDK instrument raises while recording."""
    metrics = mtel.processor.metrics
    assert metrics is not None
    # (the metrics hold the instruments' bound methods: those are what break)
    monkeypatch.setattr(metrics, "_record_operation", _broken)
    monkeypatch.setattr(metrics, "_add_active", _broken)
    with (
        agent_otel.session(user_id="u", project="p"),
        agent_otel.operation("read", "a"),
        llm_span(mtel.tracer(), "m", 1, 1, 0.5),
    ):
        pass
    assert {s.name for s in mtel.spans()} == {"agent.session", "execute_tool read", "chat m"}
    assert mtel.span("agent.session").attributes[sc.AGENT_SESSION_TOTAL_TOKENS] == 2
    # The points are recorded when a reader collects: the broken ones fail there, one by
    # one, and the others (the session's duration) are still recorded.
    data = mtel.reader.get_metrics_data()
    assert any("recording the agent metrics failed" in r.getMessage() for r in caplog.records)
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert sc.METRIC_AGENT_SESSION_DURATION.name in names
