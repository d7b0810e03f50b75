"""What every agent-otel LLM instrumentor does beyond patching its library."""

from __future__ import annotations

import logging
import threading
from abc import abstractmethod
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from agent_otel.cost import TokenUsage
from agent_otel.errors import internal_error
from agent_otel.instrumentation.llm_call import Recorder

_logger = logging.getLogger("agent_otel.instrumentation")


class LLMInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """A ``BaseInstrumentor`` that re-checks the library version, builds the shared
    :class:`Recorder` and warms the price data in the background.

    ``opentelemetry-instrument`` calls ``instrument(skip_dep_check=True)`` after checking
    the *distribution's* requirements, which for a package that instruments several
    libraries says nothing about this one; so the version check is made here again, and an
    unsupported version is skipped with one log line instead of being patched.
    """

    scope: str = "agent_otel.instrumentation"

    @abstractmethod
    def _patch(self, recorder: Recorder) -> None: ...

    @abstractmethod
    def _unpatch(self) -> None: ...

    def _instrument(self, **kwargs: Any) -> None:
        conflict = self._check_dependency_conflicts()
        if conflict is not None:
            _logger.warning("agent-otel: %s skipped: %s", type(self).__name__, conflict)
            return
        recorder = Recorder.create(
            self.scope, kwargs.get("tracer_provider"), kwargs.get("meter_provider")
        )
        self._patch(recorder)
        # Loading the price data takes ~0.1 s; do it now, off the app's first LLM call.
        threading.Thread(target=_warm_prices, args=(recorder,), daemon=True).start()

    def _uninstrument(self, **kwargs: Any) -> None:
        self._unpatch()


def _warm_prices(recorder: Recorder) -> None:
    try:
        recorder.price_book().cost("openai", "gpt-4o", TokenUsage(input_tokens=1))
    except Exception:
        internal_error("loading the price data")
