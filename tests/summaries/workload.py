"""A generated workload of agent sessions with known tokens, costs, outcomes and start times,
run through the real library, plus a clock that puts each session where the test wants it.

The public API takes no timestamps, so the OpenTelemetry SDK's clock is replaced by
:class:`Clock` (``opentelemetry.sdk.trace.time_ns``, the function the SDK calls for every span
start, end and event): each session starts exactly at its spec's ``start`` and every further
reading of the clock advances it by one millisecond. Everything else is the real pipeline.

Costs are multiples of 2**-16 USD, so every sum of them is exact in binary floating point
whatever the order of addition: the tests compare with ``==``, not ``approx``.

Used in-process by the tests and, unchanged, by ``write_store.py`` in a subprocess.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from opentelemetry import trace

import agent_otel
from agent_otel import semconv as sc

COST_UNIT = 2.0**-16
STEP_NS = 1_000_000
UTC = timezone.utc

# What the operation's outcome makes its final status (``raise`` = an exception leaves it).
STATUS_OF_OUTCOME = {
    "success": "success",
    "fail": "failed",
    "raise": "failed",
    "block": "blocked",
    "pending": "pending",
    "approved": "success",
}


@dataclass(frozen=True)
class Call:
    """One LLM call as an instrumented client reports it."""

    request_model: str | None
    response_model: str | None
    input_tokens: int
    output_tokens: int
    cost: float
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    nested: bool = False
    """Made through two nested instrumented clients (the same usage on both spans)."""

    @property
    def model(self) -> str:
        return self.response_model or self.request_model or "unknown"


@dataclass(frozen=True)
class Op:
    type: str
    outcome: str
    calls: tuple[Call, ...] = ()
    added: tuple[int, int, float] | None = None
    """``add_usage(input_tokens, output_tokens, cost)`` for usage without an LLM span."""


@dataclass(frozen=True)
class SessionSpec:
    session_id: str
    user: str
    start: datetime
    workspace: str
    project: str | None
    model: str | None
    ops: tuple[Op, ...] = ()
    calls_outside: tuple[Call, ...] = ()
    ending: str = "complete"  # complete | fail | cancel

    @property
    def expected_project(self) -> str:
        return self.project or self.workspace.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Clock:
    """A replacement for the SDK's ``time_ns``: exact where set, then 1 ms per reading."""

    now_ns: int = field(default=0)

    def set(self, moment: datetime) -> None:
        delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
        self.now_ns = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000

    def __call__(self) -> int:
        value = self.now_ns
        self.now_ns += STEP_NS
        return value


def install_clock(setter: Callable[[Any, str, Any], None] = setattr) -> Clock:
    """Replace the SDK's clock (``setter`` may be ``monkeypatch.setattr``)."""
    import opentelemetry.sdk.trace as sdk_trace

    clock = Clock()
    clock.set(datetime.now(UTC))
    setter(sdk_trace, "time_ns", clock)
    return clock


# -- generation -----------------------------------------------------------------------------

USERS = ("alice", "bob", "carol", "dave")
WORKSPACES = (
    ("/home/alice/shop", None),  # project from the workspace: "shop"
    ("/srv/agents/infra/", None),  # "infra" (trailing slash)
    ("/tmp/checkout-1234", "billing"),  # explicit project
    ("/home/bob/shop", None),  # "shop" again, from another workspace
)
SESSION_MODELS = ("model-a", "model-b", None)
CALL_MODELS = (
    ("model-a", "model-a"),
    ("model-a", "model-a-2026-01"),  # the response model wins
    ("model-b", None),  # only a request model
    ("model-c", "model-c"),
    (None, None),  # no model at all: "unknown"
)
OUTCOMES = ("success",) * 5 + ("fail", "raise", "block", "block", "pending", "approved")

# Sessions placed on the boundaries the period logic must get right.
BOUNDARY_STARTS = (
    datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC),  # Sunday, 2026-W48; runs past midnight
    datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC),  # Sunday, 2026-W48
    datetime(2026, 11, 30, 0, 0, 0, 500_000, tzinfo=UTC),  # Monday, 2026-W49
    datetime(2026, 11, 30, 23, 59, 58, tzinfo=UTC),  # last day of November
    datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC),  # first of December
    datetime(2026, 12, 31, 23, 0, 0, tzinfo=UTC),  # Thursday, 2026-W53, 2026-12
    datetime(2027, 1, 1, 10, 0, 0, tzinfo=UTC),  # Friday, still 2026-W53, but 2027-01
    datetime(2027, 1, 4, 9, 0, 0, tzinfo=UTC),  # Monday, 2027-W01
)


