"""Year-over-year diff: seconds and peak memory per corpus pair, against a plain difflib baseline,
and how time grows when every item is doubled and quadrupled (concatenated copies).

    python -m bench diff                  # every pair in manifest.json, 5 timed runs each
    python -m bench.bench_diff --repeat 3 --growth-repeat 1

Items are extracted with `section_extractor.extract_items` before timing. Times are wall-clock
medians over the runs; peak memory is the largest Python allocation (tracemalloc) during one
extra, untimed run. The baseline is the diff this module replaced: difflib.SequenceMatcher over
the paragraph lists, every pair of paragraphs inside a replaced block scored with
SequenceMatcher.ratio, and word-level difflib redlines and counts for the modified ones.
A second table splits the median by stage (alignment; alignment and word redlines, the output the
baseline also gives; the whole diff, with table cells, number changes, sub-sections and statistics),
each against the baseline's part that gives the same output.
Targets (issue 5): median <= 0.3 s per pair, >= 5x faster than the baseline, 4x input <= 5x time.
"""

from __future__ import annotations

import argparse
import difflib
import statistics
import sys
import time
import tracemalloc
from dataclasses import replace

from bench.common import corpus_dir, manifest, table

from diff_analyzer import _align, _redline, _word_diff, diff_filings
from form_10k import ITEM_ORDER
from section_extractor import ExtractedFiling, extract_items

TARGET_MEDIAN_SECONDS = 0.3
TARGET_SPEEDUP = 5.0
TARGET_GROWTH_4X = 5.0


# --------------------------------------------------------------------------------------------------
# The baseline: a plain difflib paragraph diff (the implementation diff_analyzer.py replaced)
# --------------------------------------------------------------------------------------------------


def _baseline_redline(a: list[str], b: list[str]) -> str:
    out: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.extend(a[i1:i2])
        if tag in ("delete", "replace"):
            out.append("[-" + " ".join(a[i1:i2]) + "-]")
        if tag in ("insert", "replace"):
            out.append("{+" + " ".join(b[j1:j2]) + "+}")
    return " ".join(out)


def _baseline_item(old: tuple[str, ...], new: tuple[str, ...], redlines: bool = True) -> dict:
    changes = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            changes.extend(("unchanged", i1 + k, j1 + k) for k in range(i2 - i1))
            continue
        pending = list(range(i1, i2))
        for j in range(j1, j2):
            best, best_score = None, 0.0
            for i in pending:
                score = difflib.SequenceMatcher(None, old[i].split(), new[j].split(), autojunk=False).ratio()
                if score > best_score:
                    best, best_score = i, score
            if best is not None and best_score >= 0.5:
                pending.remove(best)
                redline = _baseline_redline(old[best].split(), new[j].split()) if redlines else None
                changes.append(("modified", best, j, best_score, redline))
            else:
                changes.append(("added", None, j))
        changes.extend(("removed", i, None) for i in pending)
    if not redlines:
        return {"changes": changes}
    words_added = words_removed = 0
    for change in changes:
        if change[0] == "added":
            words_added += len(new[change[2]].split())
        elif change[0] == "removed":
            words_removed += len(old[change[1]].split())
        elif change[0] == "modified":
            a, b = old[change[1]].split(), new[change[2]].split()
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
                if tag != "equal":
                    words_removed += i2 - i1
                    words_added += j2 - j1
    return {"changes": changes, "words_added": words_added, "words_removed": words_removed}


def difflib_baseline(older: ExtractedFiling, newer: ExtractedFiling) -> dict:
    return {item: _baseline_item(older.items[item].paragraphs, newer.items[item].paragraphs) for item in ITEM_ORDER}


def difflib_alignment(older: ExtractedFiling, newer: ExtractedFiling) -> dict:
    """The baseline's alignment alone: paragraphs matched and changed pairs scored, no redlines."""
    return {item: _baseline_item(older.items[item].paragraphs, newer.items[item].paragraphs, redlines=False) for item in ITEM_ORDER}


# --------------------------------------------------------------------------------------------------
# Our diff, stage by stage (for the breakdown: where the time goes against the baseline)
# --------------------------------------------------------------------------------------------------


def our_alignment(older: ExtractedFiling, newer: ExtractedFiling) -> None:
    """Paragraph alignment alone: anchors, digit-blind pairs, similar pairs, moves, splits and merges."""
    for item in ITEM_ORDER:
        old, new = older.items[item].paragraphs, newer.items[item].paragraphs
        if old and new:
            _align(old, new)


def our_alignment_and_redlines(older: ExtractedFiling, newer: ExtractedFiling) -> None:
    """What the baseline produces: the alignment, then a labelled word redline of every changed unit
    (no table cells, number changes, sub-sections or statistics)."""
    for item in ITEM_ORDER:
        old, new = older.items[item].paragraphs, newer.items[item].paragraphs
        if not (old and new):
            continue
        for match in _align(old, new)[0]:
            if not match.exact:
                a, b = " ".join(old[i] for i in match.old).split(), " ".join(new[j] for j in match.new).split()
                _redline(a, b, _word_diff(a, b, False).runs)


# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------


