"""How agent-otel reports misuse of its API.

Telemetry must never break the app it observes, so in normal mode a bad argument produces one
clear :class:`AgentOtelWarning` and the library records what it can. Tests and development
want the opposite — a loud failure at the faulty call — which strict mode provides
(``AGENT_OTEL_STRICT=1`` or ``configure(strict=True)``).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

_logger = logging.getLogger("agent_otel")

STRICT_ENV = "AGENT_OTEL_STRICT"
_TRUE = frozenset({"1", "true", "yes", "on"})

# Set by configure(strict=...); None means "follow the environment".
_strict_override: bool | None = None


class AgentOtelWarning(UserWarning):
    """Misuse of the agent-otel API that was tolerated; the message says what was recorded."""


class ProcessEnded(BaseException):
    """What a session or operation still open when the process ends is ended with: the
    message says how the process ended (a signal, the interpreter exiting). Like Ctrl-C, it
    cancels a session; an operation fails with ``error.type`` ``ProcessEnded``. It is never
    raised, only recorded, so it derives from ``BaseException``: no ``except Exception`` in
    the app could ever mistake it for one of its own errors."""


def env_flag(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable the way OpenTelemetry's own switches are read."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    return value.strip().lower() in _TRUE


def set_strict(strict: bool | None) -> None:
    """Force strict mode on or off; ``None`` returns to the ``AGENT_OTEL_STRICT`` variable."""
    global _strict_override
    _strict_override = strict


def is_strict() -> bool:
    """Whether misuse raises instead of warning. Read on each misuse, which is rare."""
    if _strict_override is not None:
        return _strict_override
    return env_flag(STRICT_ENV)


def misuse(message: str, error: type[Exception] = ValueError) -> None:
    """Report a misuse of the public API: raise in strict mode, warn otherwise.

    The warning points at the first frame outside agent-otel — the user's line — so that
    Python's default filter shows it once per place in the app.
    """
    if is_strict():
        raise error(message)
    warnings.warn(message, AgentOtelWarning, stacklevel=_user_stacklevel())


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_stacklevel() -> int:
    frame = sys._getframe(2)  # the caller of misuse()
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def internal_error(what: str) -> None:
    """Log a failure inside the library itself; never raised into the app (even in strict
    mode, because strict mode is about the caller's mistakes, not ours)."""
    _logger.warning(
        "agent-otel: %s failed; telemetry for it may be incomplete", what, exc_info=True
    )
