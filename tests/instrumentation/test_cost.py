"""Cost of one LLM call: genai-prices' data used offline, OTel token semantics, own prices.

Expected figures are computed by hand in each test from the rates in genai-prices' bundled
data (quoted next to them, USD per million tokens), never read back through the code under
test; one cross-check compares our arithmetic with genai-prices' own calculator.
"""

from __future__ import annotations

import json
import logging
import math
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agent_otel import cost as cost_mod
from agent_otel.cost import PRICES_ENV, PriceBook, TokenUsage, default_price_book

LOGGER = "agent_otel.cost"


def approx(x: float) -> Any:
    return pytest.approx(x, rel=1e-12, abs=1e-15)


@pytest.fixture
def book() -> PriceBook:
    return PriceBook()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]


# --- genai-prices data, OTel token semantics -------------------------------------------------


def test_openai_cached_input_gpt_4o_dated_name(book: PriceBook) -> None:
    # gpt-4o: input 2.5, cached input 1.25, output 10
    usage = TokenUsage(input_tokens=10_000, output_tokens=1_000, cache_read_tokens=4_000)
    expected = (6_000 * 2.5 + 4_000 * 1.25 + 1_000 * 10) / 1e6  # 0.03
    assert book.cost("openai", "gpt-4o-2024-08-06", usage) == approx(expected)
    assert book.cost("openai", "gpt-4o", usage) == approx(0.03)


def test_openai_cached_input_gpt_4_1(book: PriceBook) -> None:
    # gpt-4.1: input 2, cached input 0.5, output 8
    usage = TokenUsage(input_tokens=100_000, output_tokens=2_000, cache_read_tokens=80_000)
    assert book.cost("openai", "gpt-4.1", usage) == approx(0.096)  # 20k*2 + 80k*0.5 + 2k*8


def test_openai_cache_write_without_own_rate_is_charged_as_input(book: PriceBook) -> None:
    # gpt-4.1 has no cache-write rate: those tokens are ordinary input (2)
    usage = TokenUsage(input_tokens=10_000, cache_creation_tokens=10_000)
    assert book.cost("openai", "gpt-4.1", usage) == approx(0.02)


def test_openai_reasoning_model_reasoning_is_part_of_output(book: PriceBook) -> None:
    # o4-mini: input 1.1, cached 0.275, output 4.4; reasoning tokens are output tokens
    usage = TokenUsage(
        input_tokens=3_000, cache_read_tokens=1_000, output_tokens=5_000, reasoning_tokens=4_000
    )
    expected = (2_000 * 1.1 + 1_000 * 0.275 + 5_000 * 4.4) / 1e6  # 0.024475
    assert book.cost("openai", "o4-mini-2025-04-16", usage) == approx(expected)
    # not charged twice: the same call without the reasoning breakdown costs the same
    plain = TokenUsage(input_tokens=3_000, cache_read_tokens=1_000, output_tokens=5_000)
    assert book.cost("openai", "o4-mini", plain) == approx(expected)


def test_openai_o3_uses_the_price_in_force_today(book: PriceBook) -> None:
    # o3 cost 10/40 until 2025-06-10, 2/8 (cached 0.5) since
    usage = TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000, reasoning_tokens=900_000)
    assert book.cost("openai", "o3", usage) == approx(10.0)


def test_reasoning_priced_separately_where_the_data_has_a_rate(book: PriceBook) -> None:
    # perplexity sonar-deep-research: input 2, output 8, reasoning 3
    usage = TokenUsage(input_tokens=1_000, output_tokens=10_000, reasoning_tokens=6_000)
    expected = (1_000 * 2 + 4_000 * 8 + 6_000 * 3) / 1e6  # 0.052
    assert book.cost("perplexity", "sonar-deep-research", usage) == approx(expected)


def test_anthropic_cache_read_and_write(book: PriceBook) -> None:
    # claude-sonnet-4-5: input 3, output 15, cache read 0.3, cache write 3.75 (<= 200k input).
    # OTel convention: input_tokens = 2,000 uncached + 6,000 read + 2,000 written.
    usage = TokenUsage(
        input_tokens=10_000,
        output_tokens=500,
        cache_read_tokens=6_000,
        cache_creation_tokens=2_000,
    )
    expected = (2_000 * 3 + 6_000 * 0.3 + 2_000 * 3.75 + 500 * 15) / 1e6  # 0.0228
    assert book.cost("anthropic", "claude-sonnet-4-5-20250929", usage) == approx(expected)
    assert book.cost("anthropic", "claude-sonnet-4-5", usage) == approx(expected)


