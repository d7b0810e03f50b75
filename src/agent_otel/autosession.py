"""One session around the whole process, for apps that do not start sessions themselves.

With ``AGENT_OTEL_AUTO_SESSION=1`` (read by the ``opentelemetry-instrument`` configurator,
or call :func:`start_auto_session` yourself) the process runs inside one session, started
at once and ended when the process ends: completed on a normal exit or ``sys.exit(0)``,
failed on an unhandled exception or ``sys.exit()`` with a non-zero status, cancelled on
Ctrl-C or SIGTERM. (A ``raise SystemExit(n)`` that bypasses ``sys.exit`` and ``os._exit``
cannot be seen from inside the process; the session then ends as completed.)
The user, model and workspace come from ``AGENT_OTEL_SESSION_USER``, ``AGENT_OTEL_SESSION_MODEL``
and the current directory; the agent name from ``OTEL_SERVICE_NAME`` if set.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from types import TracebackType
from typing import Any, NoReturn

from agent_otel.configuration import get_telemetry
from agent_otel.errors import env_flag, internal_error
from agent_otel.sessions import Session

AUTO_SESSION_ENV = "AGENT_OTEL_AUTO_SESSION"

_lock = threading.Lock()
_session: Session | None = None


def start_auto_session() -> Session | None:
    """Start the process-wide session if ``AGENT_OTEL_AUTO_SESSION`` asks for it (once)."""
    global _session
    if not env_flag(AUTO_SESSION_ENV):
        return None
    with _lock:
        if _session is not None:
            return _session
        session = Session(
            user_id=os.environ.get("AGENT_OTEL_SESSION_USER") or None,
            model=os.environ.get("AGENT_OTEL_SESSION_MODEL") or None,
            agent_name=os.environ.get("OTEL_SERVICE_NAME") or None,
            telemetry=get_telemetry(),
        )
        session.start()
        _session = session
    _hook_process_end(session)
    return session


def _hook_process_end(session: Session) -> None:
    """Catch the ways the process can end that decide the session's status, so that it ends
    with it before configure()'s exit hook ends whatever is still open and flushes (atexit
    runs hooks last-in, first-out). SIGTERM needs nothing here: configure()'s handler ends
    every open session, this one included, as cancelled."""
    previous_hook = sys.excepthook

    def excepthook(
        exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        _end(session, exc)
        previous_hook(exc_type, exc, tb)

    sys.excepthook = excepthook
    original_exit = sys.exit

    def exit_(status: Any = None) -> NoReturn:
        if status not in (None, 0):
            session.fail(f"process exited with status {status}")
        original_exit(status)

    sys.exit = exit_
    atexit.register(_end, session, None)


def _end(session: Session, error: BaseException | None) -> None:
    try:
        session.end(error)
    except Exception:
        internal_error("ending the automatic session")
