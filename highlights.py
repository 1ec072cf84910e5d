"""One ranked list of what changed, for the whole report: the material changes first.

Every change the report knows of becomes a candidate highlight — a key figure's move, a segment's,
a new or removed risk factor, a changed paragraph, a changed figure — and gets a materiality in
[0, 1] from a documented model (`materiality` below), with the reasons that scored it. One
paragraph gives one highlight (its most material figure, its redline); a figure the key figures
already show is not repeated, its MD&A sentence becomes the key figure's quote. Churn (the fiscal
year rolling forward, ages, page numbers, exhibit renumbering) never ranks. Pure functions.

The materiality model (README "Highlights"):
- key figures: the metric's weight (revenue 1.0 ... total assets 0.4) x (0.4 + the move's size:
  an amount's move relative to revenue (x 10), revenue's own move |percent| / 40, margins points
  / 6, at most 0.5); revenue, net and operating income never below 0.55-0.62;
- segments: 0.3 + the move relative to revenue (x 8, at most 0.5); a new or dropped segment 0.7;
- risk factors: added 0.5 (+ up to 0.2 for names new to the filing), removed 0.45, reworded 0.12 +
  words added / 400 (at most 0.3) + half the new-names score (+ 0.15 for a ruling or an
  investigation now told);
- a changed paragraph: the item's weight (1A, 3, 7 at 1.0 ... exhibits 0.1) x the signals combined
  as independent evidence, 1 - (1 - a)(1 - b)...: its kind (guidance 0.45, legal, transaction and
  leadership 0.35, capital return 0.3, other 0.06-0.1), its size (words changed, at most 0.2), names
  the older filing never used (at most 0.3), its largest amount relative to revenue or its figure's
  move (at most 0.4), a stated move of a line of MD&A's results (0.25), a new buyback program or a
  dividend change (0.35), a results line that turned against the older MD&A's direction (0.35), a
  plan to cut jobs (0.3), MD&A's opening (at most 0.2), a cost or expense line's move at half;
  x 0.3 for boilerplate, x 0.4 when it states a key figure again, x 0.2 when it is last year's
  paragraph (its years left the comparison, in MD&A none after the prior year, or the newer
  filing says it again for the new year).
A figure shown by a higher highlight is not repeated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, NamedTuple
from urllib.parse import quote as url_quote

import defaults
import wording
from diff_analyzer import KEY_CONCEPTS, FilingDiff, ItemDiff, ParagraphChange
from key_figures import METRIC_BY_NAME, Metric
from number_mentions import SCALES, is_table_row, mentions_in
from number_changes import SAME_PERIOD, NumberChange
from form_10k import ITEM_TITLES, short_name
from section_extractor import ExtractedFiling

KINDS = (
    "key_figure", "segment", "guidance", "risk_factor_added", "risk_factor_removed", "risk_factor_reworded", "legal",
    "leadership", "transaction", "capital_return", "number_change", "text_added", "text_removed", "text_modified",
)
STORED = 60  # highlights kept in the stored report
QUOTE_CHARS = 420
REDLINE_CHARS = 2400
HEAD = defaults.HIGHLIGHTS_OPEN  # the highlights a reader sees first; the tail's redlines are shorter
TAIL_REDLINE_CHARS = 800
RISK_FACTOR_ADDED, RISK_FACTOR_REMOVED = 0.5, 0.45  # a new one gains up to 0.2 more by the names it brings
SAID_AGAIN = 0.6  # word overlap (Jaccard) at which a dropped paragraph is a new one's earlier year
ROLLED_OFF = 0.2  # a dropped paragraph about the year that left the comparison ranks at this share
RESTATES_KEY_FIGURE = 0.4  # a paragraph that states a key figure ranks at this share of its score

ITEM_WEIGHTS = {
    "1": 0.8, "1A": 1.0, "1B": 0.3, "1C": 0.5, "2": 0.4, "3": 1.0, "4": 0.2, "5": 0.6, "6": 0.1, "7": 1.0, "7A": 0.7,
    "8": 0.55, "9": 0.4, "9A": 0.5, "9B": 0.4, "9C": 0.2, "10": 0.35, "11": 0.3, "12": 0.3, "13": 0.3, "14": 0.2,
    "15": 0.1, "16": 0.1,
}
METRIC_WEIGHTS = {
    "revenue": 1.0, "operating_income": 0.9, "net_income": 0.9, "eps_diluted": 0.8, "gross_margin": 0.75,
    "operating_margin": 0.8, "net_margin": 0.5, "gross_profit": 0.6, "operating_cash_flow": 0.7,
    "capital_expenditures": 0.75, "free_cash_flow": 0.65, "share_repurchases": 0.55, "dividends_per_share": 0.55,
    "long_term_debt": 0.5, "cash_and_equivalents": 0.4, "total_assets": 0.4, "stockholders_equity": 0.35,
    "shares_outstanding": 0.3,
}
HEADLINE_FLOOR = {"revenue": 0.62, "net_income": 0.6, "operating_income": 0.55, "share_repurchases": 0.45,
                  "dividends_per_share": 0.5}  # read first, whatever their move
KIND_BASE = {"guidance": 0.45, "legal": 0.35, "transaction": 0.35, "leadership": 0.35, "capital_return": 0.3}
TOPICS = (  # the first that matches names the kind of a changed paragraph
    ("legal", re.compile(
        r"\b(litigation|lawsuits?|class actions?|settle(?:d|ment|ments)|courts?|jury|verdict|injunctions?|fined|fines?|penalt(?:y|ies)|"
        r"subpoenas?|antitrust|department of justice|european commission|consent decree|appeal(?:ed|s)?|"
        r"plaintiffs?|defendants?|lawsuit)\b", re.I)),
    ("transaction", re.compile(
        r"\b(acquir(?:e|ed|es|ing)|acquisitions?|mergers?|merger agreement|divest(?:ed|iture|itures|ing)?|spin-?off|spun off|"
        r"disposals?|joint venture|termination fee|impairments?|write-?downs?|write-?offs?|restructuring|reach-forward loss(?:es)?|"
        r"(?:pre-tax |earnings |one-time )?charges? of (?:approximately )?\$|recogni[sz]ed (?:a |an )?(?:pre-tax )?(?:charge|loss)|"
        r"termination expenses)\b", re.I)),
    ("capital_return", re.compile(r"\b(dividends?|repurchases?|repurchased|buybacks?)\b", re.I)),
    ("leadership", re.compile(
        r"\b(chief (?:executive|financial|operating|legal|technology|accounting) officer|general counsel|appointed|resigned|"
        r"retire(?:d|ment)|successor|succeeded)\b", re.I)),
)
_FORWARD = re.compile(r"\b(we expect|expects?|expected to|anticipates?|anticipated|outlook|guidance|forecasts?|plans? to|"
                      r"intends? to|we estimate|we project|projected)\b", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z\-']{2,}")
_SENTENCE_START = re.compile(r"^(?:The|This|These|Our|We|In|As|For|On|During|Beginning|If|It|Any|All|Such|Certain|Other|Net|Total)$")
_AMOUNT = re.compile(r"(?:US)?\$\s?(\d[\d,]*(?:\.\d+)?)\s*(trillion|billion|million|thousand)?", re.I)
_DIGITS = re.compile(r"\d[\d,]*(?:\.(\d+))?")  # a printed number; group 1: its decimals
_ADDED = re.compile(r"\{\+(.*?)\+\}", re.S)
_HAS_DIGIT = re.compile(r"\d")


@dataclass
class Highlight:
    kind: str
    item: str | None
    headline: str
    materiality: float
    reasons: list[str]
    old: dict | None = None
    new: dict | None = None
    change: dict | None = None
    quotes: dict = field(default_factory=lambda: {"old": None, "new": None})
    redline: str | None = None
    id: str = ""
    rank: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rank": self.rank,
            "kind": self.kind,
            "item": self.item,
            "item_title": ITEM_TITLES.get(self.item) if self.item else None,
            "headline": self.headline,
            "old": self.old,
            "new": self.new,
            "change": self.change,
            "materiality": round(self.materiality, 3),
            "reasons": self.reasons,
            "quotes": self.quotes,
            "redline": self.redline,
        }


@dataclass(frozen=True)
class _Context:
    """What scoring needs beyond one change: the company's size, the words the older filing used,
    the two documents' addresses."""

    revenue: float | None
    older_words: frozenset[str]
    older_url: str | None
    newer_url: str | None
    newer_year: int | None
    item_sizes: dict = field(default_factory=dict)  # item -> paragraphs in the newer filing
    mdna: tuple = ()  # the newer MD&A's prose sentences with the figures they state (_StatedFigures)
    older_moves: dict = field(default_factory=dict)  # the older MD&A's "X increased/decreased": X -> directions
    shown: tuple = ()  # (what names a key or segment figure, its values and move in USD): a paragraph saying them again


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------


