"""Agent operations: one read, write, execute or query, as a child span of its session."""

from __future__ import annotations

import dataclasses
import os
import shlex
import time
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, TraceFlags

from agent_otel import semconv as sc
from agent_otel.changes import CHANGE_TYPES, build_change
from agent_otel.content import ContentPolicy
from agent_otel.errors import internal_error, misuse
from agent_otel.records import ChangeRecord, to_datetime
from agent_otel.scope import SpanScope, is_clean_exit, mark_failed
from agent_otel.sessions import SESSION_KEY, Session, current_session
from agent_otel.usage import Usage
from agent_otel.validation import (
    as_str,
    brief,
    check_bool,
    check_choice,
    check_int,
    check_number,
    check_str,
)

if TYPE_CHECKING:
    from agent_otel.configuration import Telemetry
    from agent_otel.processor import AgentSpanProcessor

OPERATION_TYPES = sc.AGENT_OPERATION_TYPE_VALUES
OPERATION_STATUSES = sc.AGENT_OPERATION_STATUS_VALUES
# The operation that is current in an OpenTelemetry context.
OPERATION_KEY = otel_context.create_key("agent_otel.operation")
_FILE_TYPES = frozenset({"read", "write"})
_WHERE = "agent_otel.operation()"


def executable_name(command: str) -> str:
    """The program a command line runs (``pytest`` for ``FOO=1 pytest -q tests/``): the part
    of a command that is safe to record when command lines themselves are content. Leading
    ``NAME=value`` environment assignments are skipped: they are where secrets sit."""
    try:
        words = shlex.split(command)
    except ValueError:  # unbalanced quotes: fall back to whitespace
        words = command.split()
    for word in words:
        name, sep, _ = word.partition("=")
        if sep and name.isidentifier():
            continue
        return os.path.basename(word)
    return ""


