"""Any attribute of a stored span may hold any type of value, and every view still works.

OTLP lets any attribute hold any ``AnyValue`` — a key-value list, an array, bytes — and
another tool (or a hand-edited file) may send ``session.id`` as a list or
``gen_ai.operation.name`` as a number. The store keeps such values as they came (a kvlist
becomes a dict, an array a tuple), so every view — ``sessions`` (through the index),
``show``, ``summary``, ``report``, ``export`` — must take them: a value of the wrong type
counts as missing or is shown as it is, and no command fails.

The spans are those the real library writes for the report tests
(tests/report/write_store.py, in its own process: instrumented OpenAI calls, one of them
failed, changes, an undo, blocked and failed operations, several users, days and projects);
each variant replaces every value of one attribute key, or of all keys at once, by a value
of another type.
"""

from __future__ import annotations

import base64
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_otel import AgentOtelWarning
from agent_otel import semconv as sc
from agent_otel.cli import main
from tests.report.agent import HOSTILE_ID
from tests.report.write_store import write_in_a_process

# OTLP JSON AnyValues of every type, none of them what any agent-otel attribute holds.
KVLIST = {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}
ARRAY = {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}}
OTHER_TYPES: dict[str, dict[str, Any]] = {
    "kvlist": KVLIST,
    "array": ARRAY,
    "empty array": {"arrayValue": {}},
    "bytes": {"bytesValue": base64.b64encode(b"\x00\xff").decode()},
    "bool": {"boolValue": True},
    "negative int": {"intValue": "-3"},
    "huge int": {"intValue": str(2**63 - 1)},
    "NaN": {"doubleValue": "NaN"},
    "infinity": {"doubleValue": "Infinity"},
    "empty string": {"stringValue": ""},
    "no value": {},
}


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The lines of a store written by the real library, parsed."""
    traces = write_in_a_process(tmp_path_factory.mktemp("written"))
    return [json.loads(line) for line in traces.read_bytes().splitlines()]


def _attribute_lists(node: Any) -> Iterator[list[dict[str, Any]]]:
    """Every ``attributes`` list in a parsed OTLP JSON line (resource, spans, events, links)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "attributes" and isinstance(value, list):
                yield value
            else:
                yield from _attribute_lists(value)
    elif isinstance(node, list):
        for item in node:
            yield from _attribute_lists(item)


def _keys(lines: list[dict[str, Any]]) -> list[str]:
    return sorted({kv["key"] for line in lines for kvs in _attribute_lists(line) for kv in kvs})


def _trace_of(lines: list[dict[str, Any]], session_id: str) -> str:
    """The trace id of the session span of ``session_id``."""
    for line in lines:
        for resource in line.get("resourceSpans", ()):
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    values = {kv["key"]: kv["value"] for kv in span.get("attributes", ())}
                    if values.get(sc.SESSION_ID) == {"stringValue": session_id}:
                        return str(span["traceId"])
    raise AssertionError(f"no span of session {session_id}")


def _variant(lines: list[dict[str, Any]], keys: set[str] | None, value: dict[str, Any]) -> str:
    """The store's text with every value of ``keys`` (all keys: None) replaced by ``value``."""
    copies = json.loads(json.dumps(lines))
    for line in copies:
        for kvs in _attribute_lists(line):
            for kv in kvs:
                if keys is None or kv["key"] in keys:
                    kv["value"] = value
    return "".join(json.dumps(line) + "\n" for line in copies)


def _run(store: Path, *argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Run a command in-process (an exception of ours fails the test with its traceback)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AgentOtelWarning)
        status = main(["--store", str(store), *argv])
    out, err = capsys.readouterr()
    assert status == 0, (argv, err)
    return out


def _strict_json(text: str) -> Any:
    """JSON as RFC 8259 has it: no NaN or Infinity, which jq and browsers reject."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in JSON output")

    return json.loads(text, parse_constant=refuse)


def _all_views(store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = _strict_json(_run(store, "sessions", "--json", capsys=capsys))
    _run(store, "sessions", "--sort", "cost", capsys=capsys)
    _run(store, "summary", "--daily", capsys=capsys)
    _run(store, "summary", "--project", "--period", "week", capsys=capsys)
    for row in listed:  # by trace id: the session ids may now all read the same
        _run(store, "show", row["trace_id"], capsys=capsys)
        _strict_json(_run(store, "show", row["trace_id"], "--json", capsys=capsys))
    _run(store, "report", "-o", str(tmp_path / "report.html"), capsys=capsys)


@pytest.mark.parametrize("kind", sorted(OTHER_TYPES))
def test_every_attribute_of_another_type(
    kind: str, lines: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    store.mkdir()
    (store / "traces.jsonl").write_text(_variant(lines, None, OTHER_TYPES[kind]))
    _all_views(store, tmp_path, capsys)


def test_each_attribute_as_a_kvlist_or_an_array(
    lines: list[dict[str, Any]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One key at a time, so that each attribute meets the others as they were written."""
    keys = _keys(lines)
    hostile = _trace_of(lines, HOSTILE_ID)
    assert len(keys) > 40  # the written store holds the semconv attributes
    for number, key in enumerate(keys):
        for kind, value in (("kvlist", KVLIST), ("array", ARRAY)):
            store = tmp_path / f"{number}-{kind.replace(' ', '-')}"
            store.mkdir()
            (store / "traces.jsonl").write_text(_variant(lines, {key}, value))
            _strict_json(_run(store, "sessions", "--json", capsys=capsys))
            _run(store, "summary", "--daily", capsys=capsys)
            _run(store, "summary", "--project", capsys=capsys)
            _run(store, "show", hostile, capsys=capsys)
            _run(store, "report", "-o", str(store / "report.html"), capsys=capsys)
