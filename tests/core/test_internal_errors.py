"""An error inside agent-otel never reaches the app: the app's result is unchanged, the span
still ends, and the failure is logged."""

from __future__ import annotations

import logging

import pytest

import agent_otel
from agent_otel import semconv as sc
from agent_otel.processor import AgentSpanProcessor


def _broken(*args: object, **kwargs: object) -> object:
    raise RuntimeError("injected failure")


def test_change_recording_failure_is_contained(
    tel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("agent_otel.operations.build_change", _broken)
    with agent_otel.session(user_id="u"), agent_otel.operation("write", "a.py") as op:
        change = op.record_change("a.py", "modify", before="a", after="b")
        result = "app result"
    assert result == "app result"
    assert change.path == "a.py" and change.operation_id == op.id
    assert tel.span("execute_tool write").attributes[sc.AGENT_OPERATION_STATUS] == "success"
    assert any("recording the change of a.py failed" in r.getMessage() for r in caplog.records)


def test_processor_failure_does_not_break_span_ending(
    tel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("agent_otel.processor.read_usage", _broken)
    llm = tel.other_tracer()
    usage = {sc.GEN_AI_USAGE_INPUT_TOKENS: 5}
    with (
        agent_otel.session(user_id="u"),
        agent_otel.operation("query", "q"),
        llm.start_as_current_span("chat", attributes=usage),
    ):
        pass
    assert {s.name for s in tel.spans()} == {"agent.session", "execute_tool query", "chat"}
    assert all(s.end_time is not None for s in tel.spans())
    assert any("rolling up a finished span failed" in r.getMessage() for r in caplog.records)


def test_totals_failure_still_ends_the_session(
    tel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setattr(AgentSpanProcessor, "usage_of", _broken)
    with agent_otel.session(user_id="u") as s:
        pass
    assert s.status == "completed"
    span = tel.span("agent.session")
    assert span.end_time is not None
    assert any("finishing Session failed" in r.getMessage() for r in caplog.records)
    # and the app's own exception still propagates unchanged
    with pytest.raises(ValueError, match="app error"), agent_otel.session(user_id="u"):
        raise ValueError("app error")


def test_span_start_failure_runs_the_block_anyway(
    tel, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(agent_otel.Session, "_start_span", _broken)
    ran = []
    with agent_otel.session(user_id="u") as s:
        ran.append(s.id)
        s.pause()  # reported as misuse of a session that has no span, not raised
    assert ran == [s.id]
    assert tel.spans() == []
