"""The EDGAR and Anthropic stand-ins in a process of their own, for benchmarks of real servers.

    python -m bench.standins [--claude-latency 3] [--edgar-latency 0]

prints one JSON line `{"edgar": URL, "anthropic": URL | null}` and serves until its standard input
closes (the benchmark that started it ends) or it gets SIGTERM. Running them apart from the
benchmark keeps their CPU out of the figures measured for the service and out of its GIL.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

from bench.common import corpus_dir

from anthropic_standin import AnthropicStandIn  # noqa: E402
from edgar_standin import EdgarStandIn  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.standins")
    parser.add_argument("--claude-latency", type=float, default=None,
                        help="start the Anthropic stand-in; seconds it takes to answer each request")
    parser.add_argument("--edgar-latency", type=float, default=0.0, help="seconds EDGAR takes to answer each request")
    parser.add_argument("--as-of", default="2025-12-31", help="EDGAR as it was on this date (the corpus' newest filings)")
    args = parser.parse_args(argv)

    edgar = EdgarStandIn(corpus_dir(), as_of=args.as_of, latency=args.edgar_latency).start()
    claude = None
    if args.claude_latency is not None:
        # answers of a real model's length, as bench_ai writes them
        claude = AnthropicStandIn(latency=args.claude_latency, thinking_tokens=200, answer_words=25, array_items=4).start()
    print(json.dumps({"edgar": edgar.base_url, "anthropic": claude.base_url if claude else None}), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        sys.stdin.read()  # returns when the parent closes our stdin or dies
    finally:
        edgar.stop()
        if claude:
            claude.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
