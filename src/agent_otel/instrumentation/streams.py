"""Observing a streamed response without replacing the object the app receives.

A streamed response ends when the app exhausts it, breaks out of its loop, closes it, leaves
its ``with`` block, raises inside the loop, is cancelled, or simply drops it. The span of the
call must end on each of these, with whatever usage was seen.

The app keeps the SDK's own stream object — ``type(stream) is openai.Stream``, every
attribute and helper as the SDK made it (a proxy would not do: some SDK versions accept only
exact instances in ``isinstance``). Two things are changed on that one instance: its item
iterator (``_iterator``, which both SDKs' ``__iter__``/``__next__`` read) is wrapped in a
generator that reads each item and ends the call when the iteration ends, fails, or the
generator is closed — which Python does when the stream is garbage-collected after a
``break`` — and its ``close`` also ends the call (``__exit__`` calls ``close``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, Protocol

from agent_otel.errors import internal_error
from agent_otel.instrumentation.llm_call import LLMCall, Response


class ItemObserver(Protocol):
    """Reads one item into the call's response; True hides the item from the app (an item
    that exists only because the instrumentation asked for it)."""

    def __call__(self, response: Response, item: Any) -> bool: ...


def _observe(observe: ItemObserver, response: Response, item: Any) -> bool:
    try:
        return observe(response, item)
    except Exception:
        internal_error("reading a stream chunk")
        return False


def _observed(inner: Iterator[Any], call: LLMCall, observe: ItemObserver) -> Iterator[Any]:
    error: BaseException | None = None
    response = call.response
    inner = iter(inner)  # the second loop goes on where the first one stopped
    try:
        for item in inner:
            call.chunk_received()  # the first item times the first chunk
            if not _observe(observe, response, item):
                yield item
            break
        for item in inner:
            if not _observe(observe, response, item):
                yield item
    except GeneratorExit:
        raise  # closed early (close(), or collected after a break): not an error
    except BaseException as exc:
        error = exc
        raise
    finally:
        call.finish(error)


async def _observed_async(
    inner: AsyncIterator[Any], call: LLMCall, observe: ItemObserver
) -> AsyncIterator[Any]:
    error: BaseException | None = None
    response = call.response
    inner = aiter(inner)  # the second loop goes on where the first one stopped
    try:
        async for item in inner:
            call.chunk_received()
            if not _observe(observe, response, item):
                yield item
            break
        async for item in inner:
            if not _observe(observe, response, item):
                yield item
    except GeneratorExit:
        raise
    except BaseException as exc:  # includes asyncio.CancelledError
        error = exc
        raise
    finally:
        call.finish(error)


def wrap_stream(stream: Any, call: LLMCall, observe: ItemObserver, *, is_async: bool) -> Any:
    """Make ``stream`` feed ``call`` and end it; returns the same object."""
    inner = getattr(stream, "_iterator", None)
    close = getattr(stream, "close", None)
    if inner is None or close is None or not hasattr(stream, "__dict__"):
        # Not the stream shape we know: leave it alone and record what is known now.
        call.finish()
        return stream
    if is_async:
        stream._iterator = _observed_async(inner, call, observe)
        stream.close = _async_closer(close, call)
    else:
        stream._iterator = _observed(inner, call, observe)
        stream.close = _closer(close, call)
    return stream


def _closer(close: Callable[[], Any], call: LLMCall) -> Callable[[], Any]:
    def closing() -> Any:
        try:
            return close()
        finally:
            call.finish()

    return closing


def _async_closer(close: Callable[[], Awaitable[Any]], call: LLMCall) -> Callable[[], Any]:
    async def closing() -> Any:
        try:
            return await close()
        finally:
            call.finish()

    return closing