def _call(rng: random.Random) -> Call:
    request_model, response_model = rng.choice(CALL_MODELS)
    input_tokens = rng.randint(0, 5000)
    return Call(
        request_model=request_model,
        response_model=response_model,
        input_tokens=input_tokens,
        output_tokens=rng.randint(0, 2000),
        cost=rng.choice((0, rng.randint(1, 40_000))) * COST_UNIT,
        cache_read_tokens=rng.choice((0, rng.randint(0, input_tokens))),
        cache_creation_tokens=rng.choice((0, 0, rng.randint(0, 300))),
        nested=rng.random() < 0.1,
    )


def _op(rng: random.Random) -> Op:
    added = None
    if rng.random() < 0.2:
        added = (rng.randint(0, 900), rng.randint(0, 300), rng.randint(1, 9000) * COST_UNIT)
    return Op(
        type=rng.choice(sc.AGENT_OPERATION_TYPE_VALUES),
        outcome=rng.choice(OUTCOMES),
        calls=tuple(_call(rng) for _ in range(rng.choice((0, 0, 1, 1, 2, 3)))),
        added=added,
    )


def generate(count: int = 90, seed: int = 20261129) -> list[SessionSpec]:
    """``count`` random sessions over 2026-11-20 .. 2026-12-10, then the boundary sessions."""
    rng = random.Random(seed)
    first = datetime(2026, 11, 20, tzinfo=UTC)
    starts = [
        first + timedelta(seconds=rng.randint(0, 21 * 86_400 - 60)) for _ in range(count)
    ] + list(BOUNDARY_STARTS)
    specs = []
    for number, start in enumerate(starts):
        workspace, project = rng.choice(WORKSPACES)
        ops = tuple(_op(rng) for _ in range(rng.choice((0, 1, 2, 3, 4, 5, 6))))
        if start == BOUNDARY_STARTS[0]:  # enough work to run well past midnight
            ops += tuple(_op(rng) for _ in range(400))
        specs.append(
            SessionSpec(
                session_id=f"sum-{number:04d}",
                user=rng.choice(USERS),
                start=start,
                workspace=workspace,
                project=project,
                model=rng.choice(SESSION_MODELS),
                ops=ops,
                calls_outside=tuple(_call(rng) for _ in range(rng.choice((0, 0, 1, 2)))),
                ending=rng.choice(("complete",) * 6 + ("fail", "cancel")),
            )
        )
    return specs


# -- running --------------------------------------------------------------------------------


def _usage_attributes(call: Call) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_USAGE_INPUT_TOKENS: call.input_tokens,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: call.output_tokens,
        sc.AGENT_USAGE_COST: call.cost,
    }
    if call.request_model:
        attrs[sc.GEN_AI_REQUEST_MODEL] = call.request_model
    if call.response_model:
        attrs[sc.GEN_AI_RESPONSE_MODEL] = call.response_model
    if call.cache_read_tokens:
        attrs[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = call.cache_read_tokens
    if call.cache_creation_tokens:
        attrs[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = call.cache_creation_tokens
    return attrs


def _make_call(tracer: trace.Tracer, call: Call) -> None:
    attrs = _usage_attributes(call)
    name = f"chat {call.request_model or ''}".strip()
    with tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT, attributes=attrs):
        if call.nested:
            with tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT, attributes=attrs):
                pass


class _Raised(Exception):
    pass


def _run_op(session: agent_otel.Session, tracer: trace.Tracer, spec: Op) -> None:
    try:
        with session.operation(spec.type, f"target-{spec.type}") as op:
            for call in spec.calls:
                _make_call(tracer, call)
            if spec.added is not None:
                op.add_usage(spec.added[0], spec.added[1], spec.added[2])
            if spec.outcome == "fail":
                op.fail("it did not work")
            elif spec.outcome == "block":
                op.block("policy")
            elif spec.outcome == "pending":
                op.set_pending()
            elif spec.outcome == "approved":
                op.set_pending()
                op.approve("reviewer")
            elif spec.outcome == "raise":
                raise _Raised("boom")
    except _Raised:
        pass


def run(specs: list[SessionSpec], tracer: trace.Tracer, clock: Clock) -> None:
    """Run every spec as a real session, each starting at its ``start``."""
    for spec in specs:
        clock.set(spec.start)
        try:
            with agent_otel.session(
                session_id=spec.session_id,
                user_id=spec.user,
                workspace=spec.workspace,
                project=spec.project,
                model=spec.model,
            ) as s:
                for op in spec.ops:
                    _run_op(s, tracer, op)
                for call in spec.calls_outside:
                    _make_call(tracer, call)
                if spec.ending == "fail":
                    raise _Raised("the session failed")
                if spec.ending == "cancel":
                    s.cancel()
        except _Raised:
            pass
