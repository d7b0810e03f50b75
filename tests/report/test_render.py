"""The report's HTML without a browser: structure, escaping, self-containment and numbers.

Sessions are recorded in-process through the real SDK pipeline (content capture on, the real
openai SDK instrumented), rendered with :func:`agent_otel.report.render_report`, and the
HTML is parsed strictly (tests/report/dom.py) and compared with the library's summaries.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from datetime import datetime, timedelta, timezone

import pytest

from agent_otel.records import AgentSession, ChangeRecord
from agent_otel.report import render_report
from agent_otel.report.markup import Markup, element, escape, join
from agent_otel.report.session_view import diff_view
from agent_otel.report.svg import ticks
from agent_otel.report.waterfall import lanes, tick_label, window
from agent_otel.summaries import facts_from_session, project_summaries
from tests.conftest import Harness

from . import expected
from .agent import (
    ADDED_LINE,
    BLOCK_REASON,
    FAIL_MESSAGE,
    HOSTILE_ID,
    HOSTILE_PROJECT,
    HOSTILE_PROMPT,
    READ_RESULT,
    READ_TARGET,
    STEPS_S,
    workload,
)
from .dom import Node, parse

GENERATED = datetime(2026, 12, 24, 18, 30, tzinfo=timezone.utc)


@pytest.fixture
def sessions(recorded: Harness) -> list[AgentSession]:
    return recorded.sessions()


@pytest.fixture
def page(sessions: list[AgentSession]) -> Node:
    root, doctype = parse(render_report(sessions, source="/store", generated_at=GENERATED))
    assert doctype == "DOCTYPE html"
    return root


def cell_value(node: Node) -> expected.CellValue:
    items = node.all("li")
    shown = ", ".join(li.text() for li in items) if items else node.text()
    return (shown, node.attrs.get("data-value"))


def table_rows(scope: Node, kind: str) -> expected.Rows:
    """The body rows of the one table of this kind in ``scope``, as (text, exact) cells."""
    table = scope.one("table", cls=kind)
    body = table.one("tbody")
    return [[cell_value(c) for c in row.children if isinstance(c, Node)] for row in body.all("tr")]


def hostile(sessions: list[AgentSession]) -> AgentSession:
    (found,) = [s for s in sessions if s.id == HOSTILE_ID]
    return found


# -- escaping -------------------------------------------------------------------------------


def test_untrusted_text_stays_text(page: Node) -> None:
    """Markup in ids, project, prompt, targets, results, reasons, errors and diffs is shown
    as the characters it is: no element, attribute or script comes out of it."""
    (script,) = page.all("script")  # the report's own, nothing injected
    assert script.attrs == {}
    assert not page.all("img")
    assert not [n.tag for n in page.all("svg") if "onload" in n.attrs]
    handlers = [(n.tag, a) for n in page.walk() for a in n.attrs if a.startswith("on")]
    assert handlers == []

    section = page.one("details", cls="session", data_session_id=HOSTILE_ID)
    texts = [t for node in section.walk() for t in node.children if isinstance(t, str)]
    for planted in (HOSTILE_ID, HOSTILE_PROMPT, READ_TARGET, READ_RESULT, BLOCK_REASON):
        assert any(planted in t for t in texts), planted
    assert any(FAIL_MESSAGE.split(" <script>")[0] in t for t in texts)
    assert ADDED_LINE in [line.text() for line in section.all("span", cls="add")]
    assert HOSTILE_PROJECT in [li.text() for li in page.all("ul", cls="legend")[1].all("li")]


def test_escape_and_element() -> None:
    assert (
        escape("<a href=\"x\">'&'</a>") == "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
    )
    assert escape(Markup("<b>")) == "<b>"
    built = element("a", {"href": '#"><x', "class_": "k", "hidden": True, "title": None}, "<i>")
    assert built == '<a href="#&quot;&gt;&lt;x" class="k" hidden>&lt;i&gt;</a>'
    assert element("meta", {"charset": "utf-8"}) == '<meta charset="utf-8">'
    assert join(["<", Markup("<br>"), 3, None, [1.5]], " & ") == "&lt; &amp; <br> &amp; 3 &amp; 1.5"
    with pytest.raises(ValueError, match="not a valid HTML tag"):
        element("a onclick=x")
    with pytest.raises(ValueError, match="not a valid HTML tag or attribute name"):
        element("a", {"x onload": "1"})
    with pytest.raises(ValueError, match="cannot have content"):
        element("br", None, "text")


# -- self-contained -------------------------------------------------------------------------


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_nothing_to_load_and_the_policy_allows_only_the_inline_style_and_script(
    page: Node,
) -> None:
    head = page.one("head")
    metas = head.all("meta")
    assert metas[0].attrs == {"charset": "utf-8"}
    policy = metas[1].attrs
    assert policy["http-equiv"] == "Content-Security-Policy"
    directives = dict(d.strip().split(" ", 1) for d in (policy["content"] or "").split(";"))
    style, script = page.one("style").text(), page.one("script").text()
    assert directives == {
        "default-src": "'none'",
        "style-src": _csp_hash(style),
        "script-src": _csp_hash(script),
        "base-uri": "'none'",
        "form-action": "'none'",
    }
    # Nothing that could fetch: no src, no links but to this page's own anchors.
    assert not [n.tag for n in page.walk() if "src" in n.attrs or "srcset" in n.attrs]
    assert not page.all("link") and not page.all("iframe") and not page.all("object")
    anchors = {n.attrs["id"] for n in page.walk() if "id" in n.attrs}
    hrefs = [n.attrs["href"] or "" for n in page.all("a")]
    assert hrefs and all(h.startswith("#") for h in hrefs)
    # Every link lands somewhere, including undo links between operations and changes.
    assert {h[1:] for h in hrefs} <= anchors
    assert not re.search(r"url\(|@import|@font-face|https?:", style)
    assert not re.search(r"fetch|XMLHttpRequest|import\(|https?:", script)


def test_ids_are_unique(page: Node) -> None:
    ids = [n.attrs["id"] for n in page.walk() if "id" in n.attrs]
    assert len(ids) == len(set(ids))


# -- numbers --------------------------------------------------------------------------------


def test_tables_show_the_library_summaries(page: Node, sessions: list[AgentSession]) -> None:
    assert table_rows(page, "daily") == expected.daily_rows(sessions)
    assert table_rows(page, "projects") == expected.project_rows(sessions)
    assert table_rows(page.one("section", id="models"), "models") == expected.model_rows(sessions)
    assert table_rows(page, "sessions") == expected.session_rows(sessions)


def test_overview_adds_up_to_the_sessions(page: Node, sessions: list[AgentSession]) -> None:
    cards = {
        card.attrs["data-metric"]: card.one("div", cls="card-value")
        for card in page.all(cls="card")
    }
    shown = {k: (v.text(), float(v.attrs["data-value"] or "nan")) for k, v in cards.items()}
    assert shown == expected.overview(sessions)
    # The same totals straight from the sessions the library read back.
    assert shown["operations"][1] == sum(len(s.operations) for s in sessions)
    assert shown["tokens"][1] == sum(s.total_tokens for s in sessions)
    assert shown["cost"][1] == pytest.approx(math.fsum(s.total_cost for s in sessions), rel=1e-12)
    assert shown["sessions"][1] == len(sessions) == len(workload()) + 1


def test_each_session_shows_its_totals_and_its_operations_numbers(
    page: Node, sessions: list[AgentSession]
) -> None:
    for session in sessions:
        section = page.one("details", cls="session", data_session_id=session.id)
        stats = {
            s.attrs["data-unit"]: (s.text(), s.attrs["data-value"])
            for s in section.child("summary").all("span", cls="stat")
        }
        assert stats == expected.session_stats(session)
        numbers = {
            (body.attrs["id"] or "").removeprefix("op-"): [
                cell_value(c) for c in body.one("tr", cls="op-row").all("td", cls="num")
            ]
            for body in section.all("tbody", cls="op")
        }
        assert numbers == expected.operation_numbers(session)


def test_charts_hold_the_summaries(page: Node, sessions: list[AgentSession]) -> None:
    facts = [facts_from_session(s) for s in sessions]
    daily_chart, project_chart = page.all("svg", cls="columns")
    segments = [
        (
            column.attrs["data-label"],
            rect.attrs["data-series"],
            float(rect.attrs["data-value"] or 0),
        )
        for column in daily_chart.all("g", cls="column")
        for rect in column.all("rect")
    ]
    daily = expected.daily_rows(sessions)
    assert sorted(segments) == sorted(
        (row[0][0], row[1][0], float(row[5][1] or 0)) for row in daily if float(row[5][1] or 0) > 0
    )
    # Every UTC day from the first to the last is a column, quiet days too.
    labels = [c.attrs["data-label"] for c in daily_chart.all("g", cls="column")]
    first, last = min(labels), max(labels)
    days = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).days + 1
    assert labels == [
        (datetime.fromisoformat(first) + timedelta(days=n)).date().isoformat() for n in range(days)
    ]
    # Columns are as tall as their values, on one scale.
    heights = {
        (c.attrs["data-label"], r.attrs["data-series"]): (
            float(r.attrs["height"] or 0),
            float(r.attrs["data-value"] or 0),
        )
        for c in project_chart.all("g", cls="column")
        for r in c.all("rect")
    }
    tallest_h, tallest_v = max(heights.values())
    for height, value in heights.values():  # coordinates are written to 0.01
        assert height == pytest.approx(max(value * tallest_h / tallest_v, 0.5), abs=0.011)
    projects = project_summaries(facts)
    assert {(p.period_label, p.project_id) for p in projects if p.total_cost > 0} == set(heights)


def test_project_period_and_top(sessions: list[AgentSession]) -> None:
    root, _ = parse(render_report(sessions, period="week", top=1, generated_at=GENERATED))
    table = root.one("table", cls="projects")
    assert table.one("thead").all("th")[0].text() == "Week (UTC)"
    assert table_rows(root, "projects") == expected.project_rows(sessions, "week", 1)


# -- timeline -------------------------------------------------------------------------------


def test_timeline_places_every_span_by_its_start_and_duration(sessions: list[AgentSession]) -> None:
    session = hostile(sessions)
    start, total = window(session)
    assert start == session.started_at
    # The steps take STEPS_S on the SDK's clock, plus a millisecond per clock reading.
    assert sum(STEPS_S.values()) <= total < sum(STEPS_S.values()) + 0.2
    rows = lanes(session)
    assert [(r.kind, r.depth) for r in rows][:4] == [
        ("session", 0),
        ("operation", 1),
        ("operation", 1),
        ("llm", 2),
    ]
    by_id = {r.span_id: r for r in rows}
    for op in session.operations:
        lane = by_id[op.id]
        assert lane.offset == (op.timestamp - start).total_seconds() / total
        assert lane.length == (op.duration_s or 0) / total
        assert (lane.status, lane.tone) == (
            op.status,
            {"success": "ok", "failed": "failed", "blocked": "blocked"}[op.status],
        )
    for call in session.llm_calls:
        assert by_id[call.span_id].offset == (call.started_at - start).total_seconds() / total
    # Operations (each followed by its calls) and calls outside operations, by start.
    tops = [r for r in rows if r.depth == 1]
    assert [r.offset for r in tops] == sorted(r.offset for r in tops)
    assert tops[-1].kind == "llm"  # the Responses call after the last operation


def test_page_timeline_rows(page: Node, sessions: list[AgentSession]) -> None:
    session = hostile(sessions)
    section = page.one("details", cls="session", data_session_id=HOSTILE_ID)
    rows = section.one("div", cls="waterfall").all("div", cls="wf-row")[1:]  # after the axis
    assert [r.attrs["data-span-id"] for r in rows] == [lane.span_id for lane in lanes(session)]
    blocked = [r for r in rows if "tone-blocked" in r.classes()]
    failed = [r for r in rows if "tone-failed" in r.classes()]
    # the LLM call that got an HTTP 500 is listed, failed, besides the two failed spans above it
    assert len(blocked) == 1 and len(failed) == 3
    assert any(r.attrs["data-span-id"] in {c.span_id for c in session.llm_calls} for r in failed)
    assert blocked[0].one("span", cls="badge").text() == "blocked"


@pytest.mark.parametrize(
    ("seconds", "step", "label"),
    [
        (0.0, 0.5, "0"),
        (0.00025, 0.00025, "0.25ms"),
        (0.0075, 0.0025, "7.5ms"),
        (0.04, 0.02, "40ms"),
        (1.5, 0.5, "1.5s"),
        (30.0, 10.0, "30s"),
        (120.0, 60.0, "2m00s"),
    ],
)
def test_tick_labels(seconds: float, step: float, label: str) -> None:
    assert tick_label(seconds, step) == label


@pytest.mark.parametrize(
    ("maximum", "values"),
    [
        (0.0, [0.0]),
        (3.7, [0.0, 1.0, 2.0, 3.0, 4.0]),
        (10.0, [0.0, 2.5, 5.0, 7.5, 10.0]),
        (0.042, [0.0, 0.02, 0.04, 0.06]),
        (0.5, [0.0, 0.2, 0.4, 0.6]),
    ],
)
def test_ticks(maximum: float, values: list[float]) -> None:
    assert ticks(maximum) == pytest.approx(values)


# -- edges ----------------------------------------------------------------------------------


def test_no_sessions_is_a_valid_empty_report() -> None:
    root, _ = parse(render_report([], generated_at=GENERATED))
    assert not root.all("details", cls="session")
    assert [p.text() for p in root.all("p", cls="empty")] == [
        "No sessions.",
        "No sessions.",
        "No LLM calls recorded.",
    ]


def test_without_prices_the_charts_show_tokens(tel_content: Harness) -> None:
    import agent_otel

    with agent_otel.session(user_id="dora") as s, s.operation("query", "q") as op:
        op.add_usage(120, 30, 0.0)
    root, _ = parse(render_report(tel_content.sessions(), generated_at=GENERATED))
    assert root.one("section", id="daily").one("h3").text().startswith("Tokens per UTC day")
    (rect,) = root.one("svg", cls="columns").all("rect", data_series="dora")
    assert rect.attrs["data-value"] == "150.0"


def test_a_single_session_starts_expanded(sessions: list[AgentSession]) -> None:
    one, _ = parse(render_report(sessions[:1], generated_at=GENERATED))
    many, _ = parse(render_report(sessions, generated_at=GENERATED))
    assert "open" in one.one("details", cls="session").attrs
    assert not [d for d in many.all("details", cls="session") if "open" in d.attrs]


def test_diff_lines_are_classed_by_what_they_do() -> None:
    diff = (
        "--- a/schema.sql\n+++ b/schema.sql\n@@ -1,3 +1,3 @@\n CREATE TABLE t (\n"
        "--- the old comment\n+-- the new comment\n );\n\\ No newline at end of file\n"
    )
    change = ChangeRecord(
        id="c1",
        operation_id="o1",
        path="schema.sql",
        change_type="modify",
        diff_lines=2,
        can_undo=False,
        diff=diff,
        diff_size=len(diff) + 100,
    )
    root, _ = parse(str(diff_view(change)))
    lines = [(span.attrs["class"], span.text()) for span in root.all("span")]
    assert lines == [
        ("dl meta", "--- a/schema.sql"),
        ("dl meta", "+++ b/schema.sql"),
        ("dl hunk", "@@ -1,3 +1,3 @@"),
        ("dl ctx", " CREATE TABLE t ("),
        ("dl del", "--- the old comment"),
        ("dl add", "+-- the new comment"),
        ("dl ctx", " );"),
        ("dl meta", "\\ No newline at end of file"),
    ]
    assert root.one("p").text() == f"(diff cut at {len(diff):,} of {len(diff) + 100:,} bytes)"
