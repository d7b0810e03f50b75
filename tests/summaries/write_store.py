"""Write the generated workload (workload.py) into a local store with the real library, as an
agent app would; run as a script with ``AGENT_OTEL_HOME`` set by the caller."""

from __future__ import annotations

from opentelemetry import trace
from workload import generate, install_clock, run

import agent_otel


def main() -> None:
    clock = install_clock()
    tel = agent_otel.configure(service_name="summary-test-agent")
    run(generate(), trace.get_tracer("fake-llm-client"), clock)
    tel.shutdown()


if __name__ == "__main__":
    main()
