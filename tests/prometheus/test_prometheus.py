"""A real Prometheus server scrapes agent-otel's metrics from this process and agrees with the
in-process summaries of the same sessions.

The app side is what a user deploys: ``agent_otel.configure`` with a meter provider whose
reader is ``opentelemetry-exporter-prometheus``'s ``PrometheusMetricReader``, served on
127.0.0.1 by ``prometheus_client``, and ``AGENT_OTEL_METRICS_USER_ID=true``. The server is
Debian's ``prometheus`` (``scripts/prometheus.sh``), on a free loopback port with temporary
storage, scraping every second and loading ``collector-config/prometheus/agent-otel-rules.yml``
(evaluated every second here).

Every recording rule is checked twice. Its own expression, with each ``increase(...[1d])`` /
``rate(...[5m])`` replaced by the counter it reads, is evaluated over the counters' lifetime
(everything this process did) and must equal the summaries: session, operation and blocked
counts, success rates, tokens, and cost to the cent. ``increase()`` itself cannot be exact on
series born minutes ago (it extrapolates and does not count a series' first sample), so the
rules as recorded by the server are checked for health and shape; their arithmetic over time
is checked exactly by the promtool unit tests.
"""

from __future__ import annotations

import json
import math
import re
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry, start_http_server

import agent_otel
from agent_otel import errors
from agent_otel.facts import SessionFacts
from agent_otel.metrics import USER_ID_ENV
from agent_otel.summaries import DailySummary, ProjectSummary, daily_summaries, project_summaries
from tests.polling import wait_for

from .conftest import RULES_FILE, binary
from .workload import OPERATION_TYPES, PROJECTS, USERS, Truth, run_sessions

pytestmark = pytest.mark.slow

JOB = "agent-otel-app"
STARTUP_TIMEOUT = 30.0
SCRAPE_TIMEOUT = 30.0
HTTP_TIMEOUT = 5.0

T = TypeVar("T")
Key = Any  # a label value, a tuple of them, or () for a result without labels


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response:
        return json.load(response)


class PrometheusServer:
    """A ``prometheus`` process on 127.0.0.1 that scrapes ``target`` every second."""

    def __init__(self, executable: str, workdir: Path, target: str) -> None:
        self.executable = executable
        self.workdir = workdir
        self.port = 0
        self.url = ""
        self.log_path = workdir / "prometheus.log"
        rules = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
        for group in rules["groups"]:
            group["interval"] = "1s"  # the same rules, evaluated every second
        rules_path = workdir / "rules.yml"
        rules_path.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules_path)],
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target]}]}],
        }
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, attempts: int = 3) -> None:
        """Start on a free port (another one if someone took it meanwhile) and wait until
        the server is ready."""
        for attempt in range(1, attempts + 1):
            self.port = _free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            command = [
                self.executable,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ]
            with self.log_path.open("wb") as log:
                self.process = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            ready = self.wait_for("the server to be ready", self._ready, STARTUP_TIMEOUT)
            if ready == "ready":
                return
            if "address already in use" not in self.log() or attempt == attempts:
                assert self.process is not None
                pytest.fail(f"prometheus exited with {self.process.returncode}:\n{self.log()}")

    def _ready(self) -> str | None:
        if self.process is not None and self.process.poll() is not None:
            return "exited"
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=HTTP_TIMEOUT) as r:
                return "ready" if r.status == 200 else None
        except OSError:
            return None

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    def wait_for(self, what: str, condition: Callable[[], T | None], timeout: float) -> T:
        return wait_for(what, condition, timeout, interval=0.2, context=self.log)

    def api(self, path: str, **params: str) -> Any:
        body = _get_json(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}")
        assert body["status"] == "success", body
        return body["data"]

    def query(self, promql: str, *labels: str) -> dict[Key, float]:
        """An instant query's vector, keyed by the values of ``labels`` (one label: its
        value; several: a tuple; none: ``()``)."""
        data = self.api("query", query=promql)
        assert data["resultType"] == "vector", data
        out: dict[Key, float] = {}
        for sample in data["result"]:
            metric = sample["metric"]
            values = tuple(metric.get(label, "") for label in labels)
            key: Key = values[0] if len(values) == 1 else values
            assert key not in out, f"{promql}: two results for {key}: {data['result']}"
            out[key] = float(sample["value"][1])
        return out


