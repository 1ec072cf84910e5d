"""Item extraction on the real filings of the corpus (EDGAR_CORPUS_DIR), against the hand-checked
reference items (edgar-corpus/reference/README.md defines the word-multiset F1), plus regression tests
named after the filing that broke, edgartools style. Skipped when the corpus is absent (failed in CI).
The plain-text filings have no reference: their boundaries were checked by reading the text."""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import corpus_dir
from form_10k import ITEM_ORDER
from section_extractor import ExtractedFiling, ItemStatus, extract_items

CORE_ITEMS = ("1", "1A", "7", "7A", "8")


def f1(candidate: str, reference: str) -> float:
    c, r = Counter(re.findall(r"[a-z0-9]+", candidate.lower())), Counter(re.findall(r"[a-z0-9]+", reference.lower()))
    if not c and not r:
        return 1.0
    overlap = sum((c & r).values())
    return 0.0 if not overlap else 2 * overlap / (sum(c.values()) + sum(r.values()))


@lru_cache(maxsize=None)
def extracted(path: str) -> ExtractedFiling:
    return extract_items((corpus_dir() / path).read_bytes())


def reference(path: str) -> dict:
    return json.loads((corpus_dir() / "reference" / Path(path).with_suffix(".json")).read_text())


def reference_paths() -> list[str]:
    root = corpus_dir()
    if not (root / "manifest.json").is_file():
        return ["(corpus absent)"]
    manifest = json.loads((root / "manifest.json").read_text())
    return [f["path"] for f in manifest["filings"] if (root / "reference" / Path(f["path"]).with_suffix(".json")).is_file()]


@pytest.mark.slow
@pytest.mark.parametrize("path", reference_paths())
def test_core_items_match_the_reference(corpus, path):
    """Targets of issue 4: F1 >= 0.97 on Items 1, 1A, 7, 7A, 8 of every filing; every existing item found."""
    ref = reference(path)["items"]
    filing = extracted(path)
    scores = {item: f1(filing.items[item].text, ref[item]["text"]) for item in CORE_ITEMS}
    assert all(score >= 0.97 for score in scores.values()), scores
    lost = [item for item in ITEM_ORDER if ref[item]["status"] != "missing" and filing.items[item].status is ItemStatus.MISSING]
    assert not lost


# --- regression tests, named after the filing that broke --------------------------------------------

def test_ge_2023_items_come_from_the_cross_reference_index(corpus):
    """GE has no Item headings in the body: its index maps items to printed pages (page footers)."""
    filing = extracted("filings/GE/GE-10k-2023-12-31.html")
    assert filing.method == "cross_reference_index"
    assert filing.items["1A"].word_count > 10_000 and filing.items["8"].word_count > 25_000
    assert filing.items["1B"].status is ItemStatus.NOT_APPLICABLE and filing.items["6"].status is ItemStatus.RESERVED
    assert filing.items["11"].status is ItemStatus.INCORPORATED_BY_REFERENCE and filing.items["11"].refers_to == "proxy statement"
    assert filing.items["16"].status is ItemStatus.NOT_APPLICABLE


def test_intc_2023_index_sub_rows_and_section_footers_give_the_pages(corpus):
    """Intel's index lists Item 1 and Item 7 as sub-rows with their own pages; its footers read
    "Fundamentals of Our Business | 9", so the page number is read from a footer that changes."""
    filing = extracted("filings/INTC/INTC-10k-2023-12-30.html")
    ref = reference("filings/INTC/INTC-10k-2023-12-30.html")["items"]
    assert filing.method == "cross_reference_index"
    for item in ("1", "7", "9B"):
        assert f1(filing.items[item].text, ref[item]["text"]) > 0.97
    assert "Fundamentals of Our Business" not in filing.items["1"].text


def test_mcd_2023_single_page_index_with_7a_inside_7(corpus):
    """McDonald's index gives one start page per item; 7A starts at a sub-section of the MD&A."""
    filing = extracted("filings/MCD/MCD-10k-2023-12-31.html")
    assert filing.items["1A"].paragraphs[0] == "Cautionary Statement Regarding Forward-Looking Statements"
    assert filing.items["7A"].paragraphs[0].startswith("The Company generally borrows on a long-term basis")
    assert filing.items["7A"].text in filing.items["7"].text
    assert "Form 10-K Cross-Reference Index" not in filing.items["15"].text


