#!/usr/bin/env python3
"""Generate agent-otel's semantic-convention constants and reference docs from ``semconv/``.

The registry in ``semconv/`` (Weaver's YAML format) is the one place where the project's
``agent.*`` names are defined. Weaver itself cannot be installed here, so this small generator
does the part of its job the project needs, in four steps:

1. load     read the manifest, our model files and the official reference model;
2. validate collect every problem (naming rules, missing fields, dangling refs) and refuse to
            generate anything from a broken registry;
3. render   ``src/agent_otel/semconv.py`` (constants, value enums, metric specs), formatted
            with ruff so that ``ruff format --check`` agrees with ``--check`` here;
4. render   ``semconv/docs/*.md`` reference tables.

Usage::

    python scripts/generate_semconv.py            # rewrite the generated files
    python scripts/generate_semconv.py --check    # exit 1 and list stale files

Exit status: 0 on success, 1 when ``--check`` finds stale files, 2 when the registry is invalid.
The rendering functions are importable so tests can compare the files with a fresh rendering.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REGISTRY_DIR = REPO_ROOT / "semconv"
PYTHON_OUTPUT = Path("src/agent_otel/semconv.py")
DOCS_OUTPUT_DIR = Path("semconv/docs")
GENERATOR = "scripts/generate_semconv.py"

#: Our own names: ``agent`` then at least one more dot-separated snake_case word.
AGENT_NAME_RE = re.compile(r"^agent(?:\.[a-z][a-z0-9]*(?:_[a-z0-9]+)*)+$")
#: A snake_case word, used for enum member ids.
WORD_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
SCHEMA_URL_RE = re.compile(r"^https://opentelemetry\.io/schemas/(\d+\.\d+\.\d+)$")

STABILITIES = ("development", "alpha", "beta", "release_candidate", "stable")
SCALAR_TYPES = ("string", "int", "double", "boolean")
PRIMITIVE_TYPES = (*SCALAR_TYPES, *(f"{name}[]" for name in SCALAR_TYPES))
SPAN_KINDS = ("internal", "client", "server", "producer", "consumer")
INSTRUMENTS = ("counter", "updowncounter", "histogram", "gauge")
GROUP_TYPES = ("attribute_group", "span", "event", "metric")

# Keys this generator understands; anything else is most likely a typo, and a typo in a
# registry silently drops information, so it is reported instead of ignored.
COMMON_GROUP_KEYS = {"id", "type", "brief", "note", "stability", "attributes", "annotations"}
GROUP_KEYS = {
    "attribute_group": COMMON_GROUP_KEYS | {"display_name"},
    "span": COMMON_GROUP_KEYS | {"span_kind"},
    "event": COMMON_GROUP_KEYS | {"name"},
    "metric": COMMON_GROUP_KEYS | {"metric_name", "instrument", "unit"},
}
ATTRIBUTE_KEYS = {"id", "type", "brief", "note", "stability", "examples", "annotations"}
REF_KEYS = {"ref", "requirement_level", "note", "annotations"}
MEMBER_KEYS = {"id", "value", "brief", "note", "stability"}
OFFICIAL_METRIC_KEYS = {"metric_name", "buckets"}

#: The types of the few stable attributes a ``ref`` may use although the followed reference model
#: copy lacks their namespace. Such a ref is accepted only if the installed
#: ``opentelemetry-semantic-conventions`` package ships the name in a *stable* attributes module
#: (``opentelemetry.semconv.attributes.*_attributes``); the package carries no types, hence this
#: table. Keep it to the names the registry really uses, with the type the stable spec gives them.
PACKAGE_STABLE_TYPES: dict[str, str] = {
    "server.address": "string",
    "server.port": "int",
}
PACKAGE_STABLE_ORIGIN = "stable, from the opentelemetry-semantic-conventions package"


class RegistryError(Exception):
    """The registry cannot be turned into code; ``problems`` says every reason at once."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"semconv registry is invalid ({len(self.problems)} problems):\n{listing}")


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One value of an enum attribute."""

    id: str
    value: str | int
    brief: str
    stability: str
    deprecated: bool = False


@dataclass(frozen=True)
class Attribute:
    """An attribute definition, ours or one of the official reference model."""

    id: str
    type: str  # a primitive type name, or "enum" (then ``members`` is set)
    brief: str
    stability: str
    examples: tuple[Any, ...] = ()
    note: str = ""
    members: tuple[Member, ...] = ()
    content: bool = False
    official: bool = False
    deprecated: bool = False
    group_id: str = ""
    from_package: bool = False  # official, known from the package's stable modules only


@dataclass(frozen=True)
class AttributeUse:
    """An attribute referenced by a span, event or metric, with its requirement level."""

    ref: str
    requirement_level: str  # required | recommended | opt_in | conditionally_required
    condition: str = ""
    note: str = ""
    content: bool = False


@dataclass(frozen=True)
class Group:
    """A span, event, metric or attribute group of our registry."""

    id: str
    type: str
    brief: str
    stability: str = ""
    note: str = ""
    span_kind: str = ""
    span_name: str = ""
    gen_ai_operation_name: str = ""
    event_name: str = ""
    metric_name: str = ""
    instrument: str = ""
    unit: str = ""
    metric_value_type: str = ""
    display_name: str = ""
    uses: tuple[AttributeUse, ...] = ()
    buckets: tuple[float, ...] = ()  # advisory explicit bucket boundaries of a histogram
    official: bool = False  # an official metric of the reference model, used as is


@dataclass(frozen=True)
class Manifest:
    """What ``semconv/manifest.yaml`` says about the registry and the conventions it follows."""

    name: str
    description: str
    version: str
    semconv_version: str
    schema_url: str
    official_metrics: tuple[OfficialMetricUse, ...] = ()


@dataclass(frozen=True)
class OfficialMetricUse:
    """An entry of the manifest's ``uses_official_metrics``: recorded by us, defined upstream."""

    metric_name: str
    buckets: tuple[float, ...] = ()


@dataclass
class Registry:
    """The loaded, validated registry: our definitions plus the official ones we ``ref``."""

    manifest: Manifest
    attributes: dict[str, Attribute]  # ours, by id
    official: dict[str, Attribute]  # the reference model (and package-stable refs), by id
    groups: list[Group]  # every group of ours, in file order
    sources: list[Path] = field(default_factory=list)
    official_metrics: list[Group] = field(default_factory=list)  # manifest order

    def metric_groups(self) -> list[Group]:
        """Our metrics sorted by id, then the official metrics we record, in manifest order."""
        return [*self.groups_of("metric"), *self.official_metrics]

    def groups_of(self, kind: str) -> list[Group]:
        return sorted((g for g in self.groups if g.type == kind), key=lambda g: g.id)

    def lookup(self, attribute_id: str) -> Attribute:
        return self.attributes.get(attribute_id) or self.official[attribute_id]

    def referenced_official(self) -> list[Attribute]:
        """Official attributes used by our groups, sorted by id."""
        groups = [*self.groups, *self.official_metrics]
        ids = {use.ref for g in groups for use in g.uses if use.ref in self.official}
        return [self.official[i] for i in sorted(ids)]

    def content_attributes(self) -> list[str]:
        """Ids captured only when content capture is on: annotated definitions and refs."""
        ids = {a.id for a in self.attributes.values() if a.content}
        ids |= {use.ref for g in self.groups for use in g.uses if use.content}
        return sorted(ids)

    def names(self) -> set[str]:
        """Every ``agent.*`` telemetry name: attributes, span names, events and metrics."""
        found = set(self.attributes)
        for group in self.groups:
            found |= {group.span_name, group.event_name, group.metric_name}
        return {name for name in found if name.startswith("agent.")}