def test_anthropic_long_context_tier_applies_to_the_whole_call(book: PriceBook) -> None:
    # above 200k total input every token of the call pays the tier: 6 / 22.5 / 0.6 / 7.5
    usage = TokenUsage(
        input_tokens=300_000,
        output_tokens=10_000,
        cache_read_tokens=100_000,
        cache_creation_tokens=50_000,
    )
    expected = (150_000 * 6 + 100_000 * 0.6 + 50_000 * 7.5 + 10_000 * 22.5) / 1e6  # 1.56
    model = "claude-sonnet-4-5-20250929"
    assert book.cost("anthropic", model, usage) == approx(expected)
    assert book.cost("anthropic", model, TokenUsage(input_tokens=200_000)) == approx(0.6)
    assert book.cost("anthropic", model, TokenUsage(input_tokens=200_001)) == approx(1.200006)


def test_anthropic_native_counts_are_rejected_not_mispriced(
    book: PriceBook, caplog: pytest.LogCaptureFixture
) -> None:
    # Anthropic's own input_tokens exclude the cache: passed unconverted, the parts exceed the
    # whole. That is a caller bug; the cost is unknown rather than wrong, with one warning.
    native = TokenUsage(input_tokens=2_000, cache_read_tokens=6_000, cache_creation_tokens=2_000)
    with caplog.at_level(logging.WARNING, LOGGER):
        assert book.cost("anthropic", "claude-sonnet-4-5", native) is None
        assert book.cost("anthropic", "claude-sonnet-4-5", native) is None
        assert book.cost("openai", "o3", TokenUsage(output_tokens=1, reasoning_tokens=2)) is None
        assert book.cost("openai", "gpt-4o", TokenUsage(input_tokens=-1)) is None
    assert len(_warnings(caplog)) == 1
    assert "inconsistent token counts" in _warnings(caplog)[0].getMessage()


def test_embeddings_models(book: PriceBook) -> None:
    # text-embedding-3-small 0.02, text-embedding-3-large 0.13 (input only)
    assert book.cost("openai", "text-embedding-3-small", TokenUsage(1_000_000)) == approx(0.02)
    assert book.cost("openai", "text-embedding-3-large", TokenUsage(50_000)) == approx(0.0065)


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        # Azure OpenAI serves gpt-4o at OpenAI's global rates: 2.5 / 10, cached 1.25
        ("azure.ai.openai", "gpt-4o", (6_000 * 2.5 + 4_000 * 1.25 + 1_000 * 10) / 1e6),
        # Bedrock Claude 3.5 Sonnet: 3 / 15, cache read 0.3, cache write 3.75
        (
            "aws.bedrock",
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            (4_000 * 3 + 4_000 * 0.3 + 2_000 * 3.75 + 1_000 * 15) / 1e6,
        ),
        # Claude on Vertex AI, Vertex's model name: Anthropic's rates
        (
            "gcp.vertex_ai",
            "claude-sonnet-4-5@20250929",
            (4_000 * 3 + 4_000 * 0.3 + 2_000 * 3.75 + 1_000 * 15) / 1e6,
        ),
        # no provider: genai-prices finds it by the model name
        (None, "gpt-4o-2024-08-06", (6_000 * 2.5 + 4_000 * 1.25 + 1_000 * 10) / 1e6),
        (
            None,
            "claude-sonnet-4-5-20250929",
            (4_000 * 3 + 4_000 * 0.3 + 2_000 * 3.75 + 15_000) / 1e6,
        ),
        # a provider name nobody knows: by model name as well
        ("my-gateway", "gpt-4o", (6_000 * 2.5 + 4_000 * 1.25 + 1_000 * 10) / 1e6),
        # case and padding of the provider name do not matter
        (" OpenAI ", "gpt-4o", (6_000 * 2.5 + 4_000 * 1.25 + 1_000 * 10) / 1e6),
    ],
)
def test_otel_provider_names(
    book: PriceBook, provider: str | None, model: str, expected: float
) -> None:
    cache_write = 2_000 if "claude" in model else 0
    usage = TokenUsage(
        input_tokens=10_000,
        output_tokens=1_000,
        cache_read_tokens=4_000,
        cache_creation_tokens=cache_write,
    )
    assert book.cost(provider, model, usage) == approx(expected)


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "no-such-model-xyz"),
        (None, "no-such-model-xyz"),
        ("anthropic", "gpt-4o"),  # a known provider that does not sell the model
        ("openai", "llama3"),  # e.g. Ollama behind the OpenAI client: not another vendor's rate
        ("openai", None),
        ("openai", ""),
        (None, None),
        ("groq", "whisper-large-v3"),  # billed per audio hour: not computable from tokens
    ],
)
def test_unknown_is_none_never_zero(
    book: PriceBook, provider: str | None, model: str | None
) -> None:
    usage = TokenUsage(input_tokens=1_000, output_tokens=1_000)
    assert book.cost(provider, model, usage) is None
    assert book.cost(provider, model, usage) is None  # cached unknown stays unknown


