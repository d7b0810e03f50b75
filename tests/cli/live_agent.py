"""An agent writing to the store through the library while ``agent-otel tail`` watches; run
as a script. ``AGENT_OTEL_HOME`` is the store; the caller sets ``OTEL_BSP_SCHEDULE_DELAY`` low
so that each operation reaches the store soon after it ends.

``live_agent.py SESSION_ID OPS [--delay S] [--release PATH]``: one session of user ``live``
with OPS read operations on ``file-<n>.txt`` (the second one also makes an LLM call), ``S``
seconds apart; with ``--release`` the session stays open until PATH exists.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from opentelemetry import trace

import agent_otel
from agent_otel import semconv as sc


def llm_call() -> None:
    """A span as an instrumented LLM client would make it."""
    with trace.get_tracer("fake-llm-client").start_as_current_span(
        "chat live-model", kind=trace.SpanKind.CLIENT
    ) as span:
        span.set_attributes(
            {
                sc.GEN_AI_OPERATION_NAME: "chat",
                sc.GEN_AI_PROVIDER_NAME: "openai",
                sc.GEN_AI_REQUEST_MODEL: "live-model",
                sc.GEN_AI_USAGE_INPUT_TOKENS: 100,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: 20,
                sc.AGENT_USAGE_COST: 0.5,
            }
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("session_id")
    parser.add_argument("ops", type=int)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--release", type=Path)
    args = parser.parse_args()

    tel = agent_otel.configure(service_name="live-agent")
    with agent_otel.session(session_id=args.session_id, user_id="live"):
        for n in range(args.ops):
            with agent_otel.operation("read", f"file-{n}.txt"):
                if n == 1:
                    llm_call()
            time.sleep(args.delay)
        while args.release is not None and not args.release.exists():
            time.sleep(0.05)
    tel.shutdown()


if __name__ == "__main__":
    main()
