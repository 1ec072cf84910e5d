"""Concurrency settings of the real service: jobs per minute, CPU per job, memory, time to accept.

For each setting P x T x J (gunicorn processes `WEB_CONCURRENCY` x request threads `WEB_THREADS` x
jobs at once per process `MAX_CONCURRENT_JOBS`) it starts gunicorn with production settings against
the EDGAR stand-in (warm EDGAR cache: what repeats in production is the pipeline's CPU, not the SEC's
bytes), posts a warm-up batch, then `--jobs` POSTs at once, and reads from outside the service:

- jobs/min: the batch's jobs over the time from the first POST to the last job's `finished_at`;
- accept s: the slowest of the concurrent POSTs to be answered (request threads starved by job
  threads under the GIL show here);
- CPU/job: user + system seconds of all gunicorn processes during the batch, per job;
- peak MB: the largest sum of resident memory of all gunicorn processes, sampled every 0.1 s from
  start-up to the end of the batch; idle MB: the same sum 3 s after the batch ended.

Two modes: `offline` (no Anthropic key: the extractive summarizer, all CPU) and `claude` (the real
SDK against the Anthropic stand-in answering each request after `--claude-latency` seconds: waiting
on Claude is not CPU). Each setting runs `--repeat` times, the settings taking turns so that a machine
slowing down meanwhile slows them all; the table shows medians (and the spread of jobs/min).
`--env NAME=VALUE` adds a setting to every run (e.g. MALLOC_ARENA_MAX=2).

    python -m bench.bench_concurrency [--settings 2x8x4,2x4x1] [--modes offline,claude] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.common import table
from bench.service import Service, StandIns

# one ticker of each corpus pair, each a full report
TICKERS = ["AAPL", "ADBE", "AMZN", "BA", "GOOGL", "IBM", "JNJ", "MA", "NVDA", "PG", "TSLA", "WMT"]
DEFAULT_SETTINGS = "2x8x4,2x4x1,2x4x2,2x4x3,2x4x4"  # the old defaults, then the neighbourhood of the new


def parse_setting(text: str) -> tuple[int, int, int]:
    processes, threads, jobs = (int(n) for n in text.lower().split("x"))
    return processes, threads, jobs


def run_once(standins: StandIns, cache_dir: str, setting: tuple[int, int, int], jobs: int, extra_env: dict[str, str]) -> dict:
    processes, threads, per_process = setting
    env = {
        "WEB_CONCURRENCY": str(processes),
        "WEB_THREADS": str(threads),
        "MAX_CONCURRENT_JOBS": str(per_process),
        "MAX_QUEUED_JOBS": str(max(20, 2 * jobs)),  # no 429 in this benchmark: bench_admission measures those
        **extra_env,
    }
    peak = 0.0
    with Service(standins, env=env, cache_dir=cache_dir) as service:

        def watch_memory() -> None:
            nonlocal peak
            peak = max(peak, sum(s.rss_mb for s in service.samples().values()))

        watch_memory()
        warmup = [job for job, status, _ in service.post_all(TICKERS[: min(len(TICKERS), 2 * processes * per_process)]) if status == 202]
        service.wait_done(warmup, on_tick=watch_memory)

        tickers = [TICKERS[i % len(TICKERS)] for i in range(jobs)]
        before = service.samples()
        started = datetime.now(timezone.utc)
        posted = service.post_all(tickers)
        accepted = [job for job, status, _ in posted if status == 202]
        finished = service.wait_done(accepted, on_tick=watch_memory)
        after = service.samples()
        time.sleep(3)
        idle = sum(s.rss_mb for s in service.samples().values())

    last = max(f for _, f in finished.values())
    wall = (last - started).total_seconds()
    cpu = sum(after[pid].cpu_seconds - before[pid].cpu_seconds for pid in after if pid in before)
    return {
        "setting": "x".join(map(str, setting)),
        "jobs": len(accepted),
        "rejected": len(posted) - len(accepted),
        "failed": sum(1 for s, _ in finished.values() if s == "failed"),
        "jobs_per_min": len(accepted) / wall * 60,
        "accept_s": max(seconds for _, _, seconds in posted),
        "cpu_per_job": cpu / max(1, len(accepted)),
        "peak_mb": peak,
        "idle_mb": idle,
    }


def summarize(results: list[dict]) -> list:
    def med(key):
        return statistics.median(r[key] for r in results)

    rates = [r["jobs_per_min"] for r in results]
    return [
        results[0]["setting"],
        f"{med('jobs_per_min'):.0f} ({min(rates):.0f}-{max(rates):.0f})",
        med("accept_s"),
        med("cpu_per_job"),
        f"{med('peak_mb'):.0f}",
        f"{med('idle_mb'):.0f}",
        sum(r["failed"] for r in results),
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_concurrency", description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default=DEFAULT_SETTINGS, help="comma-separated PxTxJ (processes x threads x jobs per process)")
    parser.add_argument("--modes", default="offline,claude", help="offline, claude or both")
    parser.add_argument("--jobs", type=int, default=12, help="jobs posted at once")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--claude-latency", type=float, default=3.0, help="seconds the Anthropic stand-in takes per request")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="added to every run's environment")
    parser.add_argument("--json", metavar="FILE", help="also write every run's figures to FILE")
    args = parser.parse_args(argv)

    settings = [parse_setting(s) for s in args.settings.split(",")]
    extra_env = dict(pair.split("=", 1) for pair in args.env)
    everything = []
    with tempfile.TemporaryDirectory(prefix="bench-concurrency-cache-") as cache_dir:
        for mode in args.modes.split(","):
            latency = args.claude_latency if mode == "claude" else None
            results: dict[tuple, list[dict]] = {setting: [] for setting in settings}
            with StandIns(claude_latency=latency) as standins:
                # settings take turns (A B C A B C ...): a machine that slows down meanwhile slows them all
                for n in range(args.repeat):
                    for setting in settings:
                        result = {**run_once(standins, cache_dir, setting, args.jobs, extra_env), "mode": mode, "round": n}
                        results[setting].append(result)
                        everything.append(result)
                        print(f"  {mode} round {n + 1}: {result['setting']} {result['jobs_per_min']:.0f} jobs/min", flush=True)
            rows = [summarize(results[setting]) for setting in settings]
            title = (f"{mode}: {args.jobs} jobs posted at once, warm EDGAR cache, median of {args.repeat}"
                     + (f", Claude stand-in {latency:g} s per request" if latency else "")
                     + (f", {' '.join(args.env)}" if args.env else ""))
            table(["P x T x J", "jobs/min (min-max)", "accept s", "CPU s/job", "peak MB", "idle MB", "failed"], rows, title=title)
            print()
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(everything, indent=1))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
