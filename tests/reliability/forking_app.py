"""An agent process that forks mid-session: ``python forking_app.py MODE``.

Run by test_fork.py with the local store (and, for ``fork``, an OTLP/HTTP receiver)
configured through the environment. Modes:

* ``fork``: session ``before`` ends (its spans still wait in the batch queue), then inside
  session ``parent`` and its operation ``parent/op`` the process forks. The child runs a
  session ``child`` of its own and one operation ``child/in-parent`` inside the inherited
  session, then leaves through ``sys.exit(0)`` — unwinding the inherited blocks.
* ``multiprocessing``: a ``multiprocessing`` child (fork start method) runs session
  ``mp-child``; multiprocessing ends its children with ``os._exit``, skipping exit hooks.
* ``together``: after a fork, parent and child each write 40 sessions to the same store at
  the same time (a flush after each, so every session is its own locked append), through
  file rotations.

Prints ``child exited <code>`` (and the parent's own result) for the test to check.
"""

from __future__ import annotations

import multiprocessing
import os
import sys

import agent_otel
from tests.reliability.agent_app import run_session, step


def _fork_inside_a_session(tel: agent_otel.Telemetry) -> None:
    run_session("before", 3)
    with (
        agent_otel.session(user_id="forking", session_id="parent") as s,
        s.operation("read", "parent/op") as op,
    ):
        pid = os.fork()
        if pid == 0:
            run_session("child", 5)
            with agent_otel.operation("read", "child/in-parent"):
                pass
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        print("child exited", os.waitstatus_to_exitcode(status), flush=True)
        op.set_result(step("parent", 0))


def _mp_child() -> None:
    run_session("mp-child", 5)


def _multiprocessing_child(tel: agent_otel.Telemetry) -> None:
    child = multiprocessing.get_context("fork").Process(target=_mp_child)
    child.start()
    child.join()
    print("child exited", child.exitcode, flush=True)
    run_session("mp-parent", 2)


def _write_together(tel: agent_otel.Telemetry) -> None:
    go_read, go_write = os.pipe()
    pid = os.fork()
    name = "child" if pid == 0 else "parent"
    if pid == 0:
        os.read(go_read, 1)  # wait for the parent: both start at once
    else:
        os.write(go_write, b"x")
    for n in range(40):
        run_session(f"{name}-{n}", 10)
        tel.force_flush()
    if pid == 0:
        sys.exit(0)
    _, status = os.waitpid(pid, 0)
    print("child exited", os.waitstatus_to_exitcode(status), flush=True)


MODES = {
    "fork": _fork_inside_a_session,
    "multiprocessing": _multiprocessing_child,
    "together": _write_together,
}


if __name__ == "__main__":
    MODES[sys.argv[1]](agent_otel.configure(service_name="forking-app"))
