"""The store's reader takes any file: damaged, hostile or from another tool.

A store file is input like any other — a crash mid-write, a full disk, another program's
OTLP JSON, a file planted in the store directory — so reading it must never raise: each
line that is not valid OTLP JSON is skipped with one AgentOtelWarning naming the file and
line, and every other line is read. Hypothesis writes arbitrary bytes, and valid lines with
one field replaced by an arbitrary JSON value; the spans read are then turned into the typed
records, which must not raise either.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import agent_otel
from agent_otel import AgentOtelWarning
from agent_otel import semconv as sc
from agent_otel.store import read_spans
from tests.security.test_api import PROPERTIES

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.floats(),  # NaN and infinities become bare NaN/Infinity, which json.loads accepts
        st.text(st.characters(exclude_categories=()), max_size=20),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=12,
)


def _kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


def valid_line() -> dict[str, Any]:
    """A session span with an operation child carrying a change event, as the store holds
    them."""
    trace = "5b8efff798038103d269b633813fc60c"
    session_attrs = [
        _kv(sc.SESSION_ID, {"stringValue": "s-1"}),
        _kv(sc.AGENT_SESSION_STATUS, {"stringValue": "completed"}),
        _kv(sc.AGENT_SESSION_TOTAL_TOKENS, {"intValue": "12"}),
        _kv(sc.AGENT_SESSION_TOTAL_COST, {"doubleValue": 0.5}),
    ]
    op_attrs = [
        _kv(sc.AGENT_OPERATION_TYPE, {"stringValue": "write"}),
        _kv(sc.AGENT_OPERATION_STATUS, {"stringValue": "success"}),
        _kv(sc.SESSION_ID, {"stringValue": "s-1"}),
    ]
    change = {
        "timeUnixNano": "1700000000500000000",
        "name": sc.EVENT_AGENT_CHANGE,
        "attributes": [
            _kv(sc.AGENT_CHANGE_ID, {"stringValue": "c-1"}),
            _kv(sc.FILE_PATH, {"stringValue": "a.py"}),
            _kv(sc.AGENT_CHANGE_DIFF_LINES, {"intValue": "2"}),
        ],
    }
    spans = [
        {
            "traceId": trace,
            "spanId": "eee19b7ec3c1b174",
            "name": sc.SPAN_AGENT_SESSION,
            "kind": 1,
            "startTimeUnixNano": "1700000000000000000",
            "endTimeUnixNano": "1700000001000000000",
            "attributes": session_attrs,
            "status": {},
        },
        {
            "traceId": trace,
            "spanId": "eee19b7ec3c1b175",
            "parentSpanId": "eee19b7ec3c1b174",
            "name": "execute_tool write",
            "kind": 1,
            "startTimeUnixNano": "1700000000100000000",
            "endTimeUnixNano": "1700000000900000000",
            "attributes": op_attrs,
            "events": [change],
            "links": [{"traceId": trace, "spanId": "eee19b7ec3c1b176", "attributes": []}],
            "status": {"code": 2, "message": "boom"},
        },
    ]
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {}, "spans": spans}]}]}


# Where one field of a valid line is replaced: (path of keys and indexes).
SPAN = ("resourceSpans", 0, "scopeSpans", 0, "spans", 1)
EVENT = (*SPAN, "events", 0)
FIELDS = [
    ("resourceSpans",),
    ("resourceSpans", 0, "resource"),
    ("resourceSpans", 0, "scopeSpans"),
    ("resourceSpans", 0, "scopeSpans", 0, "scope"),
    ("resourceSpans", 0, "scopeSpans", 0, "spans"),
    *((*SPAN, key) for key in ("traceId", "spanId", "parentSpanId", "name", "kind")),
    *((*SPAN, key) for key in ("startTimeUnixNano", "endTimeUnixNano", "attributes")),
    *((*SPAN, key) for key in ("events", "links", "status")),
    (*SPAN, "status", "code"),
    (*SPAN, "attributes", 0, "key"),
    (*SPAN, "attributes", 0, "value"),
    (*SPAN, "attributes", 1, "value", "stringValue"),
    (*EVENT, "timeUnixNano"),
    (*EVENT, "name"),
    (*EVENT, "attributes", 0, "value"),
    (*EVENT, "attributes", 2, "value", "intValue"),
    ("resourceSpans", 0, "scopeSpans", 0, "spans", 0, "attributes", 2, "value"),
]


def _replace(message: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    target: Any = message
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return message


damaged_lines = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda path, value: json.dumps(_replace(valid_line(), path, value)).encode(),
        st.sampled_from(FIELDS),
        json_values,
    ),
    st.sampled_from([b"[" * 100_000, b'{"resourceSpans": ' * 50_000, b"\xff\xfe\x00"]),
)


def _read(path: Path) -> tuple[list[Any], list[warnings.WarningMessage]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spans = list(read_spans(path))
        agent_otel.sessions_from_spans(spans)
    return spans, caught


@PROPERTIES
@given(lines=st.lists(damaged_lines, min_size=1, max_size=4))
def test_damaged_lines_are_skipped_with_a_warning_and_the_rest_is_read(
    lines: list[bytes], tmp_path_factory: Any
) -> None:
    path = tmp_path_factory.mktemp("store") / "traces.jsonl"
    good = json.dumps(valid_line()).encode()
    path.write_bytes(b"\n".join([good, *lines, good]) + b"\n")
    spans, caught = _read(path)
    assert all(issubclass(w.category, AgentOtelWarning) for w in caught), caught
    assert len(caught) <= len(lines)  # one warning per skipped line, at most
    assert len(spans) >= 4  # the two good lines around them
    for warning in caught:
        assert str(path) in str(warning.message)


def test_a_valid_line_reads_as_a_session_with_its_operation_and_change(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text(json.dumps(valid_line()) + "\n")
    spans, caught = _read(path)
    assert not caught
    (session,) = agent_otel.sessions_from_spans(spans)
    (operation,) = session.operations
    assert operation.changes[0].path == "a.py"


def test_timestamps_out_of_range_skip_the_line(tmp_path: Path) -> None:
    """Found by the property above: a timestamp past the year 2554 (or a JSON number too
    large for a float) used to raise OverflowError / ValueError out of the reader or out of
    the records built from it."""
    path = tmp_path / "traces.jsonl"
    lines = []
    for value in (str(2**70), 1e400, "-5", 1.5e19 * 2):
        lines.append(json.dumps(_replace(valid_line(), (*SPAN, "startTimeUnixNano"), value)))
    path.write_text("\n".join(lines) + "\n")
    spans, caught = _read(path)
    assert spans == []
    assert len(caught) == 4
    assert all("timestamp" in str(w.message) for w in caught)
