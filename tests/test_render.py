"""The renderer (render.py): figures as readers write them, escaping, redlines, missing data, and a
page that loads nothing from anywhere. Pages of the corpus' real reports, in Chromium, are in
test_render_corpus.py."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser

import pytest

import render
from render import MINUS, change_of, figure, money, percent, redline_segments, render_html, render_markdown

OLDER_URL = "https://www.sec.gov/Archives/edgar/data/320193/000032019324000123/aapl-20240928.htm"
NEWER_URL = "https://www.sec.gov/Archives/edgar/data/320193/000032019325000079/aapl-20250927.htm"


def metric(label, unit, older, newer, *, prior=None, percent_change=None, restated=False, link=True):
    def point(value, period, url, fact):
        if value is None:
            return None
        return {"period_end": period, "value": value, "link": f"{url}#{fact}" if link else None, "line": label}

    base = prior if prior is not None else older
    change = None
    if base is not None and newer is not None:
        change = {"absolute": newer - base, "percent": percent_change, "basis": "newer_prior" if prior is not None else "older"}
    return {
        "label": label, "unit": unit,
        "older": point(older, "2024-09-28", OLDER_URL, "f-1"),
        "newer": point(newer, "2025-09-27", NEWER_URL, "f-2"),
        "newer_prior": point(prior, "2024-09-28", NEWER_URL, "f-3"),
        "change": change, "restated": restated,
    }


def highlight(rank, **fields):
    entry = {
        "id": f"h{rank}", "rank": rank, "kind": "text_modified", "item": "7", "item_title": None,
        "headline": f"Highlight number {rank}.", "old": None, "new": None, "change": None,
        "materiality": 0.5, "reasons": ["Item 7"], "quotes": {"old": None, "new": None}, "redline": None,
    }
    entry.update(fields)
    return entry


def sample_report() -> dict:
    """A report as report.py builds it, with the highlights of issue 14, small enough to read."""
    return {
        "schema_version": 1, "report_id": "9b2f4c1e-0000-4000-8000-000000000001", "job_id": "1d7e0a52-0000-4000-8000-000000000002",
        "ticker": "AAPL", "company_name": "Apple Inc.", "cik": "0000320193",
        "filings": {
            "older": {"form": "10-K", "accession": "0000320193-24-000123", "filing_date": "2024-11-01", "period_of_report": "2024-09-28",
                      "primary_document": "aapl-20240928.htm", "url": OLDER_URL, "bytes": 1503780, "sha256": "24a8" * 16,
                      "fetched_at": "2025-11-02T10:00:00+00:00", "from_cache": False, "note": None},
            "newer": {"form": "10-K", "accession": "0000320193-25-000079", "filing_date": "2025-10-31", "period_of_report": "2025-09-27",
                      "primary_document": "aapl-20250927.htm", "url": NEWER_URL, "bytes": 1520208, "sha256": "548a" * 16,
                      "fetched_at": "2025-11-02T10:00:01+00:00", "from_cache": True, "note": None},
        },
        "extraction": {"older": {"method": "toc_links"}, "newer": {"method": "toc_links"}},
        "key_figures": {
            "status": "partial", "reason": "not stated in both filings: operating_income", "source": "inline_xbrl",
            "fiscal_years": {"older": "2024-09-28", "newer": "2025-09-27"}, "stock_split": None,
            "metrics": {
                "revenue": metric("Revenue", "USD", 391035000000, 416161000000, prior=391035000000, percent_change=6.43),
                "operating_income": metric("Operating income", "USD", None, None),
                "net_income": metric("Net income", "USD", 93736000000, 88400000000, prior=93736000000, percent_change=-5.69),
                "eps_diluted": metric("Diluted earnings per share", "USD/share", 6.11, 7.46, prior=6.08, percent_change=22.7, restated=True),
                "gross_margin": metric("Gross margin", "pure", 0.462, 0.469, prior=0.462, link=False),
                "capital_expenditures": metric("Capital expenditures", "USD", 9447000000, 31000000000, prior=9447000000, percent_change=228.15),
            },
            "segments": [{"member": "aapl:EuropeSegmentMember", "label": "Europe", "kind": "segment", "status": "new",
                          "revenue": metric("Revenue", "USD", None, 111032000000), "operating_income": None}],
        },
        "diff": {
            "totals": {"items_changed": 2},
            "items": {
                "1A": {"presence": "both", "older_status": "present", "newer_status": "present", "changed": True, "substantive": True,
                       "flags": [], "stats": {"words_old": 9813, "words_new": 9682, "words_added": 2229, "words_removed": 2360,
                                              "share_changed_substantive": 0.235, "number_changes": 0},
                       "subsections": {"counts": {"added": 1, "removed": 1, "reworded": 1, "unchanged": 20}, "changes": [
                           {"kind": "added", "new_title": "Tariffs could hurt margins.", "new_category": "Business Risks"},
                           {"kind": "removed", "old_title": "Retail stores face risks.", "old_category": "Business Risks"},
                           {"kind": "reworded", "old_title": "Results of operations", "new_title": "Results and stock price",
                            "title_redline": "Results [-of operations-] {+and stock price+}", "words_added": 7, "words_removed": 18},
                           {"kind": "reworded", "old_title": "Same", "new_title": "Same", "trivial": True},
                       ]}},
                "7": {"presence": "both", "older_status": "present", "newer_status": "present", "changed": True, "substantive": True,
                      "flags": ["size_jump"], "stats": {"words_old": 2577, "words_new": 2940, "words_added": 1001, "words_removed": 638,
                                                        "share_changed_substantive": 0.2666, "number_changes": 54}},
                "4": {"presence": "both", "older_status": "not_applicable", "newer_status": "not_applicable", "changed": False,
                      "substantive": False, "flags": [], "stats": {"words_old": 2, "words_new": 2}},
                "1C": {"presence": "neither"},
            },
        },
        "ai_summaries": {
            "provider": "anthropic", "model": "claude-sonnet-5-5",
            "executive_summary": "Revenue rose 6.4% to $416.2 billion.",
            "executive_sentences": [{"text": "Revenue rose 6.4% to $416.2 billion, and net income fell 5.7%.", "highlights": ["h1", "h2", "h99"]}],
            "items": {"7": {"headline": "Capital spending guidance doubled.", "key_changes": [
                {"summary": "Capex guidance raised", "evidence": "We expect capital expenditures of $60-65 billion."}]}},
            "usage": {"requests": 9, "total_tokens": 23456, "cost_usd": 0.0631},
        },
        "highlights": [
            highlight(1, kind="key_figure", item=None, headline="Revenue rose 6.4% to $416.2 billion in fiscal 2025.",
                      old={"value": 391035000000, "unit": "USD", "period": "2024-09-28", "text": None},
                      new={"value": 416161000000, "unit": "USD", "period": "2025-09-27", "text": None},
                      change={"absolute": 25126000000, "percent": 6.43}, materiality=0.71, reasons=["key figure", "revenue +6.4%"],
                      quotes={"old": {"text": "Total net sales", "link": OLDER_URL + "#f-66"}, "new": {"text": "Total net sales", "link": NEWER_URL + "#f-78"}}),
            highlight(2, kind="guidance", headline="Capital expenditure guidance rose to $60–65 billion.",
                      old={"value": 37e9, "unit": "USD", "period": "2025", "text": "$30–37 billion"},
                      new={"value": 65e9, "unit": "USD", "period": "2026", "text": "$60–65 billion"},
                      change={"absolute": 28e9, "percent": 75.7}, materiality=0.66,
                      quotes={"old": {"text": "We expect capex of $30–37 billion.", "link": OLDER_URL + "#:~:text=We%20expect%20capex"},
                              "new": {"text": "We expect capex of $60–65 billion.", "link": NEWER_URL + "#:~:text=We%20expect%20capex"}},
                      redline="We expect capex of [-$30–37-] {+$60–65+} billion."),
            highlight(3, kind="number_change", headline="The medical care ratio rose to 85.5%.",
                      old={"value": 83.2, "unit": "%", "period": "2024", "text": None}, new={"value": 85.5, "unit": "%", "period": "2025", "text": None},
                      change={"absolute": 2.3, "percent": None}),
            highlight(4, kind="risk_factor_added", item="1A", headline="New risk factor: tariffs could hurt margins."),
        ],
        "quality": {"is_valid": True, "issues": [{"code": "CONTENT_ELSEWHERE", "severity": "warning", "message": "Item 8 is in Exhibit 13", "item": "8"}],
                    "refund": {"refund": False, "reason": None, "codes": []}},
        "ai_cost_usd": 0.0631, "total_tokens": 23456, "generation_time_seconds": 41.2,
        "generated_at": "2025-11-02T10:01:00+00:00", "worker_version": "0.1.0",
    }


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def section(page: str, anchor: str) -> str:
    start = page.index(f'<section id="{anchor}">')
    return page[start:page.index("</section>", start)]


# -- figures as a reader writes them ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value, unit, expected",
    [
        (416161000000, "USD", "$416.2 billion"),
        (391035000000, "USD", "$391.0 billion"),
        (-1300000, "USD", f"{MINUS}$1.3 million"),
        (2.1e12, "USD", "$2.1 trillion"),
        (999960000, "USD", "$1.0 billion"),  # not "$1,000.0 million"
        (12345, "USD", "$12,345"),
        (7.46, "USD/share", "$7.46"),
        (-0.5, "USD/share", f"{MINUS}$0.50"),
        (0.469, "pure", "46.9%"),
        (6.4, "%", "6.4%"),
        (4.75, "%", "4.75%"),
        (-190, "bps", f"{MINUS}190 bps"),
        (14840000000, "shares", "14.8 billion shares"),
        (166000, "employees", "166,000 employees"),
        (None, "USD", "\u2014"),
        (float("nan"), "USD", "\u2014"),
    ],
)
def test_figures_are_written_with_their_unit_and_a_real_minus(value, unit, expected):
    assert figure(value, unit) == expected


def test_changes_read_as_a_signed_percentage_and_rates_in_points():
    assert change_of({"absolute": 25126000000, "percent": 6.43}, "USD") == ("+6.4%", "+$25.1 billion", 1)
    assert change_of({"absolute": -5336000000, "percent": -5.69}, "USD") == (f"{MINUS}5.7%", f"{MINUS}$5.3 billion", -1)
    assert change_of({"absolute": 1.38, "percent": 22.7}, "USD/share") == ("+22.7%", "+$1.38", 1)
    assert change_of({"absolute": 0.0229, "percent": None}, "pure") == ("+2.3 pp", None, 1)  # a margin: points, not percent
    assert change_of({"absolute": 2.3, "percent": None}, "%") == ("+2.3 pp", None, 1)
    assert change_of({"absolute": 0, "percent": 0.0}, "USD")[0] == "0.0%"
    assert change_of(None, "USD") == ("\u2014", None, 0)
    assert percent(581.3, plus=True) == "+581%" and percent(-5.7) == f"{MINUS}5.7%" and money(-2e9, plus=True) == f"{MINUS}$2.0 billion"


def test_the_key_figures_table_has_signs_units_restatements_and_missing_values():
    figures = section(render_html(sample_report()), "key-figures")
    assert "$391.0 billion" in figures and "$416.2 billion" in figures and "+6.4%" in figures and "+$25.1 billion" in figures
    assert f'<span class="down">{MINUS}5.7%</span>' in figures and f"{MINUS}$5.3 billion" in figures
    assert "$6.08" in figures and "first reported as $6.11" in figures  # the restated prior year, and the original
    assert "46.2%" in figures and "46.9%" in figures and "+0.7 pp" in figures
    assert re.search(r"Operating income.*?\u2014.*?\u2014", figures, re.S)  # a metric neither filing states
    assert "not stated in both filings: operating_income" in figures
    assert "new segment" in figures
    assert not re.search(r"(?<![\w-])-\d", " ".join(Tags(figures).text)), "a hyphen where a minus sign belongs"


def test_the_chart_draws_falls_left_of_zero_and_clips_large_changes_at_the_edge():
    chart = section(render_html(sample_report()), "key-figures").split("<svg", 1)[1].split("</svg>", 1)[0]
    zero = float(re.search(r'<line class="zero" x1="([\d.]+)"', chart).group(1))
    bars = {label: (float(x), float(w)) for label, x, w in re.findall(
        r'<text x="0" y="[\d.]+">([^<]+)</text>\s*<rect class="bar-\w+" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', chart)}
    assert bars["Revenue"][0] == pytest.approx(zero, abs=0.1) and bars["Revenue"][1] > 0
    assert bars["Net income"][0] + bars["Net income"][1] == pytest.approx(zero, abs=0.1)  # a fall ends at zero
    assert "<path" in chart and "+228%" in chart  # capex +228%: past the axis, drawn to the edge, labelled
    assert "Gross margin" not in chart  # a rate is not a money figure: in the table, not on this axis
    assert f"Net income {MINUS}5.7%" in chart  # the description a screen reader reads


# -- escaping and nothing loaded from anywhere -----------------------------------------------------

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" \'single\' </td></table>'


def hostile_report() -> dict:
    report = sample_report()
    report["company_name"] = "Evil " + HOSTILE
    report["ticker"] = "<b>EV</b>"
    report["filings"]["older"]["note"] = HOSTILE
    report["key_figures"]["metrics"]["revenue"]["label"] = HOSTILE
    report["key_figures"]["reason"] = HOSTILE
    report["ai_summaries"]["executive_sentences"][0]["text"] = HOSTILE
    report["ai_summaries"]["items"]["7"]["key_changes"][0]["evidence"] = HOSTILE
    first = report["highlights"][1]
    first["headline"] = HOSTILE
    first["reasons"] = [HOSTILE]
    first["old"]["text"] = HOSTILE
    first["quotes"]["old"] = {"text": HOSTILE, "link": 'javascript:alert(1)'}
    first["quotes"]["new"] = {"text": HOSTILE, "link": NEWER_URL + '#"><script>alert(2)</script>'}
    first["redline"] = f"a [-{HOSTILE}-] {{+{HOSTILE}+}} b"
    report["highlights"][0]["id"] = '"><script>alert(3)</script>'
    report["diff"]["items"]["1A"]["subsections"]["changes"][0]["new_title"] = HOSTILE
    report["diff"]["items"]["1A"]["subsections"]["changes"][2]["title_redline"] = f"[-{HOSTILE}-] {{+ok+}}"
    report["quality"]["issues"][0]["message"] = HOSTILE
    report["quality"]["refund"] = {"refund": True, "reason": HOSTILE, "codes": ["X"]}
    return report


ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "nav", "section", "article", "footer", "figure",
    "figcaption", "details", "summary", "h1", "h2", "h3", "p", "ul", "ol", "li", "dl", "dt", "dd", "div", "span", "strong",
    "sup", "a", "table", "thead", "tbody", "tr", "th", "td", "blockquote", "del", "ins",
    "svg", "desc", "line", "rect", "path", "text",
}


def test_every_value_from_the_report_is_escaped():
    page = render_html(hostile_report())
    tags = Tags(page)
    assert {tag for tag, _ in tags.tags} <= ALLOWED_TAGS
    assert not any(name.startswith("on") for _, attrs in tags.tags for name in attrs)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page and "&amp; &quot;quotes&quot; &#x27;single&#x27;" in page
    assert "<del>&lt;script&gt;" in page and "<ins>&lt;script&gt;" in page  # escaped inside the redline markup too
    assert 'href="javascript:' not in page and "alert(1)" not in [attrs.get("href") for _, attrs in tags.tags]
    assert f"<h1>Evil {render._e(HOSTILE)} (&lt;b&gt;EV&lt;/b&gt;)</h1>" in page
    assert "Evil " + HOSTILE in "".join(tags.text)  # a reader sees exactly what the report says


def test_only_the_filings_are_linked_and_nothing_is_loaded():
    page = render_html(sample_report())
    for pattern in (r"\bsrc\s*=", r"@import", r"url\s*\(", r"<link\b", r"<script\b", r"<iframe\b", r"<img\b", r"<object\b", r"<embed\b", r"xlink:href"):
        assert not re.search(pattern, page, re.I), pattern
    assert "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#x27;none&#x27;;" in page
    hrefs = [attrs["href"] for tag, attrs in Tags(page).tags if "href" in attrs]
    assert hrefs and all(h.startswith("#") or h.split("#", 1)[0] in (OLDER_URL, NEWER_URL) for h in hrefs), hrefs
    assert OLDER_URL in hrefs and NEWER_URL in hrefs  # the header links both filings
    assert NEWER_URL + "#:~:text=We%20expect%20capex" in hrefs and NEWER_URL + "#f-2" in hrefs  # quotes and figures link their source


# -- redlines ----------------------------------------------------------------------------------------


def test_redline_markup_becomes_del_and_ins():
    assert redline_segments("We expect [-$30–37-] {+$60–65+} billion.") == (
        ("same", "We expect "), ("del", "$30–37"), ("same", " "), ("ins", "$60–65"), ("same", " billion."))
    highlights = section(render_html(sample_report()), "highlights")
    assert "We expect capex of <del>$30–37</del> <ins>$60–65</ins> billion." in highlights
    risks = section(render_html(sample_report()), "risk-factors")
    assert "Results <del>of operations</del> <ins>and stock price</ins>" in risks
    markdown = render_markdown(sample_report())
    assert "We expect capex of ~~$30–37~~ **$60–65** billion." in markdown


def test_long_unchanged_runs_in_a_redline_are_shortened_around_the_change():
    words = " ".join(f"w{n}" for n in range(200))
    segments = redline_segments(f"{words} [-old-] {{+new+}} {words}")
    text = "".join(t for _, t in segments)
    assert ("del", "old") in segments and ("ins", "new") in segments
    assert text.startswith("\u2026 w188") and text.endswith("w11 \u2026")  # 12 words of context on each side
    assert len(text.split()) < 40
    middle = redline_segments(f"[-a-] {words} {{+b+}}")
    assert "w11 \u2026 w188" in "".join(t for _, t in middle)
    assert redline_segments("no markup at all") == (("same", "no markup at all"),)
    assert redline_segments("broken [-markup") == (("same", "broken [-markup"),)


# -- what a report may lack --------------------------------------------------------------------------


def test_a_report_without_highlights_or_key_figures_still_renders():
    report = sample_report()
    del report["highlights"]
    report["key_figures"] = {"status": "unavailable", "reason": "the financial statements are not in the primary document", "metrics": {}, "segments": []}
    page = render_html(report)
    assert "Key figures are not available: the financial statements are not in the primary document." in page
    assert "<svg" not in page and 'class="figures"' not in page
    assert "made before they were part of the report" in page
    report["highlights"] = []
    assert "No change in these filings ranked as a highlight." in render_html(report)
    del report["key_figures"]
    assert "Key figures are not available" in render_html(report)


@pytest.mark.parametrize("report", [{}, {"ticker": "X"}, {"filings": None, "diff": {"items": None}, "quality": None, "highlights": None}])
def test_a_nearly_empty_report_renders_every_section(report):
    page = render_html(report)
    positions = [page.index(f'<section id="{s}">') for s in ("key-figures", "summary", "highlights", "risk-factors", "items", "quality", "provenance")]
    assert positions == sorted(positions)
    assert render_markdown(report).startswith("# ")


def test_a_refunded_report_says_so_with_its_reason():
    report = sample_report()
    report["quality"] = {"is_valid": False, "issues": [{"code": "ITEM_MISSING", "severity": "blocking", "message": "Item 7 was not found", "item": "7"}],
                         "refund": {"refund": True, "reason": "ITEM_MISSING: Item 7 was not found", "codes": ["ITEM_MISSING"]}}
    quality = section(render_html(report), "quality")
    assert "Below standard: the report token was refunded." in quality and "Reason: ITEM_MISSING: Item 7 was not found" in quality
    assert 'class="verdict failed"' in quality and "<td>blocking</td><td>ITEM_MISSING</td>" in quality
    passed = section(render_html(sample_report()), "quality")
    assert "Passed every quality check (1 warning below)." in passed and "CONTENT_ELSEWHERE" in passed


# -- the page's structure ----------------------------------------------------------------------------


def test_sections_come_in_order_with_real_headings_and_tables():
    page = render_html(sample_report())
    tags = [tag for tag, _ in Tags(page).tags]
    assert tags.count("h1") == 1 and tags.count("h2") == 7 and "h3" in tags and tags.count("table") >= 4
    positions = [page.index(f'<section id="{s}">') for s in ("key-figures", "summary", "highlights", "risk-factors", "items", "quality", "provenance")]
    assert positions == sorted(positions)
    assert page.index("<header>") < positions[0]
    assert '<details><summary>Per-item statistics (3 items)</summary>' in page  # 1C (in neither filing) left out
    assert "@media print" in page and "@page" in page and "@media (max-width:40rem)" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


def test_the_header_names_the_company_years_dates_and_links_both_filings():
    header = render_html(sample_report()).split("</header>", 1)[0]
    assert "<h1>Apple Inc. (AAPL)</h1>" in header and "FY2025 compared with FY2024" in header
    assert "year ended September 27, 2025" in header and f'<a href="{OLDER_URL}" target="_blank" rel="noopener noreferrer">Filed November 1, 2024</a>' in header
    assert f'href="{NEWER_URL}"' in header and "Filed October 31, 2025" in header


def test_highlights_are_ranked_with_values_quotes_and_citations():
    page = render_html(sample_report())
    highlights = section(page, "highlights")
    assert highlights.index('id="h1"') < highlights.index('id="h2"') < highlights.index('id="h3"')
    assert "FY2024: <strong>$391.0 billion</strong> \u2192 FY2025: <strong>$416.2 billion</strong>" in highlights
    assert "FY2025: <strong>$30–37 billion</strong>" in highlights  # the text as the highlight writes it
    assert "83.2%" in highlights and "+2.3 pp" in highlights
    assert "Both filings" in highlights and f'<a href="{OLDER_URL}#f-66" target="_blank" rel="noopener noreferrer">older filing</a>' in highlights
    summary = section(page, "summary")
    assert '<a href="#h1" aria-label="highlight 1">1</a>' in summary and "#h99" not in summary  # an unknown id is not cited
    assert "Written by Claude (claude-sonnet-5-5)." in summary


def test_highlights_past_the_first_twenty_are_one_click_away():
    report = sample_report()
    report["highlights"] = [highlight(n) for n in range(60, 0, -1)]  # out of order: ranked by `rank`
    highlights = section(render_html(report), "highlights")
    opened, folded = highlights.split("<details>", 1)
    assert opened.count('class="highlight"') == 20 and folded.count('class="highlight"') == 40
    assert "40 more highlights (21\u201360)" in folded and opened.index('id="h1"') < opened.index('id="h20"')


def test_the_report_renders_the_same_before_and_after_it_is_stored_as_json():
    """Found by the pipeline test: in the worker the report still holds tuples where the stored JSON
    has lists, and the item summaries were missing from the page the worker stored."""

    def with_tuples(value):
        if isinstance(value, dict):
            return {k: with_tuples(v) for k, v in value.items()}
        if isinstance(value, list):
            return tuple(with_tuples(v) for v in value)
        return value

    assert render_html(with_tuples(sample_report())) == render_html(sample_report())
    assert render_markdown(with_tuples(sample_report())) == render_markdown(sample_report())


def test_rendering_does_not_change_the_report():
    report = sample_report()
    before = copy.deepcopy(report)
    render_html(report)
    render_markdown(report)
    assert report == before


# -- Markdown ----------------------------------------------------------------------------------------


def test_markdown_has_the_same_sections_as_tables_and_escapes_markdown():
    report = sample_report()
    report["key_figures"]["metrics"]["revenue"]["label"] = "Revenue | net *sales* <b>"
    markdown = render_markdown(report)
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings == ["## Key figures", "## Executive summary", "## Highlights, most material first", "## Risk factors",
                        "## Item by item", "## Quality", "## Provenance and cost"]
    assert markdown.startswith("# Apple Inc. (AAPL)\n")
    assert "| Figure | FY2024 | FY2025 | Change |\n|---|---:|---:|---:|" in markdown
    assert f"| Revenue \\| net \\*sales\\* \\<b\\> | [$391.0 billion]({NEWER_URL}#f-3) | [$416.2 billion]({NEWER_URL}#f-2) | +6.4% (+$25.1 billion) |" in markdown
    assert f"{MINUS}5.7%" in markdown and "[\\[1\\]](#h1)" in markdown
    assert '### <a id="h2"></a>2. Capital expenditure guidance rose to $60–65 billion.' in markdown
    assert "<details><summary>Per-item statistics</summary>" in markdown


def test_markdown_escapes_hostile_text():
    markdown = render_markdown(hostile_report())
    assert set(re.findall(r"(?<!\\)</?(\w+)", markdown)) <= {"details", "summary", "a"}  # only the writer's own tags
    assert "\\<script\\>" in markdown and "javascript:" not in markdown
