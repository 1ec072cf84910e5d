"""The ranked highlights: the materiality model's promises, the schema a renderer reads, and the
summaries built from them (issue [J])."""

from __future__ import annotations

import json

import highlights
import wording
from ai_analyzer import AiSummaries, ExecutiveSentence, ItemSummary, KeyChange, OfflineSummarizer
from diff_analyzer import diff_filings, diff_item
from number_changes import FiscalYears
from quality_validator import check_directions
from form_10k import ITEM_ORDER
from section_extractor import ExtractedFiling, ItemStatus, ItemText

FILLER = ["The Company designs, manufactures and markets smartphones and wearables worldwide through its stores.",
          "Our products are sold through direct and indirect distribution channels in many countries."]
KEY_FIGURES = {
    "status": "ok", "source": "inline_xbrl", "fiscal_years": {"older": "2024-09-28", "newer": "2025-09-27"},
    "metrics": {
        "revenue": {"label": "Revenue", "unit": "USD", "concept": "us-gaap:Revenues", "restated": False,
                    "older": {"period_end": "2024-09-28", "value": 391_035_000_000, "line": "Total net sales", "link": "https://sec.test/o#f-1"},
                    "newer": {"period_end": "2025-09-27", "value": 416_161_000_000, "line": "Total net sales", "link": "https://sec.test/n#f-1"},
                    "newer_prior": {"period_end": "2024-09-28", "value": 391_035_000_000, "line": "Total net sales", "link": None},
                    "change": {"absolute": 25_126_000_000, "percent": 6.43, "basis": "newer_prior"}},
        "total_assets": {"label": "Total assets", "unit": "USD", "concept": "us-gaap:Assets", "restated": False,
                         "older": {"period_end": "2024-09-28", "value": 364_980_000_000},
                         "newer": {"period_end": "2025-09-27", "value": 365_000_000_000},
                         "newer_prior": None, "change": {"absolute": 20_000_000, "percent": 0.01, "basis": "older"}},
    },
    "segments": [],
}


def filing(items: dict[str, list[str]]) -> ExtractedFiling:
    texts = {}
    for item in ITEM_ORDER:
        paragraphs = tuple(items.get(item, FILLER))
        texts[item] = ItemText(item=item, status=ItemStatus.PRESENT, title="T", paragraphs=paragraphs)
    return ExtractedFiling(items=texts, document_chars=1000, source_format="html", method="headings")


def ranked(older_items, newer_items, key_figures=None):
    older, newer = filing(older_items), filing(newer_items)
    diff = diff_filings(older, newer, older_period="2024-09-28", newer_period="2025-09-27")
    return highlights.rank(key_figures or {}, diff, older, newer, older_url="https://sec.test/o", newer_url="https://sec.test/n"), diff


def test_churn_never_ranks():
    found, _ = ranked({"7": FILLER + ["In fiscal 2024, see page 12 for details of our stores."]},
                      {"7": FILLER + ["In fiscal 2025, see page 14 for details of our stores."]})
    assert found == []


def test_a_new_risk_factor_ranks_above_rewording_and_item_7_above_the_exhibit_index():
    risk = "Our suppliers may fail to deliver components on time, which could hurt our sales and margins in every region."
    changed = "We entered into a new supply agreement with a major component vendor that runs through fiscal 2027 and beyond."
    found, _ = ranked(
        {"1A": ["Supply risks", risk], "7": FILLER, "15": FILLER},
        {"1A": ["Supply risks", risk.replace("every region", "most regions"), "Tariff risks",
                "New tariffs on imported components could raise our costs and reduce demand for our products."],
         "7": FILLER + [changed], "15": FILLER + [changed]},
    )
    kinds = [(h.kind, h.item) for h in found]
    assert kinds.index(("risk_factor_added", "1A")) < kinds.index(("risk_factor_reworded", "1A"))
    seven = next(h for h in found if h.item == "7")
    fifteen = next(h for h in found if h.item == "15")
    assert seven.rank < fifteen.rank and seven.materiality > fifteen.materiality


def test_key_figures_rank_by_the_size_of_their_move_and_read_as_sentences():
    found, _ = ranked({}, {}, KEY_FIGURES)
    revenue = next(h for h in found if "Revenue" in h.headline)
    assets = next(h for h in found if "Total assets" in h.headline)
    assert revenue.rank < assets.rank
    assert revenue.headline == "Revenue rose 6.4% to $416.2 billion in fiscal 2025, from $391.0 billion."
    assert revenue.old["value"] == 391_035_000_000 and revenue.new["unit"] == "USD" and revenue.change["percent"] == 6.43
    assert revenue.quotes["new"]["link"] == "https://sec.test/n#f-1"  # the fact's element in the SEC document


