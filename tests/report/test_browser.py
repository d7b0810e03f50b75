"""The report in a real browser: headless Chromium (Debian's ``chromium``) opens the file the
``agent-otel report`` console script wrote, from a ``file://`` URL, and the tests read the
DOM it built through the DevTools protocol (tests/report/chromium.py).

What is checked: the numbers shown are the library's summaries and the sessions' totals; the
timeline bars sit where the spans' times put them; opening the report makes no network
request, and its policy refuses the requests a script would try; injected markup does not
run; the page's script sorts tables and opens collapsed sessions; the dark theme applies.
Screenshots (light and dark) and the report itself are kept as test artifacts in
``$AGENT_OTEL_TEST_ARTIFACTS`` (default: a pytest temporary directory).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agent_otel.records import AgentSession
from agent_otel.report.waterfall import MIN_BAR_PERCENT

from . import expected
from .agent import ADDED_LINE, HOSTILE_ID, HOSTILE_PROMPT, PWNED
from .chromium import Browser, Page, find_chromium

# Read when the module is imported: the tests' environment is cleared of AGENT_OTEL_*.
ARTIFACTS_ENV = "AGENT_OTEL_TEST_ARTIFACTS"
ARTIFACTS = os.environ.get(ARTIFACTS_ENV)

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (Debian: apt-get install chromium); "
    "the report's browser tests need it",
)

# Cell texts as the reader sees them (a ranked list reads "a, b") and data-value, per row.
ROWS_JS = """
(selector) => Array.from(document.querySelector(selector).tBodies[0].rows, (row) =>
  Array.from(row.cells, (cell) => {
    const items = cell.querySelectorAll("li");
    const text = items.length ? Array.from(items, (li) => li.textContent).join(", ")
                              : cell.textContent;
    return [text, cell.dataset.value === undefined ? null : cell.dataset.value];
  }))
"""


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = Path(ARTIFACTS) if ARTIFACTS else tmp_path_factory.mktemp("report-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[Browser]:
    assert CHROMIUM is not None
    home = tmp_path_factory.mktemp("chromium")
    running = Browser(CHROMIUM, home / "profile", artifacts / "chromium.log")
    yield running
    running.close()


@pytest.fixture(scope="module")
def report_url(report_file: Path, artifacts: Path) -> str:
    """The report's file:// URL; the report is kept with the artifacts too."""
    shutil.copy(report_file, artifacts / "report.html")
    return report_file.as_uri()


@pytest.fixture
def page(browser: Browser, report_url: str) -> Iterator[Page]:
    """The report, freshly loaded in a new tab."""
    with browser.open(report_url) as opened:
        yield opened


def rows(page: Page, selector: str) -> expected.Rows:
    found = page.evaluate(f"({ROWS_JS})({json.dumps(selector)})")
    return [[(text, value) for text, value in row] for row in found]


def expand_all(page: Page) -> None:
    page.evaluate("document.querySelector('button[data-action=expand]').click()")
    assert page.evaluate(
        "Array.from(document.querySelectorAll('details.session')).every(d => d.open)"
    )


def test_numbers_shown_are_the_library_summaries(page: Page, stored: list[AgentSession]) -> None:
    assert rows(page, "table.daily") == expected.daily_rows(stored)
    assert rows(page, "table.projects") == expected.project_rows(stored)
    assert rows(page, "#models table.models") == expected.model_rows(stored)
    assert rows(page, "table.sessions") == expected.session_rows(stored)

    cards = page.evaluate(
        "Object.fromEntries(Array.from(document.querySelectorAll('.card'), (card) => {"
        "  const value = card.querySelector('.card-value');"
        "  return [card.dataset.metric, [value.textContent, Number(value.dataset.value)]];"
        "}))"
    )
    assert {k: tuple(v) for k, v in cards.items()} == expected.overview(stored)
    assert cards["tokens"][1] == sum(s.total_tokens for s in stored)
    assert cards["operations"][1] == sum(s.operation_count for s in stored)
    assert cards["cost"][1] == pytest.approx(sum(s.total_cost for s in stored), rel=1e-12)


