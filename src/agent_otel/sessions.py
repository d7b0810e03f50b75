"""Agent sessions: the root span of everything an agent does for one task."""

from __future__ import annotations

import getpass
import os
import sys
import uuid
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind

from agent_otel import semconv as sc
from agent_otel.errors import ProcessEnded, misuse
from agent_otel.scope import SpanScope, is_clean_exit, mark_failed
from agent_otel.validation import as_str, check_int, check_number, check_str

if TYPE_CHECKING:
    from agent_otel.configuration import Telemetry
    from agent_otel.operations import Operation

# The session that is current in an OpenTelemetry context (so it follows the context into
# asyncio tasks and into threads that carry the context over).
SESSION_KEY = otel_context.create_key("agent_otel.session")

_WHERE = "agent_otel.session()"


def _is_cancellation(exc: BaseException) -> bool:
    """Ctrl-C, a cancelled asyncio task, a closed generator or the process ending (SIGTERM,
    exit) while the session was open: the session was cancelled. (asyncio is looked up, not
    imported: if it was never imported, nothing was cancelled by it, and importing it would
    slow down ``import agent_otel``.)"""
    if isinstance(exc, (KeyboardInterrupt, GeneratorExit, ProcessEnded)):
        return True
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


def _default_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (e.g. some containers)
        return None


