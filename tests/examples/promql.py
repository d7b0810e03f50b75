"""The metric and label names a PromQL expression reads.

A small tokenizer and a walk over its tokens, not a full PromQL parser: whether an expression
parses at all is ``promtool``'s job (see ``test_deploy.py``). What this module must get right
is *which names* an expression depends on, so that a dashboard or a data-source link that
reads a metric or label our pipeline does not produce fails the tests:

- every vector selector, ``metric{label="v", ...}`` or ``{__name__="metric", ...}``, with the
  label names of its matchers;
- every label list of ``by``/``without``/``on``/``ignoring``/``group_left``/``group_right``;
- every function and aggregation called.

It refuses, with :class:`PromQLError`, what it cannot read honestly: ``label_replace`` and
``label_join`` (label names hidden in string arguments), selectors without a literal metric
name, unknown functions, unbalanced brackets. Grafana macros and template variables must be
replaced before (``grafana.substitute``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

AGGREGATIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)

FUNCTIONS = frozenset(
    {
        "abs",
        "absent",
        "absent_over_time",
        "acos",
        "acosh",
        "asin",
        "asinh",
        "atan",
        "atanh",
        "avg_over_time",
        "ceil",
        "changes",
        "clamp",
        "clamp_max",
        "clamp_min",
        "cos",
        "cosh",
        "count_over_time",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "days_in_month",
        "deg",
        "delta",
        "deriv",
        "exp",
        "floor",
        "histogram_avg",
        "histogram_count",
        "histogram_fraction",
        "histogram_quantile",
        "histogram_stddev",
        "histogram_stdvar",
        "histogram_sum",
        "holt_winters",
        "hour",
        "idelta",
        "increase",
        "irate",
        "label_join",
        "label_replace",
        "last_over_time",
        "ln",
        "log10",
        "log2",
        "mad_over_time",
        "max_over_time",
        "min_over_time",
        "minute",
        "month",
        "pi",
        "predict_linear",
        "present_over_time",
        "quantile_over_time",
        "rad",
        "rate",
        "resets",
        "round",
        "scalar",
        "sgn",
        "sin",
        "sinh",
        "sort",
        "sort_by_label",
        "sort_by_label_desc",
        "sort_desc",
        "sqrt",
        "stddev_over_time",
        "stdvar_over_time",
        "sum_over_time",
        "tan",
        "tanh",
        "time",
        "timestamp",
        "vector",
        "year",
    }
)

#: Functions whose string arguments name labels: not readable without a real parser.
UNSUPPORTED_FUNCTIONS = frozenset(
    {"label_replace", "label_join", "sort_by_label", "sort_by_label_desc"}
)

GROUPING_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
OTHER_KEYWORDS = frozenset({"bool", "and", "or", "unless", "offset", "atan2", "inf", "nan"})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<number>(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)[a-zA-Z0-9]*)
    | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],@])
    """,
    re.VERBOSE,
)


class PromQLError(ValueError):
    """The expression cannot be read by this extractor; the message says where and why."""


@dataclass(frozen=True)
class Selector:
    """One vector selector: its metric name and the label names its matchers use."""

    metric: str
    labels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PromQLNames:
    selectors: tuple[Selector, ...] = ()
    grouping_labels: frozenset[str] = frozenset()
    functions: frozenset[str] = frozenset()

    @property
    def metrics(self) -> frozenset[str]:
        return frozenset(s.metric for s in self.selectors)


@dataclass
class _Token:
    kind: str
    text: str
    at: int


@dataclass
class _Walk:
    expr: str
    tokens: list[_Token]
    i: int = 0
    selectors: list[Selector] = field(default_factory=list)
    grouping: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise PromQLError(f"unexpected end of {self.expr!r}")
        self.i += 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.take()
        if token.text != text:
            raise self.error(token, f"expected {text!r}")
        return token

    def error(self, token: _Token, why: str) -> PromQLError:
        return PromQLError(f"{why} at {token.text!r} (offset {token.at}) in {self.expr!r}")


def tokenize(expr: str) -> list[_Token]:
    tokens: list[_Token] = []
    at = 0
    while at < len(expr):
        match = _TOKEN.match(expr, at)
        if match is None:
            raise PromQLError(f"unexpected character {expr[at]!r} at offset {at} in {expr!r}")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), at))
        at = match.end()
    return tokens


