"""Inline XBRL facts read in the extraction's one pass: values from attributes (never from the look),
contexts, units, duplicates, cover facts, and which table cell prints which fact."""

from __future__ import annotations

import math
from decimal import Decimal

from section_blocks import read_document
from section_extractor import extract_items

HEADER = """<div style="display:none"><{ix}:header><{ix}:hidden>
<{ix}:nonNumeric name="dei:DocumentPeriodEndDate" contextRef="FY24" id="h1" format="ixt:date-monthname-day-year-en">September 28, 2024</{ix}:nonNumeric>
<{ix}:nonFraction name="us-gaap:HiddenThing" contextRef="FY24" unitRef="usd" decimals="-6" scale="6" id="h2">7</{ix}:nonFraction>
</{ix}:hidden><{ix}:resources>
<{xbrli}:unit id="usd"><{xbrli}:measure>iso4217:USD</{xbrli}:measure></{xbrli}:unit>
<{xbrli}:unit id="usdPerShare"><{xbrli}:divide><{xbrli}:unitNumerator><{xbrli}:measure>iso4217:USD</{xbrli}:measure></{xbrli}:unitNumerator>
  <{xbrli}:unitDenominator><{xbrli}:measure>xbrli:shares</{xbrli}:measure></{xbrli}:unitDenominator></{xbrli}:divide></{xbrli}:unit>
<{xbrli}:unit id="segment"><{xbrli}:measure>ck:segment</{xbrli}:measure></{xbrli}:unit>
<{xbrli}:context id="FY24"><{xbrli}:entity><{xbrli}:identifier scheme="http://www.sec.gov/CIK">0000000001</{xbrli}:identifier></{xbrli}:entity>
  <{xbrli}:period><{xbrli}:startDate>2023-10-01</{xbrli}:startDate><{xbrli}:endDate>2024-09-28</{xbrli}:endDate></{xbrli}:period></{xbrli}:context>
<{xbrli}:context id="FY23"><{xbrli}:entity><{xbrli}:identifier scheme="http://www.sec.gov/CIK">0000000001</{xbrli}:identifier></{xbrli}:entity>
  <{xbrli}:period><{xbrli}:startDate>2022-09-25</{xbrli}:startDate><{xbrli}:endDate>2023-09-30</{xbrli}:endDate></{xbrli}:period></{xbrli}:context>
<{xbrli}:context id="I24"><{xbrli}:entity><{xbrli}:identifier scheme="http://www.sec.gov/CIK">0000000001</{xbrli}:identifier></{xbrli}:entity>
  <{xbrli}:period><{xbrli}:instant>2024-09-28</{xbrli}:instant></{xbrli}:period></{xbrli}:context>
<{xbrli}:context id="SEG"><{xbrli}:entity><{xbrli}:identifier scheme="http://www.sec.gov/CIK">0000000001</{xbrli}:identifier>
  <{xbrli}:segment><{xbrldi}:explicitMember dimension="srt:ConsolidationItemsAxis">us-gaap:OperatingSegmentsMember</{xbrldi}:explicitMember>
  <{xbrldi}:explicitMember dimension="us-gaap:StatementBusinessSegmentsAxis">ck:AmericasSegmentMember</{xbrldi}:explicitMember></{xbrli}:segment></{xbrli}:entity>
  <{xbrli}:period><{xbrli}:startDate>2023-10-01</{xbrli}:startDate><{xbrli}:endDate>2024-09-28</{xbrli}:endDate></{xbrli}:period></{xbrli}:context>
</{ix}:resources></{ix}:header></div>"""

