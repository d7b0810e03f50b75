"""examples/deploy, checked statically: it cannot run here (no container runtime; Tempo and
Grafana cannot be built here), so every piece is checked against what it will meet.

- compose.yaml: parses, images pinned (the Collector and Jaeger at the versions the repository
  builds and tests), every bind mount a file of the repository, every variable a Collector
  configuration requires set, no variable set that none reads, every endpoint a service and
  port that listens there.
- prometheus.yml: ``promtool check config`` in a directory laid out as the container sees it
  (so the rule file it loads is the mounted one); scrape targets are the collectors' ports.
- tempo.yaml: OTLP receivers where the gateways send, the HTTP port Grafana reads.
- Grafana: data sources and dashboards valid, unique ids, every data-source uid provisioned;
  every PromQL query parses (promtool) and reads only series and labels that agent-otel's
  metrics, the recording rules and the gateway's span metrics produce; every TraceQL query
  names only attributes and events of the semantic conventions (``semconv/`` and the official
  ones it follows).
- With the Collector built by scripts/backends.sh, ``otelcol validate`` on each Collector
  service's configuration with that service's environment.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.collector.programs import find_binaries, require_binaries

from . import grafana, promql, traceql
from .deployment import (
    DEPLOY_DIR,
    REPO_ROOT,
    config_files,
    container_file,
    host_port,
    load_compose,
    mounts,
    network_names,
)
from .names import (
    SpanMetricsConnector,
    is_known_attribute,
    known_event_names,
    label_name,
    prometheus_catalog,
    spanmetrics_connectors,
)

COMPOSE = load_compose()
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
GRAFANA_DIR = DEPLOY_DIR / "grafana"
DATASOURCES_DIR = GRAFANA_DIR / "provisioning" / "datasources"
PROVIDERS_DIR = GRAFANA_DIR / "provisioning" / "dashboards"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
BUILDER_CONFIG = REPO_ROOT / "collector-config" / "builder-config.yaml"

COLLECTOR_IMAGE = "otel/opentelemetry-collector-contrib"
#: Jaeger v2's default configuration receives OTLP/gRPC here and serves its UI and API there.
JAEGER_OTLP_GRPC_PORT = 4317
JAEGER_QUERY_PORT = 16686
PROMETHEUS_PORT = 9090

COMPONENT_SECTIONS = ("receivers", "processors", "exporters", "connectors", "extensions")
_ENV_REFERENCE = re.compile(r"\$\{env:(\w+)(:-[^}]*)?\}")


def _collectors() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in SERVICES.items()
        if service["image"].partition(":")[0] == COLLECTOR_IMAGE
    }


def _service_named(host: str) -> tuple[str, dict[str, Any]]:
    found = [(n, s) for n, s in SERVICES.items() if host in network_names(n, s)]
    assert found, f"{host} is no service or network alias of compose.yaml"
    return found[0]


def _yaml_file(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _collector_configs(name: str) -> list[Path]:
    service = SERVICES[name]
    paths = []
    for path in config_files(service):
        local = container_file(service, path)
        assert local is not None, f"{name}: {path} is not mounted from the repository"
        paths.append(local)
    assert paths, f"{name}: no --config in its command"
    return paths


def _gateway_names() -> list[str]:
    return [
        name
        for name in _collectors()
        if any(p.name == "gateway.yaml" for p in _collector_configs(name))
    ]


def _gateway_config() -> Path:
    """The gateway configuration the gateway services mount."""
    (path,) = {p for p in _collector_configs(_gateway_names()[0]) if p.name == "gateway.yaml"}
    return path


# ---------------------------------------------------------------------------------------------
# compose.yaml
# ---------------------------------------------------------------------------------------------


def test_compose_has_the_whole_pipeline() -> None:
    assert {"otel-agent", "jaeger", "tempo", "prometheus", "grafana"} <= set(SERVICES)
    assert len(_gateway_names()) >= 2, "the load-balanced gateway tier needs two instances"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned_to_a_version(name: str) -> None:
    image = SERVICES[name]["image"]
    repository, _, tag = image.partition(":")
    assert repository and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), (
        f"{name}: {image!r} is not pinned to a release (x.y.z)"
    )


def test_collector_and_jaeger_images_are_the_versions_built_and_tested_here() -> None:
    builder = BUILDER_CONFIG.read_text(encoding="utf-8")
    contrib = set(re.findall(r"opentelemetry-collector-contrib/\S+ v(\d+\.\d+\.\d+)", builder))
    assert len(contrib) == 1, f"builder-config.yaml names contrib versions {contrib}"
    (version,) = contrib
    for name, service in _collectors().items():
        assert service["image"] == f"{COLLECTOR_IMAGE}:{version}", name
    backends = (REPO_ROOT / "scripts" / "backends.sh").read_text("utf-8")
    built = re.search(r"^jaeger_version=v(\S+)$", backends, re.M)
    assert built is not None, "scripts/backends.sh no longer names jaeger_version"
    assert SERVICES["jaeger"]["image"] == f"jaegertracing/jaeger:{built.group(1)}"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_bind_mounts_are_files_of_the_repository(name: str) -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for mount in mounts(SERVICES[name]):
        if mount.is_bind:
            local = mount.repo_path
            if local is None:  # the user's own directory (the local store)
                assert name == "otel-store-shipper", f"{name}: {mount.source} outside the repo"
                continue
            assert local.exists(), f"{name}: {mount.source} does not exist ({local})"
            assert mount.read_only, f"{name}: the repository's {mount.source} is mounted writable"
        else:
            assert mount.source in declared, f"{name}: volume {mount.source} is not declared"


def _env_references(paths: list[Path]) -> tuple[set[str], set[str]]:
    """(variables read without a default, all variables read) by these configurations."""
    required: set[str] = set()
    read: set[str] = set()
    for path in paths:
        for variable, default in _ENV_REFERENCE.findall(path.read_text(encoding="utf-8")):
            read.add(variable)
            if not default:
                required.add(variable)
    return required, read


@pytest.mark.parametrize("name", sorted(_collectors()))
def test_collector_environment_matches_its_configurations(name: str) -> None:
    required, read = _env_references(_collector_configs(name))
    environment = SERVICES[name].get("environment") or {}
    missing = {v for v in required if not str(environment.get(v, ""))}
    assert not missing, f"{name}: required by its configuration but not set: {sorted(missing)}"
    unread = set(environment) - read
    assert not unread, f"{name}: set but read by none of its configurations: {sorted(unread)}"


def test_endpoints_point_at_services_that_listen_there() -> None:
    tempo = _yaml_file(DEPLOY_DIR / "tempo.yaml")
    tempo_grpc = tempo["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
    gateways = _gateway_names()
    for name in gateways:
        env = SERVICES[name]["environment"]
        host, port = host_port(env["OTELCOL_JAEGER_ENDPOINT"])
        assert _service_named(host)[0] == "jaeger" and port == JAEGER_OTLP_GRPC_PORT
        host, port = host_port(env["OTELCOL_TEMPO_ENDPOINT"])
        assert _service_named(host)[0] == "tempo" and port == host_port(tempo_grpc)[1]
        peers = yaml.safe_load(env["OTELCOL_GATEWAY_PEERS"])
        assert sorted(host_port(p)[0] for p in peers) == sorted(gateways), peers
        for peer in peers:
            peer_env = SERVICES[_service_named(host_port(peer)[0])[0]]["environment"]
            assert host_port(peer)[1] == host_port(peer_env["OTELCOL_LOADBALANCED_ENDPOINT"])[1]
        assert env == SERVICES[gateways[0]]["environment"], "gateways must share one setup"
    for name, service in _collectors().items():
        if name in gateways:
            continue
        host, port = host_port(service["environment"]["OTELCOL_EXPORT_ENDPOINT"])
        target, target_service = _service_named(host)
        assert target in gateways, f"{name} exports to {target}, not to the gateway tier"
        aliases = [g for g in gateways if host in network_names(g, SERVICES[g])]
        assert aliases == gateways, f"{host} should reach every gateway, reaches {aliases}"
        grpc = host_port(target_service["environment"]["OTELCOL_OTLP_GRPC_ENDPOINT"])
        assert port == grpc[1]


# ---------------------------------------------------------------------------------------------
# Prometheus
# ---------------------------------------------------------------------------------------------


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not on PATH; scripts/prometheus.sh installs it")
    return path


def _container_layout(service: Mapping[str, Any], root: Path) -> None:
    """Copy the service's repository bind mounts under ``root`` at their container paths."""
    for mount in mounts(service):
        local = mount.repo_path
        if local is None:
            continue
        target = root / mount.target.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if local.is_dir():
            shutil.copytree(local, target)
        else:
            shutil.copy(local, target)


