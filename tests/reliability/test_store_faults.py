"""The local store under stress — a full disk, a file-size limit hit mid-line, a read-only
directory, a line cut short by a crash, a process killed mid-session: the app finishes with
its own result, the user gets one clear warning, and what was readable stays readable.

Every case runs the agent in a real subprocess (store_app.py) writing a real store.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import agent_otel
from agent_otel.store import read_spans
from tests.cli.runner import cli
from tests.reliability.agent_app import expected

ROOT = Path(__file__).resolve().parents[2]
STORE_WARNING = "agent-otel store: cannot"

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file system behaviour")


def app_env(home: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTEL_"))}
    # Metrics off: each case is about the traces file, and a failing metrics file would add
    # its own (equally single) warning.
    return {**base, "AGENT_OTEL_HOME": str(home), "OTEL_METRICS_EXPORTER": "none"}


def run_app(
    home: Path,
    tag: str,
    steps: int,
    *,
    preexec: Callable[[], None] | None = None,
    env: dict[str, str] | None = None,
) -> str:
    """Run one session in a fresh agent process; check the app's result; return stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "tests.reliability.store_app", tag, str(steps)],
        cwd=ROOT,
        env=env or app_env(home),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=preexec,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "result " + "".join(expected(tag, steps))
    return proc.stderr


def store_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if STORE_WARNING in line]


def read_cleanly(home: Path) -> dict[str, agent_otel.AgentSession]:
    """The store's sessions; any corrupt line fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return {s.id: s for s in agent_otel.sessions_from_spans(read_spans(home))}


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_one_warning_and_the_store_recovers(tmp_path: Path) -> None:
    """Every write to the traces file fails with ENOSPC (it is /dev/full): one warning, the
    app's result unchanged; once space is back the next session is stored."""
    run_app(tmp_path, "before", 5)
    (tmp_path / "traces.jsonl").rename(tmp_path / "kept.jsonl")
    (tmp_path / "traces.jsonl").symlink_to("/dev/full")
    stderr = run_app(tmp_path, "full", 20)
    (warning,) = store_warnings(stderr)
    assert "No space left on device" in warning and "traces.jsonl" in warning
    assert "Traceback" not in stderr

    (tmp_path / "traces.jsonl").unlink()
    (tmp_path / "kept.jsonl").rename(tmp_path / "traces.jsonl")
    assert not store_warnings(run_app(tmp_path, "after", 5))
    assert set(read_cleanly(tmp_path)) == {"before", "after"}


def limit_file_size(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


@pytest.mark.parametrize("existing", [True, False], ids=["after-data", "fresh-store"])
def test_a_write_cut_short_is_taken_back(tmp_path: Path, existing: bool) -> None:
    """A file-size limit (RLIMIT_FSIZE) stops a batch part-way through its line: the part
    already written is removed, so no fragment is left for readers or later lines."""
    if existing:
        run_app(tmp_path, "before", 5)
    size = (tmp_path / "traces.jsonl").stat().st_size if existing else 0
    stderr = run_app(tmp_path, "cut", 200, preexec=limit_file_size(size + 3000))
    (warning,) = store_warnings(stderr)
    assert "File too large" in warning
    assert (tmp_path / "traces.jsonl").stat().st_size == size  # nothing of the cut batch

    run_app(tmp_path, "after", 5)
    assert set(read_cleanly(tmp_path)) == ({"before", "after"} if existing else {"after"})


PR_CAPBSET_DROP = 24  # <linux/prctl.h>
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3  # <linux/capability.h>


def without_permission_override() -> Callable[[], None] | None:
    """Directory permissions do not bind root: as root, the app process runs without the
    capabilities that override them (dropped from its bounding set before it starts)."""
    if os.geteuid() != 0:
        return None
    if not sys.platform.startswith("linux"):
        pytest.skip("running as root: directory permissions are not enforced")
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec() -> None:
        for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
            if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

    return preexec


def test_a_read_only_store_directory_is_one_warning(tmp_path: Path) -> None:
    """The store directory (with a rotated file in it) became read-only: the new file cannot
    be created — one warning; the rotated file stays readable; writable again, the store
    takes the next session."""
    preexec = without_permission_override()
    run_app(tmp_path, "before", 5)
    (tmp_path / "traces.jsonl").rename(tmp_path / "traces.20200101T000000.000000Z-1.jsonl")
    tmp_path.chmod(0o500)
    try:
        stderr = run_app(tmp_path, "read-only", 20, preexec=preexec)
    except subprocess.SubprocessError as error:  # prctl refused: no CAP_SETPCAP here
        pytest.skip(f"cannot drop the permission override for the app: {error}")
    finally:
        tmp_path.chmod(0o700)
    (warning,) = store_warnings(stderr)
    assert "Permission denied" in warning and str(tmp_path) in warning
    assert set(read_cleanly(tmp_path)) == {"before"}

    run_app(tmp_path, "after", 5, preexec=preexec)
    assert set(read_cleanly(tmp_path)) == {"before", "after"}


def test_a_line_cut_by_a_crash_costs_only_that_line(tmp_path: Path) -> None:
    """The last line lost its end (the writing process died mid-write, or the machine did):
    the CLI and the reader warn once, naming the file and line, and show everything else;
    the next writer starts a fresh line instead of gluing its batch onto the broken one."""
    for tag in ("first", "second"):
        run_app(tmp_path, tag, 5)
    traces = tmp_path / "traces.jsonl"
    data = traces.read_bytes()
    traces.write_bytes(data[: len(data) - len(data.splitlines()[-1]) // 2 - 1])

    run_app(tmp_path, "third", 5)
    with pytest.warns(agent_otel.AgentOtelWarning, match=r"traces\.jsonl:2: skipped a corrupt"):
        sessions = {s.id for s in agent_otel.read_sessions(tmp_path)}
    assert sessions == {"first", "third"}

    result = cli("sessions", "--json", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {row["id"] for row in result.json()} == {"first", "third"}
    assert result.stderr.count("skipped a corrupt or truncated line") == 1


def test_a_session_killed_mid_way_is_still_listed(tmp_path: Path) -> None:
    """SIGKILL (or the OOM killer) gives no chance to end the open session: its span is
    never exported. The operations it finished were exported; they should still show the
    session (its status unknown) rather than vanish."""
    with subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.store_app", "done", "3", "--then-wait"],
        cwd=ROOT,
        env=app_env(tmp_path),
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        while proc.stdout.readline().strip() != "ready":
            assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    spans = list(read_spans(tmp_path))
    assert len([s for s in spans if s.name.startswith("execute_tool")]) == 3 + 3
    assert {s.id for s in agent_otel.sessions_from_spans(spans)} == {"done", "done-open"}
