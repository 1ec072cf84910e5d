"""Number-change precision on the corpus pairs, against a labelled random sample.

`bench/number_changes_sample.json` holds number changes drawn at random from every corpus pair, each
with the quotes it rests on (the older and newer sentence, or the table rows with their header and
caption) and a label given by reading the filings: `right` when the two figures are the same metric
for the same period (or each filing's own year) and their values, signs, scales and units are
what the text says; `wrong` otherwise, with the reason. This benchmark recomputes the diff of every
pair, finds each sampled change in today's output, and prints precision overall and by kind
(prose percent, prose amount, prose other, table, XBRL table cell) and sign agreement on changes
whose text has a direction word. A sampled change the code no longer produces is listed as gone
(a wrong one gone is a fix; a right one gone is lost recall).

    python -m bench.bench_number_changes                  # precision on the labelled sample
    python -m bench.bench_number_changes --draw 180 --seed 13 --out FILE   # draw a new sample to label
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path

from bench.common import corpus_dir, manifest, table

from diff_analyzer import diff_filings  # noqa: E402
from number_mentions import DECREASE_WORDS, INCREASE_WORDS  # noqa: E402
from section_extractor import extract_items  # noqa: E402

SAMPLE = Path(__file__).with_name("number_changes_sample.json")  # seed 13: the rules were mended against it
HOLDOUT = Path(__file__).with_name("number_changes_holdout.json")  # seed 29: drawn after, kept to measure
DIRECTION = re.compile(r"\b(" + "|".join(sorted(INCREASE_WORDS | DECREASE_WORDS)) + r")\b", re.I)


def all_changes() -> list[dict]:
    """Every number change (churn included) of every corpus pair, with the quotes to judge it by."""
    corpus = corpus_dir()
    out = []
    for pair in manifest()["pairs"]:
        older = extract_items((corpus / pair["older"]).read_bytes())
        newer = extract_items((corpus / pair["newer"]).read_bytes())
        diff = diff_filings(older, newer, older_period=pair["older_fiscal_year_end"], newer_period=pair["newer_fiscal_year_end"])
        for item, item_diff in diff.items.items():
            old_paragraphs, new_paragraphs = older.items[item].paragraphs, newer.items[item].paragraphs
            for change in item_diff.number_changes:
                entry = {
                    "pair": f"{pair['ticker']} {pair['older_fiscal_year_end']} -> {pair['newer_fiscal_year_end']}",
                    "item": item,
                    "stratum": stratum_of(change),
                    **{k: v for k, v in change.to_dict().items() if k not in ("context", "old_context")},
                    "old_quote": quote(old_paragraphs, change.old_index, change.old_text, change.in_table),
                    "new_quote": quote(new_paragraphs, change.new_index, change.new_text, change.in_table),
                }
                if change.in_table:
                    entry["old_table_head"] = table_head(old_paragraphs, change.old_index)
                    entry["new_table_head"] = table_head(new_paragraphs, change.new_index)
                out.append(entry)
    return out


STRATA = {"table_xbrl": 60, "table": 40, "prose_amount": 40, "prose_percent": 30, "prose_other": 30}


def stratum_of(change) -> str:
    if change.in_table:
        return "table_xbrl" if change.concept else "table"
    if change.kind == "percent":
        return "prose_percent"
    if change.kind == "amount":
        return "prose_amount"
    return "prose_other"


def quote(paragraphs: tuple[str, ...], index: int, figure: str, in_table: bool) -> str:
    """The sentence (or table row) holding the figure, verbatim."""
    if index is None or index >= len(paragraphs):
        return ""
    text = paragraphs[index]
    if in_table or len(text) <= 400:
        return text
    at = text.find(figure) if figure else -1
    if at < 0:
        return text[:400]
    start = max(text.rfind(". ", 0, at) + 2, at - 300, 0)
    end = text.find(". ", at)
    return text[start : (end + 1 if end >= 0 else len(text))][:600]


def table_head(paragraphs: tuple[str, ...], index: int) -> list[str]:
    """The lines above a row back to the prose before its table: caption, header rows, section labels."""
    lines = []
    for text in reversed(paragraphs[max(0, index - 12) : index]):
        if " | " not in text and len(text) > 200:
            break
        lines.append(text[:300])
    return list(reversed(lines))


def identity(entry: dict) -> tuple:
    return (entry["pair"], entry["item"], entry["old_index"], entry["new_index"], entry["old_text"], entry["new_text"])


def draw(count: int, seed: int, out: Path) -> int:
    """A random sample of `count` changes, stratified by kind (STRATA, scaled to `count`) so that
    prose percentages are not swamped by the thousands of table cells; the population of each
    stratum is kept to weight the overall estimate."""
    changes = [c for c in all_changes() if not c["churn"]]  # what a reader is shown as a change
    rng = random.Random(seed)
    population = Counter(c["stratum"] for c in changes)
    scale = count / sum(STRATA.values())
    sample = []
    for stratum, share in STRATA.items():
        members = [c for c in changes if c["stratum"] == stratum]
        sample += rng.sample(members, min(len(members), round(share * scale)))
    for entry in sample:
        text = entry["new_quote"] + " " + entry["old_quote"]
        entry.update(label=None, reason=None, direction_word=not entry["in_table"] and bool(DIRECTION.search(text)), sign=None)
    out.write_text(json.dumps({"README": __doc__, "seed": seed, "population": dict(population), "sample": sample},
                              indent=1, ensure_ascii=False) + "\n")
    print(f"drew {len(sample)} of {len(changes)} number changes into {out}")
    return 0


def _matches(now: dict, expected: dict | None) -> bool:
    """Today's values are the ones a right reading gives."""
    if expected is None:
        return False  # no change at all, yet produced
    for side in ("old_value", "new_value"):
        want, got = expected[side], now[side]
        if want is None or got is None:
            if want != got:
                return False
            continue
        if abs(got - want) > max(0.01, 0.005 * abs(want)):
            return False
    return True