def test_ma_2023_running_headers_mini_tocs_and_item_16(corpus):
    """Mastercard repeats "ITEM 1. BUSINESS" atop every page and opens each Part with a mini-TOC of
    rows without page numbers; Item 16's heading shares its page with the end of Item 15."""
    filing = extracted("filings/MA/MA-10k-2023-12-31.html")
    assert filing.items["1"].text.count("ITEM 1. BUSINESS") == 0
    assert filing.items["16"].paragraphs[:2] == ("None.", "EXHIBIT INDEX")  # the exhibit index follows, up to SIGNATURES
    assert "Item 5. Market for registrant" not in filing.items["4"].text  # the Part II mini-TOC
    assert 500 < filing.items["7A"].word_count < 1000


def test_ammx_2021_heading_in_a_table_cell_wrapped_over_lines(corpus):
    """AmeraMex: "ITEM 7A | QUANTITATIVE AND QUALITATIVE DISCLOSURES ABOUT MARKET\\n RISK" in a table row."""
    filing = extracted("filings/AMMX/AMMX-10k-2021-12-31.html")
    assert filing.items["7A"].status is ItemStatus.NOT_APPLICABLE
    assert filing.items["8"].word_count > 5000 and filing.items["7"].word_count < 3000


@pytest.mark.parametrize("path", ["filings/GS/GS-10k-2002-11-29.html", "filings/MRX/MRX-10k-1999-06-30.html",
                                  "filings/REAC/REAC-10k-2015-12-31.html"])
def test_short_items_are_not_stretched_to_balance_spans(corpus, path):
    """A dynamic programme over log-lengths moved short items' headings to later candidates."""
    filing, ref = extracted(path), reference(path)["items"]
    for item in ("7", "7A", "8"):
        assert filing.items[item].status.value == ref[item]["status"]
        assert f1(filing.items[item].text, ref[item]["text"]) > 0.97


def test_ppci_2016_item_9a_with_a_parenthesised_letter(corpus):
    filing = extracted("filings/PPCI/PPCI-10k-2016-12-31.html")
    assert filing.items["9A"].title == "CONTROLS AND PROCEDURES" and filing.items["9A"].word_count > 500
    assert filing.items["9"].status is ItemStatus.NOT_APPLICABLE


def test_nvda_2024_part_iii_introduction_is_no_item_text(corpus):
    filing = extracted("filings/NVDA/NVDA-10k-2024-01-28.html")
    assert filing.items["9C"].text == "Not Applicable."
    assert filing.items["8"].status is ItemStatus.INCORPORATED_BY_REFERENCE


def test_tsla_2023_stale_toc_links_do_not_move_items(corpus):
    filing, ref = extracted("filings/TSLA/TSLA-10k-2023-12-31.html"), reference("filings/TSLA/TSLA-10k-2023-12-31.html")["items"]
    for item in ("1B", "2", "3", "9C"):
        assert f1(filing.items[item].text, ref[item]["text"]) > 0.97


def test_wmt_2010_reserved_item_4_keeps_the_executive_officers_section(corpus):
    item = extracted("filings/WMT/WMT-10k-2010-01-31.html").items["4"]
    assert item.status is ItemStatus.RESERVED and item.paragraphs[0] == "EXECUTIVE OFFICERS OF THE REGISTRANT"


def test_aapl_2024_footers_are_furniture_and_risk_titles_are_headings(corpus):
    filing = extracted("filings/AAPL/AAPL-10k-2024-09-28.html")
    everything = " ".join(filing.items[i].text for i in ITEM_ORDER)
    assert "2024 Form 10-K |" not in everything
    risk = filing.items["1A"]
    titles = [risk.paragraphs[i] for i in risk.heading_indices]
    assert "Macroeconomic and Industry Risks" in titles and len(titles) > 25


def test_carmax_abs_2023_omitted_items_of_an_asset_backed_issuer(corpus):
    """A full SGML submission (.txt) holding an HTML 10-K under General Instruction J."""
    filing = extracted("filings/CARMAX-AOT-2019-3/CARMAX-AOT-2019-3-10k-2023-02-28.txt")
    assert filing.source_format == "html"
    for item in ("1", "1A", "2", "3", "5", "7", "7A", "8", "9A", "10", "14"):
        assert filing.items[item].status is ItemStatus.NOT_APPLICABLE, item
    assert filing.items["1B"].text == "None."
    assert filing.items["15"].status is ItemStatus.PRESENT and "Exhibit Index" in filing.items["15"].text


