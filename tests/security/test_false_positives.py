"""How much ordinary text the redactor hides wrongly (:mod:`tests.security.ordinary`).

The test prints the rate per kind and category (``pytest -s`` not needed: it is written to
the terminal directly) and holds it to its limits: no secret-shaped ordinary value (git
hashes, UUIDs, digests, base64 images) and no near-miss line is redacted at all, and real
code and prose (all installed files together) lose less than one value per 10,000 lines.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pytest

from agent_otel.redaction import Redactor
from tests.security.ordinary import Sample, installed, look_alikes, near_misses


@dataclass
class Rate:
    samples: int = 0
    lines: int = 0
    chars: int = 0
    findings: list[str] = field(default_factory=list)
    redacted_chars: int = 0

    def per_10k_lines(self) -> float:
        return len(self.findings) / self.lines * 10_000


def measure(samples: list[Sample]) -> dict[tuple[str, str], Rate]:
    redactor = Redactor()
    rates: dict[tuple[str, str], Rate] = defaultdict(Rate)
    for sample in samples:
        rate = rates[sample.kind, sample.category]
        rate.samples += 1
        rate.lines += sample.text.count("\n") + (not sample.text.endswith("\n"))
        rate.chars += len(sample.text)
        for start, end, kind in redactor.find(sample.text):
            line_start = sample.text.rfind("\n", 0, start) + 1
            line_end = sample.text.find("\n", end)
            line = sample.text[line_start : line_end if line_end >= 0 else None]
            rate.findings.append(f"{sample.name}: {kind}: {line.strip()[:160]}")
            rate.redacted_chars += end - start
    return rates


def test_false_positive_rate(capsys: pytest.CaptureFixture[str]) -> None:
    rates = measure([*installed(), *look_alikes(), *near_misses()])
    rows = [
        f"  {kind:<11} {category:<22} {r.samples:>6} {r.lines:>8} {len(r.findings):>5} "
        f"{r.per_10k_lines():>8.2f} {r.redacted_chars / r.chars:>10.6%}"
        for (kind, category), r in sorted(rates.items())
    ]
    header = (
        f"  {'kind':<11} {'category':<22} {'files':>6} {'lines':>8} {'found':>5} "
        f"{'/10k ln':>8} {'chars hid':>10}"
    )
    with capsys.disabled():
        print("\nfalse positives of the redactor on ordinary text:\n" + header)
        print("\n".join(rows))

    installed_total = Rate()
    for (kind, category), rate in rates.items():
        assert rate.samples > 0
        if kind == "installed":
            installed_total.lines += rate.lines
            installed_total.findings += rate.findings
        else:
            assert not rate.findings, (category, rate.findings)
    # A small category (a few thousand lines of markdown) swings with one finding; the
    # limit is on the whole.
    assert installed_total.per_10k_lines() < 1.0, installed_total.findings
    python = rates["installed", "python (stdlib)"]
    assert python.lines > 100_000  # the standard library is really there
    assert rates["look-alike", "hex digest"].samples >= 1000