class Operation(SpanScope):
    """One agent operation (seed: AgentOperation) inside a session.

    Create it with :func:`agent_otel.operation` or :meth:`Session.operation`. Its ``id`` is
    the span id (hex), known once the block has started.
    """

    def __init__(
        self,
        type: str,
        target: str | os.PathLike[str] | None = None,
        *,
        approved: bool | None = None,
        approved_by: str | None = None,
        undoes: ChangeRecord | None = None,
        tool_name: str | None = None,
        session: Session | None = None,
    ) -> None:
        self.type = check_choice(_WHERE, "type", type, OPERATION_TYPES)
        self.target = check_str(_WHERE, "target", target, path_ok=True)
        self._approved = bool(check_bool(_WHERE, "approved", approved))
        self._approved_by = check_str(_WHERE, "approved_by", approved_by)
        if approved_by is not None and approved is None:
            self._approved = True  # naming an approver says it was approved
        if undoes is not None and not isinstance(undoes, ChangeRecord):
            misuse(
                f"{_WHERE}: undoes must be the ChangeRecord returned by record_change(), got "
                f"{type_name(undoes)}; no link was recorded",
                TypeError,
            )
            undoes = None
        self.undoes = undoes
        self.tool_name = check_str(_WHERE, "tool_name", tool_name)
        self._session = session
        self._reset_runtime()

    def _reset_runtime(self) -> None:
        super()._reset_runtime()
        self._status: str | None = None
        self._changes: list[ChangeRecord] = []
        self._bound_session: Session | None = None
        self.approved = self._approved
        self.approved_by = self._approved_by

    # -- state -----------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The operation id: its span id in hex ('' before the block starts)."""
        ctx = self.span.get_span_context()
        return format(ctx.span_id, "016x") if ctx.is_valid else ""

    @property
    def status(self) -> str | None:
        """'success' | 'failed' | 'blocked' | 'pending', or None while still undecided."""
        return self._status

    @property
    def session(self) -> Session | None:
        return self._bound_session

    @property
    def changes(self) -> tuple[ChangeRecord, ...]:
        return tuple(self._changes)

    # -- recording -------------------------------------------------------------------------

    def set_result(self, result: str | bytes) -> None:
        """The operation's result. It is content: recorded only when capture is on."""
        if not self._check_open("set_result"):
            return
        if isinstance(result, bytes):
            result = result.decode("utf-8", errors="replace")
        text = check_str("Operation.set_result()", "result", result)
        captured = self._content().capture_text(text) if text is not None else None
        if captured is not None:
            self.span.set_attributes(
                {
                    sc.AGENT_OPERATION_RESULT: captured.text,
                    sc.AGENT_OPERATION_RESULT_SIZE: captured.size,
                }
            )

    def set_exit_code(self, code: int) -> None:
        """The exit code of an executed command (``process.exit.code``)."""
        if not self._check_open("set_exit_code"):
            return
        value = check_int("Operation.set_exit_code()", "code", code)
        if value is not None:
            self.span.set_attribute(sc.PROCESS_EXIT_CODE, value)

    def set_status(self, status: str) -> None:
        """Set the status explicitly; prefer block(), fail(), set_pending() which say why."""
        if not self._check_open("set_status"):
            return
        value = check_choice("Operation.set_status()", "status", status, OPERATION_STATUSES)
        if value is not None:
            self._status = value

    def block(self, reason: str | None = None) -> None:
        """The operation was refused (by a policy or a person). Blocked is not an error."""
        if not self._check_open("block"):
            return
        self._status = "blocked"
        reason = check_str("Operation.block()", "reason", reason)
        if reason:
            # Recorded always, so redacted always: "denied: the command holds a token ...".
            self.span.set_attribute(
                sc.AGENT_OPERATION_BLOCKED_REASON, self._content().metadata(reason)
            )

    def fail(self, error: BaseException | str) -> None:
        """The operation failed, with an exception or a message (span status ERROR)."""
        if not self._check_open("fail"):
            return
        if not isinstance(error, (BaseException, str)):
            misuse(
                "Operation.fail(): expected an exception or a message, got "
                f"{type_name(error)}; recorded as str(value)",
                TypeError,
            )
            error = as_str(error)
        self._status = "failed"
        mark_failed(self.span, error, self._content())

    def set_pending(self) -> None:
        """The operation waits for approval; the wait is recorded as an event."""
        if not self._check_open("set_pending"):
            return
        self._status = "pending"
        self.span.add_event(sc.EVENT_AGENT_APPROVAL_REQUEST)

    def approve(self, by: str | None = None) -> None:
        """Approval arrived (from ``by``); ends a pending wait."""
        if not self._check_open("approve"):
            return
        by = check_str("Operation.approve()", "by", by)
        self.approved = True
        self.approved_by = by or self.approved_by
        if self._status == "pending":
            self._status = None
        attrs = {sc.AGENT_OPERATION_APPROVED_BY: by} if by else None
        self.span.add_event(sc.EVENT_AGENT_APPROVAL_GRANT, attrs)

    def add_usage(
        self,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cost: float = 0.0,
        *,
        cache_read_tokens: int = 0,
        cache_creation_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> None:
        """Report LLM usage made without an instrumented client; added to the operation's
        (and its session's) totals like an instrumented call's."""
        if not self._check_open("add_usage"):
            return
        where = "Operation.add_usage()"
        counts = {
            name: check_int(where, name, value, low=0) or 0
            for name, value in (
                ("input_tokens", input_tokens),
                ("output_tokens", output_tokens),
                ("cache_read_tokens", cache_read_tokens),
                ("cache_creation_tokens", cache_creation_tokens),
                ("reasoning_tokens", reasoning_tokens),
            )
        }
        usage = Usage(cost=check_number(where, "cost", cost, low=0.0) or 0.0, **counts)
        self._processor().add_usage(self.span.get_span_context().span_id, usage)

    def record_change(
        self,
        path: str | os.PathLike[str],
        change_type: str,
        *,
        before: str | bytes | None = None,
        after: str | bytes | None = None,
        can_undo: bool | None = None,
    ) -> ChangeRecord:
        """Record a file change made by this operation and return its ChangeRecord.

        ``before``/``after`` are the file's content (text or bytes; None where the file did
        not exist). Hashes, sizes and the diff line count are always recorded; the texts only
        when content capture is on.
        """
        where = "Operation.record_change()"
        # A path is recorded always (and logged if recording fails): a secret in it, as in
        # a URL with a token, is redacted before anything else sees it.
        path_text = self._content().metadata(check_str(where, "path", path, path_ok=True) or "")
        kind = check_choice(where, "change_type", change_type, CHANGE_TYPES) or "modify"
        before = _check_content(where, "before", before)
        after = _check_content(where, "after", after)
        can_undo = check_bool(where, "can_undo", can_undo)
        ctx = self.span.get_span_context()
        try:
            record, attrs = build_change(
                operation_id=self.id,
                trace_id=format(ctx.trace_id, "032x") if ctx.is_valid else "",
                path=path_text,
                change_type=kind,
                before=before,
                after=after,
                can_undo=can_undo,
                content=self._content(),
            )
        except Exception:
            internal_error(f"recording the change of {path_text}")
            return ChangeRecord(
                id="",
                operation_id=self.id,
                path=path_text,
                change_type=kind,
                diff_lines=0,
                can_undo=False,
            )
        if self._check_open("record_change"):
            now = time.time_ns()
            self.span.add_event(sc.EVENT_AGENT_CHANGE, attrs, timestamp=now)
            record = dataclasses.replace(record, timestamp=to_datetime(now))
            self._changes.append(record)
        return record

    # -- span ------------------------------------------------------------------------------

    def _content(self) -> ContentPolicy:
        return self._telemetry().content

    def _processor(self) -> AgentSpanProcessor:
        return self._telemetry().processor

    def _telemetry(self) -> Telemetry:
        if self._bound_session is not None:
            return self._bound_session.telemetry
        from agent_otel.configuration import get_telemetry

        return get_telemetry()

    def _describe(self) -> str:
        return brief(f"{self.type} {self.target or ''}".strip())

    def _prepare(self) -> None:
        session = self._session or current_session()
        if session is None:
            misuse(
                f"{_WHERE}: no active session for operation {self._describe()!r}; recorded "
                "as a span without a session. Start one with agent_otel.session().",
                ValueError,
            )
        self._bound_session = session

    def _start_span(self) -> tuple[Span, Context]:
        session = self._bound_session
        tel = self._telemetry()
        parent_ctx = None
        if session is not None and current_session() is not session:
            # Explicitly bound (e.g. s.operation() in a worker thread): parent it to the
            # session even though the session is not current here.
            parent_ctx = otel_context.set_value(
                SESSION_KEY, session, trace.set_span_in_context(session.span)
            )
        attrs = self._start_attributes(session, tel.content)
        links = self._undo_links()
        op_type = self.type or "unknown"
        name = f"{sc.SPAN_AGENT_OPERATION} {self.tool_name or op_type}"
        span = tel.tracer.start_span(
            name, context=parent_ctx, kind=SpanKind.INTERNAL, attributes=attrs, links=links
        )
        ctx = trace.set_span_in_context(span, parent_ctx)
        return span, otel_context.set_value(OPERATION_KEY, self, ctx)

    def _start_attributes(self, session: Session | None, content: ContentPolicy) -> dict[str, Any]:
        op_type = self.type or "unknown"
        attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: "execute_tool",
            sc.GEN_AI_TOOL_NAME: self.tool_name or op_type,
            sc.AGENT_OPERATION_TYPE: op_type,
        }
        if session is not None:
            attrs[sc.SESSION_ID] = session.id
            if session.user_id is not None:
                attrs[sc.USER_ID] = session.user_id
        target = self.target
        if target is not None:
            if op_type == "execute":
                # A command line is content (it may hold secrets); its program name is not.
                attrs[sc.PROCESS_EXECUTABLE_NAME] = content.metadata(executable_name(target))
                captured = content.capture_text(target)
                if captured is not None:
                    attrs[sc.PROCESS_COMMAND_LINE] = captured.text
                    attrs[sc.AGENT_OPERATION_TARGET] = captured.text
                else:
                    attrs[sc.AGENT_OPERATION_TARGET] = attrs[sc.PROCESS_EXECUTABLE_NAME]
            else:
                target = content.metadata(target)
                attrs[sc.AGENT_OPERATION_TARGET] = target
                if op_type in _FILE_TYPES:
                    attrs[sc.FILE_PATH] = target
        if self.undoes is not None:
            attrs[sc.AGENT_UNDO_CHANGE_ID] = self.undoes.id
        return attrs

    def _undo_links(self) -> list[Link]:
        change = self.undoes
        if change is None or not change.operation_id or not change.trace_id:
            return []
        try:
            undone = SpanContext(
                trace_id=int(change.trace_id, 16),
                span_id=int(change.operation_id, 16),
                is_remote=True,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        except ValueError:
            return []
        return [Link(undone, {sc.AGENT_UNDO_CHANGE_ID: change.id})]

    def _finish(self, exc: BaseException | None) -> None:
        span = self.span
        if exc is not None and not is_clean_exit(exc):
            self._status = "failed"
            mark_failed(span, exc, self._content())
        elif self._status is None:
            self._status = "success"
        usage = self._processor().usage_of(span.get_span_context().span_id)
        attrs: dict[str, Any] = {
            sc.AGENT_OPERATION_STATUS: self._status,
            sc.AGENT_OPERATION_APPROVED: self.approved,
            sc.GEN_AI_USAGE_INPUT_TOKENS: usage.input_tokens,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: usage.output_tokens,
            sc.AGENT_USAGE_COST: usage.cost,
        }
        if self.approved_by:
            attrs[sc.AGENT_OPERATION_APPROVED_BY] = self.approved_by
        span.set_attributes(attrs)


def type_name(value: object) -> str:
    return type(value).__name__


def _check_content(where: str, field: str, value: object) -> str | bytes | None:
    if value is None or isinstance(value, (str, bytes)):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    misuse(
        f"{where}: {field} must be str or bytes (the file's content), got {type_name(value)}; "
        "recorded as str(value)",
        TypeError,
    )
    return as_str(value)


def current_operation() -> Operation | None:
    """The operation active in the current context, or None."""
    value = otel_context.get_value(OPERATION_KEY)
    return value if isinstance(value, Operation) else None


# The public entry point: `agent_otel.operation("read", "src/app.py")` makes an Operation of
# the session current when its block starts. `type` is read | write | execute | query;
# `target` the file path, command or query; `undoes` links an undo to the change it reverts.
# Also `async with`, and a decorator (each call is a new operation).
operation = Operation
