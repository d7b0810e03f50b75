"""The app of the collector tests: agent sessions of every kind the gateway's tail sampling
tells apart, recorded by agent-otel and sent over OTLP wherever the ``OTEL_*`` variables it
runs with say. Run from the repository root as

    python -m tests.collector.workload failed=2 blocked=2 expensive=2 ordinary=16 secrets=1

It prints one JSON line per session: ``{"kind", "session_id", "trace_id"}``.

Kinds:

- ``failed``: a read, then the session fails;
- ``blocked``: an ``execute`` operation blocked by the agent's policy;
- ``expensive``: LLM usage costing :data:`EXPENSIVE_COST` USD, above the gateway's threshold;
- ``ordinary``: a read and LLM usage costing :data:`ORDINARY_COST`, below the threshold;
- ``secrets``: secrets planted where each redaction layer must find them, and a result
  longer than the Collector's size budget (its last operation is blocked, so the gateway
  keeps it). :data:`INPROCESS_SECRET` is in a command line, which agent-otel redacts before
  export. :data:`COLLECTOR_SECRET` is in a result and in a diff; the test runs this app with
  ``AGENT_OTEL_REDACT_ALLOW`` matching it, standing for a secret agent-otel's redactor does
  not know, so only the Collector's redaction layer stands between it and the backend.
  :data:`KEY_NAMED_SECRET` is the value of an attribute that another library's span sets
  under a secret-looking name (``db.password``), which agent-otel does not touch.
"""

from __future__ import annotations

import json
import sys

from opentelemetry import trace

import agent_otel

EXPENSIVE_COST = 2.5
ORDINARY_COST = 0.25
KINDS = ("failed", "blocked", "expensive", "ordinary", "secrets")
USER_ID = "e2e-user"
SERVICE_NAME = "collector-e2e"

# Fake credentials, shaped like real ones.
INPROCESS_SECRET = "ghp_PlantedInProcess0123456789abcdefABCDEF"
COLLECTOR_SECRET = "sk-proj-PlantedForTheCollector0123456789ABCDEFabcdef"
KEY_NAMED_SECRET = "hunter2-planted"
KEY_NAMED_ATTRIBUTE = "db.password"
LONG_RESULT_BYTES = 10_000


def _trace_id() -> str:
    return f"{trace.get_current_span().get_span_context().trace_id:032x}"


def run_session(kind: str, number: int) -> dict[str, str]:
    with agent_otel.session(
        user_id=USER_ID,
        model="gpt-4o-mini",
        workspace=f"/srv/e2e/{kind}",
        initial_prompt=f"{kind} session {number}",
    ) as s:
        trace_id = _trace_id()
        if kind == "failed":
            with s.operation("read", target="app.py") as op:
                op.set_result("print('hello')\n")
            s.fail("the agent gave up")
        elif kind == "blocked":
            with s.operation("execute", target="rm -rf /") as op:
                op.block("destructive command")
        elif kind == "expensive":
            with s.operation("query", target="plan the refactoring") as op:
                op.add_usage(input_tokens=200_000, output_tokens=50_000, cost=EXPENSIVE_COST)
        elif kind == "ordinary":
            with s.operation("read", target="app.py") as op:
                op.set_result("print('hello')\n")
            with s.operation("query", target="what next") as op:
                op.add_usage(input_tokens=1_000, output_tokens=200, cost=ORDINARY_COST)
        elif kind == "secrets":
            _plant_secrets(s)
        else:
            raise SystemExit(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    return {"kind": kind, "session_id": s.id, "trace_id": trace_id}


def _plant_secrets(s: agent_otel.Session) -> None:
    with s.operation("read", target=".env") as op:
        padding = "x" * (LONG_RESULT_BYTES - len(COLLECTOR_SECRET) - 1)
        op.set_result(f"{COLLECTOR_SECRET}\n{padding}")
    with s.operation("write", target="config.py") as op:
        op.record_change(
            "config.py", "modify", before="KEY = None\n", after=f"KEY = '{COLLECTOR_SECRET}'\n"
        )
    with (
        s.operation("query", target="users"),
        trace.get_tracer("e2e.database").start_as_current_span("SELECT users") as span,
    ):
        span.set_attribute(KEY_NAMED_ATTRIBUTE, KEY_NAMED_SECRET)
    command = f'deploy --header "Authorization: Bearer {INPROCESS_SECRET}"'
    with s.operation("execute", target=command) as op:
        op.block("deploys need a person")


def main(argv: list[str]) -> None:
    plan = [(kind, int(count)) for kind, _, count in (arg.partition("=") for arg in argv)]
    telemetry = agent_otel.configure(service_name=SERVICE_NAME, capture_content=True)
    try:
        for kind, count in plan:
            for number in range(count):
                print(json.dumps(run_session(kind, number)), flush=True)
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
