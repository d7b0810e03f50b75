"""``agent-otel tail`` as users run it: the console script in a subprocess, following a store
that a second process writes through the library at the same time (see live_agent.py)."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from tests.cli.runner import SCRIPT, clean_env

HERE = Path(__file__).parent
TIMEOUT = 60.0


class Tail:
    """``agent-otel tail`` running in the background, its output read line by line."""

    def __init__(self, home: Path, *options: str) -> None:
        self.process = subprocess.Popen(
            [str(SCRIPT), "tail", *options],
            env=clean_env(AGENT_OTEL_HOME=str(home)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self.stdout: queue.Queue[str] = self._reader(self.process.stdout)
        self.stderr: queue.Queue[str] = self._reader(self.process.stderr)

    @staticmethod
    def _reader(stream: IO[str]) -> queue.Queue[str]:
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            for line in stream:
                lines.put(line)

        threading.Thread(target=pump, daemon=True).start()
        return lines

    @staticmethod
    def wait_for(lines: queue.Queue[str], done: Callable[[str], bool]) -> list[str]:
        """Lines up to and including the first one for which ``done`` is true."""
        got: list[str] = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; got {got}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            got.append(line)
            if done(line):
                return got

    def records(self, until_session: str) -> list[dict[str, Any]]:
        """``--json`` records up to the end of session ``until_session``."""
        lines = self.wait_for(
            self.stdout,
            lambda line: (
                json.loads(line)["kind"] == "session" and json.loads(line)["id"] == until_session
            ),
        )
        return [json.loads(line) for line in lines]

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C; the exit status and whatever it wrote after the lines already read."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=TIMEOUT)
        time.sleep(0.1)  # let the reader threads drain the pipes
        return code, drain(self.stdout), drain(self.stderr)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def drain(lines: queue.Queue[str]) -> str:
    out = []
    while not lines.empty():
        out.append(lines.get())
    return "".join(out)


@pytest.fixture
def tails() -> Iterator[list[Tail]]:
    """Tails started by a test, killed at its end if it failed before stopping them."""
    started: list[Tail] = []
    yield started
    for tail in started:
        tail.kill()


def agent(
    home: Path, session_id: str, ops: int, *options: str, **env: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE / "live_agent.py"), session_id, str(ops), *options],
        env=clean_env(AGENT_OTEL_HOME=str(home), OTEL_BSP_SCHEDULE_DELAY="10", **env),
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> None:
    assert process.wait(timeout=TIMEOUT) == 0


def test_operations_appear_while_the_session_runs(tmp_path: Path, tails: list[Tail]) -> None:
    home = tmp_path / "store"  # does not exist yet
    tail = Tail(home, "--json")
    tails.append(tail)
    (waiting,) = Tail.wait_for(tail.stderr, lambda line: True)
    assert waiting == f"agent-otel: no store at {home} yet; waiting for it (Ctrl-C to stop)\n"

    release = tmp_path / "release"
    writer = agent(home, "s-live", 4, "--release", str(release))
    ops = [json.loads(Tail.wait_for(tail.stdout, bool)[0]) for _ in range(4)]
    # Every operation was shown while its session was still open.
    assert writer.poll() is None
    assert [op["kind"] for op in ops] == ["operation"] * 4
    assert [op["target"] for op in ops] == [f"file-{n}.txt" for n in range(4)]
    assert {op["session_id"] for op in ops} == {"s-live"}
    assert all(op["status"] == "success" for op in ops)
    # The LLM call made inside the second operation is part of it, as `show` has it.
    (call,) = ops[1]["llm_calls"]
    assert (call["model"], call["usage"]["input_tokens"]) == ("live-model", 100)
    assert (ops[1]["input_tokens"], ops[1]["output_tokens"], ops[1]["cost"]) == (100, 20, 0.5)

    release.touch()
    finish(writer)
    (session,) = tail.records("s-live")
    assert session["kind"] == "session"
    assert session["status"] == "completed"
    assert session["user_id"] == "live"
    assert session["operation_count"] == 4
    assert [op["id"] for op in session["operations"]] == [op["id"] for op in ops]

    code, out, err = tail.stop()
    assert (code, out, err) == (0, "", "")


def test_rotation_loses_and_repeats_nothing(tmp_path: Path, tails: list[Tail]) -> None:
    home = tmp_path / "store"
    tail = Tail(home, "--json")
    tails.append(tail)
    Tail.wait_for(tail.stderr, lambda line: True)
    # Every batch is bigger than the file limit, so the writer rotates at nearly every write.
    writer = agent(
        home,
        "s-rotating",
        60,
        "--delay",
        "0.005",
        AGENT_OTEL_STORE_MAX_BYTES="1500",
        AGENT_OTEL_STORE_MAX_FILES="1000",
    )
    finish(writer)
    records = tail.records("s-rotating")
    assert [r["target"] for r in records[:-1]] == [f"file-{n}.txt" for n in range(60)]
    assert records[-1]["operation_count"] == 60
    assert len(list(home.glob("traces.*-*.jsonl"))) >= 10
    code, out, err = tail.stop()
    assert (code, out, err) == (0, "", "")


def test_starts_at_the_end_and_reads_partial_and_corrupt_lines(
    tmp_path: Path, tails: list[Tail]
) -> None:
    home = tmp_path / "store"
    finish(agent(home, "s-before", 2))
    traces = home / "traces.jsonl"
    # A whole session written elsewhere, to be appended in two pieces.
    elsewhere = tmp_path / "elsewhere"
    finish(agent(elsewhere, "s-later", 3))
    later = (elsewhere / "traces.jsonl").read_bytes()

    tail = Tail(home)
    tails.append(tail)
    # Corrupt lines until tail reports one: from then on it is surely following the file.
    while True:
        with traces.open("ab") as f:
            f.write(b'{"resourceSpans": [{"scopeSpans": tru\n')
        try:
            warning = tail.stderr.get(timeout=0.5)
            break
        except queue.Empty:
            continue
    assert warning.startswith(f"agent-otel: warning: {traces}:")
    assert ": skipped a corrupt or truncated line (JSONDecodeError: " in warning

    half = len(later) // 2
    with traces.open("ab") as f:
        f.write(later[:half])
    time.sleep(1.0)  # several polls see the unfinished line
    with traces.open("ab") as f:
        f.write(later[half:])
    lines = Tail.wait_for(tail.stdout, lambda line: "s-later  session" in line)
    code, out, err = tail.stop()
    assert code == 0
    assert out == ""
    shown = "".join(lines)
    assert "s-before" not in shown  # what was there before tail started is not shown
    assert [line.split()[4] for line in lines[:-1]] == ["file-0.txt", "file-1.txt", "file-2.txt"]
    for line in lines[:-1]:
        assert line.split()[1] == "s-later"
        assert "read" in line and "success" in line
    assert "session completed · live · 3 operations · 120 tokens · $0.5000" in lines[-1]
    # The unfinished line was waited for, not reported; only the corrupt lines were.
    assert all(line.startswith("agent-otel: warning: ") for line in err.splitlines())


def test_from_start_shows_what_is_already_stored(tmp_path: Path, tails: list[Tail]) -> None:
    home = tmp_path / "store"
    finish(agent(home, "s-old", 2))
    tail = Tail(home, "--from-start", "--json")
    tails.append(tail)
    records = tail.records("s-old")
    assert [r["kind"] for r in records] == ["operation", "operation", "session"]
    assert tail.stop() == (0, "", "")
