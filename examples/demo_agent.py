"""A small coding agent that fixes a bug in a throw-away project, with no network.

It does what real coding agents do and records all of it with agent-otel: it reads files,
searches the code, writes a fix (a change record with its diff), asks to run a command that
the policy blocks, runs the tests (which fail once), undoes a change it regrets, and runs the
tests again. Its "planning" is a fixed script — the point is the telemetry, not the AI.

Run it, then look at what it did::

    python examples/demo_agent.py
    agent-otel sessions
    agent-otel show <session id>
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import agent_otel

PROJECT = {
    "calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "test_calc.py": (
        "from calc import add, mul\n\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_mul():\n    assert mul(2, 3) == 6\n"
    ),
    "README.md": "# calc\n\nA tiny calculator. Run the tests with `python test_calc.py`.\n",
}

RUN_TESTS = (
    f"{shlex.quote(sys.executable)} -c "
    "\"import test_calc as t; t.test_add(); t.test_mul(); print('2 passed')\""
)
BLOCKED_PREFIXES = ("rm ", "curl ", "git push")


def allowed_by_policy(command: str) -> bool:
    """The agent's command policy: nothing destructive, nothing that leaves the machine."""
    return not command.startswith(BLOCKED_PREFIXES)


def run_command(session: agent_otel.Session, command: str, workspace: Path) -> bool:
    """Run a shell command as an ``execute`` operation; True when it succeeded."""
    with session.operation("execute", target=command) as op:
        if not allowed_by_policy(command):
            op.block("command not allowed by the agent's policy")
            return False
        done = subprocess.run(
            command, shell=True, cwd=workspace, capture_output=True, text=True, timeout=60
        )
        op.set_exit_code(done.returncode)
        op.set_result(done.stdout + done.stderr)
        if done.returncode != 0:
            op.fail(f"command exited with status {done.returncode}")
        return done.returncode == 0


def read_file(path: Path, workspace: Path) -> str:
    with agent_otel.operation("read", target=str(path.relative_to(workspace))) as op:
        text = path.read_text()
        op.set_result(text)
        return text


def write_file(
    path: Path, new_text: str, workspace: Path, *, approved_by: str | None = None, undoes=None
) -> agent_otel.ChangeRecord:
    relative = str(path.relative_to(workspace))
    with agent_otel.operation(
        "write",
        target=relative,
        approved=approved_by is not None,
        approved_by=approved_by,
        undoes=undoes,
    ) as op:
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


def run_agent(workspace: Path, user: str) -> str:
    """One session of the agent on ``workspace``; returns the session id."""
    for name, text in PROJECT.items():
        (workspace / name).write_text(text)

    with agent_otel.session(
        user_id=user,
        model="claude-sonnet-4-5",
        model_tier=2,
        temperature=0.2,
        workspace=str(workspace),
        initial_prompt="The tests of calc fail. Find the bug and fix it.",
        agent_name="demo-coder",
    ) as session:
        read_file(workspace / "README.md", workspace)
        search(r"def add", workspace)
        calc = read_file(workspace / "calc.py", workspace)

        # The policy stops a destructive clean-up before it runs.
        run_command(session, "rm -rf build/ __pycache__/", workspace)
        # The tests fail before the fix.
        run_command(session, RUN_TESTS, workspace)

        # A first, wrong attempt that also touches the README; the agent regrets it.
        readme = workspace / "README.md"
        noisy = write_file(readme, readme.read_text() + "\nFixed by an agent.\n", workspace)

        # The real fix, approved by a person after a pending wait.
        with agent_otel.operation("write", target="calc.py") as op:
            op.set_pending()
            op.approve("bob")
            fixed = calc.replace("return a - b", "return a + b")
            (workspace / "calc.py").write_text(fixed)
            op.record_change("calc.py", "modify", before=calc, after=fixed)

        # Undo the README change, linked to the change it reverts.
        write_file(readme, PROJECT["README.md"], workspace, undoes=noisy)

        run_command(session, RUN_TESTS, workspace)
        return session.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--user", default="demo-user", help="user id recorded on the session")
    parser.add_argument("--workspace", type=Path, help="project folder (default: a temp dir)")
    args = parser.parse_args()

    # The demo's files are its own, so it records content (diffs, results) to show them;
    # real apps leave this off unless they opt in (AGENT_OTEL_CAPTURE_CONTENT=true).
    telemetry = agent_otel.configure(service_name="demo-agent", capture_content=True)
    if args.workspace:
        args.workspace.mkdir(parents=True, exist_ok=True)
        session_id = run_agent(args.workspace.resolve(), args.user)
    else:
        with tempfile.TemporaryDirectory(prefix="agent-otel-demo-") as tmp:
            session_id = run_agent(Path(tmp), args.user)
    telemetry.shutdown()

    where = telemetry.store_dir or "your OTLP endpoint"
    print(f"session {session_id} recorded to {where}")
    print(f"see it with:  agent-otel sessions   and   agent-otel show {session_id[:8]}")


if __name__ == "__main__":
    main()
