"""Helpers shared by the benchmarks: the corpus, timing, peak memory, and table printing."""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import defaults  # noqa: E402


def corpus_dir() -> Path:
    path = (ROOT / os.environ.get("EDGAR_CORPUS_DIR", defaults.EDGAR_CORPUS_DIR)).resolve()
    if not (path / "manifest.json").is_file():
        sys.exit(f"the EDGAR corpus is not at {path}; set EDGAR_CORPUS_DIR")
    return path


def manifest() -> dict:
    return json.loads((corpus_dir() / "manifest.json").read_text())


def timed(fn, *args, repeat: int = 1, **kwargs):
    """(result, median seconds over `repeat` runs)."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def table(headers: list[str], rows: list[list], title: str | None = None) -> None:
    """Print an aligned plain-text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if title:
        print(title)
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) if n and _numeric(c) else c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"
    return str(value)


def _numeric(text: str) -> bool:
    return text.replace(".", "", 1).replace("-", "", 1).replace("%", "").replace("x", "").isdigit()
