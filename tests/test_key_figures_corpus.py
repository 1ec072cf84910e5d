"""Key figures on real filings: every figure of the hand-verified `key-figures.json`, exact, and the
filings that taught a rule, each named after the filing that broke a simpler one."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import lru_cache

import pytest

from conftest import corpus_dir, require
from key_figures import key_figures, read_filing
from section_extractor import extract_items


def corpus_file(path: str) -> bytes:
    full = corpus_dir() / path
    require(full.is_file(), f"the EDGAR corpus is not at {corpus_dir()} (set EDGAR_CORPUS_DIR, or run `make corpus`)")
    return full.read_bytes()


@lru_cache(maxsize=None)
def extracted(path: str):
    return extract_items(corpus_file(path))


def verified() -> dict:
    path = corpus_dir() / "key-figures.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text())["filings"]


CASES = [(path, metric, side) for path, entry in verified().items() for metric in entry["figures"] for side in ("current", "prior")]


@pytest.mark.parametrize("path,metric,side", CASES or [(None, None, None)])
def test_every_hand_verified_figure_exactly(path, metric, side):
    require(path is not None, f"key-figures.json is not in the corpus at {corpus_dir()} (set EDGAR_CORPUS_DIR, or run `make corpus`)")
    entry = verified()[path]
    filing = read_filing(extracted(path).xbrl, extracted(path).statement_tables, entry["fiscal_year_end"])
    expected = entry["figures"][metric].get(side)
    got = (filing.current if side == "current" else filing.prior).get(metric)
    if expected is None or expected.get("value") is None:
        assert got is None, f"{metric} {side}: the filing states no such figure, got {got}"
        return
    assert got is not None, f"{metric} {side} not found"
    assert got.value == Decimal(str(expected["value"]))
    assert got.concept == expected["xbrl_concept"]
    start, _, end = expected["period"].partition("/")
    assert got.period_end == (end or start)


def pair(older: str, newer: str) -> dict:
    return key_figures(extracted(older), extracted(newer), older_url="https://sec.test/older.htm", newer_url="https://sec.test/newer.htm")


def test_aapl_fy2025_every_required_metric_year_over_year_with_links():
    figures = pair("filings/AAPL/AAPL-10k-2024-09-28.html", "filings/AAPL/AAPL-10k-2025-09-27.html")
    assert figures["status"] == "ok" and figures["source"] == "inline_xbrl"
    revenue = figures["metrics"]["revenue"]
    assert revenue["older"]["value"] == 391_035_000_000 and revenue["newer"]["value"] == 416_161_000_000
    assert revenue["newer"]["period_end"] == "2025-09-27" and revenue["older"]["period_end"] == "2024-09-28"
    assert revenue["change"] == {"absolute": 25_126_000_000, "percent": 6.43, "basis": "newer_prior"}
    assert revenue["newer"]["link"].startswith("https://sec.test/newer.htm#")
    assert figures["metrics"]["capital_expenditures"]["newer"]["value"] > 0  # a payment, printed "(12,715)"
    assert figures["metrics"]["total_assets"]["change"]["absolute"] < 0  # a fall keeps its sign
    gross_margin = figures["metrics"]["gross_margin"]
    assert gross_margin["unit"] == "pure" and 0.46 < gross_margin["older"]["value"] < 0.47
    fcf = figures["metrics"]["free_cash_flow"]
    assert fcf["newer"]["value"] == figures["metrics"]["operating_cash_flow"]["newer"]["value"] - figures["metrics"]["capital_expenditures"]["newer"]["value"]


def test_aapl_fy2025_segments_keep_their_figures_when_contexts_gain_a_qualifier():
    # FY2025 segment contexts add ConsolidationItemsAxis=OperatingSegmentsMember (ASU 2023-07)
    segments = pair("filings/AAPL/AAPL-10k-2024-09-28.html", "filings/AAPL/AAPL-10k-2025-09-27.html")["segments"]
    by_label = {s["label"]: s for s in segments}
    americas = by_label["Americas"]
    assert americas["status"] == "continuing" and americas["kind"] == "segment"
    assert americas["revenue"]["older"]["value"] == 167_045_000_000 and americas["revenue"]["newer"]["value"] == 178_353_000_000
    assert americas["operating_income"]["older"]["value"] == 67_656_000_000
    assert {"Europe", "Greater China", "Japan", "Rest of Asia Pacific"} <= set(by_label)


def test_nvda_fy2025_eps_restated_for_the_split_and_compared_like_for_like():
    figures = pair("filings/NVDA/NVDA-10k-2024-01-28.html", "filings/NVDA/NVDA-10k-2025-01-26.html")
    eps = figures["metrics"]["eps_diluted"]
    assert eps["older"]["value"] == 11.93 and eps["newer_prior"]["value"] == 1.19 and eps["newer"]["value"] == 2.94
    assert eps["restated"] is True and eps["change"]["basis"] == "newer_prior" and eps["change"]["percent"] > 0
    assert figures["stock_split"] == 10
    assert figures["metrics"]["shares_outstanding"]["change"] is None  # counts across a split do not compare
    assert figures["metrics"]["revenue"]["restated"] is False


def test_nvda_fy2024_segments_renamed_members_are_the_same_segments():
    segments = pair("filings/NVDA/NVDA-10k-2024-01-28.html", "filings/NVDA/NVDA-10k-2025-01-26.html")["segments"]
    compute = [s for s in segments if s["label"] == "Compute and Networking"]
    assert len(compute) == 1 and compute[0]["status"] == "continuing"
    assert compute[0]["revenue"]["newer"]["value"] == 116_193_000_000
    other = [s for s in segments if s["kind"] == "reconciling"]
    assert other and other[0]["operating_income"]["newer"]["value"] == -6_507_000_000  # "All Other", signed


def test_nvda_fy2023_capex_is_an_extension_concept_on_the_cash_flow_row():
    filing = read_filing(extracted("filings/NVDA/NVDA-10k-2023-01-29.html").xbrl)
    capex = filing.current["capital_expenditures"]
    assert capex.concept == "nvda:PurchasesOfPropertyAndEquipmentAndIntangibleAssets"
    assert capex.line.lower().startswith("purchases related to property and equipment") and capex.value > 0


def test_wmt_revenue_is_total_revenues_not_net_sales():
    filing = read_filing(extracted("filings/WMT/WMT-10k-2025-01-31.html").xbrl)
    assert filing.current["revenue"].concept == "us-gaap:Revenues" and filing.current["revenue"].value == Decimal("680985000000")


def test_ba_net_income_is_attributable_to_boeing_not_the_cash_flow_statements_first_line():
    # the cash flow statement starts with "Net loss" (ProfitLoss, NCI included): not the income statement
    filing = read_filing(extracted("filings/BA/BA-10k-2024-12-31.html").xbrl)
    assert filing.current["net_income"].concept == "us-gaap:NetIncomeLoss"
    assert filing.current["net_income"].value == Decimal("-11817000000")


def test_pg_cash_is_the_balance_sheet_line_not_a_notes_sentence():
    filing = read_filing(extracted("filings/PG/PG-10k-2025-06-30.html").xbrl)
    assert filing.current["cash_and_equivalents"].concept == "us-gaap:CashCashEquivalentsRestrictedCashAndRestrictedCashEquivalents"


def test_ma_fy2024_single_segment_first_reported_is_not_a_new_segment():
    segments = pair("filings/MA/MA-10k-2023-12-31.html", "filings/MA/MA-10k-2024-12-31.html")["segments"]
    assert [s["status"] for s in segments if s["kind"] == "segment"] == ["first_reported"]


def test_jnj_has_no_operating_income_line_and_says_so():
    figures = pair("filings/JNJ/JNJ-10k-2023-12-31.html", "filings/JNJ/JNJ-10k-2024-12-29.html")
    assert figures["status"] == "partial" and "operating_income" in figures["reason"]
    assert figures["metrics"]["operating_income"]["newer"] is None  # never invented
    assert figures["metrics"]["revenue"]["newer"]["value"] == 88_821_000_000


def test_ibm_statements_in_exhibit_13_are_unavailable_with_the_reason():
    figures = pair("filings/IBM/IBM-10k-2023-12-31.html", "filings/IBM/IBM-10k-2024-12-31.html")
    assert figures["status"] == "unavailable" and figures["metrics"] == {}
    assert "not in the primary document" in figures["reason"]


def test_msft_fy2013_without_xbrl_reads_the_printed_statements():
    filing = read_filing(None, extracted("filings/MSFT/MSFT-10k-2013-06-30.html").statement_tables, "2013-06-30")
    assert filing.source == "statement_tables"
    assert filing.current["revenue"].value == Decimal("77849000000")
    assert filing.current["net_income"].value == Decimal("21863000000")
    assert filing.current["eps_diluted"].value == Decimal("2.58")  # per share: not scaled by "(In millions)"
    assert filing.current["total_assets"].value == Decimal("142431000000")
    assert filing.current["capital_expenditures"].value == Decimal("4257000000")  # printed "(4,257)": a positive payment
    assert filing.prior["revenue"].value == Decimal("73723000000") and filing.prior["revenue"].period_end == "2012-06-30"


def test_gan_fy2009_diluted_share_count_is_not_eps():
    # "Diluted | 4,785 | 4,883" under "Weighted average common shares outstanding" counts shares
    filing = read_filing(None, extracted("filings/GAN/GAN-10k-2009-12-31.html").statement_tables, "2009-12-31")
    assert filing.current["eps_diluted"].value == Decimal("0.85")
    assert filing.prior["eps_diluted"].value == Decimal("-0.70")


def test_gs_fy2002_parent_company_only_statements_are_not_the_companys():
    filing = read_filing(None, extracted("filings/GS/GS-10k-2002-11-29.html").statement_tables, "2002-11-29")
    assert filing.source is None and "no consolidated statement table" in filing.reason