class Session(SpanScope):
    """One agent session: a root span with the seed's AgentSession fields.

    Create it with ``agent_otel.session(...)``; use it with ``with``/``async with`` or as a
    decorator. ``user_id`` defaults to the OS user, ``workspace`` to the current directory
    and ``project`` to the workspace's name, so that a session is attributable even when the
    app says nothing.
    """

    def __init__(
        self,
        *,
        user_id: str | None = None,
        model: str | None = None,
        model_tier: int | None = None,
        temperature: float | None = None,
        workspace: str | os.PathLike[str] | None = None,
        initial_prompt: str | None = None,
        session_id: str | None = None,
        agent_name: str | None = None,
        project: str | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self._given_id = check_str(_WHERE, "session_id", session_id)
        self.id: str = self._given_id or str(uuid.uuid4())
        self.user_id = check_str(_WHERE, "user_id", user_id) or _default_user()
        self.model = check_str(_WHERE, "model", model)
        self.model_tier = check_int(_WHERE, "model_tier", model_tier, low=1, high=4)
        self.temperature = check_number(_WHERE, "temperature", temperature, low=0.0)
        self.workspace = check_str(_WHERE, "workspace", workspace, path_ok=True) or os.getcwd()
        self.initial_prompt = check_str(_WHERE, "initial_prompt", initial_prompt)
        self.agent_name = check_str(_WHERE, "agent_name", agent_name)
        self.project = check_str(_WHERE, "project", project) or default_project(self.workspace)
        self._telemetry = telemetry
        self._reset_runtime()

    def _reset_runtime(self) -> None:
        super()._reset_runtime()
        self._status = "active"

    def _fresh(self) -> Session:
        new = super()._fresh()
        if new._given_id is None:
            new.id = str(uuid.uuid4())
        return new

    # -- state -----------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """'active' | 'paused' | 'completed' | 'failed' | 'cancelled'."""
        return self._status

    @property
    def telemetry(self) -> Telemetry:
        if self._telemetry is None:
            from agent_otel.configuration import get_telemetry

            self._telemetry = get_telemetry()
        return self._telemetry

    def pause(self, reason: str | None = None) -> None:
        """Mark the session paused (e.g. waiting for the user); recorded as a span event."""
        if not self._check_open("pause"):
            return
        if self._status != "active":
            misuse(f"Session.pause(): session {self.id} is {self._status}, not active; ignored")
            return
        self._status = "paused"
        reason = check_str("Session.pause()", "reason", reason)
        # Free text, recorded always: redacted and cut like other metadata.
        content = self.telemetry.content
        attrs = {sc.AGENT_SESSION_PAUSE_REASON: content.metadata(reason)} if reason else None
        self.span.add_event(sc.EVENT_AGENT_SESSION_PAUSE, attrs)

    def resume(self) -> None:
        """Resume a paused session; recorded as a span event."""
        if not self._check_open("resume"):
            return
        if self._status != "paused":
            misuse(f"Session.resume(): session {self.id} is {self._status}, not paused; ignored")
            return
        self._status = "active"
        self.span.add_event(sc.EVENT_AGENT_SESSION_RESUME)

    def cancel(self) -> None:
        """Mark the session cancelled; it ends with that status when its block exits."""
        if self._check_open("cancel"):
            self._status = "cancelled"

    def fail(self, error: BaseException | str) -> None:
        """Mark the session failed with an exception or a message (span status ERROR)."""
        if not self._check_open("fail"):
            return
        if not isinstance(error, (BaseException, str)):
            misuse(
                f"Session.fail(): expected an exception or a message, got "
                f"{type(error).__name__}; recorded as str(value)",
                TypeError,
            )
            error = as_str(error)
        self._status = "failed"
        mark_failed(self.span, error, self.telemetry.content)

    def operation(self, type: str, target: str | None = None, **kwargs: Any) -> Operation:
        """An operation of this session; see :func:`agent_otel.operation` for the arguments."""
        from agent_otel.operations import Operation

        return Operation(type, target, session=self, **kwargs)

    def _describe(self) -> str:
        return self.id

    # -- span ------------------------------------------------------------------------------

    def _start_span(self) -> tuple[Span, Context]:
        tel = self.telemetry
        attrs: dict[str, Any] = {
            sc.SESSION_ID: self.id,
            sc.AGENT_SESSION_STATUS: "active",
            sc.GEN_AI_OPERATION_NAME: "invoke_agent",
            sc.AGENT_SESSION_WORKSPACE: self.workspace,
            sc.AGENT_SESSION_PROJECT: self.project,
        }
        optional = {
            sc.USER_ID: self.user_id,
            sc.GEN_AI_AGENT_NAME: self.agent_name,
            sc.GEN_AI_REQUEST_MODEL: self.model,
            sc.GEN_AI_REQUEST_TEMPERATURE: self.temperature,
            sc.AGENT_SESSION_MODEL_TIER: self.model_tier,
        }
        attrs.update((k, v) for k, v in optional.items() if v is not None)
        if self.initial_prompt is not None:
            captured = tel.content.capture_text(self.initial_prompt)
            if captured is not None:
                attrs[sc.AGENT_SESSION_INITIAL_PROMPT] = captured.text
                attrs[sc.AGENT_SESSION_INITIAL_PROMPT_SIZE] = captured.size
        name = sc.SPAN_AGENT_SESSION + (f" {self.agent_name}" if self.agent_name else "")
        span = tel.tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=attrs)
        ctx = trace.set_span_in_context(span)
        return span, otel_context.set_value(SESSION_KEY, self, ctx)

    def _finish(self, exc: BaseException | None) -> None:
        span = self.span
        if exc is not None:
            if _is_cancellation(exc):
                self._status = "cancelled"
            elif is_clean_exit(exc):
                self._status = "completed"
            else:
                self._status = "failed"
                mark_failed(span, exc, self.telemetry.content)
        elif self._status in ("active", "paused"):
            self._status = "completed"
        processor = self.telemetry.processor
        span_id = span.get_span_context().span_id
        usage = processor.usage_of(span_id)
        span.set_attributes(
            {
                sc.AGENT_SESSION_STATUS: self._status,
                sc.AGENT_SESSION_TOTAL_TOKENS: usage.total_tokens,
                sc.AGENT_SESSION_TOTAL_COST: usage.cost,
                sc.AGENT_SESSION_OPERATION_COUNT: processor.operation_count(span_id),
            }
        )

    def end(self, error: BaseException | None = None) -> None:
        """End the session now (for code that cannot use ``with``); ``error`` is what ended
        it, if anything, with the same meaning as an exception leaving a ``with`` block."""
        if error is not None and not isinstance(error, BaseException):
            try:
                misuse(
                    f"Session.end(): error must be an exception or None, got "
                    f"{type(error).__name__}; the session is failed with str(error) as its "
                    "message",
                    TypeError,
                )
            finally:  # strict mode raises, but the session still ends (and leaves the context)
                self.fail(as_str(error))
                self._exit(None)
            return
        self._exit(error)

    def start(self) -> Session:
        """Start the session and make it current (for code that cannot use ``with``)."""
        self._enter()
        return self


def default_project(workspace: str) -> str:
    """The project a session belongs to when the app does not say: the workspace's last
    path component (``/home/alice/shop/`` -> ``shop``), or the workspace itself."""
    name = os.path.basename(os.path.normpath(workspace))
    return name or workspace


def project_of(project: str | None, workspace: str | None) -> str | None:
    """The project a session counts under in the summaries: its own, else its workspace's
    name (:func:`default_project`); None with neither."""
    if not project and workspace:
        project = default_project(workspace)
    return project or None


def current_session() -> Session | None:
    """The session active in the current context (thread, task), or None."""
    value = otel_context.get_value(SESSION_KEY)
    return value if isinstance(value, Session) else None


# The public entry point: `agent_otel.session(user_id=..., ...)` makes a Session, to use with
# `with`, `async with` or as a decorator (each decorated call is a new session). The span
# starts when the block is entered. `project` names the project for the summaries; by
# default it is the workspace's directory name.
session = Session