def measure(path: Path) -> int:
    data = json.loads(path.read_text())
    labelled = [e for e in data["sample"] if e.get("label") in ("right", "wrong")]
    if not labelled:
        print(f"{path}: no labelled entries")
        return 1
    produced = {identity(e): e for e in all_changes()}
    rows, by_kind = [], Counter()
    gone_fixed = gone_lost = churned = 0
    sign_total = sign_right = 0
    for entry in labelled:
        now = produced.get(identity(entry))
        expected = entry.get("expected", {"old_value": entry["old_value"], "new_value": entry["new_value"]} if entry["label"] == "right" else None)
        if now is None:
            gone_fixed += expected is None
            gone_lost += expected is not None
            continue
        if now.get("churn"):
            churned += 1
            continue  # labelled churn: never ranked, not a change a reader is shown as one
        right = _matches(now, expected)
        by_kind[(entry["stratum"], right)] += 1
        if entry.get("direction_word") and expected is not None:
            sign_total += 1
            sign_right += all((now[s] or 0) * (expected[s] or 0) >= 0 for s in ("old_value", "new_value"))
    kinds = sorted({k for k, _ in by_kind})
    for kind in kinds:
        r, w = by_kind[(kind, True)], by_kind[(kind, False)]
        rows.append([kind, r + w, r, w, f"{r / (r + w):.1%}" if r + w else "-"])
    right_total = sum(by_kind[(k, True)] for k in kinds)
    total = right_total + sum(by_kind[(k, False)] for k in kinds)
    rows.append(["all (sample)", total, right_total, total - right_total, f"{right_total / total:.1%}" if total else "-"])
    population = data.get("population", {})
    weighted = [(population.get(k, 0), by_kind[(k, True)] / (by_kind[(k, True)] + by_kind[(k, False)])) for k in kinds
                if by_kind[(k, True)] + by_kind[(k, False)]]
    if weighted and sum(n for n, _ in weighted):
        estimate = sum(n * p for n, p in weighted) / sum(n for n, _ in weighted)
        rows.append(["all (weighted by population)", sum(n for n, _ in weighted), "", "", f"{estimate:.1%}"])
    table(["kind", "sampled", "right", "wrong", "precision"], rows,
          title=f"Number changes: {len(labelled)} labelled of {sum(population.values()) if population else '?'} (seed {data.get('seed')})")
    print(f"sign right where the text has a direction word: {sign_right}/{sign_total}"
          + (f" ({sign_right / sign_total:.1%})" if sign_total else ""))
    print(f"sampled changes no longer produced: {gone_fixed} that were no change at all (fixed), {gone_lost} real changes (lost); "
          f"{churned} now labelled churn")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_number_changes")
    parser.add_argument("--draw", type=int, help="draw a new random sample of this many changes to label")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=SAMPLE)
    parser.add_argument("--sample", type=Path, action="append", help="labelled sample file(s); default: both in bench/")
    args = parser.parse_args(argv)
    if args.draw:
        return draw(args.draw, args.seed, args.out)
    status = 0
    for path in args.sample or [SAMPLE, HOLDOUT]:
        status |= measure(path)
        print()
    return status


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