# --------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------


def default_reference_dir(registry_dir: Path) -> Path:
    """The official model of the followed semconv version, next to the repository.

    The path carries the version so that bumping the manifest without fetching the matching
    reference model fails loudly instead of validating against the wrong release.
    """
    manifest = _read_yaml(registry_dir / "manifest.yaml")
    version = _followed_version(manifest) or "unknown"
    return REPO_ROOT.parent / "shared" / "reference" / f"otel-semconv-v{version}" / "model"


def load_registry(registry_dir: Path, reference_dir: Path | None = None) -> Registry:
    """Load and validate a registry directory; raise :class:`RegistryError` if it is broken."""
    problems: list[str] = []
    manifest = _load_manifest(registry_dir / "manifest.yaml", problems)
    if reference_dir is None:
        reference_dir = default_reference_dir(registry_dir)
    if not reference_dir.is_dir():
        raise RegistryError(
            [
                f"official reference model not found at {reference_dir}: it is needed to resolve "
                "`ref`s; pass --reference DIR (the `model` folder of the semantic-conventions "
                f"release {manifest.semconv_version or '?'})"
            ]
        )
    official = _load_official(reference_dir)
    model_dir = registry_dir / "model"
    sources = sorted(model_dir.glob("*.yaml"))
    if not sources:
        problems.append(f"{model_dir}: no model files (*.yaml)")
    attributes: dict[str, Attribute] = {}
    groups: list[Group] = []
    for source in sources:
        document = _read_yaml(source)
        raw_groups = document.get("groups") if isinstance(document, dict) else None
        if not isinstance(raw_groups, list):
            problems.append(f"{source.name}: expected a top-level `groups:` list")
            continue
        for index, raw in enumerate(raw_groups):
            where = f"{source.name}: group #{index + 1}"
            if not isinstance(raw, dict):
                problems.append(f"{where}: expected a mapping")
                continue
            where = f"{source.name}: group {raw.get('id', f'#{index + 1}')}"
            group = _parse_group(raw, where, attributes, problems)
            if group is not None:
                groups.append(group)
    official_metrics = _load_official_metrics(reference_dir, manifest, problems)
    _resolve_package_refs([*groups, *official_metrics], attributes, official, problems)
    registry = Registry(
        manifest=manifest,
        attributes=attributes,
        official=official,
        groups=groups,
        sources=sources,
        official_metrics=official_metrics,
    )
    problems.extend(validate(registry))
    if problems:
        raise RegistryError(problems)
    return registry


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def _followed_version(manifest: Any) -> str:
    """The OTel semconv version, read from the dependency's schema URL (one source of truth)."""
    if not isinstance(manifest, dict):
        return ""
    for dependency in manifest.get("dependencies") or []:
        if isinstance(dependency, dict):
            match = SCHEMA_URL_RE.match(str(dependency.get("schema_url", "")))
            if match:
                return match.group(1)
    return ""


def _load_manifest(path: Path, problems: list[str]) -> Manifest:
    if not path.is_file():
        problems.append(f"{path}: manifest is missing")
        return Manifest("", "", "", "", "")
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        problems.append(f"{path.name}: expected a mapping")
        raw = {}
    for key in ("name", "description", "semconv_version"):
        if not _text(raw.get(key)):
            problems.append(f"{path.name}: `{key}` is missing")
    version = _followed_version(raw)
    if not version:
        problems.append(
            f"{path.name}: no dependency with a `schema_url` like https://opentelemetry.io/schemas/1.41.1"
        )
    return Manifest(
        name=_text(raw.get("name")),
        description=_text(raw.get("description")),
        version=_text(raw.get("semconv_version")),
        semconv_version=version,
        schema_url=f"https://opentelemetry.io/schemas/{version}",
        official_metrics=_parse_official_metric_uses(
            raw.get("uses_official_metrics"), path.name, problems
        ),
    )


def _parse_official_metric_uses(
    value: Any, where: str, problems: list[str]
) -> tuple[OfficialMetricUse, ...]:
    """The manifest's ``uses_official_metrics:``; Weaver ignores the key, we read it."""
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{where}: `uses_official_metrics` must be a list")
        return ()
    uses: list[OfficialMetricUse] = []
    for index, entry in enumerate(value):
        here = f"{where}: uses_official_metrics #{index + 1}"
        if not isinstance(entry, dict) or not _text(entry.get("metric_name")):
            problems.append(f"{here}: expected a mapping with a `metric_name`")
            continue
        here = f"{where}: uses_official_metrics {entry['metric_name']}"
        unknown = set(entry) - OFFICIAL_METRIC_KEYS
        if unknown:
            problems.append(f"{here}: unknown keys {sorted(unknown)}")
        if any(use.metric_name == entry["metric_name"] for use in uses):
            problems.append(f"{here}: listed twice")
        uses.append(
            OfficialMetricUse(
                metric_name=_text(entry["metric_name"]),
                buckets=_parse_buckets(entry.get("buckets"), here, problems),
            )
        )
    return tuple(uses)


