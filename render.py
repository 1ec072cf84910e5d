"""Rendering: the report object as a page a person reads, in HTML and in Markdown.

    render_html(report) -> str       one self-contained page: inline CSS and SVG, no script, nothing
                                     loaded from anywhere (its Content-Security-Policy tells the
                                     browser so); real headings and tables; fits a 390 px phone and a
                                     1280 px screen; prints on A4 and Letter
    render_markdown(report) -> str   the same content as GitHub-flavoured Markdown

Both are pure functions of the report object (report.py; README "The report object"; the ranked
`highlights` of issue 14). Both go through one view (`_view`), which decides what is shown, in which
order, with every figure formatted once ("$416.2 billion", "−5.7%" with a real minus sign, "46.9%",
"$7.46" per share); the two writers only escape and lay it out, so the page and the Markdown cannot
disagree. What a report lacks (no highlights in reports made before them, key figures unavailable,
no risk factors) is said in a sentence, never an error.

Sections, in order: header (company, fiscal years, filing dates, links to both filings); key
figures with the year-over-year change and a chart; executive summary; ranked highlights with
redlines and source links; risk factors new, removed and reworded; item by item (collapsed); the
quality verdict; provenance and cost.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import defaults
from form_10k import ITEM_ORDER, ITEM_TITLES
from wording import DASH, MINUS, figure, money, percent  # noqa: F401  (money: the figures' one rule, re-exported)
from wording import finite as _finite
from wording import sign as _sign

OPEN_HIGHLIGHTS = defaults.HIGHLIGHTS_OPEN  # highlights shown open; the rest of the ranked list is one click away
REDLINE_CONTEXT_WORDS = 12  # an unchanged run longer than twice this keeps this many words at each end
CHART_MAX_PERCENT = 100.0  # the chart's axis ends here; a larger change is drawn to the edge and labelled

# --------------------------------------------------------------------------------------------------
# Figures, formatted for readers
# --------------------------------------------------------------------------------------------------

def change_of(change: dict | None, unit: str | None) -> tuple[str, str | None, int]:
    """(the change as read first, the other form or None, direction -1/0/+1) of a `change` object.

    Money, counts and per-share amounts read as a percentage with the amount beside it; a rate
    (`pure`, `%`) changes by percentage points, never by a percentage of itself."""
    if not change:
        return DASH, None, 0
    absolute, relative = change.get("absolute"), change.get("percent")
    direction = _direction(absolute if _finite(absolute) else relative)
    if unit == "pure" and _finite(absolute):  # margins: one decimal, as the margins themselves
        return f"{_sign(absolute, plus=True)}{abs(absolute) * 100:.1f} pp", None, direction
    if unit == "%" and _finite(absolute):
        return figure(absolute, "pp", plus=True), None, direction
    if unit in ("pp", "bps") and _finite(absolute):
        return figure(absolute, unit, plus=True), None, direction
    amount = figure(absolute, unit, plus=True) if _finite(absolute) else None
    if _finite(relative):
        return percent(relative, plus=True), amount, direction
    return amount or DASH, None, direction


def _direction(value: Any) -> int:
    return 0 if not _finite(value) or value == 0 else (1 if value > 0 else -1)


def _date(text: Any) -> str:
    """"2025-09-27" -> "September 27, 2025"; anything else as it is."""
    if not isinstance(text, str):
        return DASH
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return text
    return f"{day:%B} {day.day}, {day.year}"


def _period(text: Any) -> str | None:
    """A value's period as a reader says it: "FY2024" for a year end or a year, else as written."""
    if not isinstance(text, str) or not text:
        return None
    if re.fullmatch(r"\d{4}", text):
        return f"FY{text}"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return f"FY{text[:4]}"
    if text == "prior":
        return "prior year"
    return text.replace("/", " to ")


# --------------------------------------------------------------------------------------------------
# The view: what the page shows, in order, formatted once
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filing:
    role: str  # "older" | "newer"
    year: str  # "FY2024"
    period_end: str
    filed: str
    form: str
    url: str | None
    document: str | None
    accession: str | None
    note: str | None


@dataclass(frozen=True)
class FigureRow:
    label: str
    older: str
    newer: str
    change: str
    change_detail: str | None
    direction: int
    note: str | None
    older_link: str | None
    newer_link: str | None


@dataclass(frozen=True)
class FigureGroup:
    title: str
    rows: tuple[FigureRow, ...]


@dataclass(frozen=True)
class Bar:
    label: str
    percent: float
    text: str


@dataclass(frozen=True)
class KeyFigures:
    available: bool
    note: str | None  # why figures are missing, restatements, a stock split
    groups: tuple[FigureGroup, ...]
    bars: tuple[Bar, ...]
    segments: tuple[FigureRow, ...]


@dataclass(frozen=True)
class Sentence:
    text: str
    cites: tuple[tuple[str, int], ...]  # (highlight id, rank)


@dataclass(frozen=True)
class Quote:
    side: str  # "Older filing" | "Newer filing" | "Both filings"
    text: str
    links: tuple[tuple[str, str], ...]  # (label, url) into the SEC documents


Segments = tuple[tuple[str, str], ...]  # ("same" | "del" | "ins", text)


@dataclass(frozen=True)
class Highlight:
    anchor: str
    rank: int
    headline: str
    kind: str
    item: str | None
    materiality: str | None
    reasons: tuple[str, ...]
    old: str | None
    new: str | None
    old_period: str | None
    new_period: str | None
    change: str | None
    change_detail: str | None
    direction: int
    quotes: tuple[Quote, ...]
    redline: Segments | None


@dataclass(frozen=True)
class RiskFactor:
    title: Segments
    category: str | None
    detail: str | None


@dataclass(frozen=True)
class RiskFactors:
    note: str | None  # set when there is nothing to compare
    added: tuple[RiskFactor, ...]
    removed: tuple[RiskFactor, ...]
    reworded: tuple[RiskFactor, ...]
    counts: dict[str, int]


@dataclass(frozen=True)
class ItemRow:
    item: str
    title: str
    words_old: str
    words_new: str
    added: str
    removed: str
    changed: str
    numbers: str
    notes: str


@dataclass(frozen=True)
class ItemSummary:
    item: str
    title: str
    headline: str
    changes: tuple[tuple[str, str | None], ...]  # (summary, evidence)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    text: str
    refund_reason: str | None
    issues: tuple[tuple[str, str, str, str], ...]  # (severity, code, item, message)


@dataclass(frozen=True)
class View:
    title: str
    company: str
    ticker: str
    cik: str | None
    older_year: str
    newer_year: str
    filings: tuple[Filing, ...]
    generated: str
    figures: KeyFigures
    summary: tuple[Sentence, ...]
    summary_by: str
    highlights: tuple[Highlight, ...]
    highlights_note: str | None
    risks: RiskFactors
    items: tuple[ItemRow, ...]
    item_summaries: tuple[ItemSummary, ...]
    verdict: Verdict
    provenance: tuple[tuple[str, str, str | None], ...]  # (label, value, link)


