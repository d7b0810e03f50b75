"""Every parameter of the public API that takes free text, and what agent-otel does with it.

:data:`PARAMETERS` is the list the security tests work from: the leak test plants secrets
through each redacted one (its ``path`` names the scenario path), the property tests feed
each one arbitrary values and read them back from the store, and
:func:`text_parameters` finds the parameters the public API really has, so that a new one
cannot be added without being classified here (and so tested).

Treatments:

* ``content``: recorded only when content capture is on; redacted, then cut to the budget;
* ``metadata``: recorded always; redacted and cut (:meth:`ContentPolicy.metadata`);
* ``choice``: one of a closed set; any other value is recorded redacted and cut short;
* ``failure``: an exception or a message; recorded as the span status and ``exception``
  event, which must be redacted as metadata;
* ``identifier``: recorded as given (only made exportable): it names something (a user, a
  model, a project) and keys summaries and metrics, so rewriting it would merge or split
  what it names; ``reason`` says why it holds no secret.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import agent_otel
from agent_otel import semconv as sc

CONTENT, METADATA, CHOICE, FAILURE, IDENTIFIER = (
    "content",
    "metadata",
    "choice",
    "failure",
    "identifier",
)

Record = Callable[[Any], None]
SESSION_SPAN, OPERATION_SPAN = sc.SPAN_AGENT_SESSION, sc.SPAN_AGENT_OPERATION


@dataclass(frozen=True)
class Parameter:
    where: str  # "Operation.block"
    name: str  # "reason"
    treatment: str
    record: Record  # records a value through this parameter, inside a session
    attribute: str  # the attribute that holds it
    event: str | None = None  # the span event holding the attribute, if not the span
    span: str = sc.SPAN_AGENT_OPERATION  # the start of the name of the span recording it
    path: str | None = None  # the leak scenario's path that plants secrets through it
    reason: str = ""  # identifiers: why it is recorded as given

    @property
    def key(self) -> tuple[str, str]:
        return self.where, self.name


def _session(**kwargs: Any) -> None:
    with agent_otel.session(**{"user_id": "alice", **kwargs}):
        pass


def _operation(kind: str, target: Any = "a.py", **kwargs: Any) -> Callable[..., None]:
    def act(do: Callable[[agent_otel.Operation], Any] | None = None) -> None:
        with (
            agent_otel.session(user_id="alice"),
            agent_otel.operation(kind, target, **kwargs) as op,
        ):
            if do is not None:
                do(op)

    return act


def _identifier(where: str, name: str, attribute: str, reason: str) -> Parameter:
    if where == "Session.__init__":
        record: Record = lambda v: _session(**{name: v})  # noqa: E731
        span = SESSION_SPAN
    else:
        record = lambda v: _operation("read", **{name: v})()  # noqa: E731
        span = OPERATION_SPAN
    return Parameter(where, name, IDENTIFIER, record, attribute, span=span, reason=reason)


PARAMETERS: list[Parameter] = [
    # -- content
    Parameter(
        "Session.__init__", "initial_prompt", CONTENT,
        lambda v: _session(initial_prompt=v), sc.AGENT_SESSION_INITIAL_PROMPT,
        span=SESSION_SPAN, path="session(initial_prompt=...)",
    ),
    Parameter(
        "Operation.set_result", "result", CONTENT,
        lambda v: _operation("read")(lambda op: op.set_result(v)), sc.AGENT_OPERATION_RESULT,
        path="Operation.set_result(str)",
    ),
    Parameter(
        "Operation.record_change", "before", CONTENT,
        lambda v: _operation("write")(lambda op: op.record_change("a.py", "delete", before=v)),
        sc.AGENT_CHANGE_BEFORE, event=sc.EVENT_AGENT_CHANGE,
        path="Operation.record_change(before=...) and its diff",
    ),
    Parameter(
        "Operation.record_change", "after", CONTENT,
        lambda v: _operation("write")(lambda op: op.record_change("a.py", "create", after=v)),
        sc.AGENT_CHANGE_AFTER, event=sc.EVENT_AGENT_CHANGE,
        path="Operation.record_change(after=...) and its diff",
    ),
    # An execute operation's target is its command line: content.
    Parameter(
        "Operation.__init__", "target", CONTENT,
        lambda v: _operation("execute", v)(), sc.PROCESS_COMMAND_LINE,
        path="operation('execute', target)",
    ),
    # -- metadata
    Parameter(
        "Operation.__init__", "target (read, write, query)", METADATA,
        lambda v: _operation("query", v)(), sc.AGENT_OPERATION_TARGET,
        path="operation('query', target)",
    ),
    Parameter(
        "Operation.block", "reason", METADATA,
        lambda v: _operation("execute", "rm -rf /")(lambda op: op.block(v)),
        sc.AGENT_OPERATION_BLOCKED_REASON, path="Operation.block(reason)",
    ),
    Parameter(
        "Operation.record_change", "path", METADATA,
        lambda v: _operation("write")(lambda op: op.record_change(v, "modify", after="")),
        sc.FILE_PATH, event=sc.EVENT_AGENT_CHANGE, path="Operation.record_change(path)",
    ),
    Parameter(
        "Session.pause", "reason", METADATA,
        lambda v: _pause(v), sc.AGENT_SESSION_PAUSE_REASON,
        event=sc.EVENT_AGENT_SESSION_PAUSE, span=SESSION_SPAN, path="Session.pause(reason)",
    ),
    # -- closed sets: a value outside the set is recorded, redacted
    Parameter(
        "Operation.__init__", "type", CHOICE,
        lambda v: _operation(v)(), sc.AGENT_OPERATION_TYPE,
    ),
    Parameter(
        "Operation.set_status", "status", CHOICE,
        lambda v: _operation("read")(lambda op: op.set_status(v)), sc.AGENT_OPERATION_STATUS,
    ),
    Parameter(
        "Operation.record_change", "change_type", CHOICE,
        lambda v: _operation("write")(lambda op: op.record_change("a.py", v)),
        sc.AGENT_CHANGE_TYPE, event=sc.EVENT_AGENT_CHANGE,
    ),
    # -- failures
    Parameter(
        "Session.fail", "error", FAILURE, lambda v: _session_fail(v), sc.ERROR_TYPE,
        span=SESSION_SPAN, path="Session.fail(message)",
    ),
    Parameter(
        "Session.end", "error", FAILURE, lambda v: _session_end(v), sc.ERROR_TYPE,
        span=SESSION_SPAN, path="exception leaving a session",
    ),
    Parameter(
        "Operation.fail", "error", FAILURE,
        lambda v: _operation("execute", "make")(lambda op: op.fail(v)), sc.ERROR_TYPE,
        path="Operation.fail(message)",
    ),
    # -- identifiers
    _identifier("Session.__init__", "user_id", sc.USER_ID, "a user's name or id"),
    _identifier("Session.__init__", "session_id", sc.SESSION_ID, "an id the app makes"),
    _identifier("Session.__init__", "model", sc.GEN_AI_REQUEST_MODEL, "a model name"),
    _identifier("Session.__init__", "workspace", sc.AGENT_SESSION_WORKSPACE, "a directory"),
    _identifier("Session.__init__", "agent_name", sc.GEN_AI_AGENT_NAME, "the agent's name"),
    _identifier("Session.__init__", "project", sc.AGENT_SESSION_PROJECT, "a project's name"),
    _identifier("Operation.__init__", "approved_by", sc.AGENT_OPERATION_APPROVED_BY, "a person"),
    _identifier("Operation.__init__", "tool_name", sc.GEN_AI_TOOL_NAME, "a tool's name"),
    Parameter(
        "Operation.approve", "by", IDENTIFIER,
        lambda v: _operation("write")(lambda op: op.approve(v)), sc.AGENT_OPERATION_APPROVED_BY,
        event=sc.EVENT_AGENT_APPROVAL_GRANT, reason="a person",
    ),
]  # fmt: skip


def _pause(reason: Any) -> None:
    with agent_otel.session(user_id="alice") as s:
        s.pause(reason)


def _session_fail(error: Any) -> None:
    with agent_otel.session(user_id="alice") as s:
        s.fail(error)


def _session_end(error: Any) -> None:
    s = agent_otel.session(user_id="alice").start()
    s.end(error)


# Public names that record nothing (readers, records, summaries); a new public name must be
# put here or have its text parameters in PARAMETERS.
NOT_RECORDING = frozenset(
    {
        "AgentOperation", "AgentOtelWarning", "AgentSession", "ChangeRecord", "DailySummary",
        "LLMCall", "ProjectSummary", "SessionFacts", "SpanData", "Telemetry", "Usage",
        "__version__", "current_operation", "current_session", "daily_summaries",
        "finished_sessions", "project_summaries", "read_sessions", "sessions_from_spans",
    }
)  # fmt: skip
# Parameters of recording calls that take text but never reach telemetry.
NOT_RECORDED = {
    ("configure", "service_name"): "the resource's service.name, an identifier",
    ("configure", "store_dir"): "where the store is; not recorded",
    ("Session.operation", "type"): "passed to Operation.__init__",
    ("Session.operation", "target"): "passed to Operation.__init__",
}

_TEXT_ANNOTATION = re.compile(r"\b(?:str|bytes|BaseException|PathLike)\b")
_RECORDING = {"configure": agent_otel.configure}


def text_parameters() -> Iterator[tuple[str, str]]:
    """``(where, name)`` of every parameter of the public recording API whose annotation
    admits text (``str``, ``bytes``, a path or an exception)."""
    for name in agent_otel.__all__:
        if name in NOT_RECORDING:
            continue
        value = getattr(agent_otel, name)
        if inspect.isclass(value):
            members = [
                (f"{value.__name__}.{member}", fn)
                for member, fn in inspect.getmembers(value, inspect.isfunction)
                if member == "__init__" or not member.startswith("_")
            ]
        else:
            members = [(name, value)]
        for where, fn in members:
            for parameter in inspect.signature(fn).parameters.values():
                if _TEXT_ANNOTATION.search(str(parameter.annotation)):
                    yield where, parameter.name


def unclassified_public_names() -> list[str]:
    """Public names that are neither known recorders nor known non-recorders."""
    recorders = {"configure", "session", "Session", "operation", "Operation"}
    return [n for n in agent_otel.__all__ if n not in recorders | NOT_RECORDING]
