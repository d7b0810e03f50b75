"""USD cost of one LLM call, computed offline.

Prices come from the `genai-prices` package (the data bundled with the installed version;
nothing here ever starts its ``UpdatePrices`` downloader, so pricing never touches the
network). Its price table and model-name matching rules are used as they are; the arithmetic
for the five token counts we know is done here, on rates compiled once per (provider, model),
because genai-prices' general calculator costs ~70 µs a call and this runs on every LLM call.
A test checks that both give the same figures.

Token counts follow the OpenTelemetry GenAI conventions: ``input_tokens`` includes the
cache-read and cache-creation tokens, ``output_tokens`` includes the reasoning tokens. Each
part is charged at its own rate where the price data has one and at the plain input/output rate
otherwise. A model nobody has a price for costs ``None`` ("unknown"), never ``0``; so does a
model billed by something other than tokens (audio seconds, pages), and so do contradictory
counts (cache tokens above ``input_tokens``). A model genai-prices lists with an empty price
set (``:free`` variants, subscription-included models) costs ``0.0``.

Own prices
----------
``AGENT_OTEL_PRICES=/path/prices.json`` adds or overrides prices (fine-tunes, private
deployments, negotiated rates). The file is JSON; prices are USD per million tokens::

    {
      "models": [
        {"provider": "openai", "model": "ft:gpt-4o-mini:acme", "match": "prefix",
         "input": 0.3, "output": 1.2, "cache_read": 0.15},
        {"model": "my-llama", "input": 0.2, "output": 0.2},
        {"provider": "anthropic", "model": "claude-sonnet-4-5-20250929",
         "input": 2.4, "output": 12, "cache_read": 0.24, "cache_write": 3.0, "reasoning": null}
      ]
    }

Per entry: ``model`` (required string) is compared case-insensitively with the model name the
API reported; ``match`` is ``"exact"`` (default) or ``"prefix"``; ``provider`` (optional) is
the ``gen_ai.provider.name`` value (``openai``, ``anthropic``, ``aws.bedrock``,
``azure.ai.openai``, ``gcp.vertex_ai`` ...) or the genai-prices id it maps to (``aws``,
``azure``, ``google`` ...); without it the entry applies to every provider. ``input`` and
``output`` are required (use ``0`` for an embeddings model's output); ``cache_read``,
``cache_write`` and ``reasoning`` are optional, and when absent or ``null`` those tokens are
charged at the ``input`` (cache) or ``output`` (reasoning) rate. ``note`` is free text.

An entry that matches wins over genai-prices. Among matching entries: an exact match beats a
prefix, a longer prefix beats a shorter one, an entry naming the provider beats one that does
not, and otherwise the later entry in the file wins. A broken file never breaks the app: a
problem (unreadable file, bad JSON, wrong type, negative price, unknown key) is reported in one
warning on the ``agent_otel.cost`` logger that names the file, the entries that are valid are
still used, and an unparsable file is ignored as a whole.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from genai_prices.types import ModelInfo, ModelPrice

__all__ = ["PRICES_ENV", "PriceBook", "TokenUsage", "default_price_book"]

_logger = logging.getLogger("agent_otel.cost")

PRICES_ENV: Final = "AGENT_OTEL_PRICES"
"""Environment variable naming the JSON file of own prices."""

# One entry per (provider, model) seen; real apps use a handful, the cap only guards against
# an app that invents model names.
_CACHE_MAX: Final = 1024
_PER_MILLION: Final = 1_000_000.0

# gen_ai.provider.name (OpenTelemetry semconv 1.41) -> genai-prices provider id. Where OTel and
# genai-prices disagree the name must be mapped: genai-prices matches unknown provider ids by
# substring, so "azure.ai.openai" would otherwise price as OpenAI proper.
_PROVIDER_IDS: Final[dict[str, str]] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "aws.bedrock": "aws",
    "gcp.vertex_ai": "google",
    "gcp.gemini": "google",
    "gcp.gen_ai": "google",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "groq": "groq",
    "mistral_ai": "mistral",
    "perplexity": "perplexity",
    "x_ai": "x-ai",
}


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts of one LLM call, in the OpenTelemetry GenAI convention.

    ``input_tokens`` includes ``cache_read_tokens`` and ``cache_creation_tokens``;
    ``output_tokens`` includes ``reasoning_tokens``. (Anthropic's API reports input without
    the cache tokens: add them before building this.)
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    reasoning_tokens: int = 0


class _Tiered:
    """A price that changes for the whole call once its total input passes a threshold
    (Anthropic's and Google's long-context prices): genai-prices' "cliff" model."""

    __slots__ = ("base", "tiers")

    def __init__(self, base: float, tiers: tuple[tuple[int, float], ...]) -> None:
        self.base = base
        self.tiers = tuple(sorted(tiers, reverse=True))  # highest threshold first

    def at(self, total_input: float) -> float:
        for start, price in self.tiers:
            if total_input > start:
                return price
        return self.base


