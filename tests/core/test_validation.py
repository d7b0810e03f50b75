"""Bad input: one clear warning and the telemetry kept in normal mode; an error in strict mode."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

import agent_otel
from agent_otel import AgentOtelWarning
from agent_otel import semconv as sc

# (what is done wrong, the call, the exception strict mode raises, text the message must hold)
CASES: list[tuple[str, Callable[[], object], type[Exception], str]] = []


def case(exc: type[Exception], match: str):  # type: ignore[no-untyped-def]
    def register(fn: Callable[[], object]) -> Callable[[], object]:
        CASES.append((fn.__name__, fn, exc, match))
        return fn

    return register


@case(ValueError, r"type='delete' is not allowed; use one of read, write, execute, query")
def unknown_operation_type() -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("delete", "a.py"):
        pass


@case(ValueError, r"status='done' is not allowed; use one of success, failed, blocked, pending")
def unknown_operation_status() -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("read", "a.py") as op:
        op.set_status("done")


@case(TypeError, r"model_tier must be an integer \(1\.\.4\), got the string '2'")
def model_tier_as_string() -> None:
    with agent_otel.session(user_id="u", model_tier="2"):  # type: ignore[arg-type]
        pass


@case(ValueError, r"model_tier=7 is out of range \(1\.\.4\)")
def model_tier_out_of_range() -> None:
    with agent_otel.session(user_id="u", model_tier=7):
        pass


@case(TypeError, r"temperature must be a finite number >= 0, got str 'hot'")
def temperature_not_a_number() -> None:
    with agent_otel.session(user_id="u", temperature="hot"):  # type: ignore[arg-type]
        pass


@case(TypeError, r"user_id must be a string, got int 42")
def user_id_wrong_type() -> None:
    with agent_otel.session(user_id=42):  # type: ignore[arg-type]
        pass


@case(ValueError, r"input_tokens=-5 is out of range \(>= 0\)")
def negative_token_count() -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("query", "q") as op:
        op.add_usage(input_tokens=-5, output_tokens=3)


@case(ValueError, r"change_type='rename' is not allowed; use one of create, modify, delete")
def unknown_change_type() -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("write", "a.py") as op:
        op.record_change("a.py", "rename", before="a", after="b")


@case(TypeError, r"before must be str or bytes \(the file's content\), got int")
def change_content_wrong_type() -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("write", "a.py") as op:
        op.record_change("a.py", "modify", before=123, after="b")  # type: ignore[arg-type]


@case(ValueError, r"no active session for operation 'read a\.py'")
def missing_session() -> None:
    with agent_otel.operation("read", "a.py"):
        pass


@case(TypeError, r"undoes must be the ChangeRecord returned by record_change\(\), got str")
def undoes_wrong_type() -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("write", "a", undoes="c1"):  # type: ignore[arg-type]
        pass


IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("name", "call", "exc", "match"), CASES, ids=IDS)
def test_normal_mode_warns_once_and_keeps_telemetry(tel, name, call, exc, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.warns(AgentOtelWarning, match=match) as record:
        call()
    ours = [w for w in record if issubclass(w.category, AgentOtelWarning)]
    assert len(ours) == 1, [str(w.message) for w in ours]
    # The warning points at the caller's line in this file, not at agent-otel's internals.
    assert ours[0].filename == __file__
    # Telemetry was still recorded: the spans exist and ended.
    assert tel.spans(), "no span was recorded"
    assert all(s.end_time is not None for s in tel.spans())


@pytest.mark.parametrize(("name", "call", "exc", "match"), CASES, ids=IDS)
def test_strict_mode_raises(tel, strict, name, call, exc, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(exc, match=match):
        call()


def test_what_normal_mode_records(tel) -> None:
    with pytest.warns(AgentOtelWarning):
        unknown_operation_type()
        model_tier_as_string()
        negative_token_count()
    spans = {s.name: s for s in tel.spans()}
    assert spans["execute_tool delete"].attributes[sc.AGENT_OPERATION_TYPE] == "delete"
    tiers = [
        s.attributes.get(sc.AGENT_SESSION_MODEL_TIER)
        for s in tel.spans()
        if s.name == "agent.session"
    ]
    assert 2 in tiers  # "2" was converted
    query = spans["execute_tool query"].attributes
    assert query[sc.GEN_AI_USAGE_INPUT_TOKENS] == 0  # the negative count was dropped
    assert query[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 3  # the valid one was kept


def test_missing_session_operation_is_still_a_span(tel) -> None:
    with pytest.warns(AgentOtelWarning, match="no active session"):
        missing_session()
    span = tel.span("execute_tool read")
    assert span.attributes[sc.AGENT_OPERATION_STATUS] == "success"
    assert sc.SESSION_ID not in span.attributes


def test_lifecycle_misuse_is_reported_not_raised(tel) -> None:
    s = agent_otel.session(user_id="u")
    with pytest.warns(AgentOtelWarning, match=re.escape("has not started")):
        s.pause()
    with s, pytest.warns(AgentOtelWarning, match="not paused"):
        s.resume()
    with pytest.warns(AgentOtelWarning, match="has ended"):
        s.fail("late")
    assert s.status == "completed"
