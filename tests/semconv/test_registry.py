"""The semantic-convention registry in ``semconv/``, its generator and what it generates.

Most checks read the YAML directly instead of trusting the generator's own validation, so a
generator bug that lets a bad registry through still fails here.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML (test extra) reads the registry")

REPO_ROOT = Path(__file__).resolve().parents[2]
REGISTRY_DIR = REPO_ROOT / "semconv"
GENERATOR_PATH = REPO_ROOT / "scripts" / "generate_semconv.py"
SEMCONV_MODULE_PATH = REPO_ROOT / "src" / "agent_otel" / "semconv.py"
FOLLOWED_VERSION = "1.41.1"
REFERENCE_DIR = (
    REPO_ROOT.parent / "shared" / "reference" / f"otel-semconv-v{FOLLOWED_VERSION}" / "model"
)

#: ``agent`` then dot-separated lowercase snake_case words.
NAME_RE = re.compile(r"^agent(?:\.[a-z][a-z0-9]*(?:_[a-z0-9]+)*)+$")

#: The official attributes the project relies on (DESIGN.md); each must exist upstream and be
#: referenced by the registry.
EXPECTED_OFFICIAL_REFS = {
    "session.id",
    "user.id",
    "error.type",
    "file.path",
    "process.command_line",
    "process.executable.name",
    "process.exit.code",
    "gen_ai.operation.name",
    "gen_ai.agent.name",
    "gen_ai.tool.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.request.temperature",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.token.type",
    # the LLM client instrumentation (OpenAI / Anthropic)
    "gen_ai.response.id",
    "gen_ai.response.finish_reasons",
    "gen_ai.request.max_tokens",
    "gen_ai.request.top_p",
    "gen_ai.request.top_k",
    "gen_ai.request.stop_sequences",
    "gen_ai.request.frequency_penalty",
    "gen_ai.request.presence_penalty",
    "gen_ai.request.seed",
    "gen_ai.request.choice.count",
    "gen_ai.request.stream",
    "gen_ai.request.encoding_formats",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "gen_ai.output.type",
    "gen_ai.embeddings.dimension.count",
    "gen_ai.response.time_to_first_chunk",
}

#: Official attributes the reference model copy lacks (no `server` namespace there), accepted
#: because the package ships them in its stable modules.
EXPECTED_PACKAGE_STABLE_REFS = {"server.address", "server.port"}

#: Official metrics the instrumentation records, with the GenAI spec's advisory boundaries.
EXPECTED_OFFICIAL_METRICS = {
    "gen_ai.client.token.usage": (
        1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
    ),
    "gen_ai.client.operation.duration": (
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ),
    "gen_ai.client.operation.time_to_first_chunk": (
        0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
    ),
}  # fmt: skip

#: Content the LLM client span may carry, opt-in only.
LLM_CONTENT_REFS = {
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
}

#: Names the instrumentation code is written against; renaming one breaks it.
INSTRUMENTATION_NAMES = (
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "GEN_AI_RESPONSE_ID",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_TOP_P",
    "GEN_AI_REQUEST_TOP_K",
    "GEN_AI_REQUEST_STOP_SEQUENCES",
    "GEN_AI_REQUEST_FREQUENCY_PENALTY",
    "GEN_AI_REQUEST_PRESENCE_PENALTY",
    "GEN_AI_REQUEST_SEED",
    "GEN_AI_REQUEST_CHOICE_COUNT",
    "GEN_AI_REQUEST_STREAM",
    "GEN_AI_REQUEST_ENCODING_FORMATS",
    "GEN_AI_INPUT_MESSAGES",
    "GEN_AI_OUTPUT_MESSAGES",
    "GEN_AI_SYSTEM_INSTRUCTIONS",
    "GEN_AI_TOOL_DEFINITIONS",
    "GEN_AI_OUTPUT_TYPE",
    "GEN_AI_EMBEDDINGS_DIMENSION_COUNT",
    "GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK",
    "AGENT_USAGE_COST_UNKNOWN",
    "GenAiOperationNameValues",
    "GenAiProviderNameValues",
    "GenAiTokenTypeValues",
    "GenAiOutputTypeValues",
    "METRIC_GEN_AI_CLIENT_TOKEN_USAGE",
    "METRIC_GEN_AI_CLIENT_OPERATION_DURATION",
    "METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK",
)

needs_reference = pytest.mark.skipif(
    not REFERENCE_DIR.is_dir(),
    reason=f"official semconv {FOLLOWED_VERSION} model not found at {REFERENCE_DIR}; refs "
    "and generated files cannot be checked without it",
)


# --------------------------------------------------------------------------------------------
# Helpers and fixtures
# --------------------------------------------------------------------------------------------


def _load_module(name: str, path: Path) -> ModuleType:
    """Import a file by path; registered first, as dataclasses look their module up by name."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return _load_module("_agent_otel_generate_semconv", GENERATOR_PATH)


