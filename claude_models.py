"""What the service knows about each Claude model: price, whether it takes `effort`, how its tokenizer
counts, the shortest prompt prefix it caches, and when it retires. One table, read by the
summarizer (requests, budgets, cost), the settings (a retired model is refused at start) and the
test stand-in (which refuses what the real API refuses).

Sources: the pricing page and model overviews, the SDK 2.12 source (`DEPRECATED_MODELS`), the
effort and prompt-caching pages; /work/shared/notes/platform-anchors.md §1.9–1.11a. Where no
official figure exists (minimum cacheable length of the 5.5 models), the conservative published
value is used, so the service never claims a cache it cannot get.
"""

from __future__ import annotations

from dataclasses import dataclass

LONG_CONTEXT_TOKENS = 100_000  # prompt size above which Haiku 5.5 prices its second tier
BASE_CHARS_PER_TOKEN = 3.5  # conservative for English prose on the 5.x tokenizers


@dataclass(frozen=True)
class ModelPrice:
    """USD per million tokens."""

    input: float
    output: float
    cache_write: float  # 5-minute cache write
    cache_read: float
    long_context_input: float | None = None  # above LONG_CONTEXT_TOKENS of prompt, where it differs
    long_context_output: float | None = None


@dataclass(frozen=True)
class ClaudeModel:
    name: str
    price: ModelPrice
    takes_effort: bool  # `output_config.effort`; older models answer 400
    chars_per_token: float  # characters of English prose per token, for budgets
    min_cache_tokens: int  # a shorter cacheable prefix is silently not cached
    retired_on: str | None = None  # ISO date after which the API no longer serves it


MODELS: dict[str, ClaudeModel] = {m.name: m for m in (
    ClaudeModel("claude-sonnet-5-5", ModelPrice(2.00, 10.00, 2.50, 0.20), True, BASE_CHARS_PER_TOKEN, 1024),
    # Haiku 5.5's tokenizer counts about 30% more tokens than the others for the same text
    ClaudeModel("claude-haiku-5-5", ModelPrice(0.10, 0.50, 0.125, 0.01, 0.50, 2.50), True, BASE_CHARS_PER_TOKEN / 1.3, 2048),
    ClaudeModel("claude-opus-5-5", ModelPrice(4.00, 20.00, 5.00, 0.20), True, BASE_CHARS_PER_TOKEN, 1024),
    ClaudeModel("claude-sonnet-5", ModelPrice(2.00, 10.00, 2.50, 0.20), True, BASE_CHARS_PER_TOKEN, 1024),
    ClaudeModel("claude-opus-5", ModelPrice(5.00, 25.00, 6.25, 0.50), True, BASE_CHARS_PER_TOKEN, 512),
    ClaudeModel("claude-fable-5-1", ModelPrice(10.00, 50.00, 12.50, 0.25), True, BASE_CHARS_PER_TOKEN, 512),
    ClaudeModel("claude-haiku-4-5", ModelPrice(1.00, 5.00, 1.25, 0.10), False, BASE_CHARS_PER_TOKEN, 4096),
    ClaudeModel("claude-sonnet-4-5", ModelPrice(3.00, 15.00, 3.75, 0.30), False, BASE_CHARS_PER_TOKEN, 1024, retired_on="2026-11-30"),
)}
PRICES: dict[str, ModelPrice] = {name: m.price for name, m in MODELS.items() if not m.retired_on}
# an unlisted model is priced like the dearest listed one (never as free), cached only at the highest
# minimum, counted with the densest tokenizer, and sent no `effort` (which a model may refuse)
UNKNOWN = ClaudeModel("unknown", max(PRICES.values(), key=lambda p: (p.output, p.input)), False, BASE_CHARS_PER_TOKEN / 1.3, 4096)


def model(name: str) -> ClaudeModel:
    return MODELS.get(name, UNKNOWN)


def retired(name: str, today: str) -> str | None:
    """The retirement date when `name` no longer serves on `today` (ISO), else None."""
    found = MODELS.get(name)
    return found.retired_on if found and found.retired_on and found.retired_on <= today else None


@dataclass(frozen=True)
class Usage:
    """One response's `usage`, and what it cost: the metrics and the report read the cost from here."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    @property
    def cost_usd(self) -> float:
        """Priced with this model's row of the table; the long-context tier when the prompt is past it."""
        price = model(self.model).price
        prompt = self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens
        long = prompt > LONG_CONTEXT_TOKENS
        input_rate = price.long_context_input if long and price.long_context_input else price.input
        output_rate = price.long_context_output if long and price.long_context_output else price.output
        return (
            self.input_tokens * input_rate
            + self.output_tokens * output_rate
            + self.cache_creation_input_tokens * price.cache_write
            + self.cache_read_input_tokens * price.cache_read
        ) / 1e6


def estimate_tokens(text: str, model_name: str | None = None) -> int:
    """Tokens of `text` for `model_name`'s tokenizer (the 5.x prose ratio when no model is named),
    estimated high rather than low: budgets must hold."""
    ratio = model(model_name).chars_per_token if model_name else BASE_CHARS_PER_TOKEN
    return int(len(text) / ratio) + 1