_Price = float | _Tiered


class _Rates:
    """USD per million tokens for each kind of token of one model; ``None`` for a cache or
    reasoning rate means those tokens are charged at the plain input or output rate."""

    __slots__ = ("cache_read", "cache_write", "input", "output", "per_request", "reasoning")

    def __init__(
        self,
        input: _Price | None,
        output: _Price | None,
        cache_read: _Price | None = None,
        cache_write: _Price | None = None,
        reasoning: _Price | None = None,
        per_request: float = 0.0,
    ) -> None:
        self.input = input
        self.output = output
        self.cache_read = cache_read
        self.cache_write = cache_write
        self.reasoning = reasoning
        self.per_request = per_request

    def cost(self, u: TokenUsage) -> float | None:
        """USD for ``u``, or None when the counts contradict each other (a part larger than
        its whole), which means the caller mixed up conventions: no figure beats a wrong one."""
        total_in = u.input_tokens
        cache_read = u.cache_read_tokens
        cache_write = u.cache_creation_tokens
        total_out = u.output_tokens
        reasoning = u.reasoning_tokens
        if (
            min(total_in, cache_read, cache_write, total_out, reasoning) < 0
            or cache_read + cache_write > total_in
            or reasoning > total_out
        ):
            return None
        usd = 0.0
        plain_in = total_in
        if self.cache_read is not None:
            usd += cache_read * _rate(self.cache_read, total_in)
            plain_in -= cache_read
        if self.cache_write is not None:
            usd += cache_write * _rate(self.cache_write, total_in)
            plain_in -= cache_write
        if self.input is not None:
            usd += plain_in * _rate(self.input, total_in)
        plain_out = total_out
        if self.reasoning is not None:
            usd += reasoning * _rate(self.reasoning, total_in)
            plain_out -= reasoning
        if self.output is not None:
            usd += plain_out * _rate(self.output, total_in)
        return usd / _PER_MILLION + self.per_request


def _rate(price: _Price, total_input: int) -> float:
    return price if isinstance(price, float) else price.at(total_input)


class _Dated:
    """A genai-prices model whose price changed over time: the rates in force are looked up
    per call (cheap), compiled once per price period."""

    __slots__ = ("compiled", "model")

    def __init__(self, model: ModelInfo) -> None:
        self.model = model
        self.compiled: dict[int, _Rates | None] = {}

    def rates_now(self) -> _Rates | None:
        prices = self.model.get_prices(datetime.now(timezone.utc))
        key = id(prices)  # the ModelPrice objects live as long as self.model
        try:
            return self.compiled[key]
        except KeyError:
            rates = self.compiled[key] = _compile(prices)
            return rates


_Entry = _Rates | _Dated | None

# Cached for a (provider, model) that has no price, so unknown models are cheap too.
_UNKNOWN: Final = _Rates(None, None)


def _compile(prices: ModelPrice) -> _Rates | None:
    """The rates we need from a genai-prices price set, or None if it has no token price (a
    model billed per second or per page cannot be priced from token counts)."""
    from genai_prices.types import TieredPrices

    def conv(key: str) -> _Price | None:
        value = getattr(prices, key, None)
        if value is None:
            return None
        if isinstance(value, TieredPrices):
            tiers = tuple((int(t.start), float(t.price)) for t in value.tiers)
            return _Tiered(float(value.base), tiers) if tiers else float(value.base)
        return float(value)

    input_rate = conv("input_mtok")
    output_rate = conv("output_mtok")
    if input_rate is None and output_rate is None:
        if not any(v is not None for k, v in vars(prices).items() if not k.startswith("_")):
            # genai-prices lists the model with no price at all: free of charge (":free"
            # variants, Gemma on the Gemini API, subscription-included models).
            return _Rates(0.0, 0.0)
        return None
    per_kilo_request = conv("requests_kcount")
    if isinstance(per_kilo_request, _Tiered):
        per_kilo_request = per_kilo_request.base
    return _Rates(
        input_rate,
        output_rate,
        cache_read=conv("cache_read_mtok"),
        cache_write=conv("cache_write_mtok"),
        reasoning=conv("output_reasoning_mtok"),
        per_request=(per_kilo_request or 0.0) / 1000.0,
    )