def rank(key_figures: dict, diff: FilingDiff, older: ExtractedFiling | None = None, newer: ExtractedFiling | None = None, *,
         older_url: str | None = None, newer_url: str | None = None, limit: int = STORED) -> list[Highlight]:
    """The report's highlights, most material first, `limit` of them, with ids h1, h2, ... Without
    the filings, new names are not recognised and MD&A's opening is not weighted."""
    context = _Context(
        revenue=_revenue(key_figures),
        older_words=frozenset(w.lower() for t in older.items.values() for p in t.paragraphs for w in _WORD.findall(p))
        if older is not None else frozenset(),
        older_url=older_url,
        newer_url=newer_url,
        newer_year=_year((key_figures.get("fiscal_years") or {}).get("newer")),
        item_sizes={item: len(text.paragraphs) for item, text in newer.items.items()} if newer is not None else {},
        mdna=_mdna_sentences(newer),
        older_moves=_moves_of(older.items["7"].paragraphs) if older is not None and "7" in older.items else {},
        shown=_shown_amounts(key_figures),
    )
    consumed: set[int] = set()  # ids of number changes a key figure already shows
    found = _key_figure_highlights(key_figures, diff, context, consumed)
    found += _segment_highlights(key_figures, context)
    found += _risk_factor_highlights(diff, context)
    for item, item_diff in diff.items.items():
        found += _item_highlights(item, item_diff, context, consumed)
    found = [h for h in found if h.materiality > 0]
    found.sort(key=lambda h: (-h.materiality, KINDS.index(h.kind)))
    kept = _without_repeats(found)[:limit]
    for n, highlight in enumerate(kept, start=1):
        highlight.id, highlight.rank = f"h{n}", n
        highlight.materiality = min(1.0, highlight.materiality)
        if n > HEAD and highlight.redline:  # the long tail stays compact: the report within 300 KB
            highlight.redline = _clip_redline(highlight.redline, TAIL_REDLINE_CHARS)
    return kept


def _without_repeats(ranked: list[Highlight]) -> list[Highlight]:
    """A figure the report already shows is not shown again: a number change whose old and new values
    are those of a higher highlight (a key figure, a segment, the same table printed twice), to four
    significant digits ("$416,161 million" is "$416.2 billion"), is dropped."""
    shown: set[tuple[str, str]] = set()
    kept = []
    for highlight in ranked:
        pair = _values(highlight)
        if pair is not None and highlight.kind == "number_change" and pair in shown:
            continue
        if pair is not None:
            shown.add(pair)
        kept.append(highlight)
    return kept


def _values(highlight: Highlight) -> tuple[str, str] | None:
    old, new = (highlight.old or {}).get("value"), (highlight.new or {}).get("value")
    if isinstance(old, (int, float)) and isinstance(new, (int, float)):
        return f"{abs(old):.4g}", f"{abs(new):.4g}"
    return None


def _revenue(key_figures: dict) -> float | None:
    metric = (key_figures.get("metrics") or {}).get("revenue") or {}
    value = (metric.get("newer") or metric.get("older") or {}).get("value")
    if value:
        return float(value)
    assets = ((key_figures.get("metrics") or {}).get("total_assets") or {}).get("newer") or {}
    return float(assets["value"]) / 2 if assets.get("value") else None


def _year(period_end: str | None) -> int | None:
    return int(period_end[:4]) if period_end and period_end[:4].isdigit() else None


# --------------------------------------------------------------------------------------------------
# Key figures and segments
# --------------------------------------------------------------------------------------------------


# Key figures that tell one story are one highlight: its first metric leads, the others follow in a clause.
KEY_FIGURE_GROUPS = (
    ("revenue",), ("gross_margin", "gross_profit"), ("operating_income", "operating_margin"),
    ("net_income", "eps_diluted", "net_margin"), ("operating_cash_flow", "free_cash_flow"), ("capital_expenditures",),
    ("share_repurchases", "dividends_per_share"),
    ("cash_and_equivalents", "long_term_debt", "total_assets", "stockholders_equity", "shares_outstanding"),
)


def _key_figure_highlights(key_figures: dict, diff: FilingDiff, context: _Context, consumed: set[int]) -> list[Highlight]:
    singles = dict(_metric_highlights(key_figures, diff, context, consumed))
    out = []
    for group in KEY_FIGURE_GROUPS:
        members = [singles[name] for name in group if name in singles]
        if not members:
            continue
        lead = max(members, key=lambda h: h.materiality) if group[-1] == "shares_outstanding" else members[0]
        others = [h for h in members if h is not lead]
        if others:
            clauses = "; ".join(_clause(h.headline) for h in others)
            lead.headline = lead.headline.rstrip(".") + f"; {clauses}."
            lead.reasons += [r for h in others for r in h.reasons[1:2]]
            lead.materiality = max(h.materiality for h in members)
        out.append(lead)
    return out


def _clause(sentence: str) -> str:
    """A headline as a clause of another: "Diluted earnings per share rose ..." -> "diluted earnings per share rose ..."."""
    return wording.lower_first(sentence.rstrip("."))


