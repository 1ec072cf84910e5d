"""Item extraction on small generated filings: every heading variant of issue 4 point 3, every status
of point 1, and what is never item text (point 2). Real filings are in test_extraction_corpus.py."""

from __future__ import annotations

import pytest

from form_10k import ITEM_ORDER, ITEM_TITLES
from section_extractor import ExtractedFiling, ItemStatus, extract_items, parse_heading

BODY = {
    "1": "We make widgets in Ohio and sell them to industrial buyers around the world.",
    "1A": "Demand for widgets may fall. Our suppliers may fail to deliver steel on time.",
    "1B": "None.",
    "1C": "We run a cybersecurity programme overseen by the audit committee of the board.",
    "2": "We own one plant in Dayton and lease a warehouse in Toledo for finished goods.",
    "3": "We are not a party to any material pending legal proceedings at this time.",
    "4": "Not applicable.",
    "5": "Our common stock trades on the Nasdaq Global Market under the symbol WDGT.",
    "6": "[Reserved]",
    "7": "Revenue grew 5% to $12.3 million because widget prices rose in every region.",
    "7A": "We are exposed to changes in steel prices and in interest rates on our loan.",
    "8": "The financial statements are set forth in Part IV, Item 15 of this report.",
    "9": "None.",
    "9A": "Our disclosure controls and procedures were effective as of December 31, 2024.",
    "9B": "No director or officer adopted a trading arrangement during the fourth quarter.",
    "9C": "Not applicable.",
    "10": "The information required by this Item is incorporated herein by reference to our 2025 Proxy Statement.",
    "11": "The information required by this Item is incorporated herein by reference to our 2025 Proxy Statement.",
    "12": "The information required by this Item is incorporated herein by reference to our 2025 Proxy Statement.",
    "13": "The information required by this Item is incorporated herein by reference to our 2025 Proxy Statement.",
    "14": "The information required by this Item is incorporated herein by reference to our 2025 Proxy Statement.",
    "15": "The exhibits listed in the exhibit index are filed with this report.",
    "16": "None.",
}
PARTS = {"1": "PART I", "5": "PART II", "10": "PART III", "15": "PART IV"}
COVER = """<p>UNITED STATES SECURITIES AND EXCHANGE COMMISSION</p><p>FORM 10-K</p>
<p>ANNUAL REPORT PURSUANT TO SECTION 13 OR 15(d) OF THE SECURITIES EXCHANGE ACT OF 1934</p>
<p>Widget Corp. Indicate by check mark whether the registrant is a shell company. Yes No</p>"""


def heading_html(item: str, style: str = "plain") -> str:
    title = ITEM_TITLES[item]
    return {
        "plain": f"<p><b>Item {item}. {title}</b></p>",
        "dash": f"<p>ITEM {item} - {title.upper()}</p>",
        "colon": f"<p>Item {item}: {title}</p>",
        "bare": f"<p>Item {item} {title}</p>",
        "nbsp": f"<p>Item&#160;{item}.&#8203;&#160;{title}</p>",
        "split_tags": f"<p><span>It</span><span>em {item[0]}</span><span>{item[1:]}.</span> <span>{title}</span></p>",
        "cell": f"<table><tr><td>Item {item}.</td><td>{title}</td></tr></table>",
        "next_line": f"<p>Item {item}.</p><p>{title}</p>",
    }[style]