@pytest.fixture(scope="module")
def semconv() -> ModuleType:
    return _load_module("_agent_otel_semconv_generated", SEMCONV_MODULE_PATH)


def _groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in sorted((REGISTRY_DIR / "model").glob("*.yaml")):
        groups += yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
    return groups


def _definitions() -> list[dict[str, Any]]:
    return [a for g in _groups() if g["type"] == "attribute_group" for a in g["attributes"]]


def _own_ids() -> set[str]:
    return {a["id"] for a in _definitions()}


def _refs() -> list[tuple[str, dict[str, Any]]]:
    return [
        (g["id"], use)
        for g in _groups()
        if g["type"] != "attribute_group"
        for use in g.get("attributes") or []
    ]


def _registry_names() -> set[str]:
    """Every ``agent.*`` name: attribute ids, event and metric names, fixed span names."""
    names = _own_ids()
    for group in _groups():
        span_name = ((group.get("annotations") or {}).get("agent_otel") or {}).get("span_name")
        names |= {n for n in (group.get("name"), group.get("metric_name"), span_name) if n}
    return {n for n in names if n.startswith("agent.")}


@pytest.fixture(scope="module")
def reference_ids() -> set[str]:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"official semconv model not found at {REFERENCE_DIR}")
    ids = set()
    for path in REFERENCE_DIR.rglob("*.yaml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8")).get("groups") or []:
            ids |= {a["id"] for a in group.get("attributes") or [] if "id" in a}
    return ids


# --------------------------------------------------------------------------------------------
# Generated files
# --------------------------------------------------------------------------------------------


@needs_reference
def test_generated_files_are_up_to_date(gen: ModuleType) -> None:
    registry = gen.load_registry(REGISTRY_DIR, REFERENCE_DIR)
    outputs = gen.render_all(registry)
    assert set(outputs) == {
        Path("src/agent_otel/semconv.py"),
        Path("semconv/docs/attributes.md"),
        Path("semconv/docs/spans.md"),
        Path("semconv/docs/events.md"),
        Path("semconv/docs/metrics.md"),
    }
    stale = gen.stale_files(outputs, REPO_ROOT)
    assert not stale, f"stale generated files {stale}: run python scripts/generate_semconv.py"


@needs_reference
def test_generator_check_mode_passes() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR_PATH), "--check", "--reference", str(REFERENCE_DIR)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_generated_module_says_it_is_generated() -> None:
    head = SEMCONV_MODULE_PATH.read_text(encoding="utf-8")[:400]
    assert "GENERATED by scripts/generate_semconv.py" in head


