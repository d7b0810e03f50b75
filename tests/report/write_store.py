"""Write the report tests' store with the real library, as an agent app would; run as
``python -m tests.report.write_store`` from the repository root, with ``AGENT_OTEL_HOME`` set
and content capture on (``AGENT_OTEL_CAPTURE_CONTENT=true``) by the caller."""

from __future__ import annotations

from opentelemetry import trace

import agent_otel
from agent_otel.instrumentation.openai import OpenAIInstrumentor
from tests.instrumentation.openai_server import FakeOpenAI
from tests.report.agent import record_hostile_session, workload
from tests.summaries.workload import install_clock, run


def main() -> None:
    clock = install_clock()
    tel = agent_otel.configure(service_name="report-test-agent")
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    record_hostile_session(clock, FakeOpenAI())
    run(workload(), trace.get_tracer("fake-llm-client"), clock)
    instrumentor.uninstrument()
    tel.shutdown()


if __name__ == "__main__":
    main()