def extract(expr: str) -> PromQLNames:
    """The names ``expr`` reads; raises :class:`PromQLError` if it cannot tell honestly."""
    walk = _Walk(expr, tokenize(expr))
    open_parens = 0
    while walk.peek() is not None:
        token = walk.take()
        if token.kind == "ident":
            _identifier(walk, token)
        elif token.text == "{":
            walk.i -= 1
            _selector(walk, None)
        elif token.text == "[":
            _skip_range(walk, token)
        elif token.text == "(":
            open_parens += 1
        elif token.text == ")":
            if not open_parens:
                raise walk.error(token, "unbalanced ')'")
            open_parens -= 1
        elif token.text in ("]", "}"):
            raise walk.error(token, f"unbalanced {token.text!r}")
    if open_parens:
        raise PromQLError(f"unclosed '(' in {expr!r}")
    return PromQLNames(
        selectors=tuple(walk.selectors),
        grouping_labels=frozenset(walk.grouping),
        functions=frozenset(walk.functions),
    )


def _identifier(walk: _Walk, token: _Token) -> None:
    name = token.text
    following = walk.peek()
    if name in GROUPING_KEYWORDS:
        if following is not None and following.text == "(":
            walk.grouping.update(_label_list(walk))
        elif name not in ("group_left", "group_right"):
            raise walk.error(token, f"{name} without a label list")
        return
    if name in OTHER_KEYWORDS:
        return
    if (
        name in AGGREGATIONS
        and following is not None
        and (following.text == "(" or following.text in ("by", "without"))
    ):
        walk.functions.add(name)
        return
    if following is not None and following.text == "(":
        if name in ("start", "end") and _after_at(walk):
            return
        if name not in FUNCTIONS:
            raise walk.error(token, "unknown function")
        if name in UNSUPPORTED_FUNCTIONS:
            raise walk.error(token, "label names in string arguments cannot be checked")
        walk.functions.add(name)
        return
    _selector(walk, name)


def _after_at(walk: _Walk) -> bool:
    previous = walk.tokens[walk.i - 2] if walk.i >= 2 else None
    return previous is not None and previous.text == "@"


def _label_list(walk: _Walk) -> list[str]:
    walk.expect("(")
    labels: list[str] = []
    while True:
        token = walk.take()
        if token.text == ")":
            return labels
        if token.kind != "ident":
            raise walk.error(token, "expected a label name")
        labels.append(token.text)
        separator = walk.take()
        if separator.text == ")":
            return labels
        if separator.text != ",":
            raise walk.error(separator, "expected ',' or ')'")


def _selector(walk: _Walk, metric: str | None) -> None:
    labels: set[str] = set()
    following = walk.peek()
    if following is not None and following.text == "{":
        walk.take()
        while True:
            token = walk.take()
            if token.text == "}":
                break
            if token.kind != "ident":
                raise walk.error(token, "expected a label name in a matcher")
            operator = walk.take()
            if operator.text not in ("=", "!=", "=~", "!~"):
                raise walk.error(operator, "expected a matcher operator")
            value = walk.take()
            if value.kind != "string":
                raise walk.error(value, "expected a quoted label value")
            if token.text == "__name__":
                if operator.text != "=":
                    raise walk.error(token, "only a literal metric name can be checked")
                metric = value.text[1:-1]
            else:
                labels.add(token.text)
            separator = walk.take()
            if separator.text == "}":
                break
            if separator.text != ",":
                raise walk.error(separator, "expected ',' or '}'")
    if metric is None:
        raise PromQLError(f"a selector without a metric name in {walk.expr!r}")
    walk.selectors.append(Selector(metric, frozenset(labels)))


_RANGE = re.compile(r"\s*(?:\d+[a-z]+)+\s*(?::\s*(?:(?:\d+[a-z]+)+)?\s*)?")


def _skip_range(walk: _Walk, opening: _Token) -> None:
    """A range ``[5m]`` or subquery ``[1h:5m]``: durations only, no names to collect."""
    close = walk.expr.find("]", opening.at)
    if close < 0:
        raise walk.error(opening, "unclosed '['")
    if not _RANGE.fullmatch(walk.expr, opening.at + 1, close):
        raise walk.error(opening, "expected a duration range")
    while (token := walk.peek()) is not None and token.at <= close:
        walk.take()
