"""However the process ends — normal exit, unhandled exception, ``sys.exit``, Ctrl-C,
SIGTERM, SIGINT — open sessions and operations end with the right status, and everything
reaches both the OTLP endpoint and the local store.

Each case is a real agent process (ending_app.py) configured only through the environment,
exporting to an OTLP/HTTP receiver on loopback and to a local store at the same time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import agent_otel
from tests.reliability.agent_app import expected
from tests.reliability.otlp_servers import OtlpHttpReceiver

ROOT = Path(__file__).resolve().parents[2]
PROCESS_ENDED = "ProcessEnded"


@pytest.fixture
def receiver() -> Iterator[OtlpHttpReceiver]:
    r = OtlpHttpReceiver()
    r.start()
    yield r
    r.close()


Launch = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def start_app() -> Iterator[Launch]:
    """Start the app exporting spans both to a receiver and to the store at ``home``;
    metrics too (to both, the endpoint first, as a user might list them). A process still
    running when the test ends (it failed half-way) is killed."""
    started: list[subprocess.Popen[str]] = []

    def launch(
        mode: str, receiver: OtlpHttpReceiver, home: Path, **extra: str
    ) -> subprocess.Popen[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
        env.update(
            AGENT_OTEL_HOME=str(home),
            OTEL_TRACES_EXPORTER="otlp,agent_otel_store",
            OTEL_METRICS_EXPORTER="otlp,agent_otel_store",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL=receiver.protocol,
            **extra,
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.ending_app", mode],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        return proc

    yield launch
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def wait_for_line(proc: subprocess.Popen[str], wanted: str) -> list[str]:
    """Read the app's output up to the line ``wanted``."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if line.strip() == wanted:
            return lines
    raise AssertionError(f"{wanted!r} never came: {lines}, exit code {proc.poll()}")


def finish(proc: subprocess.Popen[str], earlier: list[str]) -> tuple[list[str], str]:
    out, err = proc.communicate(timeout=60)
    return earlier + out.splitlines(), err


def check_everywhere(receiver: OtlpHttpReceiver, home: Path) -> dict[str, agent_otel.AgentSession]:
    """The sessions the store and the OTLP endpoint got, which must be the same."""
    stored = {s.id: s for s in agent_otel.read_sessions(home)}
    received = receiver.sessions()
    assert set(stored) == set(received)
    for sid, session in stored.items():
        other = received[sid]
        assert (session.status, session.error) == (other.status, other.error)
        assert [(o.id, o.status, o.error) for o in session.operations] == [
            (o.id, o.status, o.error) for o in other.operations
        ]
    assert (home / "metrics.jsonl").is_file(), "metrics are flushed to the store too"
    return stored


def assert_done_session(sessions: dict[str, agent_otel.AgentSession]) -> None:
    done = sessions["done"]
    assert done.status == "completed"
    assert [o.status for o in done.operations] == ["success"] * 3


def assert_result_printed(lines: list[str]) -> None:
    assert lines[0] == "result " + "".join(expected("done", 3))


# (mode, exit code, session status, the operation's status and error)
ENDINGS = [
    ("raise", 1, "failed", "RuntimeError: the app crashed"),
    ("exit3", 3, "failed", "SystemExit: 3"),
    ("interrupt", -signal.SIGINT, "cancelled", "KeyboardInterrupt"),
]


@pytest.mark.parametrize(
    ("mode", "code", "status", "op_error"), ENDINGS, ids=[e[0] for e in ENDINGS]
)
def test_the_way_the_process_ends_sets_the_status(
    mode: str,
    code: int,
    status: str,
    op_error: str,
    receiver: OtlpHttpReceiver,
    tmp_path: Path,
    start_app: Launch,
) -> None:
    proc = start_app(mode, receiver, tmp_path)
    lines, err = finish(proc, [])
    assert proc.returncode == code, err
    assert_result_printed(lines)
    sessions = check_everywhere(receiver, tmp_path)
    assert set(sessions) == {"done", "open"}
    assert_done_session(sessions)
    session = sessions["open"]
    assert session.status == status
    (op,) = session.operations
    assert (op.status, op.error) == ("failed", op_error)


def test_normal_exit_ends_what_is_still_open(
    receiver: OtlpHttpReceiver, tmp_path: Path, start_app: Launch
) -> None:
    """The blocks that exit complete; a session started and never ended and one in a
    daemon thread are ended by the exit hook: cancelled, their open operations failed."""
    proc = start_app("exit", receiver, tmp_path)
    lines, err = finish(proc, [])
    assert proc.returncode == 0, err
    assert_result_printed(lines)
    sessions = check_everywhere(receiver, tmp_path)
    assert set(sessions) == {"done", "open", "forgotten", "daemon"}
    assert_done_session(sessions)
    assert sessions["open"].status == "completed"
    assert [o.status for o in sessions["open"].operations] == ["success"]
    for sid in ("forgotten", "daemon"):
        session = sessions[sid]
        assert session.status == "cancelled"
        (op,) = session.operations
        assert op.status == "failed"
        assert op.error == f"{PROCESS_ENDED}: the process exited while it was open"


