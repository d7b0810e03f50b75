"""``agent-otel show SESSION_ID``: one session with its operations, LLM calls and changes.

Each change says whether ``agent-otel undo`` can take it back, judged from the record alone
(:func:`agent_otel.undo.undo_hint`), so that the hint shown is the command that works.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from agent_otel import formatting as fmt
from agent_otel.records import AgentOperation, AgentSession, ChangeRecord, LLMCall
from agent_otel.undo import undo_hint

from . import render
from .common import Context, find_sessions
from .output import write_json
from .terminal import for_terminal

NAME = "show"

PROMPT_MAX_CHARS = 2000
"""Longer initial prompts are cut in the header (``--json`` has them whole)."""

SEPARATOR = " · "


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        NAME,
        parents=parents,
        help="show one session as a tree of operations, LLM calls and changes",
        description="Show one session: its details, then its operations in start order with "
        "their LLM calls and file changes (diffs when content capture was on).",
    )
    parser.add_argument(
        "session_id",
        metavar="SESSION_ID",
        help="a session id, a unique prefix of one, or a trace id",
    )
    parser.add_argument("--json", action="store_true", help="print the session as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    found = find_sessions(ctx.sessions(), args.session_id)
    if args.json:
        # One session is one object; a session id reused by several runs gives a list.
        write_json(found[0] if len(found) == 1 else found)
        return 0
    found = for_terminal(found)
    console = ctx.console()
    for number, session in enumerate(found, 1):
        if number > 1:
            console.print()
        if len(found) > 1:
            console.print(
                Text(f"Record {number} of {len(found)} with this session id", style="dim")
            )
        console.print(render_session(session))
    return 0


def render_session(session: AgentSession) -> RenderableType:
    parts: list[RenderableType] = [header(session), operations_tree(session)]
    outside = [c for c in session.llm_calls if c.operation_id is None]
    if outside:
        calls = Tree(Text(f"LLM calls outside operations ({len(outside)})", style="bold"))
        for call in outside:
            calls.add(llm_call_label(call))
        parts.append(calls)
    return Group(*parts)


# -- header ---------------------------------------------------------------------------------


def header(session: AgentSession) -> Panel:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")

    def row(key: str, value: str | Text) -> None:
        grid.add_row(key, value if isinstance(value, Text) else Text(value))

    row("Session", session.id)
    row("User", fmt.or_missing(session.user_id))
    row("Agent", fmt.or_missing(session.agent_name))
    if session.service_name:
        row("Service", session.service_name)
    row("Status", render.session_status(session.status))
    row("Model", fmt.or_missing(session.model))
    row("Tier", fmt.or_missing(session.model_tier))
    row("Temperature", fmt.or_missing(session.temperature))
    row("Workspace", fmt.or_missing(session.workspace))
    row("Started", fmt.local_time(session.started_at, zone=True))
    row("Ended", fmt.local_time(session.ended_at, zone=True))
    row("Duration", fmt.duration(session.duration_s))
    row("Tokens", fmt.tokens(session.total_tokens))
    row("Cost", fmt.cost(session.total_cost))
    row("Operations", str(session.operation_count))
    if session.initial_prompt is not None:
        prompt = session.initial_prompt
        if len(prompt) > PROMPT_MAX_CHARS:
            prompt = prompt[:PROMPT_MAX_CHARS] + f"… ({len(session.initial_prompt):,} chars)"
        row("Prompt", prompt)
    if session.error:
        row("Error", Text(session.error, style="red"))
    return Panel(
        grid, title=Text(f"Session {session.id}", style="bold"), title_align="left", expand=False
    )


# -- operations -----------------------------------------------------------------------------


def operations_tree(session: AgentSession) -> Tree:
    count = len(session.operations)
    tree = Tree(Text(f"Operations ({count})", style="bold"))
    if not count:
        tree.add(Text("no operations recorded", style="dim"))
    for op in session.operations:
        branch = tree.add(operation_label(op))
        if op.command_line and op.command_line != op.target:
            branch.add(Text(f"command: {fmt.one_line(op.command_line)}", style="dim"))
        if op.result is not None:
            branch.add(Text(f"result: {fmt.one_line(op.result)}", style="dim"))
        for call in op.llm_calls:
            branch.add(llm_call_label(call))
        for change in op.changes:
            change_node = branch.add(change_label(change))
            if change.diff:
                change_node.add(diff_view(change))
            elif change.diff_lines and not change.binary:
                change_node.add(Text("diff not captured", style="dim"))
    return tree


def operation_label(op: AgentOperation) -> Text:
    label = Text()
    label.append(fmt.short_id(op.id), style="dim")
    label.append(" ")
    label.append(op.type or "operation", style="bold")
    if op.target:
        label.append(" ")
        label.append(op.target)
    label.append("  ")
    label.append_text(render.operation_status(op.status))
    if op.status == "blocked" and op.blocked_reason:
        label.append(f": {op.blocked_reason}", style="yellow")
    if op.error:
        label.append(f": {fmt.one_line(op.error)}", style="red")
    details: list[str] = []
    if op.approved or op.approved_by:
        details.append(f"approved by {op.approved_by}" if op.approved_by else "approved")
    details.append(fmt.duration(op.duration_s))
    if op.input_tokens or op.output_tokens:
        details.append(f"{fmt.token_pair(op.input_tokens, op.output_tokens)} tokens")
    if op.cost:
        details.append(fmt.cost(op.cost))
    if op.exit_code is not None:
        details.append(f"exit {op.exit_code}")
    label.append(SEPARATOR + SEPARATOR.join(details), style="dim")
    if op.undoes_change_id:
        label.append(SEPARATOR)
        label.append(f"undoes change {fmt.short_id(op.undoes_change_id)}", style="magenta")
    return label


def llm_call_label(call: LLMCall) -> Text:
    usage = call.usage
    label = Text()
    label.append("llm ", style="bold blue")
    label.append(call.name)
    details = [f"model {fmt.or_missing(call.model)}"]
    if call.provider:
        details.append(f"provider {call.provider}")
    details.append(f"{fmt.token_pair(usage.input_tokens, usage.output_tokens)} tokens")
    extra = fmt.token_details(
        usage.cache_read_tokens, usage.cache_creation_tokens, usage.reasoning_tokens
    )
    if extra:
        details.append(", ".join(extra))
    details.append(fmt.cost(usage.cost))
    details.append(fmt.duration(call.duration_s))
    label.append(SEPARATOR + SEPARATOR.join(details), style="dim")
    if call.status == "ERROR":
        label.append(SEPARATOR)
        label.append("error", style="bold red")
    return label


def change_label(change: ChangeRecord) -> Text:
    label = Text()
    label.append("change ", style="bold")
    label.append(fmt.short_id(change.id), style="dim")
    label.append(f" {change.change_type} ")
    label.append(change.path)
    details = [f"{change.diff_lines} diff line{'s' if change.diff_lines != 1 else ''}"]
    if change.binary:
        details.append("binary")
    details.append(undo_hint(change))
    label.append(SEPARATOR + SEPARATOR.join(details), style="dim")
    if change.undo_operation_id:
        label.append(SEPARATOR)
        label.append(f"undone by {fmt.short_id(change.undo_operation_id)}", style="magenta")
    return label


def diff_view(change: ChangeRecord) -> RenderableType:
    diff = change.diff or ""
    view = render.diff(diff)
    shown = len(diff.encode("utf-8"))
    if change.diff_size is not None and change.diff_size > shown:
        note = Text(f"(diff cut at {shown:,} of {change.diff_size:,} bytes)", style="dim")
        return Group(view, note)
    return view