def test_a_model_listed_without_any_price_is_free(book: PriceBook) -> None:
    # genai-prices lists Gemma 4 31B on the Gemini API with an empty price set ("free of charge")
    assert book.cost("gcp.gemini", "gemma-4-31b-it", TokenUsage(1_000, 1_000)) == 0.0


def test_zero_usage_of_a_known_model_is_zero(book: PriceBook) -> None:
    assert book.cost("openai", "gpt-4o", TokenUsage()) == 0.0


def test_matches_genai_prices_own_calculator() -> None:
    """Our fast arithmetic agrees with genai-prices' calc_price for every model of the main
    providers (all price shapes there: cache rates, tiers, dated prices, request fees)."""
    import genai_prices

    usages = [
        TokenUsage(1_000, 500, 300, 200, 100),
        TokenUsage(250_000, 40_000, 100_000, 50_000, 30_000),
        TokenUsage(10, 0),
    ]
    checked = 0
    for provider in ("openai", "anthropic", "google", "aws", "azure", "mistral", "perplexity"):
        data = next(p for p in _genai_providers() if p.id == provider)
        for info in data.models:
            for u in usages:
                try:
                    theirs = genai_prices.calc_price(
                        genai_prices.Usage(
                            input_tokens=u.input_tokens,
                            output_tokens=u.output_tokens,
                            cache_read_tokens=u.cache_read_tokens,
                            cache_write_tokens=u.cache_creation_tokens,
                            output_reasoning_tokens=u.reasoning_tokens,
                        ),
                        info.id,
                        provider_id=provider,
                    )
                except LookupError:
                    continue  # ids that only match through another provider's fallback
                if theirs.model is not info:
                    continue
                entry = cost_mod._lookup_genai(provider, info.id)
                rates = entry.rates_now() if isinstance(entry, cost_mod._Dated) else entry
                if rates is None:  # priced per second/page/...: genai-prices charges nothing
                    assert theirs.total_price == 0
                    continue
                got = rates.cost(u)
                assert got is not None
                assert math.isclose(got, float(theirs.total_price), rel_tol=1e-9, abs_tol=1e-15), (
                    provider,
                    info.id,
                    u,
                )
                checked += 1
    assert checked > 500


def _genai_providers() -> list[Any]:
    from genai_prices import data_snapshot

    return list(data_snapshot.get_snapshot().providers)


# --- offline, lazy, fast ---------------------------------------------------------------------


def test_no_socket_is_opened_while_pricing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access while pricing")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket.socket, "connect_ex", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    threads_before = set(threading.enumerate())
    book = PriceBook()
    usage = TokenUsage(1_000, 100, 500)
    for provider, model in [
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-3-5-haiku-20241022"),
        ("gcp.gemini", "gemini-2.5-pro"),
        ("openai", "unknown-model-abc"),
    ]:
        book.cost(provider, model, usage)
    new_threads = set(threading.enumerate()) - threads_before
    assert not new_threads, new_threads


