"""``agent-otel undo CHANGE_ID``: put a file back the way it was before a recorded change.

The safety checks and the writing live in :mod:`agent_otel.undo`; this module finds the
change in the store, prints the plan or the outcome, and records the undo in the store the
change came from (so that ``agent-otel show`` marks the change as undone).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from agent_otel import formatting as fmt
from agent_otel.records import AgentSession, ChangeRecord
from agent_otel.store import default_store_dir
from agent_otel.undo import UndoPlan, UndoRefused, UndoResult, plan_undo, undo_change

from . import render
from .common import CliError, Context, check_unique
from .output import write_json
from .terminal import printable

NAME = "undo"

SERVICE_NAME = "agent-otel"
"""``service.name`` of the telemetry that the undo itself produces."""


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        NAME,
        parents=parents,
        help="restore a file to its content before a recorded change",
        description="Undo one recorded file change: restore the file's content before the "
        "change (or delete a created file, or recreate a deleted one). Only done when the "
        "file still holds exactly what the change left behind, the content before the change "
        "was captured exactly, and the path stays inside the session's workspace. The undo "
        "is recorded as a write operation, in a session of its own, linked to the undone "
        "operation.",
    )
    parser.add_argument("change_id", metavar="CHANGE_ID", help="a change id or a unique prefix")
    parser.add_argument(
        "--dry-run", action="store_true", help="show the diff the undo would apply; change nothing"
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.set_defaults(run=run)


def find_change(sessions: list[AgentSession], query: str) -> tuple[AgentSession, ChangeRecord]:
    """The change whose id is ``query``, or else starts with it, and its session."""
    found = [
        (session, change)
        for session in sessions
        for op in session.operations
        for change in op.changes
        if change.id
    ]
    exact = [pair for pair in found if pair[1].id == query]
    if exact:
        return exact[0]
    matches = [pair for pair in found if pair[1].id.startswith(query)]
    check_unique(query, [change.id for _, change in matches], "change")
    return matches[0]


def run(args: argparse.Namespace, ctx: Context) -> int:
    session, change = find_change(ctx.sessions(), args.change_id)
    what = f"change {fmt.short_id(change.id)} ({change.change_type} {change.path})"
    try:
        if args.dry_run:
            report(args, ctx, plan_undo(change, session.workspace), None)
            return 0
        store = record_to(ctx)
        result = _undo_recorded(change, session, store)
    except UndoRefused as refusal:
        raise CliError(f"cannot undo {what}: {refusal}") from None
    except OSError as error:
        raise CliError(f"undoing {what} failed: {error}") from None
    report(args, ctx, result.plan, (result, store))
    return 0


def record_to(ctx: Context) -> Path:
    """The store directory the undo is recorded in: the one the change was read from, or,
    when that is a single file (say, a Collector's output), the default store."""
    return ctx.store if ctx.store.is_dir() else default_store_dir()


def _undo_recorded(change: ChangeRecord, session: AgentSession, store: Path) -> UndoResult:
    """Undo with agent-otel configured to record into ``store`` only, flushed at the end."""
    import agent_otel
    from agent_otel.store import StoreSpanExporter

    telemetry = agent_otel.configure(
        service_name=SERVICE_NAME,
        span_exporters=[StoreSpanExporter(store)],
        metric_readers=[],
        set_global=False,
    )
    try:
        return undo_change(change, session.workspace, project=session.project)
    finally:
        telemetry.shutdown()


_VERBS = {
    "restore": ("Would restore", "Restored"),
    "delete": ("Would delete", "Deleted"),
    "recreate": ("Would recreate", "Recreated"),
}


def report(
    args: argparse.Namespace,
    ctx: Context,
    plan: UndoPlan,
    done: tuple[UndoResult, Path] | None,
) -> None:
    """The plan (a dry run) or what was done (``done``: the result and the store it was
    recorded in), with the diff of the file from now to after the undo."""
    result, store = done if done is not None else (None, None)
    diff = plan.diff()
    if args.json:
        write_json(
            {
                "change_id": plan.change.id,
                "path": str(plan.path),
                "action": plan.action,
                "dry_run": result is None,
                "diff": diff,
                "session_id": result.session_id if result else None,
                "operation_id": result.operation_id if result else None,
                "store": str(store) if store else None,
            }
        )
        return
    would, did = _VERBS[plan.action]
    headline = Text(f"{did if result else would} {printable(str(plan.path))}", style="bold")
    headline.append(f" (undoing change {fmt.short_id(plan.change.id)})", style="dim")
    parts: list[RenderableType] = [headline]
    if diff:
        parts.append(render.diff(printable(diff)))
    if result is not None:
        parts.append(
            Text(
                f"Recorded as operation {fmt.short_id(result.operation_id)} of session "
                f"{result.session_id} in {store}.",
                style="dim",
            )
        )
    ctx.console().print(Group(*parts))
