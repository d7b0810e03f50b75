"""Test helper: check recorded telemetry against the official semantic-convention model.

``check_span_against_reference(span.attributes)`` and ``check_metric_against_reference(...)``
return the problems they find, an empty list when all is well, so a test reads::

    assert not check_span_against_reference(span.attributes), span.attributes

Both read the official model of the release ``semconv/manifest.yaml`` follows (expected at
``../shared/reference/otel-semconv-v<version>/model`` next to the repository) with PyYAML,
independently of ``scripts/generate_semconv.py``, and skip the calling test when it is missing.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
_SCHEMA_URL_RE = re.compile(r"^https://opentelemetry\.io/schemas/(\d+\.\d+\.\d+)$")

#: Instrument kinds as the semantic conventions spell them.
INSTRUMENTS = ("counter", "updowncounter", "histogram", "gauge")


@dataclass(frozen=True)
class ReferenceAttribute:
    """What the reference model says about one attribute (or attribute template)."""

    id: str
    type: str  # "string", "int[]", "any", "template[string]", ... or "enum"
    deprecated: str = ""  # why, when deprecated ("renamed to x", "obsoleted")
    values: frozenset[Any] = frozenset()  # enum values of members that are not deprecated
    deprecated_values: frozenset[Any] = frozenset()  # enum values only deprecated members have


@dataclass(frozen=True)
class ReferenceMetric:
    name: str
    instrument: str
    unit: str
    deprecated: str = ""


@dataclass
class Reference:
    attributes: dict[str, ReferenceAttribute] = field(default_factory=dict)
    templates: dict[str, ReferenceAttribute] = field(default_factory=dict)  # by id prefix
    metrics: dict[str, ReferenceMetric] = field(default_factory=dict)

    def attribute(self, name: str) -> ReferenceAttribute | None:
        found = self.attributes.get(name)
        if found is not None:
            return found
        for prefix, template in self.templates.items():
            if name.startswith(prefix + "."):
                return template
        return None


def followed_version() -> str:
    """The OpenTelemetry semconv version ``semconv/manifest.yaml`` follows."""
    yaml = pytest.importorskip("yaml", reason="PyYAML (test extra) reads the reference model")
    manifest = yaml.safe_load((REPO_ROOT / "semconv" / "manifest.yaml").read_text("utf-8"))
    for dependency in manifest.get("dependencies") or []:
        match = _SCHEMA_URL_RE.match(str(dependency.get("schema_url", "")))
        if match:
            return match.group(1)
    raise AssertionError("semconv/manifest.yaml names no followed semantic-conventions version")


def reference_dir() -> Path:
    version = followed_version()
    return REPO_ROOT.parent / "shared" / "reference" / f"otel-semconv-v{version}" / "model"


def load_reference(model_dir: Path | None = None) -> Reference:
    """The reference model (cached); skips the calling test if it is not there."""
    model_dir = model_dir or reference_dir()
    if not model_dir.is_dir():
        pytest.skip(f"official semconv model not found at {model_dir}")
    return _load_reference(model_dir)


@functools.lru_cache(maxsize=4)
def _load_reference(model_dir: Path) -> Reference:
    import yaml

    reference = Reference()
    for path in sorted(model_dir.rglob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            continue
        for group in document.get("groups") or []:
            if group.get("type") == "metric" and "metric_name" in group:
                reference.metrics[group["metric_name"]] = ReferenceMetric(
                    name=group["metric_name"],
                    instrument=str(group.get("instrument", "")),
                    unit=str(group.get("unit", "")),
                    deprecated=_deprecation(group.get("deprecated")),
                )
            for raw in group.get("attributes") or []:
                if isinstance(raw, dict) and "id" in raw:
                    attribute = _attribute(raw)
                    if attribute.type.startswith("template["):
                        reference.templates[attribute.id] = attribute
                    else:
                        reference.attributes[attribute.id] = attribute
    return reference


def _attribute(raw: Mapping[str, Any]) -> ReferenceAttribute:
    raw_type = raw.get("type")
    if isinstance(raw_type, dict):
        members = raw_type.get("members") or []
        values = {m["value"] for m in members if "deprecated" not in m}
        deprecated = {m["value"] for m in members if "deprecated" in m} - values
        return ReferenceAttribute(
            id=raw["id"],
            type="enum",
            deprecated=_deprecation(raw.get("deprecated")),
            values=frozenset(values),
            deprecated_values=frozenset(deprecated),
        )
    return ReferenceAttribute(
        id=raw["id"], type=str(raw_type), deprecated=_deprecation(raw.get("deprecated"))
    )


def _deprecation(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        if value.get("renamed_to"):
            return f"renamed to {value['renamed_to']}"
        return str(value.get("note") or value.get("reason") or "deprecated").strip()
    return str(value).strip() or "deprecated"


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def check_span_against_reference(
    attributes: Mapping[str, object], *, model_dir: Path | None = None
) -> list[str]:
    """Problems of a span's (or event's) attributes against the official model.

    - every ``gen_ai.*`` name exists in the reference model;
    - no attribute the reference model defines is deprecated;
    - each such attribute's value has the declared type: ``string`` a str, ``int`` an int (not
      a bool), ``double`` an int or float, ``boolean`` a bool, ``T[]`` a list or tuple of ``T``;
      ``any`` (structured content such as ``gen_ai.input.messages``) a JSON string, the form the
      SDK's span attributes can carry;
    - enums are open (the semantic-convention YAML has no closed enums any more): any string
      passes, except one that differs from a member's value only by case (``Chat`` for
      ``chat``) or that only deprecated members have.

    Names of other namespaces the reference model does not define (``server.*``, ``agent.*``)
    are not checked.
    """
    reference = load_reference(model_dir)
    problems: list[str] = []
    for name in sorted(attributes):
        value = attributes[name]
        declared = reference.attribute(name)
        if declared is None:
            if name.startswith("gen_ai."):
                problems.append(f"{name}: not in the official semantic conventions")
            continue
        if declared.deprecated:
            problems.append(f"{name}: deprecated ({declared.deprecated})")
        problems += [f"{name}: {p}" for p in _value_problems(declared, value)]
    return problems


def _value_problems(declared: ReferenceAttribute, value: object) -> list[str]:
    kind = declared.type
    if kind.startswith("template[") and kind.endswith("]"):
        kind = kind[len("template[") : -1]
    if kind == "enum":
        return _enum_problems(declared, value)
    if kind == "any":
        if not isinstance(value, str):
            return [f"expected a JSON string (structured value), got {_describe(value)}"]
        try:
            json.loads(value)
        except ValueError:
            return [f"expected a JSON string (structured value), got non-JSON text {value!r}"]
        return []
    if kind.endswith("[]"):
        scalar = kind[:-2]
        if not isinstance(value, (list, tuple)):
            return [f"expected {kind} (a list or tuple), got {_describe(value)}"]
        wrong = [item for item in value if not _scalar_fits(scalar, item)]
        return [f"expected {kind}, got items {wrong!r}"] if wrong else []
    if kind in ("string", "int", "double", "boolean"):
        return [] if _scalar_fits(kind, value) else [f"expected {kind}, got {_describe(value)}"]
    return []  # a type this helper does not know: nothing to say


def _enum_problems(declared: ReferenceAttribute, value: object) -> list[str]:
    all_values = declared.values | declared.deprecated_values
    if all(isinstance(v, str) for v in all_values):
        if not isinstance(value, str):
            return [f"expected a string enum value, got {_describe(value)}"]
    elif not _scalar_fits("int", value):
        return [f"expected an int enum value, got {_describe(value)}"]
    if value in declared.values:
        return []
    if value in declared.deprecated_values:
        return [f"value {value!r} is deprecated"]
    if isinstance(value, str):
        for member in sorted(v for v in all_values if isinstance(v, str)):
            if member.lower() == value.lower():
                return [f"value {value!r} differs from the member {member!r} only by case"]
    return []  # open enum: a custom value is allowed


def _scalar_fits(scalar: str, value: object) -> bool:
    if scalar == "string":
        return isinstance(value, str)
    if scalar == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):  # a bool is an int in Python, never in OpenTelemetry
        return False
    if scalar == "int":
        return isinstance(value, int)
    return scalar == "double" and isinstance(value, (int, float))


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def check_metric_against_reference(
    name: str, instrument_kind: object, unit: str, *, model_dir: Path | None = None
) -> list[str]:
    """Problems of a metric against the official model: name, instrument and unit.

    ``instrument_kind`` is a kind as the conventions spell it (``histogram``, ``counter``,
    ``updowncounter``, ``gauge``; case, ``_`` and ``-`` are ignored), or an OpenTelemetry
    instrument class or instance (``Histogram``, ``UpDownCounter``, ``ObservableGauge``...).
    """
    reference = load_reference(model_dir)
    declared = reference.metrics.get(name)
    if declared is None:
        return [f"{name}: not a metric of the official semantic conventions"]
    problems = []
    if declared.deprecated:
        problems.append(f"{name}: deprecated ({declared.deprecated})")
    kind = instrument_kind_of(instrument_kind)
    if kind != declared.instrument:
        problems.append(
            f"{name}: instrument is {kind or instrument_kind!r}, the conventions say "
            f"{declared.instrument}"
        )
    if unit != declared.unit:
        problems.append(f"{name}: unit is {unit!r}, the conventions say {declared.unit!r}")
    return problems


def instrument_kind_of(instrument: object) -> str:
    """``histogram``, ``counter``, ``updowncounter`` or ``gauge``; ``""`` if unrecognised."""
    if isinstance(instrument, str):
        name = instrument
    elif isinstance(instrument, type):
        name = instrument.__name__
    else:
        name = type(instrument).__name__
    word = re.sub(r"[_\-\s]", "", name).lower()
    for prefix in ("noop", "proxy", "synchronous", "asynchronous", "observable"):
        word = word.removeprefix(prefix)
    return word if word in INSTRUMENTS else ""