def test_fresh_process_is_offline_lazy_and_never_starts_the_updater() -> None:
    """In a new interpreter: importing agent_otel.cost does not import genai_prices; the first
    cost() imports it and prices with every way to the network blocked; genai-prices'
    background updater is never started."""
    script = r"""
import socket, sys, threading
def no_network(*a, **k):
    raise AssertionError("network access")
socket.socket.connect = no_network
socket.socket.connect_ex = no_network
socket.create_connection = no_network
socket.getaddrinfo = no_network
import agent_otel.cost as c
assert "genai_prices" not in sys.modules, "imported eagerly"
from genai_prices import update_prices
def refuse(*a, **k):
    raise AssertionError("UpdatePrices started")
update_prices.UpdatePrices.start = refuse
update_prices._SharedUpdater.acquire = refuse
usd = c.PriceBook().cost("openai", "gpt-4o", c.TokenUsage(input_tokens=1_000_000))
assert usd == 2.5, usd
assert update_prices._shared_updater.thread is None
assert update_prices._shared_updater.ref_count == 0
assert not [t for t in threading.enumerate() if t.name.startswith("genai_prices")]
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_cached_call_is_fast(book: PriceBook) -> None:
    usage = TokenUsage(10_000, 500, 6_000, 2_000)
    book.cost("anthropic", "claude-sonnet-4-5-20250929", usage)  # warm the cache
    n = 20_000
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            book.cost("anthropic", "claude-sonnet-4-5-20250929", usage)
        best = min(best, (time.perf_counter() - start) / n)
    assert best < 20e-6, f"{best * 1e6:.1f} µs per cached call"


def test_lookup_cache_is_bounded(book: PriceBook) -> None:
    usage = TokenUsage(1, 1)
    for i in range(cost_mod._CACHE_MAX + 50):
        book.cost("openai", f"made-up-{i}", usage)
    assert len(book._cache) <= cost_mod._CACHE_MAX
    assert book.cost("openai", "gpt-4o", TokenUsage(1_000_000)) == approx(2.5)


def test_never_raises(
    book: PriceBook, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(cost_mod, "_lookup_genai", broken)
    with caplog.at_level(logging.WARNING, LOGGER):
        assert book.cost("openai", "gpt-4o", TokenUsage(1, 1)) is None
        assert book.cost("openai", "gpt-4o-mini", TokenUsage(1, 1)) is None
        # a caller passing garbage gets "unknown", not an exception
        assert book.cost("openai", "o3", None) is None  # type: ignore[arg-type]
    records = _warnings(caplog)
    assert len(records) == 1  # once, not on every call
    assert "pricing openai/gpt-4o failed" in records[0].getMessage()


# --- the user's price file -------------------------------------------------------------------


def _write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_override_file_adds_and_overrides_prices(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(
        tmp_path,
        {
            "models": [
                {
                    "provider": "openai",
                    "model": "ft:gpt-4o-mini:acme",
                    "match": "prefix",
                    "input": 0.3,
                    "output": 1.2,
                    "cache_read": 0.15,
                    "note": "our fine-tune",
                },
                {"model": "my-llama", "input": 0.2, "output": 0.4},
                {
                    "provider": "anthropic",
                    "model": "Claude-Sonnet-4-5-20250929",
                    "input": 2.4,
                    "output": 12,
                    "cache_read": 0.24,
                    "cache_write": 3.0,
                    "reasoning": None,
                },
            ]
        },
    )
    with caplog.at_level(logging.WARNING, LOGGER):
        book = PriceBook(path)
    assert not _warnings(caplog)
    u = TokenUsage(
        input_tokens=10_000,
        output_tokens=2_000,
        cache_read_tokens=4_000,
        cache_creation_tokens=1_000,
        reasoning_tokens=500,
    )
    # fine-tune: 5,000 plain + 1,000 cache-write at input 0.3, 4,000 at 0.15, 2,000 at 1.2
    ft = (6_000 * 0.3 + 4_000 * 0.15 + 2_000 * 1.2) / 1e6
    assert book.cost("openai", "ft:gpt-4o-mini:acme:custom:9aB3", u) == approx(ft)
    # the provider-less entry matches whatever the provider, even none
    llama = (10_000 * 0.2 + 2_000 * 0.4) / 1e6
    assert book.cost("openai", "my-llama", u) == approx(llama)
    assert book.cost(None, "MY-LLAMA", u) == approx(llama)
    # a negotiated rate for a model genai-prices knows wins over it (case-insensitive)
    sonnet = (5_000 * 2.4 + 4_000 * 0.24 + 1_000 * 3.0 + 2_000 * 12) / 1e6
    assert book.cost("anthropic", "claude-sonnet-4-5-20250929", u) == approx(sonnet)
    # ... only for that provider: Bedrock's Claude keeps genai-prices' price (input 3 ...)
    bedrock = (5_000 * 3 + 4_000 * 0.3 + 1_000 * 3.75 + 2_000 * 15) / 1e6
    assert book.cost("aws.bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", u) == approx(
        bedrock
    )
    # the prefix entry does not match another provider
    assert book.cost("anthropic", "ft:gpt-4o-mini:acme:x", u) is None


def test_override_precedence(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "models": [
                # listed first, so only its provider can make it win over the generic entry
                {
                    "provider": "azure",
                    "model": "acme-large",
                    "match": "prefix",
                    "input": 4,
                    "output": 0,
                },
                {"model": "acme", "match": "prefix", "input": 1, "output": 0},
                {"model": "acme-large", "match": "prefix", "input": 2, "output": 0},
                {"model": "acme-large-v2", "input": 3, "output": 0},
                {"model": "dup", "input": 5, "output": 0},
                {"model": "dup", "input": 6, "output": 0},
                {"model": "gpt-4o", "input": 7, "output": 0},
            ]
        },
    )
    book = PriceBook(path)
    one_m = TokenUsage(input_tokens=1_000_000)
    assert book.cost("openai", "acme-small", one_m) == approx(1)  # only the short prefix
    assert book.cost("openai", "acme-large-v1", one_m) == approx(2)  # longer prefix wins
    assert book.cost("openai", "acme-large-v2", one_m) == approx(3)  # exact beats prefix
    # an entry naming the provider beats a generic one; "azure" also matches the OTel name
    assert book.cost("azure.ai.openai", "acme-large-v1", one_m) == approx(4)
    assert book.cost("openai", "dup", one_m) == approx(6)  # later entry wins
    assert book.cost("openai", "gpt-4o", one_m) == approx(7)  # overrides genai-prices (2.5)


def test_broken_json_is_one_warning_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path, '{"models": [ {"model": "x", "input": 1,')
    with caplog.at_level(logging.WARNING, LOGGER):
        book = PriceBook(path)
        assert book.cost("openai", "x", TokenUsage(1_000)) is None
        # genai-prices still prices what it knows
        assert book.cost("openai", "gpt-4o", TokenUsage(1_000_000)) == approx(2.5)
    records = _warnings(caplog)
    assert len(records) == 1
    message = records[0].getMessage()
    assert str(path) in message and "invalid JSON" in message and PRICES_ENV in message


def test_missing_file_is_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    missing = tmp_path / "nope.json"
    with caplog.at_level(logging.WARNING, LOGGER):
        book = PriceBook(missing)
    assert book.cost("openai", "gpt-4o", TokenUsage(1_000_000)) == approx(2.5)
    records = _warnings(caplog)
    assert len(records) == 1
    assert str(missing) in records[0].getMessage()
    assert "file not found" in records[0].getMessage()


def test_invalid_entries_are_reported_once_and_the_valid_ones_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(
        tmp_path,
        """{"models": [
            {"model": "good", "input": 1, "output": 2},
            {"model": "negative", "input": -1, "output": 2},
            {"model": "string-price", "input": "1.0", "output": 2},
            {"model": "bool-price", "input": true, "output": 2},
            {"model": "nan", "input": NaN, "output": 2},
            {"model": "no-output", "input": 1},
            {"model": "typo", "input": 1, "output": 2, "cache_reads": 0.5},
            {"model": "bad-match", "match": "regex", "input": 1, "output": 2},
            {"input": 1, "output": 2},
            {"model": "bad-provider", "provider": 3, "input": 1, "output": 2},
            "not an entry",
            {"model": "also-good", "input": 3, "output": 0, "cache_read": 0}
        ], "version": 1}""",
    )
    with caplog.at_level(logging.WARNING, LOGGER):
        book = PriceBook(path)
    records = _warnings(caplog)
    assert len(records) == 1
    message = records[0].getMessage()
    assert str(path) in message
    for fragment in (
        "models[1]",
        "non-negative",
        "models[2]",
        "must be a number",
        "models[3]",
        "models[4]",
        "nan",
        "models[5]",
        '"output" is required',
        "'cache_reads'",
        '"match" must be',
        '"model" must be',
        '"provider" must be',
        "models[10]",
        "'version'",
        "2 valid entries are used",
    ):
        assert fragment in message, fragment
    assert book.cost(None, "good", TokenUsage(1_000_000, 1_000_000)) == approx(3)
    assert book.cost(None, "also-good", TokenUsage(1_000_000, 0, 1_000_000)) == approx(0)
    assert book.cost(None, "negative", TokenUsage(1_000_000)) is None


def test_wrong_top_level_is_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path, [{"model": "x", "input": 1, "output": 1}])
    with caplog.at_level(logging.WARNING, LOGGER):
        book = PriceBook(path)
    assert book.cost(None, "x", TokenUsage(1_000_000)) is None
    records = _warnings(caplog)
    assert len(records) == 1 and "top level must be an object" in records[0].getMessage()


def test_from_env_and_default_price_book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path, {"models": [{"model": "env-model", "input": 1, "output": 1}]})
    monkeypatch.setenv(PRICES_ENV, str(path))
    assert PriceBook.from_env().cost(None, "env-model", TokenUsage(1_000_000)) == approx(1)
    cost_mod.default_price_book.cache_clear()
    try:
        first = default_price_book()
        assert first is default_price_book()
        assert first.cost("openai", "env-model", TokenUsage(2_000_000)) == approx(2)
    finally:
        cost_mod.default_price_book.cache_clear()
    monkeypatch.setenv(PRICES_ENV, "")
    assert PriceBook.from_env().cost(None, "env-model", TokenUsage(1)) is None
