"""Agent sessions with known contents, for the Prometheus tests: several users and projects,
operations of every outcome, LLM calls of several models (one answered by a dated model
version) inside operations, directly in sessions and outside any session, and usage an app
reports itself.

The generator also keeps the brute-force figures of what it did, for what the summaries do
not show (tokens by type, calls outside sessions).
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from opentelemetry.trace import SpanKind, Tracer

import agent_otel
from agent_otel import semconv as sc

USERS = ("alice", "bob", "carol")
PROJECTS = ("shop", "docs")
# (requested model, model that answers, provider)
MODELS = (
    ("gpt-4o", "gpt-4o-2024-08-06", "openai"),
    ("claude-sonnet-4-5", "claude-sonnet-4-5", "anthropic"),
    ("gemini-2.5-pro", "gemini-2.5-pro", "gcp.gemini"),
)
OPERATION_TYPES = ("read", "write", "execute", "query")
OUTCOMES = ("success", "success", "success", "failed", "blocked", "pending")


@dataclass
class Truth:
    """What the workload did, counted as it went."""

    sessions: int = 0
    sessions_by_user: Counter[str] = field(default_factory=Counter)
    operations_by_status: Counter[str] = field(default_factory=Counter)
    tokens_by_type: Counter[str] = field(default_factory=Counter)
    costs_by_model: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    """Every LLM call's cost by the model that answered, calls outside sessions included."""
    outside_model: str = ""
    outside_cost: float = 0.0
    outside_tokens: int = 0

    def cost_by_model(self) -> dict[str, float]:
        return {model: math.fsum(costs) for model, costs in self.costs_by_model.items()}


def llm_call(
    tracer: Tracer,
    truth: Truth,
    rng: random.Random,
    model: tuple[str, str, str],
) -> tuple[int, int, float]:
    """One LLM call span as an instrumentation would make it (official GenAI attributes and
    agent-otel's cost)."""
    requested, answered, provider = model
    input_tokens, output_tokens = rng.randint(50, 5000), rng.randint(10, 1500)
    cost = round(rng.uniform(0.0001, 0.09), 6)
    with tracer.start_as_current_span(
        f"chat {requested}",
        kind=SpanKind.CLIENT,
        attributes={
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: provider,
            sc.GEN_AI_REQUEST_MODEL: requested,
            sc.GEN_AI_RESPONSE_MODEL: answered,
            sc.GEN_AI_USAGE_INPUT_TOKENS: input_tokens,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: output_tokens,
            sc.AGENT_USAGE_COST: cost,
        },
    ):
        pass
    truth.tokens_by_type["input"] += input_tokens
    truth.tokens_by_type["output"] += output_tokens
    truth.costs_by_model[answered].append(cost)
    return input_tokens, output_tokens, cost


def run_sessions(tracer: Tracer, *, sessions: int = 18, seed: int = 4) -> Truth:
    """Run ``sessions`` agent sessions (plus one LLM call outside any session) in this
    process, through the configured agent-otel."""
    rng = random.Random(seed)
    truth = Truth()
    for number in range(sessions):
        user, project, model = rng.choice(USERS), rng.choice(PROJECTS), rng.choice(MODELS)
        ending = ("completed", "completed", "failed", "cancelled")[number % 4]
        with agent_otel.session(
            user_id=user, project=project, model=model[0], model_tier=1 + number % 4
        ) as session:
            for index in range(rng.randint(1, 6)):
                kind = rng.choice(OPERATION_TYPES)
                outcome = rng.choice(OUTCOMES)
                with session.operation(kind, target=f"target-{index}") as op:
                    for _ in range(rng.randint(0, 2)):
                        llm_call(tracer, truth, rng, rng.choice(MODELS))
                    if index == 2:  # usage the app reports itself: under the session's model
                        op.add_usage(input_tokens=120, output_tokens=30, cost=0.0125)
                        truth.tokens_by_type["input"] += 120
                        truth.tokens_by_type["output"] += 30
                        truth.costs_by_model[model[0]].append(0.0125)
                    if outcome == "failed":
                        op.fail("exit status 1")
                    elif outcome == "blocked":
                        op.block("denied by policy")
                    elif outcome == "pending":
                        op.set_pending()
                truth.operations_by_status[outcome] += 1
            if number % 5 == 0:  # a call made by the agent itself, outside any operation
                llm_call(tracer, truth, rng, model)
            if ending == "failed":
                session.fail("gave up")
            elif ending == "cancelled":
                session.cancel()
        truth.sessions += 1
        truth.sessions_by_user[user] += 1
    # outside any session: in the token and cost metrics, in no summary
    before_tokens = sum(truth.tokens_by_type.values())
    _, _, truth.outside_cost = llm_call(tracer, truth, rng, MODELS[0])
    truth.outside_model = MODELS[0][1]
    truth.outside_tokens = sum(truth.tokens_by_type.values()) - before_tokens
    return truth
