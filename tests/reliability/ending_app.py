"""An agent process that ends in a chosen way mid-session: ``python ending_app.py MODE``.

Run by test_process_end.py in a subprocess configured only through the environment (the
local store and an OTLP/HTTP receiver). Each mode first finishes a session ``done`` of three
operations, then opens session ``open`` and an operation ``open/op`` inside it and ends the
process from there:

* ``exit``: returns normally from inside the blocks (they complete) — but a session started
  with ``start()`` and never ended (``forgotten``) and one in a daemon thread (``daemon``),
  each with an operation open, are still open at exit;
* ``raise``: an unhandled exception; ``exit0`` / ``exit3``: ``sys.exit(0)`` / ``sys.exit(3)``;
  ``interrupt``: ``KeyboardInterrupt`` raised by the code;
* ``wait``: prints ``ready`` and sleeps, for the test to send SIGTERM or SIGINT;
  ``own-handler``: the same, but the app installed a SIGTERM handler of its own before
  configuring agent-otel (it exits with status 143).

It prints the app's own result (``result <hex>``) before ending, so the test can check that
telemetry did not change it.
"""

from __future__ import annotations

import signal
import sys
import threading
import time

import agent_otel
from tests.reliability.agent_app import run_session, step


def _daemon_session(started: threading.Event) -> None:
    with (
        agent_otel.session(user_id="ending", session_id="daemon"),
        agent_otel.operation("execute", "sleep"),
    ):
        started.set()
        time.sleep(3600)


def main(mode: str) -> None:
    if mode == "own-handler":
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    agent_otel.configure(service_name="ending-app")
    print("result", "".join(run_session("done", 3, user="ending")), flush=True)
    if mode == "exit":
        started = threading.Event()
        threading.Thread(target=_daemon_session, args=(started,), daemon=True).start()
        started.wait()
        forgotten = agent_otel.session(user_id="ending", session_id="forgotten").start()
        forgotten.operation("query", "never ended").__enter__()  # a block that never exits
    with (
        agent_otel.session(user_id="ending", session_id="open") as s,
        s.operation("read", "open/op") as op,
    ):
        op.set_result(step("open", 0))
        if mode == "raise":
            raise RuntimeError("the app crashed")
        if mode == "exit0":
            sys.exit(0)
        if mode == "exit3":
            sys.exit(3)
        if mode == "interrupt":
            raise KeyboardInterrupt
        if mode in ("wait", "own-handler"):
            print("ready", flush=True)
            time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1])
