"""The year-over-year diff on small constructed items: one test per kind of change, split and
merged paragraphs, moved blocks, risk factors (with and without the extractor's sub-headings),
number changes, trivial churn, statistics, presence, and the JSON schema."""

from __future__ import annotations

import json
import random
import re

import pytest

import number_mentions as mentions
from number_changes import FiscalYears
from diff_analyzer import (
    CHURN_LABELS,
    DIFF_SCHEMA_VERSION,
    FilingDiff,
    ItemDiff,
    _word_diff,
    _redline,
    diff_filings,
    diff_item,
)
from form_10k import ITEM_ORDER
from section_extractor import ExtractedFiling, ItemStatus, ItemText


def item(paragraphs, item_id: str = "7", headings=(), status=ItemStatus.PRESENT) -> ItemText:
    return ItemText(item=item_id, status=status, title="Title", paragraphs=tuple(paragraphs), heading_indices=tuple(headings))


def filing(items: dict[str, list[str]]) -> ExtractedFiling:
    texts = {}
    for item_id in ITEM_ORDER:
        paragraphs = tuple(items.get(item_id, ()))
        texts[item_id] = ItemText(item=item_id, status=ItemStatus.PRESENT if paragraphs else ItemStatus.MISSING, paragraphs=paragraphs)
    return ExtractedFiling(items=texts, document_chars=1000, source_format="html", method="headings")


def kinds(diff: ItemDiff) -> list[str]:
    return [c.kind for c in diff.changes]


def by_kind(diff: ItemDiff, kind: str):
    return [c for c in diff.changes if c.kind == kind]


def unmark(redline: str) -> tuple[str, str]:
    """The older and the newer text a redline stands for."""
    old = re.sub(r"\{\+.*?\+\}", "", redline)
    old = re.sub(r"\[-(.*?)-\]", r"\1", old)
    new = re.sub(r"\[-.*?-\]", "", redline)
    new = re.sub(r"\{\+(.*?)\+\}", r"\1", new)
    return " ".join(old.split()), " ".join(new.split())


# Distinct filler paragraphs, long enough to anchor alignment.
P = [
    f"Paragraph {name} explains the company's {topic} in several plain words that remain stable over the years."
    for name, topic in zip(
        "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split(),
        "suppliers customers pricing patents employees facilities taxes leases debt currency litigation seasonality".split(),
    )
]


# -- paragraph kinds ---------------------------------------------------------------------------------


def test_identical_items_are_all_unchanged_and_not_changed():
    diff = diff_item(item(P[:5]), item(P[:5]))
    assert kinds(diff) == ["unchanged"] * 5
    assert not diff.changed and not diff.substantive
    assert diff.stats.paragraphs_unchanged == 5 and diff.stats.change_score == 0
    assert all(c.similarity == 1.0 and c.redline is None for c in diff.changes)


def test_each_change_kind():
    old = [P[0], P[1], "The company sells its products mainly through direct channels and selected retail partners.", P[2], P[3], P[4]]
    new = [
        P[0],
        "A new export control rule restricts shipments of advanced chips to several countries.",
        "The company sells its products mainly through direct channels, selected retail partners and online stores.",
        P[2],
        P[4],
        P[3],
    ]
    diff = diff_item(item(old), item(new))
    assert sorted(kinds(diff)) == sorted(["unchanged", "added", "removed", "modified", "unchanged", "moved", "unchanged"])
    (added,) = by_kind(diff, "added")
    assert added.new_index == 1 and added.old_index is None and added.words_added == len(new[1].split())
    (removed,) = by_kind(diff, "removed")
    assert removed.old_index == 1 and removed.new_index is None
    (modified,) = by_kind(diff, "modified")
    assert (modified.old_index, modified.new_index) == (2, 2)
    assert 0.5 < modified.similarity < 1.0
    assert "{+" in modified.redline and unmark(modified.redline) == (old[2], new[2])
    (moved,) = by_kind(diff, "moved")
    assert moved.similarity == 1.0 and moved.redline is None
    assert {moved.old_text} <= {P[3], P[4]}
    # reading order: changes follow the newer text, a removed paragraph sits where it was
    assert [c.new_index for c in diff.changes if c.new_index is not None] == sorted(c.new_index for c in diff.changes if c.new_index is not None)
    assert diff.changes[1].kind == "removed" or diff.changes[2].kind == "removed"
    s = diff.stats
    assert (s.paragraphs_added, s.paragraphs_removed, s.paragraphs_modified, s.paragraphs_moved) == (1, 1, 1, 1)
    assert s.words_added > 0 and s.words_removed > 0 and 0 < s.share_changed < 1


