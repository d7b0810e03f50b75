"""What sessions and operations share: a span made current for a block of code.

Both are used the same four ways — ``with``, ``async with``, as a decorator of a function and
as a decorator of a coroutine function — and both must end their span on every exit path and
never let an error of ours reach the app. That machinery lives here once.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode

from agent_otel import semconv as sc
from agent_otel.errors import internal_error, misuse

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S", bound="SpanScope")


class SpanScope:
    """A span that is current while a block runs; subclasses say what it records."""

    _span: Span | None
    _token: object | None
    _ended: bool
    _start_failed: bool

    def _reset_runtime(self) -> None:
        self._span = None
        self._token = None
        self._ended = False
        self._start_failed = False

    # -- what subclasses provide -----------------------------------------------------------

    def _prepare(self) -> None:
        """Checks before the span starts; misuse reported here reaches the app in strict
        mode (everything after it is guarded so that our own errors never do)."""

    def _start_span(self) -> tuple[Span, Context]:
        """Start the span; return it and the context to make current."""
        raise NotImplementedError

    def _finish(self, exc: BaseException | None) -> None:
        """Set the final attributes and status on ``self._span`` (not yet ended)."""
        raise NotImplementedError

    def _fresh(self: S) -> S:
        """A new, unstarted copy with the same arguments (one per decorated call)."""
        new = copy.copy(self)
        new._reset_runtime()
        return new

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def span(self) -> Span:
        """The underlying OpenTelemetry span (a non-recording one before the block starts)."""
        return self._span if self._span is not None else trace.INVALID_SPAN

    def _enter(self) -> None:
        if self._span is not None:
            misuse(
                f"{type(self).__name__} {self._describe()} was already started; "
                "create a new one for each block",
                RuntimeError,
            )
            return
        self._prepare()
        try:
            span, ctx = self._start_span()
            self._span = span
            self._token = otel_context.attach(ctx)
        except Exception:
            self._start_failed = True
            internal_error(f"starting {type(self).__name__}")

    def _exit(self, exc: BaseException | None) -> None:
        if self._ended or self._span is None:
            return
        self._ended = True
        try:
            self._finish(exc)
        except Exception:
            internal_error(f"finishing {type(self).__name__}")
        finally:
            try:
                self._span.end()
            finally:
                if self._token is not None:
                    otel_context.detach(self._token)  # type: ignore[arg-type]
                    self._token = None

    def _describe(self) -> str:
        return ""

    def _check_open(self, what: str) -> bool:
        """Whether the span can take ``what`` now; misuse (before start, after end) is
        reported. After our own failure to start, calls are dropped quietly: that failure
        was logged already and is not the app's mistake."""
        if self._span is not None and not self._ended:
            return True
        if not self._start_failed:
            state = "has ended" if self._ended else "has not started"
            name = type(self).__name__
            misuse(
                f"{name}.{what}(): {name.lower()} {self._describe()} {state}; ignored", RuntimeError
            )
        return False

    def __enter__(self: S) -> S:
        self._enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc)

    async def __aenter__(self: S) -> S:
        self._enter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc)

    def __call__(self, func: F) -> F:
        """Use as a decorator: every call of ``func`` runs in a new session/operation."""
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await func(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return cast(F, wrapper)


def mark_failed(span: Span, error: BaseException | str) -> str:
    """Record a failure the way the conventions ask: ``error.type``, ERROR status with a
    description, and the exception itself as an event. Returns the description."""
    if isinstance(error, BaseException):
        description = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        span.record_exception(error)
        span.set_attribute(sc.ERROR_TYPE, type(error).__qualname__)
    else:
        description = error
        # error.type must be low-cardinality; a free-text reason is not, so use the fallback.
        span.set_attribute(sc.ERROR_TYPE, "_OTHER")
    span.set_status(Status(StatusCode.ERROR, description))
    return description
