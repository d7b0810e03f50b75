"""Long agent runs, in a fresh interpreter: ``python long_run_app.py MODE ...``.

``soak OPERATIONS CHECKPOINT``: one session of OPERATIONS operations through the default
pipeline (the local store, rotating), over a project of 1,000 files, with a file change
every 100th operation. Prints ``{"ops": N, "rss": BYTES}`` (resident memory from
/proc/self/status) every CHECKPOINT operations.

``day``: one session that lasts 24 hours of simulated time: the clock agent-otel and the
OpenTelemetry SDK read (``time.time_ns``) is advanced instead of sleeping. Every 15 minutes
a one-minute operation, and a pause for lunch at noon. Prints the session's simulated start
and end (ns) as JSON.
"""

from __future__ import annotations

import json
import sys
import time

_real_time_ns = time.time_ns
_skipped_ns = 0


def _simulated_time_ns() -> int:
    return _real_time_ns() + _skipped_ns


def pass_time(seconds: int) -> None:
    """Let simulated time pass without waiting for it."""
    global _skipped_ns
    _skipped_ns += seconds * 1_000_000_000


def rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def soak(operations: int, checkpoint: int) -> None:
    import agent_otel

    tel = agent_otel.configure(service_name="soak")
    with agent_otel.session(user_id="soak", session_id="soak") as s:
        for i in range(operations):
            path = f"src/module_{i % 1000}.py"
            if i % 100 == 99:
                with s.operation("write", path) as op:
                    op.record_change(path, "modify", before=f"v = {i}\n", after=f"v = {i + 1}\n")
            else:
                with s.operation("read", path) as op:
                    op.set_result("ok")
            if (i + 1) % checkpoint == 0:
                print(json.dumps({"ops": i + 1, "rss": rss_bytes()}), flush=True)
    tel.shutdown()


def day() -> None:
    # The SDK binds time_ns when it is imported: replace the clock before that.
    time.time_ns = _simulated_time_ns
    import agent_otel

    tel = agent_otel.configure(service_name="day")
    start = time.time_ns()
    with agent_otel.session(user_id="day", session_id="day") as s:
        for hour in range(24):
            for quarter in range(4):
                path = f"notes/{hour:02d}-{quarter * 15:02d}.md"
                with s.operation("write", path) as op:
                    pass_time(60)
                    op.record_change(path, "create", after=f"{hour}:{quarter * 15}\n")
                if hour == 12 and quarter == 0:
                    s.pause("lunch")
                    pass_time(14 * 60)
                    s.resume()
                else:
                    pass_time(14 * 60)
        end = time.time_ns()
    tel.shutdown()
    print(json.dumps({"start": start, "end": end}))


if __name__ == "__main__":
    if sys.argv[1] == "soak":
        soak(int(sys.argv[2]), int(sys.argv[3]))
    else:
        day()
