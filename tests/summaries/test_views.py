"""The period logic and the definitions, on hand-built SessionFacts with chosen datetimes,
and facts_from_session on real sessions for the cost-attribution rules."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime, timedelta, timezone

import pytest

import agent_otel
from agent_otel import semconv as sc
from agent_otel import summaries
from agent_otel.facts import SessionFacts
from agent_otel.summaries import (
    DailySummary,
    ModelCost,
    OperationCount,
    ProjectSummary,
    facts_from_session,
)

UTC = timezone.utc


def fact(
    started_at: datetime,
    *,
    user: str | None = "alice",
    project: str | None = "shop",
    tokens: int = 0,
    cost: float = 0.0,
    types: dict[str, int] | None = None,
    statuses: dict[str, int] | None = None,
    models: dict[str, float] | None = None,
    session_id: str = "s",
) -> SessionFacts:
    return SessionFacts(
        session_id=session_id,
        user_id=user,
        project=project,
        started_at=started_at,
        status="completed",
        total_tokens=tokens,
        total_cost=cost,
        operations_by_type=types or {},
        operations_by_status=statuses or {},
        cost_by_model=models or {},
    )


def test_public_api() -> None:
    assert agent_otel.DailySummary is DailySummary
    assert agent_otel.ProjectSummary is ProjectSummary
    assert agent_otel.SessionFacts is SessionFacts
    assert agent_otel.daily_summaries is summaries.daily_summaries
    assert agent_otel.project_summaries is summaries.project_summaries
    assert callable(agent_otel.summaries.from_store)
    for name in ("DailySummary", "ProjectSummary", "SessionFacts"):
        assert name in agent_otel.__all__
    assert [f.name for f in dataclasses.fields(DailySummary)] == [
        "date",
        "user_id",
        "session_count",
        "operation_count",
        "total_tokens",
        "total_cost",
        "success_rate",
        "blocked_operations",
    ]
    assert [f.name for f in dataclasses.fields(ProjectSummary)] == [
        "project_id",
        "period",
        "period_start",
        "period_label",
        "active_users",
        "total_cost",
        "top_models",
        "top_operations",
    ]


def test_records_are_immutable() -> None:
    d = agent_otel.daily_summaries([fact(datetime(2026, 11, 27, tzinfo=UTC))])[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.total_cost = 1.0  # type: ignore[misc]
    p = agent_otel.project_summaries([fact(datetime(2026, 11, 27, tzinfo=UTC))])[0]
    assert isinstance(p.top_models, tuple) and isinstance(p.top_operations, tuple)


# -- periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "day", "week", "month"),
    [
        # Sunday and Monday: different ISO weeks
        (
            datetime(2026, 11, 29, 23, 59, 59, 999999, tzinfo=UTC),
            "2026-11-29",
            "2026-W48",
            "2026-11",
        ),
        (datetime(2026, 11, 30, 0, 0, tzinfo=UTC), "2026-11-30", "2026-W49", "2026-11"),
        (datetime(2026, 12, 1, 0, 0, tzinfo=UTC), "2026-12-01", "2026-W49", "2026-12"),
        # ISO year differs from the calendar year at both ends
        (datetime(2027, 1, 3, 12, tzinfo=UTC), "2027-01-03", "2026-W53", "2027-01"),
        (datetime(2027, 1, 4, tzinfo=UTC), "2027-01-04", "2027-W01", "2027-01"),
        (datetime(2024, 12, 30, tzinfo=UTC), "2024-12-30", "2025-W01", "2024-12"),
        # A leap day
        (datetime(2028, 2, 29, 8, tzinfo=UTC), "2028-02-29", "2028-W09", "2028-02"),
        # Another zone: 00:30 at +02:00 is still Sunday 22:30 UTC
        (
            datetime(2026, 11, 30, 0, 30, tzinfo=timezone(timedelta(hours=2))),
            "2026-11-29",
            "2026-W48",
            "2026-11",
        ),
        # 20:00 at -05:00 on the 31st is already the 1st in UTC
        (
            datetime(2026, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))),
            "2027-01-01",
            "2026-W53",
            "2027-01",
        ),
        # A naive datetime is taken to be UTC
        (datetime(2026, 11, 29, 23, 0), "2026-11-29", "2026-W48", "2026-11"),
    ],
)
def test_periods_are_cut_in_utc(moment: datetime, day: str, week: str, month: str) -> None:
    f = fact(moment)
    assert [d.date.isoformat() for d in agent_otel.daily_summaries([f])] == [day]
    labels = {
        period: [p.period_label for p in agent_otel.project_summaries([f], period)]  # type: ignore[arg-type]
        for period in ("day", "week", "month")
    }
    assert labels == {"day": [day], "week": [week], "month": [month]}
    (weekly,) = agent_otel.project_summaries([f], "week")
    assert weekly.period_start.isoweekday() == 1
    assert weekly.period_start <= date.fromisoformat(day) < weekly.period_start + timedelta(7)
    (monthly,) = agent_otel.project_summaries([f], "month")
    assert monthly.period_start == date.fromisoformat(day).replace(day=1)


def test_sunday_and_monday_sessions_split_weeks_but_share_a_month() -> None:
    sunday = fact(datetime(2026, 11, 29, 22, tzinfo=UTC), cost=1.5, user="a")
    monday = fact(datetime(2026, 11, 30, 1, tzinfo=UTC), cost=2.25, user="b")
    weeks = agent_otel.project_summaries([sunday, monday], "week")
    assert [(w.period_label, w.period_start, w.total_cost, w.active_users) for w in weeks] == [
        ("2026-W48", date(2026, 11, 23), 1.5, 1),
        ("2026-W49", date(2026, 11, 30), 2.25, 1),
    ]
    (month,) = agent_otel.project_summaries([sunday, monday], "month")
    assert (month.period_label, month.total_cost, month.active_users) == ("2026-11", 3.75, 2)


# -- definitions ----------------------------------------------------------------------------


def test_success_rate_counts_only_operations_that_ran() -> None:
    t = datetime(2026, 11, 27, 9, tzinfo=UTC)
    only_blocked = fact(t, user="a", statuses={"blocked": 2, "pending": 1})
    mixed = fact(t, user="b", statuses={"success": 3, "failed": 1, "blocked": 4, "pending": 2})
    none = fact(t, user="c")
    rows = {d.user_id: d for d in agent_otel.daily_summaries([only_blocked, mixed, none])}
    assert (rows["a"].success_rate, rows["a"].blocked_operations, rows["a"].operation_count) == (
        None,
        2,
        3,
    )
    assert (rows["b"].success_rate, rows["b"].blocked_operations, rows["b"].operation_count) == (
        0.75,
        4,
        10,
    )
    assert (rows["c"].success_rate, rows["c"].operation_count) == (None, 0)


def test_daily_groups_by_day_and_user_and_sorts() -> None:
    t = datetime(2026, 11, 27, 9, tzinfo=UTC)
    facts = [
        fact(t + timedelta(days=1), user="bob", tokens=5, cost=0.5),
        fact(t, user=None, tokens=1, cost=0.25),
        fact(t, user="bob", tokens=2),
        fact(t, user="alice", tokens=3),
        fact(t + timedelta(hours=14), user="bob", tokens=4, cost=0.125),  # 23:00, same day
    ]
    rows = agent_otel.daily_summaries(facts)
    assert [
        (d.date.day, d.user_id, d.session_count, d.total_tokens, d.total_cost) for d in rows
    ] == [
        (27, "alice", 1, 3, 0.0),
        (27, "bob", 2, 6, 0.125),
        (27, None, 1, 1, 0.25),  # sessions without a user id last
        (28, "bob", 1, 5, 0.5),
    ]
    assert agent_otel.daily_summaries(facts, user="bob", day=date(2026, 11, 28)) == rows[3:]
    assert agent_otel.daily_summaries(facts, day=date(2026, 1, 1)) == []
    assert agent_otel.daily_summaries([]) == []


def test_costs_are_summed_exactly() -> None:
    t = datetime(2026, 11, 27, tzinfo=UTC)
    facts = [fact(t, cost=0.1, models={"m": 0.1}, session_id=str(i)) for i in range(10)]
    assert sum(f.total_cost for f in facts) != 1.0  # naive float addition drifts
    assert agent_otel.daily_summaries(facts)[0].total_cost == 1.0
    (p,) = agent_otel.project_summaries(facts)
    assert p.total_cost == 1.0 and p.top_models == (ModelCost("m", 1.0),)


def test_active_users_projects_and_rankings() -> None:
    t = datetime(2026, 11, 27, 9, tzinfo=UTC)
    facts = [
        fact(t, user="a", models={"m2": 1.0, "m1": 1.0}, types={"read": 2, "write": 1}),
        fact(t, user="a", models={"m3": 0.5, "m4": 0.0}, types={"execute": 3}),
        fact(t, user=None, models={"m3": 0.75}, types={"write": 2, "query": 3}),
        fact(t, user="b", project=None, models={"unknown": 0.5}),
        fact(t, user="c", project="other"),
    ]
    rows = agent_otel.project_summaries(facts, top=3)
    assert [(p.project_id, p.active_users) for p in rows] == [
        ("other", 1),
        ("shop", 1),  # the session without a user id counts for nobody
        ("unknown", 1),
    ]
    shop = rows[1]
    # by cost, highest first; equal costs by name
    assert shop.top_models == (ModelCost("m3", 1.25), ModelCost("m1", 1.0), ModelCost("m2", 1.0))
    assert shop.top_operations == (
        OperationCount("execute", 3),
        OperationCount("query", 3),
        OperationCount("write", 3),
    )
    everything = agent_otel.project_summaries(facts, top=10)[1]
    assert everything.top_models[-1] == ModelCost("m4", 0.0)
    assert everything.top_operations[-1] == OperationCount("read", 2)
    assert rows[0].top_models == () and rows[0].top_operations == ()


def test_bad_arguments_raise() -> None:
    f = [fact(datetime(2026, 11, 27, tzinfo=UTC))]
    with pytest.raises(ValueError, match="period must be one of day, week, month"):
        agent_otel.project_summaries(f, "year")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top"):
        agent_otel.project_summaries(f, top=-1)
    with pytest.raises(ValueError, match="top"):
        agent_otel.project_summaries(f, top=True)


# -- facts from real sessions ---------------------------------------------------------------


def _call(tracer, cost: float, **models: str):  # type: ignore[no-untyped-def]
    attrs = {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 10,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
        sc.AGENT_USAGE_COST: cost,
    }
    if "request" in models:
        attrs[sc.GEN_AI_REQUEST_MODEL] = models["request"]
    if "response" in models:
        attrs[sc.GEN_AI_RESPONSE_MODEL] = models["response"]
    return tracer.start_as_current_span("chat", attributes=attrs)


def test_cost_attribution_to_models(tel) -> None:  # type: ignore[no-untyped-def]
    llm = tel.other_tracer()
    with (
        agent_otel.session(user_id="u", model="session-model", workspace="/w/proj") as s,
        s.operation("query", "q") as op,
    ):
        with _call(llm, 0.25, request="gpt", response="gpt-2026"):
            pass
        with _call(llm, 0.125, request="claude"):
            pass
        with _call(llm, 0.5):
            pass
        op.add_usage(1, 1, cost=0.0625)
    with (
        agent_otel.session(user_id="u", workspace="/w/proj", project="named") as s,
        s.operation("write", "w") as op,
    ):
        op.add_usage(1, 1, cost=0.03125)
        op.block("no")
    with_model, without_model = (facts_from_session(x) for x in tel.sessions())
    assert dict(with_model.cost_by_model) == {
        "gpt-2026": 0.25,
        "claude": 0.125,
        "unknown": 0.5,
        "session-model": 0.0625,
    }
    assert with_model.project == "proj" and without_model.project == "named"
    assert dict(without_model.cost_by_model) == {"unknown": 0.03125}
    assert dict(without_model.operations_by_status) == {"blocked": 1}
    with pytest.raises(TypeError):
        with_model.cost_by_model["x"] = 1.0  # type: ignore[index]


def test_facts_of_sessions_read_without_a_project(tel) -> None:  # type: ignore[no-untyped-def]
    with agent_otel.session(user_id="u", workspace="/w/legacy/"):
        pass
    (session,) = tel.sessions()
    old = dataclasses.replace(session, project=None)  # recorded before projects existed
    assert facts_from_session(old).project == "legacy"
    assert facts_from_session(dataclasses.replace(old, workspace=None)).project is None


def test_from_store_of_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert agent_otel.summaries.from_store(tmp_path / "missing") == []


def test_float_rounding_is_not_unattributed_cost(tel) -> None:  # type: ignore[no-untyped-def]
    """A session total summed call by call may differ from the exact sum of its calls in the
    last bit; that difference is rounding, not cost to put under the session's model."""
    llm = tel.other_tracer()
    costs = (0.1, 0.2, 0.3)
    assert (costs[0] + costs[1]) + costs[2] != math.fsum(costs)
    with agent_otel.session(user_id="u", model="session-model"), agent_otel.operation("query"):
        for cost in costs:
            with _call(llm, cost, request="m"):
                pass
    (facts,) = (facts_from_session(s) for s in tel.sessions())
    assert dict(facts.cost_by_model) == {"m": math.fsum(costs)}
    (day,) = agent_otel.daily_summaries([facts])
    assert round(day.total_cost, 2) == 0.6