BODY = """<p>Widget Corp. For the fiscal year ended
<{ix}:nonNumeric name="dei:EntityRegistrantName" contextRef="FY24" id="c1">Widget Corp</{ix}:nonNumeric>.</p>
<p>Sales rose to $<{ix}:nonFraction name="us-gaap:Revenues" contextRef="FY24" unitRef="usd" decimals="-8" scale="9" format="ixt:num-dot-decimal" id="p1">1.2</{ix}:nonFraction> billion.</p>
<table>
<tr><td>(in millions)</td><td>2024</td><td>2023</td></tr>
<tr><td>Total net sales</td><td>$</td><td><{ix}:nonFraction name="us-gaap:Revenues" contextRef="FY24" unitRef="usd" decimals="-6" scale="6" format="ixt:num-dot-decimal" id="f1">1,234</{ix}:nonFraction></td>
  <td>$</td><td><{ix}:nonFraction name="us-gaap:Revenues" contextRef="FY23" unitRef="usd" decimals="-6" scale="6" format="ixt:num-dot-decimal" id="f2">1,100</{ix}:nonFraction></td></tr>
<tr><td>Other expense</td><td>(<{ix}:nonFraction name="us-gaap:NonoperatingIncomeExpense" contextRef="FY24" unitRef="usd" decimals="-6" scale="6" sign="-" format="ixt:num-dot-decimal" id="f3">565</{ix}:nonFraction>)</td>
  <td><{ix}:nonFraction name="us-gaap:NonoperatingIncomeExpense" contextRef="FY23" unitRef="usd" decimals="-6" scale="6" format="ixt:fixed-zero" id="f4">—</{ix}:nonFraction></td></tr>
<tr><td>Purchases of property and equipment</td><td>(<{ix}:nonFraction name="us-gaap:PaymentsToAcquirePropertyPlantAndEquipment" contextRef="FY24" unitRef="usd" decimals="-6" scale="6" format="ixt:num-dot-decimal" id="f5">9,447</{ix}:nonFraction>)</td><td>x</td></tr>
<tr><td>Diluted</td><td><{ix}:nonFraction name="us-gaap:EarningsPerShareDiluted" contextRef="FY24" unitRef="usdPerShare" decimals="2" id="f6">6.08</{ix}:nonFraction></td><td>x</td></tr>
<tr><td>Par value</td><td><{ix}:nonFraction name="us-gaap:CommonStockParOrStatedValuePerShare" contextRef="FY24" unitRef="usdPerShare" decimals="INF" id="f7"><{ix}:nonFraction name="us-gaap:CommonStockParOrStatedValuePerShare" contextRef="I24" unitRef="usdPerShare" decimals="INF" id="f8">0.00001</{ix}:nonFraction></{ix}:nonFraction></td><td>x</td></tr>
<tr><td>Americas</td><td><{ix}:nonFraction name="us-gaap:NumberOfOperatingSegments" contextRef="SEG" unitRef="segment" decimals="INF" format="ixt-sec:numwordsen" id="f9">four</{ix}:nonFraction></td><td>x</td></tr>
</table>"""


def document(ix: str = "ix", xbrli: str = "xbrli", xbrldi: str = "xbrldi") -> bytes:
    names = {"ix": ix, "xbrli": xbrli, "xbrldi": xbrldi}
    html = (
        f'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:{ix}="http://www.xbrl.org/2013/inlineXBRL" '
        f'xmlns:{xbrli}="http://www.xbrl.org/2003/instance" xmlns:{xbrldi}="http://xbrl.org/2006/xbrldi" '
        'xmlns:ixt="http://www.xbrl.org/inlineXBRL/transformation/2020-02-12" '
        'xmlns:ixt-sec="http://www.sec.gov/inlineXBRL/transformation/2015-08-31"><head><title>x</title></head><body>'
        + HEADER.format(**names) + BODY.format(**names) + "</body></html>"
    )
    return html.encode()


def facts_by_id(xbrl):
    return {f.element_id: f for f in xbrl.facts}


def test_values_come_from_attributes_not_from_the_printed_look():
    xbrl = read_document(document()).xbrl
    facts = facts_by_id(xbrl)
    assert facts["f1"].value == Decimal("1234000000")  # scale 6
    assert facts["f3"].value == Decimal("-565000000")  # sign="-", printed in parentheses
    assert facts["f5"].value == Decimal("9447000000")  # printed in parentheses, yet a positive payment
    assert facts["f4"].value == 0  # fixed-zero printed as a dash
    assert facts["f6"].value == Decimal("6.08") and facts["f6"].unit == "USD/share"
    assert facts["f9"].value == 4 and facts["f9"].unit == "segment"  # the SEC's number words
    assert facts["f1"].decimals == -6 and math.isinf(facts["f7"].decimals)