def _metric_highlights(key_figures: dict, diff: FilingDiff, context: _Context, consumed: set[int]):
    every = [n for item_diff in diff.items.values() for n in item_diff.number_changes if not n.churn]
    prose = [n for n in every if not n.in_table]
    for name, metric in (key_figures.get("metrics") or {}).items():
        newer, change = metric.get("newer"), metric.get("change")
        if not newer or not change:
            continue
        base = metric.get("newer_prior") if change.get("basis") == "newer_prior" else metric.get("older")
        unit = metric["unit"]
        if unit == "pure":
            size = min(0.5, abs(change["absolute"]) * 100 / 6)
            move = f"{change['absolute'] * 100:+.1f} points".replace("-", wording.MINUS)
        else:
            percent = change.get("percent")
            if percent is None:
                continue
            if unit == "USD" and name != "revenue" and context.revenue:  # a move's size is relative to the company
                size = min(0.5, abs(change["absolute"]) / context.revenue * 10 + min(0.1, abs(percent) / 400))
            else:
                size = min(0.5, abs(percent) / 40)
            move = wording.percent(percent, plus=True)
        reasons = ["key figure", f"{metric['label'].lower()} {move}"]
        if metric.get("restated"):
            reasons.append("prior year restated in the newer filing")
        headline = wording.change_sentence(metric["label"], base["value"] if base else None, newer["value"], unit,
                                           period=wording.fiscal_year(newer.get("period_end")))
        highlight = Highlight(
            kind="key_figure", item=None, headline=headline,
            materiality=max(HEADLINE_FLOOR.get(name, 0.0), METRIC_WEIGHTS.get(name, 0.4) * (0.4 + size)), reasons=reasons,
            old=_figure(base, unit), new=_figure(newer, unit),
            change={"absolute": change["absolute"], "percent": change.get("percent")},
            quotes={"old": _line_quote(metric.get("older")), "new": _line_quote(newer)},
        )
        restated = _restatements(newer["value"], unit, every)  # the figures, prose or table, that state this value
        said = next((n for n in restated if not n.in_table), None) or (
            _stated_in_prose(abs(change["absolute"]), unit, prose) if change.get("absolute") is not None else None)
        named = METRIC_BY_NAME[name].said if name in METRIC_BY_NAME else None
        consumed.update(id(n) for n in restated if named and re.search(named, f"{n.context} {n.metric or ''}", re.I))
        if said is not None:
            consumed.add(id(said))
        sentence = _explaining_sentence(METRIC_BY_NAME.get(name), newer["value"], change, context.mdna)
        if sentence is None and said is not None:
            sentence = _sentence_of(said.context, said.new_text)
        if sentence is not None:  # MD&A's own sentence about the figure or its move, its reasons with it
            highlight.quotes["new"] = {"text": _clip_chars(sentence), "link": _text_link(context.newer_url, sentence)}
            highlight.reasons.append("stated in MD&A")
        yield name, highlight


def _figure(entry: dict | None, unit: str) -> dict | None:
    if not entry or entry.get("value") is None:
        return None
    return {"value": entry["value"], "unit": unit, "period": entry.get("period_end"), "text": wording.figure(entry["value"], unit)}


def _line_quote(entry: dict | None) -> dict | None:
    """The statement line a key figure is printed on, linked to its fact."""
    if not entry or not entry.get("line"):
        return None
    return {"text": entry["line"], "link": entry.get("link")}


def _stated_in_prose(value: float, unit: str, prose: list[NumberChange]) -> NumberChange | None:
    """A prose figure that states this value as written, rounded to its own precision: an amount
    ("$416.2 billion", or a move "decreased by $11,277 million"), or a margin as a percent ("32%")."""
    return next(iter(_restatements(value, unit, prose)), None)


class _StatedFigures(NamedTuple):
    """A prose sentence of MD&A and the figures it states, each with its precision as written."""

    text: str
    amounts: tuple[tuple[float, float], ...]  # (|value|, half a step of its last digit)
    percents: tuple[tuple[float, float], ...]
    row: bool = False  # a table row ("Operating margin | 27% | 32%"): its percents only, prose preferred


# Words that give a figure's reasons: a key figure's quote prefers a sentence with them, and a deal
# named after them explains a move rather than being news of its own.
_EXPLAINS = re.compile(r"\b(due (?:primarily |mainly |largely |in part )?to|driven (?:primarily |mainly |largely )?by|primarily by|"
                       r"reflect(?:s|ed|ing)?|as a result of|result(?:ed|ing)? from|offset by|attributable to|because of|"
                       r"(?:increase|decrease|growth|decline)d? (?:of|in) )", re.I)


def _mdna_sentences(newer: ExtractedFiling | None) -> tuple[_StatedFigures, ...]:
    text = newer.items.get("7") if newer is not None else None
    if text is None:
        return ()
    out = []
    for paragraph in text.paragraphs:
        if not _HAS_DIGIT.search(paragraph):
            continue
        row = is_table_row(paragraph)
        for sentence in [paragraph] if row else _sentences(paragraph):
            tokens = sentence.split()
            amounts, percents = [], []
            for mention in mentions_in(tokens, 0, len(tokens), in_table=False, table_scale=None):
                if mention.value is None:
                    continue
                digits = _DIGITS.search(mention.text)
                half = 10 ** (-len((digits.group(1) or "") if digits else "")) / 2 + 1e-9
                if mention.kind == "amount" and mention.unit == "USD" and not row:  # a row's amounts need its table's scale
                    amounts.append((abs(mention.value), half * SCALES.get(mention.scale or "", 1)))
                elif mention.kind == "percent":
                    percents.append((abs(mention.value), half))
            if amounts or percents:
                out.append(_StatedFigures(sentence, tuple(amounts), tuple(percents), row))
    return tuple(out)


def _explaining_sentence(metric: Metric | None, value: float, change: dict, mdna: tuple[_StatedFigures, ...]) -> str | None:
    """MD&A's sentence about a key figure: one that names the metric and states its value or its
    move, preferring one that gives the reasons ("primarily due to"). None when MD&A has none."""
    if metric is None or not metric.said or not mdna:
        return None
    named = re.compile(metric.said, re.I)
    absolute, percent = change.get("absolute"), change.get("percent")
    best, best_score = None, 0
    for sentence in mdna:
        if metric.unit == "pure":
            states_value = any(abs(v - abs(value) * 100) <= half for v, half in sentence.percents)
            states_move = False
        else:
            states_value = any(abs(v - abs(value)) <= half for v, half in sentence.amounts)
            states_move = (absolute is not None and any(abs(v - abs(absolute)) <= half for v, half in sentence.amounts)) + (
                percent is not None and any(abs(v - abs(percent)) <= half for v, half in sentence.percents)) / 2
        if not (states_value or states_move) or not named.search(sentence.text):
            continue
        score = 2 * states_value + 2 * states_move + (1 if _EXPLAINS.search(sentence.text) else 0) - (1 if sentence.row else 0)
        if score > best_score:
            best, best_score = sentence.text, score
    return best


def _restatements(value: float, unit: str, numbers: list[NumberChange]) -> list[NumberChange]:
    """The figures, in prose or in a table, that state this value as written, rounded to their own
    precision (a table's "$ 416,161" in millions, a sentence's "$416.2 billion")."""
    if unit == "pure":
        value, wanted = value * 100, ("percent", "%")
    elif unit in ("USD", "USD/share"):
        wanted = ("amount", "USD")
    else:
        return []
    found = []
    for change in numbers:
        if change.new_value is None or (change.kind, change.unit) != wanted:
            continue
        digits = _DIGITS.search(change.new_text)
        decimals = len(digits.group(1) or "") if digits else 0
        step = 10 ** (-decimals) * SCALES.get(change.scale or "", 1)
        if abs(abs(change.new_value) - abs(value)) <= step / 2 + 1e-6:
            found.append(change)
    return found


