"""Every public parameter that takes text is classified and tested, and none breaks.

* The public API is introspected: a parameter that admits text and is missing from
  :data:`tests.security.api.PARAMETERS` (or a public name that is not classified) fails the
  test, so a new content path cannot be added without its redaction being tested; each
  redacted parameter names a path of the leak test (``tests/security/test_no_leaks.py``).
* Property tests (hypothesis) feed every parameter arbitrary text — any code point including
  lone surrogates, NUL, RTL and zero-width marks, combining characters, huge values, secrets
  in random surroundings — and wrong types: nothing raises in normal mode (misuse is one
  AgentOtelWarning), strict mode raises a clear ``TypeError``/``ValueError`` naming the call,
  and what was recorded, written to the store by its real exporter and read back by its
  reader, is exactly what the API documents (redacted and cut, or as given).
"""

from __future__ import annotations

import itertools
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace.export import SpanExportResult

import agent_otel
from agent_otel import AgentOtelWarning, errors
from agent_otel import semconv as sc
from agent_otel.changes import CHANGE_TYPES
from agent_otel.content import exportable
from agent_otel.operations import OPERATION_STATUSES, OPERATION_TYPES
from agent_otel.spandata import SpanData
from agent_otel.store import StoreSpanExporter, read_spans
from agent_otel.validation import brief
from tests.conftest import Harness
from tests.core.test_redaction import Fake
from tests.security import api, scenario
from tests.security.api import CHOICE, CONTENT, FAILURE, IDENTIFIER, METADATA, Parameter

# Derandomized: CI runs the same examples every time; a failure prints its example.
PROPERTIES = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- the API is classified ----------------------------------------------------------------------


def test_every_public_text_parameter_is_classified_and_tested() -> None:
    assert not api.unclassified_public_names()
    found = set(api.text_parameters())
    classified = {(p.where, p.name.split(" ")[0]) for p in api.PARAMETERS}
    missing = found - classified - set(api.NOT_RECORDED)
    assert not missing, f"classify these in tests/security/api.py: {sorted(missing)}"
    stale = (classified | set(api.NOT_RECORDED)) - found
    assert not stale, f"no longer in the public API: {sorted(stale)}"
    for parameter in api.PARAMETERS:
        if parameter.treatment in (CONTENT, METADATA, FAILURE):
            assert parameter.path in scenario.PATHS, parameter  # secrets are planted there
        if parameter.treatment == IDENTIFIER:
            assert parameter.reason, parameter


def test_the_classification_check_catches_a_new_text_parameter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def annotate(self: agent_otel.Operation, note: str) -> None:
        """A public method as someone might add it, recording free text."""

    monkeypatch.setattr(agent_otel.Operation, "annotate", annotate, raising=False)
    assert ("Operation.annotate", "note") in set(api.text_parameters())
    monkeypatch.setattr(agent_otel, "__all__", [*agent_otel.__all__, "annotate_session"])
    assert api.unclassified_public_names() == ["annotate_session"]


# -- arbitrary values ---------------------------------------------------------------------------

EDGES = [
    "\x00",
    "nul\x00in\x00the\x00middle",
    "\u202eevil.exe\u202c",  # right-to-left override
    "\u200f\u200e\u200b\ufeff",  # RTL/LTR marks, zero-width space, BOM
    "e\u0301\u0301\u0301",  # combining marks
    "\ud800",  # lone surrogates
    "caf\udce9.txt",  # a file name decoded with surrogateescape
    "\U0001f469\u200d\U0001f4bb",  # emoji with a zero-width joiner
    "\x1b[31mred\x1b[0m\r\x08",  # terminal escapes and control characters
    "line\nbreak\r\nand\ttab",
    "[REDACTED:custom]",
    "x" * 40_000,  # over the content budget
    "é" * 20_000,  # over the budget in multi-byte characters
]
FAKE = Fake(11)
SECRETS = [FAKE.openai(), FAKE.anthropic(), FAKE.github(), FAKE.aws_id(), FAKE.slack(), FAKE.jwt()]

any_text = st.one_of(
    st.text(st.characters(exclude_categories=()), min_size=1, max_size=300),
    st.sampled_from(EDGES),
)


def _surrounded(parts: tuple[str, str, str]) -> str:
    return f"{parts[0]} {parts[1]} {parts[2]}"


secret_in_text = st.tuples(
    st.text(st.characters(exclude_categories=()), max_size=80),
    st.sampled_from(SECRETS),
    st.text(st.characters(exclude_categories=()), max_size=80),
).map(_surrounded)


class Hostile:
    """A value whose ``str``, ``repr`` and truth all raise."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __bool__(self) -> bool:
        raise RuntimeError("no bool")


class BrokenPath(os.PathLike[str]):
    def __fspath__(self) -> str:
        raise RuntimeError("no path")


wrong_types = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.binary(max_size=40),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(Hostile),
    st.builds(BrokenPath),
    st.just(object()),
)


# -- recording and reading back -----------------------------------------------------------------


class Recorder:
    """Records through one parameter, exports what was recorded with the store's real span
    exporter and reads it back with the store's reader."""

    def __init__(self, harness: Harness, directory: Path) -> None:
        self.harness = harness
        self.directory = directory
        self.counter = itertools.count()

    def record(self, parameter: Parameter, value: Any) -> tuple[Any, Any]:
        """The value of the parameter's attribute as recorded on the span and as read back
        from the store (both None when it was not recorded)."""
        self.harness.exporter.clear()
        parameter.record(value)
        spans = self.harness.spans()
        store = self.directory / str(next(self.counter))
        assert StoreSpanExporter(store).export(spans) is SpanExportResult.SUCCESS
        with warnings.catch_warnings():
            warnings.simplefilter("error", AgentOtelWarning)  # a skipped line would warn
            stored = list(read_spans(store))
        assert len(stored) == len(spans)
        recorded = _attribute(parameter, [SpanData.from_readable(s) for s in spans])
        read_back = _attribute(parameter, stored)
        return recorded, read_back


