"""Claude summaries per corpus pair: requests, tokens, dollars and wall time at a simulated latency.

Runs the real `ClaudeSummarizer` (real `anthropic` SDK) against the local Messages API stand-in,
which answers every request after `--latency` seconds with answers of a real model's length
(`--answer-words` per sentence, plus `--thinking` thinking tokens, billed as output). Tokens are
counted at the stand-in from the requests and responses (~3.8 characters per token); dollars use
the price table of ai_analyzer.PRICES. The wall time is compared with the slowest single call.

    python -m bench.bench_ai [--latency 3] [--pairs 13] [--model claude-sonnet-5-5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import corpus_dir, manifest, table

from ai_analyzer import ClaudeSummarizer  # noqa: E402
from claude_models import PRICES, Usage  # noqa: E402
from anthropic_standin import AnthropicStandIn  # noqa: E402
from config import Settings  # noqa: E402
from diff_analyzer import diff_filings  # noqa: E402
from section_extractor import extract_items  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ai")
    parser.add_argument("--latency", type=float, default=3.0, help="simulated model latency per request (s)")
    parser.add_argument("--thinking", type=int, default=200, help="thinking tokens per answer (billed as output)")
    parser.add_argument("--answer-words", type=int, default=25, help="words per summary sentence in the fake answers")
    parser.add_argument("--pairs", type=int, default=0, help="only the first N pairs (0: all)")
    parser.add_argument("--model", default="claude-sonnet-5-5")
    args = parser.parse_args(argv)

    corpus = corpus_dir()
    pairs = manifest()["pairs"][: args.pairs or None]
    rows, costs, ratios = [], [], []
    for pair in pairs:
        older = extract_items((corpus / pair["older"]).read_bytes())
        newer = extract_items((corpus / pair["newer"]).read_bytes())
        diff = diff_filings(older, newer)
        server = AnthropicStandIn(latency=args.latency, thinking_tokens=args.thinking, answer_words=args.answer_words, array_items=4).start()
        settings = Settings.from_env({
            "APP_ENV": "development", "ANTHROPIC_API_KEY": "bench", "ANTHROPIC_BASE_URL": server.base_url,
            "ANTHROPIC_MODEL": args.model, "SQLITE_PATH": str(Path(tempfile.gettempdir()) / "bench-ai.db"),
        })
        started = time.monotonic()
        result = ClaudeSummarizer(settings).summarize(diff, deadline=time.monotonic() + 300)
        wall = time.monotonic() - started
        served = [r for r in server.message_requests() if r.usage]
        server.stop()
        slowest = max(r.finished - r.started for r in served)
        usage = [Usage(r.body["model"], r.usage["input_tokens"], r.usage["output_tokens"],
                       r.usage["cache_creation_input_tokens"], r.usage["cache_read_input_tokens"]) for r in served]
        dollars = sum(u.cost_usd for u in usage)
        costs.append(dollars)
        ratios.append(wall / slowest)
        rows.append([
            pair["ticker"], pair["newer_fiscal_year_end"][:4], len(served), len(result.items), len(result.omitted_items),
            sum(u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens for u in usage),
            sum(u.output_tokens for u in usage), f"${dollars:.4f}", round(wall, 2), round(slowest, 2), f"{wall / slowest:.2f}x",
        ])
    table(
        ["pair", "year", "requests", "items", "omitted", "input tok", "output tok", "cost", "wall s", "slowest s", "wall/slowest"],
        rows,
        title=f"Claude summaries at {args.latency:.0f} s latency, {args.model} "
              f"(${PRICES[args.model].input:g}/${PRICES[args.model].output:g} per M input/output tokens)",
    )
    print(f"\nmedian cost ${statistics.median(costs):.4f} per report (max ${max(costs):.4f}); target <= $0.08")
    print(f"median wall/slowest {statistics.median(ratios):.2f}x (max {max(ratios):.2f}x); target <= 1.5x")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