def make_filing(style: str = "plain", items: tuple[str, ...] = ITEM_ORDER, body: dict | None = None, toc: bool = True,
                links: bool = False, furniture: bool = False, extra: str = "", headings: dict | None = None) -> bytes:
    """A small but complete 10-K in HTML: cover, table of contents, Parts, items, signatures."""
    body = {**BODY, **(body or {})}
    headings = headings or {}
    parts = ["<html><body>", '<div style="display:none"><ix:header><ix:hidden>Item 7. Hidden facts 123</ix:hidden></ix:header></div>', COVER]
    if toc:
        parts.append('<p id="toc">TABLE OF CONTENTS</p><table>')
        for n, item in enumerate(items):
            label = f'<a href="#item{item}">Item {item}.</a>' if links else f"Item {item}."
            parts.append(f"<tr><td>{label}</td><td>{ITEM_TITLES[item]}</td><td>{n + 3}</td></tr>")
        parts.append("</table>")
    page = 1
    for item in items:
        if item in PARTS:
            parts.append(f"<p>{PARTS[item]}</p>")
        anchor = f'<a name="item{item}"></a>' if links else ""
        parts.append(anchor + headings.get(item, heading_html(item, style)))
        parts.append(f"<p>{body[item]}</p>")
        if furniture:
            page += 1
            parts.append(f'<p>Widget Corp. | 2024 Form 10-K | {page}</p><p><a href="#toc">Table of Contents</a></p>'
                         f'<hr style="page-break-after:always"/>')
    parts.append(extra)
    parts.append("<p>SIGNATURES</p><p>Pursuant to the requirements of the Securities Exchange Act of 1934 ...</p></body></html>")
    return "\n".join(parts).encode("utf-8")


def assert_all_items(filing: ExtractedFiling, items: tuple[str, ...] = ITEM_ORDER) -> None:
    for item in items:
        got = filing.items[item]
        assert got.text == BODY[item] or (got.status is ItemStatus.RESERVED and got.text in ("", BODY[item])), (item, got.text)


# --- heading variants (issue 4, point 3) ----------------------------------------------------------

@pytest.mark.parametrize("style", ["plain", "dash", "colon", "bare", "nbsp", "split_tags", "cell", "next_line"])
def test_every_heading_variant_finds_every_item(style):
    filing = extract_items(make_filing(style))
    assert filing.method == "headings"
    assert_all_items(filing)
    assert filing.items["1A"].title.lower() == "risk factors"


def test_toc_links_are_followed():
    filing = extract_items(make_filing(links=True))
    assert filing.method == "toc_links"
    assert_all_items(filing)


def test_stale_toc_links_are_rejected_and_body_headings_used():
    """A TOC link whose target does not carry the item's heading (Tesla FY2023) is not trusted."""
    content = make_filing(links=True).replace(b'name="item7"', b'name="itemX"').replace(b'name="item2"', b'name="item7"')
    filing = extract_items(content)
    assert filing.items["7"].text == BODY["7"]
    assert filing.items["2"].text == BODY["2"]


def test_combined_headings_give_the_text_to_each_item():
    items = tuple(i for i in ITEM_ORDER if i not in ("2", "7A", "11", "12", "13"))
    content = make_filing(items=items, toc=False, body={"1": BODY["1"], "7": BODY["7"], "10": BODY["10"]}, headings={
        "1": "<p>Items 1 and 2. Business and Properties</p>",
        "7": "<p>Item 7 and 7A. Management's Discussion and Analysis; Market Risk</p>",
        "10": "<p>ITEMS 10, 11, 12 AND 13. DIRECTORS, COMPENSATION, OWNERSHIP AND RELATIONSHIPS</p>",
    })
    filing = extract_items(content)
    assert filing.items["2"].text == filing.items["1"].text == BODY["1"]
    assert filing.items["7A"].text == filing.items["7"].text == BODY["7"]
    assert [filing.items[i].text for i in ("11", "12", "13")] == [BODY["10"]] * 3


def test_references_to_items_inside_the_text_are_not_headings():
    body = {
        "1": "We make widgets. See Item 7 for our results and Item 1A for risks.",
        "1A": "Item 7 of this report describes how demand for widgets may fall.",
    }
    filing = extract_items(make_filing(toc=False, body=body))
    assert filing.items["1"].text == body["1"]
    assert filing.items["1A"].text == body["1A"]
    assert filing.items["7"].text == BODY["7"]


