"""Which telemetry names the deployment in examples/deploy can show: the attribute and event
names of the semantic-convention registry (``semconv/`` plus the official conventions it
follows), and the Prometheus series and labels that agent-otel's metrics, the recording rules
and the gateway's span metrics become.

Attribute and event names come from ``scripts/generate_semconv.py``'s own loader, which
resolves the registry exactly as the generated ``agent_otel.semconv`` module was made; the
metrics from that module's ``MetricSpec`` constants.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from agent_otel import semconv

from .promql import extract

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES_FILE = REPO_ROOT / "collector-config" / "prometheus" / "agent-otel-rules.yml"
GATEWAY_CONFIG = REPO_ROOT / "collector-config" / "gateway.yaml"

#: Labels every scraped series may carry: the scrape target's ``job`` and ``instance``; the
#: app's, which the Collector's exporter makes from ``service.name``/``service.instance.id``
#: and Prometheus renames ``exported_*`` (examples/deploy/prometheus.yml); and the
#: instrumentation scope the OpenTelemetry Prometheus exporters add.
COMMON_LABELS = frozenset(
    {
        "job",
        "instance",
        "exported_job",
        "exported_instance",
        "otel_scope_name",
        "otel_scope_version",
        "otel_scope_schema_url",
    }
)

#: OpenTelemetry unit -> Prometheus name suffix, as the OpenTelemetry-to-Prometheus
#: compatibility specification maps them (the units our metrics and span metrics use, and the
#: common ones next to them).
UNIT_WORDS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "%": "percent",
    "1": "",
}
PER_UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


@dataclass(frozen=True)
class Metric:
    """A Prometheus series name and the labels it can have."""

    name: str
    labels: frozenset[str]


def prometheus_series(name: str, unit: str, instrument: str) -> list[str]:
    """The series an OpenTelemetry metric becomes when exported to Prometheus with unit and
    type suffixes (both the SDK's exporter and the Collector's, by default): ``.`` -> ``_``,
    the unit's word appended (annotations in braces dropped, unknown units kept as written,
    e.g. ``USD``), ``_total`` for counters, ``_bucket``/``_sum``/``_count`` for histograms.
    An up-down counter is a gauge: no suffix."""
    base = re.sub(r"[^a-zA-Z0-9_:]+", "_", name)
    plain_unit = re.sub(r"\{[^}]*\}", "", unit)
    if plain_unit:
        main, _, per = plain_unit.partition("/")
        words = [UNIT_WORDS.get(main, main)]
        if per:
            words += ["per", PER_UNIT_WORDS.get(per, per)]
        suffix = "_".join(word for word in words if word)
        if suffix and not base.endswith(suffix):
            base = f"{base}_{suffix}"
    if instrument == "counter":
        return [f"{base}_total"]
    if instrument == "histogram":
        return [f"{base}_bucket", f"{base}_sum", f"{base}_count"]
    return [base]


def label_name(attribute: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", attribute)


def _metrics_of(name: str, unit: str, instrument: str, labels: Iterable[str]) -> list[Metric]:
    base = frozenset(labels) | COMMON_LABELS
    return [
        Metric(series, base | {"le"} if series.endswith("_bucket") else base)
        for series in prometheus_series(name, unit, instrument)
    ]


def metric_specs() -> list[semconv.MetricSpec]:
    """Every metric agent-otel records: its own and the official GenAI client metrics."""
    return [v for v in vars(semconv).values() if isinstance(v, semconv.MetricSpec)]


def agent_metrics() -> list[Metric]:
    found: list[Metric] = []
    for spec in metric_specs():
        labels = map(label_name, spec.attributes)
        found += _metrics_of(spec.name, spec.unit, spec.instrument, labels)
    return found


def recording_rule_metrics(rules_file: Path = RULES_FILE) -> list[Metric]:
    """The series the recording rules write, each with the labels its expression keeps (at
    most those of its ``by`` clauses)."""
    document = yaml.safe_load(rules_file.read_text(encoding="utf-8"))
    return [
        Metric(rule["record"], extract(rule["expr"]).grouping_labels)
        for group in document["groups"]
        for rule in group["rules"]
    ]


@dataclass(frozen=True)
class SpanMetricsConnector:
    """What a ``spanmetrics`` connector of the gateway produces, from its configuration."""

    namespace: str
    duration_unit: str
    dimensions: tuple[str, ...]
    events: bool
    event_dimensions: tuple[str, ...]

    #: Labels the connector puts on every point (``service.name``, span name, kind, status).
    BUILT_IN = ("service.name", "span.name", "span.kind", "status.code")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SpanMetricsConnector:
        # The connector's defaults (spanmetrics README): namespace traces.span.metrics,
        # explicit-bucket histogram in milliseconds.
        histogram = config.get("histogram") or {}
        events = config.get("events") or {}
        return cls(
            namespace=str(config.get("namespace", "traces.span.metrics")),
            duration_unit=str(histogram.get("unit", "ms")),
            dimensions=tuple(d["name"] for d in config.get("dimensions") or []),
            events=bool(events.get("enabled", False)),
            event_dimensions=tuple(d["name"] for d in events.get("dimensions") or []),
        )

    def metrics(self) -> list[Metric]:
        def named(metric: str) -> str:
            return f"{self.namespace}.{metric}" if self.namespace else metric

        labels = [label_name(a) for a in (*self.BUILT_IN, *self.dimensions)]
        found = _metrics_of(named("calls"), "", "counter", labels)
        found += _metrics_of(named("duration"), self.duration_unit, "histogram", labels)
        if self.events:
            event_labels = [*labels, *map(label_name, self.event_dimensions)]
            found += _metrics_of(named("events"), "", "counter", event_labels)
        return found


#: The connector's type, as older and newer Collector releases name it.
SPANMETRICS_TYPES = ("spanmetrics", "span_metrics")


def spanmetrics_connectors(gateway_config: Path = GATEWAY_CONFIG) -> list[SpanMetricsConnector]:
    document = yaml.safe_load(gateway_config.read_text(encoding="utf-8"))
    connectors = document.get("connectors") or {}
    return [
        SpanMetricsConnector.from_config(config or {})
        for key, config in connectors.items()
        if key.split("/")[0] in SPANMETRICS_TYPES
    ]


def prometheus_catalog(gateway_config: Path = GATEWAY_CONFIG) -> dict[str, frozenset[str]]:
    """Every series name the deployment's Prometheus can hold -> the labels it can carry."""
    metrics = [*agent_metrics(), *recording_rule_metrics()]
    for connector in spanmetrics_connectors(gateway_config):
        metrics += connector.metrics()
    catalog: dict[str, frozenset[str]] = {}
    for metric in metrics:
        catalog[metric.name] = catalog.get(metric.name, frozenset()) | metric.labels
    return catalog


