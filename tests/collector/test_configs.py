"""The Collector configurations of collector-config/: every attribute name they use is one
the registry (semconv/) knows, the content switch covers exactly the registry's content
attributes, the builder manifest has exactly the components they use, and the real Collector
built from it (scripts/backends.sh) validates each of them."""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict

import pytest
import yaml

from agent_otel import semconv

from .configs import (
    COMPONENT_KINDS,
    CONFIG_FILES,
    DEPLOYMENTS,
    MANIFEST,
    load,
    manifest_modules,
    module_of_component_by_name,
    ottl_attributes,
    own_names_anywhere,
    referenced_attributes,
    registry_attributes,
    used_components,
)
from .programs import CONFIG_DIR, Binaries, base_env

# Values for the variables the configurations require, for `otelcol validate`.
REQUIRED_ENV = {
    "OTELCOL_EXPORT_ENDPOINT": "gateway:4317",
    "OTELCOL_GATEWAY_PEERS": "[gateway-0:4319, gateway-1:4319]",
    "OTELCOL_JAEGER_ENDPOINT": "jaeger:4317",
    "OTELCOL_TEMPO_ENDPOINT": "tempo:4317",
    "OTELCOL_CAPTURE_FILE": "/tmp/capture.jsonl",
    "AGENT_OTEL_HOME": "/tmp/agent-otel",
    "OTELCOL_STORAGE_DIR": "/tmp",
}


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_every_attribute_a_config_names_is_in_the_registry(name: str) -> None:
    known = registry_attributes()
    unknown = {
        attribute: where
        for attribute, where in referenced_attributes(name).items()
        if attribute not in known
    }
    assert not unknown, f"attributes that semconv/ does not define or use: {unknown}"


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_no_agent_name_escapes_the_attribute_check(name: str) -> None:
    """Every agent.* name in a config is somewhere the check above reads; a new kind of
    reference (another processor, another OTTL function) fails here until it is taught."""
    assert own_names_anywhere(name) <= set(referenced_attributes(name))


def test_the_attribute_check_finds_what_it_must() -> None:
    """The extraction is not vacuous: it finds the names of each kind of reference."""
    found = referenced_attributes("gateway.yaml")
    assert {
        semconv.AGENT_SESSION_STATUS,
        semconv.AGENT_OPERATION_STATUS,
        semconv.AGENT_SESSION_TOTAL_COST,
        semconv.GEN_AI_REQUEST_MODEL,
    } <= set(found)
    assert ottl_attributes('keep_keys(span.attributes, ["a.b", "c"]) where attributes["d"]') == [
        "d",
        "a.b",
        "c",
    ]
    assert "not.a.registry.name" not in registry_attributes()
    assert semconv.AGENT_USAGE_COST in registry_attributes()
    assert semconv.GEN_AI_INPUT_MESSAGES in registry_attributes()


def _dropped_content() -> set[str]:
    transform = load("agent.yaml")["processors"]["transform/content"]
    return {
        name
        for group in transform["trace_statements"]
        for statement in group["statements"]
        for name in ottl_attributes(statement)
    }


def test_content_switch_drops_exactly_the_registrys_content_attributes() -> None:
    """OTELCOL_AGENT_CONTENT=drop removes every attribute semconv/ marks as content, and
    nothing else; a content attribute added to the registry fails here until agent.yaml
    drops it too."""
    assert _dropped_content() == set(semconv.CONTENT_ATTRIBUTES)


def test_secret_key_patterns_spare_every_registry_attribute() -> None:
    """The redaction layer masks whole values by key name; none of agent-otel's own or the
    official attributes it uses may look like a secret's name to it."""
    redaction = load("agent.yaml")["processors"]["redaction"]
    patterns = [re.compile(p) for p in redaction["blocked_key_patterns"]]
    hit = {a for a in registry_attributes() for p in patterns if p.search(a)}
    assert not hit
    for secret_name in ("db.password", "http.request.header.authorization", "aws.secret"):
        assert any(p.search(secret_name) for p in patterns), secret_name


def test_manifest_pins_one_release() -> None:
    versions = set(manifest_modules().values())
    assert versions == {"v0.161.0"}


