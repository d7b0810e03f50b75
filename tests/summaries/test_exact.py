"""Exact arithmetic: a generated workload run through the real library, summarised by
agent_otel.summaries, equals a brute-force recomputation from what the workload did."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import pytest

import agent_otel
from agent_otel.facts import SessionFacts
from agent_otel.summaries import facts_from_session

from . import brute_force
from .workload import BOUNDARY_STARTS, SessionSpec, generate, install_clock, run


@pytest.fixture(scope="module")
def specs() -> list[SessionSpec]:
    return generate()


@pytest.fixture
def facts(
    tel, monkeypatch: pytest.MonkeyPatch, specs: list[SessionSpec]
) -> Iterator[list[SessionFacts]]:  # type: ignore[no-untyped-def]
    clock = install_clock(monkeypatch.setattr)
    run(specs, tel.other_tracer("fake-llm-client"), clock)
    sessions = tel.sessions()
    assert [s.id for s in sessions] == [
        spec.session_id for spec in sorted(specs, key=lambda spec: spec.start)
    ]
    yield [facts_from_session(s) for s in sessions]


def test_the_workload_covers_what_it_must(specs: list[SessionSpec]) -> None:
    expected = [brute_force.expected_session(s) for s in specs]
    statuses = {status for e in expected for status in e.by_status}
    assert statuses == {"success", "failed", "blocked", "pending"}
    assert {e.user for e in expected} == {"alice", "bob", "carol", "dave"}
    assert {e.project for e in expected} == {"shop", "infra", "billing"}
    assert len({e.day for e in expected}) > 15
    calls = [c for s in specs for op in s.ops for c in op.calls] + [
        c for s in specs for c in s.calls_outside
    ]
    assert any(c.cache_read_tokens for c in calls) and any(c.cache_creation_tokens for c in calls)
    assert any(c.nested for c in calls) and any(c.cost == 0 for c in calls)
    assert "unknown" in {c.model for c in calls}
    assert any(op.added for s in specs for op in s.ops)
    assert {s.ending for s in specs} == {"complete", "fail", "cancel"}
    # Sessions with only blocked/pending operations, and with none, exist (success rate None).
    assert any(not e.operations for e in expected)


def test_session_facts_match_the_specs(facts: list[SessionFacts], specs: list[SessionSpec]) -> None:
    by_id = {spec.session_id: spec for spec in specs}
    for f in facts:
        spec = by_id[f.session_id]
        e = brute_force.expected_session(spec)
        assert f.started_at == spec.start  # the session's own start, to the microsecond
        assert (f.user_id, f.project) == (e.user, e.project)
        assert f.total_tokens == e.tokens
        assert f.total_cost == float(e.cost)
        assert dict(f.operations_by_type) == e.by_type
        assert dict(f.operations_by_status) == e.by_status
        assert dict(f.cost_by_model) == {m: float(c) for m, c in e.cost_by_model.items()}
        assert Fraction(f.total_cost) == sum(map(Fraction, f.cost_by_model.values()))
        expected_status = {"complete": "completed", "fail": "failed", "cancel": "cancelled"}
        assert f.status == expected_status[spec.ending]


def test_daily_summaries_equal_the_brute_force(
    facts: list[SessionFacts], specs: list[SessionSpec]
) -> None:
    summaries = agent_otel.daily_summaries(facts)
    assert summaries == brute_force.daily(specs)
    assert any(d.success_rate is None for d in summaries)
    assert any(d.success_rate not in (None, 0.0, 1.0) for d in summaries)
    # Everything is counted exactly once.
    assert sum(d.session_count for d in summaries) == len(specs)
    assert sum(map(Fraction, (d.total_cost for d in summaries))) == sum(
        brute_force.expected_session(s).cost for s in specs
    )


def test_a_session_past_midnight_counts_on_the_day_it_started(
    tel,  # type: ignore[no-untyped-def]
    facts: list[SessionFacts],
    specs: list[SessionSpec],
) -> None:
    late = next(s for s in tel.sessions() if s.started_at == BOUNDARY_STARTS[0])
    assert late.ended_at is not None and late.ended_at.date() > late.started_at.date()
    sunday = agent_otel.daily_summaries(facts, day=BOUNDARY_STARTS[0].date(), user=late.user_id)
    assert sunday == [
        d
        for d in brute_force.daily(specs)
        if d.date == BOUNDARY_STARTS[0].date() and d.user_id == late.user_id
    ]
    assert sunday[0].operation_count >= 400


@pytest.mark.parametrize("user", ["alice", "dave", "nobody"])
def test_daily_filter_by_user(
    facts: list[SessionFacts], specs: list[SessionSpec], user: str
) -> None:
    expected = [d for d in brute_force.daily(specs) if d.user_id == user]
    assert agent_otel.daily_summaries(facts, user=user) == expected
    assert bool(expected) == (user != "nobody")


def test_daily_filter_by_day_and_user(facts: list[SessionFacts], specs: list[SessionSpec]) -> None:
    for start in BOUNDARY_STARTS:
        day = start.date()
        expected = [d for d in brute_force.daily(specs) if d.date == day]
        assert expected
        assert agent_otel.daily_summaries(facts, day=day) == expected
        for d in expected:
            assert agent_otel.daily_summaries(facts, day=day, user=d.user_id) == [d]


@pytest.mark.parametrize("period", ["day", "week", "month"])
def test_project_summaries_equal_the_brute_force(
    facts: list[SessionFacts], specs: list[SessionSpec], period: str
) -> None:
    summaries = agent_otel.project_summaries(facts, period)  # type: ignore[arg-type]
    assert summaries == brute_force.projects(specs, period)
    assert sum(map(Fraction, (p.total_cost for p in summaries))) == sum(
        brute_force.expected_session(s).cost for s in specs
    )


@pytest.mark.parametrize("top", [0, 1, 2, 10])
def test_project_summaries_top(
    facts: list[SessionFacts], specs: list[SessionSpec], top: int
) -> None:
    assert agent_otel.project_summaries(facts, "week", top=top) == brute_force.projects(
        specs, "week", top
    )


def test_week_and_month_boundaries(facts: list[SessionFacts]) -> None:
    weeks = {p.period_label for p in agent_otel.project_summaries(facts, "week")}
    assert {"2026-W47", "2026-W48", "2026-W49", "2026-W50", "2026-W53", "2027-W01"} <= weeks
    months = {p.period_label for p in agent_otel.project_summaries(facts, "month")}
    assert months == {"2026-11", "2026-12", "2027-01"}
    sunday, monday = BOUNDARY_STARTS[1], BOUNDARY_STARTS[2]
    by_start = {f.started_at: f for f in facts}
    for moment, label in ((sunday, "2026-W48"), (monday, "2026-W49")):
        f = by_start[moment]
        rows = [p for p in agent_otel.project_summaries([f], "week") if p.project_id == f.project]
        assert [r.period_label for r in rows] == [label]


def test_input_order_does_not_change_anything(facts: list[SessionFacts]) -> None:
    shuffled = list(reversed(facts[::2])) + facts[1::2]
    assert agent_otel.daily_summaries(shuffled) == agent_otel.daily_summaries(facts)
    for period in ("day", "week", "month"):
        assert agent_otel.project_summaries(iter(shuffled), period) == (  # type: ignore[arg-type]
            agent_otel.project_summaries(facts, period)  # type: ignore[arg-type]
        )
