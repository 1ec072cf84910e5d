"""Is the report worth the user's token? Issues with codes and severities, then a `RefundDecision`.

Pure functions over the extraction, the diff and the summaries. A refund happens if and only if an
issue is `blocking`; every issue, warnings too, is stored in the report (`extraction_issues`).

The rules tell broken extraction from legitimately short or odd filings:
- an item's status is trusted: `incorporated_by_reference`, `not_applicable` and `reserved` items are
  short by design, and an item present in one year only (Item 1C before FY2023) is normal;
- a pointer to the financial statements elsewhere in the filing is followed: Item 8 that points to
  Part IV / Item 15 must find the statements there;
- sizes are judged against THRESHOLDS, derived from the real filings of the corpus (see
  `bench/derive_thresholds.py` and the table's comment), and against the company's other year, which
  is the best yardstick of what this company writes;
- the two years are compared as a whole: an item whose text matches last year's text of *another*
  item means the extraction mislabelled it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from typing import Sequence

from ai_analyzer import EXECUTIVE, AiSummaries, highlight_section, item_shown_text, rank_items
from faithfulness import Sources, check
from highlights import Highlight
from diff_analyzer import FilingDiff
from form_10k import ITEM_ORDER, ITEM_TITLES
from section_extractor import ExtractedFiling, ItemStatus, ItemText

BLOCKING = "blocking"
WARNING = "warning"

# -- the thresholds ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemExpectation:
    min_words: int = 0  # a `present` item shorter than this is a truncated extraction
    ratio_floor: float = 0.0  # smaller/larger year below this: one year lost text, or took in its neighbours'
    prose: bool = False  # the item is prose: a table-only text is an extraction error


# Derived from the 68 corpus filings and 13 year-over-year pairs by `python -m bench.derive_thresholds`
# (the script prints the observed values next to these). The rules behind the numbers:
# - min_words: 40% of the smallest `present` item of that number in the corpus (reference items and our
#   extraction agree on it), rounded down. Smallest seen: Item 1 295 words (Target 2003), 1A 2,488
#   (a smaller reporting company), 7 576 (a micro-cap), 8 2,417 (a micro-cap). 40% keeps small companies
#   clear of the bound while a truncated item (an extraction that stopped at an in-text "see Item 7")
#   usually keeps far less.
# - ratio_floor: year-over-year word ratios of long items (>= 1,000 words in the larger year) lie between
#   0.71 and 1.22 in the corpus; a year that keeps under 35% of the other year's words has lost text.
#   Which of the two it is: when the larger year lacks the items that follow (and the other year has
#   them), it swallowed them (ITEM_SWALLOWED_NEIGHBOURS); otherwise the smaller year lost text
#   (ITEM_TOO_SHORT).
THRESHOLDS: dict[str, ItemExpectation] = {
    "1": ItemExpectation(min_words=118, ratio_floor=0.35, prose=True),
    "1A": ItemExpectation(min_words=995, ratio_floor=0.35, prose=True),
    "1C": ItemExpectation(ratio_floor=0.35),
    "7": ItemExpectation(min_words=230, ratio_floor=0.35, prose=True),
    "7A": ItemExpectation(ratio_floor=0.35),
    "8": ItemExpectation(min_words=966, ratio_floor=0.35),
}
RATIO_MIN_WORDS = 1000  # year-over-year ratios are judged only when the larger year has this many words
CORE_ITEMS = ("1", "7", "8")  # every 10-K has these headings (Regulation S-K), in its body or by reference
RISK_FACTORS_REQUIRED_FROM = "2005-12-01"  # Item 1A is required for fiscal years ending on or after
IMPLAUSIBLE_SHARE = 0.95  # a long item this rewritten (both years >= 1,500 words) is misaligned, not rewritten
IMPLAUSIBLE_MIN_WORDS = 1500
SWAP_SIMILARITY = 0.5  # newer item X matches older item Y (Y != X) at least this well ...
SWAP_MARGIN = 2.0  # ... and this many times better than older X: the labels are crossed
TOC_ROW_SHARE = 0.3  # an item whose paragraphs are mostly "Item N ... page" rows is a table of contents
TOC_MIN_ROWS = 5
TOP_ITEMS = 3  # a summary missing or invalid for one of the three most changed items blocks the report


# -- results -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityIssue:
    code: str
    severity: str
    message: str
    item: str | None = None
    filing: str | None = None  # older | newer | None (both, or the summaries)
    value: float | None = None  # what was measured
    threshold: float | None = None  # what it was held against

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RefundDecision:
    refund: bool
    reason: str | None
    codes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"refund": self.refund, "reason": self.reason, "codes": list(self.codes)}


@dataclass(frozen=True)
class QualityReport:
    issues: tuple[QualityIssue, ...]
    decision: RefundDecision

    @property
    def is_valid(self) -> bool:
        return not self.decision.refund

    @property
    def blocking(self) -> tuple[QualityIssue, ...]:
        return tuple(i for i in self.issues if i.severity == BLOCKING)

    def to_dict(self) -> dict:
        return {"is_valid": self.is_valid, "issues": [i.to_dict() for i in self.issues], "refund": self.decision.to_dict()}


@dataclass(frozen=True)
class FilingContext:
    """What the validator knows of the two filings besides their items (from the EDGAR provenance)."""

    older_period: str | None = None  # period of report, YYYY-MM-DD
    newer_period: str | None = None

    def period(self, label: str) -> str | None:
        return self.older_period if label == "older" else self.newer_period


def decide(issues: tuple[QualityIssue, ...]) -> RefundDecision:
    """Refund if and only if an issue is blocking; the reason lists the blocking codes."""
    blocking = [i for i in issues if i.severity == BLOCKING]
    if not blocking:
        return RefundDecision(refund=False, reason=None)
    codes = tuple(dict.fromkeys(i.code for i in blocking))
    return RefundDecision(refund=True, reason="report quality below standard: " + ", ".join(codes), codes=codes)


def validate(
    older: ExtractedFiling,
    newer: ExtractedFiling,
    diff: FilingDiff,
    summaries: AiSummaries,
    context: FilingContext | None = None,
    highlights: Sequence[Highlight] = (),
    sources: Sources | None = None,
) -> QualityReport:
    context = context or FilingContext()
    issues: list[QualityIssue] = []
    for label, filing, other in (("older", older, newer), ("newer", newer, older)):
        issues += check_filing(filing, label, period=context.period(label), other=other)
    issues += check_pair(older, newer, diff)
    issues += check_summaries(diff, summaries, highlights, sources)
    issues_tuple = tuple(issues)
    return QualityReport(issues=issues_tuple, decision=decide(issues_tuple))


# -- one filing ------------------------------------------------------------------------------------


def check_filing(filing: ExtractedFiling, label: str, *, period: str | None = None, other: ExtractedFiling | None = None) -> list[QualityIssue]:
    """Checks that need one filing only (`other`, the company's other year, sharpens a few)."""
    found = [t for t in filing.items.values() if t.status is not ItemStatus.MISSING]
    if filing.method == "none" or len(found) < 3:
        return [QualityIssue("NO_ITEMS_FOUND", BLOCKING, f"only {len(found)} item headings were found", filing=label,
                             value=len(found), threshold=3)]
    issues: list[QualityIssue] = []
    items = filing.items
    for item in _required_items(period, other):
        if items[item].status is ItemStatus.MISSING:
            issues.append(QualityIssue("ITEM_MISSING", BLOCKING, f"Item {item} ({ITEM_TITLES[item]}) was not found", item=item, filing=label))
    for item, expectation in THRESHOLDS.items():
        text = items[item]
        if text.status is ItemStatus.PRESENT and text.word_count < expectation.min_words:
            issues.append(QualityIssue("ITEM_TOO_SHORT", BLOCKING, f"Item {item} has {text.word_count} words; a real one has at least "
                                       f"{expectation.min_words}", item=item, filing=label, value=text.word_count, threshold=expectation.min_words))
        if expectation.prose and text.status is ItemStatus.PRESENT and text.table_only:
            issues.append(QualityIssue("TABLE_ONLY_ITEM", BLOCKING, f"Item {item} holds only table rows, no prose", item=item, filing=label))
    for text in items.values():
        if text.item not in THRESHOLDS and text.status is ItemStatus.PRESENT and text.table_only and text.word_count >= 50:
            issues.append(QualityIssue("TABLE_ONLY_ITEM", WARNING, f"Item {text.item} holds only table rows", item=text.item, filing=label))
    issues += _table_of_contents(filing, label)
    issues += _swallowed_neighbours(filing, label)
    issues += _duplicates(filing, label)
    issues += _out_of_document_order(filing, label)
    issues += _pointers(filing, label)
    return issues


def _required_items(period: str | None, other: ExtractedFiling | None) -> tuple[str, ...]:
    required = list(CORE_ITEMS)
    risk_factors_era = period is not None and period >= RISK_FACTORS_REQUIRED_FROM
    if risk_factors_era or (other is not None and other.items["1A"].status is not ItemStatus.MISSING and period is None):
        required.append("1A")
    return tuple(required)


_TOC_ROW = re.compile(r"^(?:part\s+[ivx]+\b.{0,40})?items?\s+\d{1,2}[a-c]?\b.{0,160}$", re.I)
_HEADING_OF = re.compile(r"^items?\s+(\d{1,2}[a-c]?)\s*[.:\-–—]?\s+\S", re.I)


def _table_of_contents(filing: ExtractedFiling, label: str) -> list[QualityIssue]:
    issues = []
    for text in filing.items.values():
        if text.status is not ItemStatus.PRESENT or len(text.paragraphs) < TOC_MIN_ROWS:
            continue
        rows = [p for p in text.paragraphs if len(p.split()) <= 25 and _TOC_ROW.match(p)]
        distinct = {m.group(1).upper() for p in rows if (m := re.match(r"^(?:part\s+[ivx]+\W+)?items?\s+(\d{1,2}[a-c]?)", p, re.I))}
        share = len(rows) / len(text.paragraphs)
        if len(rows) >= TOC_MIN_ROWS and len(distinct) >= TOC_MIN_ROWS and share >= TOC_ROW_SHARE:
            issues.append(QualityIssue("TOC_CAPTURED", BLOCKING, f"Item {text.item} is mostly table-of-contents rows "
                                       f"({len(rows)} rows naming {len(distinct)} items)", item=text.item, filing=label,
                                       value=round(share, 3), threshold=TOC_ROW_SHARE))
    return issues


def _swallowed_neighbours(filing: ExtractedFiling, label: str) -> list[QualityIssue]:
    """An item holding the headings of later items that are missing took in their text."""
    issues = []
    order = {item: n for n, item in enumerate(ITEM_ORDER)}
    for text in filing.items.values():
        if text.status is not ItemStatus.PRESENT:
            continue
        later = []
        for paragraph in text.paragraphs:
            match = _HEADING_OF.match(paragraph)
            if match and len(paragraph.split()) <= 20:
                item = match.group(1).upper()
                if item in order and order[item] > order[text.item] and filing.items[item].status is ItemStatus.MISSING:
                    later.append(item)
        later = list(dict.fromkeys(later))
        if later:
            issues.append(QualityIssue("ITEM_SWALLOWED_NEIGHBOURS", BLOCKING, f"Item {text.item} contains the headings of "
                                       f"Items {', '.join(later)}, which were not found on their own", item=text.item,
                                       filing=label, value=len(later), threshold=0))
    return issues


def _duplicates(filing: ExtractedFiling, label: str) -> list[QualityIssue]:
    """Two items with the same text, unless they share one heading ("Items 10, 11, 12 and 13")."""
    seen: dict[str, ItemText] = {}
    issues = []
    for item in ITEM_ORDER:
        text = filing.items[item]
        if text.status is not ItemStatus.PRESENT or text.word_count < 50:
            continue
        key = " ".join(text.text.split()).lower()
        first = seen.get(key)
        if first is not None and not (first.start is not None and first.start == text.start):
            issues.append(QualityIssue("DUPLICATE_ITEM_TEXT", BLOCKING, f"Items {first.item} and {item} have the same text",
                                       item=item, filing=label))
        seen.setdefault(key, text)
    return issues


def _out_of_document_order(filing: ExtractedFiling, label: str) -> list[QualityIssue]:
    """Items out of document order: legitimate in some layouts (Morgan Stanley), so a warning only."""
    placed = [(ITEM_ORDER.index(t.item), t.start, t.item) for t in filing.items.values() if t.start is not None and t.paragraphs]
    placed.sort()
    inversions = [(a[2], b[2]) for a, b in zip(placed, placed[1:]) if b[1] < a[1]]
    if not inversions or filing.method == "cross_reference_index":
        return []
    pairs = ", ".join(f"{b} before {a}" for a, b in inversions[:4])
    return [QualityIssue("ITEMS_OUT_OF_ORDER", WARNING, f"items appear out of order in the document: {pairs}", filing=label,
                         value=len(inversions), threshold=0)]


_IN_THIS_FILING = ("item 15", "financial statements pages", "elsewhere in the filing", "notes to financial statements")


def _pointers(filing: ExtractedFiling, label: str) -> list[QualityIssue]:
    """Item 8 pointing to financial statements printed elsewhere in this filing (Part IV, F-pages after
    the signatures) must find them there; a pointer to another document cannot be followed."""
    item8 = filing.items["8"]
    if item8.status is not ItemStatus.INCORPORATED_BY_REFERENCE:
        return []
    where = (item8.refers_to or "").lower()
    if not any(target in where for target in _IN_THIS_FILING):
        return [QualityIssue("CONTENT_ELSEWHERE", WARNING, f"Item 8 refers to {item8.refers_to}; the financial statements "
                             "are not part of this document", item="8", filing=label)]
    if filing.financial_statements is None:
        return [QualityIssue("ITEM_MISSING", BLOCKING, "Item 8 points to financial statements elsewhere in the filing, "
                             "but the filing holds no balance sheet and income statement", item="8", filing=label)]
    return []


# -- the two years ---------------------------------------------------------------------------------


def check_pair(older: ExtractedFiling, newer: ExtractedFiling, diff: FilingDiff) -> list[QualityIssue]:
    issues: list[QualityIssue] = []
    for item, expectation in THRESHOLDS.items():
        a, b = older.items[item], newer.items[item]
        if a.status is not ItemStatus.PRESENT or b.status is not ItemStatus.PRESENT or not expectation.ratio_floor:
            continue
        small, large = sorted((a.word_count, b.word_count))
        if large < RATIO_MIN_WORDS or small / max(1, large) >= expectation.ratio_floor:
            continue
        larger, smaller = ("newer", "older") if b.word_count > a.word_count else ("older", "newer")
        big, other = (newer, older) if larger == "newer" else (older, newer)
        taken = _neighbours_lost(item, big, other)
        ratio = round(small / max(1, large), 3)
        if taken:  # the larger year took in the items after it, which it lacks and the other year has
            issues.append(QualityIssue("ITEM_SWALLOWED_NEIGHBOURS", BLOCKING, f"Item {item} of the {larger} filing has {large} "
                                       f"words against {small} in the other year, and Items {', '.join(taken)} are missing "
                                       f"from it", item=item, filing=larger, value=ratio, threshold=expectation.ratio_floor))
        else:  # the smaller year lost text
            issues.append(QualityIssue("ITEM_TOO_SHORT", BLOCKING, f"Item {item} of the {smaller} filing has {small} words "
                                       f"against {large} in the other year", item=item, filing=smaller, value=ratio,
                                       threshold=expectation.ratio_floor))
    issues += _crossed_items(older, newer)
    for item_diff in diff.items.values():
        s = item_diff.stats
        if (item_diff.presence == "both" and min(s.words_old, s.words_new) >= IMPLAUSIBLE_MIN_WORDS
                and s.share_changed_substantive >= IMPLAUSIBLE_SHARE):
            issues.append(QualityIssue("DIFF_IMPLAUSIBLE", BLOCKING, f"Item {item_diff.item} looks entirely rewritten "
                                       f"({s.share_changed_substantive:.0%} of its words), which usually means the two "
                                       "years' items are not the same section", item=item_diff.item,
                                       value=round(s.share_changed_substantive, 3), threshold=IMPLAUSIBLE_SHARE))
    return issues


_WORD = re.compile(r"[a-z]{4,}")


def _neighbours_lost(item: str, filing: ExtractedFiling, other: ExtractedFiling) -> list[str]:
    """The items right after `item` that `filing` lacks and `other` has (up to the next one both have)."""
    lost = []
    for later in ITEM_ORDER[ITEM_ORDER.index(item) + 1:]:
        mine, theirs = filing.items[later].status, other.items[later].status
        if mine is not ItemStatus.MISSING:
            break
        if theirs is not ItemStatus.MISSING:
            lost.append(later)
    return lost


def _vocabulary(text: ItemText) -> set[str]:
    return set(_WORD.findall(text.text.lower()))


def _crossed_items(older: ExtractedFiling, newer: ExtractedFiling) -> list[QualityIssue]:
    """An item whose text matches last year's text of another item was given the wrong label."""
    def present(filing):
        return {i: _vocabulary(t) for i, t in filing.items.items() if t.status is ItemStatus.PRESENT and t.word_count >= 200}

    old_words, new_words = present(older), present(newer)
    issues = []
    for item, words in new_words.items():
        own = _jaccard(words, old_words[item]) if item in old_words else 0.0  # absent last year: any match is another item's
        best, best_item = max(((_jaccard(words, w), i) for i, w in old_words.items() if i != item), default=(0.0, None))
        if best >= SWAP_SIMILARITY and best >= SWAP_MARGIN * own:
            issues.append(QualityIssue("ITEMS_OUT_OF_ORDER", BLOCKING, f"the newer Item {item} reads like last year's Item "
                                       f"{best_item} (similarity {best:.2f} against {own:.2f} with last year's Item {item})",
                                       item=item, filing="newer", value=round(best, 3), threshold=SWAP_SIMILARITY))
    return issues


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


# -- the summaries ---------------------------------------------------------------------------------


def check_summaries(diff: FilingDiff, summaries: AiSummaries, highlights: Sequence[Highlight] = (),
                    sources: Sources | None = None) -> list[QualityIssue]:
    issues: list[QualityIssue] = []
    sources = sources or Sources(diff)
    omitted = {o.item for o in summaries.omitted_items}
    order = summaries.ranked_items or tuple(d.item for d in rank_items(diff))  # the summarizer's own order
    substantive = {d.item for d in diff.items.values() if d.substantive}
    wanted = [item for item in order if item not in omitted and item in substantive]
    top = set(wanted[:TOP_ITEMS])
    for item in wanted:
        if item in summaries.items:
            continue
        severity = BLOCKING if item in top else WARNING
        if item in summaries.invalid_outputs:
            issues.append(QualityIssue("AI_OUTPUT_INVALID", severity, f"the summary of Item {item} was unusable: "
                                       f"{summaries.invalid_outputs[item]}", item=item))
        else:
            reason = summaries.failures.get(item, "no summary was produced")
            issues.append(QualityIssue("AI_SUMMARY_MISSING", severity, f"Item {item} changed but has no summary ({reason})", item=item))
    if wanted and (not summaries.executive_summary.strip() or EXECUTIVE in summaries.failures):
        reason = summaries.failures.get(EXECUTIVE, "empty")
        issues.append(QualityIssue("AI_SUMMARY_MISSING", WARNING, f"the executive summary was not written by the model ({reason}); "
                                   "the item headlines stand in for it"))
    for item, summary in summaries.items.items():
        misses = _unfaithful(summary, diff, summaries.provider, [h for h in highlights if h.item == item], sources)
        if misses:
            issues.append(QualityIssue("AI_UNFAITHFUL", BLOCKING, f"the summary of Item {item} says what the filing does not: "
                                       + "; ".join(misses[:3]), item=item, value=len(misses), threshold=0))
    if summaries.executive_misses:
        issues.append(QualityIssue("AI_UNFAITHFUL", BLOCKING, "the executive summary says what the filing does not: "
                                   + "; ".join(summaries.executive_misses[:3]), value=len(summaries.executive_misses), threshold=0))
    issues += check_directions(summaries, highlights)
    return issues


_RISE = re.compile(r"\b(rose|rises|risen|increased|increases|grew|grows|grown|higher|up|improved|gained|climbed|jumped|surged|expanded)\b", re.I)
_FALL = re.compile(r"\b(fell|falls|fallen|decreased|decreases|declined|declines|dropped|lower|down|shrank|contracted|slipped|"
                   r"plunged|reduced)\b", re.I)


def check_directions(summaries: AiSummaries, highlights: Sequence[Highlight]) -> list[QualityIssue]:
    """A summary sentence that says a figure rose when the highlight it cites fell (or the other way
    round) contradicts the filing: blocking in the executive summary or about a key figure."""
    by_id = {h.id: h for h in highlights}
    said = [(None, s.text, s.highlights) for s in summaries.executive_sentences]
    said += [(item, c.summary, c.highlights) for item, summary in summaries.items.items() for c in summary.key_changes]
    issues = []
    for item, text, cited in said:
        signs = {_sign(by_id[h]) for h in cited if h in by_id} - {0}
        if len(signs) != 1:
            continue  # no figure cited, or figures moving both ways: the sentence may well say both
        rises, falls = bool(_RISE.search(text)), bool(_FALL.search(text))
        sign = signs.pop()
        if (sign > 0 and falls and not rises) or (sign < 0 and rises and not falls):
            key = item is None or any(by_id[h].kind == "key_figure" for h in cited if h in by_id)
            issues.append(QualityIssue(
                "AI_DIRECTION_CONTRADICTED", BLOCKING if key else WARNING,
                f"{'the executive summary' if item is None else f'the summary of Item {item}'} says "
                f"{'a fall' if falls else 'a rise'} where the figure it cites {'rose' if sign > 0 else 'fell'}: {text[:160]!r}",
                item=item))
    return issues


def _sign(highlight: Highlight) -> int:
    """The direction of a key figure's or a segment's move. A paragraph's figure is left out: it
    may be a change amount itself ("increased $0.1 billion", against last year's $3.6 billion) or
    one of several moves its sentence tells (found in review: WMT, AAPL, PG refunded over quotes)."""
    if highlight.kind not in ("key_figure", "segment"):
        return 0
    change = highlight.change or {}
    absolute = change.get("absolute")
    if not isinstance(absolute, (int, float)) or absolute == 0:
        return 0
    old = (highlight.old or {}).get("value")
    if isinstance(old, (int, float)) and old < 0 and (highlight.new or {}).get("value", 0) < 0:
        return 0  # a loss that grew: "widened", "deepened" — rise and fall words both mislead
    return 1 if absolute > 0 else -1


def _unfaithful(summary, diff: FilingDiff, provider: str, highlights: Sequence[Highlight], sources: Sources) -> tuple[str, ...]:
    """Checked here again, against the item's text, whatever the summarizer recorded: every evidence
    quote must be in the filing; every number too (or in the item's highlights the model was shown),
    except in the offline summaries, whose numbers are the highlights' own, computed from the facts."""
    item_diff = diff.items.get(summary.item)
    if item_diff is None:
        return (f"Item {summary.item} is not in the diff",)
    shown = "\n".join([item_shown_text(item_diff), *(highlight_section(h) for h in highlights)])
    misses = check(summary, sources.of(summary.item), shown)
    if provider == "offline":
        misses = tuple(m for m in misses if not m.startswith("number not in the filing"))
    return tuple(dict.fromkeys(misses + tuple(summary.faithfulness_misses)))