@pytest.mark.parametrize("text, items, title", [
    ("Item 1A. Risk Factors", ("1A",), "Risk Factors"),
    ("ITEM 1A - RISK FACTORS", ("1A",), "RISK FACTORS"),
    ("Item 1A: Risk Factors", ("1A",), "Risk Factors"),
    ("Item 1A Risk Factors", ("1A",), "Risk Factors"),
    ("ITEM 9A(T). CONTROLS AND PROCEDURES", ("9A",), "CONTROLS AND PROCEDURES"),
    ("Item No. 1 Business", ("1",), "Business"),
    ("ITEM ONE - BUSINESS", ("1",), "BUSINESS"),
    ("PART II, Item 5. Market", ("5",), "Market"),
    ("Items 1 and 2. Business and Properties", ("1", "2"), "Business and Properties"),
    ("Item 7 and 7A", ("7", "7A"), ""),
    ("Items 10 through 14", ("10", "11", "12", "13", "14"), ""),
])
def test_parse_heading_variants(text, items, title):
    heading = parse_heading(text)
    assert heading is not None and heading.items == items and heading.title == title and not heading.toc_entry


@pytest.mark.parametrize("text", ["Item 7 of this report describes", "Item 14(a)(1) financial statements", "Items to be considered",
                                  "Item 1112(b) of Regulation AB", "See Item 7"])
def test_parse_heading_rejects_sentences(text):
    assert parse_heading(text) is None


def test_a_toc_row_is_an_entry_not_a_heading():
    assert parse_heading("Item 1A. | Risk Factors | 22").toc_entry
    assert parse_heading("Item 7. Management's Discussion and Analysis ........ 34").toc_entry


def test_heading_split_over_two_blocks_keeps_its_title_out_of_the_text():
    headings = {"9": "<p>ITEM 9. CHANGES IN AND DISAGREEMENTS WITH ACCOUNTANTS ON ACCOUNTING AND</p><p>FINANCIAL DISCLOSURE</p>"}
    filing = extract_items(make_filing(toc=False, headings=headings))
    assert filing.items["9"].text == "None."
    assert filing.items["9"].title.endswith("FINANCIAL DISCLOSURE")


# --- statuses (issue 4, point 1) ------------------------------------------------------------------

def test_statuses_and_pointers():
    filing = extract_items(make_filing())
    status = {item: filing.items[item].status for item in ITEM_ORDER}
    assert status["1"] is status["1A"] is status["7"] is ItemStatus.PRESENT
    assert status["1B"] is status["4"] is status["9"] is status["16"] is ItemStatus.NOT_APPLICABLE
    assert status["6"] is ItemStatus.RESERVED
    assert status["8"] is ItemStatus.INCORPORATED_BY_REFERENCE and filing.items["8"].refers_to.startswith("Item 15")
    for item in ("10", "11", "12", "13", "14"):
        assert status[item] is ItemStatus.INCORPORATED_BY_REFERENCE and filing.items[item].refers_to == "proxy statement"


def test_exhibit_13_pointer():
    body = {"7": "The information required by this Item is set forth on pages 12 to 40 of the Annual Report to Shareholders (Exhibit 13)."}
    item = extract_items(make_filing(body=body)).items["7"]
    assert item.status is ItemStatus.INCORPORATED_BY_REFERENCE
    assert item.refers_to == "Annual Report to shareholders (Exhibit 13)"


def test_missing_items_have_no_text():
    items = tuple(i for i in ITEM_ORDER if i not in ("1A", "1B", "1C", "9C"))
    filing = extract_items(make_filing(items=items))
    for item in ("1A", "1B", "1C", "9C"):
        assert filing.items[item].status is ItemStatus.MISSING and filing.items[item].text == ""
    assert filing.items["1"].text == BODY["1"]


def test_reserved_heading_with_empty_body():
    headings = {"6": "<p>Item 6. [Reserved]</p>"}
    filing = extract_items(make_filing(toc=False, headings=headings, body={"6": ""}))
    assert filing.items["6"].status is ItemStatus.RESERVED and filing.items["6"].text == ""


