"""The refund decision: every issue code, every legitimate case that must not refund, the decision."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ai_analyzer import EXECUTIVE, AiSummaries, ItemSummary, KeyChange, OfflineSummarizer, OmittedItem, rank_items
from diff_analyzer import diff_filings
from quality_validator import BLOCKING, WARNING, FilingContext, QualityIssue, decide, validate
from form_10k import ITEM_ORDER, ITEM_TITLES
from section_extractor import ExtractedFiling, ItemStatus, ItemText

WORDS = ("revenue customers products services market competition suppliers regulation technology growth "
         "operations employees investment capital liquidity inflation currency demand pricing margin").split()


def prose(item: str, n_words: int, seed: int = 0, paragraph_words: int = 60) -> tuple[str, ...]:
    """Item-specific prose: each item has its own vocabulary, so items do not look alike. A non-zero
    `seed` is the next year: the same text with every seventh paragraph reworded."""
    suffix = item.lower().translate(str.maketrans("0123456789", "qwrtyuopsz"))
    vocab = [f"{w}{suffix}" for w in WORDS] + WORDS
    words = [vocab[(i * 7 + len(item)) % len(vocab)] for i in range(n_words)]
    paragraphs = [" ".join(words[i:i + paragraph_words]).capitalize() + "." for i in range(0, n_words, paragraph_words)]
    if seed:
        paragraphs = [p + f" We added a disclosure on topic {n} this year." if n % 7 == 3 else p for n, p in enumerate(paragraphs)]
    return tuple(paragraphs)


SIZES = {"1": 3000, "1A": 8000, "1B": 5, "1C": 600, "2": 150, "3": 300, "4": 5, "5": 400, "6": 2, "7": 6000, "7A": 600,
         "8": 15000, "9": 5, "9A": 500, "9B": 100, "9C": 5, "10": 60, "11": 30, "12": 40, "13": 30, "14": 30, "15": 1500, "16": 3}
STATUS = {"1B": ItemStatus.NOT_APPLICABLE, "4": ItemStatus.NOT_APPLICABLE, "6": ItemStatus.RESERVED, "9": ItemStatus.NOT_APPLICABLE,
          "9C": ItemStatus.NOT_APPLICABLE, "11": ItemStatus.INCORPORATED_BY_REFERENCE, "12": ItemStatus.INCORPORATED_BY_REFERENCE,
          "13": ItemStatus.INCORPORATED_BY_REFERENCE, "14": ItemStatus.INCORPORATED_BY_REFERENCE, "16": ItemStatus.NOT_APPLICABLE}


def filing(seed: int = 0, **overrides: ItemText) -> ExtractedFiling:
    items, offset = {}, 0
    for item in ITEM_ORDER:
        paragraphs = prose(item, SIZES[item], seed)
        length = sum(len(p) + 2 for p in paragraphs)
        items[item] = ItemText(item=item, status=STATUS.get(item, ItemStatus.PRESENT), title=ITEM_TITLES[item],
                               paragraphs=paragraphs, start=offset, end=offset + length)
        offset += length + 40
    items.update(overrides)
    return ExtractedFiling(items=items, document_chars=offset, source_format="html", method="toc_links")


def item(base: ExtractedFiling, name: str, **changes) -> ItemText:
    return replace(base.items[name], **changes)


CONTEXT = FilingContext(older_period="2023-12-31", newer_period="2024-12-31")


def run(older: ExtractedFiling, newer: ExtractedFiling, summaries: AiSummaries | None = None, context=CONTEXT):
    diff = diff_filings(older, newer)
    summaries = summaries if summaries is not None else OfflineSummarizer().summarize(diff)
    return validate(older, newer, diff, summaries, context), diff, summaries


def codes(report, severity=BLOCKING) -> set[str]:
    return {i.code for i in report.issues if i.severity == severity}


def test_a_good_pair_is_valid():
    report, _, _ = run(filing(0), filing(1))
    assert report.is_valid and not report.decision.refund and codes(report) == set()
    assert report.to_dict()["refund"] == {"refund": False, "reason": None, "codes": []}


# -- every code ------------------------------------------------------------------------------------


def test_item_missing():
    base = filing(1)
    report, _, _ = run(filing(0), filing(1, **{"7": ItemText(item="7", status=ItemStatus.MISSING)}))
    issue = next(i for i in report.issues if i.code == "ITEM_MISSING")
    assert issue.severity == BLOCKING and issue.item == "7" and issue.filing == "newer"
    assert report.decision.refund and "ITEM_MISSING" in report.decision.reason and base


def test_risk_factors_missing_in_a_modern_filing():
    report, _, _ = run(filing(0), filing(1, **{"1A": ItemText(item="1A", status=ItemStatus.MISSING)}))
    assert any(i.code == "ITEM_MISSING" and i.item == "1A" for i in report.blocking)


def test_item_too_short_absolute():
    base = filing(1)
    report, _, _ = run(filing(0), filing(1, **{"1": item(base, "1", paragraphs=prose("1", 80, 1))}))
    issue = next(i for i in report.blocking if i.code == "ITEM_TOO_SHORT" and i.filing == "newer")
    assert issue.item == "1" and issue.value == 80 and issue.threshold >= 100


def test_item_too_short_against_the_other_year():
    base = filing(1)
    report, _, _ = run(filing(0), filing(1, **{"7": item(base, "7", paragraphs=prose("7", 1200, 1))}))
    issue = next(i for i in report.blocking if i.code == "ITEM_TOO_SHORT")
    assert issue.item == "7" and issue.value == pytest.approx(0.2, abs=0.01) and issue.threshold == 0.35


def test_toc_captured():
    base = filing(1)
    toc = tuple(f"Item {i}. {ITEM_TITLES[i]} | {3 + n}" for n, i in enumerate(ITEM_ORDER))
    report, _, _ = run(filing(0), filing(1, **{"1C": item(base, "1C", paragraphs=toc)}))
    assert any(i.code == "TOC_CAPTURED" and i.item == "1C" for i in report.blocking)


def test_item_swallowed_neighbours_by_headings():
    base = filing(1)
    swallowed = base.items["7"].paragraphs + ("Item 7A. Quantitative and Qualitative Disclosures About Market Risk",) + base.items["7A"].paragraphs
    newer = filing(1, **{"7": item(base, "7", paragraphs=swallowed), "7A": ItemText(item="7A", status=ItemStatus.MISSING)})
    report, _, _ = run(filing(0), newer)
    assert any(i.code == "ITEM_SWALLOWED_NEIGHBOURS" and i.item == "7" for i in report.blocking)


def test_item_swallowed_neighbours_by_size():
    """No heading left inside: Item 7 simply runs on through 7A and 8, which are missing."""
    base = filing(1)
    merged = base.items["7"].paragraphs + base.items["7A"].paragraphs + base.items["8"].paragraphs
    missing = {i: ItemText(item=i, status=ItemStatus.MISSING) for i in ("7A", "8")}
    report, _, _ = run(filing(0), filing(1, **{"7": item(base, "7", paragraphs=merged)}, **missing))
    issue = next(i for i in report.blocking if i.code == "ITEM_SWALLOWED_NEIGHBOURS")
    assert issue.item == "7" and issue.filing == "newer" and "7A, 8" in issue.message


def test_items_out_of_order_when_labels_are_crossed():
    base = filing(1)
    crossed = filing(1, **{"1A": replace(base.items["7"], item="1A"), "7": replace(base.items["1A"], item="7")})
    report, _, _ = run(filing(0), crossed)
    assert any(i.code == "ITEMS_OUT_OF_ORDER" and i.item in ("1A", "7") for i in report.blocking)


def test_items_out_of_document_order_alone_is_a_warning():
    """Morgan Stanley prints Items 1B-5 after its financial statements: not an error by itself."""
    base = filing(1)
    moved = filing(1, **{"2": replace(base.items["2"], start=base.document_chars + 10, end=base.document_chars + 900)})
    report, _, _ = run(filing(0), moved)
    assert "ITEMS_OUT_OF_ORDER" in codes(report, WARNING) and report.is_valid


def test_duplicate_item_text():
    base = filing(1)
    report, _, _ = run(filing(0), filing(1, **{"9A": item(base, "9A", paragraphs=base.items["7A"].paragraphs)}))
    assert any(i.code == "DUPLICATE_ITEM_TEXT" and i.item == "9A" for i in report.blocking)


def test_combined_heading_is_not_a_duplicate():
    """'Items 10, 11, 12 and 13' gives one text to four items (AXP 2008): they share a start."""
    base = filing(1)
    shared = dict(paragraphs=prose("10", 300, 1), start=base.items["10"].start, status=ItemStatus.PRESENT)
    newer = filing(1, **{i: item(base, i, **shared) for i in ("10", "11", "12", "13")})
    older = filing(0, **{i: item(filing(0), i, **{**shared, "paragraphs": prose("10", 300, 0)}) for i in ("10", "11", "12", "13")})
    report, _, _ = run(older, newer)
    assert "DUPLICATE_ITEM_TEXT" not in codes(report)


def test_table_only_item():
    base = filing(1)
    rows = tuple(f"Revenue | {n},000 | {n + 1},000" for n in range(300))
    report, _, _ = run(filing(0), filing(1, **{"1A": item(base, "1A", paragraphs=rows * 3, table_only=True)}))
    assert any(i.code == "TABLE_ONLY_ITEM" and i.item == "1A" for i in report.blocking)
    report, _, _ = run(filing(0), filing(1, **{"5": item(base, "5", paragraphs=rows[:40], table_only=True)}))
    assert "TABLE_ONLY_ITEM" in codes(report, WARNING) and "TABLE_ONLY_ITEM" not in codes(report)


def test_diff_implausible():
    older = filing(0)
    other = {"1": replace(older.items["1"], paragraphs=tuple(p.replace("revenue", "cargo") for p in prose("9Z", 3000, 5)))}
    report, _, _ = run(older, filing(1, **other))
    assert any(i.code == "DIFF_IMPLAUSIBLE" and i.item == "1" for i in report.blocking)


def _summaries(diff, **changes) -> AiSummaries:
    return replace(OfflineSummarizer().summarize(diff), **changes)


def test_ai_summary_missing():
    older, newer = filing(0), filing(1)
    diff = diff_filings(older, newer)
    summaries = _summaries(diff)
    top = list(summaries.ranked_items)  # the order the summarizer chose the items in: the validator's too
    report = validate(older, newer, diff, replace(summaries, items={k: v for k, v in summaries.items.items() if k != top[0]}), CONTEXT)
    assert any(i.code == "AI_SUMMARY_MISSING" and i.item == top[0] for i in report.blocking)
    emptied = validate(older, newer, diff, replace(summaries, items={}), CONTEXT)
    assert emptied.decision.refund and "AI_SUMMARY_MISSING" in emptied.decision.codes


def test_a_missing_low_ranked_summary_is_a_warning():
    older, newer = filing(0), filing(1)
    diff = diff_filings(older, newer)
    summaries = _summaries(diff)
    top = [item for item in summaries.ranked_items if item in summaries.items]
    report = validate(older, newer, diff, replace(summaries, items={k: v for k, v in summaries.items.items() if k != top[-1]}), CONTEXT)
    assert any(i.code == "AI_SUMMARY_MISSING" and i.item == top[-1] and i.severity == WARNING for i in report.issues)


def test_the_three_items_that_decide_are_the_summarizers_own():
    """Found in review: the validator took its top three by raw change score, the summarizer by score
    times the item's weight. A refused exhibit index (Item 15) then refunded while a refused third
    summary the reader cares about was only a warning."""
    older = filing(0)
    newer = filing(1, **{"15": item(older, "15", paragraphs=prose("15z", 600, 1))})
    diff = diff_filings(older, newer)
    raw = [d.item for d in diff.ranked() if d.substantive]
    weighted = [d.item for d in rank_items(diff)]
    assert raw[0] == "15" and "15" not in weighted[:3]  # the situation under test
    summaries = _summaries(diff)

    def without(name):
        return validate(older, newer, diff, replace(summaries, items={k: v for k, v in summaries.items.items() if k != name}), CONTEXT)

    assert not without("15").decision.refund
    assert any(i.code == "AI_SUMMARY_MISSING" and i.item == weighted[2] for i in without(weighted[2]).blocking)


def test_ai_output_invalid():
    older, newer = filing(0), filing(1)
    diff = diff_filings(older, newer)
    summaries = _summaries(diff)
    top = summaries.ranked_items[0]
    broken = replace(summaries, items={k: v for k, v in summaries.items.items() if k != top}, invalid_outputs={top: "not valid JSON"})
    report = validate(older, newer, diff, broken, CONTEXT)
    assert any(i.code == "AI_OUTPUT_INVALID" and i.item == top for i in report.blocking)


def test_ai_unfaithful_evidence_and_numbers():
    older, newer = filing(0), filing(1)
    diff = diff_filings(older, newer)
    summaries = _summaries(diff, provider="anthropic")
    item_name, summary = next(iter(summaries.items.items()))
    invented = KeyChange("Revenue grew to $9.9 billion", "numbers", "high", "Revenue grew to $9.9 billion in the year.")
    report = validate(older, newer, diff, replace(summaries, items={**summaries.items, item_name: replace(summary, key_changes=(invented,))}), CONTEXT)
    issue = next(i for i in report.blocking if i.code == "AI_UNFAITHFUL")
    assert issue.item == item_name and "evidence not found" in issue.message and "9.9" in issue.message


def test_executive_summary_numbers_are_checked():
    older, newer = filing(0), filing(1)
    diff = diff_filings(older, newer)
    report = validate(older, newer, diff, _summaries(diff, executive_misses=("number not in the filing: 42",)), CONTEXT)
    assert "AI_UNFAITHFUL" in codes(report)


def test_executive_failure_alone_is_a_warning():
    older, newer = filing(0), filing(1)
    diff = diff_filings(older, newer)
    report = validate(older, newer, diff, _summaries(diff, failures={EXECUTIVE: "OverloadedError (HTTP 529)"}), CONTEXT)
    assert "AI_SUMMARY_MISSING" in codes(report, WARNING) and report.is_valid


def test_no_items_found():
    empty = ExtractedFiling(items={i: ItemText(item=i, status=ItemStatus.MISSING) for i in ITEM_ORDER}, document_chars=9000,
                            source_format="html", method="none")
    report, _, _ = run(filing(0), empty)
    assert "NO_ITEMS_FOUND" in codes(report)


# -- legitimate cases ------------------------------------------------------------------------------


def test_incorporated_by_reference_items_are_not_short():
    """IBM: Items 7 and 8 point to Exhibit 13; a 30-word pointer is the whole item."""
    base_old, base_new = filing(0), filing(1)
    pointer = dict(status=ItemStatus.INCORPORATED_BY_REFERENCE, refers_to="Annual Report to shareholders (Exhibit 13)",
                   paragraphs=("The information required by this Item is incorporated herein by reference to the Annual Report.",))
    older = filing(0, **{"7": item(base_old, "7", **pointer), "8": item(base_old, "8", **pointer)})
    newer = filing(1, **{"7": item(base_new, "7", **pointer), "8": item(base_new, "8", **pointer)})
    report, _, _ = run(older, newer)
    assert report.is_valid, report.blocking
    assert "CONTENT_ELSEWHERE" in codes(report, WARNING)


def test_item_8_pointer_is_followed_to_the_statements():
    """NVIDIA: Item 8 is a 25-word pointer to Part IV, where Item 15 holds the statements."""
    base = filing(1)
    pointer = item(base, "8", status=ItemStatus.INCORPORATED_BY_REFERENCE, refers_to="Item 15 / financial statements pages",
                   paragraphs=("The information required by this Item is set forth in our Consolidated Financial Statements in Part IV, Item 15.",))
    with_statements = lambda seed: replace(filing(seed, **{"8": pointer}), financial_statements="Item 15")  # noqa: E731
    report, _, _ = run(with_statements(0), with_statements(1))
    assert not any(i.item == "8" for i in report.blocking), report.blocking
    without = run(with_statements(0), filing(1, **{"8": pointer}))[0]
    assert any(i.code == "ITEM_MISSING" and i.item == "8" and i.filing == "newer" for i in without.blocking)


def test_not_applicable_and_reserved_items_are_fine():
    base = filing(1)
    na = item(base, "7A", status=ItemStatus.NOT_APPLICABLE, paragraphs=("Not applicable.",))
    report, _, _ = run(filing(0, **{"7A": replace(na)}), filing(1, **{"7A": na}))
    assert report.is_valid


def test_small_company_short_items_are_fine():
    """A smaller reporting company: Item 1 of 300 words, Item 7 of 600, risk factors not required."""
    small = {"1": 300, "7": 600, "8": 2600}
    older = filing(0, **{i: item(filing(0), i, paragraphs=prose(i, n, 0)) for i, n in small.items()},
                   **{"1A": item(filing(0), "1A", status=ItemStatus.NOT_APPLICABLE, paragraphs=("Not required for smaller reporting companies.",))})
    newer = filing(1, **{i: item(filing(1), i, paragraphs=prose(i, n, 1)) for i, n in small.items()},
                   **{"1A": item(filing(1), "1A", status=ItemStatus.NOT_APPLICABLE, paragraphs=("Not required for smaller reporting companies.",))})
    report, _, _ = run(older, newer)
    assert report.is_valid, report.blocking


def test_an_item_new_this_year_is_fine():
    """Item 1C (cybersecurity) exists from FY2023 only."""
    report, _, _ = run(filing(0, **{"1C": ItemText(item="1C", status=ItemStatus.MISSING)}), filing(1))
    assert report.is_valid


def test_old_filings_need_no_risk_factors():
    no_1a = {"1A": ItemText(item="1A", status=ItemStatus.MISSING)}
    report, _, _ = run(filing(0, **no_1a), filing(1, **no_1a), context=FilingContext("1996-12-31", "1997-12-31"))
    assert report.is_valid


# -- the decision ----------------------------------------------------------------------------------


def test_refund_iff_a_blocking_issue():
    warning = QualityIssue("TABLE_ONLY_ITEM", WARNING, "w")
    blocking = QualityIssue("ITEM_MISSING", BLOCKING, "b", item="7")
    assert not decide((warning,)).refund and decide(()).reason is None
    decision = decide((warning, blocking, QualityIssue("ITEM_MISSING", BLOCKING, "b", item="8"), QualityIssue("TOC_CAPTURED", BLOCKING, "t")))
    assert decision.refund and decision.codes == ("ITEM_MISSING", "TOC_CAPTURED")
    assert decision.reason == "report quality below standard: ITEM_MISSING, TOC_CAPTURED"


def test_every_issue_is_stored_warnings_too():
    base = filing(1)
    rows = tuple(f"Row {n} | {n},000" for n in range(40))
    report, _, _ = run(filing(0), filing(1, **{"5": item(base, "5", paragraphs=rows, table_only=True)}))
    stored = report.to_dict()
    assert stored["is_valid"] and any(i["code"] == "TABLE_ONLY_ITEM" and i["severity"] == WARNING for i in stored["issues"])


def test_omitted_items_are_not_missing_summaries():
    older, newer = filing(0), filing(1)
    diff = diff_filings(older, newer)
    summaries = _summaries(diff)
    omitted = replace(summaries, items={}, omitted_items=tuple(OmittedItem(i, "budget") for i in summaries.items))
    report = validate(older, newer, diff, omitted, CONTEXT)
    assert "AI_SUMMARY_MISSING" not in codes(report)
    assert ItemSummary  # the type summaries carry