def test_each_session_and_operation_shows_its_totals(
    page: Page, stored: list[AgentSession]
) -> None:
    shown = page.evaluate(
        """Array.from(document.querySelectorAll('details.session'), (section) => [
          section.dataset.sessionId,
          Object.fromEntries(Array.from(section.querySelectorAll(':scope > summary .stat'),
            (stat) => [stat.dataset.unit, [stat.textContent, stat.dataset.value]])),
          Object.fromEntries(Array.from(section.querySelectorAll('tbody.op'), (body) => [
            body.id.slice(3),
            Array.from(body.querySelectorAll('tr.op-row td.num'),
              (cell) => [cell.textContent, cell.dataset.value])])),
        ])"""
    )
    assert [item[0] for item in shown] == [s.id for s in expected.newest_first(stored)]
    for (_, stats, operations), session in zip(shown, expected.newest_first(stored), strict=True):
        assert {k: tuple(v) for k, v in stats.items()} == expected.session_stats(session)
        assert {
            k: [tuple(cell) for cell in v] for k, v in operations.items()
        } == expected.operation_numbers(session)


def test_timeline_bars_sit_at_their_spans_times(page: Page, stored: list[AgentSession]) -> None:
    expand_all(page)
    geometry: dict[str, list[Any]] = page.evaluate(
        """Object.fromEntries(Array.from(document.querySelectorAll('details.session'), (s) => [
          s.dataset.sessionId,
          Array.from(s.querySelectorAll('.wf-row[data-span-id]'), (row) => {
            const track = row.querySelector('.wf-track').getBoundingClientRect();
            const bar = row.querySelector('.wf-bar').getBoundingClientRect();
            return [row.dataset.spanId, (bar.left - track.left) / track.width,
                    bar.width / track.width, track.width];
          })]))"""
    )
    for session in stored:
        # Every stored span ended; the timeline runs from the session's start to the last end.
        start = session.started_at
        ends = [session.ended_at, *(op.ended_at for op in session.operations)]
        ends += [c.started_at + timedelta(seconds=c.duration_s or 0) for c in session.llm_calls]
        total = (max(e for e in ends if e is not None) - start).total_seconds()
        where = {span: (left, width, px) for span, left, width, px in geometry[session.id]}
        spans = [(op.id, op.timestamp, op.duration_s) for op in session.operations]
        spans += [(c.span_id, c.started_at, c.duration_s) for c in session.llm_calls]
        assert len(where) == len(spans) + 1  # and the session's own bar
        for span_id, started, duration in spans:
            left, width, px = where[span_id]
            pixel = 1 / px
            assert left == pytest.approx((started - start).total_seconds() / total, abs=pixel)
            assert width == pytest.approx(
                max((duration or 0) / total, MIN_BAR_PERCENT / 100), abs=pixel
            )


