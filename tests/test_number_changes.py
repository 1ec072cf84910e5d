"""Number changes a reader can trust: signed, same period, same metric, XBRL cells by concept, churn
labelled. Each case is a pattern an analyst found wrong on real filings (issue [I])."""

from __future__ import annotations

import pytest

import number_mentions as mentions
from diff_analyzer import diff_item, stored_number_changes
from number_changes import FiscalYears, compare_periods
from section_extractor import ItemStatus, ItemText
from section_blocks import read_document
from section_extractor import extract_items
from diff_analyzer import diff_filings

YEARS = FiscalYears(frozenset((2024,)), frozenset((2025,)))
FILLER = "The Company designs, manufactures and markets smartphones, personal computers and wearables worldwide."


def item(paragraphs, item_id: str = "7") -> ItemText:
    return ItemText(item=item_id, status=ItemStatus.PRESENT, title="T", paragraphs=tuple(paragraphs))


def changes(old: str, new: str, years: FiscalYears = YEARS, item_id: str = "7"):
    return diff_item(item([FILLER, old]), item([FILLER, new]), years=years).number_changes


def values(found):
    return [(c.old_value, c.new_value) for c in found]


# -- signed ---------------------------------------------------------------------------------------------


def test_direction_words_sign_percentages_and_the_restated_figure_inherits_it():
    found = changes("Net sales increased 1%, or 2% on a currency-neutral basis, driven by pricing.",
                    "Net sales decreased 7%, or 6% on a currency-neutral basis, driven by pricing.")
    assert values(found) == [(1.0, -7.0), (2.0, -6.0)]
    assert {c.sign_source for c in found} == {"direction_word"}


def test_basis_points_keep_their_direction():
    (change,) = changes("Gross margin increased 110 basis points compared to the prior year.",
                        "Gross margin decreased 190 basis points compared to the prior year.")
    assert (change.unit, change.old_value, change.new_value) == ("bps", 110.0, -190.0)


@pytest.mark.parametrize("old,new,expected", [
    ("Sales were 7% lower than last year.", "Sales were 4% higher than last year.", (-7.0, 4.0)),
    ("Revenue declined by approximately 3% in the year.", "Revenue grew by approximately 5% in the year.", (-3.0, 5.0)),
    ("Margins saw a decrease of 2 percentage points.", "Margins saw an increase of 3 percentage points.", (-2.0, 3.0)),
    ("Net sales fell to $5.0 billion.", "Net sales fell to $4.0 billion.", (5.0e9, 4.0e9)),  # "to": a level, not a change
])
def test_more_direction_patterns(old, new, expected):
    (change,) = changes(old, new)
    assert (change.old_value, change.new_value) == expected


def test_an_amount_in_parentheses_with_a_currency_is_negative_in_prose():
    (change,) = changes("Other income (expense), net was $(145) million for the year.", "Other income (expense), net was $(98) million for the year.")
    assert (change.old_value, change.new_value, change.sign_source) == (-145e6, -98e6, "parentheses")


# -- same period ----------------------------------------------------------------------------------------


def test_figures_about_different_years_are_not_paired():
    assert changes("During 2021, the Company repurchased shares for $2,180 million under the program.",
                   "During 2024, the Company repurchased shares for $3,485 million under the program.") == ()


def test_the_filings_own_years_pair_and_rolled_comparatives_are_churn():
    found = changes("Net sales were $391.0 billion in 2024, compared to $383.3 billion in 2023.",
                    "Net sales were $416.2 billion in 2025, compared to $391.0 billion in 2024.")
    assert [(c.old_text, c.new_text, c.comparison) for c in found] == [("$391.0 billion", "$416.2 billion", "year_over_year")]


def test_the_same_year_stated_on_both_sides_is_a_revision():
    (change,) = changes("We expect capital expenditures in 2026 of $30 billion to support growth.",
                        "We expect capital expenditures in 2026 of $60 billion to support growth.")
    assert (change.comparison, change.old_period, change.new_period) == ("same_period", "2026", "2026")


def test_a_name_with_a_year_is_not_a_period():
    (change,) = changes("The remaining transition tax under the Tax Cuts and Jobs Act of 2017 was $16.5 billion.",
                        "The remaining transition tax under the Tax Cuts and Jobs Act of 2017 was $8.8 billion.")
    assert change.comparison == "year_over_year"


def test_without_fiscal_years_an_explicit_year_pair_is_not_guessed():
    assert compare_periods("2024", "2025", FiscalYears()) is None
    assert compare_periods(None, None, FiscalYears()) == "year_over_year"
    assert compare_periods("prior", "prior", YEARS) is None


# -- same metric ----------------------------------------------------------------------------------------


def test_different_metrics_in_the_same_place_are_not_paired():
    assert changes("The total cost related to pension plans was $120 million for the year.",
                   "The net periodic pension cost was $45 million for the year.") == ()


# -- units ----------------------------------------------------------------------------------------------


def test_counts_keep_their_unit_after_a_scale_word():
    (change,) = changes("We own approximately 10 million square feet of office space.", "We own approximately 11 million square feet of office space.")
    assert (change.kind, change.unit, change.old_value, change.new_value) == ("count", "square feet", 10e6, 11e6)