def _segment_highlights(key_figures: dict, context: _Context) -> list[Highlight]:
    out = []
    for segment in key_figures.get("segments") or []:
        if segment.get("kind") != "segment":
            continue
        label = segment["label"]
        if segment["status"] in ("new", "dropped"):
            side = "newer" if segment["status"] == "new" else "older"
            revenue = ((segment.get("revenue") or {}).get(side) or {})
            out.append(Highlight(
                kind="segment", item=None,
                headline=f"{label} is {'a new reportable segment' if segment['status'] == 'new' else 'no longer a reportable segment'}"
                         + (f", with revenue of {wording.money(revenue['value'])}." if revenue.get("value") else "."),
                materiality=0.7, reasons=[f"segment {segment['status']}"],
                new=_figure(revenue, "USD") if side == "newer" else None, old=_figure(revenue, "USD") if side == "older" else None,
            ))
            continue
        for metric_name, label_suffix in (("revenue", "revenue"), ("operating_income", "operating income")):
            metric = segment.get(metric_name)
            if not metric or not metric.get("change") or not metric.get("newer"):
                continue
            change = metric["change"]
            base = metric.get("newer_prior") if change.get("basis") == "newer_prior" else metric.get("older")
            relative = abs(change["absolute"]) / context.revenue if context.revenue else 0.0
            materiality = 0.3 + min(0.5, relative * 8) - (0.05 if metric_name == "operating_income" else 0)
            out.append(Highlight(
                kind="segment", item=None,
                headline=wording.change_sentence(f"{label} {label_suffix}", base["value"] if base else None,
                                                 metric["newer"]["value"], "USD", period=wording.fiscal_year(metric["newer"].get("period_end"))),
                materiality=materiality, reasons=["segment", f"{label_suffix} move of {relative:.1%} of revenue"],
                old=_figure(base, "USD"), new=_figure(metric["newer"], "USD"),
                change={"absolute": change["absolute"], "percent": change.get("percent")},
                quotes={"old": _line_quote(metric.get("older")), "new": _line_quote(metric.get("newer"))},
            ))
            named = _SegmentLine(rf"{re.escape(label)}\W+(?:segment\W+)?{METRIC_BY_NAME[metric_name].said}", "USD")
            sentence = _explaining_sentence(named, metric["newer"]["value"], change, context.mdna)
            if sentence is not None:  # "Google Cloud operating income increased by $4.4 billion, primarily ..."
                out[-1].quotes["new"] = {"text": _clip_chars(sentence), "link": _text_link(context.newer_url, sentence)}
                out[-1].reasons.append("stated in MD&A")
    return out


class _SegmentLine(NamedTuple):
    """What `_explaining_sentence` needs of a segment's line: the words that name it, its unit."""

    said: str
    unit: str




# --------------------------------------------------------------------------------------------------
# Risk factors
# --------------------------------------------------------------------------------------------------


def _risk_factor_highlights(diff: FilingDiff, context: _Context) -> list[Highlight]:
    out = []
    risk_item = diff.items.get("1A")
    if risk_item is None:
        return out
    for risk in risk_item.risk_factor_changes:
        if risk.kind == "unchanged" or risk.trivial:
            continue
        title = (risk.new_title or risk.old_title or "").strip()
        novelty = _novelty(_added_words(risk), context)
        if risk.kind == "added":
            out.append(Highlight(
                kind="risk_factor_added", item="1A", headline=_sentence(f"New risk factor: {_clip(title, 30)}"),
                materiality=RISK_FACTOR_ADDED + novelty * 2 / 3, reasons=["new risk factor"] + (["new terms"] if novelty else []),
                quotes={"old": None, "new": {"text": _clip_chars(title), "link": _text_link(context.newer_url, title)}},
                redline=_clip_redline(f"{{+{risk.new_text}+}}") if risk.new_text else None,
            ))
        elif risk.kind == "removed":
            out.append(Highlight(
                kind="risk_factor_removed", item="1A", headline=_sentence(f"Risk factor removed: {_clip(title, 30)}"),
                materiality=RISK_FACTOR_REMOVED, reasons=["risk factor removed"],
                quotes={"old": {"text": _clip_chars(title), "link": _text_link(context.older_url, title)}, "new": None},
                redline=_clip_redline(f"[-{risk.old_text}-]") if risk.old_text else None,
            ))
        else:
            words = risk.words_added + risk.words_removed
            sentence = _changed_sentence(risk.redline or "")
            headline = f"Risk factor reworded: {_clip(title, 30)}"
            if risk.title_changed and risk.old_title and risk.new_title:
                headline = f"Risk factor renamed and reworded: {_clip(risk.new_title, 25)}"
            ruling = RISK_FACTOR_RULING if _RULING.search(_added_words(risk)) else 0.0
            out.append(Highlight(
                kind="risk_factor_reworded", item="1A", headline=_sentence(headline),
                materiality=0.12 + min(0.3, risk.words_added / 400) + novelty / 2 + ruling,
                reasons=[f"risk factor reworded ({words} words)"] + (["new terms"] if novelty else [])
                + (["a ruling, verdict or investigation now told"] if ruling else []),
                quotes={"old": {"text": _clip_chars(risk.old_title or ""), "link": _text_link(context.older_url, risk.old_title)},
                        "new": {"text": _clip_chars(sentence or risk.new_title or ""),
                                "link": _text_link(context.newer_url, sentence or risk.new_title)}},
                redline=_clip_redline(risk.title_redline if risk.title_changed and not risk.redline else risk.redline)
                if not risk.redline or len(risk.redline) <= REDLINE_CHARS else _new_statements(risk.redline, context.older_words),
            ))
    return out


RISK_FACTOR_RULING = 0.15  # a reworded risk factor now tells of a court's ruling, a verdict, a fine, an investigation
_RULING = re.compile(r"\b(?:courts?|jury|judge|tribunal)\b[^.]{0,80}?\b(?:ruled|found|ordered|held|decided|rejected|upheld)\b|"
                     r"\bverdicts?\b|\bfined\b|\bare investigating\b|\bopened (?:an |a formal )?investigation", re.I)


def _added_words(risk) -> str:
    if risk.kind == "added":
        return risk.new_text or ""
    return " ".join(_ADDED.findall(risk.redline or ""))


# --------------------------------------------------------------------------------------------------
# Paragraphs and their figures
# --------------------------------------------------------------------------------------------------


def _item_highlights(item: str, item_diff: ItemDiff, context: _Context, consumed: set[int]) -> list[Highlight]:
    """One highlight per changed paragraph of the item (risk factors excepted: they have their own)."""
    if not item_diff.changes:
        return []
    in_risk_factor = _risk_factor_paragraphs(item_diff)
    numbers: dict[int, list[NumberChange]] = {}
    restating: set[int] = set()  # paragraphs that state a key figure: the key figure's highlight tells it
    for number in item_diff.number_changes:
        if number.churn or number.change_column:
            continue  # a change column says again what the row's own years say
        if id(number) in consumed or (number.concept and number.concept in KEY_CONCEPTS and not number.dimensions):
            restating.add(number.new_index)
            continue
        numbers.setdefault(number.new_index, []).append(number)
    out = []
    weight = ITEM_WEIGHTS.get(item, 0.3)
    added_shapes = [_shape(c.new_text) for c in item_diff.changes if c.kind == "added" and c.new_text]
    for change in item_diff.changes:
        if change.kind == "unchanged" or change.trivial:
            continue
        if change.kind == "moved":
            if not (change.words_added or change.words_removed):
                continue  # the same words elsewhere in the item
            change = replace(change, kind="modified")  # moved and reworded (ADBE FY2024: the RPO bullet)
        index = change.new_index if change.new_index is not None else None
        if index is not None and index in in_risk_factor:
            continue
        figures = numbers.pop(index, []) if index is not None else []
        highlight = _paragraph_highlight(item, change, figures, weight, context)
        if index in restating or (highlight.kind != "guidance" and _restates(change.new_text or change.old_text or "", context)):
            highlight.materiality *= RESTATES_KEY_FIGURE
            highlight.reasons.append("restates a key figure")
        if change.kind == "removed" and "the year that left the comparison" not in highlight.reasons and \
                _said_again(_shape(change.old_text or ""), added_shapes):
            highlight.materiality *= ROLLED_OFF
            highlight.reasons.append("said again for the new year")
        out.append(highlight)
    return out


RESTATED_METRICS = ("revenue", "operating_income", "net_income", "operating_cash_flow", "capital_expenditures")


