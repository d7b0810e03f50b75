"""What sessions and operations share: a span made current for a block of code.

Both are used the same four ways — ``with``, ``async with``, as a decorator of a function and
as a decorator of a coroutine function — and both must end their span on every exit path and
never let an error of ours reach the app. That machinery lives here once.

Every started scope is also registered until it ends, so that the ones still open when the
process ends (on SIGTERM, at exit) can be ended then instead of being lost, innermost first.
The registry is per process: a child made by ``os.fork()`` starts with an empty one, so it
never ends (and exports a second time) a session or operation that its parent started — the
parent ends those.
"""

from __future__ import annotations

import contextvars
import copy
import functools
import inspect
import os
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.semconv.attributes.exception_attributes import EXCEPTION_MESSAGE
from opentelemetry.trace import Span, Status, StatusCode

from agent_otel import semconv as sc
from agent_otel.content import EXCEPTION_EVENT, ContentPolicy
from agent_otel.errors import internal_error, misuse

F = TypeVar("F", bound=Callable[..., Any])
S = TypeVar("S", bound="SpanScope")

# The scopes started in this process and not yet ended, by id(), in start order. Ending one
# pops it; whoever pops it (the block's exit or the process-end sweep) ends its span, once.
_open: dict[int, SpanScope] = {}
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_open.clear)


def is_clean_exit(exc: BaseException) -> bool:
    """``sys.exit()`` / ``sys.exit(0)`` leaving a block: the program ends as it meant to, so
    the work in progress did not fail."""
    return isinstance(exc, SystemExit) and exc.code in (0, None)


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
            _open[id(self)] = self
            self._token = otel_context.attach(ctx)
        except Exception:
            self._start_failed = True
            internal_error(f"starting {type(self).__name__}")

    def _exit(self, exc: BaseException | None) -> None:
        try:
            self._end_span(exc)
        finally:
            token, self._token = self._token, None
            if token is not None:
                _detach(token)

    def _end_span(self, exc: BaseException | None) -> None:
        """Finish and end the span, once, whichever thread gets here first. The context is
        not touched: it belongs to the thread or task that entered the block.

        Nothing happens for a scope that is not open in this process: not started, ended
        already (perhaps by the process-end sweep), or started by the parent of this forked
        process (the parent ends it; ending it here too would export it twice).
        """
        if _open.pop(id(self), None) is None or self._span is None:
            return
        self._ended = True
        try:
            self._finish(exc)
        except Exception:
            internal_error(f"finishing {type(self).__name__}")
        finally:
            self._span.end()

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


def _detach(token: object) -> None:
    """Restore the context that was current before the block.

    The block may exit in another context than it entered: a generator suspended inside it
    and closed elsewhere — an async generator abandoned by ``break`` is closed by asyncio in
    a task of its own, a generator dropped in another thread by the garbage collector. The
    context it entered is then not current here, and there is nothing to restore: the outer
    block that owns that context restores it when it exits. OpenTelemetry's ``detach`` would
    log an error with a traceback into the app's logs for this; it is skipped quietly.
    """
    if isinstance(token, contextvars.Token):
        try:  # noqa: SIM105 - free when nothing is raised; suppress() is not, on every block
            token.var.reset(token)
        except ValueError:  # the token belongs to another context
            pass
        return
    otel_context.detach(token)  # type: ignore[arg-type]  # a non-default runtime context


def end_open_scopes(cause: BaseException) -> None:
    """End every session and operation still open in this process, innermost first, as if
    ``cause`` had left their blocks. For the process end: the blocks themselves will never
    exit (the process is being killed) or exit too late (a daemon thread at interpreter
    exit); if they do exit later, they only restore their context."""
    for scope in reversed(list(_open.values())):
        try:
            scope._end_span(cause)
        except Exception:
            internal_error(f"ending an open {type(scope).__name__} at process end")


def mark_failed(
    span: Span, error: BaseException | str, content: ContentPolicy | None = None
) -> str:
    """Record a failure the way the conventions ask: ``error.type``, ERROR status with a
    description, and the exception itself as an event. Returns the description.

    Messages and stack traces are free text that may quote a secret (a connection URL, a
    key in an API error), so they are redacted and cut like other metadata, by ``content``
    (the session's or operation's policy; by default the process's redactor and budget)."""
    policy = content if content is not None else ContentPolicy()
    if isinstance(error, BaseException):
        attributes = policy.exception_attributes(error)
        message = attributes[EXCEPTION_MESSAGE]
        description = f"{type(error).__name__}: {message}" if message else type(error).__name__
        # The event record_exception() adds, with these attributes (it would record the
        # message and stack trace as they are, and raise for an exception that cannot be
        # printed).
        span.add_event(EXCEPTION_EVENT, attributes)
        span.set_attribute(sc.ERROR_TYPE, type(error).__qualname__)
    else:
        description = policy.metadata(error)
        # error.type must be low-cardinality; a free-text reason is not, so use the fallback.
        span.set_attribute(sc.ERROR_TYPE, "_OTHER")
    span.set_status(Status(StatusCode.ERROR, description))
    return description