def test_a_column_shows_its_unit_on_the_first_row_only():
    """Found on AMZN FY2024 Item 7: "North America | 12 | % | 10 | %" then "International | 11 | 9"."""
    old = ["| 2023 | 2024", "Year-over-year Percentage Growth:", "North America | 12 | % | 10 | %", "International | 11 | 9"]
    new = ["| 2024 | 2025", "Year-over-year Percentage Growth:", "North America | 10 | % | 12 | %", "International | 9 | 15"]
    found = diff_item(item(old), item(new), years=YEARS).number_changes
    international = [c for c in found if c.row_label == "International"]
    assert [(c.kind, c.unit, c.old_value, c.new_value) for c in international] == [("percent", "%", 9.0, 15.0)]


# -- tables: by period, never by position ---------------------------------------------------------------


def test_a_maturity_schedule_pairs_the_same_year_not_the_same_column():
    """Debt maturities: the older filing's 2027 amount against the newer's 2027 amount."""
    old = ["(in millions)", "| 2025 | 2026 | 2027 | 2028", "Long-term debt | $ | 1,000 | $ | 2,000 | $ | 3,000 | $ | 4,000"]
    new = ["(in millions)", "| 2026 | 2027 | 2028 | 2029", "Long-term debt | $ | 2,000 | $ | 3,500 | $ | 4,000 | $ | 5,000"]
    found = diff_item(item(old), item(new), years=YEARS).number_changes
    assert [(c.period, c.old_value, c.new_value, c.comparison) for c in found] == [("2027", 3000e6, 3500e6, "same_period")]


def test_a_change_column_is_named_a_change_not_the_rows_level():
    """TSLA FY2024 Item 7: "(Dollars in millions) | 2024 | 2023 | 2022 | $ | % | $ | %" — the old
    2023 change of $13,185 million against the new 2024 change of $(3,134) million is a change of
    revenue, not revenue (once read as "revenue swung to -$3.1 billion")."""
    old = ["(Dollars in millions) | 2024 | 2023 | 2022 | $ | % | $ | %",
           "Total revenues | 90,738 | 77,553 | 51,034 | 13,185 | 17 | % | 26,519 | 52 | %"]
    new = ["(Dollars in millions) | 2025 | 2024 | 2023 | $ | % | $ | %",
           "Total revenues | 87,604 | 90,738 | 77,553 | (3,134) | (3) | % | 13,185 | 17 | %"]
    found = diff_item(item(old), item(new), years=YEARS).number_changes
    level = [c for c in found if not c.change_column]
    assert [(c.metric, c.old_value, c.new_value) for c in level] == [("Total revenues", 90_738e6, 87_604e6)]
    moved = [c for c in found if c.change_column]
    assert moved and all(c.metric == "Change in total revenues" for c in moved)
    assert (13_185e6, -3_134e6) in [(c.old_value, c.new_value) for c in moved]


def test_a_row_with_fewer_figures_than_years_is_not_guessed():
    old = ["| 2024 | 2023", "Income taxes receivable | 199 | 150"]
    new = ["| 2025 | 2024", "Income taxes receivable | 210"]
    assert diff_item(item(old), item(new), years=YEARS).number_changes == ()


# -- XBRL facts: by concept, dimensions and period ------------------------------------------------------


def ixbrl(year: int, rows: list[tuple[str, list[tuple[str, int, str]]]]) -> bytes:
    """A tiny inline-XBRL 10-K: Item 1 and Item 8 with one table whose cells are facts."""
    contexts = "".join(
        f'<xbrli:context id="D{y}"><xbrli:entity><xbrli:identifier scheme="x">1</xbrli:identifier></xbrli:entity>'
        f'<xbrli:period><xbrli:startDate>{y - 1}-10-01</xbrli:startDate><xbrli:endDate>{y}-09-30</xbrli:endDate></xbrli:period></xbrli:context>'
        for y in (year, year - 1, year - 2))
    body = "".join(
        f"<tr><td>{label}</td>" + "".join(
            f'<td><ix:nonFraction name="{concept}" contextRef="D{y}" unitRef="usd" decimals="-6" scale="6" '
            f'format="ixt:num-dot-decimal" id="{concept[-4:]}{y}">{value:,}</ix:nonFraction></td>' for concept, y, value in cells)
        + "</tr>" for label, cells in rows)
    return (
        '<html xmlns:ix="http://www.xbrl.org/2013/inlineXBRL" xmlns:xbrli="http://www.xbrl.org/2003/instance" '
        'xmlns:ixt="http://www.xbrl.org/inlineXBRL/transformation/2020-02-12"><body>'
        '<div style="display:none"><ix:header><ix:hidden>'
        f'<ix:nonNumeric name="dei:DocumentPeriodEndDate" contextRef="D{year}">September 30, {year}</ix:nonNumeric>'
        f'<ix:nonNumeric name="dei:DocumentFiscalYearFocus" contextRef="D{year}">{year}</ix:nonNumeric>'
        '</ix:hidden><ix:resources><xbrli:unit id="usd"><xbrli:measure>iso4217:USD</xbrli:measure></xbrli:unit>'
        f'{contexts}</ix:resources></ix:header></div>'
        f"<p>Item 1. Business</p><p>{FILLER}</p><p>Item 7. Management's Discussion</p><p>{FILLER}</p>"
        f"<p>Item 8. Financial Statements</p><p>(in millions)</p><table>{body}</table><p>{FILLER}</p>"
        "<p>Item 9. Changes in and Disagreements</p><p>None.</p></body></html>"
    ).encode()