def test_generated_module_passes_ruff() -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).is_file():
        pytest.skip("ruff is not installed")
    for command in (["check"], ["format", "--check"]):
        result = subprocess.run(
            [ruff, *command, str(SEMCONV_MODULE_PATH)],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------------------------
# Naming rules
# --------------------------------------------------------------------------------------------


def test_own_names_follow_the_naming_rules() -> None:
    bad = sorted(n for n in _own_ids() | _registry_names() if not NAME_RE.match(n))
    assert not bad, f"names must be agent. + dot-separated lowercase snake_case words: {bad}"
    assert all(i.startswith("agent.") for i in _own_ids())


def test_metric_names_follow_the_naming_rules() -> None:
    metrics = [g["metric_name"] for g in _groups() if g["type"] == "metric"]
    assert metrics
    bad = [m for m in metrics if not NAME_RE.match(m)]
    assert not bad, bad
    assert not set(metrics) & _own_ids(), "a metric name must not be an attribute id"


def test_no_attribute_id_is_the_namespace_of_another() -> None:
    ids = _own_ids()
    clashes = sorted((a, b) for a in ids for b in ids if b.startswith(a + "."))
    assert not clashes, clashes


def test_attribute_ids_are_unique() -> None:
    ids = [a["id"] for a in _definitions()]
    assert len(ids) == len(set(ids))


def test_no_own_id_redefines_an_official_attribute(reference_ids: set[str]) -> None:
    assert not _own_ids() & reference_ids


def test_official_attributes_are_only_referenced() -> None:
    for group in _groups():
        for entry in group.get("attributes") or []:
            if group["type"] == "attribute_group":
                assert "id" in entry and "ref" not in entry, (group["id"], entry)
            else:
                assert "ref" in entry and "id" not in entry, (group["id"], entry)


# --------------------------------------------------------------------------------------------
# Completeness
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("attribute", _definitions(), ids=lambda a: a.get("id", "?"))
def test_every_attribute_is_complete(attribute: dict[str, Any]) -> None:
    for key in ("type", "stability", "brief", "examples"):
        assert attribute.get(key) not in (None, "", []), f"{attribute['id']}: `{key}` missing"
    if isinstance(attribute["type"], dict):
        for member in attribute["type"]["members"]:
            for key in ("id", "value", "brief", "stability"):
                assert member.get(key), f"{attribute['id']}: member without `{key}`"


@pytest.mark.parametrize(
    "group", [g for g in _groups() if g["type"] != "attribute_group"], ids=lambda g: g["id"]
)
def test_every_signal_group_is_complete(group: dict[str, Any]) -> None:
    assert group.get("brief"), f"{group['id']}: `brief` missing"
    assert group.get("stability"), f"{group['id']}: `stability` missing"
    if group["type"] == "metric":
        assert group.get("instrument") in {"counter", "updowncounter", "histogram", "gauge"}
        assert group.get("unit"), f"{group['id']}: `unit` missing"
    elif group["type"] == "span":
        assert group.get("span_kind")
    elif group["type"] == "event":
        assert group.get("name")
    for use in group.get("attributes") or []:
        assert use.get("requirement_level"), f"{group['id']}: {use['ref']} has no level"


def test_registry_has_the_required_signals() -> None:
    by_type: dict[str, set[str]] = {}
    for group in _groups():
        by_type.setdefault(group["type"], set()).add(group["id"])
    assert {"span.agent.session", "span.agent.operation"} <= by_type["span"]
    assert {
        "event.agent.change",
        "event.agent.session.pause",
        "event.agent.session.resume",
        "event.agent.approval.request",
        "event.agent.approval.grant",
    } <= by_type["event"]
    assert {
        "metric.agent.session.duration",
        "metric.agent.session.active",
        "metric.agent.operation.duration",
        "metric.agent.token.usage",
        "metric.agent.cost",
    } <= by_type["metric"]


def test_manifest_names_registry_and_followed_version() -> None:
    manifest = yaml.safe_load((REGISTRY_DIR / "manifest.yaml").read_text(encoding="utf-8"))
    assert manifest["name"] == "agent-otel"
    assert manifest["semconv_version"] == "0.1.0"
    urls = [d.get("schema_url") for d in manifest["dependencies"]]
    assert f"https://opentelemetry.io/schemas/{FOLLOWED_VERSION}" in urls


# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------


def _stable_package_module(attribute_id: str) -> ModuleType | None:
    """The package's stable attributes module shipping ``attribute_id``, if any."""
    namespace = attribute_id.split(".")[0]
    try:
        module = importlib.import_module(f"opentelemetry.semconv.attributes.{namespace}_attributes")
    except ImportError:
        return None
    return module if getattr(module, _constant(attribute_id), None) == attribute_id else None


def test_every_ref_resolves(reference_ids: set[str]) -> None:
    known = reference_ids | _own_ids()
    dangling = sorted(
        {
            f"{group}: {use['ref']}"
            for group, use in _refs()
            if use["ref"] not in known and _stable_package_module(use["ref"]) is None
        }
    )
    assert not dangling, dangling


def test_expected_official_attributes_exist_and_are_referenced(reference_ids: set[str]) -> None:
    assert reference_ids >= EXPECTED_OFFICIAL_REFS, EXPECTED_OFFICIAL_REFS - reference_ids
    referenced = {use["ref"] for _, use in _refs()}
    assert referenced >= EXPECTED_OFFICIAL_REFS, EXPECTED_OFFICIAL_REFS - referenced
    assert referenced >= EXPECTED_PACKAGE_STABLE_REFS


def test_package_stable_refs_are_only_those_the_reference_lacks(reference_ids: set[str]) -> None:
    """Refs outside the reference model are the few stable ones, each typed by the generator."""
    outside = {use["ref"] for _, use in _refs()} - reference_ids - _own_ids()
    assert outside == EXPECTED_PACKAGE_STABLE_REFS
    for attribute_id in outside:
        assert _stable_package_module(attribute_id) is not None, attribute_id


def _reference_groups() -> dict[str, dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for path in REFERENCE_DIR.rglob("*.yaml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8")).get("groups") or []:
            groups[group["id"]] = group
    return groups


def _resolved_refs(group_id: str, groups: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Ref -> requirement level of a reference group, ``extends`` followed, overrides applied."""
    group = groups[group_id]
    levels = _resolved_refs(group["extends"], groups) if "extends" in group else {}
    for use in group.get("attributes") or []:
        if "ref" in use and ("requirement_level" in use or use["ref"] not in levels):
            levels[use["ref"]] = use.get("requirement_level", "recommended")
    return levels


def _level_kind(level: Any) -> str:
    return level if isinstance(level, str) else next(iter(level))


@needs_reference
def test_llm_span_uses_the_official_requirement_levels() -> None:
    groups = _reference_groups()
    inference = _resolved_refs("span.gen_ai.inference.client", groups)
    embeddings = _resolved_refs("span.gen_ai.embeddings.client", groups)
    ours = {use["ref"]: use for group, use in _refs() if group == "span.agent.llm.client"}
    assert set(ours) >= EXPECTED_PACKAGE_STABLE_REFS | LLM_CONTENT_REFS
    assert set(ours) >= {"agent.usage.cost", "agent.usage.cost_unknown", "error.type"}
    compared = 0
    for ref, use in ours.items():
        official = inference.get(ref, embeddings.get(ref))
        if official is None:
            continue
        assert _level_kind(use["requirement_level"]) == _level_kind(official), ref
        compared += 1
    assert compared >= 30


@needs_reference
def test_official_metrics_are_listed_not_redefined() -> None:
    manifest = yaml.safe_load((REGISTRY_DIR / "manifest.yaml").read_text(encoding="utf-8"))
    listed = {m["metric_name"]: tuple(m["buckets"]) for m in manifest["uses_official_metrics"]}
    assert listed == EXPECTED_OFFICIAL_METRICS
    ours = {g["metric_name"] for g in _groups() if g["type"] == "metric"}
    assert not ours & set(listed), "official metrics are used as they are, never redefined"


# --------------------------------------------------------------------------------------------
# The generated module
# --------------------------------------------------------------------------------------------


def _constant(name: str) -> str:
    return name.upper().replace(".", "_")


def test_constants_equal_their_ids(semconv: ModuleType) -> None:
    for attribute_id in _own_ids() | {use["ref"] for _, use in _refs()}:
        assert getattr(semconv, _constant(attribute_id)) == attribute_id


def test_official_constants_come_from_the_package() -> None:
    """Where the package ships a name, the module must use it rather than spell it again."""
    tree = ast.parse(SEMCONV_MODULE_PATH.read_text(encoding="utf-8"))
    values = {
        node.target.id: node.value
        for node in tree.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }
    checked = 0
    for attribute_id in EXPECTED_OFFICIAL_REFS | EXPECTED_PACKAGE_STABLE_REFS:
        name = _constant(attribute_id)
        namespace = attribute_id.split(".")[0]
        shipped = False
        for package in ("attributes", "_incubating.attributes"):
            try:
                module = importlib.import_module(
                    f"opentelemetry.semconv.{package}.{namespace}_attributes"
                )
            except ImportError:
                continue
            shipped = shipped or getattr(module, name, None) == attribute_id
        if shipped:
            assert isinstance(values[name], ast.Attribute), (
                f"{name} should use the package constant"
            )
            checked += 1
    assert checked, "the installed opentelemetry-semantic-conventions ships none of the names"


def test_enums_and_value_tuples_match_the_registry(semconv: ModuleType) -> None:
    for attribute in _definitions():
        if not isinstance(attribute["type"], dict):
            continue
        values = tuple(m["value"] for m in attribute["type"]["members"])
        words = re.split(r"[._]", attribute["id"])
        enum_class = getattr(semconv, "".join(w.capitalize() for w in words) + "Values")
        assert tuple(member.value for member in enum_class) == values
        assert all(enum_class[m["id"].upper()] == m["value"] for m in attribute["type"]["members"])
        assert getattr(semconv, _constant(attribute["id"]) + "_VALUES") == values


def test_content_attributes_are_the_annotated_ones(semconv: ModuleType) -> None:
    def is_content(entry: dict[str, Any]) -> bool:
        return bool(((entry.get("annotations") or {}).get("agent_otel") or {}).get("content"))

    expected = {a["id"] for a in _definitions() if is_content(a)}
    expected |= {use["ref"] for _, use in _refs() if is_content(use)}
    assert frozenset(expected) == semconv.CONTENT_ATTRIBUTES
    assert {
        "agent.session.initial_prompt",
        "agent.operation.result",
        "agent.change.before",
        "agent.change.after",
        "agent.change.diff",
        *LLM_CONTENT_REFS,
    } <= expected
    for group, use in _refs():
        if use["ref"] in expected:
            assert use["requirement_level"] == "opt_in", (group, use["ref"])


def test_the_instrumentation_names_exist(semconv: ModuleType) -> None:
    missing = [name for name in INSTRUMENTATION_NAMES if not hasattr(semconv, name)]
    assert not missing, missing
    assert semconv.AGENT_USAGE_COST_UNKNOWN == "agent.usage.cost_unknown"
    assert semconv.SERVER_ADDRESS == "server.address"
    assert semconv.SERVER_PORT == "server.port"
    assert [m.value for m in semconv.GenAiOutputTypeValues] == ["text", "json", "image", "speech"]


def test_generated_gen_ai_names_pass_the_official_check(semconv: ModuleType) -> None:
    from tests.semconv.official import check_span_against_reference

    names = {
        value
        for name, value in vars(semconv).items()
        if name.startswith("GEN_AI_") and isinstance(value, str)
    }
    problems = check_span_against_reference(dict.fromkeys(names, object()))
    assert not [p for p in problems if "not in the official" in p or "deprecated" in p], problems


@needs_reference
def test_official_metric_specs_match_the_reference(semconv: ModuleType) -> None:
    from tests.semconv.official import check_metric_against_reference

    groups = _reference_groups()
    by_name = {g["metric_name"]: g for g in groups.values() if g.get("type") == "metric"}
    for name, buckets in EXPECTED_OFFICIAL_METRICS.items():
        spec = getattr(semconv, "METRIC_" + _constant(name))
        assert spec.name == name
        assert not check_metric_against_reference(spec.name, spec.instrument, spec.unit)
        assert spec.description == " ".join(by_name[name]["brief"].split())
        assert spec.attributes == tuple(_resolved_refs(by_name[name]["id"], groups))
        assert spec.buckets == buckets


def test_spans_events_metrics_and_versions(semconv: ModuleType) -> None:
    assert semconv.SPAN_AGENT_SESSION == "agent.session"
    assert semconv.SPAN_AGENT_OPERATION == "execute_tool"
    for group in _groups():
        if group["type"] == "event":
            assert getattr(semconv, "EVENT_" + _constant(group["name"])) == group["name"]
        if group["type"] == "metric":
            spec = getattr(semconv, "METRIC_" + _constant(group["metric_name"]))
            assert (spec.name, spec.instrument, spec.unit) == (
                group["metric_name"],
                group["instrument"],
                group["unit"],
            )
            assert spec.description
            assert spec.attributes == tuple(u["ref"] for u in group.get("attributes") or [])
            buckets = ((group.get("annotations") or {}).get("agent_otel") or {}).get("buckets")
            assert spec.buckets == (tuple(buckets) if buckets else None)
            if spec.buckets:
                assert spec.instrument == "histogram"
                assert list(spec.buckets) == sorted(set(spec.buckets))
    assert semconv.SEMCONV_VERSION == FOLLOWED_VERSION
    assert f"https://opentelemetry.io/schemas/{FOLLOWED_VERSION}" == semconv.SCHEMA_URL
    assert semconv.REGISTRY_VERSION == "0.1.0"


# --------------------------------------------------------------------------------------------
# No agent.* name spelled as a literal outside the generated module
# --------------------------------------------------------------------------------------------


def _literal_pattern(names: set[str]) -> re.Pattern[str]:
    """``agent.<registry namespace>`` as a whole token anywhere in a string."""
    namespaces = sorted({name.split(".")[1] for name in names}, key=lambda n: (-len(n), n))
    return re.compile(r"(?<![\w.])agent\.(?:" + "|".join(map(re.escape, namespaces)) + r")(?!\w)")


def find_registry_literals(path: Path, names: set[str]) -> list[tuple[int, str]]:
    """Non-docstring string constants (f-string pieces included) that spell a registry name.

    A bare string statement (a docstring or attribute docstring) is documentation, not a
    name used at runtime, so it is allowed.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    documentation = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    pattern = _literal_pattern(names)
    found: list[tuple[int, int, str]] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in documentation
            and (node.value in names or pattern.search(node.value))
        ):
            found.append((node.lineno, node.col_offset, node.value))
    return [(line, value) for line, _, value in sorted(found)]


def _scanned_files() -> Iterator[Path]:
    exempt = {SEMCONV_MODULE_PATH.resolve(), GENERATOR_PATH.resolve()}
    for folder in ("src", "examples", "scripts"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            if path.resolve() not in exempt:
                yield path


def test_no_registry_name_is_spelled_as_a_literal() -> None:
    names = _registry_names()
    offenders = [
        f"{path.relative_to(REPO_ROOT)}:{line}: {value!r}"
        for path in _scanned_files()
        for line, value in find_registry_literals(path, names)
    ]
    assert not offenders, "use the constants of agent_otel.semconv instead:\n" + "\n".join(
        offenders
    )


def test_literal_scanner_catches_planted_literals(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        textwrap.dedent(
            '''
            """Module docs may mention agent.session.status in prose."""

            def record(span, name, kind):
                """So may function docs: agent.operation.type."""
                span.set_attribute("agent.session.status", "active")
                span.add_event(f"agent.change {kind}")
                span.set_attribute(f"agent.operation.{name}", 1)
                span.set_attribute("gen_ai.request.model", "gpt-4")
                return "agent.sessions are fine", "agent_otel.semconv", "the agent.cost metric"
            '''
        ),
        encoding="utf-8",
    )
    found = find_registry_literals(planted, _registry_names())
    assert [value for _, value in found] == [
        "agent.session.status",
        "agent.change ",
        "agent.operation.",
        "the agent.cost metric",
    ]


# --------------------------------------------------------------------------------------------
# The generator refuses broken registries
# --------------------------------------------------------------------------------------------

_MINI_REFERENCE = """
groups:
  - id: registry.session
    type: attribute_group
    brief: Session.
    attributes:
      - id: session.id
        type: string
        stability: development
        brief: A unique id to identify a session.
        examples: ["abc"]
  - id: registry.gen_ai
    type: attribute_group
    brief: GenAI.
    attributes:
      - id: gen_ai.operation.name
        stability: development
        brief: The name of the operation being performed.
        type:
          members:
            - {id: invoke_agent, value: invoke_agent, brief: Invoke, stability: development}
"""

_MINI_MANIFEST = """
name: mini
description: A tiny registry for tests.
semconv_version: 0.0.1
dependencies:
  - name: otel
    schema_url: https://opentelemetry.io/schemas/1.41.1
"""

_MINI_MODEL = """
groups:
  - id: registry.agent.demo
    type: attribute_group
    brief: Demo attributes.
    attributes:
      - id: agent.demo.count
        type: int
        stability: development
        brief: How many.
        examples: [3]
      - id: agent.demo.state
        stability: development
        brief: State.
        examples: [up]
        type:
          members:
            - {id: up, value: up, brief: Up., stability: development}
            - {id: down, value: down, brief: Down., stability: development}
  - id: span.agent.demo
    type: span
    span_kind: internal
    stability: development
    brief: A demo span.
    annotations:
      agent_otel: {span_name: agent.demo, gen_ai_operation_name: invoke_agent}
    attributes:
      - ref: session.id
        requirement_level: required
      - ref: agent.demo.state
        requirement_level: recommended
  - id: metric.agent.demo.count
    type: metric
    metric_name: agent.demo.count_total
    instrument: counter
    unit: "{demo}"
    stability: development
    brief: Demo count.
    attributes:
      - ref: agent.demo.count
        requirement_level: recommended
"""


def _mini_registry(tmp_path: Path, model: str = _MINI_MODEL) -> tuple[Path, Path]:
    registry, reference = tmp_path / "registry", tmp_path / "reference"
    (registry / "model").mkdir(parents=True)
    reference.mkdir()
    (registry / "manifest.yaml").write_text(_MINI_MANIFEST, encoding="utf-8")
    (registry / "model" / "model.yaml").write_text(model, encoding="utf-8")
    (reference / "registry.yaml").write_text(_MINI_REFERENCE, encoding="utf-8")
    return registry, reference


def test_generator_accepts_the_mini_registry(gen: ModuleType, tmp_path: Path) -> None:
    registry = gen.load_registry(*_mini_registry(tmp_path))
    source = gen.render_python(registry)
    compile(source, "semconv.py", "exec")
    assert 'AGENT_DEMO_STATE: Final = "agent.demo.state"' in source
    assert "SESSION_ID: Final = session_attributes.SESSION_ID" in source
    assert "class AgentDemoStateValues(str, enum.Enum):" in source


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("        brief: How many.\n", "", "attribute agent.demo.count: `brief` is missing"),
        (
            "id: agent.demo.count\n",
            "id: agent.demo.Count\n",
            "attribute agent.demo.Count: bad name",
        ),
        ("id: agent.demo.count\n", "id: agent.demo.count-x\n", "bad name"),
        (
            "ref: agent.demo.state",
            "ref: agent.demo.missing",
            "ref agent.demo.missing: dangling ref",
        ),
        ("ref: session.id", "ref: session.nope", "ref session.nope: dangling ref"),
        ("examples: [3]", "examples: [three]", "does not fit type int"),
        ("        examples: [3]\n", "", "`examples` is missing"),
        (
            "    stability: development\n    brief: A demo span.",
            "    brief: A demo span.",
            "stability",
        ),
        ("instrument: counter", "instrument: meter", "`instrument` must be one of"),
        ('unit: "{demo}"', 'unit: ""', "`unit` is missing"),
        ("id: agent.demo.count\n", "id: session.id\n", "redefines an official attribute"),
        ("metric_name: agent.demo.count_total", "metric_name: agent.Demo", "metric name"),
        ("        requirement_level: required\n", "", "`requirement_level` must be"),
        ("  - id: span.agent.demo\n", "  - id: span.agent.demo\n    extends: x\n", "unsupported"),
    ],
)
def test_generator_rejects_a_broken_registry(
    gen: ModuleType, tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in _MINI_MODEL
    registry, reference = _mini_registry(tmp_path, _MINI_MODEL.replace(old, new, 1))
    with pytest.raises(gen.RegistryError) as caught:
        gen.load_registry(registry, reference)
    assert message in str(caught.value)


def test_generator_rejects_an_id_that_is_a_namespace(gen: ModuleType, tmp_path: Path) -> None:
    model = _MINI_MODEL.replace(
        "      - id: agent.demo.state\n",
        "      - id: agent.demo.count.max\n"
        "        type: int\n"
        "        stability: development\n"
        "        brief: Most.\n"
        "        examples: [9]\n"
        "      - id: agent.demo.state\n",
    )
    registry, reference = _mini_registry(tmp_path, model)
    with pytest.raises(
        gen.RegistryError, match=r"is also the namespace of agent\.demo\.count\.max"
    ):
        gen.load_registry(registry, reference)


def test_generator_cli_exits_2_with_the_problems(tmp_path: Path) -> None:
    registry, reference = _mini_registry(
        tmp_path, _MINI_MODEL.replace("ref: agent.demo.state", "ref: agent.demo.missing")
    )
    result = subprocess.run(
        [
            sys.executable,
            str(GENERATOR_PATH),
            "--check",
            "--registry",
            str(registry),
            "--reference",
            str(reference),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "semconv registry is invalid" in result.stderr
    assert "agent.demo.missing: dangling ref" in result.stderr


def test_generator_names_a_missing_reference_model(gen: ModuleType, tmp_path: Path) -> None:
    registry, _ = _mini_registry(tmp_path)
    with pytest.raises(gen.RegistryError, match="official reference model not found"):
        gen.load_registry(registry, tmp_path / "nowhere")


# --------------------------------------------------------------------------------------------
# Refs the reference model lacks, official metrics and bucket boundaries
# --------------------------------------------------------------------------------------------

_MINI_METRICS_REFERENCE = """
groups:
  - id: metric_attributes.gen_ai
    type: attribute_group
    brief: Metric attributes.
    attributes:
      - ref: server.address
        requirement_level: recommended
      - ref: gen_ai.operation.name
        requirement_level: required
  - id: metric.gen_ai.client.operation.duration
    type: metric
    metric_name: gen_ai.client.operation.duration
    brief: GenAI operation duration.
    instrument: histogram
    unit: s
    stability: development
    extends: metric_attributes.gen_ai
    attributes:
      - ref: session.id
        requirement_level:
          conditionally_required: if any
  - id: metric.gen_ai.demo.count
    type: metric
    metric_name: gen_ai.demo.count
    brief: A counter.
    instrument: counter
    unit: "{call}"
    stability: development
"""

_OFFICIAL_METRICS_MANIFEST = """
uses_official_metrics:
  - metric_name: gen_ai.client.operation.duration
    buckets: [0.01, 0.02, 0.04]
"""


def _with_package_ref(ref: str) -> str:
    return _MINI_MODEL.replace(
        "      - ref: agent.demo.state\n",
        f"      - ref: {ref}\n        requirement_level: recommended\n"
        "      - ref: agent.demo.state\n",
    )


def test_a_stable_package_ref_is_accepted_and_marked(gen: ModuleType, tmp_path: Path) -> None:
    registry = gen.load_registry(*_mini_registry(tmp_path, _with_package_ref("server.port")))
    attribute = registry.lookup("server.port")
    assert (attribute.type, attribute.stability, attribute.from_package) == ("int", "stable", True)
    assert attribute.brief == "Server port number."
    source = gen.render_python(registry)
    assert "SERVER_PORT: Final = server_attributes.SERVER_PORT" in source
    spans = gen.render_markdown(registry)["spans.md"]
    row = next(line for line in spans.splitlines() if line.startswith("| `server.port`"))
    assert "| `int` |" in row
    assert "stable, from the opentelemetry-semantic-conventions package" in row
    attributes = gen.render_markdown(registry)["attributes.md"]
    assert "stable, from the opentelemetry-semantic-conventions package" in attributes


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("server.nope", "ref server.nope: dangling ref"),  # a stable namespace, no such name
        ("cloud.region", "ref cloud.region: dangling ref"),  # incubating only: not accepted
        ("url.full", "ref url.full: not in the reference model; the package ships it as stable"),
    ],
)
def test_a_ref_found_nowhere_or_untyped_still_fails(
    gen: ModuleType, tmp_path: Path, ref: str, message: str
) -> None:
    with pytest.raises(gen.RegistryError) as caught:
        gen.load_registry(*_mini_registry(tmp_path, _with_package_ref(ref)))
    assert message in str(caught.value)
    if ref == "url.full":
        assert "PACKAGE_STABLE_TYPES" in str(caught.value)


def _official_metrics_registry(tmp_path: Path, manifest_tail: str) -> tuple[Path, Path]:
    registry, reference = _mini_registry(tmp_path)
    with (registry / "manifest.yaml").open("a", encoding="utf-8") as manifest:
        manifest.write(manifest_tail)
    (reference / "metrics.yaml").write_text(_MINI_METRICS_REFERENCE, encoding="utf-8")
    return registry, reference


def test_official_metrics_are_read_from_the_reference(gen: ModuleType, tmp_path: Path) -> None:
    registry = gen.load_registry(*_official_metrics_registry(tmp_path, _OFFICIAL_METRICS_MANIFEST))
    source = gen.render_python(registry)
    namespace: dict[str, Any] = {}
    exec(compile(source, "semconv.py", "exec"), namespace)
    spec = namespace["METRIC_GEN_AI_CLIENT_OPERATION_DURATION"]
    assert (spec.name, spec.instrument, spec.unit) == (
        "gen_ai.client.operation.duration",
        "histogram",
        "s",
    )
    assert spec.description == "GenAI operation duration."
    assert spec.attributes == ("server.address", "gen_ai.operation.name", "session.id")
    assert spec.buckets == (0.01, 0.02, 0.04)
    assert namespace["METRIC_AGENT_DEMO_COUNT"].buckets is None
    assert "name=gen_ai_metrics.GEN_AI_CLIENT_OPERATION_DURATION" in source
    assert "SERVER_ADDRESS: Final = server_attributes.SERVER_ADDRESS" in source
    metrics = gen.render_markdown(registry)["metrics.md"]
    assert (
        "| `gen_ai.client.operation.duration` | histogram | `s` | official (semantic conventions "
        "1.41.1) | GenAI operation duration. |"
    ) in metrics
    assert "| `agent.demo.count_total` | counter | `{demo}` | this registry |" in metrics
    assert "### `metric.gen_ai.client.operation.duration` (official)" in metrics
    assert "| Advisory bucket boundaries | 0.01, 0.02, 0.04 |" in metrics


@pytest.mark.parametrize(
    ("tail", "message"),
    [
        (
            "uses_official_metrics:\n  - metric_name: gen_ai.client.nothing\n",
            "uses_official_metrics gen_ai.client.nothing: no such metric",
        ),
        (
            "uses_official_metrics:\n  - metric_name: gen_ai.demo.count\n    buckets: [1, 2]\n",
            "`buckets` only apply to histograms, not counter",
        ),
        (
            "uses_official_metrics:\n  - metric_name: gen_ai.client.operation.duration\n"
            "    buckets: [1, 1, 2]\n",
            "`buckets` must be a non-empty, strictly increasing number list",
        ),
        (
            "uses_official_metrics:\n  - metric_name: gen_ai.client.operation.duration\n"
            "    boundaries: [1]\n",
            "unknown keys ['boundaries']",
        ),
        ("uses_official_metrics: gen_ai.client.operation.duration\n", "must be a list"),
    ],
)
def test_bad_official_metric_entries_are_rejected(
    gen: ModuleType, tmp_path: Path, tail: str, message: str
) -> None:
    with pytest.raises(gen.RegistryError) as caught:
        gen.load_registry(*_official_metrics_registry(tmp_path, tail))
    assert message in str(caught.value)


def test_own_histograms_take_buckets_from_an_annotation(gen: ModuleType, tmp_path: Path) -> None:
    histogram = _MINI_MODEL.replace("instrument: counter", "instrument: histogram").replace(
        "    brief: Demo count.\n",
        "    brief: Demo count.\n    annotations:\n      agent_otel: {buckets: [1, 2.5, 10]}\n",
    )
    registry = gen.load_registry(*_mini_registry(tmp_path, histogram))
    assert "buckets=(1.0, 2.5, 10.0)" in gen.render_python(registry)
    counter = histogram.replace("instrument: histogram", "instrument: counter")
    with pytest.raises(gen.RegistryError, match=r"agent_otel\.buckets only applies to histograms"):
        gen.load_registry(*_mini_registry(tmp_path / "counter", counter))
