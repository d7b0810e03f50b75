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
``break`` — and its ``close`` also ends the call (``__exit__`` calls ``close``). A stream
dropped before it was read at all ends its call when the call itself is collected (a
generator that never started runs no ``finally``; see :meth:`LLMCall.__del__`).

Once the call has ended, the stream gives back its own ``close``: nothing of the call (its
span, its response) then lives as long as the stream, and no reference cycle is left for the
garbage collector to find — with a batch processor holding thousands of spans, each such
cycle made collections noticeably slower.
"""

from __future__ import annotations

import weakref
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


def _observed(
    inner: Iterator[Any], call: LLMCall, observe: ItemObserver, stream: weakref.ref[Any]
) -> Iterator[Any]:
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
        _release(stream())


async def _observed_async(
    inner: AsyncIterator[Any], call: LLMCall, observe: ItemObserver, stream: weakref.ref[Any]
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
        _release(stream())


def wrap_stream(stream: Any, call: LLMCall, observe: ItemObserver, *, is_async: bool) -> Any:
    """Make ``stream`` feed ``call`` and end it; returns the same object."""
    inner = getattr(stream, "_iterator", None)
    close = getattr(stream, "close", None)
    if inner is None or close is None or not hasattr(stream, "__dict__"):
        # Not the stream shape we know: leave it alone and record what is known now.
        call.finish()
        return stream
    owner = weakref.ref(stream)
    if is_async:
        stream._iterator = _observed_async(inner, call, observe, owner)
        stream.close = _AsyncCloser(close, call)
    else:
        stream._iterator = _observed(inner, call, observe, owner)
        stream.close = _Closer(close, call)
    return stream


class _Closer:
    """The stream's ``close`` while its call is open: closes, then ends the call."""

    __slots__ = ("call", "close")

    def __init__(self, close: Callable[[], Any], call: LLMCall) -> None:
        self.close = close
        self.call = call

    def __call__(self) -> Any:
        try:
            return self.close()
        finally:
            self.call.finish()
            _release(getattr(self.close, "__self__", None))


class _AsyncCloser(_Closer):
    async def __call__(self) -> Any:
        close: Callable[[], Awaitable[Any]] = self.close
        try:
            return await close()
        finally:
            self.call.finish()
            _release(getattr(self.close, "__self__", None))


def _release(stream: Any) -> None:
    """Give the stream its own ``close`` back once the call has ended."""
    if stream is not None and isinstance(stream.__dict__.get("close"), _Closer):
        del stream.__dict__["close"]
