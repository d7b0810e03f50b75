"""How outcomes look in the report: one CSS class ("tone") per kind of outcome.

Statuses come from the store and may be any string, so they never become class names
themselves: each known status maps to one of a few tones that the stylesheet colours (the
same colours for a badge, a timeline bar and a row highlight), anything else to ``other``.
"""

from __future__ import annotations

from agent_otel.records import LLMCall

from .markup import Markup, element

SESSION_TONES = {
    "completed": "ok",
    "failed": "failed",
    "cancelled": "cancelled",
    "paused": "pending",
    "active": "active",
}

OPERATION_TONES = {
    "success": "ok",
    "failed": "failed",
    "blocked": "blocked",
    "pending": "pending",
}

OTHER = "other"


def session_tone(status: str) -> str:
    return SESSION_TONES.get(status, OTHER)


def operation_tone(status: str) -> str:
    return OPERATION_TONES.get(status, OTHER)


def call_tone(call: LLMCall) -> str:
    """LLM calls have their own colour, and the failed colour when the call failed."""
    return "failed" if call.status == "ERROR" else "llm"


def call_status(call: LLMCall) -> str:
    return "error" if call.status == "ERROR" else "ok"


def badge(text: str, tone: str) -> Markup:
    """A status as a small coloured pill."""
    return element("span", {"class": f"badge tone-{tone}"}, text or "unknown")
