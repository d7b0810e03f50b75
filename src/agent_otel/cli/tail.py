"""``agent-otel tail``: watch sessions and operations end, live, while agents run.

The store is followed (:class:`~agent_otel.store.follow.StoreFollower`) and each operation
and session is printed when its span reaches the store, which is when it ends: one line per
record for people, one JSON object per line with ``--json``. Ctrl-C stops it quietly.

An operation ends before its session, so it has to be shown without one. Records are only
built as parts of a session (:func:`~agent_otel.records.sessions_from_spans`), so an
operation is built under a stand-in for its still-open parent; the operation's own fields,
its changes and its LLM calls (whose spans ended before it and are kept until then) are
exactly what ``show`` would give.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import OrderedDict, deque
from dataclasses import replace
from typing import Any

from rich.console import Console
from rich.text import Text

from agent_otel import formatting as fmt
from agent_otel import semconv as sc
from agent_otel.records import (
    AgentOperation,
    AgentSession,
    is_operation_span,
    is_session_span,
    sessions_from_spans,
)
from agent_otel.spandata import SpanData
from agent_otel.store.follow import StoreFollower
from agent_otel.store.lines import decode_lines
from agent_otel.store.otlp_json import decode_traces

from . import render
from .common import Context
from .output import to_jsonable
from .show import SEPARATOR, operation_label
from .terminal import for_terminal

NAME = "tail"

POLL_INTERVAL_S = 0.25
"""How often the store is looked at; a batch of spans reaches it every few seconds at most."""

MAX_OPEN_TRACES = 1000
"""Traces whose session has not ended yet, whose spans are kept (the oldest are dropped)."""

MAX_SPANS_PER_TRACE = 10_000
"""Spans kept per open trace (the oldest are dropped), bounding memory for endless sessions."""

_NO_PARENT = "0" * 16

Record = AgentOperation | AgentSession


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        NAME,
        parents=parents,
        help="follow the store: show operations and sessions as they end",
        description="Follow the store while agents run and show each operation and session "
        "as it ends. Waits for the store if it does not exist yet; follows it across file "
        "rotation. Stop with Ctrl-C.",
    )
    parser.add_argument(
        "--from-start",
        action="store_true",
        help="first show what the store already holds, then follow",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line: {"kind": "operation" | "session", ...the record}',
    )
    parser.set_defaults(run=run)


class LiveRecords:
    """Spans in the order they ended, to operation and session records."""

    def __init__(self) -> None:
        # Spans inside sessions that have not ended yet, per trace.
        self._open: OrderedDict[str, deque[SpanData]] = OrderedDict()

    def add(self, span: SpanData) -> Record | None:
        """The record that ``span`` completes, if any: its operation or its session."""
        if is_session_span(span):
            kept = self._open.pop(span.trace_id, ())
            found = sessions_from_spans([*kept, span])
            return next((s for s in found if s.span_id == span.span_id), None)
        if not is_operation_span(span) and sc.SESSION_ID not in span.attributes:
            return None  # not part of any session
        kept_spans = self._kept(span.trace_id)
        record = self._operation(span, kept_spans) if is_operation_span(span) else None
        kept_spans.append(span)
        return record

    def _kept(self, trace_id: str) -> deque[SpanData]:
        kept = self._open.get(trace_id)
        if kept is None:
            kept = self._open[trace_id] = deque(maxlen=MAX_SPANS_PER_TRACE)
            if len(self._open) > MAX_OPEN_TRACES:
                self._open.popitem(last=False)
        return kept

    @staticmethod
    def _operation(span: SpanData, kept: deque[SpanData]) -> AgentOperation | None:
        parent_id = span.parent_span_id or _NO_PARENT
        stand_in = SpanData(
            trace_id=span.trace_id,
            span_id=parent_id,
            parent_span_id=None,
            name="",
            start_ns=span.start_ns,
            end_ns=None,
            attributes={sc.AGENT_SESSION_STATUS: "active"},
        )
        spans = [s for s in kept if not is_operation_span(s)]
        spans += [stand_in, replace(span, parent_span_id=parent_id)]
        for session in sessions_from_spans(spans):
            for op in session.operations:
                if op.id == span.span_id:
                    return op
        return None


def run(args: argparse.Namespace, ctx: Context) -> int:
    follower = StoreFollower(ctx.store, from_start=args.from_start)
    live = LiveRecords()
    console = ctx.console()
    try:
        if not follower.exists():
            sys.stderr.write(
                f"agent-otel: no store at {ctx.store} yet; waiting for it (Ctrl-C to stop)\n"
            )
            sys.stderr.flush()
        while True:
            for _, spans in decode_lines(follower.poll(), decode_traces):
                # A line groups its spans by resource and scope; put them back in the order
                # they ended, so an operation's LLM calls come before the operation.
                for span in sorted(spans, key=_end_time):
                    record = live.add(span)
                    if record is not None:
                        emit(record, console, as_json=args.json)
            time.sleep(POLL_INTERVAL_S)
    except KeyboardInterrupt:
        return 0
    finally:
        follower.close()


def _end_time(span: SpanData) -> int:
    return span.end_ns if span.end_ns is not None else span.start_ns


def emit(record: Record, console: Console, *, as_json: bool) -> None:
    if as_json:
        kind = "session" if isinstance(record, AgentSession) else "operation"
        sys.stdout.write(json.dumps({"kind": kind, **to_jsonable(record)}) + "\n")
        sys.stdout.flush()
        return
    record = for_terminal(record)
    line = session_line(record) if isinstance(record, AgentSession) else operation_line(record)
    console.print(line, soft_wrap=True)


def operation_line(op: AgentOperation) -> Text:
    line = Text(f"{fmt.clock(op.ended_at)}  {op.session_id or fmt.MISSING}  ", style="dim")
    line.append_text(operation_label(op))
    if op.changes:
        paths = ", ".join(f"{c.change_type} {c.path}" for c in op.changes)
        line.append(f"{SEPARATOR}changed: {paths}", style="dim")
    return line


def session_line(session: AgentSession) -> Text:
    line = Text(f"{fmt.clock(session.ended_at)}  {session.id}  ", style="dim")
    line.append("session ", style="bold")
    line.append_text(render.session_status(session.status))
    if session.error:
        line.append(f": {fmt.one_line(session.error)}", style="red")
    count = session.operation_count
    details = [
        fmt.or_missing(session.user_id),
        f"{count} operation{'s' if count != 1 else ''}",
        f"{fmt.tokens(session.total_tokens)} tokens",
        fmt.cost(session.total_cost),
        fmt.duration(session.duration_s),
    ]
    line.append(SEPARATOR + SEPARATOR.join(details), style="dim")
    return line
