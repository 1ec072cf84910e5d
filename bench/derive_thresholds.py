"""How quality_validator.THRESHOLDS were derived, recomputed from the corpus (and checked against the table).

For Items 1, 1A, 7 and 8: the smallest `present` item in the hand-checked reference and in our own
extraction, and 40% of it (the `min_words` rule); for every long item, the range of the
year-over-year word ratio over the corpus pairs (the `ratio_floor` rule keeps well below it).

    python -m bench.derive_thresholds
"""

from __future__ import annotations

import json

from bench.common import corpus_dir, manifest, table

from quality_validator import RATIO_MIN_WORDS, THRESHOLDS  # noqa: E402
from section_extractor import ItemStatus, extract_items  # noqa: E402

MIN_WORDS_SHARE = 0.4


def main(argv: list[str]) -> int:
    corpus = corpus_dir()
    m = manifest()
    ours = {f["path"]: extract_items((corpus / f["path"]).read_bytes()) for f in m["filings"] if f.get("complete", True)}
    reference = {}
    for path in (corpus / "reference" / "filings").glob("*/*.json"):
        data = json.loads(path.read_text())
        reference[data["filing"]] = data["items"]
    rows, ok = [], True
    for item, expectation in THRESHOLDS.items():
        ref = [v["word_count"] for items in reference.values() if (v := items[item])["status"] == "present"]
        own = [f.items[item].word_count for f in ours.values() if f.items[item].status is ItemStatus.PRESENT]
        smallest = min(ref + own) if ref or own else 0
        derived = int(smallest * MIN_WORDS_SHARE) if expectation.min_words else 0
        ratios = []
        for pair in m["pairs"]:
            a, b = ours[pair["older"]].items[item], ours[pair["newer"]].items[item]
            if a.status is b.status is ItemStatus.PRESENT and max(a.word_count, b.word_count) >= RATIO_MIN_WORDS:
                ratios.append(min(a.word_count, b.word_count) / max(a.word_count, b.word_count))
        lowest_ratio = min(ratios) if ratios else None
        agrees = derived == expectation.min_words or (expectation.min_words == 0)
        agrees &= lowest_ratio is None or lowest_ratio > expectation.ratio_floor
        ok &= agrees
        rows.append([item, min(ref) if ref else "-", min(own) if own else "-", derived, expectation.min_words,
                     f"{lowest_ratio:.2f}" if lowest_ratio is not None else "-", len(ratios), expectation.ratio_floor,
                     "yes" if agrees else "NO"])
    table(["item", "smallest ref", "smallest ours", "40% of it", "min_words", "lowest yoy ratio", "pairs", "ratio_floor", "table agrees"],
          rows, title="quality_validator.THRESHOLDS against the corpus")
    return 0 if ok else 1


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
