"""Drop-in use with ``opentelemetry-instrument``: the distro and configurator entry points.

``opentelemetry-instrument python app.py`` loads an ``opentelemetry_distro`` and an
``opentelemetry_configurator``, then every ``opentelemetry_instrumentor``. With agent-otel
installed, its configurator sets up tracing and metrics exactly as :func:`agent_otel.configure`
does from the environment (the local store when nothing is configured, OTLP when an endpoint
is), its instrumentors record the LLM calls, and ``AGENT_OTEL_AUTO_SESSION=1`` wraps the whole
run in one session — so an unmodified app gets sessions, LLM spans, cost and roll-ups.

If another configurator is installed too (e.g. ``opentelemetry-distro``'s), pick ours with
``OTEL_PYTHON_CONFIGURATOR=agent_otel``.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _BaseConfigurator

from agent_otel.errors import internal_error


class AgentOtelDistro(BaseDistro):  # type: ignore[misc]
    """The distro: nothing to preset, since agent-otel's defaults live in ``configure()``."""

    def _configure(self, **kwargs: Any) -> None:
        return None


class AgentOtelConfigurator(_BaseConfigurator):
    """Configures agent-otel from the environment and starts the automatic session."""

    def _configure(self, **kwargs: Any) -> None:
        try:
            from agent_otel.autosession import start_auto_session
            from agent_otel.configuration import configure

            configure()
            start_auto_session()
        except Exception:
            internal_error("configuring agent-otel for opentelemetry-instrument")