def test_moved_and_reworded_paragraph_is_moved_with_a_redline():
    text = "Our largest customer accounted for 14% of revenue and any loss of that customer would hurt results materially."
    reworded = "Our largest customer accounted for 19% of revenue and any loss of that customer would hurt our results materially."
    diff = diff_item(item([text] + P[:6]), item(P[:6] + [reworded]))
    (moved,) = by_kind(diff, "moved")
    assert moved.old_index == 0 and moved.new_index == 6
    assert moved.similarity < 1.0 and unmark(moved.redline) == (text, reworded)
    assert [n.new_text for n in diff.number_changes] == ["19%"]


def test_a_moved_block_is_moved_not_removed_and_added():
    block = P[:3]
    rest = P[3:11]
    diff = diff_item(item(block + rest), item(rest + block))
    assert sorted(kinds(diff)) == ["moved"] * 3 + ["unchanged"] * 8
    assert {c.old_index for c in by_kind(diff, "moved")} == {0, 1, 2}
    assert diff.stats.words_moved == sum(len(p.split()) for p in block)
    assert diff.stats.words_added == diff.stats.words_removed == 0


def test_split_paragraph_is_one_change():
    first = "The company operates data centers in the United States, Ireland and Singapore, and leases office space worldwide."
    second = "It believes its facilities are suitable and adequate for its current business and has room to expand capacity."
    diff = diff_item(item([P[0], first + " " + second, P[1]]), item([P[0], first, second, P[1]]))
    assert not by_kind(diff, "added") and not by_kind(diff, "removed")
    (split,) = [c for c in diff.changes if c.relation == "split"]
    assert split.old_indices == (1,) and split.new_indices == (1, 2)
    assert split.trivial and "layout" in split.churn  # the words did not change, only the layout
    assert diff.stats.paragraphs_split == 1


def test_merged_paragraphs_are_one_change():
    first = "Revenue from subscriptions grew because more enterprise customers renewed their multi-year agreements with us."
    second = "Revenue from hardware declined as customers delayed purchases of servers and storage during the year."
    merged = first + " " + second.replace("during the year", "during the second half of the year")
    diff = diff_item(item([P[0], first, second, P[1]]), item([P[0], merged, P[1]]))
    assert not by_kind(diff, "added") and not by_kind(diff, "removed")
    (group,) = [c for c in diff.changes if c.relation == "merged"]
    assert group.old_indices == (1, 2) and group.new_indices == (1,)
    assert not group.trivial and "second half" in group.redline
    assert diff.stats.paragraphs_merged == 1


def test_table_row_with_new_numbers_is_modified_in_place():
    old = [P[0], "(in millions)", "| 2024 | 2023", "Net sales | $ | 391,035 | $ | 383,285", "Cost of sales | 210,352 | 214,137", P[1]]
    new = [P[0], "(in millions)", "| 2025 | 2024", "Net sales | $ | 416,161 | $ | 391,035", "Cost of sales | 220,960 | 210,352", P[1]]
    diff = diff_item(item(old), item(new))
    assert [c.kind for c in diff.changes] == ["unchanged", "unchanged", "modified", "modified", "modified", "unchanged"]
    header = diff.changes[2]
    assert header.trivial and header.churn == ("fiscal_year",)
    sales = diff.number_changes[0]
    assert (sales.row_label, sales.old_text, sales.new_text, sales.period, sales.scale) == ("Net sales", "$391,035", "$416,161", "2025", "million")
    assert sales.old_value == 391_035e6 and sales.new_value == 416_161e6 and sales.kind == "amount"
    assert len(diff.number_changes) == 2  # the 2024 column only took last year's 2024 values
    assert diff.stats.number_churn == 2


# -- presence ------------------------------------------------------------------------------------------


def test_presence_and_one_sided_items():
    missing = ItemText(item="1C", status=ItemStatus.MISSING)
    only_new = diff_item(missing, item(P[:2], "1C"))
    assert only_new.presence == "newer_only" and kinds(only_new) == ["added", "added"] and only_new.changed
    assert only_new.flags == ("not_found_in_older",)  # not found is not proof of absence
    only_old = diff_item(item(P[:2], "1C"), missing)
    assert only_old.presence == "older_only" and kinds(only_old) == ["removed", "removed"]
    neither = diff_item(missing, missing)
    assert neither.presence == "neither" and not neither.changed and neither.changes == ()