def test_omitted_items_list_of_an_asset_backed_issuer():
    """General Instruction J: a list of omitted items is not_applicable, each item with that sentence."""
    omitted = ("1", "1A", "2", "3")
    rows = "".join(f"<tr><td>Item {i}.</td><td>{ITEM_TITLES[i]}.</td></tr>" for i in omitted)
    content = (f"<html><body>{COVER}<p>PART I</p><p>The following items have been omitted in accordance with General "
               f"Instruction J to Form 10-K:</p><table>{rows}</table><p><b>Item 1B. Unresolved Staff Comments.</b></p>"
               "<p>None.</p><p><b>Item 4. Mine Safety Disclosures.</b></p><p>Not applicable.</p>"
               "<p>SIGNATURES</p></body></html>").encode()
    filing = extract_items(content)
    for item in omitted:
        assert filing.items[item].status is ItemStatus.NOT_APPLICABLE
        assert "omitted" in filing.items[item].text
    assert filing.items["1B"].text == "None."
    assert filing.items["4"].text == "Not applicable."


# --- never item text (issue 4, point 2) -----------------------------------------------------------

def test_page_furniture_hidden_facts_toc_and_cover_are_never_item_text():
    filing = extract_items(make_filing(links=True, furniture=True))
    assert_all_items(filing)
    everything = " ".join(filing.items[i].text for i in ITEM_ORDER)
    for unwanted in ("Form 10-K |", "Table of Contents", "Hidden facts", "TABLE OF CONTENTS", "SECURITIES AND EXCHANGE", "SIGNATURES"):
        assert unwanted not in everything


def test_an_index_of_items_after_the_last_item_is_not_its_text():
    index = "".join(f"<p>Item {i}. {ITEM_TITLES[i]} {n + 3}</p>" for n, i in enumerate(ITEM_ORDER))
    filing = extract_items(make_filing(extra=f"<p>INDEX OF ITEMS</p>{index}"))
    assert_all_items(filing, tuple(i for i in ITEM_ORDER if i != "16"))
    assert filing.items["16"].status is ItemStatus.NOT_APPLICABLE or "Item 1." not in filing.items["16"].text


def test_part_heading_and_part_introduction_belong_to_no_item():
    headings = {"10": "<p>PART III</p><p>Certain information required by Part III is omitted from this report.</p>"
                      "<p>Item 10. Directors, Executive Officers and Corporate Governance</p>"}
    filing = extract_items(make_filing(toc=False, headings=headings, items=tuple(i for i in ITEM_ORDER)))
    assert filing.items["9C"].text == "Not applicable."
    assert "PART III" not in filing.items["9C"].text


def test_display_none_content_is_dropped():
    body = {"1": 'We make widgets.<span style="display: none">SECRET HIDDEN WORDS</span> We sell them.'}
    assert extract_items(make_filing(body=body)).items["1"].text == "We make widgets. We sell them."


# --- tables (issue 4, point 5) --------------------------------------------------------------------

def test_tables_become_rows_with_cells_and_numbers():
    table = ("<table><tr><td>(in millions)</td><td>2024</td><td>2023</td></tr>"
             "<tr><td>Net sales</td><td></td><td>$</td><td>391,035</td><td>383,285</td></tr></table>")
    headings = {"5": heading_html("5") + table}
    filing = extract_items(make_filing(toc=False, headings=headings, body={"5": ""}))
    assert filing.items["5"].paragraphs == ("(in millions) | 2024 | 2023", "Net sales | $ | 391,035 | 383,285")
    assert filing.items["5"].table_only


# --- structure of the result --------------------------------------------------------------------

def test_offsets_heading_indices_and_dicts():
    body = {"1A": "Risks.</p><p><b>Demand may fall.</b></p><p>Demand for widgets is cyclical.</p><p><i>Suppliers may fail.</i>"}
    filing = extract_items(make_filing(body=body))
    risk = filing.items["1A"]
    assert risk.paragraphs == ("Risks.", "Demand may fall.", "Demand for widgets is cyclical.", "Suppliers may fail.")
    assert risk.heading_indices == (1, 3)
    assert risk.part == "I" and 0 < risk.start < risk.end <= filing.document_chars
    assert risk.word_count == 12 and risk.text.startswith("Risks.\n\nDemand")
    assert set(filing.to_dict()) == set(ITEM_ORDER)
    assert filing.to_dict()["1A"]["text"] == risk.text and "text" not in risk.to_dict(with_text=False)
    assert risk.summary() == {"status": "present", "title": "Risk Factors", "word_count": 12}


