"""The redactor on the corpus itself: each document redacted exactly (every planted secret
replaced by a marker, nothing else changed), and in every form the recording paths put text
in — a line of a unified diff, a JSON string, the ``repr`` inside an API error message, a
Python dict — no secret survives."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from agent_otel.redaction import Redactor
from tests.security.corpus import Document, documents

SEEDS = (0, 1, 2)
DOCS = [doc for seed in SEEDS for doc in documents(seed)]


def _lines(prefix: str) -> Callable[[str], str]:
    return lambda text: "\n".join(prefix + line for line in text.splitlines())


FORMS: dict[str, Callable[[str], str]] = {
    "as written": lambda text: text,
    "removed lines of a diff": _lines("-"),
    "added lines of a diff": _lines("+"),
    "context lines of a diff": _lines(" "),
    "a JSON string": json.dumps,
    "JSON inside JSON": lambda text: json.dumps(json.dumps({"content": text})),
    "an API error's repr": lambda text: repr({"error": {"message": text, "type": "invalid"}}),
    "a Python repr": repr,
    "a markdown code block": lambda text: f"```\n{text}\n```",
}


@pytest.mark.parametrize("doc", DOCS, ids=[f"{d.label}" for d in DOCS])
def test_each_secret_is_replaced_and_nothing_else_changes(doc: Document) -> None:
    redacted = Redactor().redact(doc.text)
    assert doc.expected_shape().fullmatch(redacted), redacted


@pytest.mark.parametrize("form", FORMS.values(), ids=FORMS.keys())
def test_no_secret_survives_in_any_form_a_path_gives_text(form: Callable[[str], str]) -> None:
    redactor = Redactor()
    survivors = []
    for doc in DOCS:
        redacted = redactor.redact(form(doc.text))
        for secret in doc.secrets:
            if any(fragment in redacted for fragment in secret.fragments()):
                survivors.append((doc.label, secret.generator))
    assert not survivors, survivors