def test_opening_the_report_makes_no_request_and_runs_nothing_injected(
    page: Page, report_url: str
) -> None:
    expand_all(page)
    requests = [e["request"]["url"] for e in page.events("Network.requestWillBeSent")]
    assert requests == [report_url]
    assert page.events("Runtime.exceptionThrown") == []
    # A policy violation (say our own stylesheet's hash being wrong) would be logged here.
    assert [e["entry"]["text"] for e in page.events("Log.entryAdded")] == []
    assert page.evaluate(f"typeof window.{PWNED}") == "undefined"
    assert page.evaluate("document.scripts.length") == 1
    assert page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    selector = f"details.session[data-session-id={json.dumps(HOSTILE_ID)}]"
    hostile = f"document.querySelector({json.dumps(selector)})"
    assert page.evaluate(f"{hostile}.querySelector('dd pre').textContent") == HOSTILE_PROMPT
    added = page.evaluate(
        f"Array.from({hostile}.querySelectorAll('.dl.add'), (l) => l.textContent)"
    )
    assert ADDED_LINE in added
    # The stylesheet applied: the policy let the inline style in.
    assert page.evaluate("getComputedStyle(document.querySelector('nav.top')).position") == "sticky"


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_policy_refuses_what_a_script_would_load(page: Page) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        outcome = page.evaluate(
            f"""fetch("{url}/fetch").then(() => "loaded", (e) => "refused: " + e.name)"""
        )
        page.evaluate(
            f"""new Promise((done) => {{
              const img = new Image(); img.onload = img.onerror = () => done(true);
              img.src = "{url}/img"; document.body.append(img); }})"""
        )
        assert outcome == "refused: TypeError"
        assert _Recorder.hits == []
        # The fetch is refused before any request; the image request is blocked by policy.
        failed = [(e["type"], e.get("blockedReason")) for e in page.events("Network.loadingFailed")]
        assert failed == [("Image", "csp")]
        refused = [
            e["entry"]["text"]
            for e in page.events("Log.entryAdded")
            if e["entry"]["source"] == "security"
        ]
        assert len(refused) == 2
        assert f"{url}/fetch" in refused[0] and f"{url}/img" in refused[1]
    finally:
        server.shutdown()
        server.server_close()


def test_headers_sort_the_table(page: Page, stored: list[AgentSession]) -> None:
    def click(index: int) -> None:
        page.evaluate(f"document.querySelectorAll('table.sessions thead button')[{index}].click()")

    def column(index: int, read: str) -> list[Any]:
        rows = "document.querySelectorAll('table.sessions tbody tr')"
        return list(
            page.evaluate(f"Array.from({rows}, (r) => r.cells[{index}]).map((cell) => {read})")
        )

    click(8)  # Cost: ascending, then descending
    assert column(8, "Number(cell.dataset.value)") == sorted(s.total_cost for s in stored)
    click(8)
    assert column(8, "Number(cell.dataset.value)") == sorted(
        (s.total_cost for s in stored), reverse=True
    )
    headers = "document.querySelectorAll('table.sessions thead th')"
    assert page.evaluate(f"{headers}[8].getAttribute('aria-sort')") == "descending"
    click(1)  # User, as text
    assert column(1, "cell.textContent") == sorted(s.user_id or "" for s in stored)


def test_a_link_into_a_collapsed_session_opens_it(page: Page, stored: list[AgentSession]) -> None:
    (session,) = [s for s in stored if s.id == HOSTILE_ID]
    undone = next(c for op in session.operations for c in op.changes if c.undo_operation_id)
    selector = f"details.session[data-session-id={json.dumps(HOSTILE_ID)}]"
    assert page.evaluate(f"document.querySelector({json.dumps(selector)}).open") is False
    target = json.dumps("#op-" + (undone.undo_operation_id or ""))
    # The report's own hashchange listener was added first, so it has run when this one does.
    opened = page.evaluate(
        f"""new Promise((done) => {{
          addEventListener("hashchange",
            () => done(document.querySelector({json.dumps(selector)}).open), {{once: true}});
          location.hash = {target};
        }})"""
    )
    assert opened is True


def test_screenshots_light_and_dark(page: Page, artifacts: Path) -> None:
    expand_all(page)
    background = "getComputedStyle(document.body).backgroundColor"
    session = f"details.session[data-session-id={json.dumps(HOSTILE_ID)}]"
    shots = []
    for scheme in ("light", "dark"):
        page.set_color_scheme(scheme)
        assert (
            page.evaluate(background)
            == {
                "light": "rgb(255, 255, 255)",
                "dark": "rgb(13, 17, 23)",
            }[scheme]
        )
        shots.append(page.screenshot(artifacts / f"report-{scheme}.png"))
        shots.append(page.screenshot(artifacts / f"session-{scheme}.png", selector=session))
    for shot in shots:
        data = shot.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 50_000, shot.name