def _shown_amounts(key_figures: dict) -> tuple:
    """What the key figures already show in USD, each with the words MD&A names it by (`Metric.said`):
    both years' values and the move. (Segments are left out: a segment's move ranks lower than MD&A's
    sentence about it, measured: GOOGL's "Google Cloud operating income increased by $4.4 billion"
    fell from the first 20.)"""
    shown = []
    for name in RESTATED_METRICS:
        metric = (key_figures.get("metrics") or {}).get(name)
        if not metric or metric.get("unit") != "USD":
            continue
        values = [abs(side["value"]) for side in (metric.get("newer"), metric.get("older"), metric.get("newer_prior"))
                  if side and isinstance(side.get("value"), (int, float))]
        change = (metric.get("change") or {}).get("absolute")
        if isinstance(change, (int, float)):
            values.append(abs(change))
        if values:
            shown.append((re.compile(METRIC_BY_NAME[name].said, re.I), tuple(values)))
    return tuple(shown)


def _restates(text: str, context: _Context) -> bool:
    """A sentence that names a key or segment figure and states its value or its move, to the precision
    it prints: "Loss from operations increased by $9,934 million" (BA's operating income moved
    $9,934 million), "Net earnings increased $1.1 billion, or 7%, to $16.1 billion". The key figure's
    highlight tells it, with MD&A's sentence as its quote."""
    if not context.shown or "$" not in text:
        return False
    for sentence in _sentences(text)[:6]:
        amounts = [_usd(m) for m in _AMOUNT.finditer(sentence)]
        if not amounts or _FORWARD.search(sentence):  # guidance states a figure to come, not this year's
            continue
        for names, values in context.shown:
            if names.search(sentence[:120]) and any(abs(v - a) <= tol for a, tol in amounts for v in values):
                return True
    return False


def _usd(match: re.Match) -> tuple[float, float]:
    """An amount as printed ("$1.1 billion", "$9,934 million") and half its last printed unit."""
    digits, scale = match.group(1).replace(",", ""), SCALES.get((match.group(2) or "").lower(), 1.0)
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return float(digits) * scale, 0.5 * 10 ** -decimals * scale + 1e-6


def _shape(text: str) -> frozenset[str]:
    """A paragraph's words without its figures: last year's "Data Center revenue for fiscal year 2024
    was $47.5 billion, up 217%" and this year's "... 2025 was $115.2 billion, up 142%" share a shape."""
    return frozenset(w.lower() for w in _WORD.findall(text))


def _said_again(shape: frozenset[str], added: list[frozenset[str]]) -> bool:
    """A dropped paragraph whose words come back in a new one: the statement rolled to the new year."""
    if len(shape) < 5:
        return False
    return any(len(other) >= 5 and len(shape & other) / len(shape | other) >= SAID_AGAIN for other in added)


def _risk_factor_paragraphs(item_diff: ItemDiff) -> set[int]:
    covered: set[int] = set()
    for risk in item_diff.risk_factor_changes:
        if risk.new_paragraphs:
            covered.update(range(*risk.new_paragraphs))
    return covered


RESULTS_MOVE = 0.25  # an MD&A sentence that states how much a line of the results moved
_STATES_A_MOVE = re.compile(
    r"\b(increased|decreased|grew|declined|rose|fell|up|down)\b(?: by)?(?: approximately| about)? (?:\$[\d.,]+(?: (?:million|billion))?|[\d.,]+%)"
    r"|\b(?:an? )?(increase|decrease|growth|decline) of (?:approximately )?(?:\$[\d.,]+(?: (?:million|billion))?|[\d.,]+%)", re.I)
CAPITAL_RETURN_NEWS = 0.35  # a new buyback authorization, a dividend raised or cut
COST_LINE_SHARE = 0.5  # a cost or expense line's move counts half: the margins and operating income tell it
_COST_LINE = re.compile(r"\W*(?:total )?(?:cost of [\w ,&-]{2,60}?|[\w&,' -]{0,60}?\b(?:expenses?|costs?))\s+"
                        r"(?:(?:was|were) )?(?:increased|decreased|rose|fell|declined|grew)\b", re.I)
REVERSAL = 0.35  # a line of the results moves the other way than the older MD&A said it did
WORKFORCE_NEWS = 0.3  # a plan to cut jobs, with its count or share ("a reduction of up to 7,000 ... personnel")
_WORKFORCE_CUT = re.compile(
    r"\b(?:reduc\w*|eliminat\w*|cut\w*|lay\s?offs?|laid off)\b[^.]{0,60}?\b(?:up to |approximately |about |some )?\d[\d,]*(?:\.\d+)?%?"
    r" (?:of (?:our |its )?)?(?:[\w-]+ ){0,3}?(?:personnel|employees|positions|roles|jobs|headcount|workforce)\b", re.I)
_CAPITAL_RETURN_NEWS = re.compile(
    r"\b(authoriz\w*|approved|announced|declared|raised|increased|new)\b[^.]{0,80}\b(repurchase|buyback|dividend)|"
    r"\b(repurchase|buyback)s? (program|authorization)s?\b[^.]{0,60}\bup to\b|"
    r"\bdividends?\b[^.]{0,80}\b(an increase|a decrease|increased|raised|reduced|cut)\b", re.I)
_BOILERPLATE = re.compile(
    r"\b(accounting standards? update|asu no\.|asu 20\d\d|financial accounting standards board|fasb|forward-looking statements?|"
    r"the following summarizes|website|incorporated (herein )?by reference|table of contents)\b", re.I)
_RESULTS = re.compile(
    r"\b(net sales|revenues?|gross margin|operating (income|loss|margin|expenses)|net (income|earnings|loss)|earnings per share|"
    r"effective tax rate|cash flows?|capital expenditures|backlog|deliveries|guidance|outlook|charges?|losses)\b", re.I)


def _changed_sentences(change: ParagraphChange) -> str:
    """What a change says: the whole paragraph when added or removed, else the newer sentences that
    hold a change."""
    if change.kind != "modified" or not change.redline:
        return change.new_text or change.old_text or ""
    sentences = [s for s in _sentences(change.redline) if "{+" in s or "[-" in s]
    return " ".join(re.sub(r"\[-.*?-\]", "", s).replace("{+", "").replace("+}", "") for s in sentences)