def _built_components(binaries: Binaries) -> dict[tuple[str, str], str]:
    """(kind, type) -> module of the components in the built binary."""
    done = subprocess.run(
        [str(binaries.otelcol), "components"], capture_output=True, text=True, check=True
    )
    listing = yaml.safe_load(done.stdout)
    return {
        (kind, component["name"]): component["module"].split()[0]
        for kind in COMPONENT_KINDS
        for component in listing.get(kind) or []
    }


def test_manifest_lists_exactly_the_components_the_configs_use(binaries: Binaries) -> None:
    built = _built_components(binaries)
    manifest = manifest_modules()
    used = used_components(CONFIG_FILES)
    # scripts/backends.sh keeps the manifest it built from next to the binary.
    built_from = binaries.otelcol.parent / "builder-config.yaml"
    effective = yaml.safe_load((built_from if built_from.exists() else MANIFEST).read_text())
    left_out = set(manifest) - {
        entry["gomod"].split()[0] for kind in COMPONENT_KINDS for entry in effective.get(kind) or []
    }
    modules_used = set()
    for kind, type_ in used:
        if (kind, type_) in built:
            modules_used.add(built[kind, type_])
            continue
        # Built without it (AGENT_OTEL_OTELCOL_SKIP): its module goes by the usual name.
        matches = {
            m for m in left_out if m.endswith("/" + module_of_component_by_name(kind, type_))
        }
        assert len(matches) == 1, f"{kind} {type_}: no module in the manifest provides it"
        modules_used |= matches
    assert modules_used == set(manifest)
    assert set(built.values()) == set(manifest) - left_out


def _components_of(binaries: Binaries) -> set[str]:
    return {type_ for _, type_ in _built_components(binaries)}


@pytest.mark.parametrize("deployment", sorted(DEPLOYMENTS))
def test_otelcol_validate(binaries: Binaries, deployment: str) -> None:
    files = DEPLOYMENTS[deployment]
    missing = {t for _, t in used_components(files)} - _components_of(binaries)
    if missing:
        pytest.skip(
            f"{binaries.otelcol} was built without {sorted(missing)} (AGENT_OTEL_OTELCOL_SKIP "
            "in scripts/backends.sh: the Go module proxy here does not serve it)"
        )
    argv = [str(binaries.otelcol), "validate"]
    for name in files:
        argv += ["--config", str(CONFIG_DIR / name)]
    done = subprocess.run(argv, env=base_env() | REQUIRED_ENV, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_gateway_without_tempo_as_the_readme_says(binaries: Binaries) -> None:
    argv = [
        str(binaries.otelcol),
        "validate",
        "--config",
        str(CONFIG_DIR / "gateway.yaml"),
        "--config",
        "yaml:service::pipelines::traces/sampled::exporters: [otlp_grpc/jaeger]",
    ]
    env = base_env() | REQUIRED_ENV | {"OTELCOL_TEMPO_ENDPOINT": "unused:4317"}
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_validate_rejects_a_broken_statement(binaries: Binaries) -> None:
    """`otelcol validate` parses the OTTL statements, so the test above checks them too."""
    argv = [
        str(binaries.otelcol),
        "validate",
        "--config",
        str(CONFIG_DIR / "agent.yaml"),
        "--config",
        'yaml:processors::transform/budget::trace_statements: ["truncate_all(span.attributes"]',
    ]
    done = subprocess.run(argv, env=base_env() | REQUIRED_ENV, capture_output=True, text=True)
    assert done.returncode != 0
    assert "truncate_all" in done.stderr


def test_each_component_is_configured_where_it_is_used() -> None:
    """Overlays only refer to components that the configuration they extend (or they
    themselves) define; `validate` checks this for the ones the binary has."""
    for files in DEPLOYMENTS.values():
        defined: dict[str, set[str]] = defaultdict(set)
        for name in files:
            for kind in COMPONENT_KINDS:
                defined[kind] |= set(load(name).get(kind) or {})
        pipelines: dict[str, dict[str, list[str]]] = {}
        for name in files:
            for pipeline, parts in (load(name)["service"].get("pipelines") or {}).items():
                pipelines.setdefault(pipeline, {}).update(parts)
        for pipeline, parts in pipelines.items():
            for role, ids in parts.items():
                kinds = ("processors",) if role == "processors" else (role, "connectors")
                for component_id in ids:
                    assert any(component_id in defined[k] for k in kinds), (files, pipeline, role)
