"""The app of the reliability tests: an agent whose work has a known result.

Every fault test checks two things: that the app's own result is what it is without
telemetry, and what telemetry survived. The work is deterministic (a hash chain over the
step numbers), so its result can be computed without agent-otel and compared.
"""

from __future__ import annotations

import hashlib

import agent_otel


def step(tag: str, i: int) -> str:
    """The result of the app's step ``i`` of session ``tag``."""
    return hashlib.sha256(f"{tag}:{i}".encode()).hexdigest()[:12]


def expected(tag: str, steps: int) -> list[str]:
    """What :func:`run_session` returns, computed without agent-otel."""
    return [step(tag, i) for i in range(steps)]


def run_session(
    tag: str, steps: int, *, user: str = "reliability", files: int | None = None
) -> list[str]:
    """One session (id ``tag``) of ``steps`` read operations, each recording its result.
    Operation ``i`` reads ``{tag}/{i}.py``, or ``{tag}/{i % files}.py`` when the agent works
    on a project of ``files`` files."""
    results = []
    with agent_otel.session(user_id=user, session_id=tag, model="m") as s:
        for i in range(steps):
            with s.operation("read", f"{tag}/{i % files if files else i}.py") as op:
                result = step(tag, i)
                op.set_result(result)
                results.append(result)
    return results
