"""Content capture: the switch and the size budget for prompts, results, commands and diffs.

Content is what an agent reads and writes — it may hold secrets or personal data — so it is
off by default and recorded only when ``AGENT_OTEL_CAPTURE_CONTENT`` (or ``configure``) turns
it on. Secrets are redacted from every captured value first (:mod:`agent_otel.redaction`),
then the value is cut to a byte budget so that it fits the attribute limits of common
backends, and the original size is recorded beside it so that a reader can tell that it was
cut.

Free text that is recorded whether or not content is captured — operation targets, block
reasons, file paths, error messages and stack traces — goes through the same redaction and
budget (:meth:`ContentPolicy.metadata`, :meth:`ContentPolicy.exception_attributes`): a
secret in a URL, a command or an exception message is a secret all the same.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from opentelemetry.semconv.attributes.exception_attributes import (
    EXCEPTION_ESCAPED,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    EXCEPTION_TYPE,
)

from agent_otel.errors import env_flag

if TYPE_CHECKING:
    # Imported when first needed: its patterns are compiled then, not at `import agent_otel`.
    from agent_otel.redaction import Patterns, Redactor

EXCEPTION_EVENT = "exception"
"""The name of the span event of an exception (as ``Span.record_exception`` adds it)."""
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
    secrets from it. With ``redactor`` None, the redactor of the current configuration
    (``configure(redact_patterns=..., redact_allow=...)``) is used, else the process-wide
    :func:`~agent_otel.redaction.default_redactor`: so that policies made apart from
    ``configure()`` — the LLM instrumentors' — redact with the user's patterns too."""

    capture: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES
    redactor: Redactor | None = None

    @classmethod
    def from_env(
        cls,
        capture: bool | None = None,
        max_bytes: int | None = None,
        *,
        redact_patterns: Patterns | None = None,
        redact_allow: Patterns | None = None,
    ) -> ContentPolicy:
        """Explicit arguments win over the environment, which wins over the defaults.
        ``redact_patterns`` and ``redact_allow`` add to ``AGENT_OTEL_REDACT_PATTERNS`` and
        ``AGENT_OTEL_REDACT_ALLOW`` (an invalid expression is skipped with a warning, an
        error in strict mode)."""
        if capture is None:
            capture = env_flag(CAPTURE_CONTENT_ENV)
        if max_bytes is None:
            raw = os.environ.get(MAX_BYTES_ENV, "").strip()
            max_bytes = int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_BYTES
        redactor = None
        if redact_patterns is not None or redact_allow is not None:
            from agent_otel.redaction import Redactor

            redactor = Redactor.from_env(
                redact_patterns or (), redact_allow or (), where="configure()"
            )
        return cls(capture=capture, max_bytes=max_bytes, redactor=redactor)

    def scrub(self, text: str) -> str:
        """``text`` with secrets redacted and nothing else changed, whether or not content is
        captured: for text that must stay whole, such as a JSON document of messages or
        one of its keys. Free text to record is :meth:`metadata` (which also cuts it)."""
        redactor = self._redactor()
        if len(text) <= _SCRUB_CACHE_MAX_LEN:
            return _scrub_short(redactor, text)
        return redactor.redact(text)

    def metadata(self, text: str) -> str:
        """``text`` as recorded whether or not content is captured (operation targets, block
        reasons, file paths, error messages): secrets redacted, cut to the byte budget, a
        lone surrogate (not UTF-8, so not exportable) replaced by ``?``."""
        redactor = self._redactor()
        if len(text) <= _SCRUB_CACHE_MAX_LEN:
            return _metadata_short(redactor, self.max_bytes, text)
        return _cut(redactor.redact_head(text, self.max_bytes), self.max_bytes).text

    def exception_attributes(self, error: BaseException) -> dict[str, str]:
        """The attributes of the ``exception`` event of ``error``, as the SDK's
        ``record_exception`` makes them but with the message and the stack trace passed
        through :meth:`metadata`: they are free text that may quote a secret (``Incorrect
        API key provided: sk-...``, a connection URL). Never raises, even for an exception
        whose ``__str__`` does."""
        kind = type(error)
        module = kind.__module__
        try:
            message = str(error)
        except Exception:
            message = f"<{kind.__name__}: its message could not be read>"
        try:
            stacktrace = "".join(traceback.format_exception(error))
        except Exception:
            stacktrace = ""
        return {
            EXCEPTION_TYPE: f"{module}.{kind.__qualname__}"
            if module and module != "builtins"
            else kind.__qualname__,
            EXCEPTION_MESSAGE: self.metadata(message),
            EXCEPTION_STACKTRACE: self.metadata(stacktrace),
            EXCEPTION_ESCAPED: "False",
        }

    def _redactor(self) -> Redactor:
        return self.redactor if self.redactor is not None else _shared_redactor()

    def capture_text(self, text: str) -> Captured | None:
        """The value to record for ``text``, or None when content capture is off.

        Secrets are redacted before the text is cut, so that a cut never keeps part of one;
        the size is the original text's."""
        if not self.capture:
            return None
        size = len(text.encode("utf-8", errors="replace"))
        cut = _cut(self._redactor().redact_head(text, self.max_bytes), self.max_bytes)
        return Captured(cut.text, size, truncated=cut.truncated)


_default_redactor: Callable[[], Redactor] | None = None


def _shared_redactor() -> Redactor:
    """The redactor of the current configuration, else the process-wide default. On the hot
    path of every operation, so without an import statement: if the configuration module
    was never imported, nothing was configured."""
    configuration = sys.modules.get("agent_otel.configuration")
    telemetry = getattr(configuration, "_telemetry", None)
    if telemetry is not None and telemetry.content.redactor is not None:
        return cast("Redactor", telemetry.content.redactor)
    global _default_redactor
    if _default_redactor is None:
        from agent_otel.redaction import default_redactor

        _default_redactor = default_redactor
    return _default_redactor()


# Metadata such as targets repeats (the same files, the same commands) and sits on the
# operation's hot path, so short values are redacted once and remembered.
_SCRUB_CACHE_MAX_LEN = 512


@functools.lru_cache(maxsize=4096)
def _scrub_short(redactor: Redactor, text: str) -> str:
    return redactor.redact(text)


@functools.lru_cache(maxsize=4096)
def _metadata_short(redactor: Redactor, max_bytes: int, text: str) -> str:
    return _cut(redactor.redact(text), max_bytes).text


def _cut(redacted: str, max_bytes: int) -> Captured:
    """``clip`` a redacted text, and drop half a marker at the end of what is kept:
    ``[REDACTED:open`` reads like damaged data."""
    clipped = clip(redacted, max_bytes)
    if not clipped.truncated:
        return clipped
    kept = clipped.text
    marker = kept.rfind("[")
    if marker >= 0 and redacted.startswith(_MARKER, marker) and "]" not in kept[marker:]:
        kept = kept[:marker]
    return Captured(kept, clipped.size, truncated=True)


def exportable(text: str) -> str:
    """``text`` with each lone surrogate (from ``surrogateescape``-decoded file names, or
    broken input) replaced by ``?``: OTLP strings are UTF-8, and the protobuf exporter drops
    an attribute it cannot encode."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace").decode("utf-8")
    return text


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
