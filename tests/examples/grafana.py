"""Reading the Grafana pieces of examples/deploy: the queries of every dashboard panel and
template variable, and of the data sources' trace-to-metrics links, with Grafana's macros and
variables replaced by values of the right shape, so that promtool and the extractors see what
Prometheus and Tempo would receive."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: Grafana's interval macros, as durations a query could receive.
MACROS = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1d",
    "__range_s": "86400",
    "__range_ms": "86400000",
    "__interval_ms": "60000",
}

_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]")


@dataclass(frozen=True)
class Query:
    """One query as a dashboard or data source holds it."""

    where: str  # e.g. "agent-otel-overview.json: panel 7 'Cost per day by model' A"
    datasource_uid: str
    language: str  # "promql" or "traceql"
    text: str
    labels: tuple[str, ...] = ()  # label names the query names outside its PromQL


def substitute(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``$var``, ``${var}``, ``${var:format}`` and ``[[var]]`` replaced;
    a name in neither ``values`` nor :data:`MACROS` raises ``KeyError`` naming it."""

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name in values:
            return values[name]
        if name in MACROS:
            return MACROS[name]
        raise KeyError(f"unknown Grafana variable ${name} in {text!r}")

    return _VARIABLE.sub(replace, text)


def variable_values(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """A value for each template variable: a textbox's or constant's default, ``.*`` (what
    "All" sends) for the others, which the dashboards only use inside regex matchers."""
    values: dict[str, str] = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") in ("textbox", "constant"):
            values[variable["name"]] = str(variable.get("query", ""))
        else:
            values[variable["name"]] = ".*"
    return values


def panels(dashboard: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every panel, rows' nested panels included (a collapsed row holds its own)."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(name: str, dashboard: Mapping[str, Any]) -> Iterator[Query]:
    """The queries of every panel target and query variable, as written (not substituted)."""
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable.get("query")
            text = query.get("query", "") if isinstance(query, Mapping) else str(query)
            where = f"{name}: variable {variable['name']}"
            expr, labels = variable_query(where, text)
            yield Query(where, _uid(variable.get("datasource")), "promql", expr, labels)
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            where = f"{name}: panel {panel.get('id')} {panel.get('title')!r} {target.get('refId')}"
            uid = _uid(target.get("datasource") or panel.get("datasource"))
            if "expr" in target:
                yield Query(where, uid, "promql", target["expr"])
            elif target.get("queryType") == "traceql":
                yield Query(where, uid, "traceql", target["query"])
            else:
                raise AssertionError(f"{where}: a target this check does not know: {target}")


_LABEL_VALUES = re.compile(r"label_values\((?P<expr>.+),\s*(?P<label>\w+)\s*\)", re.DOTALL)
_QUERY_RESULT = re.compile(r"query_result\((?P<expr>.+)\)", re.DOTALL)


def variable_query(where: str, text: str) -> tuple[str, tuple[str, ...]]:
    """The PromQL and the label a Prometheus template variable's query reads: Grafana's
    ``label_values(selector, label)`` and ``query_result(expr)``; anything else is refused."""
    if match := _LABEL_VALUES.fullmatch(text.strip()):
        return match["expr"], (match["label"],)
    if match := _QUERY_RESULT.fullmatch(text.strip()):
        return match["expr"], ()
    raise AssertionError(f"{where}: a variable query this check does not know: {text!r}")


def datasource_queries(datasource: Mapping[str, Any]) -> Iterator[Query]:
    """The PromQL of a trace data source's trace-to-metrics links."""
    links = datasource.get("jsonData", {}).get("tracesToMetrics", {})
    for query in links.get("queries", []):
        yield Query(
            f"data source {datasource['name']}: tracesToMetrics {query['name']!r}",
            links["datasourceUid"],
            "promql",
            query["query"],
        )


def unescape_provisioning(text: str, tags: str) -> str:
    """A provisioning file's ``$$`` is a literal ``$`` (a single ``$`` would be an environment
    variable); ``$__tags`` is what trace-to-metrics links fill with the span's tags."""
    return text.replace("$$", "$").replace("$__tags", tags)


def _uid(datasource: Any) -> str:
    if isinstance(datasource, Mapping):
        return str(datasource.get("uid", ""))
    return str(datasource or "")
