"""Stream wrappers that end an LLM call's span on every way a stream can end.

A streamed response ends when the app exhausts it, breaks out of its loop, closes it, leaves
its ``with`` block, raises inside the loop, is cancelled, or simply drops it. Only some of
these reach the stream object: a ``break`` or an exception in the loop body tells it nothing,
so the span also ends when the wrapper is garbage-collected — with whatever usage was seen.

The wrappers are ``wrapt`` proxies: ``isinstance(stream, openai.Stream)``, attribute access
(``stream.response``) and the context-manager protocol behave exactly as without them.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

import wrapt

from agent_otel.errors import internal_error
from agent_otel.instrumentation.llm_call import LLMCall


class ItemObserver(Protocol):
    """Reads a stream's items into the call's response; True hides the item from the app
    (an item that exists only because the instrumentation asked for it)."""

    def __call__(self, call: LLMCall, item: Any) -> bool: ...


def _observe(call: LLMCall, observe: ItemObserver, item: Any) -> bool:
    try:
        call.chunk_received()
        return observe(call, item)
    except Exception:
        internal_error("reading a stream chunk")
        return False


class _StreamBase(wrapt.ObjectProxy):  # type: ignore[type-arg]
    def __init__(self, wrapped: Any, call: LLMCall, observe: ItemObserver) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_observe = observe

    def _self_end(self, error: BaseException | None = None) -> None:
        self._self_call.finish(error)

    def __del__(self) -> None:
        # Dropped before the end (a `break`, an exception in the loop): end the span now.
        call = getattr(self, "_self_call", None)
        if call is not None and not call.finished:
            call.finish()


class SyncStream(_StreamBase):
    """A synchronous stream whose items feed an :class:`LLMCall`."""

    def __iter__(self) -> SyncStream:
        return self

    def __next__(self) -> Any:
        while True:
            try:
                item = self.__wrapped__.__next__()
            except StopIteration:
                self._self_end()
                raise
            except BaseException as error:
                self._self_end(error)
                raise
            if not _observe(self._self_call, self._self_observe, item):
                return item

    def __enter__(self) -> SyncStream:
        self.__wrapped__.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            # An exception in the block is the app's, not the call's: the call just ended.
            self._self_end()

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end()


class AsyncStream(_StreamBase):
    """An asynchronous stream whose items feed an :class:`LLMCall`."""

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        while True:
            try:
                item = await self.__wrapped__.__anext__()
            except StopAsyncIteration:
                self._self_end()
                raise
            except BaseException as error:  # includes asyncio.CancelledError
                self._self_end(error)
                raise
            if not _observe(self._self_call, self._self_observe, item):
                return item

    async def __aenter__(self) -> AsyncStream:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_end()

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_end()


def wrap_stream(stream: Any, call: LLMCall, observe: ItemObserver, *, is_async: bool) -> Any:
    """The stream the app receives instead of ``stream``."""
    cls: Callable[[Any, LLMCall, ItemObserver], Any] = AsyncStream if is_async else SyncStream
    return cls(stream, call, observe)