# ---------------------------------------------------------------------------------------------
# Attributes and events of the semantic conventions
# ---------------------------------------------------------------------------------------------


@functools.cache
def _generator() -> ModuleType:
    """scripts/generate_semconv.py, imported by path (scripts/ is not a package); registered
    first, as its dataclasses look their module up by name."""
    name = "_agent_otel_generate_semconv"
    if name not in sys.modules:
        path = REPO_ROOT / "scripts" / "generate_semconv.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@functools.cache
def _registry() -> Any:
    generator = _generator()
    reference = generator.default_reference_dir(REPO_ROOT / "semconv")
    if not Path(reference).is_dir():
        pytest.skip(f"the official semantic-convention model is not at {reference}")
    return generator.load_registry(REPO_ROOT / "semconv", reference)


def is_known_attribute(name: str) -> bool:
    """Defined by our registry or the official model it follows, or shipped as a *stable*
    attribute by the ``opentelemetry-semantic-conventions`` package (``service.name``): the
    same sources the generator accepts for a ``ref``."""
    registry = _registry()
    if name in registry.attributes or name in registry.official:
        return True
    return _generator().package_constant(name, stable_only=True) is not None


@functools.cache
def known_event_names() -> frozenset[str]:
    """Event names of our registry and of the official model the registry follows."""
    registry = _registry()
    names = {group.event_name for group in registry.groups_of("event")}
    reference = _generator().default_reference_dir(REPO_ROOT / "semconv")
    for path in Path(reference).rglob("*.yaml"):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in document.get("groups") or []:
            if group.get("type") == "event" and "name" in group:
                names.add(str(group["name"]))
    return frozenset(names)
