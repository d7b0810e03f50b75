"""Content capture: the switch and the size budget for prompts, results, commands and diffs.

Content is what an agent reads and writes — it may hold secrets or personal data — so it is
off by default and recorded only when ``AGENT_OTEL_CAPTURE_CONTENT`` (or ``configure``) turns
it on. Secrets are redacted from every captured value first (:mod:`agent_otel.redaction`),
then the value is cut to a byte budget so that it fits the attribute limits of common
backends, and the original size is recorded beside it so that a reader can tell that it was
cut.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent_otel.errors import env_flag

if TYPE_CHECKING:
    # Imported when first needed: its patterns are compiled then, not at `import agent_otel`.
    from agent_otel.redaction import Redactor

CAPTURE_CONTENT_ENV = "AGENT_OTEL_CAPTURE_CONTENT"
MAX_BYTES_ENV = "AGENT_OTEL_CONTENT_MAX_BYTES"
DEFAULT_MAX_BYTES = 32 * 1024
_MARKER = "[REDACTED:"  # agent_otel.redaction.MARKER_PREFIX, without importing it


@dataclass(frozen=True, slots=True)
class Captured:
    """A content value ready to record: the (redacted, possibly cut) text and the original
    text's UTF-8 size."""

    text: str
    size: int
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class ContentPolicy:
    """Whether content is recorded, how many UTF-8 bytes one value may take, and what redacts
    secrets from it (None: the process-wide :func:`~agent_otel.redaction.default_redactor`)."""

    capture: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES
    redactor: Redactor | None = None

    @classmethod
    def from_env(cls, capture: bool | None = None, max_bytes: int | None = None) -> ContentPolicy:
        """Explicit arguments win over the environment, which wins over the defaults."""
        if capture is None:
            capture = env_flag(CAPTURE_CONTENT_ENV)
        if max_bytes is None:
            raw = os.environ.get(MAX_BYTES_ENV, "").strip()
            max_bytes = int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_BYTES
        return cls(capture=capture, max_bytes=max_bytes)

    def scrub(self, text: str) -> str:
        """``text`` with secrets redacted, whether or not content is captured: for metadata
        that is recorded always (operation targets, program names) yet may carry a secret,
        such as a token in a URL or an ``API_KEY=...`` prefix of a command."""
        redactor = self._redactor()
        if len(text) <= _SCRUB_CACHE_MAX_LEN:
            return _scrub_short(redactor, text)
        return redactor.redact(text)

    def _redactor(self) -> Redactor:
        if self.redactor is not None:
            return self.redactor
        from agent_otel.redaction import default_redactor

        return default_redactor()

    def capture_text(self, text: str) -> Captured | None:
        """The value to record for ``text``, or None when content capture is off.

        Secrets are redacted before the text is cut, so that a cut never keeps part of one;
        the size is the original text's."""
        if not self.capture:
            return None
        size = len(text.encode("utf-8", errors="replace"))
        redacted = self._redactor().redact_head(text, self.max_bytes)
        clipped = clip(redacted, self.max_bytes)
        kept = clipped.text
        if clipped.truncated:
            # Not half a marker at the end: "[REDACTED:open" reads like damaged data.
            marker = kept.rfind("[")
            if marker >= 0 and redacted.startswith(_MARKER, marker) and "]" not in kept[marker:]:
                kept = kept[:marker]
        return Captured(kept, size, truncated=clipped.truncated)


# Metadata such as targets repeats (the same files, the same commands) and sits on the
# operation's hot path, so short values are redacted once and remembered.
_SCRUB_CACHE_MAX_LEN = 512


@functools.lru_cache(maxsize=4096)
def _scrub_short(redactor: Redactor, text: str) -> str:
    return redactor.redact(text)


def clip(text: str, max_bytes: int) -> Captured:
    """Cut ``text`` to at most ``max_bytes`` UTF-8 bytes without splitting a character."""
    # Lone surrogates cannot be exported (OTLP strings are UTF-8); "replace" makes them "?".
    encoded = text.encode("utf-8", errors="replace")
    if len(encoded) <= max_bytes:
        return Captured(encoded.decode("utf-8"), len(encoded))
    cut = encoded[:max_bytes].decode("utf-8", errors="ignore")
    return Captured(cut, len(encoded), truncated=True)


def as_text(value: str | bytes) -> str | None:
    """Decode content given as bytes; None when it is not UTF-8 text (binary content)."""
    if isinstance(value, str):
        return value
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None
