"""The attribute names a TraceQL query reads.

A tokenizer, not a TraceQL parser (Tempo parses the queries when they run; it cannot run
here). It finds every attribute reference — scoped (``span.x``, ``resource.x``, ``event.x``,
``link.x``, ``instrumentation.x``, also with a quoted name ``span."x y"``) and unscoped
(``.x``) — every scoped intrinsic (``span:duration``, ``event:name``), and the event names a
query compares ``event:name`` with. Every other bare word must be one TraceQL knows
(intrinsics such as ``duration`` or ``status``, their values, functions, keywords), so a
misspelt or unscoped attribute name fails instead of slipping through.

Grafana template variables must be replaced before (``grafana.substitute``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCOPES = ("span", "resource", "event", "link", "instrumentation")

#: Intrinsics and their values, functions and keywords of TraceQL (Tempo 2.x).
WORDS = frozenset(
    {
        # intrinsics
        "name",
        "status",
        "statusMessage",
        "kind",
        "duration",
        "rootName",
        "rootServiceName",
        "traceDuration",
        "nestedSetLeft",
        "nestedSetRight",
        "nestedSetParent",
        "childCount",
        # status and kind values, literals
        "error",
        "ok",
        "unset",
        "unspecified",
        "internal",
        "server",
        "client",
        "producer",
        "consumer",
        "true",
        "false",
        "nil",
        # pipeline functions and keywords
        "select",
        "by",
        "coalesce",
        "count",
        "avg",
        "min",
        "max",
        "sum",
        "with",
        # metrics functions
        "rate",
        "count_over_time",
        "min_over_time",
        "max_over_time",
        "avg_over_time",
        "sum_over_time",
        "quantile_over_time",
        "histogram_over_time",
        "compare",
        "topk",
        "bottomk",
    }
)

SCOPED_INTRINSICS = frozenset(
    {
        "span:name",
        "span:status",
        "span:statusMessage",
        "span:kind",
        "span:duration",
        "span:id",
        "span:parentID",
        "span:childCount",
        "trace:duration",
        "trace:rootName",
        "trace:rootService",
        "trace:id",
        "event:name",
        "event:timeSinceStart",
        "link:traceID",
        "link:spanID",
        "instrumentation:name",
        "instrumentation:version",
    }
)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<attribute>(?:(?P<scope>span|resource|event|link|instrumentation)\.|(?<![\w.])\.)
        (?:"(?P<quoted>(?:[^"\\]|\\.)+)"|(?P<plain>[A-Za-z_][\w.]*)))
    | (?P<intrinsic>[a-z]+:[A-Za-z]+)
    | (?P<string>"(?:[^"\\]|\\.)*"|`[^`]*`)
    | (?P<number>\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d)?)
    | (?P<word>[A-Za-z_]\w*)
    | (?P<op>&&|\|\||!=|=~|!~|>=|<=|>>|<<|&>>|&<<|&>|&<|&~|!>>|!<<|!>|!<|[{}()=<>!~|,+\-*/%^&])
    """,
    re.VERBOSE,
)


class TraceQLError(ValueError):
    """The query holds something this extractor does not know; the message says what."""


@dataclass(frozen=True)
class AttributeRef:
    scope: str  # one of SCOPES, or "" for an unscoped ``.name``
    name: str


@dataclass(frozen=True)
class TraceQLNames:
    attributes: tuple[AttributeRef, ...]
    intrinsics: frozenset[str]
    event_names: frozenset[str]


def extract(query: str) -> TraceQLNames:
    """The attribute references, scoped intrinsics and compared event names of ``query``."""
    attributes: list[AttributeRef] = []
    intrinsics: set[str] = set()
    event_names: set[str] = set()
    tokens: list[tuple[str, str]] = []
    at = 0
    while at < len(query):
        match = _TOKEN.match(query, at)
        if match is None:
            raise TraceQLError(f"unexpected character {query[at]!r} at offset {at} in {query!r}")
        kind = match.lastgroup or ""
        if match.group("attribute"):
            kind = "attribute"
            name = match.group("quoted") or match.group("plain") or ""
            attributes.append(AttributeRef(match.group("scope") or "", name))
        elif kind == "intrinsic":
            if match.group() not in SCOPED_INTRINSICS:
                raise TraceQLError(f"unknown intrinsic {match.group()!r} in {query!r}")
            intrinsics.add(match.group())
        elif kind == "word" and match.group() not in WORDS:
            raise TraceQLError(
                f"{match.group()!r} is neither an intrinsic nor a keyword of TraceQL (an "
                f"attribute needs a scope, e.g. span.{match.group()}) in {query!r}"
            )
        if kind != "space":
            tokens.append((kind, match.group()))
        at = match.end()
    for i, (kind, text) in enumerate(tokens[:-2]):
        if (kind, text) == ("intrinsic", "event:name") and tokens[i + 1][1] == "=":
            value_kind, value = tokens[i + 2]
            if value_kind == "string":
                event_names.add(value[1:-1])
    return TraceQLNames(tuple(attributes), frozenset(intrinsics), frozenset(event_names))
