"""Everything telemetry left the process as, and the search for planted secrets in it.

A *haystack* is one place data went — the in-memory span and metric exporters, the local
store's files, the bytes an OTLP exporter sent over loopback, log records and warnings —
as text to search. Raw bytes are searched as they are, and also decoded (JSON lines parsed,
protobuf messages unpacked), because an encoding can hide a secret from a byte search: JSON
writes a PEM key's line breaks as ``\\n``, so only its decoded form has the key's lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from opentelemetry.sdk.metrics.export import MetricsData
from opentelemetry.sdk.trace import ReadableSpan

from tests.security.corpus import Secret

MARKER = "[REDACTED:"


@dataclass(frozen=True)
class Haystack:
    name: str
    text: str


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings(item)


def _joined(values: Iterable[Any]) -> str:
    return "\n".join(s for value in values for s in strings(value))


def memory_spans(spans: Iterable[ReadableSpan]) -> Haystack:
    return Haystack("in-memory spans", _joined(json.loads(s.to_json()) for s in spans))


def memory_metrics(data: MetricsData | None) -> Haystack:
    return Haystack("in-memory metrics", _joined([json.loads(data.to_json())] if data else []))


def store(directory: Path) -> list[Haystack]:
    """Every file in the store (traces, metrics, rotated files, the CLI's index), raw, and
    the JSON lines files with each line parsed."""
    out = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        out.append(Haystack(f"store {path.name} (bytes)", raw.decode("utf-8", "replace")))
        if path.suffix == ".jsonl":
            lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
            out.append(Haystack(f"store {path.name} (parsed)", _joined(lines)))
    return out


def otlp(name: str, bodies: list[bytes], messages: Iterable[Message]) -> list[Haystack]:
    return [
        Haystack(f"OTLP {name} (bytes)", "\n".join(b.decode("utf-8", "replace") for b in bodies)),
        Haystack(f"OTLP {name} (decoded)", _joined(MessageToDict(m) for m in messages)),
    ]


@dataclass(frozen=True)
class Leak:
    haystack: str
    secret: Secret
    path: str
    whole: bool

    def __str__(self) -> str:
        what = "the secret" if self.whole else "a piece of the secret"
        return (
            f"{self.haystack}: {what} {self.secret.generator} of document "
            f"{self.secret.document!r}, recorded through {self.path}"
        )


def leaks(planted: Iterable[tuple[Secret, str]], haystacks: list[Haystack]) -> list[Leak]:
    """Each planted secret (with the API path it went through) whose value or recognisable
    fragment appears in any haystack."""
    found = []
    for secret, path in planted:
        for fragment in secret.fragments():
            for haystack in haystacks:
                if fragment in haystack.text:
                    found.append(Leak(haystack.name, secret, path, fragment == secret.value))
    return found
