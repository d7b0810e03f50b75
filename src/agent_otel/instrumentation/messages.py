"""Prompt and completion content in the official ``gen_ai.input.messages`` /
``gen_ai.output.messages`` form, captured only when the user opts in.

The switch is the one every OpenTelemetry GenAI instrumentation reads,
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``. Captured text goes through the same
redaction and byte budget as agent content, part by part, so that the recorded JSON stays
valid JSON however much was cut. Structured values (tool arguments and results) are
redacted with their keys in view: ``{"password": "hunter2"}`` loses its value, which the
string ``hunter2`` alone would not.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from agent_otel.content import ContentPolicy

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
# Older instrumentations take true/false; newer ones name where content goes.
_ON_SPANS = frozenset({"true", "1", "yes", "span_only", "span_and_event"})

Part = dict[str, Any]
Message = dict[str, Any]


def content_policy_from_env() -> ContentPolicy:
    value = os.environ.get(CAPTURE_ENV, "").strip().lower()
    return ContentPolicy.from_env(capture=value in _ON_SPANS)


def text_part(text: str) -> Part:
    return {"type": "text", "content": text}


def tool_call_part(call_id: str | None, name: str | None, arguments: Any) -> Part:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def tool_response_part(call_id: str | None, response: Any) -> Part:
    return {"type": "tool_call_response", "id": call_id, "response": response}


def encode_messages(messages: Sequence[Message], policy: ContentPolicy) -> str | None:
    """The JSON attribute value for ``messages``, or None when capture is off.

    Every string inside the parts is redacted and cut; the budget is shared among the
    strings so that the whole value stays near the policy's limit.
    """
    if not policy.capture or not messages:
        return None
    strings = sum(_count_strings(m.get("parts", ())) for m in messages) or 1
    share = dataclasses.replace(policy, max_bytes=max(256, policy.max_bytes // strings))
    prepared = [
        {**m, "parts": [_prepare_part(p, share) for p in m.get("parts", ())]} for m in messages
    ]
    encoded = json.dumps(prepared, ensure_ascii=False, separators=(",", ":"), default=str)
    # A second pass over the JSON sees keys and values together ({"password": "..."} in tool
    # arguments), which the pass over each string alone cannot.
    scrubbed = policy.scrub(encoded)
    if scrubbed == encoded:
        return encoded
    try:
        json.loads(scrubbed)
    except ValueError:
        return encoded  # never record broken JSON; every string was redacted on its own
    return scrubbed


def _count_strings(value: Any) -> int:
    if isinstance(value, str):
        return 1
    if isinstance(value, Mapping):
        return sum(_count_strings(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_count_strings(v) for v in value)
    return 0


def _prepare_part(part: Part, policy: ContentPolicy) -> Part:
    """A part with its content prepared; its own ``type``, ``id`` and ``name`` (the kind of
    part, a tool call's id and the tool's name) are metadata and kept as they are."""
    return {k: v if k in _PART_METADATA else _prepare(v, policy) for k, v in part.items()}


_PART_METADATA = frozenset({"type", "id", "name"})


def _prepare(value: Any, policy: ContentPolicy) -> Any:
    """``value`` ready for JSON: every text in it, keys too, redacted and cut; anything that
    is not JSON (an SDK object) as its text, so that it is redacted as well."""
    if isinstance(value, Mapping):
        return {
            policy.scrub(key): _prepare_item(key, v, policy)
            for key, v in ((str(k), v) for k, v in value.items())
        }
    if isinstance(value, (list, tuple)):
        return [_prepare(v, policy) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    captured = policy.capture_text(value if isinstance(value, str) else str(value))
    return captured.text if captured is not None else None


def _prepare_item(key: str, value: Any, policy: ContentPolicy) -> Any:
    """One entry of a structured value: under a secret-looking key (``password``,
    ``api_key``...), a text that is no placeholder is redacted whole."""
    if isinstance(value, str) and value:
        # Imported here, when content is captured, as everywhere else.
        from agent_otel.redaction import (
            ASSIGNMENT_KIND,
            MARKER_PREFIX,
            is_placeholder,
            is_secret_name,
        )

        if is_secret_name(key) and not is_placeholder(value):
            return f"{MARKER_PREFIX}{ASSIGNMENT_KIND}]"
    return _prepare(value, policy)