def test_schema_ids_and_links():
    found, _ = ranked({"7": FILLER + ["Net sales were $391.0 billion in fiscal 2024, driven by services."]},
                      {"7": FILLER + ["Net sales were $416.2 billion in fiscal 2025, driven by services and wearables."]},
                      KEY_FIGURES)
    data = json.loads(json.dumps(highlights.to_dicts(found)))
    assert [h["id"] for h in data] == [f"h{n}" for n in range(1, len(data) + 1)]
    assert [h["rank"] for h in data] == list(range(1, len(data) + 1))
    for h in data:
        assert set(h) >= {"id", "rank", "kind", "item", "headline", "old", "new", "change", "materiality", "reasons", "quotes", "redline"}
        assert h["kind"] in highlights.KINDS and 0 <= h["materiality"] <= 1 and h["reasons"]
        assert h["headline"].endswith((".", "…"))
    text = next(h for h in data if h["item"] == "7")
    link = (text["quotes"]["new"] or {}).get("link") or ""
    assert link.startswith("https://sec.test/n#:~:text=")  # no element id for prose: a text fragment


def test_the_revenue_figure_quotes_mdas_own_sentence_instead_of_repeating_it():
    found, _ = ranked({"7": FILLER + ["Total net sales were $391.0 billion for the year."]},
                      {"7": FILLER + ["Total net sales were $416.2 billion for the year."]}, KEY_FIGURES)
    revenue = next(h for h in found if h.kind == "key_figure" and "Revenue" in h.headline)
    assert "Total net sales were $416.2 billion" in revenue.quotes["new"]["text"]
    assert not any(h.kind == "number_change" and "$416.2 billion" in (h.quotes["new"] or {}).get("text", "") for h in found)


def test_offline_summaries_cite_highlights_and_lead_with_key_figures():
    found, diff = ranked({"7": FILLER + ["Net sales were $391.0 billion in fiscal 2024, driven by services."]},
                         {"7": FILLER + ["Net sales were $416.2 billion in fiscal 2025, driven by services and wearables."]},
                         KEY_FIGURES)
    result = OfflineSummarizer().summarize(diff, highlights=found)
    first = result.executive_sentences[0]
    assert first.text.startswith("Revenue rose 6.4%") and first.highlights == (found[0].id,)
    assert all(e.text.endswith((".", "…")) and " | " not in e.text for e in result.executive_sentences)
    assert result.executive_summary == " ".join(e.text for e in result.executive_sentences)
    assert all(c.highlights for s in result.items.values() for c in s.key_changes)


def test_a_summary_that_reverses_the_direction_of_what_it_cites_is_blocking():
    found, _ = ranked({}, {}, KEY_FIGURES)
    revenue = next(h for h in found if "Revenue" in h.headline)
    wrong = AiSummaries("anthropic", "m", {}, "Revenue fell sharply.", executive_sentences=(ExecutiveSentence("Revenue fell sharply.", (revenue.id,)),))
    issues = check_directions(wrong, found)
    assert [(i.code, i.severity) for i in issues] == [("AI_DIRECTION_CONTRADICTED", "blocking")]
    right = AiSummaries("anthropic", "m", {}, "Revenue rose.", executive_sentences=(ExecutiveSentence("Revenue rose 6.4%.", (revenue.id,)),))
    assert check_directions(right, found) == []
    item_level = AiSummaries("anthropic", "m", {"7": ItemSummary("7", "h", (KeyChange("Sales declined.", "numbers", "high", "q", (revenue.id,)),))},
                             "x")
    assert [i.item for i in check_directions(item_level, found)] == ["7"]


def test_wording_keeps_signs_units_and_losses():
    assert wording.money(-1_300_000) == "\u2212$1.3 million" and wording.money(7.46, "USD/share") == "$7.46"
    assert wording.change_sentence("Net income", -2.2e9, -11.8e9, "USD") == (
        "Net income was a loss of $11.8 billion: the loss widened from $2.2 billion.")
    assert wording.change_sentence("Gross margin", 0.462, 0.469, "pure") == "Gross margin rose 0.7 points to 46.9%, from 46.2%."
    assert wording.change_sentence("Operating income", 1e9, -5e8, "USD").startswith("Operating income swung to \u2212$500.0 million")
    # PG FY2025: a charge gone ("—") read "fell 100% to $0.00"
    assert wording.change_sentence("Tax Act charge", 592e6, 0.0, "USD") == "Tax Act charge fell to nil, from $592.0 million."


