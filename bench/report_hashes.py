"""Hashes of what the pipeline makes for every corpus pair: a refactoring that changes none of them
changed no behaviour (issue 17: "corpus diff and report hashes unchanged through every step").

For each pair: the extracted items of both filings, the full diff (with every changed paragraph
and redline), the key figures, the highlights, and the stored report and its page made by the real
pipeline (offline summarizer, EDGAR stand-in, SQLite store), each as the SHA-256 of its canonical
JSON. What differs from run to run is masked first: ids, times, the stand-in's port.

    python -m bench.report_hashes [--save FILE] [--check FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tempfile
from pathlib import Path

from bench.common import corpus_dir, manifest, table

from corpus_reports import corpus_reports, pair_name  # noqa: E402  (tests/, on the path via bench.common)
import highlights  # noqa: E402
from diff_analyzer import diff_filings  # noqa: E402
from key_figures import key_figures  # noqa: E402
from render import render_html  # noqa: E402
from section_extractor import extract_items  # noqa: E402

VOLATILE_KEYS = frozenset({"report_id", "job_id", "generated_at", "generation_time_seconds", "stage_seconds", "fetched_at",
                           "from_cache"})
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_LOCAL = re.compile(r"http://127\.0\.0\.1:\d+")
_TIMES = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")


def masked(value):
    if isinstance(value, dict):
        return {k: masked(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    if isinstance(value, str):
        return _TIMES.sub("<time>", _UUID.sub("<id>", _LOCAL.sub("http://edgar", value)))
    return value


def digest(value) -> str:
    text = value if isinstance(value, str) else json.dumps(masked(value), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(masked(text).encode()).hexdigest()[:16]


def hashes() -> dict[str, dict[str, str]]:
    corpus = corpus_dir()
    out: dict[str, dict[str, str]] = {}
    for pair in manifest()["pairs"]:
        older, newer = extract_items((corpus / pair["older"]).read_bytes()), extract_items((corpus / pair["newer"]).read_bytes())
        periods = {"older_period": pair["older_fiscal_year_end"], "newer_period": pair["newer_fiscal_year_end"]}
        figures = key_figures(older, newer, **periods)
        diff = diff_filings(older, newer, **periods)
        out[pair_name(pair)] = {
            "items": digest({label: {i: t.paragraphs for i, t in f.items.items()} for label, f in (("older", older), ("newer", newer))}),
            "diff": digest(diff.to_dict(with_changes=True)),
            "key_figures": digest(figures),
            "highlights": digest(highlights.to_dicts(highlights.rank(figures, diff, older, newer))),
        }
    with tempfile.TemporaryDirectory() as workdir:
        for name, report in corpus_reports(corpus, Path(workdir)).items():
            out[name]["report"] = digest(report)
            out[name]["page"] = digest(render_html(masked(report)))  # the page shows times in words: rendered masked
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_hashes")
    parser.add_argument("--save", type=Path, help="write the hashes to this JSON file")
    parser.add_argument("--check", type=Path, help="compare with hashes saved before; exit 1 on any difference")
    args = parser.parse_args(argv)
    found = hashes()
    columns = ["items", "diff", "key_figures", "highlights", "report", "page"]
    saved = json.loads(args.check.read_text()) if args.check else {}
    rows = []
    for name, row in found.items():
        cells = [row.get(c, "-") + ("" if not saved or saved.get(name, {}).get(c) == row.get(c) else " CHANGED") for c in columns]
        rows.append([name, *cells])
    table(["pair", *columns], rows, title="SHA-256 (first 16 hex digits) of each stage's output per corpus pair")
    if args.save:
        args.save.write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    if saved:
        changed = sorted(f"{n}.{c}" for n, row in found.items() for c, h in row.items() if saved.get(n, {}).get(c) != h)
        print("unchanged" if not changed else f"changed: {', '.join(changed)}")
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
