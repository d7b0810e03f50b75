"""Operations as child spans: fields, statuses, approval, errors, undo links."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry.trace import StatusCode

import agent_otel
from agent_otel import semconv as sc


def test_operation_is_a_child_span_with_seed_fields(tel) -> None:
    with agent_otel.session(user_id="alice") as s, s.operation("read", target="src/app.py") as op:
        op.set_result("print('hi')")
        assert agent_otel.current_operation() is op
        assert op.status is None
    assert op.status == "success"
    session_span = tel.span("agent.session")
    span = tel.span("execute_tool read")
    assert span.parent is not None
    assert span.parent.span_id == session_span.context.span_id
    a = span.attributes
    assert a[sc.AGENT_OPERATION_TYPE] == "read"
    assert a[sc.AGENT_OPERATION_TARGET] == "src/app.py"
    assert a[sc.FILE_PATH] == "src/app.py"
    assert a[sc.AGENT_OPERATION_STATUS] == "success"
    assert a[sc.AGENT_OPERATION_APPROVED] is False
    assert a[sc.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert a[sc.GEN_AI_TOOL_NAME] == "read"
    assert a[sc.GEN_AI_USAGE_INPUT_TOKENS] == 0
    assert a[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 0
    assert a[sc.AGENT_USAGE_COST] == 0.0
    assert a[sc.SESSION_ID] == s.id and a[sc.USER_ID] == "alice"
    assert sc.AGENT_OPERATION_RESULT not in a  # content is off by default
    assert session_span.attributes[sc.AGENT_SESSION_OPERATION_COUNT] == 1

    (record,) = tel.sessions()[0].operations
    assert record.id == op.id == format(span.context.span_id, "016x")
    assert record.session_id == s.id and record.type == "read" and record.status == "success"
    assert record.timestamp <= record.ended_at  # type: ignore[operator]


def test_result_recorded_with_content_capture(tel_content) -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("query", target="grep TODO") as op:
        op.set_result("3 matches")
    a = tel_content.span("execute_tool query").attributes
    assert a[sc.AGENT_OPERATION_RESULT] == "3 matches"
    assert a[sc.AGENT_OPERATION_RESULT_SIZE] == 9
    assert sc.FILE_PATH not in a
    assert tel_content.sessions()[0].operations[0].result == "3 matches"


def test_execute_command_line_is_content(tel) -> None:
    with (
        agent_otel.session(user_id="u"),
        agent_otel.operation(
            "execute", target="curl -H 'Authorization: Bearer abc' https://x"
        ) as op,
    ):
        op.set_exit_code(0)
    a = tel.span("execute_tool execute").attributes
    assert a[sc.AGENT_OPERATION_TARGET] == "curl"
    assert a[sc.PROCESS_EXECUTABLE_NAME] == "curl"
    assert a[sc.PROCESS_EXIT_CODE] == 0
    assert sc.PROCESS_COMMAND_LINE not in a
    assert "Bearer" not in repr(dict(a))


def test_execute_command_line_captured_when_on(tel_content) -> None:
    with (
        agent_otel.session(user_id="u"),
        agent_otel.operation("execute", "/usr/bin/pytest -q") as op,
    ):
        op.set_exit_code(1)
        op.fail("tests failed")
    a = tel_content.span("execute_tool execute").attributes
    assert a[sc.PROCESS_COMMAND_LINE] == "/usr/bin/pytest -q"
    assert a[sc.AGENT_OPERATION_TARGET] == "/usr/bin/pytest -q"
    assert a[sc.PROCESS_EXECUTABLE_NAME] == "pytest"
    op_record = tel_content.sessions()[0].operations[0]
    assert op_record.exit_code == 1 and op_record.status == "failed"
    assert op_record.command_line == "/usr/bin/pytest -q"
    assert op_record.error == "tests failed"


def test_blocked_is_not_an_error(tel) -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("execute", "rm -rf /") as op:
        op.block("denied by policy")
    span = tel.span("execute_tool execute")
    assert span.attributes[sc.AGENT_OPERATION_STATUS] == "blocked"
    assert span.attributes[sc.AGENT_OPERATION_BLOCKED_REASON] == "denied by policy"
    assert span.status.status_code is StatusCode.UNSET
    assert tel.sessions()[0].operations[0].blocked_reason == "denied by policy"


def test_exception_fails_operation_records_it_and_reraises(tel) -> None:
    with agent_otel.session(user_id="u") as s:
        with pytest.raises(FileNotFoundError), agent_otel.operation("read", "missing.py"):
            raise FileNotFoundError("missing.py")
        assert s.status == "active"  # a failed operation does not fail the session
    span = tel.span("execute_tool read")
    assert span.attributes[sc.AGENT_OPERATION_STATUS] == "failed"
    assert span.attributes[sc.ERROR_TYPE] == "FileNotFoundError"
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    assert tel.span("agent.session").attributes[sc.AGENT_SESSION_STATUS] == "completed"


def test_approval_wait_and_approver(tel) -> None:
    with agent_otel.session(user_id="u"):
        with agent_otel.operation("write", "a.py") as op:
            op.set_pending()
            assert op.status == "pending"
            op.approve("bob")
        with agent_otel.operation("write", "b.py", approved=True, approved_by="carol"):
            pass
        with agent_otel.operation("write", "c.py") as waiting:
            waiting.set_pending()
    spans = {s.attributes.get(sc.AGENT_OPERATION_TARGET): s for s in tel.spans()}
    a = spans["a.py"]
    assert [e.name for e in a.events] == [
        sc.EVENT_AGENT_APPROVAL_REQUEST,
        sc.EVENT_AGENT_APPROVAL_GRANT,
    ]
    assert a.events[1].attributes[sc.AGENT_OPERATION_APPROVED_BY] == "bob"
    assert a.events[1].timestamp >= a.events[0].timestamp
    assert a.attributes[sc.AGENT_OPERATION_APPROVED] is True
    assert a.attributes[sc.AGENT_OPERATION_APPROVED_BY] == "bob"
    assert a.attributes[sc.AGENT_OPERATION_STATUS] == "success"
    assert spans["b.py"].attributes[sc.AGENT_OPERATION_APPROVED_BY] == "carol"
    assert spans["c.py"].attributes[sc.AGENT_OPERATION_STATUS] == "pending"
    assert spans["c.py"].attributes[sc.AGENT_OPERATION_APPROVED] is False
    ops = {o.target: o for o in tel.sessions()[0].operations}
    assert ops["a.py"].approved and ops["a.py"].approved_by == "bob"
    assert ops["c.py"].status == "pending"


def test_undo_links_to_the_undone_operation(tel) -> None:
    with agent_otel.session(user_id="u"):
        with agent_otel.operation("write", "a.py") as write:
            change = write.record_change("a.py", "modify", before="x\n", after="y\n")
        with agent_otel.operation("write", "a.py", undoes=change) as undo:
            undo.record_change("a.py", "modify", before="y\n", after="x\n")
    undo_span = next(s for s in tel.spans() if sc.AGENT_UNDO_CHANGE_ID in s.attributes)
    (link,) = undo_span.links
    assert format(link.context.span_id, "016x") == write.id
    assert link.context.trace_id == undo_span.context.trace_id
    assert link.attributes[sc.AGENT_UNDO_CHANGE_ID] == change.id
    ops = tel.sessions()[0].operations
    assert ops[0].changes[0].undo_operation_id == undo.id
    assert ops[1].undoes_change_id == change.id
    assert ops[1].changes[0].undo_operation_id is None


def test_operation_decorators_and_async(tel) -> None:
    @agent_otel.operation("read", "cfg.toml")
    def load() -> str:
        return "ok"

    @agent_otel.operation("query", "index")
    async def search() -> int:
        await asyncio.sleep(0)
        return 7

    async def main() -> int:
        async with agent_otel.session(user_id="u"):
            async with agent_otel.operation("write", "out.txt"):
                await asyncio.sleep(0)
            return await search()

    with agent_otel.session(user_id="u"):
        assert load() == "ok"
        assert load() == "ok"
    assert asyncio.run(main()) == 7
    first, second = tel.sessions()
    assert [o.type for o in first.operations] == ["read", "read"]
    assert len({o.id for o in first.operations}) == 2
    assert [o.type for o in second.operations] == ["write", "query"]


def test_nested_operations_keep_the_tree(tel) -> None:
    with (
        agent_otel.session(user_id="u"),
        agent_otel.operation("execute", "make") as outer,
        agent_otel.operation("read", "Makefile") as inner,
    ):
        pass
    inner_span = tel.span("execute_tool read")
    assert format(inner_span.parent.span_id, "016x") == outer.id
    assert tel.span("agent.session").attributes[sc.AGENT_SESSION_OPERATION_COUNT] == 2
    assert {o.id for o in tel.sessions()[0].operations} == {outer.id, inner.id}


def test_tool_name_names_the_span(tel) -> None:
    with (
        agent_otel.session(user_id="u"),
        agent_otel.operation("write", "a.py", tool_name="str_replace"),
    ):
        pass
    span = tel.span("execute_tool str_replace")
    assert span.attributes[sc.GEN_AI_TOOL_NAME] == "str_replace"
    assert span.attributes[sc.AGENT_OPERATION_TYPE] == "write"
