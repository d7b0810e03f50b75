"""A session continuing a trace that a remote caller started (W3C ``traceparent`` with a
``tracestate``), written to the store through the library; run as a script.

Its spans have a remote parent and carry the caller's trace state, which an export must
keep. ``AGENT_OTEL_HOME`` is the store. Session ``s-remote`` (user dave): one failed execute.
"""

from __future__ import annotations

from opentelemetry import context
from opentelemetry.propagate import extract

import agent_otel

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACESTATE = "vendor=abc,other=1"


def main() -> None:
    tel = agent_otel.configure(service_name="remote-agent")
    token = context.attach(extract({"traceparent": TRACEPARENT, "tracestate": TRACESTATE}))
    try:
        with (
            agent_otel.session(session_id="s-remote", user_id="dave"),
            agent_otel.operation("execute", "make test") as op,
        ):
            op.fail("boom")
    finally:
        context.detach(token)
    tel.shutdown()


if __name__ == "__main__":
    main()
