"""No planted secret leaves the process, whatever path it enters by and wherever it goes.

Realistic documents with made-up secrets (:mod:`tests.security.corpus`) are recorded through
every public path that takes content (:mod:`tests.security.scenario`) with content capture
on, exported at once to in-memory exporters, the local store and OTLP over loopback
(:mod:`tests.security.harness`); then every exported byte, log record and warning is searched
for every secret and for a recognisable piece of it.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

from agent_otel import AgentOtelWarning
from tests.security import scenario
from tests.security.corpus import TEMPLATES, Document, documents
from tests.security.harness import Exported, record_everywhere
from tests.security.sinks import MARKER, leaks

# A run of ordinary characters that survives every encoding the paths use (JSON escapes,
# protobuf) and that no redaction touches: proof that a document really got through.
_ANCHOR = re.compile(r"[A-Za-z0-9 .,:/_-]{8,}")
_PLACEHOLDER = re.compile(r"<<[^>]+>>")


def anchor(doc: Document) -> str:
    runs = [m.group().strip() for m in _ANCHOR.finditer(_PLACEHOLDER.sub("\x00", doc.template))]
    return max(runs, key=len)


def _assert_no_leaks(exported: Exported) -> None:
    found = leaks(exported.planted, exported.haystacks)
    assert not found, f"{len(found)} leaks:\n" + "\n".join(map(str, found[:40]))


def test_the_corpus_is_big_and_varied() -> None:
    docs = documents()
    secrets = [s for d in docs for s in d.secrets]
    assert len(secrets) >= 200
    assert len({s.value for s in secrets}) == len(secrets)
    categories = collections.Counter(d.category for d in docs)
    assert set(categories) >= {"shell", "config", "code", "traceback", "log", "prompt", "diff",
                               "tool-args", "http", "sql"}  # fmt: skip
    assert len({s.generator for s in secrets}) >= 35
    assert len(TEMPLATES) == len({label for label, _, _ in TEMPLATES})


def test_no_secret_leaves_through_any_path_or_exporter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Two corpora with different secrets, each document through a different path in each.
    first, second = documents(1), documents(2)
    paths = scenario.FIXED
    exported = record_everywhere(
        tmp_path / "store",
        monkeypatch,
        lambda agent: (
            scenario.run(agent, first, paths)
            + scenario.run(agent, second, paths, offset=len(paths) // 2)
        ),
    )

    planted = exported.planted
    per_path = collections.Counter(path for _, path in planted)
    assert set(per_path) == set(paths)
    assert min(per_path.values()) >= 6, per_path
    assert len(planted) >= 400
    _assert_no_leaks(exported)

    # The content itself got through (redacted, not dropped), to every kind of exporter.
    missing = [d.label for d in first + second if anchor(d) not in exported.spans.text]
    assert not missing, missing
    for haystack in exported.haystacks:
        if "spans" in haystack.name or "traces" in haystack.name:
            assert MARKER in haystack.text, haystack.name
    names = {h.name.split(" (")[0] for h in exported.haystacks}
    assert {"in-memory spans", "in-memory metrics", "OTLP traces", "OTLP metrics"} <= names
    assert {"store traces.jsonl", "store metrics.jsonl"} <= names
    assert not [w for w in exported.warnings if issubclass(w.category, AgentOtelWarning)]

    with capsys.disabled():
        print(
            f"\nleak test: {len(planted)} planted secrets ({len(first) + len(second)} documents) "
            f"through {len(paths)} paths into {len(exported.haystacks)} outputs: 0 leaks"
        )


def test_misuse_warnings_quote_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = documents(4)
    exported = record_everywhere(
        tmp_path / "store", monkeypatch, lambda agent: scenario.run(agent, docs, scenario.MISUSE)
    )
    warned = [w for w in exported.warnings if issubclass(w.category, AgentOtelWarning)]
    assert len(warned) >= len(docs)  # every misuse was reported...
    _assert_no_leaks(exported)  # ...without quoting a secret, nor recording one
