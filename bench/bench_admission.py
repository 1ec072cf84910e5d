"""Does 429 mean full? 60 POSTs at once against the real gunicorn, then a probe for slots still free.

The EDGAR stand-in answers after `--edgar-latency` seconds, so no job ends during the measurement.
After the burst, POSTs are sent one at a time on new connections until `--probe` in a row are answered
429: each one accepted then is a slot that was free while the burst was being refused. Each run
starts a fresh service; the table shows every run.

    python -m bench.bench_admission [--posts 60] [--runs 5] [--env WEB_CONCURRENCY=2 ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from bench.common import table
from bench.service import Service, StandIns


def run_once(standins: StandIns, posts: int, probe: int, env: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-admission-cache-") as cache_dir:
        with Service(standins, env={"GRACEFUL_TIMEOUT_SECONDS": "1", **env}, cache_dir=cache_dir) as service:
            burst = [status for _, status, _ in service.post_all(["AAPL"] * posts)]
            free_after, refused_in_a_row, sent = 0, 0, 0
            while refused_in_a_row < probe and sent < 10 * probe:
                _, status, _ = service.post("AAPL")
                sent += 1
                if status == 202:
                    free_after += 1
                    refused_in_a_row = 0
                else:
                    refused_in_a_row += 1
    return {"accepted": burst.count(202), "refused": burst.count(429), "other": len(burst) - burst.count(202) - burst.count(429),
            "free_after": free_after}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_admission", description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=60)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--probe", type=int, default=10, help="stop probing after this many 429 in a row")
    parser.add_argument("--edgar-latency", type=float, default=30.0)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="settings of the service (default: its defaults)")
    args = parser.parse_args(argv)
    env = dict(pair.split("=", 1) for pair in args.env)

    rows, results = [], []
    with StandIns(edgar_latency=args.edgar_latency) as standins:
        for n in range(args.runs):
            r = run_once(standins, args.posts, args.probe, env)
            results.append(r)
            wrong = r["refused"] if r["free_after"] else 0
            rows.append([n + 1, r["accepted"], r["refused"], r["other"], r["free_after"], wrong])
    rows.append(["median", *(statistics.median(row[i] for row in rows) for i in range(1, 6))])
    table(["run", "202", "429", "other", "free slots found after", "429 while not full"], rows,
          title=f"{args.posts} POSTs at once, {' '.join(args.env) or 'default settings'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
