"""``python -m agent_otel``: the ``agent-otel`` command line."""

from __future__ import annotations

from agent_otel.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