def _paragraph_highlight(item: str, change: ParagraphChange, figures: list[NumberChange], weight: float,
                         context: _Context) -> Highlight:
    added_text = change.new_text if change.kind == "added" else change.old_text if change.kind == "removed" else \
        " ".join(_ADDED.findall(change.redline or ""))
    text = change.new_text or change.old_text or ""
    said = _changed_sentences(change)
    kind = _topic(item, change, text, said, added_text, figures, context)
    novelty = _novelty(added_text if change.kind != "removed" else "", context)
    amount = _amount_signal(added_text, context)
    words = change.words_added + change.words_removed
    size = min(0.2, words / 500)
    reasons = []
    figure = max(figures, key=lambda n: _figure_size(n, context)) if figures else None
    figure_size = _figure_size(figure, context) if figure else 0.0
    if item == "7":
        figure_size = max(figure_size, _stated_move(said))
    if figure is not None:
        reasons.append(f"figure {figure.old_text} → {figure.new_text}")
        kind = kind if kind in KIND_BASE else "number_change"
    elif kind not in KIND_BASE:
        kind = {"added": "text_added", "removed": "text_removed"}.get(change.kind, "text_modified")
    base = KIND_BASE.get(kind, 0.1 if not change.kind == "modified" or figure else 0.06)
    if " | " in text:
        base *= 0.6  # a table row's figure speaks through the key figures and the prose around it
    results = 0.1 if item in ("7", "1") and _RESULTS.search(said) else 0.0  # what drove the results
    if item == "7" and _STATES_A_MOVE.search(said):
        results = RESULTS_MOVE  # "AWS sales increased 19%", "Data Center revenue was up 142%"
    if item == "7" and _COST_LINE.match(said):  # "Cost of automotive sales revenue decreased $3.25 billion"
        results, figure_size = results * COST_LINE_SHARE, figure_size * COST_LINE_SHARE
        reasons.append("a cost or expense line (the margins tell it)")
    news = CAPITAL_RETURN_NEWS if kind == "capital_return" and _CAPITAL_RETURN_NEWS.search(said) else 0.0
    layoffs = WORKFORCE_NEWS if change.kind != "removed" and _WORKFORCE_CUT.search(said) else 0.0
    lead = _lead(item, change, context)
    reversed_line = _reversed_move(said, context) if item == "7" and change.kind != "removed" else None
    reversal = REVERSAL if reversed_line else 0.0
    materiality = weight * _any_of(base, size, novelty, max(amount, figure_size), results, lead, news, reversal, layoffs)
    if _BOILERPLATE.search(said[:400]):
        materiality *= 0.3  # a new accounting standard, a forward-looking-statements notice: no news
        reasons.append("boilerplate")
    if change.kind == "removed" and _rolled_off(change.old_text or "", item, context):
        materiality *= ROLLED_OFF
        reasons.append("the year that left the comparison")
    if kind in KIND_BASE:
        reasons.insert(0, kind.replace("_", " "))
    if novelty:
        reasons.append("terms new to this filing")
    if amount:
        reasons.append("large amount stated")
    if item in ("7", "1") and _RESULTS.search(said):
        reasons.append("results discussion")
    if news:
        reasons.append("a new repurchase program or dividend")
    if layoffs:
        reasons.append("a workforce reduction")
    if reversed_line:
        reasons.append(f"{reversed_line[0].upper()}{reversed_line[1:]} turned: the older filing said it moved the other way")
    if lead:
        reasons.append("in the opening of MD&A")
    if size >= 0.1:
        reasons.append(f"{words} words changed")
    reasons.append(f"Item {item} weight {weight}")
    old_quote = new_quote = None
    if figure is not None:
        old_quote = {"text": _sentence_of(change.old_text or "", figure.old_text),
                     "link": _fact_or_text(context.older_url, figure.old_fact, change.old_text, figure.old_text)}
        new_quote = {"text": _sentence_of(change.new_text or "", figure.new_text),
                     "link": _fact_or_text(context.newer_url, figure.new_fact, change.new_text, figure.new_text)}
    else:
        if change.old_text:
            text = _clip_chars(_changed_sentence(change.redline or "", old=True) or _first_sentence(change.old_text))
            old_quote = {"text": text, "link": _text_link(context.older_url, text)}
        if change.new_text:
            text = _clip_chars(_changed_sentence(change.redline or "") or _first_sentence(change.new_text))
            new_quote = {"text": text, "link": _text_link(context.newer_url, text)}
    return Highlight(
        kind=kind, item=item, headline=_headline(item, kind, change, figure, new_quote, old_quote),
        materiality=materiality, reasons=reasons,
        old=_number_value(figure, old=True) if figure else None, new=_number_value(figure, old=False) if figure else None,
        change=_number_change(figure) if figure else None,
        quotes={"old": old_quote, "new": new_quote},
        redline=_clip_redline(change.redline if change.kind == "modified" else
                              f"{{+{change.new_text}+}}" if change.kind == "added" else f"[-{change.old_text}-]"),
    )


_MOVE = re.compile(r"(?P<subject>[A-Z][A-Za-z&'’\- ]{2,90}?) (?:(?:was|were|has|have) )?"
                   r"(?P<verb>increased|decreased|rose|fell|declined|grew)\b")
_UP = frozenset(("increased", "rose", "grew"))
# what a reader follows year to year: sales, margins, profit or loss; not costs, cash, taxes or debt
_RESULTS_LINE = re.compile(r"\b(?:sales|revenues?|margins?|income|earnings|profits?|loss)\b")
_NOT_RESULTS_LINE = re.compile(r"\b(?:expenses?|costs?|cash|tax|debt|sg&a)(?!\w)")


def _moves_of(paragraphs: Iterable[str]) -> dict[str, set[str]]:
    """What MD&A says moved which way: "Products gross margin and Products gross margin percentage
    increased during 2024" -> {"products gross margin": {"up"}, "products gross margin percentage": {"up"}}."""
    moves: dict[str, set[str]] = {}
    for match in (_MOVE.match(sentence) for paragraph in paragraphs if " | " not in paragraph for sentence in _sentences(paragraph)):
        if match is None:
            continue
        direction = "up" if match.group("verb") in _UP else "down"
        subject = re.sub(r"^(?:the|our) | (?:also|again|further|both)$", "", match.group("subject").lower().strip())
        if not _RESULTS_LINE.search(subject) or _NOT_RESULTS_LINE.search(subject):
            continue
        parts = [re.sub(r"^(?:the|our) ", "", part) for part in subject.split(" and ")]
        if any(len(part.split()) < 2 for part in parts):  # "general and administrative expenses" is one line
            parts = [subject]
        for part in parts:
            if len(part.split()) >= 2:  # "Sales", "It": too vague to compare across years
                moves.setdefault(part, set()).add(direction)
    return moves


def _reversed_move(said: str, context: _Context) -> str | None:
    """The results line whose move this year runs against the only direction the older MD&A gave it
    (AAPL 2025: "Products gross margin percentage decreased", after it "increased" in 2024)."""
    said = " ".join(said.split())  # a redline's sentences keep the spaces around what was cut
    for subject, directions in _moves_of([said]).items():
        before = context.older_moves.get(subject)
        if before and len(directions) == 1 and len(before) == 1 and directions != before:
            printed = re.search(re.escape(subject), said, re.I)
            return said[printed.start():printed.end()] if printed else subject
    return None


_YEAR_WORD = re.compile(r"\b(?:fiscal (?:year )?)?((?:19|20)\d\d)\b")


def _rolled_off(text: str, item: str, context: _Context) -> bool:
    """A dropped paragraph that only speaks of years before the newer filing's prior year ("2022
    compared with 2021" in a 2024 filing): the comparison rolled forward, nothing was withdrawn.
    In MD&A, which tells the year's results, a paragraph that speaks of no year after the prior one
    is last year's story too ("OI&E, net increased $4.9 billion from 2022 to 2023" in a 2024 filing);
    elsewhere such a paragraph may be a matter closed (a weakness remediated), and it ranks."""
    if context.newer_year is None:
        return False
    years = {int(y) for y in _YEAR_WORD.findall(text)}
    return bool(years) and max(years) <= context.newer_year - (1 if item == "7" else 2)


def _any_of(*signals: float) -> float:
    """Signals combined as independent evidence, 1 - (1 - a)(1 - b)...: each adds, none alone
    reaches 1, and a paragraph with every signal does not overflow the scale."""
    remaining = 1.0
    for signal in signals:
        remaining *= 1.0 - min(0.95, max(0.0, signal))
    return 1.0 - remaining


def _lead(item: str, change: ParagraphChange, context: _Context) -> float:
    """MD&A opens with the year's story (an overview, highlights in bullets): its first paragraphs
    weigh more, the boost fading over the first quarter of the item."""
    if item != "7" or change.new_index is None or not context.item_sizes.get(item):
        return 0.0
    share = change.new_index / context.item_sizes[item]
    bullet = 0.05 if (change.new_text or "").startswith(("•", "●", "·")) else 0.0
    return max(0.0, 0.15 * (1 - share / 0.25)) + bullet


