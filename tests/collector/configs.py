"""Reading the Collector configurations of collector-config/ as the tests need them: which
components each one uses and which attribute names it refers to."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import yaml

from .programs import CONFIG_DIR

# The configurations users run, as the Collector's --config lists: overlays come after the
# configuration they extend.
DEPLOYMENTS: dict[str, tuple[str, ...]] = {
    "agent": ("agent.yaml",),
    "agent-otlpjsonfile": ("agent.yaml", "agent-otlpjsonfile.yaml"),
    "gateway": ("gateway.yaml",),
    "gateway-capture": ("gateway.yaml", "gateway-capture.yaml"),
}
CONFIG_FILES = sorted({name for files in DEPLOYMENTS.values() for name in files})
MANIFEST = CONFIG_DIR / "builder-config.yaml"
COMPONENT_KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
REGISTRY_MODEL = CONFIG_DIR.parent / "semconv" / "model"

# attributes["key"] in an OTTL path, and the key arguments of the OTTL functions that take
# attribute names (delete_key(map, "key"), keep_keys(map, ["a", "b"])).
_OTTL_ATTRIBUTE = re.compile(r'attributes\["([^"]+)"\]')
_OTTL_DELETE_KEY = re.compile(r'delete_key\(\s*[\w.]+\s*,\s*"([^"]+)"\s*\)')
_OTTL_KEEP_KEYS = re.compile(r"keep_keys\(\s*[\w.]+\s*,\s*\[([^\]]*)\]\s*\)")
_QUOTED = re.compile(r'"([^"]+)"')
_OWN_NAME = re.compile(r"\bagent\.[a-z0-9_]+(?:\.[a-z0-9_]+)*")


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((CONFIG_DIR / name).read_text(encoding="utf-8"))
    return document


def component_type(component_id: str) -> str:
    """``otlp_grpc/jaeger`` -> ``otlp_grpc``."""
    return component_id.split("/", 1)[0]


def used_components(names: tuple[str, ...] | list[str]) -> set[tuple[str, str]]:
    """(kind, type) of every component the files configure, e.g. ("exporters", "file")."""
    used = set()
    for name in names:
        config = load(name)
        for kind in COMPONENT_KINDS:
            used |= {(kind, component_type(c)) for c in config.get(kind) or {}}
    return used


def ottl_attributes(statement: str) -> list[str]:
    """The attribute names one OTTL statement or condition refers to."""
    names = _OTTL_ATTRIBUTE.findall(statement) + _OTTL_DELETE_KEY.findall(statement)
    for keys in _OTTL_KEEP_KEYS.findall(statement):
        names += _QUOTED.findall(keys)
    return names


def _ottl_strings(statements: Any) -> Iterator[str]:
    """Statements and conditions of a transform processor's ``<signal>_statements`` list,
    in both its basic (strings) and advanced (groups) forms."""
    for item in statements or []:
        if isinstance(item, str):
            yield item
        else:
            yield from item.get("conditions") or []
            yield from item.get("statements") or []


def _policy_attributes(policies: Any) -> Iterator[tuple[str, str]]:
    """(where, name) of the attribute keys tail-sampling policies test, sub-policies too."""
    for policy in policies or []:
        for key, value in policy.items():
            if not isinstance(value, dict):
                continue
            if "key" in value:
                yield f"policy {policy.get('name')}", value["key"]
            for conditions in (value.get("span"), value.get("spanevent")):
                for condition in conditions or []:
                    for name in ottl_attributes(condition):
                        yield f"policy {policy.get('name')}", name
            for sub in ("and_sub_policy", "composite_sub_policy", "drop_sub_policy"):
                yield from _policy_attributes(value.get(sub))
            if key == "not":
                yield from _policy_attributes([value.get("not_sub_policy") or {}])


def referenced_attributes(name: str) -> dict[str, list[str]]:
    """Every attribute name the file refers to, with where: OTTL statements and conditions,
    tail-sampling policies, span-metrics dimensions, redaction key lists, attributes and
    resource processor actions, load-balancing routing attributes."""
    found: dict[str, list[str]] = defaultdict(list)
    config = load(name)
    for kind in ("processors", "connectors", "exporters"):
        for component_id, settings in (config.get(kind) or {}).items():
            settings = settings or {}
            where = f"{name}: {kind}::{component_id}"
            kind_type = component_type(component_id)
            if kind_type == "transform":
                for signal in ("trace", "metric", "log", "profile"):
                    for statement in _ottl_strings(settings.get(f"{signal}_statements")):
                        for attribute in ottl_attributes(statement):
                            found[attribute].append(where)
            elif kind_type == "tail_sampling":
                for policy, attribute in _policy_attributes(settings.get("policies")):
                    found[attribute].append(f"{where} {policy}")
            elif kind_type == "span_metrics":
                dimensions = list(settings.get("dimensions") or [])
                dimensions += settings.get("calls_dimensions") or []
                dimensions += (settings.get("histogram") or {}).get("dimensions") or []
                dimensions += (settings.get("events") or {}).get("dimensions") or []
                for dimension in dimensions:
                    if "name" in dimension:
                        found[dimension["name"]].append(where)
                for attribute in settings.get("exclude_dimensions") or []:
                    found[attribute].append(where)
            elif kind_type == "redaction":
                for attribute in (settings.get("allowed_keys") or []) + (
                    settings.get("ignored_keys") or []
                ):
                    found[attribute].append(where)
            elif kind_type in ("attributes", "resource"):
                for action in settings.get("actions") or settings.get("attributes") or []:
                    found[action["key"]].append(where)
            elif kind_type == "load_balancing":
                for attribute in settings.get("routing_attributes") or []:
                    found[attribute].append(where)
    return dict(found)


def own_names_anywhere(name: str) -> set[str]:
    """Every ``agent.*`` name in the file's values (comments left out), wherever it is: what
    :func:`referenced_attributes` must have found, so that it misses no place."""

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)

    return {match for text in strings(load(name)) for match in _OWN_NAME.findall(text)}


def registry_attributes() -> set[str]:
    """The attribute names semconv/ knows: the ones it defines and the official ones its
    spans, events and metrics use (each checked against the official model by
    tests/semconv)."""
    names = set()
    for path in sorted(REGISTRY_MODEL.glob("*.yaml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8")).get("groups") or []:
            for attribute in group.get("attributes") or []:
                names.add(attribute.get("id") or attribute.get("ref"))
    return names


def manifest_modules() -> dict[str, str]:
    """Module path -> version of every component in the builder manifest."""
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    modules = {}
    for kind in COMPONENT_KINDS:
        for entry in manifest.get(kind) or []:
            module, version = entry["gomod"].split()
            modules[module] = version
    return modules


def module_of_component_by_name(kind: str, type_: str) -> str:
    """The name a component's module has by the contrib convention, ``otlpjsonfile``
    receiver -> ``otlpjsonfilereceiver``: for components the binary was built without."""
    return type_.replace("_", "") + kind.rstrip("s")