def test_a_nil_percent_cell_is_a_rate_not_an_amount():
    """PG FY2025: "Net sales | $29,617 | $29,495 | —%" against "... | $29,495 | $28,371 | 4%" gave
    "Net sales fell 100% to $0.00 in 2024, from $29.5 billion": the "—%" was read as an amount."""
    from number_changes import row_number_changes

    changes, _ = row_number_changes(["Net sales", "$29,495", "$28,371", "4%"], ["Net sales", "$29,617", "$29,495", "—%"],
                                    old_index=1, new_index=1)
    assert [(c.old_text, c.new_text) for c in changes] == [("$29,495", "$29,617"), ("4%", "—%")]
    assert [c.unit for c in changes] == ["USD", "%"]


def test_a_removed_paragraph_and_an_item_diff_without_filings_still_rank():
    diff = diff_item(ItemText("3", ItemStatus.PRESENT, "T", tuple(FILLER + ["We settled the patent lawsuit brought by a competitor in Texas."])),
                     ItemText("3", ItemStatus.PRESENT, "T", tuple(FILLER)), years=FiscalYears())
    assert diff.changes


# --- rules found by measuring against an analyst's list (bench/bench_highlights.py) ---------------


def test_the_key_figure_quotes_mdna_sentence_that_gives_the_reasons():
    """WMT FY2025: the analyst reads "total revenues increased $32.9 billion or 5.1%"; the key figure
    quotes MD&A's sentence about the move with its reasons, over one that only states the level."""
    found, _ = ranked({"7": FILLER + ["Net sales were $391.0 billion in fiscal 2024."]},
                      {"7": FILLER + ["Net sales were $416.2 billion in fiscal 2025.",
                                      "Total net sales increased $25.1 billion or 6.4%, primarily due to higher iPhone and Services sales."]},
                      KEY_FIGURES)
    revenue = next(h for h in found if h.kind == "key_figure" and h.headline.startswith("Revenue"))
    assert revenue.quotes["new"]["text"].startswith("Total net sales increased $25.1 billion or 6.4%, primarily due to")
    assert "stated in MD&A" in revenue.reasons


def test_a_paragraph_that_states_a_key_figure_again_ranks_below_it():
    row = "Total net sales | $ | {} | $ | {}"
    found, _ = ranked({"7": FILLER + ["(in millions) | 2024 | 2023", row.format("391,035", "383,285")]},
                      {"7": FILLER + ["(in millions) | 2025 | 2024", row.format("416,161", "391,035")]}, KEY_FIGURES)
    revenue = next(h for h in found if h.kind == "key_figure" and h.headline.startswith("Revenue"))
    others = [h for h in found if h is not revenue and "416" in h.headline]
    assert all(h.materiality < revenue.materiality * 0.5 for h in others)


def test_last_years_paragraph_dropped_is_not_news():
    """A dropped paragraph about the year that left the comparison is the year rolling forward; so is
    one the newer filing says again for the new year (NVDA FY2025 dropped "Data Center revenue for
    fiscal year 2024 was $47.5 billion, up 217%" and added "... fiscal year 2025 was up 142%")."""
    gone = "In fiscal 2023 compared with fiscal 2022, a warehouse fire in Ohio reduced inventory by $40 million."
    kept = "A warehouse fire in Ohio reduced inventory by $40 million, and we expect insurance to cover it."
    years = {"fiscal_years": KEY_FIGURES["fiscal_years"], "metrics": {}}
    found, _ = ranked({"7": FILLER + [gone]}, {"7": FILLER}, years)
    rolled = next(h for h in found if "warehouse fire" in (h.redline or ""))
    assert "the year that left the comparison" in rolled.reasons and rolled.materiality < 0.1
    found, _ = ranked({"7": FILLER + [kept]}, {"7": FILLER}, years)
    assert "the year that left the comparison" not in found[0].reasons and found[0].materiality > rolled.materiality
    old = highlights._shape("Data Center revenue for fiscal year 2024 was $47.5 billion, up 217% from fiscal year 2023.")
    new = highlights._shape("Data Center revenue for fiscal year 2025 was $115.2 billion, up 142% from fiscal year 2024.")
    assert highlights._said_again(old, [new]) and not highlights._said_again(old, [highlights._shape(FILLER[0])])