def _topic(item: str, change: ParagraphChange, text: str, said: str, added: str, figures: list[NumberChange],
           context: _Context) -> str | None:
    """The kind of a changed paragraph, from what its change says: a changed sentence must be about
    the topic (its word within the sentence's opening, not in a passing "net of cash acquired"),
    and for a reworded paragraph the word must be among the words it added. A figure in a
    forward-looking sentence is guidance."""
    if item == "3":
        return "legal"
    if figures and any(_guides(_sentence_of(text, n.new_text), n, context) for n in figures):
        return "guidance"
    sentences = _sentences(said)[:4]
    if any(_guides_in_words(sentence, context) for sentence in sentences):
        return "guidance"
    cash_flows = _CASH_FLOWS.match(text) is not None  # its deals and dividends are uses of cash, told elsewhere
    for sentence in sentences:
        opening = sentence[:TOPIC_OPENING]
        for kind, pattern in TOPICS:
            if (kind == "leadership" and item not in ("1", "4", "10", "7")) or (cash_flows and kind in ("transaction", "capital_return")):
                continue
            match = pattern.search(opening)
            if match is None or _INCIDENTAL.search(sentence[max(0, match.start() - 40):match.end() + 40]):
                continue
            if _DEAL.fullmatch(match.group(0)) and _EXPLAINS.search(sentence[:match.start()]):
                continue  # "G&A increased 14%, primarily due to acquisitions": a move explained, not a deal (a charge stays one)
            if change.kind == "modified" and not pattern.search(added) and not any(n.new_text in sentence for n in figures):
                continue  # the topic was there the year before and no figure of it changed: the change is elsewhere
            return kind
    return None


TOPIC_OPENING = 160  # characters of a sentence that say what it is about
# a deal or a buyback named after `_EXPLAINS`' words explains the figure the sentence is about
_DEAL = re.compile(r"acquir(?:e|ed|es|ing)|acquisitions?|mergers?|divest\w*|dividends?|repurchases?|repurchased|buybacks?", re.I)
_CASH_FLOWS = re.compile(r"\W*(?:(?:net )?cash (?:provided|used|flows?|generated)|(?:operating|investing|financing) activities)\b", re.I)
_INCIDENTAL = re.compile(
    r"net of (cash )?acquired|(excluding|excludes|exclusive of|net of|impact of|effects? of|other than)\s+(\w+\s+){0,3}"
    r"(acquisitions?|divestitures?|impairments?|restructuring)|acquisitions? (and|or) divestitures? had|"
    r"(business operations|investments), acquisitions|such as (\w+\s+){0,4}acquisitions|"
    r"(acquisitions?|divestitures?) of (about |approximately |less than )?\d|"  # "divestitures of 1%": a share of a move
    r"(points?|%) from (\w+\s+){0,2}(acquisitions?|divestitures?)", re.I)


def _guides_in_words(sentence: str, context: _Context) -> bool:
    """A sentence that states the company's own amount for a coming period ("we project capital
    expenditures of approximately $21 billion to $25 billion for fiscal 2026"), or an expected range
    ("net sales are expected to be between $151.0 billion and $155.5 billion")."""
    if not _FORWARD.search(sentence) or not _AMOUNT.search(sentence):
        return False
    if _RANGE.search(sentence):
        return True
    return context.newer_year is not None and any(int(year) > context.newer_year for year in re.findall(r"\b(20\d\d)\b", sentence))


_RANGE = re.compile(r"\bbetween (?:approximately )?[$\d][\d.,]*(?: (?:million|billion))? and [$\d]|\brange of \$", re.I)


_NEXT = re.compile(r"\b(next (fiscal )?year|coming year|the year ahead|first quarter of|(?:fiscal )?(20\d\d))\b", re.I)


def _guides(sentence: str, number: NumberChange, context: _Context) -> bool:
    """The company's own figure for a future period: forward words ("expect", "outlook",
    "guidance") and a period after the fiscal year the filing reports ("in 2025", "next year")."""
    if _future(number, context):
        return True
    if not _FORWARD.search(sentence):
        return False
    for match in _NEXT.finditer(sentence):
        year = match.group(3)
        if not year or (context.newer_year is not None and int(year) > context.newer_year):
            return True
    return False


def _future(number: NumberChange, context: _Context) -> bool:
    return (number.comparison == SAME_PERIOD and context.newer_year is not None and number.period is not None
            and number.period.isdigit() and int(number.period) > context.newer_year)


def _novelty(added: str, context: _Context) -> float:
    """Names the older filing never used ("Blackwell", "Alaska Airlines", "VIZIO", "Figma"): a new
    product, partner, place or matter. Common words are left out: a long rewording is full of them."""
    if not added:
        return 0.0
    if not context.older_words:
        return 0.0
    return min(0.3, 0.1 * len(_names(added) - context.older_words))


def _names(text: str) -> set[str]:
    """The capitalised words of a text that do not just start a sentence, lower-cased: its names."""
    return {w.lower() for w in _WORD.findall(text) if w[:1].isupper() and not _SENTENCE_START.match(w)}


def _amount_signal(text: str, context: _Context) -> float:
    """The largest amount a change states, relative to the company's revenue. (Measured: reading a
    reworded sentence's amounts with the scale word after the inserted digits ranked more cash-flow
    detail above the analyst's changes, 77% against 82%; the inserted words alone are read.)"""
    if not text or not context.revenue:
        return 0.0
    largest = 0.0
    for number, scale in _AMOUNT.findall(text):
        try:
            value = float(number.replace(",", "")) * SCALES.get((scale or "").lower(), 1.0)
        except ValueError:
            continue
        largest = max(largest, value)
    return min(0.35, largest / context.revenue * 10)


def _stated_move(text: str) -> float:
    """The largest growth rate a sentence states ("was up 142%", "increased 19%"), as a size: a
    new paragraph has no older figure to measure against, its own words give the move."""
    rates = [float(m.group(1).replace(",", "")) for m in _MOVE_RATE.finditer(text)]
    return min(0.3, max(rates) / 100) if rates else 0.0


_MOVE_RATE = re.compile(r"\b(?:increased|decreased|grew|declined|rose|fell|up|down)(?: by)?(?: approximately| about)? ([\d,]+(?:\.\d+)?)%", re.I)


def _figure_size(number: NumberChange | None, context: _Context) -> float:
    """How much a figure moved: an amount relative to revenue, else relative to itself, a rate in points."""
    if number is None or number.delta is None:
        return 0.0
    if number.unit in ("USD",) and context.revenue:
        return min(0.4, abs(number.delta) / context.revenue * 8 + min(0.1, abs(number.relative_change or 0) / 5))
    if number.unit in ("%", "pp"):
        return min(0.3, abs(number.delta) / 15)
    if number.unit == "bps":
        return min(0.3, abs(number.delta) / 1500)
    relative = number.relative_change
    return min(0.25, abs(relative) / 2) if relative is not None else 0.0


def _number_value(number: NumberChange, *, old: bool) -> dict:
    value = number.old_value if old else number.new_value
    period = number.old_period if old else number.new_period
    return {"value": value, "unit": number.unit, "period": period if period not in (None, "current") else None,
            "text": number.old_text if old else number.new_text}


def _number_change(number: NumberChange) -> dict | None:
    if number.delta is None:
        return None
    relative = number.relative_change
    return {"absolute": round(number.delta, 6), "percent": round(relative * 100, 2) if relative is not None else None}


# --------------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z(“\"$])")
_ABBREVIATION = re.compile(r"(?:\b[A-Z]\.|\b(?:No|Inc|Corp|Co|Ltd|Mr|Ms|Dr|vs|U\.S|e\.g|i\.e)\.)$")


def _sentences(text: str) -> list[str]:
    out, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        candidate = text[start:match.start()].strip()
        if _ABBREVIATION.search(candidate) or len(candidate) < 25:
            continue
        out.append(candidate)
        start = match.end()
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def _first_sentence(text: str) -> str:
    sentences = _sentences(text)
    return sentences[0] if sentences else text


