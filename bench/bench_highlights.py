"""Do the first highlights hold what an analyst flags first? And what ranking costs.

`material-changes.json` lists, per corpus pair, 5-8 changes an equity analyst flags first, each with
key terms any report mentioning it must contain. A change counts as surfaced when one of the first
20 highlights holds all its key terms (case-insensitive) in its headline, its quotes or its redline
(read as the newer text and as the older text). Prints per pair and overall, and the time to rank.

    python -m bench.bench_highlights [--top 20]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

from bench.common import corpus_dir, manifest, table

import highlights  # noqa: E402
from diff_analyzer import diff_filings  # noqa: E402
from key_figures import key_figures  # noqa: E402
from section_extractor import extract_items  # noqa: E402


def searchable(highlight: dict) -> str:
    """What a reader of a highlight reads: headline, quotes, and the redline as either year's text."""
    redline = highlight.get("redline") or ""
    newer = re.sub(r"\[-.*?-\]", "", redline, flags=re.S).replace("{+", "").replace("+}", "")
    older = re.sub(r"\{\+.*?\+\}", "", redline, flags=re.S).replace("[-", "").replace("-]", "")
    quotes = [((highlight["quotes"] or {}).get(side) or {}).get("text") or "" for side in ("new", "old")]
    return re.sub(r"\s+", " ", " ".join([highlight["headline"], *quotes, newer, older])).lower()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_highlights")
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args(argv)
    corpus = corpus_dir()
    analyst = {p["newer"]: p for p in json.loads((corpus / "material-changes.json").read_text())["pairs"]}
    rows, found_total, listed_total, worst, times = [], 0, 0, 1.0, []
    for pair in manifest()["pairs"]:
        if pair["newer"] not in analyst:
            continue
        older, newer = extract_items((corpus / pair["older"]).read_bytes()), extract_items((corpus / pair["newer"]).read_bytes())
        periods = {"older_period": pair["older_fiscal_year_end"], "newer_period": pair["newer_fiscal_year_end"]}
        figures = key_figures(older, newer, **periods)
        diff = diff_filings(older, newer, **periods)
        start = time.perf_counter()
        ranked = highlights.rank(figures, diff, older, newer)
        times.append(time.perf_counter() - start)
        first = [searchable(h.to_dict()) for h in ranked[: args.top]]
        changes = analyst[pair["newer"]]["changes"]
        found = sum(any(all(term.lower() in text for term in change["key_terms"]) for text in first) for change in changes)
        found_total += found
        listed_total += len(changes)
        worst = min(worst, found / len(changes))
        rows.append([f"{pair['ticker']} {pair['older_fiscal_year_end'][:4]}->{pair['newer_fiscal_year_end'][:4]}", len(changes), found,
                     f"{found / len(changes):.0%}"])
    rows.append(["all pairs", listed_total, found_total, f"{found_total / listed_total:.0%}"])
    table(["pair", "analyst's changes", f"in first {args.top}", "share"], rows,
          title=f"Material changes within the first {args.top} highlights (target >= 90% overall, no pair below 60%)")
    print(f"lowest pair: {worst:.0%}; ranking time per report: median {statistics.median(times):.3f} s, max {max(times):.3f} s")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
