"""Waiting in tests for something another process or thread does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_for(
    what: str,
    condition: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.25,
    context: Callable[[], str] | None = None,
) -> T:
    """The first truthy result of ``condition``, polled every ``interval`` seconds; fails
    the test after ``timeout`` seconds, saying what it waited for (and ``context()``, say a
    server's log)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f"\n{context()}" if context is not None else ""
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)
