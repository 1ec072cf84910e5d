"""What reading inline XBRL facts and key figures adds to a job: time per filing, parses per filing.

For every inline-XBRL filing of the corpus, extraction is timed with and without the facts (the
same code; `with_facts=False` skips the XBRL part of the one pass), each the best of three runs,
interleaved so that machine noise hits both alike; then the key figures of every pair are timed.
The number of lxml parses per filing is counted: it must stay one.

    python -m bench.bench_key_figures [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import lxml.html

from bench.common import corpus_dir, manifest, table

import section_blocks  # noqa: E402
from key_figures import key_figures  # noqa: E402
from section_extractor import extract_items  # noqa: E402


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def count_parses(content: bytes) -> int:
    calls = 0
    original = lxml.html.document_fromstring

    def counting(*args, **kwargs):
        nonlocal calls
        calls += 1
        return original(*args, **kwargs)

    section_blocks.lxml.html.document_fromstring = counting
    try:
        extract_items(content)
    finally:
        section_blocks.lxml.html.document_fromstring = original
    return calls


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_key_figures")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    corpus = corpus_dir()
    m = manifest()
    files = [f for f in m["filings"] if f["format"] == "ixbrl-html"]
    without, added, facts, parses = [], [], [], []
    for f in files:
        content = (corpus / f["path"]).read_bytes()
        extract_items(content)  # warm
        t_without = t_with = float("inf")
        for _ in range(args.repeat):  # interleaved: noise hits both alike
            t_without = min(t_without, best(lambda: extract_items(content, with_facts=False), 1))
            t_with = min(t_with, best(lambda: extract_items(content), 1))
        without.append(t_without)
        added.append(t_with - t_without)
        facts.append(len(extract_items(content).xbrl or ()))
        parses.append(count_parses(content))
    pair_times = []
    for pair in m["pairs"]:
        older = extract_items((corpus / pair["older"]).read_bytes())
        newer = extract_items((corpus / pair["newer"]).read_bytes())
        pair_times.append(best(lambda: key_figures(older, newer, older_period=pair["older_fiscal_year_end"],
                                                     newer_period=pair["newer_fiscal_year_end"]), args.repeat))
    q = lambda values, p: sorted(values)[min(len(values) - 1, int(p * len(values)))]  # noqa: E731
    rows = [
        ["inline-XBRL filings", len(files), ""],
        ["facts per filing (median / max)", f"{statistics.median(facts):.0f} / {max(facts)}", ""],
        ["extraction without facts (median)", f"{statistics.median(without):.4f} s", ""],
        ["added by the facts (median / p90 / max)", f"{statistics.median(added):.4f} / {q(added, 0.9):.4f} / {max(added):.4f} s", ""],
        ["key figures of a pair (median / max)", f"{statistics.median(pair_times):.4f} / {max(pair_times):.4f} s", ""],
        ["facts + key figures per filing (median)", f"{statistics.median(added) + statistics.median(pair_times) / 2:.4f} s", "target <= 0.03 s"],
        ["lxml parses per filing", f"{min(parses)}..{max(parses)}", "target 1"],
    ]
    table(["measure", "value", "target"], rows, title="Inline XBRL facts and key figures")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
