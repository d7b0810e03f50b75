"""A small coding agent that fixes a bug in a throw-away project, asking an LLM as it goes.

It does what real coding agents do and records all of it with agent-otel: it reads files,
searches the code, asks the model for a plan, has a destructive command blocked by its policy,
runs the tests when the model asks for it with a tool call (they fail), writes the model's
streamed patch after a person approves it, undoes a change it regrets, and runs the tests
again. Every model call goes through the real ``openai`` client, which
:class:`~agent_otel.instrumentation.openai.OpenAIInstrumentor` records, so the session shows
the LLM calls, with their tokens and cost, under the operations that made them.

Which model answers:

- with ``OPENAI_API_KEY`` (and optionally ``OPENAI_BASE_URL``) set, the real API, with the
  model given by ``--model`` (default ``gpt-4o-mini``);
- otherwise a local OpenAI-compatible server started for this run (``examples/llm_server.py``,
  loopback only) whose model is a rule-based stand-in, not an AI. Nothing leaves the machine.

The agent's control flow is a fixed script — the point is the telemetry, not the AI — but the
plan, the test command and the patch it applies are the model's answers.

Run it, then look at what it did::

    pip install -e '.[demo]'
    python examples/demo_agent.py
    agent-otel sessions
    agent-otel show <session id>
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import agent_otel

if TYPE_CHECKING:
    import openai

PROJECT = {
    "calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "test_calc.py": (
        "from calc import add, mul\n\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_mul():\n    assert mul(2, 3) == 6\n\n\n"
        'if __name__ == "__main__":\n'
        "    test_add()\n    test_mul()\n"
        '    print("2 passed")\n'
    ),
    "README.md": "# calc\n\nA tiny calculator. Run the tests with `python test_calc.py`.\n",
}
TASK = "The tests of calc fail. Find the bug and fix it."
# Used when the model names no command of its own.
TEST_COMMAND = "python test_calc.py"
BLOCKED_PREFIXES = ("rm ", "curl ", "git push")
DEFAULT_MODEL = "gpt-4o-mini"
TEMPERATURE = 0.2
# The key the local stand-in server is given; it checks none, but the SDK insists on one.
LOCAL_API_KEY = "local-demo"
STREAM_USAGE_ENV = "AGENT_OTEL_OPENAI_STREAM_USAGE"
# A tool result goes back to the model; keep a runaway output from filling the prompt.
MAX_TOOL_OUTPUT = 4000

SYSTEM_PROMPT = (
    "You are a careful coding assistant working in a small Python project. "
    "Answer briefly. When asked for a line of code, reply with that line only."
)
RUN_COMMAND_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "run_command",
        "description": "Run a shell command in the project folder; returns its output.",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string", "description": "the command line"}},
            "required": ["command"],
            "additionalProperties": False,
        },
    },
}


@dataclass
class Model:
    """The agent's side of one conversation with the LLM: the client and the messages so far.

    Every request sends the whole conversation and the same tool list, as agents do; the
    repeated prefix is what makes prompt caching (cached input tokens, cheaper) show up.
    """

    client: openai.OpenAI
    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=lambda: [RUN_COMMAND_TOOL])
    _unanswered: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.messages.append({"role": "system", "content": SYSTEM_PROMPT})

    def _request(self, prompt: str, tool_choice: Any) -> dict[str, Any]:
        self.messages.append({"role": "user", "content": prompt})
        return {
            "model": self.name,
            "messages": self.messages,
            "tools": self.tools,
            "tool_choice": tool_choice,
            "temperature": TEMPERATURE,
        }

    def ask(self, prompt: str) -> str:
        """One non-streamed answer in words (tools offered but not to be used)."""
        response = self.client.chat.completions.create(**self._request(prompt, "none"))
        answer = response.choices[0].message.content or ""
        self.messages.append({"role": "assistant", "content": answer})
        return answer

    def stream(self, prompt: str) -> str:
        """One streamed answer in words, put together from its chunks. Usage is not asked
        for here: the instrumentation asks for it (and hides the extra chunk) where the
        server supports it."""
        chunks = self.client.chat.completions.create(**self._request(prompt, "none"), stream=True)
        answer = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        self.messages.append({"role": "assistant", "content": answer})
        return answer

    def ask_for_command(self, prompt: str) -> tuple[str, str] | None:
        """Let the model call ``run_command``; (tool call id, command), or None if it did not
        ask for a usable command."""
        choice = {"type": "function", "function": {"name": "run_command"}}
        response = self.client.chat.completions.create(**self._request(prompt, choice))
        message = response.choices[0].message
        calls = [
            (call.id, call.function.name, call.function.arguments)
            for call in message.tool_calls or ()
            if getattr(call, "function", None) is not None
        ]
        if not calls:
            self.messages.append({"role": "assistant", "content": message.content or ""})
            return None
        self.messages.append(
            {
                "role": "assistant",
                "content": message.content,
                "tool_calls": [
                    {"id": id_, "type": "function", "function": {"name": name, "arguments": args}}
                    for id_, name, args in calls
                ],
            }
        )
        self._unanswered = [id_ for id_, _, _ in calls]
        for id_, _, args in calls:
            try:
                command = json.loads(args).get("command")
            except (ValueError, AttributeError):
                command = None
            if isinstance(command, str) and command.strip():
                return id_, command.strip()
        self.tool_result("", "")
        return None

    def tool_result(self, call_id: str, output: str) -> None:
        """Answer the model's tool calls: what the command printed for the one that ran.
        The API wants every tool call answered before the conversation goes on."""
        for id_ in self._unanswered:
            text = (output[-MAX_TOOL_OUTPUT:] or "(no output)") if id_ == call_id else "(not run)"
            self.messages.append({"role": "tool", "tool_call_id": id_, "content": text})
        self._unanswered = []


def allowed_by_policy(command: str) -> bool:
    """The agent's command policy: nothing destructive, nothing that leaves the machine."""
    return not command.startswith(BLOCKED_PREFIXES)


