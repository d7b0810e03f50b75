"""One session in the report: its details, its timeline, and its operations as a table with
their LLM calls and file changes (coloured diffs when content capture was on).

It shows what ``agent-otel show`` shows, in the same words and number formats, laid out for a
browser. Ids, paths, commands, prompts, results and diffs are untrusted text; they reach the
page only through :mod:`.markup`, which escapes them.
"""

from __future__ import annotations

from agent_otel import formatting as fmt
from agent_otel.facts import SessionFacts
from agent_otel.records import AgentOperation, AgentSession, ChangeRecord, LLMCall
from agent_otel.undo import undo_hint

from . import status
from .markup import Child, Markup, element
from .models import model_usage, models_table
from .tables import Cell, Column, cell, header, number
from .waterfall import waterfall

OPERATION_COLUMNS = (
    Column("Operation"),
    Column("Status"),
    Column("Duration", numeric=True),
    Column("Input tokens", numeric=True),
    Column("Output tokens", numeric=True),
    Column("Cost", numeric=True),
)


def session_section(
    session: AgentSession, facts: SessionFacts, anchor: str, *, open_: bool
) -> Markup:
    """The session (``facts`` are its summary facts) as a ``<details>`` block whose summary
    line has its key numbers."""
    body: list[Child] = [
        _facts(session, facts),
        element("h4", None, "Timeline"),
        waterfall(session),
        element("h4", None, f"Operations ({len(session.operations)})"),
        operations_table(session),
    ]
    if session.llm_calls:
        body += [
            element("h4", None, "Models"),
            models_table(model_usage([session], [facts])),
        ]
    return element(
        "details",
        {
            "class": f"session tone-{status.session_tone(session.status)}",
            "id": anchor,
            "open": open_,
            "data-session-id": session.id,
        },
        _summary(session),
        element("div", {"class": "session-body"}, body),
    )


def _stat(text: str, value: float | None, unit: str) -> Markup:
    return element(
        "span",
        {"class": "stat", "data-value": "" if value is None else repr(value), "data-unit": unit},
        text,
    )


def _summary(session: AgentSession) -> Markup:
    ops = session.operation_count
    return element(
        "summary",
        None,
        status.badge(session.status, status.session_tone(session.status)),
        element("code", {"class": "sid"}, session.id),
        element("span", {"class": "who"}, fmt.or_missing(session.user_id)),
        element("span", {"class": "when"}, fmt.local_time(session.started_at)),
        element(
            "span",
            {"class": "stats"},
            _stat(f"{ops:,} operation{'s' if ops != 1 else ''}", ops, "operations"),
            _stat(f"{fmt.tokens(session.total_tokens)} tokens", session.total_tokens, "tokens"),
            _stat(fmt.cost(session.total_cost), session.total_cost, "cost"),
            _stat(fmt.duration(session.duration_s), session.duration_s, "duration"),
        ),
    )


def _facts(session: AgentSession, facts: SessionFacts) -> Markup:
    rows: list[tuple[str, Child]] = [
        ("Session", element("code", None, session.id)),
        ("Trace", element("code", None, session.trace_id or fmt.MISSING)),
        ("User", fmt.or_missing(session.user_id)),
        ("Agent", fmt.or_missing(session.agent_name)),
        ("Service", fmt.or_missing(session.service_name)),
        ("Status", status.badge(session.status, status.session_tone(session.status))),
        ("Model", fmt.or_missing(session.model)),
        ("Tier", fmt.or_missing(session.model_tier)),
        ("Temperature", fmt.or_missing(session.temperature)),
        ("Workspace", fmt.or_missing(session.workspace)),
        ("Project", fmt.or_missing(facts.project)),  # as the summaries count it
        ("Started", fmt.local_time(session.started_at, zone=True)),
        ("Ended", fmt.local_time(session.ended_at, zone=True)),
        ("Duration", fmt.duration(session.duration_s)),
        ("Tokens", fmt.tokens(session.total_tokens)),
        ("Cost", fmt.cost(session.total_cost)),
        ("Operations", f"{session.operation_count:,}"),
    ]
    wide: list[tuple[str, Child]] = []
    if session.initial_prompt is not None:
        wide.append(("Prompt", element("pre", {"class": "text"}, session.initial_prompt)))
    if session.error:
        wide.append(("Error", element("pre", {"class": "text error"}, session.error)))
    return element(
        "dl",
        {"class": "facts"},
        (
            element(
                "div",
                {"class": "wide" if group is wide else None},
                element("dt", None, key),
                element("dd", None, value),
            )
            for group in (rows, wide)
            for key, value in group
        ),
    )