def median_seconds(fn, *args, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_mb(fn, *args) -> float:
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def repeated(filing: ExtractedFiling, copies: int) -> ExtractedFiling:
    """Every item's paragraphs concatenated `copies` times (sub-heading indices shifted along)."""
    items = {}
    for key, text in filing.items.items():
        size = len(text.paragraphs)
        items[key] = replace(
            text,
            paragraphs=text.paragraphs * copies,
            heading_indices=tuple(i + size * c for c in range(copies) for i in text.heading_indices),
            cell_facts={i + size * c: facts for c in range(copies) for i, facts in text.cell_facts.items()},
        )
    return replace(filing, items=items)


def words(filing: ExtractedFiling) -> int:
    return sum(text.word_count for text in filing.items.values())


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench_diff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per pair (median reported)")
    parser.add_argument("--growth-repeat", type=int, default=3, help="timed runs per pair and size in the growth test")
    parser.add_argument("--no-baseline", action="store_true", help="skip the difflib baseline (and the speed-up)")
    parser.add_argument("--ticker", action="append", help="only these pairs (repeatable)")
    args = parser.parse_args(argv)

    root = corpus_dir()
    pairs = [p for p in manifest()["pairs"] if not args.ticker or p["ticker"] in args.ticker]
    extracted = []
    for pair in pairs:
        older = extract_items((root / pair["older"]).read_bytes())
        newer = extract_items((root / pair["newer"]).read_bytes())
        extracted.append((pair, older, newer))

    rows, ours, theirs = [], [], []
    for pair, older, newer in extracted:
        seconds = median_seconds(diff_filings, older, newer, repeat=args.repeat)
        memory = peak_mb(diff_filings, older, newer)
        ours.append(seconds)
        row = [
            pair["ticker"],
            f"{pair['older_fiscal_year_end'][:4]}->{pair['newer_fiscal_year_end'][:4]}",
            words(older) + words(newer),
            seconds,
            memory,
        ]
        if not args.no_baseline:
            base = median_seconds(difflib_baseline, older, newer, repeat=max(1, min(args.repeat, 3)))
            theirs.append(base)
            row += [base, peak_mb(difflib_baseline, older, newer), f"{base / seconds:.1f}x"]
        rows.append(row)
    headers = ["pair", "years", "words", "diff s", "diff peak MB"]
    if not args.no_baseline:
        headers += ["difflib s", "difflib peak MB", "speed-up"]
    median_row = ["median", "", int(statistics.median(r[2] for r in rows)), statistics.median(ours), statistics.median(r[4] for r in rows)]
    if not args.no_baseline:
        speedup = statistics.median(theirs) / statistics.median(ours)
        median_row += [statistics.median(theirs), statistics.median(r[6] for r in rows), f"{speedup:.1f}x"]
    title = f"Year-over-year diff, all items, {len(rows)} corpus pairs (wall-clock median of {args.repeat} runs)"
    table(headers, rows + [median_row], title=title)

    if not args.no_baseline:
        stages = [
            ("paragraph alignment", our_alignment, difflib_alignment),
            ("alignment + word redlines", our_alignment_and_redlines, difflib_baseline),
            ("whole diff", diff_filings, difflib_baseline),
        ]
        stage_rows = []
        for name, ours_fn, theirs_fn in stages:
            ours_s = statistics.median(median_seconds(ours_fn, o, n, repeat=args.repeat) for _, o, n in extracted)
            theirs_s = statistics.median(median_seconds(theirs_fn, o, n, repeat=max(1, min(args.repeat, 3))) for _, o, n in extracted)
            stage_rows.append([name, ours_s, theirs_s, f"{theirs_s / ours_s:.1f}x"])
        print()
        table(
            ["stage", "ours s", "difflib s", "difflib / ours"],
            stage_rows,
            title="Where the time goes: median per pair, stage by stage",
        )

    growth_rows = []
    totals: dict[str, list[float]] = {"diff": [], "difflib": []}
    for copies in (1, 2, 4):
        ours_total = sum(
            median_seconds(diff_filings, repeated(o, copies), repeated(n, copies), repeat=args.growth_repeat) for _, o, n in extracted
        )
        totals["diff"].append(ours_total)
        row = [f"{copies}x", ours_total, f"{ours_total / totals['diff'][0]:.2f}x"]
        if not args.no_baseline:
            base_total = sum(
                median_seconds(difflib_baseline, repeated(o, copies), repeated(n, copies), repeat=1) for _, o, n in extracted
            )
            totals["difflib"].append(base_total)
            row += [base_total, f"{base_total / totals['difflib'][0]:.2f}x"]
        growth_rows.append(row)
    print()
    table(
        ["input", "diff s (all pairs)", "diff growth"] + ([] if args.no_baseline else ["difflib s (all pairs)", "difflib growth"]),
        growth_rows,
        title="Growth: every item's paragraphs concatenated 1x, 2x, 4x (sum over the pairs)",
    )

    median = statistics.median(ours)
    growth = totals["diff"][2] / totals["diff"][0]
    print()
    print(f"median per pair: {median:.3f} s (target <= {TARGET_MEDIAN_SECONDS} s) {'ok' if median <= TARGET_MEDIAN_SECONDS else 'MISSED'}")
    if not args.no_baseline:
        speedup = statistics.median(theirs) / median
        verdict = "ok" if speedup >= TARGET_SPEEDUP else "MISSED"
        print(f"speed-up over difflib (median/median): {speedup:.1f}x (target >= {TARGET_SPEEDUP}x) {verdict}")
    print(f"growth at 4x input: {growth:.2f}x time (target <= {TARGET_GROWTH_4X}x) {'ok' if growth <= TARGET_GROWTH_4X else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