def with_own_python(command: str) -> str:
    """``python ...`` run with the demo's own interpreter: ``python`` may not be on PATH
    (a venv used without activating it) or may lack what the project needs."""
    program, _, rest = command.partition(" ")
    if program in ("python", "python3"):
        return f"{shlex.quote(sys.executable)} {rest}".rstrip()
    return command


def run_command(session: agent_otel.Session, command: str, workspace: Path) -> tuple[bool, str]:
    """Run a shell command as an ``execute`` operation; (succeeded, its output)."""
    with session.operation("execute", target=command) as op:
        if not allowed_by_policy(command):
            op.block("command not allowed by the agent's policy")
            return False, "blocked by the agent's policy"
        done = subprocess.run(
            with_own_python(command),
            shell=True,
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = done.stdout + done.stderr
        op.set_exit_code(done.returncode)
        op.set_result(output)
        if done.returncode != 0:
            op.fail(f"command exited with status {done.returncode}")
        return done.returncode == 0, output


def read_file(path: Path, workspace: Path) -> str:
    with agent_otel.operation("read", target=str(path.relative_to(workspace))) as op:
        text = path.read_text()
        op.set_result(text)
        return text


def write_file(
    path: Path,
    new_text: str,
    workspace: Path,
    *,
    undoes: agent_otel.ChangeRecord | None = None,
) -> agent_otel.ChangeRecord:
    relative = str(path.relative_to(workspace))
    with agent_otel.operation("write", target=relative, undoes=undoes) as op:
        old_text = path.read_text() if path.exists() else None
        path.write_text(new_text)
        return op.record_change(
            relative,
            "modify" if old_text is not None else "create",
            before=old_text,
            after=new_text,
        )


def search(pattern: str, workspace: Path) -> list[str]:
    with agent_otel.operation("query", target=f"grep -n {pattern!r}") as op:
        hits = [
            f"{file.name}:{number}: {line}"
            for file in sorted(workspace.glob("*.py"))
            for number, line in enumerate(file.read_text().splitlines(), 1)
            if re.search(pattern, line)
        ]
        op.set_result("\n".join(hits))
        return hits


def suspect_line(plan: str, code: str, hits: list[str]) -> str | None:
    """The line of ``code`` to fix: the first line the plan quotes in backticks, else the
    line below the search hit (the body of the function searched for)."""
    lines = [line.strip() for line in code.splitlines()]
    for quoted in re.findall(r"`([^`\n]+)`", plan):
        if quoted.strip() and quoted.strip() in lines:
            return str(quoted.strip())
    for hit in hits:
        _, number, _ = hit.split(":", 2)
        if number.isdigit() and int(number) < len(lines):
            return lines[int(number)]
    return None


def patched(code: str, old_line: str, answer: str) -> str | None:
    """``code`` with ``old_line`` replaced by the line the model answered (code fences and
    backticks taken off, the original indentation kept); None if the answer has no line or
    changes nothing."""
    candidates = [
        line.strip().strip("`").strip()
        for line in answer.splitlines()
        if line.strip() and not line.strip().startswith("```")
    ]
    if not candidates or candidates[0] == old_line:
        return None
    lines = code.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.strip() == old_line:
            indent = line[: len(line) - len(line.lstrip())]
            ending = line[len(line.rstrip("\r\n")) :]
            lines[index] = f"{indent}{candidates[0]}{ending}"
            return "".join(lines)
    return None


def run_agent(workspace: Path, user: str, model: Model) -> str:
    """One session of the agent on ``workspace``; returns the session id."""
    for name, text in PROJECT.items():
        (workspace / name).write_text(text)

    with agent_otel.session(
        user_id=user,
        model=model.name,
        model_tier=2,
        temperature=TEMPERATURE,
        workspace=str(workspace),
        initial_prompt=TASK,
        agent_name="demo-coder",
    ) as session:
        readme = read_file(workspace / "README.md", workspace)
        hits = search(r"def add", workspace)
        calc = read_file(workspace / "calc.py", workspace)

        # The model plans the fix from the task and the files read so far.
        with agent_otel.operation("query", target=f"{model.name}: plan the fix") as op:
            plan = model.ask(f"{TASK}\n\nREADME.md:\n{readme}\ncalc.py:\n{calc}")
            op.set_result(plan)

        # The policy stops a destructive clean-up before it runs.
        run_command(session, "rm -rf build/ __pycache__/", workspace)

        # The model asks, with a tool call, to run the tests; they fail before the fix.
        with agent_otel.operation("query", target=f"{model.name}: next step") as op:
            asked = model.ask_for_command("Run the tests to confirm the failure.")
            op.set_result(json.dumps({"run_command": asked[1] if asked else None}))
        call_id, command = asked or ("", TEST_COMMAND)
        _, output = run_command(session, command, workspace)
        model.tool_result(call_id, output)

        # A first, wrong attempt that also touches the README; the agent regrets it.
        readme_path = workspace / "README.md"
        noisy = write_file(readme_path, readme + "\nFixed by an agent.\n", workspace)

        # The real fix: the model streams the patch, a person approves it, the agent writes it.
        old_line = suspect_line(plan, calc, hits) or "return a - b"
        with agent_otel.operation("write", target="calc.py") as op:
            answer = model.stream(
                f"Reply with only the corrected line that replaces `{old_line}` in calc.py."
            )
            fixed = patched(calc, old_line, answer)
            if fixed is None:
                op.fail(f"the model's answer is not a patch for {old_line!r}: {answer!r}")
            else:
                op.set_pending()
                op.approve("bob")
                (workspace / "calc.py").write_text(fixed)
                op.record_change("calc.py", "modify", before=calc, after=fixed)

        # Undo the README change, linked to the change it reverts.
        write_file(readme_path, PROJECT["README.md"], workspace, undoes=noisy)

        run_command(session, command, workspace)
        return session.id


def _exempt_loopback_from_proxies() -> None:
    """A proxy set in HTTP(S)_PROXY cannot reach this machine's loopback server; exempt it,
    as curl and httpx understand NO_PROXY."""
    for name in ("NO_PROXY", "no_proxy"):
        hosts = [h.strip() for h in os.environ.get(name, "").split(",") if h.strip()]
        if "127.0.0.1" not in hosts:
            os.environ[name] = ",".join([*hosts, "127.0.0.1"])


@contextmanager
def llm_client(model: str) -> Iterator[tuple[openai.OpenAI, str]]:
    """An OpenAI client and a description of where it goes: the real API when the
    environment names one, else the local stand-in server, for the time of the block."""
    import openai

    if os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL"):
        # A keyless OPENAI_BASE_URL (a local vLLM or Ollama) needs a placeholder key.
        key = os.environ.get("OPENAI_API_KEY") or LOCAL_API_KEY
        with openai.OpenAI(api_key=key) as client:
            yield client, f"{model} at {client.base_url}"
        return

    from llm_server import LocalLLMServer

    # The stand-in server sends usage on streams when asked, so let the instrumentation ask
    # (it asks only api.openai.com on its own); an explicit setting is respected.
    os.environ.setdefault(STREAM_USAGE_ENV, "always")
    _exempt_loopback_from_proxies()
    with (
        LocalLLMServer() as server,
        openai.OpenAI(
            base_url=server.base_url, api_key=LOCAL_API_KEY, max_retries=0, timeout=10.0
        ) as client,
    ):
        yield client, f"{model} played by the local rule-based stand-in at {server.base_url}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--user", default="demo-user", help="user id recorded on the session")
    parser.add_argument("--workspace", type=Path, help="project folder (default: a temp dir)")
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help="model to ask (default: %(default)s)"
    )
    args = parser.parse_args()
    if importlib.util.find_spec("openai") is None:
        sys.exit("the demo needs the openai client library: pip install -e '.[demo]'")
    from agent_otel.instrumentation.openai import OpenAIInstrumentor

    # The demo's files are its own, so it records content (diffs, results) to show them;
    # real apps leave this off unless they opt in (AGENT_OTEL_CAPTURE_CONTENT=true).
    telemetry = agent_otel.configure(service_name="demo-agent", capture_content=True)
    # After configure(), so that the LLM spans go to the same pipeline as the session's.
    OpenAIInstrumentor().instrument()
    try:
        with llm_client(args.model) as (client, endpoint):
            print(f"model: {endpoint}")
            model = Model(client, args.model)
            if args.workspace:
                args.workspace.mkdir(parents=True, exist_ok=True)
                session_id = run_agent(args.workspace.resolve(), args.user, model)
            else:
                with tempfile.TemporaryDirectory(prefix="agent-otel-demo-") as tmp:
                    session_id = run_agent(Path(tmp), args.user, model)
    finally:
        telemetry.shutdown()

    where = telemetry.store_dir or "your OTLP endpoint"
    print(f"session {session_id} recorded to {where}")
    print(f"see it with:  agent-otel sessions   and   agent-otel show {session_id[:8]}")


if __name__ == "__main__":
    main()