def test_prometheus_config_passes_promtool_as_mounted(tmp_path: Path) -> None:
    service = SERVICES["prometheus"]
    config_arg = next(a for a in service["command"] if a.startswith("--config.file="))
    config = config_arg.split("=", 1)[1]
    _container_layout(service, tmp_path)
    result = subprocess.run(
        [_promtool(), "check", "config", str(tmp_path / config.lstrip("/"))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_prometheus_scrapes_the_collectors_where_they_serve() -> None:
    config = _yaml_file(DEPLOY_DIR / "prometheus.yml")
    targets = {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }
    gateways = _gateway_names()
    exporter = {
        f"{g}:{host_port(SERVICES[g]['environment']['OTELCOL_PROMETHEUS_ENDPOINT'])[1]}"
        for g in gateways
    }
    assert set(targets["agent-otel"]) == exporter
    own = {
        f"{name}:{service['environment']['OTELCOL_METRICS_PORT']}"
        for name, service in _collectors().items()
        if not service.get("profiles")  # optional services are not scraped
    }
    assert set(targets["otel-collectors"]) == own


# ---------------------------------------------------------------------------------------------
# Tempo
# ---------------------------------------------------------------------------------------------


def test_tempo_receives_otlp_and_stores_on_its_volume() -> None:
    tempo = _yaml_file(DEPLOY_DIR / "tempo.yaml")
    protocols = tempo["distributor"]["receivers"]["otlp"]["protocols"]
    assert set(protocols) == {"grpc", "http"}
    assert host_port(protocols["grpc"]["endpoint"]) == ("0.0.0.0", 4317)
    assert host_port(protocols["http"]["endpoint"]) == ("0.0.0.0", 4318)
    volume_targets = [m.target for m in mounts(SERVICES["tempo"]) if not m.is_bind]
    trace = tempo["storage"]["trace"]
    assert trace["backend"] == "local"
    for path in (trace["wal"]["path"], trace["local"]["path"]):
        assert any(path.startswith(t + "/") for t in volume_targets), path
    config_arg = next(a for a in SERVICES["tempo"]["command"] if a.startswith("-config.file="))
    assert container_file(SERVICES["tempo"], config_arg.split("=", 1)[1]) == (
        DEPLOY_DIR / "tempo.yaml"
    )


# ---------------------------------------------------------------------------------------------
# Grafana
# ---------------------------------------------------------------------------------------------


def _datasources() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(DATASOURCES_DIR.glob("*.yaml")):
        document = _yaml_file(path)
        assert document["apiVersion"] == 1, path
        found += document["datasources"]
    return found


def _dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)


def test_datasources_point_at_the_services() -> None:
    datasources = _datasources()
    uids = [d["uid"] for d in datasources]
    assert len(uids) == len(set(uids)) and {"prometheus", "tempo", "jaeger"} <= set(uids)
    assert sum(bool(d.get("isDefault")) for d in datasources) == 1
    tempo = _yaml_file(DEPLOY_DIR / "tempo.yaml")
    ports = {
        "prometheus": PROMETHEUS_PORT,
        "tempo": tempo["server"]["http_listen_port"],
        "jaeger": JAEGER_QUERY_PORT,
    }
    for datasource in datasources:
        match = re.fullmatch(r"http://([\w-]+):(\d+)", datasource["url"])
        assert match, datasource["url"]
        assert _service_named(match.group(1))[0] == datasource["type"]
        assert int(match.group(2)) == ports[datasource["type"]], datasource["name"]
        json_data = datasource.get("jsonData", {})
        linked = [d["datasourceUid"] for d in json_data.get("exemplarTraceIdDestinations", [])]
        if "tracesToMetrics" in json_data:
            linked.append(json_data["tracesToMetrics"]["datasourceUid"])
        assert set(linked) <= set(uids), datasource["name"]


def test_provisioning_escapes_every_dollar() -> None:
    """Grafana replaces ``$NAME`` in provisioning files with environment variables; a literal
    ``$`` (``$__tags``) must be ``$$``."""
    for path in sorted((GRAFANA_DIR / "provisioning").rglob("*.yaml")):
        for text in _strings(_yaml_file(path)):
            assert not re.search(r"(?<!\$)\$(?!\$)", text.replace("$$", "")), (path, text)


def test_trace_to_metrics_tags_are_semconv_attributes_and_span_metric_labels() -> None:
    labels: set[str] = set()
    for connector in _spanmetrics():
        for metric in connector.metrics():
            labels |= metric.labels
    for datasource in _datasources():
        links = datasource.get("jsonData", {}).get("tracesToMetrics")
        if links is None:
            continue
        for tag in links["tags"]:
            assert is_known_attribute(tag["key"]), tag
            assert tag["value"] == label_name(tag["key"]) and tag["value"] in labels, tag


def _spanmetrics() -> list[SpanMetricsConnector]:
    connectors = spanmetrics_connectors(_gateway_config())
    assert connectors, "gateway.yaml has no span metrics connector"
    return connectors


def test_dashboard_provider_reads_the_mounted_dashboards() -> None:
    grafana_service = SERVICES["grafana"]
    providers = [p for path in PROVIDERS_DIR.glob("*.yaml") for p in _yaml_file(path)["providers"]]
    assert providers
    for provider in providers:
        assert container_file(grafana_service, provider["options"]["path"]) == DASHBOARDS_DIR
    home = grafana_service["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    home_file = container_file(grafana_service, home)
    assert home_file is not None and home_file.is_file(), home
    assert container_file(grafana_service, "/etc/grafana/provisioning") == (
        GRAFANA_DIR / "provisioning"
    )


def test_dashboards_are_valid_with_unique_ids() -> None:
    dashboards = _dashboards()
    assert {"agent-otel-overview.json", "agent-otel-traces.json"} <= set(dashboards)
    uids = [d["uid"] for d in dashboards.values()]
    assert len(uids) == len(set(uids))
    types = {d["uid"]: d["type"] for d in _datasources()}
    for name, dashboard in dashboards.items():
        panels = list(grafana.panels(dashboard))
        ids = [p["id"] for p in panels]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in panels:
            position = panel["gridPos"]
            assert position["x"] >= 0 and position["x"] + position["w"] <= 24, (name, panel)
            if panel["type"] == "row":
                continue
            assert panel.get("title") and panel.get("description"), (name, panel["id"])
            for ref in [panel.get("datasource"), *(t.get("datasource") for t in panel["targets"])]:
                assert ref is not None and ref["uid"] in types, (name, panel["id"], ref)
                assert types[ref["uid"]] == ref["type"], (name, panel["id"], ref)
            ref_ids = [t["refId"] for t in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids)), (name, panel["id"])


# -- queries ----------------------------------------------------------------------------------


def _queries() -> list[grafana.Query]:
    found: list[grafana.Query] = []
    for name, dashboard in _dashboards().items():
        values = grafana.variable_values(dashboard)
        for query in grafana.dashboard_queries(name, dashboard):
            text = grafana.substitute(query.text, values)
            found.append(
                grafana.Query(query.where, query.datasource_uid, query.language, text, query.labels)
            )
    for datasource in _datasources():
        for query in grafana.datasource_queries(datasource):
            tags = ", ".join(
                f'{tag["value"]}="x"' for tag in datasource["jsonData"]["tracesToMetrics"]["tags"]
            )
            text = grafana.unescape_provisioning(query.text, tags)
            found.append(grafana.Query(query.where, query.datasource_uid, query.language, text))
    return found


QUERIES = _queries()
PROMQL = [q for q in QUERIES if q.language == "promql"]
TRACEQL = [q for q in QUERIES if q.language == "traceql"]


def test_queries_go_to_data_sources_of_their_language() -> None:
    types = {d["uid"]: d["type"] for d in _datasources()}
    assert {types[q.datasource_uid] for q in PROMQL} == {"prometheus"}
    assert {types[q.datasource_uid] for q in TRACEQL} == {"tempo"}
    assert len(PROMQL) >= 20 and len(TRACEQL) >= 8


def test_every_promql_query_parses(tmp_path: Path) -> None:
    """promtool parses each query as the expression of a recording rule."""
    rules = {
        "groups": [
            {
                "name": "examples-deploy-queries",
                "rules": [{"record": f"query:{i}", "expr": q.text} for i, q in enumerate(PROMQL)],
            }
        ]
    }
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = subprocess.run(
        [_promtool(), "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(PROMQL)} rules found" in result.stdout


@pytest.mark.parametrize("query", PROMQL, ids=[q.where for q in PROMQL])
def test_promql_reads_only_what_the_pipeline_produces(query: grafana.Query) -> None:
    catalog = prometheus_catalog(_gateway_config())
    names = promql.extract(query.text)
    assert names.selectors, query
    labels: set[str] = set()
    for selector in names.selectors:
        assert selector.metric in catalog, f"{query.where}: no series {selector.metric}"
        unknown = selector.labels - catalog[selector.metric]
        assert not unknown, f"{query.where}: {selector.metric} has no labels {sorted(unknown)}"
        labels |= catalog[selector.metric]
    unknown = (names.grouping_labels | set(query.labels)) - labels
    assert not unknown, f"{query.where}: labels {sorted(unknown)} are on none of its series"


@pytest.mark.parametrize("query", TRACEQL, ids=[q.where for q in TRACEQL])
def test_traceql_names_only_semconv_attributes(query: grafana.Query) -> None:
    names = traceql.extract(query.text)
    assert names.attributes, query
    unknown = [a.name for a in names.attributes if not is_known_attribute(a.name)]
    assert not unknown, f"{query.where}: attributes not in the semantic conventions: {unknown}"
    assert names.event_names <= known_event_names(), query.where


# ---------------------------------------------------------------------------------------------
# The real Collector, when scripts/backends.sh has built it
# ---------------------------------------------------------------------------------------------

# Looked up at collection, before tests/conftest.py hides the AGENT_OTEL_* variables that may
# name the binaries.
find_binaries()


@pytest.mark.parametrize("name", sorted(_collectors()))
def test_otelcol_validates_each_collector_service(name: str) -> None:
    otelcol = str(require_binaries().otelcol)
    listed = subprocess.run(
        [otelcol, "components"], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    built = {
        (section, component["name"])
        for section, components in yaml.safe_load(listed).items()
        if section in COMPONENT_SECTIONS
        for component in components or []
    }
    configs = _collector_configs(name)
    for path in configs:
        for section in COMPONENT_SECTIONS:
            for key in _yaml_file(path).get(section) or {}:
                if (section, key.split("/")[0]) not in built:
                    pytest.skip(f"this Collector build lacks {key}, which {path.name} uses")
    environment = {k: str(v) for k, v in (SERVICES[name].get("environment") or {}).items()}
    result = subprocess.run(
        [otelcol, "validate", *(f"--config={p}" for p in configs)],
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