def test_nothing_found_is_reported():
    filing = extract_items(b"<html><body><p>Hello world</p></body></html>")
    assert filing.method == "none" and filing.warnings
    assert all(filing.items[i].status is ItemStatus.MISSING for i in ITEM_ORDER)


def test_windows_1252_and_sgml_wrapper():
    html = make_filing().decode().replace("Ohio", "Ohio \u2013 USA").encode("windows-1252")
    wrapped = (b"<SEC-DOCUMENT>\n<DOCUMENT>\n<TYPE>10-K\n<SEQUENCE>1\n<TEXT>\n" + html + b"\n</TEXT>\n</DOCUMENT>\n"
               b"<DOCUMENT>\n<TYPE>EX-21\n<TEXT>\n<html><body><p>Item 1. Subsidiaries</p></body></html>\n</TEXT>\n</DOCUMENT>\n")
    filing = extract_items(wrapped)
    assert filing.items["1"].text == BODY["1"].replace("Ohio", "Ohio \u2013 USA")
    assert "Subsidiaries" not in " ".join(filing.items[i].text for i in ITEM_ORDER)


# --- plain text submissions (issue 4, point 4) -----------------------------------------------------

TEXT_FILING = b"""<DOCUMENT>
<TYPE>10-K
<TEXT>
                                   FORM 10-K
                                    PART I

Item 1.  Business

      Widget Corp. makes widgets in Ohio.  See Item 7 for
results.

                                     (3)
<PAGE>
Item 2.  Properties

      We own one plant.

Item 7.  Management's Discussion and Analysis of Financial Condition and
         Results of Operations

      Revenue grew 5%.
<TABLE>
<S>                                    <C>            <C>
Net sales                              $391           $383
</TABLE>

Item 8.  Financial Statements and Supplementary Data

      See index under Item 14.

                                   SIGNATURES
</TEXT>
</DOCUMENT>
"""


def test_plain_text_filing():
    filing = extract_items(TEXT_FILING)
    assert filing.source_format == "txt" and filing.method == "headings"
    assert filing.items["1"].text == "Widget Corp. makes widgets in Ohio. See Item 7 for results."
    assert filing.items["2"].text == "We own one plant."
    assert filing.items["7"].title.endswith("Results of Operations")
    assert filing.items["7"].paragraphs == ("Revenue grew 5%.", "Net sales $391 $383")
    assert filing.items["8"].status is ItemStatus.INCORPORATED_BY_REFERENCE
    assert filing.items["1A"].status is ItemStatus.MISSING


def test_a_toc_without_page_numbers_or_links_is_not_taken_for_the_body():
    """TOC lines without page numbers look exactly like headings: spans and jumps tell them apart."""
    toc = "".join(f"<p>Item {i}. {ITEM_TITLES[i]}</p>" for i in ITEM_ORDER)
    content = make_filing(toc=False).replace(b"<p>Widget Corp.", f"<p>TABLE OF CONTENTS</p>{toc}<p>Widget Corp.".encode())
    assert_all_items(extract_items(content))


def test_items_out_of_numeric_order_follow_document_order():
    """Morgan Stanley puts Items 1B-4 after the financial statements: TOC links place them, and each
    item ends where the next one physically begins."""
    order = ("1", "1A", "1C", "5", "6", "7", "7A", "8", "9", "9A", "9B", "9C", "1B", "2", "3", "4",
             "10", "11", "12", "13", "14", "15", "16")
    assert_all_items(extract_items(make_filing(items=order, links=True)))


def test_the_text_walk_stands_in_when_the_stylesheet_fails(monkeypatch):
    import section_blocks
    from lxml import etree

    def failing(root):
        raise etree.XSLTApplyError("too deep")

    monkeypatch.setattr(section_blocks, "_TRANSFORM", failing)
    assert_all_items(extract_items(make_filing()))