def _d(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list | tuple:
    """A list of the report; in the pipeline (before the report is stored as JSON) some are tuples."""
    return value if isinstance(value, (list, tuple)) else []


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _view(report: dict) -> View:
    filings = _d(report.get("filings"))
    older, newer = _d(filings.get("older")), _d(filings.get("newer"))
    years = _d(_d(report.get("key_figures")).get("fiscal_years"))
    older_year = _period(years.get("older") or older.get("period_of_report")) or "Older year"
    newer_year = _period(years.get("newer") or newer.get("period_of_report")) or "Newer year"
    if older_year == newer_year:  # a transition period: say the dates instead
        older_year, newer_year = _date(older.get("period_of_report")), _date(newer.get("period_of_report"))
    company = _s(report.get("company_name")) or _s(report.get("ticker")) or "Unknown company"
    ticker = _s(report.get("ticker"))
    highlights = _highlights(report, older_year, newer_year)
    ranks = {h.anchor: h.rank for h in highlights}
    summary, summary_by = _summary(report, ranks)
    return View(
        title=f"{company}{f' ({ticker})' if ticker else ''}: 10-K {newer_year} compared with {older_year}",
        company=company,
        ticker=ticker,
        cik=report.get("cik"),
        older_year=older_year,
        newer_year=newer_year,
        filings=tuple(_filing(role, f, year) for role, f, year in (("older", older, older_year), ("newer", newer, newer_year)) if f),
        generated=_date(report.get("generated_at")),
        figures=_key_figures(_d(report.get("key_figures")), older_year, newer_year),
        summary=summary,
        summary_by=summary_by,
        highlights=highlights,
        highlights_note=None if highlights else (
            "This report has no ranked highlights: it was made before they were part of the report."
            if "highlights" not in report else "No change in these filings ranked as a highlight."
        ),
        risks=_risk_factors(report),
        items=_item_rows(report),
        item_summaries=_item_summaries(report),
        verdict=_verdict(_d(report.get("quality"))),
        provenance=_provenance(report, older, newer),
    )


def _filing(role: str, filing: dict, year: str) -> Filing:
    return Filing(
        role=role,
        year=year,
        period_end=_date(filing.get("period_of_report")),
        filed=_date(filing.get("filing_date")),
        form=_s(filing.get("form")) or "10-K",
        url=_safe_url(filing.get("url")),
        document=filing.get("primary_document"),
        accession=filing.get("accession"),
        note=filing.get("note"),
    )


# -- key figures -------------------------------------------------------------------------------

_FIGURE_GROUPS = (
    ("Results", ("revenue", "gross_profit", "operating_income", "net_income", "eps_diluted", "gross_margin", "operating_margin", "net_margin")),
    ("Cash flow and capital return", ("operating_cash_flow", "capital_expenditures", "free_cash_flow", "share_repurchases", "dividends_per_share")),
    ("Balance sheet and shares", ("total_assets", "cash_and_equivalents", "long_term_debt", "stockholders_equity", "shares_outstanding")),
)
_CHART_LABELS = {
    "revenue": "Revenue", "gross_profit": "Gross profit", "operating_income": "Operating income",
    "net_income": "Net income", "eps_diluted": "Diluted EPS", "operating_cash_flow": "Operating cash flow",
    "capital_expenditures": "Capital expenditures", "free_cash_flow": "Free cash flow",
    "share_repurchases": "Share repurchases", "dividends_per_share": "Dividends per share",
    "total_assets": "Total assets", "cash_and_equivalents": "Cash", "long_term_debt": "Long-term debt",
    "stockholders_equity": "Equity",
}


def _key_figures(figures: dict, older_year: str, newer_year: str) -> KeyFigures:
    metrics = {name: m for name, m in _d(figures.get("metrics")).items() if isinstance(m, Mapping)}
    status = figures.get("status")
    if not metrics or status == "unavailable" or not figures:
        reason = figures.get("reason") if figures else "this report was made before key figures were part of it"
        return KeyFigures(False, f"Key figures are not available: {reason}." if reason else "Key figures are not available.", (), (), ())
    notes = []
    if status == "partial" and figures.get("reason"):
        notes.append(f"Some key figures are missing ({figures['reason']}).")
    if _finite(figures.get("stock_split")):
        notes.append(f"{older_year} per-share figures and share counts are as restated for the {figures['stock_split']}-for-1 stock split.")
    grouped = [(title, [n for n in names if n in metrics]) for title, names in _FIGURE_GROUPS]
    known = {n for _, names in _FIGURE_GROUPS for n in names}
    grouped.append(("Other", [n for n in metrics if n not in known]))
    groups = tuple(
        FigureGroup(title, tuple(_figure_row(metrics[n], older_year) for n in names)) for title, names in grouped if names
    )
    bars = tuple(
        Bar(_CHART_LABELS.get(n, _s(metrics[n].get("label")) or n), metrics[n]["change"]["percent"],
            percent(metrics[n]["change"]["percent"], plus=True))
        for _, names in grouped for n in names
        if metrics[n].get("unit") in ("USD", "USD/share") and _finite(_d(metrics[n].get("change")).get("percent"))
    )
    segments = []
    for segment in _l(figures.get("segments")):
        segment = _d(segment)
        for measure, word in (("revenue", "revenue"), ("operating_income", "operating income")):
            metric = _d(segment.get(measure))
            if metric.get("older") or metric.get("newer"):
                status_note = {"new": "new segment", "dropped": "no longer reported", "first_reported": "first reported",
                               "no_longer_reported": "no longer reported"}.get(segment.get("status"))
                row = _figure_row({**metric, "label": f"{_s(segment.get('label'))}: {word}"}, older_year)
                segments.append(replace(row, note="; ".join(filter(None, (status_note, row.note)))) if status_note else row)
    return KeyFigures(True, " ".join(notes) or None, groups, bars, tuple(segments))


def _figure_row(metric: dict, older_year: str) -> FigureRow:
    unit = metric.get("unit")
    prior = _d(metric.get("newer_prior")) or _d(metric.get("older"))
    newer = _d(metric.get("newer"))
    change, detail, direction = change_of(metric.get("change"), unit)
    note = None
    if metric.get("restated") and _d(metric.get("older")).get("value") is not None:
        note = f"{older_year} as restated in the newer filing; first reported as {figure(metric['older']['value'], unit)}."
    elif not metric.get("newer_prior") and metric.get("older") and metric.get("change"):
        note = f"{older_year} as reported in the older filing."
    return FigureRow(
        label=_s(metric.get("label")) or DASH,
        older=figure(prior.get("value"), unit),
        newer=figure(newer.get("value"), unit),
        change=change,
        change_detail=detail,
        direction=direction,
        note=note,
        older_link=_safe_url(prior.get("link")),
        newer_link=_safe_url(newer.get("link")),
    )


# -- executive summary -------------------------------------------------------------------------


def _summary(report: dict, ranks: dict[str, int]) -> tuple[tuple[Sentence, ...], str]:
    summaries = _d(report.get("ai_summaries"))
    provider = summaries.get("provider") or report.get("ai_provider")
    model = summaries.get("model") or report.get("ai_model")
    by = (f"Written by Claude ({model})." if model else "Written by Claude.") if provider == "anthropic" else (
        "Written from the filings by the offline summarizer (no AI)." if provider == "offline" else "")
    sentences = [
        Sentence(_s(s.get("text")).strip(), tuple((h, ranks[h]) for h in _l(s.get("highlights")) if h in ranks))
        for s in map(_d, _l(summaries.get("executive_sentences"))) if _s(s.get("text")).strip()
    ]
    if not sentences and _s(summaries.get("executive_summary")).strip():
        sentences = [Sentence(p.strip(), ()) for p in re.split(r"\n\s*\n", summaries["executive_summary"]) if p.strip()]
    return tuple(sentences), by


# -- highlights --------------------------------------------------------------------------------

_KIND_LABELS = {
    "key_figure": "Key figure", "segment": "Segment", "guidance": "Guidance",
    "risk_factor_added": "New risk factor", "risk_factor_removed": "Risk factor removed",
    "risk_factor_reworded": "Risk factor reworded", "legal": "Legal proceedings", "leadership": "Leadership",
    "transaction": "Transaction", "capital_return": "Capital return", "number_change": "Figure changed",
    "text_added": "Text added", "text_removed": "Text removed", "text_modified": "Text changed",
}


def _item_name(item: Any, title: Any = None) -> str | None:
    if not item:
        return None
    title = _s(title) or ITEM_TITLES.get(str(item), "")
    return f"Item {item}" + (f" ({title})" if title else "")


def _highlights(report: dict, older_year: str, newer_year: str) -> tuple[Highlight, ...]:
    entries = [h for h in map(_d, _l(report.get("highlights"))) if h.get("headline")]
    entries.sort(key=lambda h: h.get("rank") if _finite(h.get("rank")) else math.inf)
    shown = []
    for position, entry in enumerate(entries, start=1):
        old, new = _d(entry.get("old")), _d(entry.get("new"))
        unit = new.get("unit") or old.get("unit")
        change, detail, direction = change_of(entry.get("change"), unit)
        materiality = entry.get("materiality")
        shown.append(
            Highlight(
                anchor=_anchor(entry.get("id"), position),
                rank=int(entry["rank"]) if _finite(entry.get("rank")) else position,
                headline=_s(entry["headline"]).strip(),
                kind=_KIND_LABELS.get(_s(entry.get("kind")), _s(entry.get("kind")).replace("_", " ").capitalize()),
                item=_item_name(entry.get("item"), entry.get("item_title")),
                materiality=f"{materiality:.2f}" if _finite(materiality) else None,
                reasons=tuple(_s(r) for r in _l(entry.get("reasons")) if r),
                old=(_s(old.get("text")) or figure(old.get("value"), old.get("unit"))) if old else None,
                new=(_s(new.get("text")) or figure(new.get("value"), new.get("unit"))) if new else None,
                old_period=_period(old.get("period")) or older_year,
                new_period=_period(new.get("period")) or newer_year,
                change=change if entry.get("change") else None,
                change_detail=detail,
                direction=direction,
                quotes=_quotes(_d(entry.get("quotes"))),
                redline=redline_segments(entry["redline"]) if _s(entry.get("redline")).strip() else None,
            )
        )
    return tuple(shown)


def _anchor(value: Any, position: int) -> str:
    text = _s(value)
    return text if re.fullmatch(r"[A-Za-z][\w-]{0,40}", text) else f"h{position}"


def _quotes(quotes: dict) -> tuple[Quote, ...]:
    old, new = _d(quotes.get("old")), _d(quotes.get("new"))
    old_text, new_text = _s(old.get("text")).strip(), _s(new.get("text")).strip()
    old_url, new_url = _safe_url(old.get("link")), _safe_url(new.get("link"))
    if old_text and old_text == new_text:  # the same words in both years (a row label): once, linked into each
        links = tuple((label, url) for label, url in (("older filing", old_url), ("newer filing", new_url)) if url)
        return (Quote("Both filings", old_text, links),)
    return tuple(
        Quote(side, text, (("source", url),) if url else ())
        for side, text, url in (("Older filing", old_text, old_url), ("Newer filing", new_text, new_url)) if text
    )


_REDLINE_MARK = re.compile(r"\[-(.*?)-\]|\{\+(.*?)\+\}", re.S)


def redline_segments(markup: str, context_words: int = REDLINE_CONTEXT_WORDS) -> Segments:
    """`words [-removed-] {+added+} words` as (kind, text) pieces; long unchanged runs are shortened
    to `context_words` at each end around an ellipsis, so a one-word change in a long paragraph
    stays readable (and the page small)."""
    pieces: list[tuple[str, str]] = []
    at = 0
    for match in _REDLINE_MARK.finditer(markup):
        if match.start() > at:
            pieces.append(("same", markup[at:match.start()]))
        pieces.append(("del", match.group(1)) if match.group(1) is not None else ("ins", match.group(2)))
        at = match.end()
    if at < len(markup):
        pieces.append(("same", markup[at:]))
    out = []
    for n, (kind, text) in enumerate(pieces):
        if kind == "same":
            text = _shorten(text, context_words, keep_head=n > 0, keep_tail=n < len(pieces) - 1)
        if text:
            out.append((kind, text))
    return tuple(out)


def _shorten(text: str, keep: int, *, keep_head: bool, keep_tail: bool) -> str:
    words = text.split()
    if len(words) <= 2 * keep + 4:
        return text
    lead = " " if text[:1].isspace() else ""
    trail = " " if text[-1:].isspace() else ""
    head = " ".join(words[:keep]) + " " if keep_head else ""
    tail = " " + " ".join(words[-keep:]) if keep_tail else ""
    return f"{lead}{head}\u2026{tail}{trail}"


# -- risk factors ------------------------------------------------------------------------------


def _risk_factors(report: dict) -> RiskFactors:
    item = _d(_d(_d(report.get("diff")).get("items")).get("1A"))
    subsections = _d(item.get("subsections"))
    if not subsections:
        presence = item.get("presence")
        note = {
            "neither": "Neither filing has an Item 1A (Risk Factors).",
            "newer_only": "Only the newer filing has an Item 1A (Risk Factors): there is nothing to compare.",
            "older_only": "Only the older filing has an Item 1A (Risk Factors).",
        }.get(presence, "The risk factors could not be compared.")
        return RiskFactors(note, (), (), (), {})
    added, removed, reworded = [], [], []
    for change in map(_d, _l(subsections.get("changes"))):
        kind = change.get("kind")
        if kind == "added":
            added.append(RiskFactor((("same", _s(change.get("new_title"))),), change.get("new_category"), None))
        elif kind == "removed":
            removed.append(RiskFactor((("same", _s(change.get("old_title"))),), change.get("old_category"), None))
        elif kind == "reworded" and not change.get("trivial"):
            title = (redline_segments(change["title_redline"], context_words=40) if change.get("title_redline")
                     else (("same", _s(change.get("new_title"))),))
            words = [f"{change['words_added']:,} words added" if change.get("words_added") else None,
                     f"{change['words_removed']:,} removed" if change.get("words_removed") else None]
            reworded.append(RiskFactor(title, change.get("new_category"), ", ".join(filter(None, words)) or None))
    counts = {k: int(v) for k, v in _d(subsections.get("counts")).items() if _finite(v)}
    return RiskFactors(None, tuple(added), tuple(removed), tuple(reworded), counts)


# -- item by item ------------------------------------------------------------------------------

_FLAG_WORDS = {
    "not_found_in_older": "heading not found in the older filing",
    "not_found_in_newer": "heading not found in the newer filing",
    "status_changed": "status changed",
    "size_jump": "size jumped",
    "mostly_rewritten": "mostly rewritten",
}


def _count(value: Any) -> str:
    return f"{value:,}" if _finite(value) else DASH


def _item_rows(report: dict) -> tuple[ItemRow, ...]:
    items = _d(_d(report.get("diff")).get("items"))
    rows = []
    for item in [i for i in ITEM_ORDER if i in items] + [i for i in items if i not in ITEM_ORDER]:
        diff = _d(items[item])
        if diff.get("presence") == "neither":
            continue
        stats = _d(diff.get("stats"))
        notes = [_FLAG_WORDS.get(f, _s(f).replace("_", " ")) for f in _l(diff.get("flags"))]
        if diff.get("older_status") != diff.get("newer_status"):
            notes.append(f"{_s(diff.get('older_status')).replace('_', ' ')} \u2192 {_s(diff.get('newer_status')).replace('_', ' ')}")
        if not diff.get("changed"):
            notes.append("unchanged")
        elif not diff.get("substantive"):
            notes.append("only routine changes")
        share = stats.get("share_changed_substantive")
        rows.append(
            ItemRow(
                item=item,
                title=ITEM_TITLES.get(item, ""),
                words_old=_count(stats.get("words_old")),
                words_new=_count(stats.get("words_new")),
                added=_count(stats.get("words_added")),
                removed=_count(stats.get("words_removed")),
                changed=percent(share * 100) if _finite(share) else DASH,
                numbers=_count(stats.get("number_changes")),
                notes="; ".join(notes),
            )
        )
    return tuple(rows)


def _item_summaries(report: dict) -> tuple[ItemSummary, ...]:
    summaries = _d(_d(report.get("ai_summaries")).get("items"))
    found = []
    for item in [i for i in ITEM_ORDER if i in summaries] + [i for i in summaries if i not in ITEM_ORDER]:
        summary = _d(summaries[item])
        changes = tuple(
            (_s(c.get("summary")).strip(), _s(c.get("evidence")).strip() or None)
            for c in map(_d, _l(summary.get("key_changes"))) if _s(c.get("summary")).strip()
        )
        if summary.get("headline") or changes:
            found.append(ItemSummary(item, ITEM_TITLES.get(item, ""), _s(summary.get("headline")).strip(), changes))
    return tuple(found)


# -- quality, provenance -----------------------------------------------------------------------


def _verdict(quality: dict) -> Verdict:
    refund = _d(quality.get("refund"))
    issues = tuple(
        (_s(i.get("severity")), _s(i.get("code")), _item_name(i.get("item")) or "", _s(i.get("message")))
        for i in map(_d, _l(quality.get("issues")))
    )
    warnings = sum(1 for severity, *_ in issues if severity != "blocking")
    if not quality:
        return Verdict(False, "This report carries no quality verdict.", None, issues)
    if refund.get("refund"):
        reason = _s(refund.get("reason")) or ", ".join(_l(refund.get("codes"))) or "report quality below standard"
        return Verdict(False, "Below standard: the report token was refunded.", reason, issues)
    if quality.get("is_valid"):
        extra = f" ({warnings} warning{'s' if warnings != 1 else ''} below)" if warnings else ""
        return Verdict(True, f"Passed every quality check{extra}.", None, issues)
    return Verdict(False, "Did not pass every quality check.", None, issues)


def _when(text: Any) -> str:
    """An ISO timestamp as "December 4, 2026, 15:52 UTC"."""
    try:
        moment = datetime.fromisoformat(_s(text))
    except ValueError:
        return _s(text) or DASH
    zone = " UTC" if moment.utcoffset() is not None and not moment.utcoffset() else ""
    return f"{_date(moment.date().isoformat())}, {moment:%H:%M}{zone}"


def _provenance(report: dict, older: dict, newer: dict) -> tuple[tuple[str, str, str | None], ...]:
    rows: list[tuple[str, str, str | None]] = []
    extraction = _d(report.get("extraction"))
    for role, label, filing in (("older", "Older filing", older), ("newer", "Newer filing", newer)):
        if not filing:
            continue
        size = f", {filing['bytes'] / 1e6:.1f} MB" if _finite(filing.get("bytes")) else ""
        rows.append((label, f"{_s(filing.get('form')) or '10-K'} {_s(filing.get('accession'))}, {_s(filing.get('primary_document'))}{size}",
                     _safe_url(filing.get("url"))))
        fetched = "from the cache" if filing.get("from_cache") else "from SEC EDGAR"
        method = _d(extraction.get(role)).get("method")
        rows.append((f"{label}: fetched",
                     f"{_when(filing.get('fetched_at'))} {fetched}" + (f"; items found by {method.replace('_', ' ')}" if method else ""), None))
        if filing.get("sha256"):
            rows.append((f"{label}: SHA-256", _s(filing["sha256"]), None))
        if filing.get("note"):
            rows.append((f"{label}: note", _s(filing["note"]), None))
    source = _d(report.get("key_figures")).get("source")
    if source:
        rows.append(("Key figures from", {"inline_xbrl": "the filings' inline XBRL facts",
                                          "statement_tables": "the printed statement tables"}.get(source, source), None))
    summaries = _d(report.get("ai_summaries"))
    provider = summaries.get("provider") or report.get("ai_provider")
    model = summaries.get("model") or report.get("ai_model")
    if provider:
        rows.append(("Summaries", {"offline": "the offline summarizer (no AI)",
                                   "anthropic": f"Claude ({model})" if model else "Claude"}.get(provider, _s(provider)), None))
    usage = _d(summaries.get("usage"))
    tokens, cost = report.get("total_tokens", usage.get("total_tokens")), report.get("ai_cost_usd", usage.get("cost_usd"))
    if _finite(cost) and _finite(tokens):
        requests = f" in {usage['requests']:,} requests" if _finite(usage.get("requests")) else ""
        rows.append(("AI cost", f"${cost:,.4f} for {tokens:,} tokens{requests}" if tokens else "none (no AI requests)", None))
    if _finite(report.get("generation_time_seconds")):
        rows.append(("Generation time", f"{report['generation_time_seconds']:.1f} s", None))
    if report.get("generated_at") or report.get("worker_version"):
        version = f" by report worker {report['worker_version']}" if report.get("worker_version") else ""
        rows.append(("Generated", f"{_when(report.get('generated_at'))}{version}", None))
    for label, key in (("Report id", "report_id"), ("Job id", "job_id")):
        if report.get(key):
            rows.append((label, _s(report[key]), None))
    return tuple(rows)


def _safe_url(value: Any) -> str | None:
    """Only http(s) links reach the page: a `javascript:` or `data:` URL in a report is dropped."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.netloc else None


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------

CONTENT_SECURITY_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_CSS = """
:root{--fg:#1b1f24;--muted:#57606a;--rule:#d0d7de;--soft:#f6f8fa;--link:#0a58ca;--up:#1a7f37;--down:#b42318;
--ins:#dafbe1;--ins-fg:#0f5323;--del:#ffebe9;--del-fg:#86181d}
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;color:var(--fg);background:#fff;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:64rem;margin:0 auto;padding:1rem 1.25rem 3rem}
h1{font-size:1.75rem;line-height:1.2;margin:.5rem 0 .25rem}
h2{font-size:1.3rem;line-height:1.3;margin:2.25rem 0 .75rem;padding-bottom:.3rem;border-bottom:1px solid var(--rule)}
h3{font-size:1.05rem;line-height:1.35;margin:0 0 .35rem}
p,li,td,th,dd,dt,blockquote,summary,figcaption{overflow-wrap:break-word}
a{color:var(--link)}
.sub{color:var(--muted);margin:0 0 1rem}
.muted,.note{color:var(--muted);font-size:.9rem}
.filings{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:.75rem;margin:1rem 0;padding:0}
.filings>div{border:1px solid var(--rule);border-radius:6px;padding:.6rem .8rem;background:var(--soft)}
.filings dt{font-weight:600}.filings dd{margin:0}
nav.toc ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;margin:0;padding:.5rem 0;\
border-top:1px solid var(--rule);border-bottom:1px solid var(--rule);font-size:.95rem}
.table-wrap{overflow-x:auto;max-width:100%;margin:.5rem 0 1rem}
table{border-collapse:collapse;width:100%;font-size:.93rem}
caption{text-align:left;font-weight:600;padding:.25rem 0}
th,td{padding:.4rem .5rem;border-bottom:1px solid var(--rule);text-align:left;vertical-align:top}
thead th{border-bottom:2px solid var(--rule);font-size:.85rem;color:var(--muted);font-weight:600}
tbody th{font-weight:500}
table.provenance td{overflow-wrap:anywhere}table.provenance th{width:12rem}
table.stats td:nth-child(2){min-width:13rem}table.stats td:last-child{min-width:9rem}
tr.group th{background:var(--soft);font-weight:600;font-size:.85rem;text-transform:uppercase;letter-spacing:.03em;color:var(--muted)}
.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}thead th.num{white-space:normal}
.up{color:var(--up)}.down{color:var(--down)}
.detail{display:block;color:var(--muted);font-size:.82rem;white-space:normal}
.chart{margin:.5rem 0 1rem}
@media (min-width:64rem){.figures-layout{display:grid;grid-template-columns:minmax(0,1fr) 23rem;column-gap:2rem;align-items:start}
 .figures-layout .chart{order:2}}
