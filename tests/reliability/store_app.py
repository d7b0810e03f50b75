"""An agent writing to the local store: ``python store_app.py TAG STEPS [--then-wait]``.

Run by test_store_faults.py with ``AGENT_OTEL_HOME`` pointing at a store that may be full,
read-only or damaged. Runs one session ``TAG`` of STEPS operations and prints the app's own
result (``result <hex>``). With ``--then-wait`` it then opens session ``TAG-open``, finishes
and exports three operations in it, prints ``ready`` and waits to be killed.
"""

from __future__ import annotations

import sys
import time

import agent_otel
from tests.reliability.agent_app import run_session


def main(tag: str, steps: int, then_wait: bool) -> None:
    tel = agent_otel.configure(service_name="store-app")
    print("result", "".join(run_session(tag, steps)), flush=True)
    if then_wait:
        with agent_otel.session(user_id="store", session_id=f"{tag}-open") as s:
            for i in range(3):
                with s.operation("read", f"{tag}-open/{i}.py"):
                    pass
            tel.force_flush()
            print("ready", flush=True)
            time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), "--then-wait" in sys.argv[3:])
