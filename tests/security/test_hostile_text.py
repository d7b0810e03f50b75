"""Nothing from telemetry is evaluated, executed or interpreted, by the library or the CLI.

Strings that would do something if anything evaluated them — Python, shell substitutions,
template and format-string syntax, rich markup, terminal escape sequences (colours, screen
clearing, window titles, OSC 8 links), bidi overrides — are recorded through the public API
into a real store; the store must give them back exactly, the console script must show them
as text (no command run, no template expanded), and must not pass raw control characters
from telemetry to the terminal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import agent_otel
from agent_otel.records import AgentSession
from tests.security.cli import run_cli, write_store

# Each one writes a file named PWNED* in the current directory if executed.
EXECUTABLE = [
    "__import__('os').system('touch PWNED-python')",
    "$(touch PWNED-shell)",
    "`touch PWNED-backticks`",
    "{{ cycler.__init__.__globals__.os.system('touch PWNED-jinja') }}",
    "${{ touch PWNED-actions }}",
]
TEMPLATES = ["{{7*7}}", "${7*7}", "#{7*7}", "%(user)s %s %n %x", "{0.__class__}", "{self}"]
MARKUP = ["[bold red]markup[/bold red]", "[link=file:///etc/passwd]link[/link]", "[/]"]
ESCAPES = [
    "\x1b[31mred\x1b[0m",
    "\x1b[2J\x1b[H",  # clear the screen
    "\x1b]0;window title\x07",  # set the terminal's title
    "\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x9b31mC1 CSI",  # the 8-bit control sequence introducer
    "over\rwrite",
    "back\x08space",
    "\x07bell",
]
BIDI = ["invoice\u202etxt.exe", "\u2066isolated\u2069"]
HOSTILE = EXECUTABLE + TEMPLATES + MARKUP + ESCAPES + BIDI
SESSION_ID = "hostile-session"


def _agent() -> None:
    text = "\n".join(HOSTILE)
    with agent_otel.session(
        session_id=SESSION_ID,
        user_id=ESCAPES[0],
        agent_name=MARKUP[0],
        model=TEMPLATES[0],
        project=EXECUTABLE[1],
        initial_prompt=text,
    ) as s:
        for i, item in enumerate(HOSTILE):
            kind = ("read", "write", "execute", "query")[i % 4]
            with s.operation(kind, item, tool_name=ESCAPES[i % len(ESCAPES)]) as op:
                op.set_result(item)
        with s.operation("write", "notes.md") as op:
            op.record_change(ESCAPES[2], "modify", before="plain\n", after=text + "\n")
        with s.operation("execute", "rm -rf /") as op:
            op.block(ESCAPES[1] + MARKUP[1])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "store"
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AGENT_OTEL_REDACT_PATTERNS", "AGENT_OTEL_REDACT_ALLOW"):
            mp.delenv(name, raising=False)
        write_store(path, _agent)
    return path


def _session(store: Path) -> AgentSession:
    (session,) = agent_otel.read_sessions(store)
    return session


def test_the_store_gives_every_string_back_exactly(store: Path) -> None:
    session = _session(store)
    assert session.initial_prompt == "\n".join(HOSTILE)
    assert session.user_id == ESCAPES[0] and session.model == TEMPLATES[0]
    results = [op.result for op in session.operations[: len(HOSTILE)]]
    assert results == HOSTILE
    targets = [op.target for op in session.operations[: len(HOSTILE)]]
    assert targets == HOSTILE
    (change,) = session.operations[len(HOSTILE)].changes
    assert change.path == ESCAPES[2] and change.after == "\n".join(HOSTILE) + "\n"


@pytest.mark.parametrize("command", [["sessions"], ["show", SESSION_ID]])
def test_the_cli_executes_and_expands_nothing(
    command: list[str], store: Path, tmp_path: Path
) -> None:
    done = run_cli(*command, store=store, cwd=tmp_path, COLUMNS="400")
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.glob("PWNED*"))
    assert not list(store.parent.glob("PWNED*"))
    out = done.stdout.decode("utf-8")
    if command[0] == "show":
        for text in EXECUTABLE + TEMPLATES + MARKUP:
            assert text in out, text  # shown literally: not run, expanded or styled


@pytest.mark.parametrize("command", [["sessions", "--json"], ["show", SESSION_ID, "--json"]])
def test_json_output_escapes_control_characters(
    command: list[str], store: Path, tmp_path: Path
) -> None:
    done = run_cli(*command, store=store, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not [b for b in done.stdout if b < 0x20 and b not in b"\n"]
    assert "\x9b" not in done.stdout.decode("utf-8")
    document = json.loads(done.stdout)
    sessions = document if isinstance(document, list) else [document]
    assert [s["user_id"] for s in sessions] == [ESCAPES[0]]  # intact, only escaped


CONTROL = {chr(c) for c in range(0x20) if chr(c) not in "\n"} | {chr(0x7F)}
CONTROL |= {chr(c) for c in range(0x80, 0xA0)} | set("\u202a\u202b\u202c\u202d\u202e")
CONTROL |= set("\u2066\u2067\u2068\u2069")


@pytest.mark.parametrize(
    "command",
    [["sessions"], ["show", SESSION_ID], ["summary", "--daily"], ["summary", "--project"]],
)
@pytest.mark.parametrize("color", ["", "1"])
def test_the_cli_never_writes_control_characters_from_telemetry(
    command: list[str], color: str, store: Path, tmp_path: Path
) -> None:
    env = {"COLUMNS": "400"} | ({"FORCE_COLOR": color} if color else {})
    done = run_cli(*command, store=store, cwd=tmp_path, **env)
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode("utf-8")
    if color:
        # rich's own colours are SGR sequences (ESC [ digits;... m); telemetry's are not
        # allowed, nor anything else.
        for escape in ESCAPES:
            assert escape not in out
        out = _without_sgr(out)
    found = sorted({repr(c) for c in out if c in CONTROL})
    assert not found, found


def _without_sgr(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