def test_status_change_and_size_jump_are_flagged():
    stub = item(["The information required by this item is incorporated by reference to our proxy statement."], "10", status=ItemStatus.INCORPORATED_BY_REFERENCE)
    full = item([p + " " + p for p in P[:10]], "10")
    diff = diff_item(stub, full)
    assert diff.presence == "both"
    assert "status_changed" in diff.flags and "size_jump" in diff.flags


# -- trivial churn -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "old, new, label",
    [
        ("Net sales in fiscal 2024 compared to fiscal 2023 were driven by services growth in all regions.",
         "Net sales in fiscal 2025 compared to fiscal 2024 were driven by services growth in all regions.", "fiscal_year"),
        ("The fiscal year ended September 28, 2024 and the report covers that year in all regions.",
         "The fiscal year ended September 27, 2025 and the report covers that year in all regions.", "fiscal_year"),
        ("See Note 12 on page 45 for a description of the legal proceedings against the company.",
         "See Note 13 on page 47 for a description of the legal proceedings against the company.", "reference"),
        ("Refer to Item 7A for market risk disclosures about interest rates and currency movements.",
         "Refer to Item 7 for market risk disclosures about interest rates and currency movements.", "reference"),
        ("The Company's non-GAAP measures, as defined below, exclude share-based compensation expense.",
         "The Company’s non GAAP measures as defined below exclude share-based compensation expense.", "punctuation"),
        ("The Board Of Directors approved the dividend for shareholders of record in the quarter.",
         "The board of directors approved the dividend for shareholders of record in the quarter.", "capitalisation"),
        ("Apple Inc. | 2024 Form 10-K | 5", "Apple Inc. | 2025 Form 10-K | 6", "fiscal_year"),
    ],
)
def test_trivial_churn_is_labelled_not_hidden(old, new, label):
    diff = diff_item(item([P[0], old, P[1]]), item([P[0], new, P[1]]))
    (change,) = by_kind(diff, "modified")
    assert change.trivial and label in change.churn and set(change.churn) <= set(CHURN_LABELS)
    assert diff.changed and not diff.substantive  # reported, but nothing a reader needs
    assert diff.stats.paragraphs_trivial == 1
    assert diff.stats.words_churn == diff.stats.words_added + diff.stats.words_removed
    assert diff.stats.change_score == 0
    assert diff.churn_counts()[label] == 1
    assert not diff.number_changes


def test_whitespace_only_change():
    diff = diff_item(item([P[0], "Two  spaces here and there in the text of this paragraph.", P[1]]),
                     item([P[0], "Two spaces here and there in the text of this paragraph.", P[1]]))
    (change,) = by_kind(diff, "modified")
    assert change.churn == ("whitespace",) and change.trivial


def test_substantive_change_next_to_churn_is_not_trivial():
    old = "In fiscal 2024 the company opened 12 new stores and closed none of its existing locations."
    new = "In fiscal 2025 the company opened 3 new stores and closed 40 of its existing locations."
    diff = diff_item(item([P[0], old]), item([P[0], new]), years=YEARS)
    (change,) = by_kind(diff, "modified")
    assert not change.trivial and change.churn == ("fiscal_year",)
    assert 0 < change.words_churn < change.words_added + change.words_removed
    assert diff.substantive and diff.stats.change_score > 0
    assert [(n.old_text, n.new_text, n.kind) for n in diff.number_changes] == [("12 new stores", "3 new stores", "count")]


# -- numbers ---------------------------------------------------------------------------------------------


YEARS = FiscalYears(frozenset((2024,)), frozenset((2025,)))  # the older filing's own year, the newer's


def number_changes_of(old: str, new: str, years: FiscalYears = YEARS):
    return diff_item(item([P[0], old, P[1]]), item([P[0], new, P[1]]), years=years).number_changes


def test_amount_with_scale():
    (change,) = number_changes_of(
        "Total net sales were $391.0 billion for the year, driven by growth in services and wearables.",
        "Total net sales were $394.3 billion for the year, driven by growth in services and wearables.",
    )
    assert (change.kind, change.unit, change.scale) == ("amount", "USD", "billion")
    assert (change.old_text, change.new_text) == ("$391.0 billion", "$394.3 billion")
    assert change.old_value == pytest.approx(391.0e9) and change.new_value == pytest.approx(394.3e9)
    assert change.delta == pytest.approx(3.3e9) and change.relative_change == pytest.approx(3.3 / 391.0)
    assert "Total net sales were $394.3 billion" in change.context
    assert "$391.0 billion" in change.old_context