def _sentence_of(text: str, figure: str) -> str:
    """The sentence (or table row) holding a figure, verbatim."""
    if " | " in text:
        return _clip_chars(text)
    for sentence in _sentences(text):
        if figure and figure in sentence:
            return _clip_chars(sentence)
    return _clip_chars(_first_sentence(text))


def _changed_sentence(redline: str, old: bool = False) -> str | None:
    """The first sentence of the newer (or older) text that holds a change, as that year reads it."""
    if not redline:
        return None
    mark = "\x01"
    if old:  # the older text: deletions kept (marked), insertions gone (their place marked)
        text = re.sub(r"\{\+.*?\+\}", mark, redline, flags=re.S)
        text = re.sub(r"\[-(.*?)-\]", lambda m: mark + m.group(1), text, flags=re.S)
    else:
        text = re.sub(r"\[-.*?-\]", mark, redline, flags=re.S)
        text = re.sub(r"\{\+(.*?)\+\}", lambda m: mark + m.group(1), text, flags=re.S)
    for paragraph in text.split("\n\n"):  # a sentence never spans paragraphs
        for sentence in _sentences(paragraph):
            if mark in sentence:
                clean = " ".join(sentence.replace(mark, " ").split())
                if clean:
                    return clean
    return None


def _clip(text: str, words: int) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def _clip_chars(text: str, limit: int = QUOTE_CHARS) -> str:
    """A quote stays verbatim: cut at a word boundary, no ellipsis added (the page shows the cut)."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0]


_MARK = re.compile(r"\[-.*?-\]|\{\+.*?\+\}", re.S)


def _clip_redline(redline: str | None, limit: int = REDLINE_CHARS, context: int = 120) -> str | None:
    """A long redline keeps every change it can, each with a little context, the rest cut to "…"."""
    if not redline or len(redline) <= limit:
        return redline
    windows: list[list[int]] = []
    for match in _MARK.finditer(redline):
        start, end = max(0, match.start() - context), min(len(redline), match.end() + context)
        if windows and start <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], end)
        else:
            windows.append([start, end])
    spans = [(_outside_marks(redline, start), _outside_marks(redline, end)) for start, end in windows]
    chosen, used = set(), 0
    for n in sorted(range(len(spans)), key=lambda n: -(spans[n][1] - spans[n][0])):  # the largest changes first
        size = spans[n][1] - spans[n][0]
        if used + size > limit and chosen:
            continue
        chosen.add(n)
        used += size
    text = " … ".join(redline[spans[n][0]:spans[n][1]].strip() for n in sorted(chosen))
    text = ("… " if windows and windows[0][0] > 0 else "") + text + (" …" if windows and windows[-1][1] < len(redline) else "")
    return _cut_inside(text, limit) if len(text) > limit else text


def _new_statements(redline: str, older_words: frozenset[str], limit: int = REDLINE_CHARS) -> str:
    """A risk factor rewritten at length keeps the sentences that say most that is new, in their
    order: names the older filing never used first, then the share of the sentence inserted. (NVDA
    FY2025's export-control risk factor grew by 1,291 words; cut at its start, the redline lost
    "regulators in China are investigating ...".)"""
    sentences, start = [], 0
    for match in _REDLINE_SENTENCE_END.finditer(redline):
        end = _outside_marks(redline, match.end())
        if end > start:
            sentences.append((start, end))
            start = end
    sentences.append((start, len(redline)))
    scored = []
    for n, (a, b) in enumerate(sentences):
        piece = redline[a:b]
        inserted = " ".join(_ADDED.findall(piece))
        if not inserted and "[-" not in piece:
            continue  # unchanged: context the reader does not need here
        told = 1 if _RULING.search(inserted) else 0  # a ruling or an investigation now told comes first
        scored.append((-told, -len(_names(inserted) - older_words), -len(inserted) / max(1, len(piece)), n))
    chosen, used = [], 0
    for *_, n in sorted(scored):
        size = sentences[n][1] - sentences[n][0]
        if used + size > limit and chosen:
            continue
        chosen.append(n)
        used += size
    chosen.sort()
    text = ""
    for previous, n in zip([None] + chosen, chosen):
        gap = previous is None and n > 0 or previous is not None and n > previous + 1
        text += (" … " if gap else " ") + redline[sentences[n][0]:sentences[n][1]].strip()
    text = text.strip() + (" …" if chosen and chosen[-1] < len(sentences) - 1 else "")
    return _cut_inside(text, limit) if len(text) > limit else text


_REDLINE_SENTENCE_END = re.compile(r"(?<=[.!?])(?:\+\}|-\])?\s+(?=[\[{]?[+-]?[A-Z“\"(])")


def _cut_inside(redline: str, limit: int) -> str:
    """One change longer than the limit (a whole new risk factor) is cut at a word, its mark closed."""
    cut = redline[:limit].rsplit(" ", 1)[0]
    opened = max(cut.rfind("{+"), cut.rfind("[-"))
    closed = max(cut.rfind("+}"), cut.rfind("-]"))
    if opened > closed:
        cut += "+}" if cut[opened] == "{" else "-]"
    return cut + " …"


def _outside_marks(text: str, at: int) -> int:
    """A cut position moved out of any [-...-] or {+...+} mark it falls in."""
    for match in _MARK.finditer(text, max(0, at - 2000)):
        if match.start() < at < match.end():
            return match.end()
        if match.start() >= at:
            break
    return at


def _sentence(text: str) -> str:
    text = text.strip().lstrip("•●·▪◦–- \u00a0")  # a bullet of the filing's list is no start of a sentence
    return text if text.endswith((".", "…", "?", "!")) else text + "."


def _headline(item: str, kind: str, change: ParagraphChange, figure: NumberChange | None, new_quote, old_quote) -> str:
    where = short_name(item)
    if figure is not None:
        if figure.in_table:
            label = figure.metric or figure.row_label or "A figure"
            return wording.change_sentence(label, figure.old_value, figure.new_value, figure.unit,
                                           period=figure.period if figure.comparison == SAME_PERIOD and figure.period else None)
        said = (new_quote or {}).get("text") or ""
        if figure.old_text not in said:
            said = f"{said.rstrip('.')} (previously {figure.old_text})"
        return _sentence(_clip(said, 45))
    quote = (new_quote or old_quote or {}).get("text") or ""
    # The filing's own sentence is the headline; the page shows its kind and Item beside it. Only
    # what the newer filing no longer says is marked, or the reader would take it as current.
    lead = ""
    if change.kind == "removed":
        lead = f"Dropped from {where}: " if kind == "text_removed" else f"No longer stated in {where}: "
    return _sentence(lead + _clip(quote, 40))


def _text_link(url: str | None, text: str | None) -> str | None:
    """A link to the quoted words in the SEC document: a text fragment (#:~:text=) of their first
    words (of a table row, its label: the page shows no " | ")."""
    if not url or not text:
        return url
    text = text.split(" | ")[0]
    words = " ".join(re.sub(r"\[-.*?-\]|\{\+|\+\}", "", text).split()[:8])
    if not words:
        return url
    return f"{url}#:~:text={url_quote(words, safe='').replace('-', '%2D')}"


def _fact_or_text(url: str | None, element_id: str | None, text: str | None, figure: str) -> str | None:
    if url and element_id:
        return f"{url}#{element_id}"
    return _text_link(url, _sentence_of(text or "", figure))


def to_dicts(highlights: Iterable[Highlight]) -> list[dict]:
    return [h.to_dict() for h in highlights]
