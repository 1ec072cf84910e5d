"""Accuracy of `section_extractor` against the hand-checked reference items of the corpus.

`python -m bench.bench_accuracy [--filing SUBSTRING] [--worst N]` prints:
- per item: precision, recall and F1 of the word multisets (the definition of
  `edgar-corpus/reference/README.md`), averaged over the filings, the lowest F1, how many filings
  fall under the 0.97 target, how many existing items were found, and status agreement;
- per filing: F1 of Items 1, 1A, 7, 7A and 8 and status agreement over the 23 items;
- the worst (filing, item) pairs of Items 1/1A/7/7A/8, and whether the issue's targets are met.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

from bench.common import corpus_dir, manifest, table

from form_10k import ITEM_ORDER
from section_extractor import extract_items

CORE_ITEMS = ("1", "1A", "7", "7A", "8")
F1_TARGET = 0.97
_TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> Counter:
    """The reference README's tokens: maximal runs of [a-z0-9] in the lower-cased text."""
    return Counter(_TOKEN.findall(text.lower()))


def prf(candidate: str, reference: str) -> tuple[float, float, float]:
    """(precision, recall, F1) of the word multisets; two empty texts agree perfectly."""
    c, r = tokens(candidate), tokens(reference)
    nc, nr = sum(c.values()), sum(r.values())
    if not nc and not nr:
        return 1.0, 1.0, 1.0
    overlap = sum((c & r).values())
    if not overlap:
        return 0.0, 0.0, 0.0
    p, q = overlap / nc, overlap / nr
    return p, q, 2 * p * q / (p + q)


def reference_files(root: Path) -> list[tuple[str, Path]]:
    """(filing path, reference JSON) for every corpus filing that has a reference."""
    pairs = []
    for filing in manifest()["filings"]:
        ref = root / "reference" / Path(filing["path"]).with_suffix(".json")
        if ref.is_file():
            pairs.append((filing["path"], ref))
    return pairs


def score_filing(root: Path, path: str, ref_path: Path) -> dict:
    """Per item: (P, R, F1, our status, reference status) for one filing."""
    reference = json.loads(ref_path.read_text())
    ours = extract_items((root / path).read_bytes())
    scores = {}
    for item in ITEM_ORDER:
        ref = reference["items"][item]
        got = ours.items[item]
        p, r, f = prf(got.text, ref.get("text") or "")
        scores[item] = {"p": p, "r": r, "f1": f, "status": got.status.value, "ref_status": ref["status"]}
    return {"path": path, "name": Path(path).stem, "confidence": reference.get("confidence"), "items": scores,
            "method": ours.method}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_accuracy")
    parser.add_argument("--filing", help="only filings whose path contains this")
    parser.add_argument("--worst", type=int, default=15, help="how many worst (filing, item) pairs to list")
    parser.add_argument("--all-items", action="store_true", help="also list every (filing, item) under the F1 target or with another status")
    args = parser.parse_args(argv)

    root = corpus_dir()
    results = [score_filing(root, path, ref) for path, ref in reference_files(root) if not args.filing or args.filing in path]
    if not results:
        print("no reference filings matched")
        return 1

    rows = []
    for item in ITEM_ORDER:
        cells = [r["items"][item] for r in results]
        exists = [c for c in cells if c["ref_status"] != "missing"]
        found = sum(1 for c in exists if c["status"] != "missing")
        invented = sum(1 for c in cells if c["ref_status"] == "missing" and c["status"] != "missing")
        f1s = [c["f1"] for c in cells]
        rows.append([
            item, len(cells), statistics.mean(c["p"] for c in cells), statistics.mean(c["r"] for c in cells),
            statistics.mean(f1s), min(f1s), sum(1 for f in f1s if f < F1_TARGET), f"{found}/{len(exists)}", invented,
            f"{sum(1 for c in cells if c['status'] == c['ref_status'])}/{len(cells)}",
        ])
    table(["item", "filings", "mean P", "mean R", "mean F1", "min F1", f"F1<{F1_TARGET}", "found", "invented", "status ok"],
          rows, title=f"Per item, {len(results)} reference filings (word-multiset F1 of reference/README.md)")

    print()
    filing_rows = []
    for r in results:
        agree = sum(1 for c in r["items"].values() if c["status"] == c["ref_status"])
        filing_rows.append([r["name"], r["confidence"], r["method"]] + [r["items"][i]["f1"] for i in CORE_ITEMS] + [f"{agree}/23"])
    table(["filing", "conf", "method"] + [f"F1 {i}" for i in CORE_ITEMS] + ["status ok"], filing_rows,
          title="Per filing: F1 of the core items and status agreement")

    pairs = sorted(((r["items"][i]["f1"], r["name"], i, r["items"][i]) for r in results for i in CORE_ITEMS), key=lambda t: t[0])
    print()
    table(["filing", "item", "P", "R", "F1", "status", "ref status"],
          [[name, item, c["p"], c["r"], f1, c["status"], c["ref_status"]] for f1, name, item, c in pairs[: args.worst]],
          title=f"Worst {args.worst} (filing, item) pairs among Items {', '.join(CORE_ITEMS)}")

    if args.all_items:
        print()
        table(["filing", "item", "P", "R", "F1", "status", "ref status"],
              [[r["name"], i, c["p"], c["r"], c["f1"], c["status"], c["ref_status"]] for r in results
               for i, c in r["items"].items() if c["f1"] < F1_TARGET or c["status"] != c["ref_status"]],
              title="Every (filing, item) under the F1 target or with a different status")
    below = [(name, item, round(f1, 3)) for f1, name, item, _ in pairs if f1 < F1_TARGET]
    missed = [(r["name"], i) for r in results for i, c in r["items"].items() if c["ref_status"] != "missing" and c["status"] == "missing"]
    statuses = [c["status"] == c["ref_status"] for r in results for c in r["items"].values()]
    core = [c["f1"] for r in results for i, c in r["items"].items() if i in CORE_ITEMS]
    print()
    print(f"core items: mean F1 {statistics.mean(core):.4f}, median {statistics.median(core):.4f}, min {min(core):.4f}")
    print(f"status agreement: {sum(statuses)}/{len(statuses)} = {sum(statuses) / len(statuses):.1%}")
    print(f"target F1 >= {F1_TARGET} on Items {'/'.join(CORE_ITEMS)} of every filing: "
          + ("met" if not below else f"NOT met ({len(below)}: {below})"))
    print("target every existing item found: " + ("met" if not missed else f"NOT met ({len(missed)}: {missed})"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
