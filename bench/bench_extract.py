"""Speed and memory of item extraction: ours, edgartools' item extraction, and the raw lxml parse.

`python -m bench.bench_extract [--repeat N] [--filing SUBSTRING] [--no-edgartools] [--no-memory]`

- Time: per filing, the median of N runs, the three contenders interleaved so that a busy machine
  slows them alike; each run includes releasing its result (for the raw parse, freeing the tree).
  "raw parse" is `lxml.html.document_fromstring(file bytes)`: the floor any lxml-based extractor
  pays. "edgartools" is what the corpus reference used for its method (a):
  `edgar.documents.parse_html(html, ParserConfig(form="10-K")).sections` plus `.text()` of every
  section (edgartools is installed for the benchmark only, from requirements-bench.txt).
- Memory: extra resident memory of one extraction, measured in a fresh subprocess per filing and
  contender: after imports and reading the file the kernel's peak-RSS counter is reset
  (`/proc/self/clear_refs`), and the peak (VmHWM) after the extraction minus the RSS before it is
  reported. RSS sees lxml's and libxml2's C heaps, which tracemalloc does not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, corpus_dir, manifest, table

TARGET_SECONDS = 0.15
TARGET_EXTRA_MB = 80
TARGET_SPEEDUP_VS_EDGARTOOLS = 6.0
TARGET_RATIO_VS_PARSE = 3.0


def raw_parse(content: bytes):
    import lxml.html

    return lxml.html.document_fromstring(content)


def ours(content: bytes):
    from section_extractor import extract_items

    return extract_items(content)


def edgartools(content: bytes):
    from edgar.documents import ParserConfig, parse_html

    document = parse_html(content.decode("utf-8", errors="replace"), ParserConfig(form="10-K"))
    return {name: section.text() for name, section in document.sections.items()}


CONTENDERS = {"raw_parse": raw_parse, "ours": ours, "edgartools": edgartools}


def edgartools_available() -> bool:
    try:
        import edgar.documents  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "not installed"
        return False
    return True


# --------------------------------------------------------------------------------------------------
# Memory: one subprocess per (contender, filing)
# --------------------------------------------------------------------------------------------------

def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def measure_memory(contender: str, path: str) -> dict:
    """Run in a fresh process: extra peak RSS (MB) of one extraction of `path`."""
    function = CONTENDERS[contender]
    content = Path(path).read_bytes()
    if contender == "edgartools":
        import edgar.documents  # noqa: F401  (imports are not the extraction's memory)
    else:
        import lxml.html  # noqa: F401

        import section_extractor  # noqa: F401
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    before = _status_kb("VmRSS")
    start = time.perf_counter()
    result = function(content)
    seconds = time.perf_counter() - start
    peak = _status_kb("VmHWM") if reset else _status_kb("VmRSS")
    del result
    return {"extra_mb": max(0, peak - before) / 1024, "seconds": seconds, "peak_reset": reset}


def memory_in_subprocess(contender: str, path: Path) -> float | None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bench.bench_extract", "--measure-memory", contender, str(path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    if result.returncode != 0:
        print(f"  memory of {contender} on {path.name} failed: {result.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])["extra_mb"]


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

def time_filing(content: bytes, contenders: list[str], repeat: int, edgartools_repeat: int) -> dict[str, float]:
    """Median seconds per contender, runs interleaved."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for n in range(repeat):
        for name in contenders:
            if name == "edgartools" and n >= edgartools_repeat:
                continue
            start = time.perf_counter()
            result = CONTENDERS[name](content)
            del result  # freeing the parse tree is part of the cost (libxml2 frees node by node)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items() if values}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_extract")
    parser.add_argument("--repeat", type=int, default=5, help="runs per filing for ours and the raw parse (median)")
    parser.add_argument("--edgartools-repeat", type=int, default=1, help="runs per filing for edgartools")
    parser.add_argument("--filing", help="only filings whose path contains this")
    parser.add_argument("--no-edgartools", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--measure-memory", nargs=2, metavar=("CONTENDER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.measure_memory:
        print(json.dumps(measure_memory(*args.measure_memory)))
        return 0

    root = corpus_dir()
    filings = [f for f in manifest()["filings"] if not args.filing or args.filing in f["path"]]
    with_edgartools = not args.no_edgartools and edgartools_available()
    if not args.no_edgartools and not with_edgartools:
        print("edgartools is not installed (pip install -r requirements-bench.txt): its columns are skipped\n")
    ours(b"<html><body><p>Item 1. Business</p></body></html>")  # warm imports
    if with_edgartools:
        edgartools(b"<html><body><p>Item 1. Business</p></body></html>")

    rows, records = [], []
    for filing in filings:
        path = root / filing["path"]
        content = path.read_bytes()
        is_html = not filing["path"].endswith(".txt")
        contenders = ["raw_parse", "ours"] + (["edgartools"] if with_edgartools and is_html else [])
        seconds = time_filing(content, contenders, args.repeat, args.edgartools_repeat)
        memory = {}
        if not args.no_memory:
            memory = {name: memory_in_subprocess(name, path) for name in contenders}
        record = {"name": path.name, "mb": len(content) / 1e6, "seconds": seconds, "memory": memory}
        records.append(record)
        rows.append(_row(record))
        print(f"  {path.name}: ours {seconds['ours']:.3f} s", file=sys.stderr, flush=True)

    table(["filing", "MB", "parse s", "ours s", "ours/parse", "edgartools s", "edgar/ours", "ours +MB", "edgar +MB", "parse +MB"],
          rows, title=f"Per filing: median of {args.repeat} runs (edgartools {args.edgartools_repeat}); extra RSS of one run in a fresh process")
    print()
    _summary(records, with_edgartools, not args.no_memory)
    return 0


def _row(record: dict) -> list:
    s, m = record["seconds"], record["memory"]
    ratio = s["ours"] / s["raw_parse"] if s.get("raw_parse") else None
    speedup = s["edgartools"] / s["ours"] if "edgartools" in s else None
    return [
        record["name"], record["mb"], s["raw_parse"], s["ours"], _x(ratio), s.get("edgartools", "-"), _x(speedup),
        _mb(m.get("ours")), _mb(m.get("edgartools")), _mb(m.get("raw_parse")),
    ]


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}x"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _summary(records: list[dict], with_edgartools: bool, with_memory: bool) -> None:
    def median_of(key: str, filter_html: bool = False) -> float | None:
        values = [r["seconds"][key] for r in records if key in r["seconds"] and (not filter_html or "edgartools" in r["seconds"])]
        return statistics.median(values) if values else None

    html = [r for r in records if "edgartools" in r["seconds"]]
    rows = [
        ["ours, all filings", median_of("ours"), median_of("raw_parse"),
         _x(statistics.median(r["seconds"]["ours"] / r["seconds"]["raw_parse"] for r in records)), "-", "-"],
    ]
    if html:
        rows.append(["ours, HTML filings (edgartools' set)", statistics.median(r["seconds"]["ours"] for r in html),
                     statistics.median(r["seconds"]["raw_parse"] for r in html),
                     _x(statistics.median(r["seconds"]["ours"] / r["seconds"]["raw_parse"] for r in html)),
                     statistics.median(r["seconds"]["edgartools"] for r in html),
                     _x(statistics.median(r["seconds"]["edgartools"] / r["seconds"]["ours"] for r in html))])
    table(["medians", "ours s", "raw parse s", "ours/parse (median of ratios)", "edgartools s", "edgartools/ours (median of ratios)"],
          rows, title="Medians over filings")
    if with_memory:
        print()
        mem_rows = []
        for name in ("ours", "edgartools", "raw_parse"):
            values = [r["memory"][name] for r in records if r["memory"].get(name) is not None]
            if values:
                mem_rows.append([name, statistics.median(values), max(values), len(values)])
        table(["contender", "median extra RSS MB", "max extra RSS MB", "filings"], mem_rows, title="Extra RSS per filing")
    print()
    ours_median = median_of("ours")
    ratio = statistics.median(r["seconds"]["ours"] / r["seconds"]["raw_parse"] for r in records)
    checks = [(f"median {ours_median:.3f} s <= {TARGET_SECONDS} s", ours_median <= TARGET_SECONDS),
              (f"median ours/parse {ratio:.2f}x <= {TARGET_RATIO_VS_PARSE}x", ratio <= TARGET_RATIO_VS_PARSE)]
    if html and with_edgartools:
        speedup = statistics.median(r["seconds"]["edgartools"] / r["seconds"]["ours"] for r in html)
        checks.append((f"median edgartools/ours {speedup:.1f}x >= {TARGET_SPEEDUP_VS_EDGARTOOLS}x", speedup >= TARGET_SPEEDUP_VS_EDGARTOOLS))
    if with_memory:
        values = [r["memory"]["ours"] for r in records if r["memory"].get("ours") is not None]
        if values:
            checks.append((f"median extra RSS {statistics.median(values):.1f} MB <= {TARGET_EXTRA_MB} MB",
                           statistics.median(values) <= TARGET_EXTRA_MB))
    for text, ok in checks:
        print(f"target {text}: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
