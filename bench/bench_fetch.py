"""Requests and wall time of a two-filing fetch against the EDGAR stand-in with network-like latency.

`python -m bench.bench_fetch [--latency 0.05] [--tickers AAPL,TSLA,NVDA]` prints, per ticker:
- cold: an empty cache (ticker list, submissions, two documents);
- warm: a second run in a new client (a new process would do the same), metadata within its TTL;
- revalidate: metadata past its TTL (`EDGAR_METADATA_TTL_SECONDS=0`): conditional requests, 304s;
and, for reference, the floor set by the rate limit (requests / `SEC_MAX_REQUESTS_PER_SECOND`).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from bench.common import corpus_dir, table

from config import Settings
from edgar_standin import EdgarStandIn
from sec_fetcher import EdgarClient


def settings_for(standin: EdgarStandIn, cache_dir: str, **env: str) -> Settings:
    return Settings.from_env(
        {
            "APP_ENV": "development",
            "SEC_USER_AGENT": "Report Worker Benchmark bench@example.com",
            "SEC_WWW_BASE_URL": standin.base_url,
            "SEC_DATA_BASE_URL": standin.base_url,
            "EDGAR_CACHE_DIR": cache_dir,
            **env,
        },
        dotenv_path=None,
    )


def run(standin: EdgarStandIn, settings: Settings, ticker: str) -> tuple[int, int, int, float, bool]:
    """(requests, 304 answers, bytes received, wall seconds, documents from cache) of one fetch."""
    standin.clear_log()
    client = EdgarClient(settings)
    started = time.perf_counter()
    pair = client.latest_annual_reports(ticker, deadline=time.monotonic() + 120)
    elapsed = time.perf_counter() - started
    log = list(standin.requests)
    return len(log), sum(r.status == 304 for r in log), sum(r.bytes for r in log), elapsed, pair.older.from_cache and pair.newer.from_cache


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the stand-in adds to every answer")
    parser.add_argument("--tickers", default="AAPL,TSLA,NVDA")
    args = parser.parse_args(argv)

    rows = []
    with EdgarStandIn(corpus_dir(), as_of="2025-12-31", latency=args.latency) as standin:
        for ticker in args.tickers.split(","):
            with tempfile.TemporaryDirectory(prefix="bench-edgar-cache-") as cache_dir:
                fresh = settings_for(standin, cache_dir)
                expired = settings_for(standin, cache_dir, EDGAR_METADATA_TTL_SECONDS="0")
                rate = fresh.sec_max_requests_per_second
                for scenario, settings in (("cold", fresh), ("warm", fresh), ("revalidate", expired)):
                    n, not_modified, received, seconds, cached = run(standin, settings, ticker)
                    rows.append(
                        [ticker, scenario, n, not_modified, f"{received / 1e6:.2f}", "yes" if cached else "no", seconds, max(0, n - 1) / rate]
                    )
    table(
        ["ticker", "run", "requests", "304s", "MB received", "docs cached", "wall s", "rate floor s"],
        rows,
        title=f"two-filing fetch, stand-in latency {args.latency * 1000:.0f} ms, {int(rate)} req/s limit",
    )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
