"""Sessions and operations follow the context into asyncio tasks and worker threads."""

from __future__ import annotations

import asyncio
import contextvars
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import agent_otel
from agent_otel import semconv as sc


def _parents_ok(tel) -> None:  # type: ignore[no-untyped-def]
    """Every operation span's parent chain reaches the session span with the same id."""
    spans = {s.context.span_id: s for s in tel.spans()}
    for span in spans.values():
        if sc.AGENT_OPERATION_TYPE not in span.attributes:
            continue
        node = span
        while sc.AGENT_SESSION_STATUS not in node.attributes:
            node = spans[node.parent.span_id]
        assert node.attributes[sc.SESSION_ID] == span.attributes[sc.SESSION_ID]


def test_asyncio_gather_many_sessions_no_cross_talk(tel) -> None:
    async def agent(i: int) -> str:
        async with agent_otel.session(user_id=f"user-{i}") as s:
            for step in range(3):
                async with agent_otel.operation("read", f"{i}/{step}.py"):
                    await asyncio.sleep(0)
                    assert agent_otel.current_session() is s
            return s.id

    async def main() -> list[str]:
        return await asyncio.gather(*(agent(i) for i in range(20)))

    ids = asyncio.run(main())
    sessions = {s.id: s for s in tel.sessions()}
    assert set(ids) == set(sessions)
    for s in sessions.values():
        i = s.user_id.split("-")[1]  # type: ignore[union-attr]
        assert [o.target for o in s.operations] == [f"{i}/{step}.py" for step in range(3)]
        assert s.operation_count == 3
    _parents_ok(tel)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is Python 3.11+")
def test_taskgroup_operations_in_one_session(tel) -> None:
    async def step(i: int) -> None:
        async with agent_otel.operation("query", f"q{i}"):
            await asyncio.sleep(0.001 * (5 - i))

    async def main() -> None:
        async with agent_otel.session(user_id="u"), asyncio.TaskGroup() as group:
            for i in range(5):
                group.create_task(step(i))

    asyncio.run(main())
    (session,) = tel.sessions()
    assert sorted(o.target for o in session.operations) == [f"q{i}" for i in range(5)]
    assert session.operation_count == 5
    _parents_ok(tel)


def test_thread_pool_with_copied_context(tel) -> None:
    def work(i: int) -> str:
        with agent_otel.operation("write", f"f{i}") as op:
            return op.session.id  # type: ignore[union-attr]

    with agent_otel.session(user_id="u") as s, ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(contextvars.copy_context().run, work, i) for i in range(16)]
        assert {f.result() for f in futures} == {s.id}
    assert tel.sessions()[0].operation_count == 16
    _parents_ok(tel)


def test_explicit_session_operation_in_a_thread_without_context(tel) -> None:
    """s.operation() works in a worker thread that did not inherit the context."""

    def work(s: agent_otel.Session, i: int) -> bool:
        with s.operation("read", f"r{i}") as op:
            assert agent_otel.current_session() is s
            return op.session is s

    with agent_otel.session(user_id="u") as s, ThreadPoolExecutor(2) as pool:
        assert all(pool.map(lambda i: work(s, i), range(6)))
    (record,) = tel.sessions()
    assert len(record.operations) == 6
    _parents_ok(tel)


def test_threads_with_their_own_sessions(tel) -> None:
    def agent(i: int) -> str:
        with agent_otel.session(user_id=f"t{i}") as s:
            for _ in range(5):
                with agent_otel.operation("read", s.id):
                    pass
            return s.id

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(agent, range(40)))
    sessions = tel.sessions()
    assert {s.id for s in sessions} == set(ids)
    for s in sessions:
        assert [o.target for o in s.operations] == [s.id] * 5
    _parents_ok(tel)


def test_generator_crossing_operations(tel) -> None:
    def produce():  # type: ignore[no-untyped-def]
        for i in range(3):
            with agent_otel.operation("read", f"chunk{i}"):
                yield i

    with agent_otel.session(user_id="u"):
        assert list(produce()) == [0, 1, 2]
    assert [o.target for o in tel.sessions()[0].operations] == ["chunk0", "chunk1", "chunk2"]