def test_amount_changing_scale_word():
    (change,) = number_changes_of("Cash returned to shareholders was $950 million during the year under the program.",
                                  "Cash returned to shareholders was $1.2 billion during the year under the program.")
    assert change.old_value == pytest.approx(950e6) and change.new_value == pytest.approx(1.2e9)


def test_count_with_unit():
    (change,) = number_changes_of("As of the year end, the company had approximately 161,000 employees worldwide in all functions.",
                                  "As of the year end, the company had approximately 164,000 employees worldwide in all functions.")
    assert (change.kind, change.unit, change.old_value, change.new_value) == ("count", "employees worldwide", 161000.0, 164000.0)
    assert change.old_text == "161,000 employees worldwide"


def test_percentages_and_basis_points():
    changes = number_changes_of("Gross margin was 46.2% and the operating margin improved by 120 basis points from the prior year.",
                                "Gross margin was 46.9% and the operating margin improved by 80 basis points from the prior year.")
    assert [(c.kind, c.unit, c.old_value, c.new_value) for c in changes] == [("percent", "%", 46.2, 46.9), ("percent", "bps", 120.0, 80.0)]
    assert changes[0].delta == pytest.approx(0.7) and changes[0].relative_change is None


def test_dates_change_unless_rolled_forward():
    rolled = number_changes_of("As of October 18, 2024 there were 23,301 shareholders of record of the common stock.",
                               "As of October 17, 2025 there were 23,000 shareholders of record of the common stock.")
    assert [(c.kind, c.old_value, c.new_value) for c in rolled] == [("count", 23301.0, 23000.0)]
    (moved_date,) = number_changes_of("The notes mature on March 15, 2027 and bear interest at a fixed rate payable semiannually.",
                                      "The notes mature on March 15, 2029 and bear interest at a fixed rate payable semiannually.")
    assert (moved_date.kind, moved_date.old_date, moved_date.new_date) == ("date", "2027-03-15", "2029-03-15")
    (year,) = number_changes_of("The credit facility expires in 2027 unless the lenders agree to extend it further.",
                                "The credit facility expires in 2030 unless the lenders agree to extend it further.")
    assert (year.kind, year.old_value, year.new_value) == ("year", 2027.0, 2030.0)


def test_negative_in_a_table_cell_is_negative():
    old = ["(in millions)", "| 2024 | 2023", "Other income (expense), net | (1.2) | 3.4", "Foreign exchange | $ | ( 12 | ) | $ | 5"]
    new = ["(in millions)", "| 2025 | 2024", "Other income (expense), net | 2.0 | (1.2)", "Foreign exchange | $ | ( 30 | ) | $ | ( 12 | )"]
    diff = diff_item(item(old), item(new))
    other, fx = diff.number_changes
    assert (other.old_value, other.new_value, other.old_text) == (pytest.approx(-1.2e6), pytest.approx(2.0e6), "(1.2)")
    # a row whose cell count changed ("( 12 | )" is two cells) is read token by token
    assert (fx.old_text, fx.new_text, fx.kind) == ("$(12)", "$(30)", "amount")
    assert fx.old_value == pytest.approx(-12e6) and fx.new_value == pytest.approx(-30e6)
    # 3.4 -> (1.2) and 5 -> (12): the 2024 columns took last year's 2024 values
    assert diff.stats.number_churn == 2


def test_digit_runs_too_long_for_a_figure_are_not_numbers():
    """Found in review: float() of a 400-digit run is inf, and a change from it has a NaN relative
    change, which no JSON store accepts. Longer than 18 digits, a run is an identifier, not a figure."""
    huge = "9" * 400
    assert number_changes_of(f"Net revenue increased to ${huge} during fiscal 2024 compared with the prior year.",
                             "Net revenue increased to $7,000 during fiscal 2024 compared with the prior year.") == ()
    row = diff_item(item([f"Net revenue | {huge} | 5"]), item(["Net revenue | 7,000 | 5"]))
    assert row.number_changes == ()
    (change,) = number_changes_of("Net revenue increased to $999,999,999,999,999,999 during fiscal 2024 compared with the prior year.",
                                  "Net revenue increased to $7,000 during fiscal 2024 compared with the prior year.")
    assert change.old_value == pytest.approx(1e18)