# --- plain-text filings (no reference: boundaries checked by reading the text) ----------------------

def test_ge_1993_plain_text(corpus):
    filing = extracted("filings/GE/GE-10k-1993-12-31.txt")
    assert filing.source_format == "txt"
    items = filing.items
    assert items["1"].paragraphs[0] == "General" and items["1"].paragraphs[-1].endswith("aircraft engine goods and services.")
    assert items["2"].text.startswith("Manufacturing operations are carried on at approximately 146")
    assert items["2"].text.endswith("some 114 manufacturing plants located in 24 other countries.")
    assert items["5"].title.endswith("Stockholder Matters") and "(20)" not in items["5"].text
    assert items["7"].status is ItemStatus.INCORPORATED_BY_REFERENCE and items["7"].text.startswith("Reported on pages 32-43")
    assert items["8"].text == "See index under item 14."
    assert items["9"].status is ItemStatus.NOT_APPLICABLE
    assert items["14"].text.endswith("There were no reports on Form 8-K filed by the registrant during the fourth quarter of 1993.")
    assert items["1A"].status is items["7A"].status is items["15"].status is ItemStatus.MISSING


def test_ibm_1997_plain_text(corpus):
    items = extracted("filings/IBM/IBM-10k-1997-12-31.txt").items
    assert items["1"].text.startswith("IBM develops, manufactures and sells advanced information processing")
    assert items["2"].text.startswith("At December 31, 1997, IBM's manufacturing and development facilities")
    assert items["2"].text.endswith("and manager, foreign exchange at RJR Nabisco, Inc.")  # executive officers follow Properties
    assert items["7"].title.endswith("RESULTS OF OPERATIONS:")
    assert items["7"].text == ("Refer to pages 40 through 49 of IBM's 1997 Annual Report to Stockholders which are "
                               "incorporated herein by reference.")
    assert items["7A"].refers_to == "Annual Report to shareholders (Exhibit 13)"
    assert items["14"].word_count > 500 and "SIGNATURES" not in items["14"].text


def test_ko_1997_plain_text(corpus):
    items = extracted("filings/KO/KO-10k-1997-12-31.txt").items
    assert items["1"].text.startswith('The Coca-Cola Company (the "Company" or the "Registrant") was incorporated')
    assert items["4"].paragraphs[0] == "Not applicable."  # followed by "ITEM X. EXECUTIVE OFFICERS", an unnumbered section
    assert all(items[i].status is ItemStatus.INCORPORATED_BY_REFERENCE for i in ("5", "6", "7", "7A", "8", "10", "11", "12"))
    assert items["14"].title.endswith("REPORTS ON FORM 8-K")


def test_textron_2001_plain_text(corpus):
    items = extracted("filings/TXT/TXT-10k-2001-12-29.txt").items
    assert items["1"].title == "BUSINESS OF TEXTRON"
    assert items["4"].text.startswith("No matters were submitted to a vote of our security holders")
    assert "EXECUTIVE OFFICERS OF THE REGISTRANT" in items["4"].text  # unnumbered section after Item 4
    assert items["9"].text == "None."
    assert items["14"].paragraphs[0] == "a) FINANCIAL STATEMENTS AND SCHEDULES"


def test_aeroflex_1995_plain_text_with_items_in_words(corpus):
    """"ITEM ONE - BUSINESS" ...; Part III is incorporated as a whole (no Items 10-13); the file is truncated."""
    items = extracted("filings/ARX/ARX-10k-1995-06-30.txt").items
    assert items["1"].text.startswith("Aeroflex Incorporated, through its subsidiaries")
    assert items["7"].paragraphs[0] == "Results of Operations"
    assert items["8"].text.endswith("Jericho, New York August 12, 1994")
    assert items["9"].title == "DISAGREEMENTS ON ACCOUNTING AND FINANCIAL DISCLOSURE" and items["9"].text == "None."
    assert all(items[i].status is ItemStatus.MISSING for i in ("10", "11", "12", "13"))
    assert items["14"].title.startswith("EXHIBITS, FINANCIAL STATEMENT SCHEDULES, AND REPORTS ON FORM 8-K")