.chart svg{display:block;width:100%;max-width:30rem;height:auto}
.chart text{font-size:14px;fill:var(--fg)}
.chart .axis{font-size:12px;fill:var(--muted)}
.chart .bar-up{fill:var(--up)}.chart .bar-down{fill:var(--down)}
.chart .zero{stroke:var(--fg);stroke-width:1}.chart .grid{stroke:var(--rule);stroke-width:1}
ol.highlights{list-style:none;margin:0;padding:0}
.highlight{border:1px solid var(--rule);border-radius:6px;padding:.75rem .9rem;margin:0 0 .8rem}
.rank{display:inline-block;min-width:1.6rem;color:var(--muted);font-variant-numeric:tabular-nums}
.meta{margin:0 0 .5rem;color:var(--muted);font-size:.85rem}
.values{margin:.25rem 0 .5rem;font-variant-numeric:tabular-nums}.values strong{white-space:nowrap}
blockquote{margin:.5rem 0;padding:.35rem .75rem;border-left:3px solid var(--rule);color:#32383f;font-size:.93rem}
blockquote p{margin:0}
blockquote footer{font-size:.8rem;color:var(--muted)}
.redline{margin:.5rem 0;padding:.5rem .75rem;background:var(--soft);border-radius:4px;font-size:.93rem}
del{background:var(--del);color:var(--del-fg);text-decoration:line-through}
ins{background:var(--ins);color:var(--ins-fg);text-decoration:underline}
details{margin:.5rem 0}
summary{cursor:pointer;font-weight:600}
.verdict{padding:.6rem .8rem;border-radius:6px;border:1px solid var(--rule)}
.verdict.passed{background:#f0fff4;border-color:#a6e3b8}
.verdict.failed{background:#fff5f5;border-color:#f5b5b0}
ul.risks{padding-left:1.2rem}ul.risks li{margin:.3rem 0}
@media (max-width:40rem){
 body{font-size:15px}main{padding:.75rem .75rem 2rem}h1{font-size:1.45rem}
 table{font-size:.88rem}th,td{padding:.35rem .35rem}
 table.figures thead{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%)}
 table.figures,table.figures tbody,table.figures tr,table.figures th,table.figures td{display:block}
 table.figures tr{display:grid;grid-template-columns:1fr 1fr;column-gap:.75rem;padding:.45rem 0;border-bottom:1px solid var(--rule)}
 table.figures th,table.figures td{border:0;padding:0;text-align:left}
 table.figures th[scope=row],table.figures tr.group th,table.figures td.change{grid-column:1/-1}
 table.figures td[data-label]::before{content:attr(data-label);display:block;color:var(--muted);font-size:.78rem}
 table.figures td.change::before{display:inline;margin-right:.4rem}
}
@page{margin:16mm 14mm}
@media print{
 body{font-size:10.5pt;line-height:1.4}main{max-width:none;padding:0}
 nav.toc{display:none}a{color:inherit;text-decoration:none}
 .filings a::after{content:" (" attr(href) ")";font-size:8pt;overflow-wrap:anywhere}
 .table-wrap{overflow:visible}
 th,td{padding:.25rem .3rem}
 table.stats{font-size:8.5pt}table.stats td:nth-child(2),table.stats td:last-child{min-width:0}
 details::details-content{content-visibility:visible;display:block}
 details>summary{list-style:none}
 h2,h3,summary{break-after:avoid}
 tr,.highlight,blockquote,.chart,.verdict,.filings>div{break-inside:avoid}
 thead{display:table-header-group}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
"""


def _e(value: Any) -> str:
    return html.escape(_s(value).replace("\x00", ""), quote=True)  # NUL is never text in HTML


def _a(text: str, url: str | None) -> str:
    """A link into a filing: opens beside the report (a framed page cannot show SEC.gov in its frame)."""
    return f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer">{_e(text)}</a>' if url else _e(text)


def _dir_class(direction: int) -> str:
    return {1: ' class="up"', -1: ' class="down"'}.get(direction, "")


def render_html(report: dict) -> str:
    """The report as one self-contained HTML page (UTF-8 text)."""
    view = _view(report)
    sections = [
        _html_header(view),
        _html_key_figures(view),
        _html_summary(view),
        _html_highlights(view),
        _html_risks(view),
        _html_items(view),
        _html_quality(view),
        _html_provenance(view),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CONTENT_SECURITY_POLICY)}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{_e(view.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(s for s in sections if s)
        + "\n</main>\n</body>\n</html>\n"
    )


def _html_header(view: View) -> str:
    filings = "".join(
        f'<div><dt>{_e(f.year)} ({"older" if f.role == "older" else "newer"} filing)</dt>'
        f"<dd>Form {_e(f.form)} for the year ended {_e(f.period_end)}</dd>"
        f"<dd>{_a(f'Filed {f.filed}', f.url)}</dd>"
        + (f'<dd class="note">{_e(f.note)}</dd>' if f.note else "")
        + "</div>"
        for f in view.filings
    )
    ticker = f" ({_e(view.ticker)})" if view.ticker else ""
    cik = f" \u00b7 CIK {_e(view.cik)}" if view.cik else ""
    toc = "".join(
        f'<li><a href="#{anchor}">{label}</a></li>'
        for anchor, label in (("key-figures", "Key figures"), ("summary", "Summary"), ("highlights", "Highlights"),
                              ("risk-factors", "Risk factors"), ("items", "Item by item"), ("quality", "Quality"),
                              ("provenance", "Sources"))
    )
    return (
        f"<header>\n<h1>{_e(view.company)}{ticker}</h1>\n"
        f'<p class="sub">Annual report (Form 10-K) for {_e(view.newer_year)} compared with {_e(view.older_year)}{cik}'
        + (f" \u00b7 report of {_e(view.generated)}" if view.generated != DASH else "")
        + f'</p>\n<dl class="filings">{filings}</dl>\n</header>\n'
        f'<nav class="toc" aria-label="Contents"><ul>{toc}</ul></nav>'
    )


def _html_key_figures(view: View) -> str:
    figures = view.figures
    out = ['<section id="key-figures">\n<h2>Key figures</h2>']
    if not figures.available:
        out.append(f'<p class="note">{_e(figures.note)}</p>\n</section>')
        return "\n".join(out)
    out.append('<div class="figures-layout">')
    if figures.bars:
        out.append(_svg_chart(figures.bars, view.older_year, view.newer_year))
    head = (
        f'<thead><tr><th scope="col">Figure</th><th scope="col" class="num">{_e(view.older_year)}</th>'
        f'<th scope="col" class="num">{_e(view.newer_year)}</th><th scope="col" class="num">Change</th></tr></thead>'
    )
    body = []
    for group in figures.groups:
        body.append(f'<tbody><tr class="group"><th colspan="4" scope="colgroup">{_e(group.title)}</th></tr>')
        body.extend(_html_figure_row(row, view) for row in group.rows)
        body.append("</tbody>")
    out.append(f'<div class="table-wrap"><table class="figures">{head}{"".join(body)}</table></div></div>')
    if figures.note:
        out.append(f'<p class="note">{_e(figures.note)}</p>')
    if figures.segments:
        rows = "".join(_html_figure_row(row, view) for row in figures.segments)
        out.append(
            f"<details><summary>Segments ({len(figures.segments)} figures)</summary>"
            f'<div class="table-wrap"><table class="figures">{head}<tbody>{rows}</tbody></table></div></details>'
        )
    out.append("</section>")
    return "\n".join(out)


def _html_figure_row(row: FigureRow, view: View) -> str:
    detail = f'<span class="detail">{_e(row.change_detail)}</span>' if row.change_detail else ""
    note = f'<span class="detail">{_e(row.note)}</span>' if row.note else ""
    return (
        f'<tr><th scope="row">{_e(row.label)}{note}</th>'
        f'<td class="num" data-label="{_e(view.older_year)}">{_a(row.older, row.older_link)}</td>'
        f'<td class="num" data-label="{_e(view.newer_year)}">{_a(row.newer, row.newer_link)}</td>'
        f'<td class="num change" data-label="Change"><span{_dir_class(row.direction)}>{_e(row.change)}</span>{detail}</td></tr>'
    )


def _svg_chart(bars: tuple[Bar, ...], older_year: str, newer_year: str) -> str:
    """Diverging bars of the year-over-year change, one axis for every money figure: their sizes
    span three orders of magnitude, so bars of the amounts themselves would hide all but revenue.
    The axis ends at CHART_MAX_PERCENT; a larger change runs to the edge, its label says how much."""
    width, label_w, value_w, row_h, top = 400, 146, 58, 26, 8
    low = max(-CHART_MAX_PERCENT, min(0.0, *(b.percent for b in bars)))
    high = min(CHART_MAX_PERCENT, max(0.0, *(b.percent for b in bars)))
    step = next(s for s in (5, 10, 20, 25, 50, 100) if max(-low, high) <= s * 4) if (low or high) else 5
    low, high = math.floor(low / step) * step, math.ceil(high / step) * step
    if low == high:
        high = step
    x0, x1 = label_w + 6, width - value_w - 6

    def x(p: float) -> float:
        return x0 + (max(low, min(high, p)) - low) / (high - low) * (x1 - x0)

    height = top + row_h * len(bars) + 22
    zero = x(0)
    parts = [
        f'<figure class="chart"><svg role="img" aria-labelledby="chart-title chart-desc" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f'<title id="chart-title">Change from {_e(older_year)} to {_e(newer_year)}</title>',
        f'<desc id="chart-desc">{_e("; ".join(f"{b.label} {b.text}" for b in bars))}</desc>',
    ]
    ticks = range(int(low), int(high) + 1, int(step))
    labelled_every = 1 if (x1 - x0) / max(len(ticks) - 1, 1) >= 44 else 2
    for tick in ticks:
        if tick:
            parts.append(f'<line class="grid" x1="{x(tick):.1f}" y1="{top - 4}" x2="{x(tick):.1f}" y2="{height - 18}"/>')
    for n, bar in enumerate(bars):
        y = top + n * row_h
        left, right = sorted((zero, x(bar.percent)))
        cls = "bar-up" if bar.percent >= 0 else "bar-down"
        parts.append(f'<text x="0" y="{y + 17}">{_e(bar.label)}</text>')
        parts.append(f'<rect class="{cls}" x="{left:.1f}" y="{y + 5}" width="{max(right - left, 1):.1f}" height="15" rx="2"/>')
        if bar.percent > high or bar.percent < low:  # clipped: a notch at the edge
            edge = x1 if bar.percent > high else x0
            tip = 7 if bar.percent > high else -7
            parts.append(f'<path class="{cls}" d="M{edge:.1f} {y + 3} l{tip} 9.5 l{-tip} 9.5 z"/>')
        parts.append(f'<text x="{width}" y="{y + 17}" text-anchor="end">{_e(bar.text)}</text>')
    axis_y = height - 4
    parts.append(f'<line class="zero" x1="{zero:.1f}" y1="{top - 4}" x2="{zero:.1f}" y2="{height - 18}"/>')
    for tick in ticks:
        if (tick // int(step)) % labelled_every == 0:
            label = f"{_sign(tick, plus=True)}{abs(tick)}%" if tick else "0"
            parts.append(f'<text class="axis" x="{x(tick):.1f}" y="{axis_y}" text-anchor="middle">{_e(label)}</text>')
    parts.append("</svg>")
    parts.append(f'<figcaption class="note">Year-over-year change, {_e(newer_year)} against {_e(older_year)}. '
                 'The table has the amounts.</figcaption></figure>')
    return "\n".join(parts)


def _html_summary(view: View) -> str:
    out = ['<section id="summary">\n<h2>Executive summary</h2>']
    if not view.summary:
        out.append('<p class="note">No executive summary was written for this report.</p>')
    for sentence in view.summary:
        cites = "".join(f'<sup><a href="#{_e(anchor)}" aria-label="highlight {rank}">{rank}</a></sup>' for anchor, rank in sentence.cites)
        out.append(f"<p>{_e(sentence.text)}{cites}</p>")
    if view.summary_by:
        out.append(f'<p class="note">{_e(view.summary_by)}</p>')
    out.append("</section>")
    return "\n".join(out)


def _html_segments(segments: Segments) -> str:
    tags = {"del": ("<del>", "</del>"), "ins": ("<ins>", "</ins>"), "same": ("", "")}
    return "".join(f"{tags[kind][0]}{_e(text)}{tags[kind][1]}" for kind, text in segments)


def _html_highlight(h: Highlight) -> str:
    meta = " \u00b7 ".join(filter(None, (h.kind, h.item, f"materiality {h.materiality}" if h.materiality else None)))
    reasons = f": {_e('; '.join(h.reasons))}" if h.reasons else ""
    parts = [f'<li class="highlight" id="{_e(h.anchor)}"><article>', f'<h3><span class="rank">{h.rank}.</span> {_e(h.headline)}</h3>',
             f'<p class="meta">{_e(meta)}{reasons}</p>']
    if h.old or h.new:
        values = []
        if h.old:
            values.append(f"{_e(h.old_period)}: <strong>{_e(h.old)}</strong>")
        if h.new:
            values.append(f"{_e(h.new_period)}: <strong>{_e(h.new)}</strong>")
        change = ""
        if h.change:
            detail = f" ({_e(h.change_detail)})" if h.change_detail else ""
            change = f" \u00b7 change <span{_dir_class(h.direction)}>{_e(h.change)}</span>{detail}"
        arrow = " \u2192 "
        parts.append(f'<p class="values">{arrow.join(values)}{change}</p>')
    if h.redline:
        parts.append(f'<p class="redline"><span class="muted">Redline: </span>{_html_segments(h.redline)}</p>')
    for quote in h.quotes:
        links = "".join(f" \u00b7 {_a(label, url)}" for label, url in quote.links)
        parts.append(f"<blockquote><p>{_e(quote.text)}</p><footer>{_e(quote.side)}{links}</footer></blockquote>")
    parts.append("</article></li>")
    return "".join(parts)


def _html_highlights(view: View) -> str:
    out = ['<section id="highlights">\n<h2>Highlights, most material first</h2>']
    if view.highlights_note:
        out.append(f'<p class="note">{_e(view.highlights_note)}</p>')
    first, rest = view.highlights[:OPEN_HIGHLIGHTS], view.highlights[OPEN_HIGHLIGHTS:]
    if first:
        out.append('<ol class="highlights">' + "\n".join(_html_highlight(h) for h in first) + "</ol>")
    if rest:
        out.append(
            f"<details><summary>{len(rest)} more highlights ({rest[0].rank}\u2013{rest[-1].rank})</summary>"
            '<ol class="highlights">' + "\n".join(_html_highlight(h) for h in rest) + "</ol></details>"
        )
    out.append("</section>")
    return "\n".join(out)


def _html_risk_list(risks: tuple[RiskFactor, ...]) -> str:
    items = []
    for risk in risks:
        extra = " \u00b7 ".join(filter(None, (risk.category, risk.detail)))
        items.append(f"<li>{_html_segments(risk.title)}" + (f' <span class="detail">{_e(extra)}</span>' if extra else "") + "</li>")
    return f'<ul class="risks">{"".join(items)}</ul>'


def _html_risks(view: View) -> str:
    risks = view.risks
    out = ['<section id="risk-factors">\n<h2>Risk factors</h2>']
    if risks.note:
        out.append(f'<p class="note">{_e(risks.note)}</p>\n</section>')
        return "\n".join(out)
    counts = risks.counts
    out.append(
        f'<p>{counts.get("added", len(risks.added))} new, {counts.get("removed", len(risks.removed))} removed, '
        f'{counts.get("reworded", len(risks.reworded))} reworded, {counts.get("unchanged", 0)} unchanged.</p>'
    )
    for title, listed in (("New risk factors", risks.added), ("Removed risk factors", risks.removed)):
        out.append(f"<h3>{title} ({len(listed)})</h3>")
        out.append(_html_risk_list(listed) if listed else '<p class="note">None.</p>')
    out.append(f"<h3>Reworded risk factors ({len(risks.reworded)})</h3>")
    if risks.reworded:
        out.append(f"<details><summary>Show the {len(risks.reworded)} reworded titles</summary>{_html_risk_list(risks.reworded)}</details>")
    else:
        out.append('<p class="note">None beyond routine changes.</p>')
    out.append("</section>")
    return "\n".join(out)


def _html_items(view: View) -> str:
    out = ['<section id="items">\n<h2>Item by item</h2>']
    if view.items:
        head = (
            '<thead><tr><th scope="col">Item</th><th scope="col">Title</th>'
            f'<th scope="col" class="num">Words {_e(view.older_year)}</th><th scope="col" class="num">Words {_e(view.newer_year)}</th>'
            '<th scope="col" class="num">Added</th><th scope="col" class="num">Removed</th><th scope="col" class="num">Changed</th>'
            '<th scope="col" class="num">Figures changed</th><th scope="col">Notes</th></tr></thead>'
        )
        rows = "".join(
            f'<tr><th scope="row">{_e(r.item)}</th><td>{_e(r.title)}</td><td class="num">{_e(r.words_old)}</td>'
            f'<td class="num">{_e(r.words_new)}</td><td class="num">{_e(r.added)}</td><td class="num">{_e(r.removed)}</td>'
            f'<td class="num">{_e(r.changed)}</td><td class="num">{_e(r.numbers)}</td><td>{_e(r.notes)}</td></tr>'
            for r in view.items
        )
        out.append(
            f"<details><summary>Per-item statistics ({len(view.items)} items)</summary>"
            f'<div class="table-wrap"><table class="stats">{head}<tbody>{rows}</tbody></table></div>'
            '<p class="note">Words added and removed count every changed word; "Changed" is the share of the text '
            "that changed in substance (routine changes such as rolled-forward years left out).</p></details>"
        )
    else:
        out.append('<p class="note">This report has no per-item comparison.</p>')
    for summary in view.item_summaries:
        changes = "".join(
            f"<li>{_e(text)}" + (f"<blockquote><p>{_e(evidence)}</p></blockquote>" if evidence else "") + "</li>"
            for text, evidence in summary.changes
        )
        out.append(
            f"<details><summary>Item {_e(summary.item)} ({_e(summary.title)})"
            + (f": {_e(summary.headline)}" if summary.headline else "")
            + "</summary>"
            + (f"<ul>{changes}</ul>" if changes else "")
            + "</details>"
        )
    out.append("</section>")
    return "\n".join(out)


def _html_quality(view: View) -> str:
    verdict = view.verdict
    out = ['<section id="quality">\n<h2>Quality</h2>',
           f'<div class="verdict {"passed" if verdict.passed else "failed"}"><p><strong>{_e(verdict.text)}</strong></p>']
    if verdict.refund_reason:
        out.append(f"<p>Reason: {_e(verdict.refund_reason)}</p>")
    out.append("</div>")
    if verdict.issues:
        rows = "".join(
            f"<tr><td>{_e(severity)}</td><td>{_e(code)}</td><td>{_e(item)}</td><td>{_e(message)}</td></tr>"
            for severity, code, item, message in verdict.issues
        )
        out.append(
            '<div class="table-wrap"><table><thead><tr><th scope="col">Severity</th><th scope="col">Check</th>'
            f'<th scope="col">Item</th><th scope="col">What was found</th></tr></thead><tbody>{rows}</tbody></table></div>'
        )
    out.append("</section>")
    return "\n".join(out)


def _html_provenance(view: View) -> str:
    rows = "".join(
        f'<tr><th scope="row">{_e(label)}</th><td>{_a(value, url)}</td></tr>' for label, value, url in view.provenance
    )
    return (
        '<section id="provenance">\n<h2>Provenance and cost</h2>\n'
        f'<div class="table-wrap"><table class="provenance"><tbody>{rows}</tbody></table></div>\n'
        '<p class="note">Figures and quotes link to the filings on SEC EDGAR. This page was generated automatically; '
        "check a figure against its filing before relying on it.</p>\n</section>"
    )


# --------------------------------------------------------------------------------------------------
# Markdown (GitHub-flavoured)
# --------------------------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#!]|&(?=#?\w+;))")


def _m(value: Any) -> str:
    """Text as Markdown shows it literally: one line, every character Markdown or HTML would read escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(_s(value).split()))


def _ml(text: str, url: str | None) -> str:
    if not url:
        return _m(text)
    target = url.replace("(", "%28").replace(")", "%29").replace(" ", "%20").replace("<", "%3C").replace(">", "%3E")
    return f"[{_m(text)}]({target})"


def _md_segments(segments: Segments) -> str:
    out = []
    for kind, text in segments:
        body = _m(text)
        if kind == "same" or not body:
            out.append((" " if text[:1].isspace() else "") + body + (" " if text[-1:].isspace() else ""))
            continue
        mark = "~~" if kind == "del" else "**"
        lead = " " if text[:1].isspace() else ""
        trail = " " if text[-1:].isspace() else ""
        out.append(f"{lead}{mark}{body}{mark}{trail}")
    return re.sub(r" {2,}", " ", "".join(out)).strip()


def _md_table(head: Iterable[str], rows: Iterable[Iterable[str]], numeric: set[int] = frozenset()) -> str:
    head = list(head)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" if i in numeric else "---" for i in range(len(head))) + "|"]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def render_markdown(report: dict) -> str:
    """The report as GitHub-flavoured Markdown: the page's content, without its chart and styling."""
    view = _view(report)
    out = [f"# {_m(view.company)}" + (f" ({_m(view.ticker)})" if view.ticker else ""), ""]
    out.append(f"Annual report (Form 10-K) for {_m(view.newer_year)} compared with {_m(view.older_year)}"
               + (f" · CIK {_m(view.cik)}" if view.cik else "") + (f" · report of {_m(view.generated)}" if view.generated != DASH else ""))
    out.append("")
    for f in view.filings:
        out.append(f"- **{_m(f.year)}** ({f.role} filing): Form {_m(f.form)} for the year ended {_m(f.period_end)}, "
                   + _ml(f"filed {f.filed}", f.url) + (f". {_m(f.note)}" if f.note else ""))
    out += ["", "## Key figures", ""]
    figures = view.figures
    if not figures.available:
        out += [_m(figures.note), ""]
    else:
        rows = []
        for group in figures.groups:
            rows.append([f"**{_m(group.title)}**", "", "", ""])
            rows.extend(_md_figure_row(r) for r in group.rows)
        out += [_md_table(["Figure", _m(view.older_year), _m(view.newer_year), "Change"], rows, {1, 2, 3}), ""]
        if figures.note:
            out += [f"*{_m(figures.note)}*", ""]
        if figures.segments:
            out += ["<details><summary>Segments</summary>", "",
                    _md_table(["Segment", _m(view.older_year), _m(view.newer_year), "Change"],
                              [_md_figure_row(r) for r in figures.segments], {1, 2, 3}),
                    "", "</details>", ""]
    out += ["## Executive summary", ""]
    if not view.summary:
        out += ["*No executive summary was written for this report.*", ""]
    for sentence in view.summary:
        cites = "".join(f" [\\[{rank}\\]](#{anchor})" for anchor, rank in sentence.cites)
        out += [_m(sentence.text) + cites, ""]
    if view.summary_by:
        out += [f"*{_m(view.summary_by)}*", ""]
    out += ["## Highlights, most material first", ""]
    if view.highlights_note:
        out += [f"*{_m(view.highlights_note)}*", ""]
    for h in view.highlights:
        out += _md_highlight(h)
    out += ["## Risk factors", ""]
    risks = view.risks
    if risks.note:
        out += [_m(risks.note), ""]
    else:
        counts = risks.counts
        out += [f"{counts.get('added', len(risks.added))} new, {counts.get('removed', len(risks.removed))} removed, "
                f"{counts.get('reworded', len(risks.reworded))} reworded, {counts.get('unchanged', 0)} unchanged.", ""]
        for title, listed in (("New risk factors", risks.added), ("Removed risk factors", risks.removed), ("Reworded risk factors", risks.reworded)):
            out += [f"### {title} ({len(listed)})", ""]
            out += [_md_risk(r) for r in listed] or ["None."]
            out.append("")
    out += ["## Item by item", ""]
    if view.items:
        out += ["<details><summary>Per-item statistics</summary>", "",
                _md_table(["Item", "Title", f"Words {_m(view.older_year)}", f"Words {_m(view.newer_year)}", "Added", "Removed", "Changed",
                           "Figures changed", "Notes"],
                          [[_m(r.item), _m(r.title), r.words_old, r.words_new, r.added, r.removed, _m(r.changed), r.numbers, _m(r.notes)]
                           for r in view.items],
                          {2, 3, 4, 5, 6, 7}),
                "", "</details>", ""]
    for summary in view.item_summaries:
        out += [f"### Item {_m(summary.item)} ({_m(summary.title)})", ""]
        if summary.headline:
            out += [_m(summary.headline), ""]
        for text, evidence in summary.changes:
            out.append(f"- {_m(text)}" + (f"\n  > {_m(evidence)}" if evidence else ""))
        out.append("")
    verdict = view.verdict
    out += ["## Quality", "", f"**{_m(verdict.text)}**" + (f" Reason: {_m(verdict.refund_reason)}" if verdict.refund_reason else ""), ""]
    if verdict.issues:
        out += [_md_table(["Severity", "Check", "Item", "What was found"], [[_m(c) for c in issue] for issue in verdict.issues]), ""]
    out += ["## Provenance and cost", "", _md_table(["", ""], [[_m(label), _ml(value, url)] for label, value, url in view.provenance]), ""]
    return "\n".join(out).rstrip() + "\n"


def _md_figure_row(row: FigureRow) -> list[str]:
    change = _m(row.change) + (f" ({_m(row.change_detail)})" if row.change_detail else "")
    label = _m(row.label) + (f" — *{_m(row.note)}*" if row.note else "")
    return [label, _ml(row.older, row.older_link), _ml(row.newer, row.newer_link), change]


def _md_highlight(h: Highlight) -> list[str]:
    out = [f'### <a id="{_e(h.anchor)}"></a>{h.rank}. {_m(h.headline)}', ""]
    meta = " · ".join(filter(None, (h.kind, h.item, f"materiality {h.materiality}" if h.materiality else None)))
    out += [f"*{_m(meta)}*" + (f" — {_m('; '.join(h.reasons))}" if h.reasons else ""), ""]
    if h.old or h.new:
        values = " → ".join(filter(None, (f"{_m(h.old_period)}: **{_m(h.old)}**" if h.old else None,
                                          f"{_m(h.new_period)}: **{_m(h.new)}**" if h.new else None)))
        if h.change:
            values += f" · change {_m(h.change)}" + (f" ({_m(h.change_detail)})" if h.change_detail else "")
        out += [values, ""]
    if h.redline:
        out += [f"Redline: {_md_segments(h.redline)}", ""]
    for quote in h.quotes:
        links = "".join(f", {_ml(label, url)}" for label, url in quote.links)
        out += [f"> {_m(quote.text)}", ">", f"> — {_m(quote.side)}{links}", ""]
    return out


def _md_risk(risk: RiskFactor) -> str:
    extra = " · ".join(filter(None, (risk.category, risk.detail)))
    return f"- {_md_segments(risk.title)}" + (f" *({_m(extra)})*" if extra else "")