def test_nested_facts_both_read_their_printed_text():
    facts = facts_by_id(read_document(document()).xbrl)
    assert facts["f7"].value == facts["f8"].value == Decimal("0.00001")
    assert facts["f7"].context == "FY24" and facts["f8"].context == "I24"


def test_contexts_units_and_dimensions():
    xbrl = read_document(document()).xbrl
    assert xbrl.contexts["FY24"].start == "2023-10-01" and xbrl.contexts["FY24"].end == "2024-09-28"
    assert xbrl.contexts["FY24"].days == 363 and xbrl.contexts["FY24"].consolidated
    assert xbrl.contexts["I24"].instant
    assert xbrl.contexts["SEG"].dimensions == (
        ("srt:ConsolidationItemsAxis", "us-gaap:OperatingSegmentsMember"),
        ("us-gaap:StatementBusinessSegmentsAxis", "ck:AmericasSegmentMember"),
    )
    assert xbrl.fiscal_year().id == "FY24"
    assert xbrl.cover["dei:DocumentPeriodEndDate"] == "2024-09-28"
    assert xbrl.cover["dei:EntityRegistrantName"] == "Widget Corp"


def test_hidden_facts_are_read_but_never_text():
    doc = read_document(document())
    hidden = facts_by_id(doc.xbrl)["h2"]
    assert hidden.hidden and hidden.value == Decimal("7000000")
    text = "\n".join(doc.blocks)
    assert "2023-10-01" not in text and "0000000001" not in text and "iso4217" not in text


def test_duplicates_resolve_to_the_most_precise_fact():
    xbrl = read_document(document()).xbrl
    best = xbrl.fact("us-gaap:Revenues", "FY24", "USD")
    assert best.element_id == "f1" and best.value == Decimal("1234000000")  # not MD&A's rounded 1.2 billion


def test_each_table_cell_knows_its_facts_and_each_fact_its_row():
    doc = read_document(document())
    facts = doc.xbrl.facts
    row = next(i for i, b in enumerate(doc.blocks) if b.startswith("Total net sales"))
    assert doc.blocks[row] == "Total net sales | $ | 1,234 | $ | 1,100"  # no marker left in the text
    cells = doc.block_facts[row]
    assert [tuple(facts[n].element_id for n in cell) for cell in cells] == [(), (), ("f1",), (), ("f2",)]
    assert facts[cells[2][0]].row_label == "Total net sales" and facts[cells[2][0]].table is not None
    prose = next(i for i, b in enumerate(doc.blocks) if b.startswith("Sales rose"))
    assert [facts[n].element_id for n in doc.block_facts[prose][0]] == ["p1"] and facts[doc.block_facts[prose][0][0]].table is None


def test_other_prefixes_for_the_same_namespaces_work():
    xbrl = read_document(document(ix="inl", xbrli="xi", xbrldi="xd")).xbrl
    assert facts_by_id(xbrl)["f3"].value == Decimal("-565000000")
    assert xbrl.contexts["SEG"].dimensions[1][1] == "ck:AmericasSegmentMember"


def test_an_unknown_format_is_a_problem_not_a_guess():
    raw = document().replace(b'format="ixt:num-dot-decimal" id="f1"', b'format="ixt:num-unit-decimal" id="f1"')
    xbrl = read_document(raw).xbrl
    assert facts_by_id(xbrl)["f1"].value is None
    assert any("f1" in problem for problem in xbrl.problems)


def test_items_carry_the_facts_of_their_table_cells():
    filing = extract_items(document())
    assert filing.xbrl is not None and len(filing.xbrl) == 11
    assert filing.statement_tables == ()  # printed tables are read only without XBRL


def test_a_document_without_inline_xbrl_has_none():
    doc = read_document(b"<html><body><p>Item 1. Business</p><table><tr><td>a</td><td>1</td></tr></table></body></html>")
    assert doc.xbrl is None and doc.block_facts == {}