def _attribute(parameter: Parameter, spans: list[SpanData]) -> Any:
    (span,) = [s for s in spans if s.name.startswith(parameter.span)]
    if parameter.event is None:
        return span.attributes.get(parameter.attribute)
    events = [e for e in span.events if e.name == parameter.event]
    return events[0].attributes.get(parameter.attribute) if events else None


@pytest.fixture
def recorder(tel_content: Harness, tmp_path: Path) -> Iterator[Recorder]:
    yield Recorder(tel_content, tmp_path)


def expected(parameter: Parameter, value: str, harness: Harness) -> Any:
    """What the API documents it records for the text ``value``."""
    policy = harness.telemetry.content
    text = exportable(value)
    if parameter.treatment == CONTENT:
        captured = policy.capture_text(text)
        return captured.text if captured is not None else None
    if parameter.treatment == METADATA:
        return policy.metadata(text)
    if parameter.treatment == CHOICE:
        allowed = {
            "type": OPERATION_TYPES,
            "status": OPERATION_STATUSES,
            "change_type": CHANGE_TYPES,
        }[parameter.name]
        return text if text in allowed else brief(text)
    return text


TEXT_PARAMETERS = [p for p in api.PARAMETERS if p.treatment != FAILURE]
REDACTED = [p for p in api.PARAMETERS if p.treatment in (CONTENT, METADATA, CHOICE)]


# Known failures, marked strict xfail: (test, parameter) -> reason. None now.
PENDING: dict[tuple[str, str], str] = {}


def _cases(test: str, parameters: list[Parameter]) -> list[Any]:
    """``parameters`` for ``test``, the known failures marked strict xfail: when the fix
    lands, they pass and the mark must go."""
    cases = []
    for p in parameters:
        reason = PENDING.get((test, f"{p.where}.{p.name}"))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        cases.append(pytest.param(p, marks=marks, id=f"{p.where}.{p.name}"))
    return cases


@pytest.mark.parametrize("parameter", _cases("text", TEXT_PARAMETERS))
@PROPERTIES
@given(value=any_text)
def test_any_text_is_recorded_as_documented_and_reads_back(
    parameter: Parameter, value: str, recorder: Recorder
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recorded, read_back = recorder.record(parameter, value)
    assert all(issubclass(w.category, AgentOtelWarning) for w in caught)
    if parameter.treatment != CHOICE:
        assert not caught, [str(w.message) for w in caught]  # any text is valid text
    want = expected(parameter, value, recorder.harness)
    assert recorded == want
    assert read_back == want  # the store and its reader change nothing
    if parameter.treatment in (CONTENT, METADATA):
        max_bytes = recorder.harness.telemetry.content.max_bytes
        assert len(recorded.encode("utf-8")) <= max_bytes  # and it is valid UTF-8


@pytest.mark.parametrize("parameter", _cases("secret", REDACTED))
@PROPERTIES
@given(text=secret_in_text)
def test_a_secret_is_redacted_whatever_surrounds_it(
    parameter: Parameter, text: str, recorder: Recorder
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AgentOtelWarning)  # a choice outside its set
        recorded, read_back = recorder.record(parameter, text)
    for secret in SECRETS:
        assert secret not in str(recorded)
        assert secret[10:22] not in str(read_back)
    assert "[REDACTED:" in str(recorded)


@pytest.mark.parametrize("parameter", _cases("wrong", api.PARAMETERS))
@PROPERTIES
@given(value=wrong_types)
def test_wrong_types_warn_and_never_raise(
    parameter: Parameter, value: Any, recorder: Recorder
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        recorder.record(parameter, value)  # exported and read back, whatever was recorded
    assert all(issubclass(w.category, AgentOtelWarning) for w in caught), caught


def _call_name(parameter: Parameter) -> str:
    owner, method = parameter.where.split(".")
    if method == "__init__":
        return f"agent_otel.{owner.lower()}()"
    return f"{parameter.where}()"


@pytest.mark.parametrize("parameter", _cases("strict", api.PARAMETERS))
@PROPERTIES
@given(value=wrong_types)
def test_wrong_types_raise_a_clear_error_in_strict_mode(
    parameter: Parameter, value: Any, recorder: Recorder
) -> None:
    errors.set_strict(True)
    try:
        parameter.record(value)
    except (TypeError, ValueError) as error:
        assert _call_name(parameter) in str(error)
    else:
        # Accepted as it is: bytes are content, paths are text.
        assert isinstance(value, (bytes, os.PathLike)) and not isinstance(value, BrokenPath)
    finally:
        errors.set_strict(False)


def test_integers_beyond_64_bits_warn_and_are_not_recorded(recorder: Recorder) -> None:
    """OTLP carries 64-bit integers; a larger one would make the exporter drop it."""
    huge = 2**64
    with pytest.warns(AgentOtelWarning, match=r"code=18446744073709551616 is out of range"):
        _exit_code(huge)
    with pytest.warns(AgentOtelWarning, match=r"input_tokens=18446744073709551616 is out"):
        _usage(huge)
    spans = recorder.harness.spans()
    assert all(sc.PROCESS_EXIT_CODE not in (s.attributes or {}) for s in spans)


def _exit_code(code: int) -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("execute", "make") as op:
        op.set_exit_code(code)


def _usage(tokens: int) -> None:
    with agent_otel.session(user_id="u"), agent_otel.operation("query", "plan") as op:
        op.add_usage(input_tokens=tokens)
