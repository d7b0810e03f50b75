"""Content capture: the switch and the size budget for prompts, results, commands and diffs.

Content is what an agent reads and writes — it may hold secrets or personal data — so it is
off by default and recorded only when ``AGENT_OTEL_CAPTURE_CONTENT`` (or ``configure``) turns
it on. Every captured value is cut to a byte budget so that it fits the attribute limits of
common backends, and the original size is recorded beside it so that a reader can tell that
it was cut.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from agent_otel.errors import env_flag

CAPTURE_CONTENT_ENV = "AGENT_OTEL_CAPTURE_CONTENT"
MAX_BYTES_ENV = "AGENT_OTEL_CONTENT_MAX_BYTES"
DEFAULT_MAX_BYTES = 32 * 1024


@dataclass(frozen=True, slots=True)
class Captured:
    """A content value ready to record: the (possibly cut) text and the original UTF-8 size."""

    text: str
    size: int

    @property
    def truncated(self) -> bool:
        return len(self.text.encode("utf-8")) < self.size


@dataclass(frozen=True, slots=True)
class ContentPolicy:
    """Whether content is recorded, and how many UTF-8 bytes one value may take."""

    capture: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_env(cls, capture: bool | None = None, max_bytes: int | None = None) -> ContentPolicy:
        """Explicit arguments win over the environment, which wins over the defaults."""
        if capture is None:
            capture = env_flag(CAPTURE_CONTENT_ENV)
        if max_bytes is None:
            raw = os.environ.get(MAX_BYTES_ENV, "").strip()
            max_bytes = int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_BYTES
        return cls(capture=capture, max_bytes=max_bytes)

    def capture_text(self, text: str) -> Captured | None:
        """The value to record for ``text``, or None when content capture is off."""
        if not self.capture:
            return None
        return clip(text, self.max_bytes)


def clip(text: str, max_bytes: int) -> Captured:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes without splitting a character."""
    # Lone surrogates cannot be exported (OTLP strings are UTF-8); "replace" makes them "?".
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= max_bytes:
        return Captured(encoded.decode("utf-8"), len(encoded))
    return Captured(encoded[:max_bytes].decode("utf-8", errors="ignore"), len(encoded))


def as_text(value: str | bytes) -> str | None:
    """Decode content given as bytes; None when it is not UTF-8 text (binary content)."""
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None
