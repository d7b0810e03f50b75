"""The ``agent-otel`` command line: list, show and summarise the sessions in the local store.

Entry point: :func:`main` (the ``agent-otel`` console script and ``python -m agent_otel``).
"""

from __future__ import annotations

from .app import main

__all__ = ["main"]