@pytest.mark.parametrize(
    ("signum", "op_error"),
    [
        (signal.SIGTERM, f"{PROCESS_ENDED}: the process received SIGTERM"),
        (signal.SIGINT, "KeyboardInterrupt"),
    ],
    ids=["SIGTERM", "SIGINT"],
)
def test_a_signal_mid_operation_cancels_and_flushes(
    signum: int, op_error: str, receiver: OtlpHttpReceiver, tmp_path: Path, start_app: Launch
) -> None:
    """The process dies of the signal as it would without agent-otel (exit status -signum),
    after the open session and operation ended and everything was exported."""
    proc = start_app("wait", receiver, tmp_path)
    earlier = wait_for_line(proc, "ready")
    proc.send_signal(signum)
    lines, err = finish(proc, earlier)
    assert proc.returncode == -signum, err
    assert_result_printed(lines)
    sessions = check_everywhere(receiver, tmp_path)
    assert set(sessions) == {"done", "open"}
    assert_done_session(sessions)
    assert sessions["open"].status == "cancelled"
    (op,) = sessions["open"].operations
    assert (op.status, op.error) == ("failed", op_error)
    assert "Traceback" not in err or signum == signal.SIGINT  # SIGTERM: no noise


def test_the_apps_own_sigterm_handler_is_kept(
    receiver: OtlpHttpReceiver, tmp_path: Path, start_app: Launch
) -> None:
    """agent-otel takes SIGTERM over only when nobody handles it: here the app's handler
    exits with status 143, unwinding the blocks, whose sessions end as that exit says."""
    proc = start_app("own-handler", receiver, tmp_path)
    earlier = wait_for_line(proc, "ready")
    proc.send_signal(signal.SIGTERM)
    lines, err = finish(proc, earlier)
    assert proc.returncode == 143, err
    assert_result_printed(lines)
    sessions = check_everywhere(receiver, tmp_path)
    assert_done_session(sessions)
    assert sessions["open"].status == "failed"
    assert sessions["open"].error == "SystemExit: 143"


def test_sys_exit_zero_completes_the_session(
    receiver: OtlpHttpReceiver, tmp_path: Path, start_app: Launch
) -> None:
    proc = start_app("exit0", receiver, tmp_path)
    lines, err = finish(proc, [])
    assert proc.returncode == 0, err
    assert_result_printed(lines)
    sessions = check_everywhere(receiver, tmp_path)
    assert sessions["open"].status == "completed"
    assert len(sessions["open"].operations) == 1


def test_sys_exit_zero_inside_an_operation_is_a_success(
    receiver: OtlpHttpReceiver, tmp_path: Path, start_app: Launch
) -> None:
    proc = start_app("exit0", receiver, tmp_path)
    finish(proc, [])
    (op,) = check_everywhere(receiver, tmp_path)["open"].operations
    assert (op.status, op.error) == ("success", None)


@pytest.mark.parametrize("fault", ["hang", "refuse"])
def test_an_unreachable_endpoint_delays_the_exit_by_the_budget_only(
    fault: str, tmp_path: Path, start_app: Launch
) -> None:
    """At exit the OTLP exporter may wait for an endpoint that never answers; the SDK alone
    waits up to 30 s. agent-otel's exit hook stops waiting after AGENT_OTEL_SHUTDOWN_TIMEOUT
    (here 1 s) — and the local store, flushed first, still gets everything."""
    receiver = OtlpHttpReceiver()
    if fault == "hang":
        receiver.start("hang")
    try:
        proc = start_app("exit", receiver, tmp_path, AGENT_OTEL_SHUTDOWN_TIMEOUT="1000")
        earlier = wait_for_line(proc, "result " + "".join(expected("done", 3)))
        began = time.monotonic()
        _, err = finish(proc, earlier)
        exit_seconds = time.monotonic() - began
    finally:
        receiver.close()
    assert proc.returncode == 0, err
    assert exit_seconds < 6, f"the exit took {exit_seconds:.1f} s"
    assert not receiver.requests
    stored = {s.id: s.status for s in agent_otel.read_sessions(tmp_path)}
    assert stored == {
        "done": "completed",
        "open": "completed",
        "forgotten": "cancelled",
        "daemon": "cancelled",
    }
    assert "agent.session.duration" in (tmp_path / "metrics.jsonl").read_text()
    assert "Traceback" not in err
    assert "agent-otel:" not in err, "no warning from agent-otel itself"