def test_xbrl_cells_pair_by_concept_and_period_whatever_the_columns():
    """The newer table puts the newest year on the right (as AMZN and GOOGL do), the older on the left:
    positions would pair 2025 with 2023."""
    older = extract_items(ixbrl(2024, [("Net sales", [("us-gaap:Revenues", 2024, 391_035), ("us-gaap:Revenues", 2023, 383_285)])]))
    newer = extract_items(ixbrl(2025, [("Net sales", [("us-gaap:Revenues", 2024, 391_035), ("us-gaap:Revenues", 2025, 416_161)])]))
    found = diff_filings(older, newer).items["8"].number_changes
    assert [(c.old_value, c.new_value, c.comparison, c.concept, c.sign_source) for c in found] == [
        (391_035e6, 416_161e6, "year_over_year", "us-gaap:Revenues", "xbrl")]
    assert found[0].new_fact == "nues2025" and found[0].old_fact == "nues2024" and found[0].scale == "million"


def test_a_restated_prior_year_is_a_same_period_change():
    older = extract_items(ixbrl(2024, [("Net income", [("us-gaap:NetIncomeLoss", 2024, 90_000), ("us-gaap:NetIncomeLoss", 2023, 80_000)])]))
    newer = extract_items(ixbrl(2025, [("Net income", [("us-gaap:NetIncomeLoss", 2025, 90_000), ("us-gaap:NetIncomeLoss", 2024, 88_000)])]))
    found = diff_filings(older, newer).items["8"].number_changes
    assert [(c.old_value, c.new_value, c.comparison) for c in found] == [(90_000e6, 90_000e6, "year_over_year")][:0] + [
        (90_000e6, 88_000e6, "same_period")]


# -- churn ----------------------------------------------------------------------------------------------


def test_officers_ages_are_churn():
    found = diff_item(item(["Name | Age | Position", "Timothy D. Cook | 63 | Chief Executive Officer"], "10"),
                      item(["Name | Age | Position", "Timothy D. Cook | 64 | Chief Executive Officer"], "10"), years=YEARS).number_changes
    assert [(c.new_value, c.churn) for c in found] == [(64.0, "age")]
    prose = changes("Jeffrey Williams, 60, has served as Chief Operating Officer since 2015.",
                    "Jeffrey Williams, 61, has served as Chief Operating Officer since 2015.")
    assert [c.churn for c in prose] == ["age"]


def test_exhibit_index_numbers_and_dates_are_churn():
    found = diff_item(item(["10.1 | Credit Agreement dated as of March 1, 2023 | 10-Q | 10.1 | 5/4/2023"], "15"),
                      item(["10.1 | Credit Agreement dated as of March 1, 2024 | 10-Q | 10.2 | 5/2/2024"], "15"), years=YEARS).number_changes
    assert found and {c.churn for c in found} == {"exhibit_index"}


def test_performance_graph_index_values_are_churn():
    lead = "The following graph compares the cumulative total shareholder return on $100 invested."
    old = [lead, "| 2019 | 2020 | 2021 | 2022 | 2023 | 2024", "Apple Inc. | $ | 100 | $ | 207 | $ | 273 | $ | 227 | $ | 304 | $ | 392"]
    new = [lead, "| 2020 | 2021 | 2022 | 2023 | 2024 | 2025", "Apple Inc. | $ | 100 | $ | 132 | $ | 110 | $ | 147 | $ | 190 | $ | 200"]
    found = diff_item(item(old, "5"), item(new, "5"), years=YEARS).number_changes
    assert found and {c.churn for c in found} == {"performance_graph"}


# -- what the stored report keeps -----------------------------------------------------------------------


def test_the_stored_report_keeps_key_figure_changes_first():
    many = [f"Segment {n} headcount was {100 + n} people at the end of the year." for n in range(30)]
    old = many + ["Net sales were $391.0 billion for the year."]
    new = [p.replace(" people", " people").replace(f"was {100 + n}", f"was {200 + n}") for n, p in enumerate(many)] + ["Net sales were $416.2 billion for the year."]
    diff = diff_item(item(old), item(new), years=YEARS)
    kept = stored_number_changes(diff.number_changes, limit=5)
    assert kept[0].new_text == "$416.2 billion" and len(kept) == 5


def test_mention_reading_api_stays_public():
    tokens = "headcount grew to 2,300 engineers".split()
    assert mentions.mention_at(tokens, 3).unit == "engineers"
    assert read_document(b"<p>x</p>").xbrl is None