def test_an_expected_range_is_guidance_and_a_new_buyback_is_capital_return_news():
    found, _ = ranked(
        {"7": FILLER + ["In May 2024, the Company announced a share repurchase program of up to $110 billion."]},
        {"7": FILLER + ["Net sales are expected to be between $151.0 billion and $155.5 billion in the first quarter.",
                        "In May 2025, the Company announced a new share repurchase program of up to $100 billion and raised its "
                        "quarterly dividend from $0.25 to $0.26 per share."]})
    kinds = {h.kind: h for h in found}
    assert "guidance" in kinds and "$151.0 billion" in kinds["guidance"].headline
    assert "a new repurchase program or dividend" in kinds["capital_return"].reasons


def test_a_word_in_passing_does_not_make_a_transaction():
    found, _ = ranked({"7": FILLER + ["Cash used in investing activities was $3.6 billion, for capital expenditures."]},
                      {"7": FILLER + ["Cash used in investing activities was $3.7 billion, for capital expenditures, "
                                      "net of cash acquired."]})
    assert all(h.kind != "transaction" for h in found)


def test_a_figure_is_shown_once():
    row = "Purchases of property and equipment | {} | {}"
    found, _ = ranked({"7": FILLER + ["(in millions) | 2024 | 2023", row.format("(52,729)", "(48,133)"), "Other | 1",
                                      "(in millions) | 2024 | 2023", row.format("(52,729)", "(48,133)")]},
                      {"7": FILLER + ["(in millions) | 2025 | 2024", row.format("(77,658)", "(52,729)"), "Other | 2",
                                      "(in millions) | 2025 | 2024", row.format("(77,658)", "(52,729)")]})
    assert sum("Purchases of property and equipment" in h.headline for h in found) == 1


def test_a_quotes_link_finds_the_quoted_words():
    """Found in review (WMT FY2025): the quote was MD&A's operating cash flow sentence, its link the
    paragraph's first words ("We define free cash flow..."): a reader who clicked landed elsewhere."""
    from urllib.parse import unquote

    lead = "We define free cash flow as net cash provided by operating activities less capital expenditures."
    found, _ = ranked({"7": FILLER + [lead + " We had net cash provided by operating activities of $35.7 billion in fiscal 2024."]},
                      {"7": FILLER + [lead + " We had net cash provided by operating activities of $36.4 billion in fiscal 2025, "
                                      "up on higher sales at our stores and clubs."]})
    quoted = [q for h in found for q in h.quotes.values() if q and "#:~:text=" in (q.get("link") or "")]
    assert quoted
    for quote in quoted:
        words = unquote(quote["link"].split("#:~:text=")[1])
        assert quote["text"].startswith(words), (words, quote["text"])


def test_a_paragraph_moved_and_reworded_is_a_change():
    """ADBE FY2024: the remaining-performance-obligations bullet moved within MD&A and its figures
    changed ($17.22 billion -> $19.96 billion): moved, but not the same words."""
    bullet = "•Remaining performance obligations of {} billion as of {} increased by {} billion."
    others = [f"Our {segment} segment serves customers around the world through direct and partner sales channels."
              for segment in ("Digital Media", "Digital Experience", "Publishing and Advertising")]
    found, diff = ranked({"7": FILLER + [bullet.format("$17.22", "December 1, 2023", "$2.02"), *others]},
                         {"7": FILLER + [*others, bullet.format("$19.96", "November 29, 2024", "$2.75")]})
    assert "moved" in [c.kind for c in diff.items["7"].changes]
    assert any("$19.96 billion" in h.headline for h in found)


def test_a_cash_flow_paragraph_is_not_a_deal():
    """WMT FY2025: "Net cash used in investing activities increased $0.1 billion ... as well as the
    acquisition of VIZIO" led the report as a transaction; the acquisition is told where it happened."""
    old = "Net cash used in investing activities increased $3.6 billion for fiscal 2024, primarily due to capital expenditures."
    new = ("Net cash used in investing activities increased $0.1 billion for fiscal 2025, primarily due to capital expenditures "
           "as well as the acquisition of VIZIO for $1.9 billion.")
    found, _ = ranked({"7": FILLER + [old]}, {"7": FILLER + [new]})
    assert found and all(h.kind not in ("transaction", "capital_return") for h in found)