@dataclass
class Scraped:
    """What the test checks: the server, the rules, and the same sessions seen in-process."""

    prometheus: PrometheusServer
    rules: dict[str, str]
    facts: list[SessionFacts]
    daily: list[DailySummary]
    projects: list[ProjectSummary]
    truth: Truth


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scraped]:
    executable = binary("prometheus")
    workdir = tmp_path_factory.mktemp("prometheus")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(USER_ID_ENV, "true")
        registry = CollectorRegistry()
        reader = PrometheusMetricReader(registry=registry)
        meter_provider = MeterProvider(metric_readers=[reader])
        tracer_provider = TracerProvider()
        http_server, http_thread = start_http_server(0, addr="127.0.0.1", registry=registry)
        target = f"127.0.0.1:{http_server.server_port}"
        prometheus = PrometheusServer(executable, workdir, target)
        tel = None
        try:
            tel = agent_otel.configure(
                tracer_provider=tracer_provider, meter_provider=meter_provider, set_global=False
            )
            assert tel.meter_provider is meter_provider, "agent-otel was already configured"
            prometheus.start()
            truth = run_sessions(tracer_provider.get_tracer("other-instrumentation"))
            finished = time.time()
            # a scrape that started after the last session ended has all of them
            prometheus.wait_for(
                "a scrape of the app after the sessions ended",
                lambda: any(
                    ts > finished
                    for ts in prometheus.query(f'timestamp(up{{job="{JOB}"}} == 1)').values()
                ),
                SCRAPE_TIMEOUT,
            )
            facts = tel.processor.finished_sessions()
            if len({f.started_at.date() for f in facts}) > 1:
                # The run crossed midnight UTC: the summaries would cut it into two days,
                # lifetime counters cannot. Compare one day's worth of the same facts.
                facts = [replace(f, started_at=facts[0].started_at) for f in facts]
            rules = {
                rule["record"]: rule["expr"]
                for group in yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
                for rule in group["rules"]
            }
            yield Scraped(
                prometheus=prometheus,
                rules=rules,
                facts=facts,
                daily=daily_summaries(facts),
                projects=project_summaries(facts, "day"),
                truth=truth,
            )
        finally:
            prometheus.stop()
            if tel is not None:
                tel.shutdown()
            errors.set_strict(None)
            tracer_provider.shutdown()
            meter_provider.shutdown()  # also unregisters the reader from the registry
            http_server.shutdown()
            http_server.server_close()
            http_thread.join(timeout=10)


# -- helpers ----------------------------------------------------------------------------------

_WINDOW = re.compile(r"\b(?:increase|rate)\(\s*([^()\[\]]+?)\s*\[(?:1d|5m)\]\s*\)")


def lifetime(expr: str) -> str:
    """A rule's expression over the counters' whole lifetime: ``increase(x[1d])`` and
    ``rate(x[5m])`` become ``x``."""
    out = _WINDOW.sub(r"\1", expr)
    assert "[" not in out, f"a range this test does not know how to drop: {expr}"
    return out


def rule_values(s: Scraped, record: str, *labels: str) -> dict[Key, float]:
    """The rule ``record``'s expression evaluated over the counters' lifetime."""
    return s.prometheus.query(lifetime(s.rules[record]), *labels)


def to_the_cent(got: Mapping[Key, float], expected: Mapping[Key, float]) -> None:
    assert set(got) == set(expected), (got, expected)
    for key, value in expected.items():
        assert abs(got[key] - value) < 0.005, (key, got[key], value)
        assert got[key] == pytest.approx(value, rel=1e-9, abs=1e-12), (key, got[key], value)


def exact(got: Mapping[Key, float], expected: Mapping[Key, float]) -> None:
    assert dict(got) == {key: float(value) for key, value in expected.items()}


def ratios(got: Mapping[Key, float], expected: Mapping[Key, float | None]) -> None:
    """Success rates: a None (nothing ran) is an absent result."""
    wanted = {key: value for key, value in expected.items() if value is not None}
    assert set(got) == set(wanted), (got, expected)
    for key, value in wanted.items():
        assert got[key] == pytest.approx(value, rel=1e-12), (key, got[key], value)


def nonzero(counts: Mapping[Key, float]) -> dict[Key, float]:
    return {key: value for key, value in counts.items() if value}


def success_rate(by_status: Counter[str]) -> float | None:
    ran = by_status["success"] + by_status["failed"]
    return by_status["success"] / ran if ran else None