def test_years_shifted_a_column_are_churn_whichever_side_the_newest_year_is_on():
    """Found in review on real pairs: AMZN and GOOGL put the newest year on the right, AAPL puts "%
    change" columns between the years; last year's figures, moved under their own year, were
    reported as changes (451 of AMZN's 1,019 table changes)."""
    oldest_first = diff_item(item(["(in millions)", "| 2022 | 2023", "Operating activities | $ | 46,752 | $ | 84,946"]),
                             item(["(in millions)", "| 2023 | 2024", "Operating activities | $ | 84,946 | $ | 115,877"]))
    assert [(n.old_text, n.new_text) for n in oldest_first.number_changes] == [("$84,946", "$115,877")]
    assert oldest_first.stats.number_churn == 1
    with_change_columns = diff_item(
        item(["Americas | $ | 167,045 | 3 | % | $ | 162,560 | (4) | % | $ | 169,658"]),
        item(["Americas | $ | 178,353 | 7 | % | $ | 167,045 | 3 | % | $ | 162,560"]),
    )
    assert [(n.old_text, n.new_text) for n in with_change_columns.number_changes] == [("$167,045", "$178,353"), ("3%", "7%")]
    assert with_change_columns.stats.number_churn == 3


def test_change_columns_between_the_years_keep_each_figure_under_its_year():
    """Found in review (AAPL Item 7, "2025 | Change | 2024 | Change | 2023"): the header's "Change"
    cells were skipped while the rows' growth rates counted as value columns, so the 2025 growth
    rate was labelled 2024."""
    header_old, header_new = "2024 | Change | 2023 | Change | 2022", "2025 | Change | 2024 | Change | 2023"
    assert mentions.header_periods(header_new) == ("2025", None, "2024", None, "2023")
    diff = diff_item(item([header_old, "Americas | $ | 167,045 | 3 | % | $ | 162,560 | (4) | % | $ | 169,658"]),
                     item([header_new, "Americas | $ | 178,353 | 7 | % | $ | 167,045 | 3 | % | $ | 162,560"]))
    # the growth rate after 2025 is 2025's, compared with 2024's (3%), never with 2023's (4)%
    assert [(n.old_text, n.new_text, n.period) for n in diff.number_changes] == [("$167,045", "$178,353", "2025"), ("3%", "7%", "2025")]


def test_a_list_of_years_shifted_by_one_changes_only_its_newest_figure():
    """Found in review (NVDA FY2024 Item 15): "$255, $227 and $168 million" for 2024, 2023 and 2022
    after "$227, $168 and $120 million" was read as three changes, two of them pairing other years."""
    changes = number_changes_of(
        "Our contribution expense for fiscal years 2023, 2022, and 2021 was $227 million, $168 million, and $120 million, respectively.",
        "Our contribution expense for fiscal years 2024, 2023, and 2022 was $255 million, $227 million, and $168 million, respectively.",
        years=FiscalYears(frozenset((2023,)), frozenset((2024,))),
    )
    assert [(c.old_text, c.new_text) for c in changes] == [("$227 million", "$255 million")]


def test_a_count_table_is_not_a_page_index():
    """Found in review (JNJ 2023->2024): plaintiff counts in a two-column table were labelled page
    references, trivial, and their changes dropped."""
    counts = diff_item(item(["PINNACLE Acetabular Cup System | 920"]), item(["PINNACLE Acetabular Cup System | 910"]))
    (change,) = by_kind(counts, "modified")
    assert not change.trivial and [(n.old_value, n.new_value) for n in counts.number_changes] == [(920.0, 910.0)]
    index = diff_item(item(["Consolidated Balance Sheets | 52"]), item(["Consolidated Balance Sheets | 54"]))
    (change,) = by_kind(index, "modified")
    assert change.trivial and change.churn == ("reference",) and index.number_changes == ()


def test_a_caption_at_the_end_of_a_long_paragraph_scales_the_table():
    """Found in review (AMZN Item 7): "... Net sales information is as follows (in millions):" ends a
    481-character paragraph; captions were read only from short ones, so the amounts lost their scale."""
    lead = "Our segments are North America, International and AWS. " * 7 + "Net sales information is as follows (in millions):"
    assert len(lead) >= 400
    diff = diff_item(item([lead, "| 2023 | 2024", "North America | $ | 315,880 | $ | 352,828"]),
                     item([lead, "| 2024 | 2025", "North America | $ | 352,828 | $ | 390,000"]))
    (change,) = diff.number_changes
    assert change.scale == "million" and change.new_value == pytest.approx(390_000e6)


def test_parentheses_in_prose_are_not_a_sign():
    (change,) = number_changes_of("Services revenue rose $5 million (2%) compared with the prior year because of price increases.",
                                  "Services revenue rose $9 million (2%) compared with the prior year because of price increases.")
    assert change.old_value == 5e6 and change.new_value == 9e6