def _lookup_genai(provider: str | None, model: str) -> _Entry:
    """Find ``model`` in genai-prices' bundled data, using its own matching rules (dated and
    alias names, provider fallbacks such as Azure -> OpenAI)."""
    try:
        import genai_prices
    except ImportError:
        _warn_once("no-genai-prices", "genai-prices is not installed; LLM cost is unknown")
        return None

    key = (provider or "").strip().lower() or None
    if key is None:
        attempts: tuple[str | None, ...] = (None,)
    elif key in _PROVIDER_IDS:
        # A provider we know: its price or none. Matching by model name alone could charge
        # another vendor's rate for a model served elsewhere (a local model behind the
        # OpenAI client, say).
        attempts = (_PROVIDER_IDS[key],)
    else:
        attempts = (key, None)
    for provider_id in attempts:
        try:
            # A zero usage just performs the lookup; the public calc_price is the stable way in.
            found = genai_prices.calc_price(genai_prices.Usage(), model, provider_id=provider_id)
        except LookupError:
            continue
        info = found.model
        if isinstance(info.prices, list):
            return _Dated(info)
        return _compile(info.prices)
    return None


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(what: str, message: str, *args: object) -> None:
    """One warning per kind per process: the cost path runs on every call and must not flood."""
    with _warned_lock:
        if what in _warned:
            return
        _warned.add(what)
    _logger.warning(message, *args)


# ---------------------------------------------------------------------------------------------
# The user's price file


class _Override:
    """One valid entry of the price file (names lower-cased)."""

    __slots__ = ("model", "order", "prefix", "provider", "rates")

    def __init__(
        self, provider: str | None, model: str, prefix: bool, rates: _Rates, order: int
    ) -> None:
        self.provider = provider
        self.model = model
        self.prefix = prefix
        self.rates = rates
        self.order = order

    def rank(self, provider_names: tuple[str, ...], model: str) -> tuple[int, int, int, int] | None:
        """Sort key of this entry for a call, larger is better; None if it does not apply."""
        if self.provider is not None and self.provider not in provider_names:
            return None
        if self.prefix:
            if not model.startswith(self.model):
                return None
            exact = 0
        elif model != self.model:
            return None
        else:
            exact = 1
        return (exact, len(self.model), self.provider is not None, self.order)


_ENTRY_KEYS: Final = frozenset(
    {
        "provider",
        "model",
        "match",
        "input",
        "output",
        "cache_read",
        "cache_write",
        "reasoning",
        "note",
    }
)


def _load_overrides(path: str) -> list[_Override]:
    """Parse the price file; collect every problem and report them in one warning."""
    problems: list[str] = []
    entries: list[_Override] = []
    try:
        with open(path, encoding="utf-8") as f:
            data: Any = json.load(f)  # NaN/Infinity parse, and are rejected per entry
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        _logger.warning(
            "agent-otel: price file %s (%s) is ignored: %s", path, PRICES_ENV, _describe(exc)
        )
        return []
    models: Any = None
    if not isinstance(data, dict):
        problems.append('the top level must be an object {"models": [...]}')
    else:
        models = data.get("models")
        extra = sorted(str(k) for k in data if k != "models")
        if extra:
            problems.append(f"unknown top-level key(s) {', '.join(map(repr, extra))}")
        if not isinstance(models, list):
            problems.append('"models" must be a list of entries')
            models = None
    for index, raw in enumerate(models or ()):
        entry, problem = _parse_entry(raw, index)
        if problem:
            problems.append(f"models[{index}]: {problem}")
        if entry is not None:
            entries.append(entry)
    if problems:
        shown = problems[:20]
        if len(problems) > 20:
            shown.append(f"... and {len(problems) - 20} more")
        _logger.warning(
            "agent-otel: price file %s (%s) has %d problem(s); %d valid entr%s used: %s",
            path,
            PRICES_ENV,
            len(problems),
            len(entries),
            "y is" if len(entries) == 1 else "ies are",
            "; ".join(shown),
        )
    return entries


