"""Many sessions at once — 100 in threads and 100 in asyncio tasks, running together — with
nested operations, thread-pool work, generators and async generators suspended inside
operations across awaits: every span lands under its own session, nothing crosses over, and
OpenTelemetry never logs "Failed to detach context"."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry.sdk.trace import ReadableSpan

import agent_otel
from agent_otel import semconv as sc
from tests.conftest import Harness

AGENTS = 100


def expected_targets(sid: str) -> set[str]:
    """What every agent below does, whichever way it runs."""
    return {
        f"{sid}/outer",
        f"{sid}/inner",
        *(f"{sid}/pool{k}" for k in range(3)),
        *(f"{sid}/gen{k}" for k in range(3)),
        *(f"{sid}/gen-early{k}" for k in range(2)),
    }


def pool_work(sid: str, k: int) -> str:
    with agent_otel.operation("query", f"{sid}/pool{k}") as op:
        session = op.session
        assert session is not None and session.id == sid
        return session.id


def produce(sid: str, name: str, count: int) -> Iterator[int]:
    """A generator that yields from inside an operation."""
    for k in range(count):
        with agent_otel.operation("read", f"{sid}/{name}{k}"):
            yield k


async def produce_async(sid: str, name: str, count: int) -> AsyncIterator[int]:
    """An async generator that awaits and yields from inside an operation."""
    for k in range(count):
        async with agent_otel.operation("read", f"{sid}/{name}{k}"):
            await asyncio.sleep(0)
            yield k
            await asyncio.sleep(0)


def thread_agent(i: int, start: threading.Barrier, pool: ThreadPoolExecutor) -> str:
    sid = f"thread-{i}"
    start.wait()
    with agent_otel.session(user_id=sid, session_id=sid) as s:
        with agent_otel.operation("query", f"{sid}/outer"), s.operation("read", f"{sid}/inner"):
            assert agent_otel.current_session() is s
        futures = [pool.submit(contextvars.copy_context().run, pool_work, sid, k) for k in range(3)]
        assert [f.result() for f in futures] == [sid] * 3
        assert list(produce(sid, "gen", 3)) == [0, 1, 2]
        for k in produce(sid, "gen-early", 5):
            if k == 1:
                break  # the generator is closed here, when its last reference goes
        assert agent_otel.current_session() is s
    return sid


async def task_agent(i: int) -> str:
    sid = f"task-{i}"
    async with agent_otel.session(user_id=sid, session_id=sid) as s:
        async with agent_otel.operation("query", f"{sid}/outer"):
            await asyncio.sleep(0)
            async with s.operation("read", f"{sid}/inner"):
                await asyncio.sleep(0)
                assert agent_otel.current_session() is s
        results = await asyncio.gather(*(asyncio.to_thread(pool_work, sid, k) for k in range(3)))
        assert results == [sid] * 3
        assert [k async for k in produce_async(sid, "gen", 3)] == [0, 1, 2]
        async with contextlib.aclosing(produce_async(sid, "gen-early", 5)) as early:
            async for k in early:
                if k == 1:
                    break
        assert agent_otel.current_session() is s
    return sid


def session_of(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> ReadableSpan:
    """The session span above ``span`` (following parents)."""
    node = span
    while sc.AGENT_SESSION_STATUS not in (node.attributes or {}):
        assert node.parent is not None, f"{span.name} has no session above it"
        node = by_id[node.parent.span_id]
    return node


def assert_no_cross_talk(tel: Harness, sids: set[str]) -> None:
    spans = tel.spans()
    by_id = {s.context.span_id: s for s in spans}
    for span in spans:
        session = session_of(span, by_id)
        sid = (session.attributes or {})[sc.SESSION_ID]
        # The processor stamped the session's id on every span inside it ...
        assert (span.attributes or {})[sc.SESSION_ID] == sid
        target = (span.attributes or {}).get(sc.AGENT_OPERATION_TARGET)
        # ... and every operation is one its own session's agent did.
        assert target is None or str(target).startswith(f"{sid}/"), (target, sid)
    sessions = {s.id: s for s in tel.sessions()}
    assert set(sessions) == sids
    for sid, session in sessions.items():
        assert session.status == "completed"
        assert {o.target for o in session.operations} == expected_targets(sid)
        assert session.operation_count == len(expected_targets(sid))


def test_sessions_in_threads_and_tasks_at_once(
    tel: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    start = threading.Barrier(AGENTS + 1)

    async def all_tasks() -> list[str]:
        start.wait()  # the threads start their sessions now too
        return await asyncio.gather(*(task_agent(i) for i in range(AGENTS)))

    with ThreadPoolExecutor(8) as pool:
        threads = [
            threading.Thread(target=thread_agent, args=(i, start, pool)) for i in range(AGENTS)
        ]
        for thread in threads:
            thread.start()
        task_ids = asyncio.run(all_tasks())
        for thread in threads:
            thread.join()

    sids = {f"thread-{i}" for i in range(AGENTS)} | set(task_ids)
    assert len(sids) == 2 * AGENTS
    assert_no_cross_talk(tel, sids)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert tel.telemetry.processor.open_span_count() == 0


def test_an_abandoned_async_generator_stays_in_its_session(
    tel: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Leaving ``async for`` early without ``aclosing()`` leaves the generator suspended
    inside its operation: asyncio closes it later, from a task of its own. Its spans still
    belong to its session, and no detach error reaches the app's logs."""
    caplog.set_level(logging.WARNING)

    async def agent(i: int) -> None:
        sid = f"abandon-{i}"
        async with agent_otel.session(user_id=sid, session_id=sid):
            async for k in produce_async(sid, "gen", 3):
                if k == 1:
                    break

    async def main() -> None:
        await asyncio.gather(*(agent(i) for i in range(20)))

    asyncio.run(main())  # closes the abandoned generators before returning
    spans = tel.spans()
    by_id = {s.context.span_id: s for s in spans}
    for span in spans:
        sid = (session_of(span, by_id).attributes or {})[sc.SESSION_ID]
        assert (span.attributes or {})[sc.SESSION_ID] == sid
        assert str((span.attributes or {}).get(sc.AGENT_OPERATION_TARGET, sid)).startswith(sid)
    assert len([s for s in spans if s.name.startswith("execute_tool")]) == 2 * 20
    assert "Failed to detach context" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