def test_sign_flip_in_a_table_is_not_punctuation():
    diff = diff_item(item(["Net change | (1.2) | 3"]), item(["Net change | 1.2 | 3"]))
    (change,) = by_kind(diff, "modified")
    assert not change.trivial
    assert [(n.old_value, n.new_value) for n in diff.number_changes] == [(-1.2, 1.2)]


def test_mentions_read_units_scales_and_negatives():
    tokens = "revenue fell to $ 1.5 trillion while headcount was 2,300 engineers , -4.5% lower".split()
    amount = mentions.mention_at(tokens, 4)
    assert (amount.kind, amount.value, amount.scale, amount.text) == ("amount", 1.5e12, "trillion", "$ 1.5 trillion")
    count = mentions.mention_at(tokens, 9)
    assert (count.kind, count.value, count.unit) == ("count", 2300.0, "engineers")
    pct = mentions.mention_at(tokens, 12)
    assert (pct.kind, pct.value) == ("percent", -4.5)
    assert mentions.mention_at("see Item 7 and page 45".split(), 2) is None
    assert mentions.mention_at("see Item 7 and page 45".split(), 5) is None


# -- risk factors ---------------------------------------------------------------------------------------

RF_BODY = {
    "supply": "We depend on a small number of suppliers located in Asia for key components, and any disruption of their operations, including natural disasters or trade restrictions, could delay our shipments and raise our costs for several quarters.",
    "currency": "Most of our revenue is earned outside the United States, so a stronger dollar reduces our reported revenue and margins, and our hedging program only offsets part of that effect over a limited period of time.",
    "competition": "Our markets are highly competitive and characterized by aggressive pricing, rapid technological change and frequent product introductions by competitors with greater resources than ours, which could reduce our market share.",
    "privacy": "We collect and process personal data of customers, and new privacy laws in many jurisdictions impose significant compliance costs and fines, which could require us to change our business practices and harm our reputation.",
    "ai": "We are investing heavily in artificial intelligence features, and these investments may not produce the returns we expect, may expose us to new regulation and liability, and may divert resources from our other products.",
}
RF_TITLE = {
    "supply": "We depend on a concentrated group of component suppliers.",
    "currency": "Changes in foreign exchange rates could reduce our reported revenue.",
    "competition": "We face intense competition in all of our markets.",
    "privacy": "Privacy and data protection laws could increase our costs.",
    "ai": "Our investments in artificial intelligence may not succeed.",
}


def risk_item(entries, with_headings: bool) -> ItemText:
    """entries: (title, body) pairs under one category heading; headings marked when asked."""
    paragraphs = ["The following risks could materially affect our business, financial condition and results of operations.", "Risks Related to Our Business"]
    headings = [1]
    for title, body in entries:
        headings.append(len(paragraphs))
        paragraphs.append(title)
        paragraphs.append(body)
    return item(paragraphs, "1A", headings if with_headings else ())


@pytest.mark.parametrize("with_headings", [True, False], ids=["heading_indices", "text_heuristic"])
def test_risk_factors_new_removed_reworded_renamed_unchanged(with_headings):
    old = risk_item(
        [(RF_TITLE[k], RF_BODY[k]) for k in ("supply", "currency", "competition", "privacy")], with_headings
    )
    new = risk_item(
        [
            (RF_TITLE["supply"], RF_BODY["supply"]),  # unchanged
            ("Currency fluctuations may hurt the dollar value of our international sales.", RF_BODY["currency"]),  # renamed
            (RF_TITLE["competition"], RF_BODY["competition"].replace("greater resources than ours", "far greater financial and technical resources than ours, including large platform companies")),  # reworded
            (RF_TITLE["ai"], RF_BODY["ai"]),  # new; privacy removed
        ],
        with_headings,
    )
    diff = diff_item(old, new)
    sub = diff.subsections
    assert sub.unit == "risk_factor"
    assert sub.segmentation == ("heading_indices" if with_headings else "text_heuristic")
    assert (sub.older_count, sub.newer_count) == (4, 4)
    by_title = {(c.new_title or c.old_title): c for c in diff.risk_factor_changes}
    assert by_title[RF_TITLE["supply"]].kind == "unchanged"
    renamed = by_title["Currency fluctuations may hurt the dollar value of our international sales."]
    assert renamed.kind == "reworded" and renamed.title_changed and renamed.old_title == RF_TITLE["currency"]
    assert "[-" in renamed.title_redline and renamed.similarity > 0.6
    reworded = by_title[RF_TITLE["competition"]]
    assert reworded.kind == "reworded" and not reworded.title_changed and "{+financial and technical+}" in reworded.redline
    assert by_title[RF_TITLE["ai"]].kind == "added" and by_title[RF_TITLE["ai"]].new_text == RF_BODY["ai"]
    assert by_title[RF_TITLE["privacy"]].kind == "removed" and by_title[RF_TITLE["privacy"]].old_text == RF_BODY["privacy"]
    assert all(c.new_category in (None, "Risks Related to Our Business") for c in diff.risk_factor_changes)
    assert sub.counts() == {"added": 1, "removed": 1, "reworded": 2, "unchanged": 1}


