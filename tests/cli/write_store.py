"""Write a local store with the real library, as an agent app would; run as a script.

``AGENT_OTEL_HOME`` (set by the caller) is the store; content capture is on so that the
change diffs are recorded. The sessions, in start order:

- ``s-alpha-0001`` (alice, completed): read, write with a change (approved by bob), a
  blocked execute, a failed execute, a query with an LLM call inside, an undo of the write,
  and one LLM call outside any operation;
- ``s-beta-0002`` (bob, failed): one read, then an exception;
- ``twin-a1`` and ``twin-a2`` (carol, completed, empty): two ids sharing a prefix.
"""

from __future__ import annotations

from opentelemetry import trace

import agent_otel
from agent_otel import semconv as sc


def llm_call(name: str, model: str, input_tokens: int, output_tokens: int, cost: float) -> None:
    """A span as an instrumented LLM client would make it."""
    tracer = trace.get_tracer("fake-llm-client")
    with tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT) as span:
        span.set_attributes(
            {
                sc.GEN_AI_OPERATION_NAME: "chat",
                sc.GEN_AI_PROVIDER_NAME: "openai",
                sc.GEN_AI_REQUEST_MODEL: model,
                sc.GEN_AI_RESPONSE_MODEL: model,
                sc.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
                sc.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
                sc.AGENT_USAGE_COST: cost,
            }
        )


def main() -> None:
    tel = agent_otel.configure(service_name="cli-test-agent")
    with agent_otel.session(
        session_id="s-alpha-0001",
        user_id="alice",
        agent_name="coder",
        model="claude-test",
        model_tier=2,
        temperature=0.2,
        initial_prompt="Fix the failing test",
    ):
        with agent_otel.operation("read", "src/app.py") as op:
            op.set_result("old line\n")
        with agent_otel.operation("write", "src/app.py", approved_by="bob") as op:
            change = op.record_change(
                "src/app.py", "modify", before="old line\n", after="new line\n"
            )
        with agent_otel.operation("execute", "rm -rf build") as op:
            op.block("destructive command")
        with agent_otel.operation("execute", "pytest -x") as op:
            op.set_exit_code(1)
            op.fail("tests failed")
        with agent_otel.operation("query", "how to fix the test"):
            llm_call("chat gpt-test", "gpt-test", 1200, 300, 0.0425)
        with agent_otel.operation("write", "src/app.py", undoes=change) as op:
            op.record_change("src/app.py", "modify", before="new line\n", after="old line\n")
        llm_call("chat gpt-mini", "gpt-mini", 50, 10, 0.0011)

    try:
        with agent_otel.session(session_id="s-beta-0002", user_id="bob"):
            with agent_otel.operation("read", "README.md"):
                pass
            raise RuntimeError("model exploded")
    except RuntimeError:
        pass

    for session_id in ("twin-a1", "twin-a2"):
        with agent_otel.session(session_id=session_id, user_id="carol"):
            pass
    tel.shutdown()


if __name__ == "__main__":
    main()
