"""A tiny agent run in a subprocess by the configuration tests: ``run_agent.py N TAG``.

It configures agent-otel from the environment only, as an app would, and runs N sessions.
"""

from __future__ import annotations

import sys

from opentelemetry import trace

import agent_otel
from agent_otel import semconv as sc


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    tag = sys.argv[2] if len(sys.argv) > 2 else "p"
    tel = agent_otel.configure(service_name="run-agent")
    llm = trace.get_tracer("fake-llm-library")
    for i in range(count):
        with agent_otel.session(user_id=f"{tag}-user", session_id=f"{tag}-{i}", model="m") as s:
            with s.operation("read", "a.py"):
                attrs = {sc.GEN_AI_USAGE_INPUT_TOKENS: 10, sc.GEN_AI_USAGE_OUTPUT_TOKENS: 2}
                with llm.start_as_current_span("chat m", attributes=attrs):
                    pass
            with s.operation("write", "a.py") as op:
                op.record_change("a.py", "modify", before="x\n" * 2000, after="y\n" * 2000)
    tel.shutdown()


if __name__ == "__main__":
    main()