def test_a_body_sentence_is_no_risk_factor_when_the_filer_styles_each_as_a_heading():
    """Found in review (NVDA FY2025, WMT FY2025): with every risk factor a styled heading, a body
    paragraph that reads like a run-in title ("On January 15, 2025, the USG published ...") was
    taken for a new risk factor, and cut the real one short."""
    entries = [(f"Risk number {n} could adversely affect our results of operations.", RF_BODY["supply"] + f" Case {n}.") for n in range(13)]
    body_sentence = "On January 15, 2025, the Government published the Interim Final Rule in the Federal Register. It restricts exports of advanced chips to many countries."
    old = risk_item(entries, True)
    paragraphs = list(old.paragraphs)
    position = paragraphs.index(entries[3][1]) + 1  # after the body of the fourth risk factor
    paragraphs.insert(position, body_sentence)
    headings = [k + (1 if k >= position else 0) for k in old.heading_indices]
    new = item(paragraphs, "1A", headings)
    diff = diff_item(old, new)
    assert diff.subsections.newer_count == 13
    assert [c.kind for c in diff.risk_factor_changes].count("added") == 0
    (grown,) = [c for c in diff.risk_factor_changes if c.kind == "reworded"]
    assert grown.new_title == entries[3][0] and body_sentence in grown.new_text


def test_risk_factor_moved_to_another_place():
    order_old = ("supply", "currency", "competition", "privacy")
    order_new = ("privacy", "supply", "currency", "competition")
    diff = diff_item(risk_item([(RF_TITLE[k], RF_BODY[k]) for k in order_old], True),
                     risk_item([(RF_TITLE[k], RF_BODY[k]) for k in order_new], True))
    moved = [c for c in diff.risk_factor_changes if c.moved]
    assert [c.new_title for c in moved] == [RF_TITLE["privacy"]]
    assert all(c.kind == "unchanged" for c in diff.risk_factor_changes)


def test_run_in_risk_factor_titles():
    def entry(key: str, title: str) -> str:
        return f"{title}: {RF_BODY[key]}"
    old = item([entry("supply", "Supply Chain Disruptions Could Impact the Company's Business"),
                entry("currency", "Currency Fluctuations Could Impact the Company's Results")], "1A")
    new = item([entry("supply", "Supply Chain Disruptions Could Impact the Company's Business"),
                entry("ai", "Artificial Intelligence Investments May Not Succeed")], "1A")
    diff = diff_item(old, new)
    changes = {c.kind: c for c in diff.risk_factor_changes}
    assert set(changes) == {"unchanged", "added", "removed"}
    assert changes["added"].new_title == "Artificial Intelligence Investments May Not Succeed"


def test_sections_of_item_7_by_headings():
    old = item(["Overview", P[0], P[1], "Liquidity and Capital Resources", P[2], P[3]], "7", headings=(0, 3))
    new = item(["Overview", P[0], P[1], "Liquidity and Capital Resources", P[2], P[3], "Restructuring", P[4], P[5]], "7", headings=(0, 3, 6))
    diff = diff_item(old, new)
    assert diff.subsections.unit == "section"
    assert [(c.kind, c.new_title) for c in diff.subsections.changes] == [
        ("unchanged", "Overview"), ("unchanged", "Liquidity and Capital Resources"), ("added", "Restructuring")
    ]
    assert diff.risk_factor_changes == ()


# -- ranking and schema -------------------------------------------------------------------------------