def _describe(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON ({exc})"
    return f"{type(exc).__name__}: {exc}"


def _parse_entry(raw: Any, order: int) -> tuple[_Override | None, str | None]:
    if not isinstance(raw, dict):
        return None, "an entry must be an object"
    unknown = sorted(str(k) for k in raw if k not in _ENTRY_KEYS)
    if unknown:
        return None, f"unknown key(s) {', '.join(map(repr, unknown))}"
    model = raw.get("model")
    if not isinstance(model, str) or not model.strip():
        return None, '"model" must be a non-empty string'
    provider = raw.get("provider")
    if provider is not None and (not isinstance(provider, str) or not provider.strip()):
        return None, '"provider" must be a non-empty string or absent'
    match = raw.get("match", "exact")
    if match not in ("exact", "prefix"):
        return None, '"match" must be "exact" or "prefix"'
    rates: dict[str, float | None] = {}
    for key in ("input", "output", "cache_read", "cache_write", "reasoning"):
        value = raw.get(key)
        required = key in ("input", "output")
        if value is None:
            if required:
                return None, f'"{key}" is required (USD per million tokens)'
            rates[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None, f'"{key}" must be a number (USD per million tokens)'
        if not math.isfinite(value) or value < 0:
            return None, f'"{key}" must be a finite non-negative number, not {value!r}'
        rates[key] = float(value)
    return (
        _Override(
            provider=provider.strip().lower() if provider is not None else None,
            model=model.strip().lower(),
            prefix=match == "prefix",
            rates=_Rates(
                rates["input"],
                rates["output"],
                cache_read=rates["cache_read"],
                cache_write=rates["cache_write"],
                reasoning=rates["reasoning"],
            ),
            order=order,
        ),
        None,
    )


# ---------------------------------------------------------------------------------------------


class PriceBook:
    """Prices LLM calls: the user's price file first, then genai-prices' bundled data.

    Thread-safe; lookups are cached per (provider, model), so a repeated model costs a dict
    lookup and a few multiplications.
    """

    def __init__(self, overrides_path: str | os.PathLike[str] | None = None) -> None:
        self._overrides: list[_Override] = []
        self._cache: dict[tuple[str | None, str | None], _Rates | _Dated] = {}
        self._lock = threading.Lock()
        self._warned: set[str] = set()  # one warning per kind per book, not one per call
        if overrides_path is not None and str(overrides_path).strip():
            try:
                self._overrides = _load_overrides(os.fspath(overrides_path))
            except Exception:  # never let a price file break the app
                _logger.warning(
                    "agent-otel: price file %s could not be read", overrides_path, exc_info=True
                )

    @classmethod
    def from_env(cls) -> PriceBook:
        """A price book with the file named by ``AGENT_OTEL_PRICES`` (if set)."""
        return cls(os.environ.get(PRICES_ENV) or None)

    def cost(self, provider: str | None, model: str | None, usage: TokenUsage) -> float | None:
        """USD cost of one call, or None when it is unknown (unknown model, a model not priced
        per token, or token counts that contradict each other). Never raises.

        ``provider`` is the ``gen_ai.provider.name`` value; ``model`` the model name the API
        reported (``gen_ai.response.model``, else the requested one).
        """
        try:
            entry = self._cache.get((provider, model))
            if entry is None:
                entry = self._resolve(provider, model)
            if entry is _UNKNOWN:
                return None
            rates = entry.rates_now() if isinstance(entry, _Dated) else entry
            if rates is None:
                return None
            usd = rates.cost(usage)
            if usd is None and "usage" not in self._warned:
                self._warned.add("usage")
                _logger.warning(
                    "agent-otel: inconsistent token counts %r for %s/%s (cache tokens must be part "
                    "of input_tokens, reasoning tokens part of output_tokens); cost left unknown",
                    usage,
                    provider,
                    model,
                )
            return usd
        except Exception:
            if "error" not in self._warned:
                self._warned.add("error")
                _logger.warning(
                    "agent-otel: pricing %s/%s failed; cost left unknown",
                    provider,
                    model,
                    exc_info=True,
                )
            return None

    def _resolve(self, provider: str | None, model: str | None) -> _Rates | _Dated:
        found: _Entry = None
        if isinstance(model, str) and model.strip():
            found = self._find_override(provider, model)
            if found is None:
                found = _lookup_genai(provider, model.strip())
        entry = _UNKNOWN if found is None else found
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                del self._cache[next(iter(self._cache))]  # oldest first
            self._cache[(provider, model)] = entry
        return entry

    def _find_override(self, provider: str | None, model: str) -> _Rates | None:
        if not self._overrides:
            return None
        names: tuple[str, ...] = ()
        if provider:
            name = provider.strip().lower()
            mapped = _PROVIDER_IDS.get(name)
            names = (name, mapped) if mapped else (name,)
        wanted = model.strip().lower()
        best: tuple[tuple[int, int, int, int], _Rates] | None = None
        for override in self._overrides:
            rank = override.rank(names, wanted)
            if rank is not None and (best is None or rank > best[0]):
                best = (rank, override.rates)
        return best[1] if best else None


@functools.cache
def default_price_book() -> PriceBook:
    """The process-wide price book, built from ``AGENT_OTEL_PRICES`` on first use."""
    return PriceBook.from_env()