def by_project(facts: list[SessionFacts]) -> dict[str, Counter[str]]:
    """Operations by status, per project."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for f in facts:
        out[f.project or "unknown"].update(f.operations_by_status)
    return out


def all_statuses(facts: list[SessionFacts]) -> Counter[str]:
    total: Counter[str] = Counter()
    for f in facts:
        total.update(f.operations_by_status)
    return total


# -- the workload ran as planned ------------------------------------------------------------


def test_the_summaries_saw_every_session(scraped: Scraped) -> None:
    s = scraped
    assert len(s.facts) == s.truth.sessions
    assert {d.user_id: d.session_count for d in s.daily} == s.truth.sessions_by_user
    assert all_statuses(s.facts) == s.truth.operations_by_status
    assert all(k in all_statuses(s.facts) for k in ("success", "failed", "blocked", "pending"))
    assert {p.project_id for p in s.projects} == set(PROJECTS)
    assert {d.user_id for d in s.daily} == set(USERS)
    assert len(set(s.truth.sessions_by_user.values())) > 1, "make the users differ"


# -- DailySummary per user ------------------------------------------------------------------


def test_sessions_operations_and_blocked_per_user(scraped: Scraped) -> None:
    s = scraped
    exact(
        rule_values(s, "agent:sessions_by_user:increase1d", "user_id"),
        {d.user_id: d.session_count for d in s.daily},
    )
    exact(
        rule_values(s, "agent:operations_by_user:increase1d", "user_id"),
        {d.user_id: d.operation_count for d in s.daily},
    )
    exact(
        rule_values(s, "agent:operations_blocked_by_user:increase1d", "user_id"),
        nonzero({d.user_id: d.blocked_operations for d in s.daily}),
    )


def test_success_rate_per_user(scraped: Scraped) -> None:
    s = scraped
    ratios(
        rule_values(s, "agent:operation_success_ratio_by_user:1d", "user_id"),
        {d.user_id: d.success_rate for d in s.daily},
    )


def test_tokens_and_cost_per_user(scraped: Scraped) -> None:
    s = scraped
    exact(
        rule_values(s, "agent:tokens_by_user:increase1d", "user_id"),
        {d.user_id: d.total_tokens for d in s.daily},
    )
    to_the_cent(
        rule_values(s, "agent:cost_usd_by_user:increase1d", "user_id"),
        {d.user_id: d.total_cost for d in s.daily},
    )


# -- ProjectSummary -------------------------------------------------------------------------


def test_project_cost_users_models_and_operations(scraped: Scraped) -> None:
    s = scraped
    to_the_cent(
        rule_values(s, "agent:cost_usd_by_project:increase1d", "agent_session_project"),
        {p.project_id: p.total_cost for p in s.projects},
    )
    exact(
        rule_values(s, "agent:active_users_by_project:1d", "agent_session_project"),
        {p.project_id: p.active_users for p in s.projects},
    )
    to_the_cent(
        rule_values(
            s,
            "agent:model_cost_usd_by_project:top5_increase1d",
            "agent_session_project",
            "gen_ai_response_model",
        ),
        {(p.project_id, m.model): m.cost for p in s.projects for m in p.top_models},
    )
    exact(
        rule_values(
            s,
            "agent:operation_type_count_by_project:top5_increase1d",
            "agent_session_project",
            "agent_operation_type",
        ),
        {(p.project_id, o.type): o.count for p in s.projects for o in p.top_operations},
    )


def test_project_sessions_tokens_operations(scraped: Scraped) -> None:
    s = scraped
    sessions = Counter(f.project for f in s.facts)
    tokens: Counter[str | None] = Counter()
    for f in s.facts:
        tokens[f.project] += f.total_tokens
    statuses = by_project(s.facts)
    label = "agent_session_project"
    exact(rule_values(s, "agent:sessions_by_project:increase1d", label), sessions)
    exact(rule_values(s, "agent:tokens_by_project:increase1d", label), tokens)
    exact(
        rule_values(s, "agent:operations_by_project:increase1d", label),
        {p: sum(c.values()) for p, c in statuses.items()},
    )
    exact(
        rule_values(s, "agent:operations_blocked_by_project:increase1d", label),
        nonzero({p: c["blocked"] for p, c in statuses.items()}),
    )
    ratios(
        rule_values(s, "agent:operation_success_ratio_by_project:1d", label),
        {p: success_rate(c) for p, c in statuses.items()},
    )


# -- all sessions -----------------------------------------------------------------------------


def test_totals(scraped: Scraped) -> None:
    s = scraped
    statuses = all_statuses(s.facts)
    exact(rule_values(s, "agent:sessions:increase1d"), {(): len(s.facts)})
    exact(rule_values(s, "agent:operations:increase1d"), {(): sum(statuses.values())})
    exact(rule_values(s, "agent:operations_blocked:increase1d"), {(): statuses["blocked"]})
    ratios(rule_values(s, "agent:operation_success_ratio:1d"), {(): success_rate(statuses)})
    ratios(rule_values(s, "agent:operation_success_ratio:rate5m"), {(): success_rate(statuses)})
    # tokens and cost count LLM calls outside sessions too, which no summary shows
    exact(
        rule_values(s, "agent:tokens:increase1d"),
        {(): sum(f.total_tokens for f in s.facts) + s.truth.outside_tokens},
    )
    to_the_cent(
        rule_values(s, "agent:cost_usd:increase1d"),
        {(): math.fsum([*(f.total_cost for f in s.facts), s.truth.outside_cost])},
    )


def test_cost_and_tokens_by_model(scraped: Scraped) -> None:
    s = scraped
    in_sessions: dict[str, list[float]] = defaultdict(list)
    for f in s.facts:
        for model, cost in f.cost_by_model.items():
            in_sessions[model].append(cost)
    # the summaries' cost by model, plus the one call outside any session (brute force)
    expected = s.truth.cost_by_model()
    summed = {m: math.fsum(c) for m, c in in_sessions.items()}
    outside = s.truth.outside_model
    summed[outside] = math.fsum([summed.get(outside, 0.0), s.truth.outside_cost])
    to_the_cent(summed, expected)
    for record in ("agent:cost_usd_by_model:increase1d", "agent:cost_usd_by_model:rate5m"):
        got = rule_values(s, record, "gen_ai_response_model", "gen_ai_provider_name")
        merged: dict[str, float] = defaultdict(float)
        for (model, _provider), value in got.items():
            merged[model] += value
        to_the_cent(merged, expected)
    top = sorted(expected.items(), key=lambda item: -item[1])[:5]
    to_the_cent(
        rule_values(s, "agent:model_cost_usd:top5_increase1d", "gen_ai_response_model"),
        dict(top),
    )
    for record in ("agent:tokens_by_model_type:increase1d", "agent:tokens_by_model_type:rate5m"):
        by_type: dict[str, float] = defaultdict(float)
        for (_m, _p, kind), value in rule_values(
            s, record, "gen_ai_response_model", "gen_ai_provider_name", "gen_ai_token_type"
        ).items():
            by_type[kind] += value
        exact(by_type, s.truth.tokens_by_type)


def test_sessions_and_operations_by_kind(scraped: Scraped) -> None:
    s = scraped
    exact(
        rule_values(s, "agent:sessions_by_status:rate5m", "agent_session_status"),
        Counter(f.status for f in s.facts),
    )
    by_type: Counter[str] = Counter()
    for f in s.facts:
        by_type.update(f.operations_by_type)
    exact(
        rule_values(s, "agent:operation_type_count:top5_increase1d", "agent_operation_type"),
        by_type,
    )
    assert set(by_type) <= set(OPERATION_TYPES)
    got = rule_values(
        s,
        "agent:operations_by_type_status:rate5m",
        "agent_operation_type",
        "agent_operation_status",
    )
    per_status: Counter[str] = Counter()
    per_type: Counter[str] = Counter()
    for (kind, status), value in got.items():
        per_status[status] += int(value)
        per_type[kind] += int(value)
    assert per_status == all_statuses(s.facts)
    assert per_type == by_type
    blocked = rule_values(s, "agent:operations_blocked_by_type:rate5m", "agent_operation_type")
    exact(blocked, nonzero({k: got.get((k, "blocked"), 0) for k in by_type}))
    # every session ended: none open in any project
    exact(
        rule_values(s, "agent:sessions_active_by_project:sum", "agent_session_project"),
        {p.project_id: 0 for p in s.projects},
    )


def test_every_rule_is_compared_here() -> None:
    groups = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"]
    source = Path(__file__).read_text(encoding="utf-8")
    assert [
        r["record"] for g in groups for r in g["rules"] if f'"{r["record"]}"' not in source
    ] == []


# -- the rules as the server records them ------------------------------------------------------


def test_the_server_evaluates_every_rule(scraped: Scraped) -> None:
    s = scraped
    prometheus = s.prometheus

    def evaluated() -> list[dict[str, Any]] | None:
        rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
        done = all(not r["lastEvaluation"].startswith("0001-") for r in rules)
        return rules if done and rules else None

    rules = prometheus.wait_for("every rule to be evaluated", evaluated, SCRAPE_TIMEOUT)
    assert sorted(r["name"] for r in rules) == sorted(s.rules)
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []

    # increase() needs two scrapes of a series; then the per-user views name every user
    users = {d.user_id for d in s.daily}
    prometheus.wait_for(
        "the per-user rules to record every user",
        lambda: set(prometheus.query("agent:sessions_by_user:increase1d", "user_id")) == users,
        SCRAPE_TIMEOUT,
    )
    projects = {p.project_id for p in s.projects}
    assert set(prometheus.query("agent:cost_usd_by_project:increase1d", "agent_session_project"))
    assert (
        set(prometheus.query("agent:active_users_by_project:1d", "agent_session_project"))
        <= projects
    )
    # a recording without a window is exact: no session is open
    exact(
        prometheus.query("agent:sessions_active_by_project:sum", "agent_session_project"),
        {p: 0 for p in projects},
    )