def test_ranked_puts_substantive_items_first_and_trivial_last():
    older = filing({"1": P[:4], "7": P[4:8], "2": ["Our headquarters in fiscal 2024 are located in Cupertino, California, in owned buildings."]})
    newer = filing({
        "1": P[:3] + ["A completely new business line sells satellite connectivity services to consumers and enterprises."],
        "7": P[4:6],
        "2": ["Our headquarters in fiscal 2025 are located in Cupertino, California, in owned buildings."],
    })
    diff = diff_filings(older, newer)
    ranked = [d.item for d in diff.ranked()]
    assert set(ranked) == {"1", "7", "2"} and ranked[-1] == "2"
    assert diff.items["2"].changed and not diff.items["2"].substantive


def test_to_dict_is_json_and_documents_every_field():
    older = filing({"1A": [RF_TITLE["supply"], RF_BODY["supply"]], "7": ["Net sales were $391.0 billion in fiscal 2024."] + P[:3]})
    newer = filing({"1A": [RF_TITLE["ai"], RF_BODY["ai"]], "7": ["Net sales were $394.3 billion in fiscal 2025."] + P[:3]})
    diff = diff_filings(older, newer, older_period="2024-09-28", newer_period="2025-09-27")
    compact = json.loads(json.dumps(diff.to_dict()))
    full = json.loads(json.dumps(diff.to_dict(with_changes=True)))
    assert compact["schema_version"] == DIFF_SCHEMA_VERSION
    assert set(compact["items"]) == set(ITEM_ORDER)
    seven = compact["items"]["7"]
    assert set(seven) == {"item", "presence", "older_status", "newer_status", "changed", "substantive", "flags", "stats", "churn", "subsections", "number_changes"}
    assert set(seven["stats"]) >= {"words_added", "words_removed", "paragraphs_added", "paragraphs_removed", "paragraphs_modified",
                                   "paragraphs_moved", "paragraphs_unchanged", "share_changed", "change_score", "words_churn",
                                   "share_changed_substantive", "number_changes", "number_churn"}
    assert seven["number_changes"][0]["new_text"] == "$394.3 billion"
    assert "changes" not in seven and "changes" in full["items"]["7"]
    change = full["items"]["7"]["changes"][0]
    assert set(change) == {"kind", "old_index", "new_index", "old_indices", "new_indices", "relation", "similarity", "trivial", "churn",
                           "words_added", "words_removed", "words_churn", "old_text", "new_text", "redline"}
    assert compact["items"]["1A"]["subsections"]["counts"] in ({"added": 1, "removed": 1, "reworded": 0, "unchanged": 0},
                                                                {"added": 0, "removed": 0, "reworded": 1, "unchanged": 0})
    assert compact["totals"]["items_changed"] == 2


def test_filing_diff_keeps_the_old_consumer_api():
    diff = diff_filings(filing({"7": P[:2]}), filing({"7": P[:1] + ["Something new entirely, about a different topic than before, appears."]}))
    assert isinstance(diff, FilingDiff)
    d = diff.items["7"]
    assert (d.item, d.presence, d.older_status, d.newer_status) == ("7", "both", "present", "present")
    assert d.changed and d.stats.paragraphs_added == 1 and d.stats.paragraphs_removed == 1
    assert [c.kind for c in d.changes] == ["unchanged", "added", "removed"] or [c.kind for c in d.changes] == ["unchanged", "removed", "added"]
    assert diff.ranked() == [d]


# -- word diff properties ------------------------------------------------------------------------------


def test_redline_always_rebuilds_both_texts():
    rng = random.Random(7)
    vocabulary = "the a of company revenue 2024 2025 $1.2 billion risk (3.4) growth our may could and".split()
    for _ in range(400):
        a = [rng.choice(vocabulary) for _ in range(rng.randint(0, 40))]
        b = list(a)
        for _ in range(rng.randint(0, 8)):
            op, at = rng.random(), rng.randint(0, len(b))
            if op < 0.4:
                b.insert(at, rng.choice(vocabulary))
            elif op < 0.7 and b:
                del b[min(at, len(b) - 1)]
            elif b:
                b[min(at, len(b) - 1)] = rng.choice(vocabulary)
        diff = _word_diff(a, b, False)
        assert unmark(_redline(a, b, diff.runs)) == (" ".join(a), " ".join(b))
        assert diff.equal == len(a) - sum(i2 - i1 for i1, i2, _, _ in diff.runs)


def test_long_paragraph_word_diff_is_fast_and_exact():
    words = [f"w{n}" for n in range(30_000)]
    edited = list(words)
    for at in range(100, 30_000, 1_000):
        edited[at] = "changed"
    edited.insert(15_000, "inserted")
    diff = _word_diff(words, edited, False)
    assert len(diff.runs) == 31
    assert diff.equal == 30_000 - 30