# -- operations -----------------------------------------------------------------------------


def _row(row_class: str, head: Child, cells: list[Cell | Child]) -> Markup:
    return element(
        "tr", {"class": row_class}, element("th", {"scope": "row"}, head), (cell(c) for c in cells)
    )


def _usage_cells(input_tokens: int, output_tokens: int, cost: float) -> list[Cell | Child]:
    return [
        number(fmt.tokens(input_tokens), input_tokens),
        number(fmt.tokens(output_tokens), output_tokens),
        number(fmt.cost(cost), cost),
    ]


def _duration(seconds: float | None) -> Cell:
    return number(fmt.duration(seconds), seconds)


def operations_table(session: AgentSession) -> Markup:
    """Operations in start order, each a ``<tbody>``: its row, its notes, its LLM calls and
    its changes; then the LLM calls made outside any operation."""
    bodies = [_operation(op) for op in session.operations]
    outside = [c for c in session.llm_calls if c.operation_id is None]
    if outside:
        bodies.append(
            element(
                "tbody",
                {"class": "outside"},
                element(
                    "tr",
                    {"class": "group"},
                    element(
                        "th",
                        {"scope": "rowgroup", "colspan": len(OPERATION_COLUMNS)},
                        f"LLM calls outside operations ({len(outside)})",
                    ),
                ),
                (_call_row(call) for call in outside),
            )
        )
    if not bodies:
        bodies.append(
            element(
                "tbody",
                None,
                element(
                    "tr",
                    None,
                    element(
                        "td",
                        {"colspan": len(OPERATION_COLUMNS), "class": "empty"},
                        "No operations recorded.",
                    ),
                ),
            )
        )
    return element(
        "table",
        {"class": "data operations", "aria-label": f"Operations of session {session.id}"},
        header(OPERATION_COLUMNS),
        bodies,
    )


def _operation(op: AgentOperation) -> Markup:
    tone = status.operation_tone(op.status)
    head = [
        element("span", {"class": "id"}, fmt.short_id(op.id)),
        " ",
        element("span", {"class": "op-type"}, op.type or "operation"),
        (" ", element("span", {"class": "target"}, op.target)) if op.target else None,
    ]
    reason: Child = None
    if op.status == "blocked" and op.blocked_reason:
        reason = element("span", {"class": "reason"}, op.blocked_reason)
    elif op.error:
        reason = element("span", {"class": "reason error"}, fmt.one_line(op.error))
    rows = [
        _row(
            "op-row",
            head,
            [
                [status.badge(op.status, tone), " " if reason else None, reason],
                _duration(op.duration_s),
                *_usage_cells(op.input_tokens, op.output_tokens, op.cost),
            ],
        )
    ]
    notes = _notes(op)
    if notes:
        rows.append(
            element(
                "tr",
                {"class": "notes"},
                element("td", {"colspan": len(OPERATION_COLUMNS)}, notes),
            )
        )
    rows += [_call_row(call) for call in op.llm_calls]
    rows += [
        element(
            "tr",
            {"class": "change-row"},
            element("td", {"colspan": len(OPERATION_COLUMNS)}, change_view(change)),
        )
        for change in op.changes
    ]
    return element("tbody", {"class": f"op tone-{tone}", "id": f"op-{op.id}"}, rows)