def test_a_move_explained_by_acquisitions_is_no_deal_and_headlines_are_the_filings_sentences():
    """MA 2024: "General and administrative expenses increased 14% ... an increase of 2 percentage points
    from a restructuring charge and 1 percentage point from acquisitions" read as a Transaction; PG 2025:
    "...unfavorable geographic mix of 1% and divestitures of 1%" too. Headlines carried labels."""
    from highlights import _DEAL, _EXPLAINS, _INCIDENTAL, _sentence

    sentence = "Net revenue from value-added services increased 17%, primarily driven by acquisitions and higher demand."
    match = _DEAL.search(sentence)
    assert match and _EXPLAINS.search(sentence[:match.start()])
    assert _INCIDENTAL.search("unfavorable geographic mix of 1% and divestitures of 1%")
    assert _INCIDENTAL.search("an increase of 1 percentage point from acquisitions")
    assert not _EXPLAINS.search("We completed our acquisition of Recorded Future"[:16])
    assert _sentence("•We completed the acquisitions of businesses for $2.8 billion") == "We completed the acquisitions of businesses for $2.8 billion."


def test_a_margin_that_turns_ranks_above_one_that_keeps_its_direction():
    """AAPL FY2025: "Products gross margin percentage decreased ... tariff costs" after FY2024's "Products
    gross margin and Products gross margin percentage increased" ranked 77th; an analyst reads it first."""
    older = {"7": FILLER + [
        "Products gross margin and Products gross margin percentage increased during 2024 compared to 2023 due to cost savings.",
        "Services gross margin percentage increased during 2024 compared to 2023 due to a different Services mix."]}
    newer = {"7": FILLER + [
        "Products gross margin percentage decreased during 2025 compared to 2024 primarily due to a different mix of products "
        "and tariff costs.",
        "Services gross margin percentage increased during 2025 compared to 2024 primarily due to a different Services mix "
        "and favorable costs."]}
    found, _ = ranked(older, newer)
    turned = next(h for h in found if "tariff costs" in h.headline)
    kept = next(h for h in found if "Services gross margin" in h.headline)
    assert any(r.startswith("Products gross margin percentage turned") for r in turned.reasons)
    assert not any("turned" in r for r in kept.reasons) and turned.rank < kept.rank
    # a cost or expense line is no result a reader follows for its direction; "general and administrative" is one line
    assert highlights._moves_of(["Cost of sales decreased by $1.6 billion in 2024."]) == {}
    assert highlights._moves_of(["General and administrative income increased in 2024."]) == {"general and administrative income": {"up"}}


def test_a_risk_factor_rewritten_at_length_keeps_its_new_statements_not_its_start():
    """NVDA FY2025: the export-control risk factor grew by 1,291 words; its redline, cut at the start,
    lost what was new. The sentences naming what the older filing never named are kept, in order."""
    filler = " ".join(f"{{+We continue to monitor export rules and their effect number {n} on demand.+}}" for n in range(60))
    redline = (filler + " {+On January 15, 2025, the USG published the AI Diffusion IFR in the Federal Register.+} "
               "We sell worldwide. " + filler)
    clipped = highlights._new_statements(redline, frozenset({"we", "usg"}), limit=600)
    assert "AI Diffusion IFR" in clipped and len(clipped) <= 600
    assert clipped.count("{+") == clipped.count("+}") and "We sell worldwide" not in clipped


def test_a_cost_line_moving_ranks_below_news_of_the_same_size():
    """TSLA FY2024: five "Cost of ... revenue increased/decreased $N billion" paragraphs held the first 20
    above the $583 million restructuring charge; the margins and operating income already tell them."""
    older = {"7": FILLER + ["Cost of automotive sales revenue increased $1.10 billion, or 2%, in 2023.",
                            "Automotive sales revenue increased $1.20 billion, or 2%, in 2023."]}
    newer = {"7": FILLER + ["Cost of automotive sales revenue decreased $3.25 billion, or 5%, in 2024.",
                            "Automotive sales revenue decreased $3.25 billion, or 5%, in 2024."]}
    found, _ = ranked(older, newer, key_figures={"metrics": {"revenue": {"newer": {"value": 97.7e9}}}})
    cost = next(h for h in found if h.headline.startswith("Cost of automotive"))
    sales = next(h for h in found if h.headline.startswith("Automotive sales"))
    assert "a cost or expense line (the margins tell it)" in cost.reasons and cost.materiality < sales.materiality


