"""The validator on real filings: good reports are not refunded, broken extractions are.

Regression tests named after the real filing whose legitimate layout once looked broken.
"""

from __future__ import annotations

import json

import pytest

from ai_analyzer import OfflineSummarizer
from mutations import alter_evidence, paste_toc, remove, swallow, swap, truncate
from diff_analyzer import diff_filings
from quality_validator import FilingContext, check_filing, validate
from section_extractor import extract_items


@pytest.fixture(scope="module")
def corpus_data(corpus):
    manifest = json.loads((corpus / "manifest.json").read_text())
    cache = {}

    def extracted(path):
        if path not in cache:
            cache[path] = extract_items((corpus / path).read_bytes())
        return cache[path]

    return manifest, extracted


def _pair(corpus_data, ticker, year):
    manifest, extracted = corpus_data
    pair = next(p for p in manifest["pairs"] if p["ticker"] == ticker and p["newer_fiscal_year_end"].startswith(year))
    older, newer = extracted(pair["older"]), extracted(pair["newer"])
    return older, newer, FilingContext(pair["older_fiscal_year_end"], pair["newer_fiscal_year_end"])


def _validate(older, newer, context, summaries=None):
    diff = diff_filings(older, newer)
    return validate(older, newer, diff, summaries or OfflineSummarizer().summarize(diff), context)


@pytest.mark.parametrize("ticker, year", [("AAPL", "2025"), ("IBM", "2024"), ("NVDA", "2025"), ("MA", "2024")])
def test_good_pairs_are_not_refunded(corpus_data, ticker, year):
    report = _validate(*_pair(corpus_data, ticker, year))
    assert report.is_valid, [(i.code, i.item, i.filing) for i in report.blocking]


@pytest.mark.parametrize(
    "path, period",
    [
        ("filings/NVDA/NVDA-10k-2025-01-26.html", "2025-01-26"),  # Item 8 is a 25-word pointer to Part IV
        ("filings/IBM/IBM-10k-2024-12-31.html", "2024-12-31"),  # Items 7 and 8 are in Exhibit 13
        ("filings/SDON/SDON-10k-2021-12-31.html", "2021-12-31"),  # statements on F-pages after the signatures
        ("filings/SPATZ/SPATZ-10k-2014-12-31.html", "2014-12-31"),  # a small company: short items
        ("filings/GE/GE-10k-2023-12-31.html", "2023-12-31"),  # cross-reference index, no Item headings
        ("filings/GE/GE-10k-1993-12-31.txt", "1993-12-31"),  # plain text, before Item 1A existed
        ("filings/TGT/TGT-10k-2003-02-01.html", "2003-02-01"),  # Item 1 of 295 words
    ],
)
def test_legitimate_layouts_are_not_refunded(corpus_data, path, period):
    _, extracted = corpus_data
    blocking = [i for i in check_filing(extracted(path), "newer", period=period) if i.severity == "blocking"]
    assert blocking == [], [(i.code, i.item) for i in blocking]


@pytest.mark.parametrize(
    "name, mutate",
    [
        ("truncate 1A", lambda f: truncate(f, "1A")),
        ("remove 7", lambda f: remove(f, "7")),
        ("toc as item 1", lambda f: paste_toc(f, "1")),
        ("swap 1A and 7", lambda f: swap(f, "1A", "7")),
        ("7 swallows 7A-9B", lambda f: swallow(f, "7", ["7A", "8", "9", "9A", "9B"])),
    ],
)
def test_broken_extractions_of_a_real_pair_are_refunded(corpus_data, name, mutate):
    older, newer, context = _pair(corpus_data, "TSLA", "2024")
    assert _validate(older, mutate(newer), context).decision.refund, name


def test_an_altered_quote_is_refunded(corpus_data):
    older, newer, context = _pair(corpus_data, "WMT", "2025")
    diff = diff_filings(older, newer)
    report = validate(older, newer, diff, alter_evidence(OfflineSummarizer().summarize(diff)), context)
    assert "AI_UNFAITHFUL" in report.decision.codes