def _parse_buckets(value: Any, where: str, problems: list[str]) -> tuple[float, ...]:
    """Advisory explicit bucket boundaries: a non-empty, strictly increasing list of numbers."""
    if value is None:
        return ()
    numbers = (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if not numbers or any(a >= b for a, b in itertools.pairwise(value)):
        problems.append(f"{where}: `buckets` must be a non-empty, strictly increasing number list")
        return ()
    return tuple(float(v) for v in value)


def _load_official(reference_dir: Path) -> dict[str, Attribute]:
    """Every attribute the reference model defines (``id:`` entries), deprecated ones marked."""
    official: dict[str, Attribute] = {}
    for path in sorted(reference_dir.rglob("*.yaml")):
        document = _read_yaml(path)
        if not isinstance(document, dict):
            continue
        for group in document.get("groups") or []:
            for raw in group.get("attributes") or []:
                if not isinstance(raw, dict) or "id" not in raw:
                    continue
                attr_type, members = _parse_type(raw.get("type"), raw["id"], [])
                official[raw["id"]] = Attribute(
                    id=raw["id"],
                    type=attr_type,
                    brief=_text(raw.get("brief")),
                    stability=_text(raw.get("stability")),
                    examples=_as_examples(raw.get("examples")),
                    note=_text(raw.get("note")),
                    members=members,
                    official=True,
                    deprecated="deprecated" in raw,
                    group_id=str(group.get("id", "")),
                )
    return official


def _load_official_metrics(
    reference_dir: Path, manifest: Manifest, problems: list[str]
) -> list[Group]:
    """The official metrics the manifest lists, read from the reference model as they are.

    Weaver has no ``ref`` for metrics, so they are not redefined as groups of ours; instrument,
    unit, brief and attributes (``extends`` resolved) come from the reference model.
    """
    if not manifest.official_metrics:
        return []
    by_id: dict[str, dict[str, Any]] = {}
    for path in sorted(reference_dir.rglob("*.yaml")):
        document = _read_yaml(path)
        if isinstance(document, dict):
            for raw in document.get("groups") or []:
                if isinstance(raw, dict) and "id" in raw:
                    by_id[str(raw["id"])] = raw
    by_name = {
        str(raw["metric_name"]): raw
        for raw in by_id.values()
        if raw.get("type") == "metric" and "metric_name" in raw
    }
    metrics = []
    for use in manifest.official_metrics:
        here = f"manifest.yaml: uses_official_metrics {use.metric_name}"
        raw = by_name.get(use.metric_name)
        if raw is None:
            problems.append(
                f"{here}: no such metric in the OpenTelemetry {manifest.semconv_version} "
                "reference model"
            )
            continue
        if "deprecated" in raw:
            problems.append(f"{here}: the official metric is deprecated")
        instrument = _text(raw.get("instrument"))
        if use.buckets and instrument != "histogram":
            problems.append(f"{here}: `buckets` only apply to histograms, not {instrument}")
        code_generation = (raw.get("annotations") or {}).get("code_generation") or {}
        metrics.append(
            Group(
                id=str(raw["id"]),
                type="metric",
                brief=_text(raw.get("brief")),
                stability=_text(raw.get("stability")),
                note=_text(raw.get("note")),
                metric_name=use.metric_name,
                instrument=instrument,
                unit=_text(raw.get("unit")),
                metric_value_type=_text(code_generation.get("metric_value_type")),
                uses=tuple(_reference_uses(raw, by_id, set())),
                buckets=use.buckets,
                official=True,
            )
        )
    return metrics


def _reference_uses(
    raw: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]], seen: set[str]
) -> list[AttributeUse]:
    """A reference group's attribute refs, those of the groups it ``extends`` first.

    A ref repeated by the extending group refines the inherited one in place, as Weaver's
    resolution does.
    """
    uses: list[AttributeUse] = []
    parent = raw.get("extends")
    if isinstance(parent, str) and parent in by_id and parent not in seen:
        uses = _reference_uses(by_id[parent], by_id, seen | {parent})
    for entry in raw.get("attributes") or []:
        if not isinstance(entry, dict) or "ref" not in entry:
            continue
        inherited = next((u for u in uses if u.ref == entry["ref"]), None)
        if "requirement_level" in entry or inherited is None:
            level, condition = _parse_requirement(
                entry.get("requirement_level", "recommended"), "", []
            )
        else:  # a refinement that leaves the level alone keeps the inherited one
            level, condition = inherited.requirement_level, inherited.condition
        use = AttributeUse(
            ref=str(entry["ref"]),
            requirement_level=level,
            condition=condition,
            note=_text(entry.get("note")) or (inherited.note if inherited else ""),
        )
        if inherited is None:
            uses.append(use)
        else:
            uses[uses.index(inherited)] = use
    return uses


def _resolve_package_refs(
    groups: Iterable[Group],
    attributes: Mapping[str, Attribute],
    official: dict[str, Attribute],
    problems: list[str],
) -> None:
    """Add to ``official`` the refs the reference model lacks but the package ships as stable.

    A ref found in neither place is left alone: validation reports it as dangling.
    """
    missing = sorted(
        {
            use.ref
            for group in groups
            for use in group.uses
            if use.ref not in attributes and use.ref not in official
        }
    )
    for ref in missing:
        found = package_constant(ref, stable_only=True)
        if found is None:
            continue
        attr_type = PACKAGE_STABLE_TYPES.get(ref)
        if attr_type is None:
            problems.append(
                f"ref {ref}: not in the reference model; the package ships it as stable, but its "
                "type is unknown: add it to PACKAGE_STABLE_TYPES in the generator"
            )
            continue
        brief, note = _package_docstring(*found)
        official[ref] = Attribute(
            id=ref,
            type=attr_type,
            brief=brief,
            stability="stable",
            note=note,
            official=True,
            from_package=True,
            group_id=found[0],
        )