def test_a_sentence_restating_a_key_figures_move_ranks_below_it():
    """BA FY2024: "Loss from operations increased by $9,934 million" led the report above the operating
    income key figure that says the same; a capex range to come is guidance, not a restatement."""
    figures = {"metrics": {
        "revenue": {"unit": "USD", "newer": {"value": 66.5e9}, "older": {"value": 77.8e9}, "change": {"absolute": -11.3e9}},
        "operating_income": {"unit": "USD", "newer": {"value": -10.707e9}, "older": {"value": -0.773e9},
                             "change": {"absolute": -9.934e9}},
        "capital_expenditures": {"unit": "USD", "newer": {"value": 23.8e9}, "older": {"value": 20.6e9}, "change": {"absolute": 3.2e9}}}}
    older = {"7": FILLER + ["Loss from operations decreased by $2,500 million in 2023 compared with 2022.",
                            "We expect capital expenditures of $20 billion to $24 billion in fiscal 2025."]}
    newer = {"7": FILLER + ["Loss from operations increased by $9,934 million in 2024 compared with 2023.",
                            "We expect capital expenditures of $21 billion to $24 billion in fiscal 2026."]}
    found, _ = ranked(older, newer, key_figures=figures)
    restating = next(h for h in found if h.headline.startswith("Loss from operations"))
    guidance = next(h for h in found if "capital expenditures of $21 billion" in h.headline)
    assert "restates a key figure" in restating.reasons and "restates a key figure" not in guidance.reasons


def test_a_plan_to_cut_jobs_is_news():
    """PG FY2025: "a plan for a reduction of up to 7,000 non-manufacturing overhead personnel" ranked 30th."""
    older = {"7": FILLER + ["The restructuring activities will be executed across the business units."]}
    newer = {"7": FILLER + ["The restructuring activities will be executed across the business units. These include a plan "
                            "for a reduction of up to 7,000 non-manufacturing overhead personnel by the end of fiscal 2027."]}
    found, _ = ranked(older, newer)
    cut = next(h for h in found if "7,000" in (h.redline or ""))
    assert "a workforce reduction" in cut.reasons
    assert not highlights._WORKFORCE_CUT.search("We reduced our inventory by 7,000 units.")


def test_a_ruling_now_told_in_a_risk_factor_is_shown_and_ranks():
    """GOOGL FY2024: "in August 2024, the U.S. District Court ... ruled that Google violated such antitrust
    laws" (ranked 38th, cut from the redline); NVDA FY2025: "regulators in China are investigating ..."
    lost among 1,291 new words. A ruling or an investigation now told comes first in the redline."""
    filler = " ".join(f"{{+The New Rule Number{n} applies to Product{n} shipments.+}}" for n in range(40))
    redline = filler + " {+For example, regulators in China are investigating whether complying discriminates.+} " + filler
    clipped = highlights._new_statements(redline, frozenset(), limit=500)
    assert "regulators in China are investigating" in clipped
    assert highlights._RULING.search("in August 2024, the U.S. District Court for the District of Columbia ruled that Google")
    assert not highlights._RULING.search("Courts may interpret these laws in ways that harm our business.")


def test_last_years_results_dropped_from_mdna_are_not_news_but_a_matter_closed_elsewhere_is():
    """GOOGL FY2024: "Dropped from MD&A: OI&E, net increased $4.9 billion from 2022 to 2023" held a place
    in the first 20; its year pair left the comparison. In Item 9A a dropped 2024 weakness still ranks."""
    context = highlights._Context(revenue=None, older_words=frozenset(), older_url=None, newer_url=None, newer_year=2024)
    assert highlights._rolled_off("OI&E, net increased $4.9 billion from 2022 to 2023.", "7", context)
    assert not highlights._rolled_off("OI&E, net increased $6.0 billion from 2023 to 2024.", "7", context)
    assert not highlights._rolled_off("In 2023 we identified a material weakness in our controls.", "9A", context)


def test_a_segment_named_with_net_revenue_is_found_by_the_revenue_words():
    """The words that name revenue (`Metric.said`) also name a segment's line: "Server products net revenue
    increased $5 billion" (the segment's own table of words, folded into Metric.said, had "net revenue")."""
    import re

    from key_figures import METRIC_BY_NAME

    pattern = re.compile(rf"Server products\W+(?:segment\W+)?{METRIC_BY_NAME['revenue'].said}", re.I)
    assert pattern.search("Server products net revenue increased $5 billion")
    assert pattern.search("Server products revenue increased $5 billion")