def _notes(op: AgentOperation) -> Markup | None:
    notes: list[Child] = []
    if op.approved or op.approved_by:
        notes.append(f"approved by {op.approved_by}" if op.approved_by else "approved")
    if op.exit_code is not None:
        notes.append(f"exit code {op.exit_code}")
    if op.undoes_change_id:
        notes.append(
            element(
                "a",
                {"href": f"#change-{op.undoes_change_id}", "class": "undo"},
                f"undoes change {fmt.short_id(op.undoes_change_id)}",
            )
        )
    if op.error and "\n" in op.error.strip():
        notes.append(element("pre", {"class": "text error"}, op.error))
    if op.command_line and op.command_line != op.target:
        notes.append(element("div", None, "command ", element("code", None, op.command_line)))
    if op.result is not None:
        notes.append(element("div", None, "result ", element("pre", {"class": "text"}, op.result)))
    if not notes:
        return None
    return element("ul", {"class": "notes"}, (element("li", None, note) for note in notes))


def _call_row(call: LLMCall) -> Markup:
    usage = call.usage
    details = [f"model {fmt.or_missing(call.model)}"]
    if call.provider:
        details.append(call.provider)
    extra = fmt.token_details(
        usage.cache_read_tokens, usage.cache_creation_tokens, usage.reasoning_tokens
    )
    head = [
        element("span", {"class": "llm"}, "llm"),
        " ",
        element("span", {"class": "call-name"}, call.name),
        " ",
        element("span", {"class": "muted"}, " · ".join(details + extra)),
    ]
    return _row(
        f"call-row tone-{status.call_tone(call)}",
        head,
        [
            status.badge(status.call_status(call), status.call_tone(call)),
            _duration(call.duration_s),
            *_usage_cells(usage.input_tokens, usage.output_tokens, usage.cost),
        ],
    )


# -- changes --------------------------------------------------------------------------------


def _change_summary(change: ChangeRecord) -> list[Child]:
    lines = change.diff_lines
    parts: list[Child] = [
        element("span", {"class": "change-type"}, change.change_type),
        " ",
        element("span", {"class": "target"}, change.path),
        element(
            "span",
            {"class": "muted"},
            f" · {lines} diff line{'s' if lines != 1 else ''}",
            " · binary" if change.binary else None,
            " · diff not captured (content capture was off)"
            if not change.diff and change.diff_lines and not change.binary
            else None,
            f" · {undo_hint(change)}",
        ),
    ]
    if change.undo_operation_id:
        parts += [
            " · ",
            element(
                "a",
                {"href": f"#op-{change.undo_operation_id}", "class": "undo"},
                f"undone by {fmt.short_id(change.undo_operation_id)}",
            ),
        ]
    return parts


def change_view(change: ChangeRecord) -> Markup:
    """A file change: what and where, then its diff when it was captured (open)."""
    anchor = f"change-{change.id}"
    if not change.diff:
        return element("div", {"class": "change", "id": anchor}, _change_summary(change))
    return element(
        "details",
        {"class": "change", "id": anchor, "open": True},
        element("summary", None, _change_summary(change)),
        diff_view(change),
    )


def _line_kinds(lines: list[str]) -> list[str]:
    """What each line of a unified diff does: file headers before the first hunk are
    ``meta`` (so that a removed line starting with ``--`` is still a removal), then ``hunk``
    headers, ``add``, ``del``, ``ctx``, and ``meta`` for "\\ No newline at end of file"."""
    kinds = []
    in_hunk = False
    for line in lines:
        if line.startswith("@@"):
            in_hunk = True
            kinds.append("hunk")
        elif not in_hunk or line.startswith("\\"):
            kinds.append("meta")
        else:
            kinds.append({"+": "add", "-": "del"}.get(line[:1], "ctx"))
    return kinds


def diff_view(change: ChangeRecord) -> Markup:
    """The unified diff, one block per line coloured by what the line does; a note when the
    recorded diff was cut to its size budget."""
    diff = change.diff or ""
    lines = diff.splitlines()
    view = element(
        "pre",
        {"class": "diff"},
        (
            element("span", {"class": f"dl {kind}"}, line)
            for line, kind in zip(lines, _line_kinds(lines), strict=True)
        ),
    )
    shown = len(diff.encode("utf-8"))
    if change.diff_size is not None and change.diff_size > shown:
        note = element(
            "p", {"class": "muted"}, f"(diff cut at {shown:,} of {change.diff_size:,} bytes)"
        )
        return element("div", None, view, note)
    return view
