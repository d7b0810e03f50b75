"""What the report tests record: sessions as an agent app records them, with the real library.

:func:`record_hostile_session` is one coding session whose every piece of text an attacker
could have chosen — its id, project, prompt, targets, results, reasons, errors and a diff all
carry markup that would run script if the report did not escape it — and whose LLM calls go
through the real ``openai`` SDK (instrumented by agent-otel) to the in-process fake API of the
instrumentation tests: a completion, a streamed completion, a call that fails with HTTP 500
and a Responses API call outside any operation. Its start and the time each step takes are
set on the SDK's clock (``tests/summaries/workload.py``), so its timeline has a known shape.

:func:`workload` is a slice of the summaries tests' generated sessions: several users, UTC
days, projects, models, failed and cancelled sessions, blocked, failed and pending operations.
"""

from __future__ import annotations

from datetime import datetime, timezone

import openai

import agent_otel
from tests.instrumentation.openai_server import MODEL, FakeOpenAI
from tests.summaries.workload import Clock, SessionSpec, generate

PWNED = "__report_pwned"
"""What the injected scripts would set on ``window``."""

SCRIPT = f"<script>window.{PWNED} = 'script'</script>"
IMG = f'<img src="x" onerror="window.{PWNED} = \'img\'">'
ATTRIBUTE_BREAK = f'"><svg onload="window.{PWNED} = \'attr\'">'

HOSTILE_ID = f"hostile-{ATTRIBUTE_BREAK}"
HOSTILE_PROJECT = f"web{SCRIPT}"
HOSTILE_START = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
HOSTILE_PROMPT = f"Fix the login form {SCRIPT} {IMG} & keep it <b>fast</b>"
READ_TARGET = f"templates/{IMG}.html"
READ_RESULT = f"</pre>{SCRIPT}<pre>"
BLOCK_REASON = f"<b>rm -rf /</b> is not allowed {IMG}"
FAIL_MESSAGE = f"AssertionError: expected <div> got </div> {SCRIPT}"
BEFORE = '<form>\n  <input name="user">\n</form>\n'
AFTER = f'<form>\n  <input name="user">\n  {SCRIPT}\n</form>\n'
ADDED_LINE = f"+  {SCRIPT}"
"""The line the hostile diff adds, as it must appear in the report."""

STEPS_S = {
    "read": 0.8,
    "plan": 2.5,
    "write": 1.2,
    "stream": 3.0,
    "block": 0.1,
    "test": 4.0,
    "retry": 0.6,
    "undo": 0.4,
    "responses": 1.5,
}
"""How long each step of the hostile session takes on the SDK's clock."""

MESSAGES = [
    {"role": "system", "content": "You are a coding agent."},
    {"role": "user", "content": HOSTILE_PROMPT},
]


def _pass(clock: Clock, step: str) -> None:
    clock.now_ns += int(STEPS_S[step] * 1e9)


def record_hostile_session(clock: Clock, api: FakeOpenAI) -> None:
    """The hostile session, recorded through the configured agent-otel (content capture and
    the OpenAI instrumentor are the caller's)."""
    clock.set(HOSTILE_START)
    client = api.sync_client()
    with agent_otel.session(
        session_id=HOSTILE_ID,
        user_id="alice",
        agent_name="coder",
        model=MODEL,
        model_tier=2,
        workspace="/home/alice/web",
        project=HOSTILE_PROJECT,
        initial_prompt=HOSTILE_PROMPT,
    ) as s:
        with s.operation("read", READ_TARGET) as op:
            _pass(clock, "read")
            op.set_result(READ_RESULT)
        with s.operation("query", "plan the fix"):
            _pass(clock, "plan")
            client.chat.completions.create(model=MODEL, messages=MESSAGES)
        with s.operation("write", "templates/login.html", approved_by="bob") as op:
            _pass(clock, "write")
            change = op.record_change("templates/login.html", "modify", before=BEFORE, after=AFTER)
        with s.operation("write", "templates/login.css"):
            _pass(clock, "stream")
            for _ in client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True):
                pass
        with s.operation("execute", "rm -rf /") as op:
            _pass(clock, "block")
            op.block(BLOCK_REASON)
        with s.operation("execute", "pytest -x tests/") as op:
            _pass(clock, "test")
            op.set_exit_code(1)
            op.fail(FAIL_MESSAGE)
        with s.operation("query", "retry the plan") as op:
            _pass(clock, "retry")
            api.fail_with = 500
            try:
                client.chat.completions.create(model=MODEL, messages=MESSAGES)
            except openai.InternalServerError as error:
                op.fail(error)
            finally:
                api.fail_with = None
        with s.operation("write", "templates/login.html", undoes=change) as op:
            _pass(clock, "undo")
            op.record_change("templates/login.html", "modify", before=AFTER, after=BEFORE)
        _pass(clock, "responses")
        client.responses.create(model="o4-mini", input="Summarise what you did.")
    client.close()


def workload() -> list[SessionSpec]:
    """Generated sessions over 2026-11-20 .. 2027-01-04 (the summaries tests' generator),
    without its 400-operation stress session."""
    return [spec for spec in generate(count=14, seed=5) if len(spec.ops) <= 12]
