"""Rendering a report: time per report and size of the page, on the real reports of every corpus pair.

The reports are made by the real pipeline (offline summarizer, EDGAR stand-in; tests/corpus_reports.py)
and given a full list of 60 ranked highlights in the schema of issue 14 (a stand-in until the
ranking is in the report), so the page is as long as a real one can be. Each report is rendered
`--repeat` times; its time is the median of those runs (the machine is shared: medians, not
minima). Targets (issue 14): rendering <= 0.05 s per report, the page <= 500 KB for every pair.

    python -m bench.bench_render [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import corpus_dir, table

from corpus_reports import corpus_reports, with_highlights  # noqa: E402  (tests/, on the path via bench.common)
from render import render_html, render_markdown  # noqa: E402

TARGET_SECONDS = 0.05
TARGET_BYTES = 500_000


def median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_render")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        print("making the corpus pairs' reports with the pipeline ...", flush=True)
        reports = {name: with_highlights(report) for name, report in corpus_reports(corpus_dir(), Path(workdir)).items()}
    rows, html_times, sizes = [], [], []
    for name, report in reports.items():
        render_html(report)  # warm
        html_s = median_seconds(lambda: render_html(report), args.repeat)
        markdown_s = median_seconds(lambda: render_markdown(report), args.repeat)
        size = len(render_html(report).encode("utf-8"))
        markdown_size = len(render_markdown(report).encode("utf-8"))
        html_times.append(html_s)
        sizes.append(size)
        rows.append([name, len(report.get("highlights") or ()), f"{html_s:.4f}", f"{markdown_s:.4f}",
                     f"{size / 1000:.0f} KB", f"{markdown_size / 1000:.0f} KB",
                     "ok" if size <= TARGET_BYTES and html_s <= TARGET_SECONDS else "MISSED"])
    table(["pair", "highlights", "HTML s", "Markdown s", "page", "Markdown", "targets"], rows,
          title=f"Rendering, median of {args.repeat} runs per report")
    print()
    summary = [
        ["render_html per report (median / max)", f"{statistics.median(html_times):.4f} / {max(html_times):.4f} s", f"<= {TARGET_SECONDS} s",
         "ok" if max(html_times) <= TARGET_SECONDS else "MISSED"],
        ["page size (median / max)", f"{statistics.median(sizes) / 1000:.0f} / {max(sizes) / 1000:.0f} KB", f"<= {TARGET_BYTES // 1000} KB",
         "ok" if max(sizes) <= TARGET_BYTES else "MISSED"],
    ]
    table(["measure", "result", "target", ""], summary)
    return 0 if max(html_times) <= TARGET_SECONDS and max(sizes) <= TARGET_BYTES else 1


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
