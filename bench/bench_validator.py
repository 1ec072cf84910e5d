"""Refund decisions on real filings: false refunds (ours vs naive rules) and missed bad reports.

1. False refunds: every complete corpus filing (single-filing checks) and every year-over-year pair
   (the whole validator, offline summaries) is a good, real report; any refund of one is false. The
   naive rules (Item 1 >= 1,000 words, 1A >= 5,000, 7 >= 5,000, 8 >= 10,000; an item of mostly
   numbers; any missing item) are judged the same way, side by side.
2. Missed bad reports: mutants built from the real pairs (an item truncated to 10%, an item removed,
   a table of contents pasted as an item, two items swapped, Item 7 swallowing 7A-9B, summaries
   emptied, an evidence quote altered); each must get a blocking issue.

    python -m bench.bench_validator
"""

from __future__ import annotations

import re
from collections import Counter

from bench.common import corpus_dir, manifest, table

from ai_analyzer import OfflineSummarizer  # noqa: E402
from diff_analyzer import diff_filings  # noqa: E402
from quality_validator import FilingContext, check_filing, validate  # noqa: E402
from mutations import alter_evidence, empty_summaries, paste_toc, remove, swallow, swap, truncate  # noqa: E402
from section_extractor import ExtractedFiling, ItemStatus, extract_items  # noqa: E402

NAIVE_MINIMUM = {"1": 1000, "1A": 5000, "7": 5000, "8": 10000}


def naive_refund(filing: ExtractedFiling) -> list[str]:
    """Today's rules, as the issue states them."""
    reasons = []
    for item, minimum in NAIVE_MINIMUM.items():
        if filing.items[item].word_count < minimum:
            reasons.append(f"{item}<{minimum}")
    for text in filing.items.values():
        tokens = text.text.split()
        numeric = sum(1 for t in tokens if re.search(r"\d", t))
        if len(tokens) >= 50 and numeric / len(tokens) > 0.5:
            reasons.append(f"{text.item} mostly numbers")
    missing = [t.item for t in filing.items.values() if t.status is ItemStatus.MISSING]
    if missing:
        reasons.append("missing " + ",".join(missing))
    return reasons


def main(argv: list[str]) -> int:
    corpus = corpus_dir()
    m = manifest()
    extracted = {f["path"]: extract_items((corpus / f["path"]).read_bytes()) for f in m["filings"]}
    periods = {f["path"]: f["fiscal_year_end"] for f in m["filings"]}

    # 1. false refunds on good filings and pairs
    good = [f for f in m["filings"] if f.get("complete", True)]
    ours_filings = {f["path"]: [i for i in check_filing(extracted[f["path"]], "newer", period=periods[f["path"]]) if i.severity == "blocking"]
                    for f in good}
    naive_filings = {f["path"]: naive_refund(extracted[f["path"]]) for f in good}
    pair_rows, ours_pairs, naive_pairs = [], 0, 0
    summaries_of = {}
    for pair in m["pairs"]:
        older, newer = extracted[pair["older"]], extracted[pair["newer"]]
        diff = diff_filings(older, newer)
        summaries = OfflineSummarizer().summarize(diff)
        summaries_of[pair["newer"]] = (diff, summaries)
        report = validate(older, newer, diff, summaries, FilingContext(periods[pair["older"]], periods[pair["newer"]]))
        naive = naive_refund(older) + naive_refund(newer)
        ours_pairs += report.decision.refund
        naive_pairs += bool(naive)
        pair_rows.append([pair["ticker"], pair["newer_fiscal_year_end"][:4], "refund" if report.decision.refund else "ok",
                          ",".join(report.decision.codes) or "-", len(report.issues), "refund" if naive else "ok", (naive[0] if naive else "-")[:40]])
    table(["pair", "year", "ours", "blocking codes", "issues", "naive", "naive reason"], pair_rows,
          title="Year-over-year pairs (all good, real reports)")
    ours_f = sum(bool(v) for v in ours_filings.values())
    naive_f = sum(bool(v) for v in naive_filings.values())
    print()
    for path, issues in ours_filings.items():
        if issues:
            print(f"  ours refunds {path}: {', '.join(f'{i.code}({i.item})' for i in issues)}")
    n_f, n_p = len(good), len(m["pairs"])
    table(
        ["set", "reports", "false refunds (ours)", "share", "false refunds (naive)", "share"],
        [
            ["complete filings", n_f, ours_f, f"{ours_f / n_f:.1%}", naive_f, f"{naive_f / n_f:.1%}"],
            ["year-over-year pairs", n_p, ours_pairs, f"{ours_pairs / n_p:.1%}", naive_pairs, f"{naive_pairs / n_p:.1%}"],
            ["all", n_f + n_p, ours_f + ours_pairs, f"{(ours_f + ours_pairs) / (n_f + n_p):.1%}", naive_f + naive_pairs,
             f"{(naive_f + naive_pairs) / (n_f + n_p):.1%}"],
        ],
        title="\nFalse refunds (target <= 2% for ours)",
    )

    # 2. mutants
    kinds: dict[str, list[bool]] = {}
    by: dict[str, Counter] = {}
    escaped = []
    for pair in m["pairs"]:
        older, newer = extracted[pair["older"]], extracted[pair["newer"]]
        context = FilingContext(periods[pair["older"]], periods[pair["newer"]])
        mutants = []
        for item in ("1", "1A", "7", "8"):
            if newer.items[item].status is ItemStatus.PRESENT:
                mutants.append((f"truncate {item} to 10%", truncate(newer, item), None))
                mutants.append((f"remove {item}", remove(newer, item), None))
        mutants.append(("TOC pasted as Item 1", paste_toc(newer, "1"), None))
        mutants.append(("swap Items 1A and 7", swap(newer, "1A", "7"), None))
        mutants.append(("Item 7 swallows 7A-9B", swallow(newer, "7", ["7A", "8", "9", "9A", "9B"]), None))
        diff, summaries = summaries_of[pair["newer"]]
        mutants.append(("summaries emptied", newer, empty_summaries(summaries)))
        mutants.append(("evidence quote altered", newer, alter_evidence(summaries)))
        for name, mutant, mutant_summaries in mutants:
            if mutant_summaries is None:
                mutant_diff = diff_filings(older, mutant)
                mutant_summaries_used = OfflineSummarizer().summarize(mutant_diff)
            else:
                mutant_diff, mutant_summaries_used = diff, mutant_summaries
            report = validate(older, mutant, mutant_diff, mutant_summaries_used, context)
            caught = any(i.severity == "blocking" for i in report.issues)
            kinds.setdefault(name, []).append(caught)
            by.setdefault(name, Counter()).update(set(report.decision.codes))
            if not caught:
                escaped.append(f"{pair['ticker']} {pair['newer_fiscal_year_end'][:4]}: {name}")
    rows = [[name, len(results), sum(results), f"{sum(results) / len(results):.0%}", ", ".join(c for c, _ in by[name].most_common(2))]
            for name, results in kinds.items()]
    total = sum(len(r) for r in kinds.values())
    caught = sum(sum(r) for r in kinds.values())
    rows.append(["all mutants", total, caught, f"{caught / total:.0%}", ""])
    table(["mutation", "mutants", "blocking issue", "caught", "caught mostly by"], rows, title="\nMutants of real reports (target 100% caught)")
    for line in escaped:
        print(f"  escaped: {line}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