def _package_docstring(module_name: str, constant: str) -> tuple[str, str]:
    """Brief and note of a package constant, from the attribute docstring that follows it."""
    spec = importlib.util.find_spec(module_name)
    if spec is None or spec.origin is None:
        return "", ""
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    body = tree.body
    for statement, following in itertools.pairwise(body):
        target = statement.target if isinstance(statement, ast.AnnAssign) else None
        if (
            isinstance(target, ast.Name)
            and target.id == constant
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            brief, _, note = following.value.value.strip().partition("\nNote:")
            return _oneline(brief), _oneline(note)
    return "", ""


def _text(value: Any) -> str:
    """A YAML text field as one clean string (folded blocks end in a newline)."""
    return value.strip() if isinstance(value, str) else ""


def _as_examples(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def _annotation(raw: Mapping[str, Any], key: str) -> Any:
    annotations = raw.get("annotations")
    if not isinstance(annotations, dict):
        return None
    ours = annotations.get("agent_otel")
    return ours.get(key) if isinstance(ours, dict) else None


def _parse_type(raw_type: Any, where: str, problems: list[str]) -> tuple[str, tuple[Member, ...]]:
    if isinstance(raw_type, str):
        if raw_type not in PRIMITIVE_TYPES:
            problems.append(f"{where}: unknown type {raw_type!r}")
        return raw_type, ()
    if isinstance(raw_type, dict) and isinstance(raw_type.get("members"), list):
        members = []
        for raw in raw_type["members"]:
            if not isinstance(raw, dict) or "id" not in raw or "value" not in raw:
                problems.append(f"{where}: every enum member needs `id` and `value`")
                continue
            unknown = set(raw) - MEMBER_KEYS - {"deprecated"}
            if unknown:
                problems.append(f"{where}: member {raw['id']}: unknown keys {sorted(unknown)}")
            members.append(
                Member(
                    id=str(raw["id"]),
                    value=raw["value"],
                    brief=_text(raw.get("brief")),
                    stability=_text(raw.get("stability")),
                    deprecated="deprecated" in raw,
                )
            )
        return "enum", tuple(members)
    problems.append(f"{where}: `type` is missing (a type name, or `members:` for an enum)")
    return "", ()


def _parse_group(
    raw: Mapping[str, Any], where: str, attributes: dict[str, Attribute], problems: list[str]
) -> Group | None:
    group_id = _text(raw.get("id"))
    group_type = _text(raw.get("type"))
    if not group_id:
        problems.append(f"{where}: `id` is missing")
    if group_type not in GROUP_TYPES:
        problems.append(f"{where}: `type` must be one of {', '.join(GROUP_TYPES)}")
        return None
    unknown = set(raw) - GROUP_KEYS[group_type]
    if unknown:
        problems.append(f"{where}: unknown or unsupported keys {sorted(unknown)}")
    code_generation = (raw.get("annotations") or {}).get("code_generation") or {}
    uses: list[AttributeUse] = []
    for index, entry in enumerate(raw.get("attributes") or []):
        if not isinstance(entry, dict):
            problems.append(f"{where}: attribute #{index + 1} is not a mapping")
        elif group_type == "attribute_group":
            attribute = _parse_attribute(entry, group_id, where, problems)
            if attribute is None:
                continue
            if attribute.id in attributes:
                problems.append(f"{where}: attribute {attribute.id} is defined twice")
            attributes[attribute.id] = attribute
        else:
            use = _parse_use(entry, where, problems)
            if use is not None:
                uses.append(use)
    return Group(
        id=group_id,
        type=group_type,
        brief=_text(raw.get("brief")),
        stability=_text(raw.get("stability")),
        note=_text(raw.get("note")),
        span_kind=_text(raw.get("span_kind")),
        span_name=_text(_annotation(raw, "span_name")),
        gen_ai_operation_name=_text(_annotation(raw, "gen_ai_operation_name")),
        event_name=_text(raw.get("name")),
        metric_name=_text(raw.get("metric_name")),
        instrument=_text(raw.get("instrument")),
        unit=_text(raw.get("unit")),
        metric_value_type=_text(code_generation.get("metric_value_type")),
        display_name=_text(raw.get("display_name")),
        uses=tuple(uses),
        buckets=_parse_buckets(_annotation(raw, "buckets"), where, problems),
    )


def _parse_attribute(
    raw: Mapping[str, Any], group_id: str, where: str, problems: list[str]
) -> Attribute | None:
    if "ref" in raw:
        problems.append(
            f"{where}: `ref: {raw['ref']}` in an attribute group; registry groups define "
            "attributes, spans/events/metrics reference them"
        )
        return None
    attribute_id = _text(raw.get("id"))
    if not attribute_id:
        problems.append(f"{where}: an attribute has no `id`")
        return None
    here = f"{where}: attribute {attribute_id}"
    unknown = set(raw) - ATTRIBUTE_KEYS
    if unknown:
        problems.append(f"{here}: unknown or unsupported keys {sorted(unknown)}")
    attr_type, members = _parse_type(raw.get("type"), here, problems)
    content = _annotation(raw, "content")
    if content is not None and not isinstance(content, bool):
        problems.append(f"{here}: annotation agent_otel.content must be true or false")
    return Attribute(
        id=attribute_id,
        type=attr_type,
        brief=_text(raw.get("brief")),
        stability=_text(raw.get("stability")),
        examples=_as_examples(raw.get("examples")),
        note=_text(raw.get("note")),
        members=members,
        content=content is True,
        group_id=group_id,
    )


def _parse_use(raw: Mapping[str, Any], where: str, problems: list[str]) -> AttributeUse | None:
    if "id" in raw:
        problems.append(
            f"{where}: defines attribute {raw['id']} inline; define it in a `registry.agent.*` "
            "attribute group and `ref` it here"
        )
        return None
    ref = _text(raw.get("ref"))
    if not ref:
        problems.append(f"{where}: an attribute entry has no `ref`")
        return None
    here = f"{where}: ref {ref}"
    unknown = set(raw) - REF_KEYS
    if unknown:
        problems.append(f"{here}: unknown or unsupported keys {sorted(unknown)}")
    level, condition = _parse_requirement(raw.get("requirement_level"), here, problems)
    return AttributeUse(
        ref=ref,
        requirement_level=level,
        condition=condition,
        note=_text(raw.get("note")),
        content=_annotation(raw, "content") is True,
    )


def _parse_requirement(value: Any, where: str, problems: list[str]) -> tuple[str, str]:
    if value in ("required", "recommended", "opt_in"):
        return str(value), ""
    if isinstance(value, dict) and len(value) == 1:
        ((level, condition),) = value.items()
        if level in ("conditionally_required", "recommended") and _text(condition):
            return str(level), _text(condition)
    problems.append(
        f"{where}: `requirement_level` must be required, recommended, opt_in, "
        "{conditionally_required: <condition>} or {recommended: <condition>}"
    )
    return "recommended", ""


# --------------------------------------------------------------------------------------------
# Validate
# --------------------------------------------------------------------------------------------


def validate(registry: Registry) -> list[str]:
    """Every rule a registry must satisfy before anything is generated from it."""
    problems: list[str] = []
    problems += _validate_attributes(registry)
    problems += _validate_groups(registry)
    problems += _validate_python_names(registry)
    return problems


def _validate_attributes(registry: Registry) -> list[str]:
    problems: list[str] = []
    ids = sorted(registry.attributes)
    for attribute in (registry.attributes[i] for i in ids):
        here = f"attribute {attribute.id}"
        if not AGENT_NAME_RE.match(attribute.id):
            problems.append(
                f"{here}: bad name; ids are `agent.` + dot-separated lowercase snake_case words"
            )
        namespace = attribute.group_id.removeprefix("registry.") + "."
        if not attribute.group_id.startswith("registry.agent."):
            problems.append(f"{here}: its group {attribute.group_id} is not `registry.agent.*`")
        elif not attribute.id.startswith(namespace):
            problems.append(f"{here}: not in the namespace of its group ({namespace}*)")
        if attribute.id in registry.official:
            problems.append(f"{here}: redefines an official attribute; `ref` it instead")
        for other in ids:
            if other.startswith(attribute.id + "."):
                problems.append(f"{here}: is also the namespace of {other}")
        if not attribute.brief:
            problems.append(f"{here}: `brief` is missing")
        if attribute.stability not in STABILITIES:
            problems.append(f"{here}: `stability` must be one of {', '.join(STABILITIES)}")
        if not attribute.examples:
            problems.append(f"{here}: `examples` is missing")
        for example in attribute.examples:
            if not _example_fits(attribute, example):
                problems.append(f"{here}: example {example!r} does not fit type {attribute.type}")
        problems += _validate_members(attribute, here)
    used = {use.ref for group in registry.groups for use in group.uses}
    for unused in sorted(set(ids) - used):
        problems.append(f"attribute {unused}: defined but used by no span, event or metric")
    return problems


def _validate_members(attribute: Attribute, here: str) -> list[str]:
    if attribute.type != "enum":
        return []
    problems = []
    if not attribute.members:
        problems.append(f"{here}: an enum needs at least one member")
    seen_ids: set[str] = set()
    seen_values: set[object] = set()
    for member in attribute.members:
        if not WORD_RE.match(member.id):
            problems.append(f"{here}: member id {member.id!r} is not a snake_case word")
        if member.id in seen_ids or member.value in seen_values:
            problems.append(f"{here}: member {member.id} is not unique")
        seen_ids.add(member.id)
        seen_values.add(member.value)
        if not isinstance(member.value, str):
            problems.append(f"{here}: member {member.id}: only string enums are supported")
        if not member.brief:
            problems.append(f"{here}: member {member.id}: `brief` is missing")
        if member.stability not in STABILITIES:
            problems.append(f"{here}: member {member.id}: `stability` is missing or unknown")
    return problems


def _scalar_fits(scalar_type: str, value: Any) -> bool:
    if scalar_type == "string":
        return isinstance(value, str)
    if scalar_type == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):  # bool is an int in Python, never in OpenTelemetry
        return False
    if scalar_type == "int":
        return isinstance(value, int)
    return scalar_type == "double" and isinstance(value, (int, float))


def _example_fits(attribute: Attribute, example: Any) -> bool:
    if attribute.type == "enum":
        return example in {m.value for m in attribute.members}
    if attribute.type.endswith("[]"):
        scalar_type = attribute.type[:-2]
        return isinstance(example, list) and all(_scalar_fits(scalar_type, v) for v in example)
    return _scalar_fits(attribute.type, example)


def _validate_groups(registry: Registry) -> list[str]:
    problems: list[str] = []
    seen_ids: set[str] = set()
    operation_names = {
        m.value for m in registry.official.get("gen_ai.operation.name", _NO_ATTRIBUTE).members
    }
    for group in registry.groups:
        here = f"group {group.id}"
        if group.id in seen_ids:
            problems.append(f"{here}: id is used twice")
        seen_ids.add(group.id)
        if not group.brief:
            problems.append(f"{here}: `brief` is missing")
        if group.type == "attribute_group":
            if not group.id.startswith("registry.agent."):
                problems.append(f"{here}: attribute groups are named `registry.agent.<namespace>`")
            continue
        if group.stability not in STABILITIES:
            problems.append(f"{here}: `stability` must be one of {', '.join(STABILITIES)}")
        if not group.id.startswith(f"{group.type}.agent."):
            problems.append(f"{here}: {group.type} groups are named `{group.type}.agent.*`")
        if group.type == "span":
            if group.span_kind not in SPAN_KINDS:
                problems.append(f"{here}: `span_kind` must be one of {', '.join(SPAN_KINDS)}")
            # A span with a fixed name gets a SPAN_* constant; one named per call (LLM calls are
            # named after their model) says how in its note instead.
            if group.span_name and not group.gen_ai_operation_name:
                problems.append(
                    f"{here}: a span with agent_otel.span_name also needs "
                    "agent_otel.gen_ai_operation_name"
                )
            if group.gen_ai_operation_name and group.gen_ai_operation_name not in operation_names:
                problems.append(
                    f"{here}: annotation agent_otel.gen_ai_operation_name must be a value of "
                    "gen_ai.operation.name"
                )
        elif group.type == "event":
            if not AGENT_NAME_RE.match(group.event_name):
                problems.append(f"{here}: event name {group.event_name!r} breaks the naming rules")
        elif group.type == "metric":
            if not AGENT_NAME_RE.match(group.metric_name):
                problems.append(
                    f"{here}: metric name {group.metric_name!r} breaks the naming rules"
                )
            if group.metric_name in registry.attributes:
                problems.append(f"{here}: metric name {group.metric_name} is also an attribute id")
            if group.instrument not in INSTRUMENTS:
                problems.append(f"{here}: `instrument` must be one of {', '.join(INSTRUMENTS)}")
            if not group.unit:
                problems.append(f"{here}: `unit` is missing")
        if group.buckets and not (group.type == "metric" and group.instrument == "histogram"):
            problems.append(f"{here}: annotation agent_otel.buckets only applies to histograms")
        problems += _validate_uses(registry, group)
    for group in registry.official_metrics:
        if group.metric_name in {g.metric_name for g in registry.groups}:
            problems.append(f"official metric {group.metric_name}: also defined by this registry")
        problems += _validate_uses(registry, group)
    return problems


_NO_ATTRIBUTE = Attribute(id="", type="", brief="", stability="")


def _validate_uses(registry: Registry, group: Group) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for use in group.uses:
        here = f"group {group.id}: ref {use.ref}"
        if use.ref in seen:
            problems.append(f"{here}: referenced twice")
        seen.add(use.ref)
        if use.ref not in registry.attributes and use.ref not in registry.official:
            problems.append(
                f"{here}: dangling ref; no such attribute in this registry, in the "
                f"OpenTelemetry {registry.manifest.semconv_version} reference model or in a "
                "stable attributes module of the opentelemetry-semantic-conventions package"
            )
            continue
        attribute = registry.lookup(use.ref)
        if attribute.deprecated:
            problems.append(f"{here}: the official attribute is deprecated")
        if (attribute.content or use.content) and use.requirement_level != "opt_in":
            problems.append(f"{here}: content attributes must be `opt_in`")
    return problems


def _validate_python_names(registry: Registry) -> list[str]:
    """Two registry names must never collapse into the same Python identifier."""
    owners: dict[str, str] = {}
    problems = []
    for name, owner in _python_names(registry):
        if name in owners and owners[name] != owner:
            problems.append(f"{owner} and {owners[name]} both generate the Python name {name}")
        owners.setdefault(name, owner)
    return problems


def _python_names(registry: Registry) -> Iterable[tuple[str, str]]:
    for attribute in [*registry.attributes.values(), *registry.referenced_official()]:
        yield constant_name(attribute.id), attribute.id
        if attribute.type == "enum":
            yield enum_class_name(attribute.id), attribute.id
            yield constant_name(attribute.id) + "_VALUES", attribute.id
    for group in [*registry.groups, *registry.official_metrics]:
        if group.type in ("event", "metric") or group.span_name:
            yield group_constant_name(group), group.id


# --------------------------------------------------------------------------------------------
# Naming helpers shared by the renderers (and by the tests)
# --------------------------------------------------------------------------------------------


def constant_name(name: str) -> str:
    """``agent.session.status`` -> ``AGENT_SESSION_STATUS``."""
    return name.upper().replace(".", "_")


def enum_class_name(attribute_id: str) -> str:
    """``agent.session.status`` -> ``AgentSessionStatusValues``."""
    words = re.split(r"[._]", attribute_id)
    return "".join(word.capitalize() for word in words) + "Values"


def group_constant_name(group: Group) -> str:
    """``span.agent.session`` -> ``SPAN_AGENT_SESSION``; events and metrics likewise."""
    kind, _, rest = group.id.partition(".")
    return f"{kind.upper()}_{constant_name(rest)}"


_PACKAGE_STABLE = "opentelemetry.semconv"
_PACKAGE_INCUBATING = "opentelemetry.semconv._incubating"


def package_constant(
    official_name: str, *, kind: str = "attributes", stable_only: bool = False
) -> tuple[str, str] | None:
    """Where ``opentelemetry-semantic-conventions`` ships a constant for an official name.

    ``kind`` is ``attributes`` or ``metrics``. Returns ``(module, constant)``; stable modules win
    over incubating ones, which ``stable_only`` skips. Looked up at generation time so the
    generated module uses the package's names, and a string literal only where the installed
    package lacks the name.
    """
    namespace = official_name.split(".", 1)[0]
    name = constant_name(official_name)
    packages = (_PACKAGE_STABLE,) if stable_only else (_PACKAGE_STABLE, _PACKAGE_INCUBATING)
    for package in packages:
        module_name = f"{package}.{kind}.{namespace}_{kind}"
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if getattr(module, name, None) == official_name:
            return module_name, name
    return None


# --------------------------------------------------------------------------------------------
# Render: Python
# --------------------------------------------------------------------------------------------

_LINE = 100


def render_python(registry: Registry) -> str:
    """The generated module, already formatted by ruff."""
    return ruff_format(_render_python_source(registry), REPO_ROOT / PYTHON_OUTPUT)


def _render_python_source(registry: Registry) -> str:
    manifest = registry.manifest
    official = registry.referenced_official()
    imports: dict[str, str] = {}  # module -> alias
    official_values: dict[str, str] = {}

    def from_package(official_name: str, kind: str) -> str:
        found = package_constant(official_name, kind=kind)
        if found is None:
            return _py_string(official_name)
        module, name = found
        alias = module.rpartition(".")[2]
        imports[module] = alias
        return f"{alias}.{name}"

    for attribute in official:
        official_values[attribute.id] = from_package(attribute.id, "attributes")
    metric_names = {
        group.metric_name: from_package(group.metric_name, "metrics")
        for group in registry.official_metrics
    }

    out: list[str] = []
    out.append(
        _module_docstring(
            "Semantic-convention names of agent-otel: attributes, spans, events and metrics.",
            f"GENERATED by {GENERATOR} from semconv/manifest.yaml and semconv/model/*.yaml; do "
            f"not edit. Change the registry, then run ``python {GENERATOR}``.",
            f"Registry {manifest.name} {manifest.version}, following the OpenTelemetry semantic "
            f"conventions {manifest.semconv_version}. Official attribute and metric names come "
            "from the ``opentelemetry-semantic-conventions`` package where it ships them. Every "
            "``agent.*`` name used by the code must come from here, never from a string literal.",
        )
    )
    out.append("from __future__ import annotations\n")
    out.append("import enum\nfrom dataclasses import dataclass\nfrom typing import Final\n")
    by_package: dict[str, list[str]] = {}
    for module, alias in imports.items():
        by_package.setdefault(module.rpartition(".")[0], []).append(alias)
    if by_package:
        out.append(
            "\n".join(
                f"from {package} import {', '.join(sorted(aliases))}"
                for package, aliases in sorted(by_package.items())
            )
            + "\n"
        )

    out.append(_section("Registry"))
    out.append(_assign("REGISTRY_NAME", _py_string(manifest.name), "Name of this registry."))
    out.append(
        _assign("REGISTRY_VERSION", _py_string(manifest.version), "Version of this registry.")
    )
    out.append(
        _assign(
            "SEMCONV_VERSION",
            _py_string(manifest.semconv_version),
            "Version of the OpenTelemetry semantic conventions this registry follows.",
        )
    )
    out.append(
        _assign(
            "SCHEMA_URL",
            _py_string(manifest.schema_url),
            "Schema URL of that semantic-conventions version, for tracers and meters.",
        )
    )
    out.append(_METRIC_SPEC_CLASS)

    out.append(_section(f"Attributes of the {manifest.name} registry"))
    for attribute in sorted(registry.attributes.values(), key=lambda a: a.id):
        out.append(
            _assign(constant_name(attribute.id), _py_string(attribute.id), _doc_of(attribute))
        )

    out.append(_section(f"Official attributes (semantic conventions {manifest.semconv_version})"))
    for attribute in official:
        out.append(
            _assign(constant_name(attribute.id), official_values[attribute.id], attribute.brief)
        )

    out.append(_section("Enum values"))
    for attribute in sorted(
        [a for a in [*registry.attributes.values(), *official] if a.type == "enum"],
        key=lambda a: a.id,
    ):
        out.append(_enum_class(attribute))
        if not attribute.official:
            values = _py_tuple(_py_string(str(m.value)) for m in attribute.members)
            out.append(
                _assign(
                    constant_name(attribute.id) + "_VALUES",
                    values,
                    f"Allowed values of ``{attribute.id}``, in registry order.",
                )
            )

    out.append(_section("Span names"))
    for group in registry.groups_of("span"):
        if not group.span_name:
            continue
        out.append(
            _assign(
                group_constant_name(group),
                _py_string(group.span_name),
                f"{group.brief} Kind {group.span_kind.upper()}, "
                f"``gen_ai.operation.name={group.gen_ai_operation_name}``.",
            )
        )

    out.append(_section("Event names"))
    for group in registry.groups_of("event"):
        out.append(_assign(group_constant_name(group), _py_string(group.event_name), group.brief))

    out.append(_section("Metrics"))
    for group in registry.groups_of("metric"):
        out.append(_metric_spec(group, _py_string(group.metric_name), group.brief))

    out.append(_section(f"Official metrics (semantic conventions {manifest.semconv_version})"))
    for group in registry.official_metrics:
        doc = (
            f"{group.brief} Official ``{group.id}``, recorded as the semantic conventions "
            "define it."
        )
        out.append(_metric_spec(group, metric_names[group.metric_name], doc))

    out.append(_section("Content"))
    content = ", ".join(constant_name(i) for i in registry.content_attributes())
    out.append(
        _assign(
            "CONTENT_ATTRIBUTES",
            f"frozenset({{{content}}})",
            "Attributes recorded only when content capture is enabled (prompts, results, "
            "command lines, file contents and diffs).",
            annotation="Final[frozenset[str]]",
        )
    )
    return "\n".join(out)


def _metric_spec(group: Group, name: str, doc: str) -> str:
    lines = [
        "MetricSpec(",
        f"    name={name},",
        f"    instrument={_py_string(group.instrument)},",
        f"    unit={_py_string(group.unit)},",
        f"    description={_wrapped_string(group.brief, 8)},",
        f"    attributes={_py_tuple(constant_name(use.ref) for use in group.uses)},",
    ]
    if group.buckets:
        lines.append(f"    buckets={_py_tuple(repr(b) for b in group.buckets)},")
    return _assign(group_constant_name(group), "\n".join([*lines, ")"]), doc)


_METRIC_SPEC_CLASS = '''

@dataclass(frozen=True)
class MetricSpec:
    """Name, instrument, unit, description and attribute keys of one metric agent-otel records.

    Our own metrics and the official ones the instrumentation records (``METRIC_GEN_AI_*``).
    """

    name: str
    instrument: str
    """One of ``counter``, ``updowncounter``, ``histogram``, ``gauge``."""
    unit: str
    """UCUM-style unit, e.g. ``s`` or ``{token}``."""
    description: str
    attributes: tuple[str, ...] = ()
    """Attribute keys the metric is recorded with."""
    buckets: tuple[float, ...] | None = None
    """
    Advisory explicit bucket boundaries of a histogram (the SDK's
    ``explicit_bucket_boundaries_advisory``); ``None`` leaves the SDK's default.
    """
'''


def _doc_of(attribute: Attribute) -> str:
    doc = attribute.brief
    if attribute.content:
        doc += " Content: recorded only when content capture is enabled."
    return doc


def _module_docstring(*paragraphs: str) -> str:
    body = "\n\n".join(_wrap(p, _LINE) for p in paragraphs)
    return f'"""{_escape_docstring(body)}\n"""\n'


def _section(title: str) -> str:
    return f"\n# {'-' * (_LINE - 2)}\n# {title}\n# {'-' * (_LINE - 2)}\n"


def _assign(name: str, value: str, doc: str, annotation: str = "Final") -> str:
    return f"{name}: {annotation} = {value}\n{_docstring(doc, 0)}"


def _docstring(text: str, indent: int) -> str:
    pad = " " * indent
    one_line = f'{pad}"""{_escape_docstring(_oneline(text))}"""'
    if len(one_line) <= _LINE:
        return one_line + "\n"
    body = textwrap.indent(_wrap(text, _LINE - indent), pad)
    return f'{pad}"""\n{_escape_docstring(body)}\n{pad}"""\n'


def _enum_class(attribute: Attribute) -> str:
    name = enum_class_name(attribute.id)
    origin = "official" if attribute.official else "registry"
    lines = [
        "\n",
        f"class {name}(str, enum.Enum):\n",
        _docstring(f"Values of ``{attribute.id}`` ({origin}): {attribute.brief}", 4),
    ]
    for member in attribute.members:
        if member.deprecated:
            continue
        lines.append(f"\n    {constant_name(member.id)} = {_py_string(str(member.value))}\n")
        lines.append(_docstring(member.brief, 4))
    return "".join(lines) + "\n"


def _oneline(text: str) -> str:
    return " ".join(text.split())


def _wrap(text: str, width: int) -> str:
    """Wrap prose, keeping blank-line paragraph breaks of multi-paragraph briefs."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n\n".join(
        textwrap.fill(_oneline(p), width, break_long_words=False, break_on_hyphens=False)
        for p in paragraphs
    )


def _escape_docstring(text: str) -> str:
    text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return text[:-1] + '\\"' if text.endswith('"') else text


def _py_string(value: str) -> str:
    """A double-quoted Python literal; JSON escapes are valid Python escapes."""
    return json.dumps(value, ensure_ascii=False)


def _py_tuple(items: Iterable[str]) -> str:
    """A tuple display without a magic trailing comma, so ruff keeps it on one line if it fits."""
    items = list(items)
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


def _wrapped_string(text: str, indent: int) -> str:
    """A long string as implicitly concatenated pieces, so no line exceeds the limit."""
    text = _oneline(text)
    if len(text) + indent + 16 <= _LINE:
        return _py_string(text)
    pieces = textwrap.wrap(text, _LINE - indent - 8, drop_whitespace=False)
    inner = "\n".join(" " * (indent + 4) + _py_string(piece) for piece in pieces)
    return f"(\n{inner}\n{' ' * indent})"


def find_ruff() -> str:
    """The ruff next to this interpreter (the project venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "ruff"
    if beside.is_file():
        return str(beside)
    found = shutil.which("ruff")
    if found is None:
        raise RuntimeError(
            "ruff is needed to format the generated module; install the `dev` extra "
            "(pip install -e '.[dev]')"
        )
    return found


def ruff_format(source: str, path: Path) -> str:
    """Sort imports and format with the repository's ruff settings, as a developer's ruff would.

    Running ruff here (rather than imitating its style) keeps ``--check`` and
    ``ruff format --check`` / ``ruff check`` in agreement whatever ruff version is installed.
    """
    ruff = find_ruff()
    for command in (["check", "--select", "I", "--fix", "--quiet"], ["format", "--quiet"]):
        result = subprocess.run(
            [ruff, *command, "--stdin-filename", str(path), "-"],
            input=source,
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"ruff {command[0]} failed on the generated module:\n{result.stderr}"
            )
        source = result.stdout
    return source


# --------------------------------------------------------------------------------------------
# Render: Markdown
# --------------------------------------------------------------------------------------------


def render_markdown(registry: Registry) -> dict[str, str]:
    """The four reference pages, by file name."""
    return {
        "attributes.md": _render_attributes_md(registry),
        "spans.md": _render_groups_md(registry, "span", "Spans"),
        "events.md": _render_groups_md(registry, "event", "Events"),
        "metrics.md": _render_metrics_md(registry),
    }


def _md_header(registry: Registry, title: str) -> list[str]:
    manifest = registry.manifest
    return [
        f"<!-- GENERATED by {GENERATOR} from semconv/model/*.yaml; do not edit. -->",
        "",
        f"# {title}",
        "",
        f"Registry `{manifest.name}` {manifest.version}, following the OpenTelemetry semantic "
        f"conventions {manifest.semconv_version} (`{manifest.schema_url}`).",
        "",
    ]


def _render_attributes_md(registry: Registry) -> str:
    lines = _md_header(registry, "Attributes")
    lines += [
        "Content attributes are recorded only when content capture is enabled. Where each "
        "attribute is used, and how strongly, is listed in [spans](spans.md), "
        "[events](events.md) and [metrics](metrics.md).",
        "",
    ]
    for group in (g for g in registry.groups if g.type == "attribute_group"):
        members = sorted(
            (a for a in registry.attributes.values() if a.group_id == group.id), key=lambda a: a.id
        )
        title = group.display_name or group.id
        lines += [f"## {title}", "", f"`{group.id}`: {_md(group.brief)}", ""]
        lines += _table(
            ["Attribute", "Type", "Description", "Examples", "Stability", "Content"],
            [
                [
                    f"`{a.id}`",
                    _md_type(a),
                    _md(a.brief + ("\n\n" + a.note if a.note else "")),
                    _md_examples(a.examples),
                    a.stability,
                    "yes" if a.content else "no",
                ]
                for a in members
            ],
        )
        for attribute in members:
            if attribute.type == "enum":
                lines += [f"`{attribute.id}` values:", ""]
                lines += _table(
                    ["Value", "Description", "Stability"],
                    [[f"`{m.value}`", _md(m.brief), m.stability] for m in attribute.members],
                )
    official = registry.referenced_official()
    content = set(registry.content_attributes())
    lines += [
        f"## Official attributes (semantic conventions {registry.manifest.semconv_version})",
        "",
        "Referenced by this registry, not redefined. Those whose namespace the reference model "
        "copy lacks are accepted when the `opentelemetry-semantic-conventions` package ships "
        f"them as stable; their stability reads `{PACKAGE_STABLE_ORIGIN}`.",
        "",
    ]
    lines += _table(
        ["Attribute", "Type", "Description", "Examples", "Stability", "Content"],
        [
            [
                f"`{a.id}`",
                _md_type(a),
                _md(a.brief),
                _md_examples(a.examples),
                _md_stability(a),
                "yes" if a.id in content else "no",
            ]
            for a in official
        ],
    )
    return "\n".join(lines)


def _render_metrics_md(registry: Registry) -> str:
    version = registry.manifest.semconv_version
    lines = _md_header(registry, "Metrics")
    lines += [
        "Every metric agent-otel records: its own, defined by this registry, and the official "
        f"ones of the semantic conventions {version} it records as they are defined there "
        "(listed under `uses_official_metrics` in `semconv/manifest.yaml`).",
        "",
    ]
    lines += _table(
        ["Metric", "Instrument", "Unit", "Defined by", "Description"],
        [
            [
                f"`{g.metric_name}`",
                g.instrument,
                f"`{g.unit}`",
                f"official (semantic conventions {version})" if g.official else "this registry",
                _md(g.brief),
            ]
            for g in registry.metric_groups()
        ],
    )
    lines += _render_groups_body(registry, [g for g in registry.groups if g.type == "metric"])
    lines += [f"## Official metrics (semantic conventions {version})", ""]
    if not registry.official_metrics:
        lines += ["None.", ""]
    lines += _render_groups_body(registry, registry.official_metrics, level="###")
    return "\n".join(lines)


def _render_groups_md(registry: Registry, kind: str, title: str) -> str:
    lines = _md_header(registry, title)
    lines += _render_groups_body(registry, [g for g in registry.groups if g.type == kind])
    return "\n".join(lines)


def _render_groups_body(
    registry: Registry, groups: Sequence[Group], level: str = "##"
) -> list[str]:
    """One section per group, in the given order (file order reads best for ours)."""
    lines: list[str] = []
    content = set(registry.content_attributes())
    version = registry.manifest.semconv_version
    for group in groups:
        kind = group.type
        suffix = " (official)" if group.official else ""
        lines += [f"{level} `{group.id}`{suffix}", "", _md_block(group.brief), ""]
        facts = [("Stability", group.stability)]
        if kind == "span":
            facts = [
                ("Span name starts with", f"`{group.span_name}`" if group.span_name else "-"),
                ("Span kind", group.span_kind.upper()),
                (
                    "`gen_ai.operation.name`",
                    f"`{group.gen_ai_operation_name}`" if group.gen_ai_operation_name else "varies",
                ),
                *facts,
            ]
        elif kind == "event":
            facts = [("Event name", f"`{group.event_name}`"), *facts]
        elif kind == "metric":
            facts = [
                ("Metric name", f"`{group.metric_name}`"),
                ("Instrument", group.instrument),
                ("Unit", f"`{group.unit}`"),
                ("Value type", group.metric_value_type or "-"),
                (
                    "Defined by",
                    f"OpenTelemetry semantic conventions {version}, official"
                    if group.official
                    else "this registry",
                ),
                *facts,
            ]
            if group.instrument == "histogram":
                boundaries = ", ".join(_md_number(b) for b in group.buckets)
                facts.insert(4, ("Advisory bucket boundaries", boundaries or "SDK default"))
        lines += _table(["Property", "Value"], [[k, v] for k, v in facts])
        if group.note:
            lines += [_md_block(group.note), ""]
        if not group.uses:
            lines += ["No attributes.", ""]
            continue
        lines += _table(
            [
                "Attribute",
                "Type",
                "Requirement level",
                "Description",
                "Examples",
                "Stability",
                "Content",
            ],
            [
                [
                    f"`{use.ref}`",
                    _md_type(attribute),
                    _md_requirement(use),
                    _md(attribute.brief + ("\n\n" + use.note if use.note else "")),
                    _md_examples(attribute.examples),
                    _md_stability(attribute),
                    "yes" if use.ref in content else "no",
                ]
                for use in group.uses
                for attribute in [registry.lookup(use.ref)]
            ],
        )
    return lines


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _md(text: str) -> str:
    """Prose for one table cell: single line, pipes escaped."""
    return _oneline(text).replace("|", "\\|")


def _md_block(text: str) -> str:
    """Prose as Markdown paragraphs, joined lines within a paragraph."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n\n".join(_oneline(p) for p in paragraphs)


def _md_number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _md_stability(attribute: Attribute) -> str:
    return PACKAGE_STABLE_ORIGIN if attribute.from_package else attribute.stability


def _md_type(attribute: Attribute) -> str:
    return "enum" if attribute.type == "enum" else f"`{attribute.type}`"


def _md_requirement(use: AttributeUse) -> str:
    label = {
        "required": "Required",
        "recommended": "Recommended",
        "opt_in": "Opt-In",
        "conditionally_required": "Conditionally Required",
    }[use.requirement_level]
    return f"{label}: {_md(use.condition)}" if use.condition else label


def _md_examples(examples: Sequence[Any]) -> str:
    shown = []
    for example in examples:
        text = example if isinstance(example, str) else json.dumps(example)
        if "\n" in text:  # a pretty-printed JSON example (`any` attributes) reads best compact
            with contextlib.suppress(ValueError):
                text = json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
        # Inside a code span a backslash is literal; only newlines and table pipes need care.
        text = text.replace("\n", "\\n").replace("|", "\\|")
        fence = "``" if "`" in text else "`"
        shown.append(f"{fence}{text}{fence}")
    return "; ".join(shown) or "-"


# --------------------------------------------------------------------------------------------
# Outputs and command line
# --------------------------------------------------------------------------------------------


def render_all(registry: Registry) -> dict[Path, str]:
    """Every generated file, by path relative to the repository root."""
    outputs = {PYTHON_OUTPUT: render_python(registry)}
    for name, text in render_markdown(registry).items():
        outputs[DOCS_OUTPUT_DIR / name] = text
    return outputs


def stale_files(outputs: Mapping[Path, str], root: Path = REPO_ROOT) -> list[Path]:
    """Generated files whose content on disk differs from a fresh rendering."""
    stale = []
    for relative, text in sorted(outputs.items()):
        path = root / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(relative)
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="list stale files, write nothing")
    parser.add_argument(
        "--registry", type=Path, default=DEFAULT_REGISTRY_DIR, help="registry dir (semconv/)"
    )
    parser.add_argument(
        "--reference", type=Path, default=None, help="official model dir of the followed version"
    )
    args = parser.parse_args(argv)
    try:
        registry = load_registry(args.registry, args.reference)
        outputs = render_all(registry)
    except RegistryError as error:
        print(error, file=sys.stderr)
        return 2
    stale = stale_files(outputs)
    if args.check:
        if stale:
            print(f"stale generated files (run python {GENERATOR}):", file=sys.stderr)
            for path in stale:
                print(f"  {path}", file=sys.stderr)
            return 1
        return 0
    for relative in stale:
        path = REPO_ROOT / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(outputs[relative], encoding="utf-8")
        print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
