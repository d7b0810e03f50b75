"""End to end: apps -> agent tier -> two gateway instances -> Jaeger (and a second Jaeger
standing in for Tempo), with Prometheus scraping the gateways.

Everything is a real process on loopback ports: the Collector built from our manifest runs
collector-config/agent.yaml once and collector-config/gateway.yaml twice (each instance with
the gateway-capture.yaml overlay, so that the test can see which spans reached which
instance), Jaeger v2 twice, Debian's Prometheus once. The apps are the demo agent
(examples/demo_agent.py, with a fake AWS key planted in its workspace path, which agent-otel
does not redact) and tests/collector/workload.py (sessions of every kind tail sampling tells
apart, and one with secrets planted for each redaction layer).

Tempo cannot be built here (it is not a Go module this machine's proxy serves), so the
gateway's `otlp_grpc/tempo` exporter sends to a second Jaeger: the test checks that it
received exactly what the first one did.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

import agent_otel
from agent_otel import semconv
from agent_otel.spandata import SpanData
from agent_otel.store import read_spans
from tests.polling import wait_for

from . import workload
from .apps import Recorded, run_demo, run_workload
from .programs import (
    Binaries,
    Jaeger,
    Programs,
    Prometheus,
    get_json,
    loopback,
    start_collector,
    start_jaeger,
    start_prometheus,
)

pytestmark = pytest.mark.e2e

PLAN = {"failed": 2, "blocked": 2, "expensive": 2, "ordinary": 16, "secrets": 1}
SAMPLING_PERCENTAGE = 50
EXPENSIVE_SESSION_USD = 1.0
ALWAYS_KEPT = {"failed", "blocked", "expensive", "secrets"}
PLANTED_AWS_KEY = "AKIAZ7PLANTEDKEY0042"
MASK = "****"
SETTLE_TIMEOUT = 60.0
DEMO_SERVICE = "demo-agent"
SPAN_CALLS = "traces_span_metrics_calls_total"
DECISION_WAIT_SECONDS = 30
# The series collector-config/prometheus/agent-otel-rules.yml reads.
RULES_READ = (
    "agent_session_duration_seconds_count",
    "agent_session_active",
    "agent_operation_duration_seconds_count",
    "agent_token_usage_total",
    "agent_cost_USD_total",
)


@dataclass
class Run:
    """Everything the pipeline did, for the tests to look at."""

    jaeger: Jaeger
    tempo: Jaeger
    prometheus: Prometheus
    captures: dict[str, list[SpanData]]  # gateway name -> the spans it owned
    recorded: list[Recorded]
    demo_session_id: str
    demo_trace_id: str
    kept: dict[str, list[SpanData]]  # trace id -> spans, as Jaeger has them
    decided_after: float  # seconds from the workload's start to the last decision

    def spans_of(self, trace_id: str) -> list[SpanData]:
        return [s for spans in self.captures.values() for s in spans if s.trace_id == trace_id]


def _decisions(prometheus: Prometheus) -> dict[str, float]:
    """Tail-sampling decisions made so far by all gateways: {"true": kept, "false": not}."""
    result = prometheus.query(
        "sum by (sampled) (otelcol_processor_tail_sampling_global_count_traces_sampled)"
    )
    return {r["metric"].get("sampled", ""): float(r["value"][1]) for r in result}


def _accepted_spans(prometheus: Prometheus) -> dict[str, float]:
    """Spans all gateways accepted so far, by receiver: from the agents ("otlp") and from
    each other ("otlp/loadbalanced")."""
    result = prometheus.query('sum by (receiver) (otelcol_receiver_accepted_spans{job="gateways"})')
    return {r["metric"]["receiver"]: float(r["value"][1]) for r in result}


@pytest.fixture(scope="module")
def run(
    programs: Programs, binaries: Binaries, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Run]:
    assert workload.ORDINARY_COST < EXPENSIVE_SESSION_USD < workload.EXPENSIVE_COST
    tmp = tmp_path_factory.mktemp("pipeline")
    started = datetime.now(timezone.utc)
    jaeger = start_jaeger(programs, binaries, "jaeger")
    tempo = start_jaeger(programs, binaries, "jaeger-as-tempo")

    peers = [loopback(), loopback()]
    gateways = []
    scrape_targets = []
    for number, peer in enumerate(peers):
        name = f"gateway-{number}"
        prometheus_endpoint = loopback()
        gateway = start_collector(
            programs,
            binaries,
            name,
            ["gateway.yaml", "gateway-capture.yaml"],
            {
                "OTELCOL_LOADBALANCED_ENDPOINT": peer,
                "OTELCOL_GATEWAY_PEERS": f"[{', '.join(peers)}]",
                "OTELCOL_PEERS_INSECURE": "true",
                "OTELCOL_JAEGER_ENDPOINT": jaeger.otlp_grpc,
                "OTELCOL_JAEGER_INSECURE": "true",
                "OTELCOL_TEMPO_ENDPOINT": tempo.otlp_grpc,
                "OTELCOL_TEMPO_INSECURE": "true",
                "OTELCOL_PROMETHEUS_ENDPOINT": prometheus_endpoint,
                "OTELCOL_SAMPLING_PERCENTAGE": str(SAMPLING_PERCENTAGE),
                "OTELCOL_EXPENSIVE_SESSION_USD": str(EXPENSIVE_SESSION_USD),
                "OTELCOL_DECISION_WAIT": f"{DECISION_WAIT_SECONDS}s",
                "OTELCOL_DECISION_WAIT_AFTER_ROOT": "1s",
                "OTELCOL_SPANMETRICS_FLUSH_INTERVAL": "1s",
                "OTELCOL_CAPTURE_FILE": str(tmp / f"{name}.jsonl"),
            },
        )
        gateways.append(gateway)
        scrape_targets += [
            prometheus_endpoint,
            f"127.0.0.1:{gateway.env['OTELCOL_METRICS_PORT']}",
        ]
    # The agent tier sends to the first gateway only: the second gets its share of the
    # sessions from the first one's load_balancing exporter.
    agent = start_collector(
        programs,
        binaries,
        "agent",
        ["agent.yaml"],
        {"OTELCOL_EXPORT_ENDPOINT": gateways[0].otlp_grpc, "OTELCOL_EXPORT_INSECURE": "true"},
    )
    prometheus = start_prometheus(programs, "prometheus", scrape_targets)

    workspace = tmp / f"deploy-{PLANTED_AWS_KEY}"
    demo_session_id = run_demo(agent.otlp_grpc, workspace, tmp / "home")
    workload_started = time.monotonic()
    recorded = run_workload(
        agent.otlp_grpc,
        PLAN,
        tmp / "home",
        # Stands for a secret agent-otel's redactor misses: only the Collector can stop it.
        {"AGENT_OTEL_REDACT_ALLOW": workload.COLLECTOR_SECRET.replace("-", r"\-")},
    )
    assert Counter(r.kind for r in recorded) == Counter(PLAN)
    total = len(recorded) + 1

    def all_decided() -> dict[str, float] | None:
        decisions = _decisions(prometheus)
        return decisions if sum(decisions.values()) >= total else None

    decisions = wait_for("every trace's sampling decision", all_decided, SETTLE_TIMEOUT)
    assert sum(decisions.values()) == total, decisions
    decided_after = time.monotonic() - workload_started

    demo_traces = jaeger.find(DEMO_SERVICE, started)
    assert len(demo_traces) == 1, demo_traces.keys()
    (demo_trace_id,) = demo_traces

    def captured() -> dict[str, list[SpanData]] | None:
        """The capture files, once they hold every span the gateways took in."""
        received = _accepted_spans(prometheus)
        captures = {
            gateway.program.name: list(read_spans(gateway.env["OTELCOL_CAPTURE_FILE"]))
            for gateway in gateways
        }
        count = sum(len(spans) for spans in captures.values())
        routed = received.get("otlp/loadbalanced")
        return captures if count > 0 and count == routed == received.get("otlp") else None

    captures = wait_for("the gateways' capture files", captured, SETTLE_TIMEOUT)
    span_counts = Counter(s.trace_id for spans in captures.values() for s in spans)
    trace_ids = [r.trace_id for r in recorded] + [demo_trace_id]

    def settled() -> dict[str, list[SpanData]] | None:
        kept = {}
        for trace_id in trace_ids:
            spans = jaeger.trace(trace_id)
            if spans is not None:
                if len(spans) < span_counts[trace_id]:
                    return None  # still arriving
                kept[trace_id] = spans
        return kept if len(kept) == decisions.get("true") else None

    kept = wait_for("the kept traces in Jaeger", settled, SETTLE_TIMEOUT)
    yield Run(
        jaeger,
        tempo,
        prometheus,
        captures,
        recorded,
        demo_session_id,
        demo_trace_id,
        kept,
        decided_after,
    )


def _by_kind(run: Run) -> dict[str, list[Recorded]]:
    kinds: dict[str, list[Recorded]] = defaultdict(list)
    for record in run.recorded:
        kinds[record.kind].append(record)
    return kinds


# -- the demo session in Jaeger -----------------------------------------------------------


def test_demo_session_reaches_jaeger_as_a_tree(run: Run) -> None:
    spans = run.kept[run.demo_trace_id]
    assert len(spans) == len(run.spans_of(run.demo_trace_id))
    by_id = {s.span_id: s for s in spans}
    (root,) = [s for s in spans if s.parent_span_id is None]
    assert root.name.startswith("agent.session")
    assert root.attributes[semconv.SESSION_ID] == run.demo_session_id
    operations = [s for s in spans if s.parent_span_id == root.span_id]
    assert {o.attributes[semconv.AGENT_OPERATION_TYPE] for o in operations} == {
        "read",
        "write",
        "execute",
        "query",
    }
    llm_calls = [s for s in spans if s.kind == "CLIENT"]
    assert len(llm_calls) >= 3
    for call in llm_calls:
        parent = by_id[call.parent_span_id or ""]
        assert parent in operations, call.name
        assert parent.parent_span_id == root.span_id
    changes = [e for o in operations for e in o.events if e.name == "agent.change"]
    assert len(changes) >= 3
    for change in changes:
        assert change.attributes[semconv.AGENT_CHANGE_ID]
        assert change.attributes[semconv.FILE_PATH] in ("calc.py", "README.md")
    for span in spans:
        assert span.attributes[semconv.SESSION_ID] == run.demo_session_id, span.name
        assert span.attributes[semconv.USER_ID] == "demo-user", span.name


def test_demo_session_reads_back_as_the_seed_model(run: Run) -> None:
    """The typed records agent-otel builds from Jaeger's copy of the trace: the same tree,
    tokens and changes as the app recorded."""
    (session,) = agent_otel.sessions_from_spans(run.kept[run.demo_trace_id])
    assert session.id == run.demo_session_id
    assert session.status == "completed"
    statuses = Counter(o.status for o in session.operations)
    assert statuses["blocked"] == 1
    assert sum(len(o.llm_calls) for o in session.operations) >= 3
    assert session.total_tokens == sum(o.input_tokens + o.output_tokens for o in session.operations)
    assert any(o.changes for o in session.operations)


# -- load balancing -----------------------------------------------------------------------


def test_every_span_of_a_session_reached_one_gateway(run: Run) -> None:
    owner: dict[str, set[str]] = defaultdict(set)
    for gateway, spans in run.captures.items():
        for span in spans:
            owner[span.trace_id].add(gateway)
    trace_ids = {r.trace_id for r in run.recorded} | {run.demo_trace_id}
    assert set(owner) == trace_ids
    assert all(len(gateways) == 1 for gateways in owner.values()), owner
    # Both instances own some of the sessions (24 traces: all on one has odds of 2**-23).
    assert Counter(next(iter(g)) for g in owner.values()).keys() == set(run.captures)


# -- tail sampling ------------------------------------------------------------------------


def test_failed_blocked_expensive_sessions_are_always_kept(run: Run) -> None:
    kinds = _by_kind(run)
    for kind in ALWAYS_KEPT:
        for record in kinds[kind]:
            assert record.trace_id in run.kept, record
            spans = run.kept[record.trace_id]
            assert len(spans) == len(run.spans_of(record.trace_id)), record
    assert run.demo_trace_id in run.kept  # its destructive command was blocked


def test_some_ordinary_sessions_are_kept_and_some_dropped(run: Run) -> None:
    """At 50 %, 16 ordinary sessions all kept or all dropped has odds of 2**-15."""
    ordinary = _by_kind(run)["ordinary"]
    kept = [r for r in ordinary if r.trace_id in run.kept]
    assert 0 < len(kept) < len(ordinary)
    for record in kept:
        assert len(run.kept[record.trace_id]) == len(run.spans_of(record.trace_id))


def test_tempo_exporter_sends_what_jaeger_gets(run: Run) -> None:
    for trace_id, spans in run.kept.items():
        copy = run.tempo.trace(trace_id)
        assert copy is not None, trace_id
        assert {s.span_id for s in copy} == {s.span_id for s in spans}
    dropped = {r.trace_id for r in run.recorded} - set(run.kept)
    assert all(run.tempo.trace(trace_id) is None for trace_id in dropped)


# -- the two redaction layers -------------------------------------------------------------


def _secrets_session(run: Run) -> dict[str, SpanData]:
    (record,) = _by_kind(run)["secrets"]
    return {s.name: s for s in run.kept[record.trace_id]}


def test_collector_masks_what_agent_otel_does_not_redact(run: Run) -> None:
    root = next(s for s in run.kept[run.demo_trace_id] if s.parent_span_id is None)
    for attribute in (semconv.AGENT_SESSION_WORKSPACE, semconv.AGENT_SESSION_PROJECT):
        value = root.attributes[attribute]
        assert PLANTED_AWS_KEY not in value
        assert f"deploy-{MASK}" in value

    spans = _secrets_session(run)
    read = spans["execute_tool read"]
    result = read.attributes[semconv.AGENT_OPERATION_RESULT]
    assert workload.COLLECTOR_SECRET not in result
    assert result.startswith(f"{MASK}\n")
    assert read.attributes["redaction.masked.count"] >= 1
    write = spans["execute_tool write"]
    (change,) = [e for e in write.events if e.name == "agent.change"]
    for attribute in (semconv.AGENT_CHANGE_AFTER, semconv.AGENT_CHANGE_DIFF):
        assert workload.COLLECTOR_SECRET not in change.attributes[attribute]
        assert MASK in change.attributes[attribute]
    database = spans["SELECT users"]
    assert database.attributes[workload.KEY_NAMED_ATTRIBUTE] == MASK


def test_agent_otel_redacts_before_the_collector_sees_it(run: Run) -> None:
    """The command line left the app already redacted: agent-otel's marker is there, and the
    Collector found nothing left to mask on that span."""
    execute = _secrets_session(run)["execute_tool execute"]
    for attribute in (semconv.PROCESS_COMMAND_LINE, semconv.AGENT_OPERATION_TARGET):
        value = execute.attributes[attribute]
        assert workload.INPROCESS_SECRET not in value
        assert "[REDACTED:" in value
        assert MASK not in value
    assert "redaction.masked.count" not in execute.attributes


def test_long_results_are_cut_to_the_size_budget(run: Run) -> None:
    read = _secrets_session(run)["execute_tool read"]
    assert len(read.attributes[semconv.AGENT_OPERATION_RESULT].encode()) == 2048
    assert read.attributes[semconv.AGENT_OPERATION_RESULT_SIZE] == workload.LONG_RESULT_BYTES


# -- span metrics in Prometheus -----------------------------------------------------------


def _sum_by(prometheus: Prometheus, label: str, selector: str) -> dict[str, float]:
    result = prometheus.query(f"sum by ({label}) ({SPAN_CALLS}{{{selector}}})")
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


def test_span_metrics_count_every_session_before_sampling(run: Run) -> None:
    """Prometheus, scraping both gateways, counts every session, operation and LLM call,
    those that tail sampling dropped included."""
    demo_calls = sum(1 for s in run.kept[run.demo_trace_id] if s.kind == "CLIENT")
    expected_sessions = {
        "failed": PLAN["failed"],
        "completed": sum(PLAN.values()) - PLAN["failed"],
    }

    def counted() -> bool:
        sessions = _sum_by(
            run.prometheus, "agent_session_status", f'service_name="{workload.SERVICE_NAME}"'
        )
        sessions.pop("", None)
        blocked = _sum_by(
            run.prometheus, "agent_operation_status", 'agent_operation_status="blocked"'
        )
        calls = _sum_by(run.prometheus, "span_kind", f'service_name="{DEMO_SERVICE}"')
        return (
            sessions == expected_sessions
            and blocked == {"blocked": PLAN["blocked"] + PLAN["secrets"] + 1}
            and calls.get("SPAN_KIND_CLIENT") == demo_calls
        )

    wait_for("the span metrics in Prometheus", counted, SETTLE_TIMEOUT)
    per_gateway = run.prometheus.query(f"sum by (instance) ({SPAN_CALLS})")
    assert len(per_gateway) == 2 and all(float(r["value"][1]) > 0 for r in per_gateway)


def test_span_metrics_have_only_low_cardinality_labels(run: Run) -> None:
    series = get_json(f"{run.prometheus.url}/api/v1/series", **{"match[]": SPAN_CALLS})
    labels = {label for s in series["data"] for label in s}
    assert not labels & {"session_id", "user_id"}
    assert {"agent_session_status", "agent_operation_type", "gen_ai_request_model"} <= labels


def test_sessions_are_decided_when_their_root_span_arrives(run: Run) -> None:
    """Every session was decided well before DECISION_WAIT after its first span: the
    decision follows the session's root span (OTELCOL_DECISION_WAIT_AFTER_ROOT), which is
    what lets the gateway wait long for long sessions yet decide short ones at once."""
    assert run.decided_after < DECISION_WAIT_SECONDS - 10, run.decided_after


def test_app_metrics_reach_prometheus_through_both_tiers_redacted(run: Run) -> None:
    """agent-otel's own metrics travel the same way (agent tier, gateway, its Prometheus
    exporter) under the names collector-config/prometheus expects, and the agent tier's
    redaction covers metric attributes too: the demo's project name is its workspace
    folder, which holds the planted key."""
    expected = {kind: float(count) for kind, count in PLAN.items()} | {f"deploy-{MASK}": 1.0}

    def scraped() -> dict[str, float] | None:
        result = run.prometheus.query(
            "sum by (agent_session_project) (agent_session_duration_seconds_count)"
        )
        projects = {r["metric"]["agent_session_project"]: float(r["value"][1]) for r in result}
        return projects if projects == expected else None

    wait_for("the apps' session metrics in Prometheus", scraped, SETTLE_TIMEOUT)
    for name in RULES_READ:
        assert run.prometheus.query(f"count({name})"), name
    values = get_json(f"{run.prometheus.url}/api/v1/label/agent_session_project/values")
    assert not [v for v in values["data"] if PLANTED_AWS_KEY in v]
