"""Sessions as root spans: every seed field, statuses, events, and every way to use one."""

from __future__ import annotations

import asyncio
import os

import pytest
from opentelemetry.trace import SpanKind, StatusCode

import agent_otel
from agent_otel import semconv as sc


def test_session_span_carries_every_seed_field(tel) -> None:
    with agent_otel.session(
        user_id="alice",
        model="claude-sonnet-4-5",
        model_tier=2,
        temperature=0.2,
        workspace="/repo",
        initial_prompt="Fix the failing test",
        agent_name="coder",
    ) as s:
        assert s.status == "active"
        assert agent_otel.current_session() is s
    assert agent_otel.current_session() is None

    span = tel.span("agent.session")
    assert span.name == "agent.session coder"
    assert span.kind is SpanKind.INTERNAL
    assert span.parent is None
    a = span.attributes
    assert a[sc.SESSION_ID] == s.id
    assert a[sc.USER_ID] == "alice"
    assert a[sc.GEN_AI_REQUEST_MODEL] == "claude-sonnet-4-5"
    assert a[sc.AGENT_SESSION_MODEL_TIER] == 2
    assert a[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.2
    assert a[sc.AGENT_SESSION_WORKSPACE] == "/repo"
    assert a[sc.AGENT_SESSION_PROJECT] == "repo"  # the workspace's name by default
    assert a[sc.AGENT_SESSION_STATUS] == "completed"
    assert a[sc.GEN_AI_OPERATION_NAME] == "invoke_agent"
    assert a[sc.GEN_AI_AGENT_NAME] == "coder"
    assert a[sc.AGENT_SESSION_TOTAL_TOKENS] == 0
    assert a[sc.AGENT_SESSION_TOTAL_COST] == 0.0
    assert a[sc.AGENT_SESSION_OPERATION_COUNT] == 0
    # The prompt is content: not recorded unless capture is on.
    assert sc.AGENT_SESSION_INITIAL_PROMPT not in a
    assert span.start_time is not None and span.end_time is not None
    assert span.end_time >= span.start_time

    (record,) = tel.sessions()
    assert record.id == s.id and record.user_id == "alice" and record.status == "completed"
    assert record.model == "claude-sonnet-4-5" and record.model_tier == 2
    assert record.temperature == 0.2 and record.workspace == "/repo"
    assert record.initial_prompt is None and record.ended_at is not None
    assert record.duration_s is not None and record.duration_s >= 0


def test_initial_prompt_recorded_when_content_capture_is_on(tel_content) -> None:
    with agent_otel.session(user_id="alice", initial_prompt="Fix the failing test"):
        pass
    a = tel_content.span("agent.session").attributes
    assert a[sc.AGENT_SESSION_INITIAL_PROMPT] == "Fix the failing test"
    assert a[sc.AGENT_SESSION_INITIAL_PROMPT_SIZE] == len("Fix the failing test")
    assert tel_content.sessions()[0].initial_prompt == "Fix the failing test"


def test_defaults_user_and_workspace_and_explicit_session_id(tel) -> None:
    with agent_otel.session(session_id="sess-42", project="shop") as s:
        assert s.id == "sess-42"
    a = tel.span("agent.session").attributes
    assert a[sc.SESSION_ID] == "sess-42"
    assert a[sc.AGENT_SESSION_WORKSPACE] == os.getcwd()
    assert a[sc.AGENT_SESSION_PROJECT] == "shop"
    assert tel.sessions()[0].project == "shop"
    assert isinstance(a.get(sc.USER_ID), str)  # the OS user
    assert tel.span("agent.session").name == "agent.session"


def test_pause_and_resume_are_events_and_statuses(tel) -> None:
    with agent_otel.session(user_id="u") as s:
        s.pause("waiting for the user")
        assert s.status == "paused"
        s.resume()
        assert s.status == "active"
    span = tel.span("agent.session")
    names = [e.name for e in span.events]
    assert names == [sc.EVENT_AGENT_SESSION_PAUSE, sc.EVENT_AGENT_SESSION_RESUME]
    assert span.events[0].attributes[sc.AGENT_SESSION_PAUSE_REASON] == "waiting for the user"
    assert span.attributes[sc.AGENT_SESSION_STATUS] == "completed"


def test_exception_marks_session_failed_and_reraises(tel) -> None:
    with pytest.raises(KeyError), agent_otel.session(user_id="u"):
        raise KeyError("missing")
    span = tel.span("agent.session")
    assert span.attributes[sc.AGENT_SESSION_STATUS] == "failed"
    assert span.attributes[sc.ERROR_TYPE] == "KeyError"
    assert span.status.status_code is StatusCode.ERROR
    assert "missing" in (span.status.description or "")
    assert [e.name for e in span.events] == ["exception"]
    assert tel.sessions()[0].error == span.status.description


def test_fail_with_message_and_with_exception(tel) -> None:
    with agent_otel.session(user_id="u") as s:
        s.fail("model refused")
        assert s.status == "failed"
    span = tel.span("agent.session")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "model refused"
    assert span.attributes[sc.ERROR_TYPE] == "_OTHER"

    tel.exporter.clear()
    with agent_otel.session(user_id="u") as s:
        s.fail(TimeoutError("LLM timed out"))
    span = tel.span("agent.session")
    assert span.attributes[sc.ERROR_TYPE] == "TimeoutError"
    assert span.attributes[sc.AGENT_SESSION_STATUS] == "failed"


def test_cancel_and_interrupt_end_cancelled_without_error(tel) -> None:
    with agent_otel.session(user_id="u") as s:
        s.cancel()
    with pytest.raises(KeyboardInterrupt), agent_otel.session(user_id="u"):
        raise KeyboardInterrupt
    spans = [s for s in tel.spans() if s.name.startswith("agent.session")]
    assert [s.attributes[sc.AGENT_SESSION_STATUS] for s in spans] == ["cancelled", "cancelled"]
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


def test_system_exit_zero_completes_nonzero_fails(tel) -> None:
    with pytest.raises(SystemExit), agent_otel.session(user_id="u"):
        raise SystemExit(0)
    with pytest.raises(SystemExit), agent_otel.session(user_id="u"):
        raise SystemExit(3)
    statuses = [s.attributes[sc.AGENT_SESSION_STATUS] for s in tel.spans()]
    assert statuses == ["completed", "failed"]


def test_async_with_and_decorators(tel) -> None:
    @agent_otel.session(user_id="dec")
    def sync_job(x: int) -> int:
        assert agent_otel.current_session() is not None
        return x * 2

    @agent_otel.session(user_id="adec")
    async def async_job(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    async def with_block() -> str:
        async with agent_otel.session(user_id="awith") as s:
            await asyncio.sleep(0)
            return s.id

    assert sync_job(2) == 4
    assert sync_job(3) == 6
    assert asyncio.run(async_job(1)) == 2
    sid = asyncio.run(with_block())
    sessions = tel.sessions()
    assert [s.user_id for s in sessions] == ["dec", "dec", "adec", "awith"]
    assert len({s.id for s in sessions}) == 4  # each decorated call is a new session
    assert sessions[-1].id == sid
    assert all(s.status == "completed" for s in sessions)


def test_other_libraries_spans_get_session_and_user_ids(tel) -> None:
    other = tel.other_tracer()
    with agent_otel.session(user_id="alice") as s:
        with other.start_as_current_span("http GET"), other.start_as_current_span("db query"):
            pass
        with s.operation("query", target="SELECT 1"), other.start_as_current_span("inner"):
            pass
    with other.start_as_current_span("outside"):
        pass
    spans = {span.name: span for span in tel.spans()}
    for name in ("http GET", "db query", "inner", "execute_tool query"):
        assert spans[name].attributes[sc.SESSION_ID] == s.id, name
        assert spans[name].attributes[sc.USER_ID] == "alice", name
    assert sc.SESSION_ID not in spans["outside"].attributes


def test_start_and_end_without_with(tel) -> None:
    s = agent_otel.session(user_id="u").start()
    assert agent_otel.current_session() is s
    s.end()
    assert s.status == "completed"
    assert tel.span("agent.session").attributes[sc.AGENT_SESSION_STATUS] == "completed"
