"""Year-over-year diff of two extracted filings, item by item: what really changed.

Pure functions over `section_extractor.ExtractedFiling`; the result is plain dataclasses with
`to_dict()` (the schema is in the README, "The diff"). Per item:

* Paragraph alignment, near-linear in the item's size. Identical paragraphs anchor first (the
  k-th occurrence of a text pairs with its k-th occurrence in the other year; the heaviest
  in-order chain of those pairs stays `unchanged`). Inside each gap between anchors, paragraphs
  equal but for digits and case pair in order (a table row with new figures), then similar ones
  by word-set overlap: every pair in small gaps, candidates from an inverted index of rare words
  in big ones. What is left is looked for anywhere in the item (`moved`: identical, or similar
  enough), then glued to a neighbour's match when the neighbour's partner contains it (one
  paragraph split in two, or two merged). Matches off the heaviest in-order chain are `moved`.
* Word-level redlines: a patience diff (words unique on both sides anchor; stretches equally long
  on both sides are compared word by word in C-level scans; difflib only in small anchorless
  gaps); table rows with the same cells are compared cell by cell. Every changed run of words is
  labelled trivial churn (fiscal year rolled forward, page/item/note reference, punctuation,
  capitalisation, whitespace, layout) or substantive: churn is labelled, never dropped.
* Number changes read from the substantive runs and changed cells (`number_changes.py`): the same
  metric for the same period, signed; table cells that are inline XBRL facts paired by concept,
  dimensions and period.
* Sub-sections (risk factors in 1A, sections in 1C and 7), segmented by the extractor's
  `heading_indices` when it has them, else by text heuristics, and matched through the paragraph
  alignment, so a renamed risk factor with the same body is `reworded`, not added and removed.
"""

from __future__ import annotations

import difflib
import heapq
import itertools
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import compress, count, islice
from operator import eq, ne, sub
from typing import NamedTuple

import number_changes as numbers
import number_mentions as mentions
from key_figures import METRICS
from number_changes import FactIndex, FiscalYears, NumberChange
from form_10k import ITEM_ORDER
from section_extractor import ExtractedFiling, ItemStatus, ItemText

DIFF_SCHEMA_VERSION = 3

MODIFIED_THRESHOLD = 0.5  # word-set similarity at which two paragraphs in the same place are one paragraph reworded
MOVED_THRESHOLD = 0.6  # ... and at which two paragraphs in different places are one paragraph moved
MOVED_MIN_WORDS = 8  # shorter paragraphs are only "moved" when identical
SPLIT_CONTAINMENT = 0.8  # share of a leftover paragraph's words found in a neighbour's partner to join it
SUBSECTION_THRESHOLD = 0.35  # aligned-word share at which two risk factors / sections are the same one
TITLE_THRESHOLD = 0.7  # title similarity at which two sub-sections with rewritten bodies are the same one
TITLE_PAIRS_LIMIT = 10_000  # leftover sub-sections up to this many (old x new) pairs have their titles compared
ALL_PAIRS_LIMIT = 100  # gaps up to this many (old x new) paragraph pairs are scored exhaustively
POSTING_CAP = 12  # words in more paragraphs than this are too common to propose candidates
CANDIDATES_PER_PARAGRAPH = 4
SMALL_GAP = 2500  # (old x new) words of a gap without unique words, up to which difflib aligns it
POSITIONAL_MIDDLE = 6  # equally long stretches up to this many words are compared word by word
STORED_NUMBER_CHANGES = 25  # number changes per item in the compact (stored) form
SUBSECTION_ITEMS = {"1A": "risk_factor", "1C": "section", "7": "section"}
RUN_IN_STYLED_LIMIT = 12  # styled headings in 1A from which on risk factors are headings, not run-in titles

CHANGE_KINDS = ("unchanged", "modified", "added", "removed", "moved")
CHURN_LABELS = ("fiscal_year", "reference", "punctuation", "capitalisation", "whitespace", "layout")


# --------------------------------------------------------------------------------------------------
# Result schema
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class ParagraphChange:
    """One aligned unit of an item: a paragraph (or a split/merged group of paragraphs) and its fate.

    Not frozen only because thousands are built per filing and frozen construction costs 4x; treat
    it (and `NumberChange`) as read-only.
    """

    kind: str  # unchanged | modified | added | removed | moved
    old_index: int | None  # first older paragraph (index into ItemText.paragraphs)
    new_index: int | None  # first newer paragraph
    old_text: str | None  # the older text (paragraphs of a group joined by a blank line)
    new_text: str | None
    similarity: float = 0.0  # share of words kept in order, 0..1 (1.0 when identical)
    redline: str | None = None  # word-level "[-removed-] {+added+}" inside kept text; modified/moved only
    old_indices: tuple[int, ...] = ()  # every older paragraph of the unit (several when merged)
    new_indices: tuple[int, ...] = ()  # every newer paragraph (several when split)
    relation: str = "one_to_one"  # one_to_one | split (1 old -> n new) | merged (n old -> 1 new) | regrouped
    words_added: int = 0
    words_removed: int = 0
    words_churn: int = 0  # of words_added + words_removed, those in runs labelled churn
    churn: tuple[str, ...] = ()  # trivial-churn labels found in this change (see CHURN_LABELS)
    trivial: bool = False  # every difference is churn: nothing a reader needs

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "old_index": self.old_index,
            "new_index": self.new_index,
            "old_indices": list(self.old_indices),
            "new_indices": list(self.new_indices),
            "relation": self.relation,
            "similarity": round(self.similarity, 4),
            "trivial": self.trivial,
            "churn": list(self.churn),
            "words_added": self.words_added,
            "words_removed": self.words_removed,
            "words_churn": self.words_churn,
            "old_text": self.old_text,
            "new_text": self.new_text,
            "redline": self.redline,
        }


@dataclass(frozen=True)
class ItemDiffStats:
    words_added: int = 0  # every word inserted (added paragraphs + inserted words of modified ones)
    words_removed: int = 0
    paragraphs_added: int = 0
    paragraphs_removed: int = 0
    paragraphs_modified: int = 0  # changes of kind `modified` (a split/merged group counts once)
    paragraphs_moved: int = 0
    paragraphs_unchanged: int = 0
    share_changed: float = 0.0  # (words_added + words_removed) / (words_old + words_new)
    change_score: float = 0.0  # ranks items: substantive words changed, weighted by their share
    words_old: int = 0
    words_new: int = 0
    words_churn: int = 0  # of words_added + words_removed, those in trivial-churn runs
    words_moved: int = 0  # words of the newer text in moved paragraphs
    share_changed_substantive: float = 0.0  # like share_changed, churn left out
    paragraphs_split: int = 0  # changes that are one older paragraph split in several
    paragraphs_merged: int = 0  # ... several older paragraphs merged into one (or regrouped)
    paragraphs_trivial: int = 0  # modified/moved changes whose differences are all churn
    number_changes: int = 0  # substantive number changes
    number_churn: int = 0  # table cells that only took last year's value of the column to their left

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class SubsectionChange:
    """One risk factor (Item 1A) or section (1C, 7), matched across the years by its paragraphs."""

    kind: str  # added | removed | reworded | unchanged
    old_title: str | None
    new_title: str | None
    old_category: str | None = None  # the risk-factor group heading above it ("Macroeconomic Risks")
    new_category: str | None = None
    old_paragraphs: tuple[int, int] | None = None  # [start, end) paragraph indices, title included
    new_paragraphs: tuple[int, int] | None = None
    similarity: float = 0.0  # share of its words aligned with the other year's, 0..1
    title_changed: bool = False
    title_redline: str | None = None
    moved: bool = False  # its place among the other sub-sections changed
    trivial: bool = False  # reworded, but only by churn
    churn: tuple[str, ...] = ()
    words_added: int = 0
    words_removed: int = 0
    redline: str | None = None  # reworded: the body, paragraph by paragraph, with word redlines
    old_text: str | None = None  # the body (title paragraph excluded); for added/removed/reworded
    new_text: str | None = None

    def to_dict(self, with_text: bool = False) -> dict:
        body = {
            "kind": self.kind,
            "old_title": self.old_title,
            "new_title": self.new_title,
            "old_category": self.old_category,
            "new_category": self.new_category,
            "old_paragraphs": list(self.old_paragraphs) if self.old_paragraphs else None,
            "new_paragraphs": list(self.new_paragraphs) if self.new_paragraphs else None,
            "similarity": round(self.similarity, 4),
            "title_changed": self.title_changed,
            "title_redline": self.title_redline,
            "moved": self.moved,
            "trivial": self.trivial,
            "churn": list(self.churn),
            "words_added": self.words_added,
            "words_removed": self.words_removed,
        }
        if with_text:
            body.update(redline=self.redline, old_text=self.old_text, new_text=self.new_text)
        return body


@dataclass(frozen=True)
class SubsectionDiff:
    unit: str  # risk_factor | section
    segmentation: str  # heading_indices (the extractor's styled sub-headings) | text_heuristic
    older_count: int
    newer_count: int
    changes: tuple[SubsectionChange, ...] = ()

    def counts(self) -> dict[str, int]:
        out = {kind: 0 for kind in ("added", "removed", "reworded", "unchanged")}
        for change in self.changes:
            out[change.kind] += 1
        return out

    def to_dict(self, with_changes: bool = False) -> dict:
        return {
            "unit": self.unit,
            "segmentation": self.segmentation,
            "older_count": self.older_count,
            "newer_count": self.newer_count,
            "counts": self.counts(),
            "changes": [c.to_dict(with_text=with_changes) for c in self.changes if with_changes or c.kind != "unchanged"],
        }


@dataclass(frozen=True)
class ItemDiff:
    item: str
    presence: str  # both | newer_only | older_only | neither
    older_status: str
    newer_status: str
    stats: ItemDiffStats
    changes: tuple[ParagraphChange, ...] = field(default=(), repr=False)  # every unit, unchanged included, newer order
    number_changes: tuple[NumberChange, ...] = field(default=(), repr=False)  # substantive, document order
    subsections: SubsectionDiff | None = field(default=None, repr=False)
    flags: tuple[str, ...] = ()  # not_found_in_older/newer | status_changed | size_jump | mostly_rewritten

    @property
    def changed(self) -> bool:
        """Anything differs, churn included."""
        return any(c.kind != "unchanged" for c in self.changes)

    @property
    def substantive(self) -> bool:
        """Something differs that is not trivial churn."""
        return any(c.kind != "unchanged" and not c.trivial for c in self.changes)

    @property
    def risk_factor_changes(self) -> tuple[SubsectionChange, ...]:
        """Item 1A's risk factors, every kind (empty for other items)."""
        if self.subsections and self.subsections.unit == "risk_factor":
            return self.subsections.changes
        return ()

    def churn_counts(self) -> dict[str, int]:
        """Label -> number of changes carrying it."""
        out: dict[str, int] = {}
        for change in self.changes:
            for label in change.churn:
                out[label] = out.get(label, 0) + 1
        return {label: out[label] for label in CHURN_LABELS if label in out}

    def to_dict(self, with_changes: bool = False) -> dict:
        body = {
            "item": self.item,
            "presence": self.presence,
            "older_status": self.older_status,
            "newer_status": self.newer_status,
            "changed": self.changed,
            "substantive": self.substantive,
            "flags": list(self.flags),
            "stats": self.stats.to_dict(),
            "churn": self.churn_counts(),
            "subsections": self.subsections.to_dict(with_changes) if self.subsections else None,
        }
        if with_changes:
            body["number_changes"] = [n.to_dict() for n in self.number_changes]
            body["changes"] = [c.to_dict() for c in self.changes if c.kind != "unchanged"]
        else:
            body["number_changes"] = [n.to_dict() for n in stored_number_changes(self.number_changes)]
        return body


KEY_CONCEPTS = frozenset(c for m in METRICS for c in m.concepts)
_KEY_WORDS = re.compile(
    r"\b(revenues?|net sales|sales|operating income|operating (profit|loss)|net (income|earnings|loss)|earnings per share|"
    r"diluted|gross (margin|profit)|operating margin|operating activities|free cash flow|capital expenditures?|"
    r"total assets|cash and cash equivalents|repurchases?|dividends?)\b", re.I)


def touches_key_figure(change: NumberChange) -> bool:
    """A change of a figure an analyst reads first: a key figure's concept, or a sentence or row naming one."""
    if change.concept:
        return change.concept in KEY_CONCEPTS and not change.dimensions
    return bool(_KEY_WORDS.search(change.row_label if change.in_table else change.context or ""))


def stored_number_changes(changes, limit: int = STORED_NUMBER_CHANGES) -> list[NumberChange]:
    """The number changes a stored report keeps per item: churn left out; those touching key figures
    first, then what management wrote in prose, then the largest moves; in document order among equals."""
    def weight(change: NumberChange) -> float:
        relative = change.relative_change
        if relative is not None:
            return min(abs(relative), 10.0)
        delta = change.delta
        if delta is None:
            return 0.0
        return min(abs(delta) / 100.0, 10.0) if change.unit in ("%", "pp") else min(abs(delta) / 10_000.0, 1.0)

    kept = [c for c in changes if not c.churn]
    ranked = sorted(enumerate(kept), key=lambda p: (not touches_key_figure(p[1]), p[1].in_table, -weight(p[1]), p[0]))
    return [change for _, change in ranked[:limit]]


@dataclass(frozen=True)
class FilingDiff:
    items: dict[str, ItemDiff]

    def ranked(self) -> list[ItemDiff]:
        """Changed items, largest change score first (item order breaks ties)."""
        order = {item: n for n, item in enumerate(ITEM_ORDER)}
        changed = [d for d in self.items.values() if d.changed]
        return sorted(changed, key=lambda d: (-d.stats.change_score, order.get(d.item, 99)))

    def to_dict(self, with_changes: bool = False) -> dict:
        items = [self.items[item] for item in ITEM_ORDER if item in self.items]
        return {
            "schema_version": DIFF_SCHEMA_VERSION,
            "items": {d.item: d.to_dict(with_changes) for d in items},
            "totals": {
                "items_changed": sum(d.changed for d in items),
                "items_substantive": sum(d.substantive for d in items),
                "words_added": sum(d.stats.words_added for d in items),
                "words_removed": sum(d.stats.words_removed for d in items),
                "number_changes": sum(d.stats.number_changes for d in items),
                "number_churn": sum(d.stats.number_churn for d in items),
                "risk_factors": next((d.subsections.counts() for d in items if d.risk_factor_changes), None),
            },
        }


# --------------------------------------------------------------------------------------------------
# Text keys
# --------------------------------------------------------------------------------------------------

_SEP = "\ue001"  # joins paragraphs for batch normalisation; never in filing text
_ODD_SPACES = ("  ", "\n", "\t", "\r", "\xa0", "\u2002", "\u2003", "\u2009", "\u202f", "\u3000")  # rarer ones are the extractor's job
_ZERO_DIGITS = bytes.maketrans(b"0123456789", b"0000000000")  # bytes.translate: 4x faster than re.sub
_ZERO_RUN = re.compile(r"0(?:[.,]?0)+")  # a literal first character lets the regex engine skip ahead
_NUMBER_SHAPES = frozenset(  # figures and lone marks, left out of word sets ("(0)", "$0", "0%,", "—")
    f"{pre}{core}{post}" for pre in ("", "$", "(", "($", "$(") for core in ("0", "0%") for post in ("", ")", ",", ".", ";", ":", "),", ").")
) | frozenset("| $ ( ) — – - % * • · n/a nm".split())
_DIGITS = re.compile(r"\d+")
_YEAR_IN_TEXT = re.compile(r"\b(?:19|20)\d\d\b")
_NON_ALNUM = re.compile(r"[\W_]+")
_NUMBER_PUNCT = re.compile(r"^[\"'“”‘’\[]+|[\"'“”‘’\].,;:]+$|,")
_REFERENCE_ID = re.compile(r"^(?:[a-z]-)?\d+[a-z]?(?:[-–](?:[a-z]-)?\d+[a-z]?)?$|^[ivxlc]+$")
_FISCAL = re.compile(r"^(fy|q[1-4]|[1-4]q|h[12])?'?’?(\d{2}|\d{4})$")
_HAS_DIGIT = re.compile(r"\d")
_BARE_CHARS = ".,;:()[]“”\"'’‘"
_REFERENCE_WORDS = frozenset("page pages p pp item items note notes part section sections exhibit exhibits schedule".split())
_INDEX_WORDS = frozenset(  # words of the entries of a financial-statement index ("Consolidated Balance Sheets | 52")
    "statement statements notes report reports balance sheet sheets schedule schedules summary financial firm index "
    "supplementary quarterly data position equity income operations flows".split()
)


def _shapes(texts: list[str]) -> list[str]:
    """Paragraphs with case and digits normalised: equal shapes are the same text, numbers aside."""
    if not texts:
        return []
    text = _SEP.join(texts).lower().encode("utf-8").translate(_ZERO_DIGITS).decode("utf-8")
    return _ZERO_RUN.sub("0", text).split(_SEP)  # "391,035" and "1,234,567.8" both become "0"


def _dice(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    return 2.0 * len(a & b) / (len(a) + len(b))


# --------------------------------------------------------------------------------------------------
# Paragraph alignment
# --------------------------------------------------------------------------------------------------


def _occurrence_pairs(old_keys: list, new_keys: list, old_ids: list[int], new_ids: list[int]) -> list[tuple[int, int]]:
    """Pair the k-th occurrence of each key in the older list with its k-th in the newer, by older order."""
    where: defaultdict = defaultdict(list)
    for j, key in zip(new_ids, new_keys):
        where[key].append(j)
    used: dict = {}
    pairs = []
    for i, key in zip(old_ids, old_keys):
        spots = where.get(key)
        if spots:
            k = used.get(key, 0)
            if k < len(spots):
                pairs.append((i, spots[k]))
                used[key] = k + 1
    return pairs


def _backtrack(pairs: list[tuple[int, int]], back: list[int], last: int) -> list[tuple[int, int]]:
    """The chain ending at pair `last`, followed back through `back`, in order."""
    chain = []
    while last >= 0:
        chain.append(pairs[last])
        last = back[last]
    chain.reverse()
    return chain


def _heaviest_chain(pairs: list[tuple[int, int]], weight) -> list[tuple[int, int]]:
    """The increasing (old, new) subsequence of largest total weight; `pairs` sorted by old index.

    A Pareto frontier over new index keeps this O(n log n); already-ordered input is O(n).
    """
    seconds = [j for _, j in pairs]
    if seconds == sorted(seconds):
        return pairs
    keys: list[int] = []
    values: list[float] = []
    ids: list[int] = []
    back = [-1] * len(pairs)
    for p, (i, j) in enumerate(pairs):
        k = bisect_left(keys, j)
        best = values[k - 1] if k else 0.0
        back[p] = ids[k - 1] if k else -1
        value = best + weight(i, j)
        end = k
        while end < len(keys) and values[end] <= value:
            end += 1
        keys[k:end] = [j]
        values[k:end] = [value]
        ids[k:end] = [p]
    return _backtrack(pairs, back, ids[-1] if ids else -1)


def _gaps(anchors: list[tuple[int, int]], old_lo: int, old_hi: int, new_lo: int, new_hi: int):
    """(old_lo, old_hi, new_lo, new_hi) ranges between consecutive in-order anchors."""
    i0, j0 = old_lo, new_lo
    for i, j in anchors:
        if i > i0 or j > j0:
            yield i0, i, j0, j
        i0, j0 = i + 1, j + 1
    if old_hi > i0 or new_hi > j0:
        yield i0, old_hi, j0, new_hi


@dataclass
class _Side:
    """One year's paragraphs of an item, with shapes and word sets computed on demand, in batches."""

    texts: tuple[str, ...]
    shapes: dict[int, str] = field(default_factory=dict)
    sets: dict[int, set] = field(default_factory=dict)

    def shape(self, ids: list[int]) -> dict[int, str]:
        missing = [i for i in ids if i not in self.shapes]
        if missing:
            self.shapes.update(zip(missing, _shapes([self.texts[i] for i in missing])))
        return self.shapes

    def word_sets(self, ids: list[int]) -> dict[int, set]:
        """Words of each paragraph, numbers and lone punctuation left out: table rows that differ
        only in their figures have the same set, and rows with different labels do not."""
        missing = [i for i in ids if i not in self.sets]
        if missing:
            shapes = self.shape(missing)
            self.sets.update((i, set(shapes[i].split()) - _NUMBER_SHAPES) for i in missing)
        return self.sets


def _similar_pairs(
    old_sets: dict[int, set], new_sets: dict[int, set], old_ids: list[int], new_ids: list[int], threshold: float, min_words: int = 0
) -> list[tuple[int, int]]:
    """Greedy best-first one-to-one pairs of similar paragraphs (word-set Dice >= threshold).

    Small gaps are scored exhaustively; big ones through an inverted index of rare words, so a
    paragraph is only compared with the few that share its uncommon words. Ties go to the pair
    closest in relative position.
    """
    if min_words:
        old_ids = [i for i in old_ids if len(old_sets[i]) >= min_words]
        new_ids = [j for j in new_ids if len(new_sets[j]) >= min_words]
    if not old_ids or not new_ids:
        return []
    if len(old_ids) == 1 and len(new_ids) == 1:
        i, j = old_ids[0], new_ids[0]
        return [(i, j)] if _dice(old_sets[i], new_sets[j]) >= threshold else []
    candidates: list[tuple[float, float, int, int]] = []
    o0, o_span = old_ids[0], max(1, old_ids[-1] - old_ids[0])
    n0, n_span = new_ids[0], max(1, new_ids[-1] - new_ids[0])
    ratio = threshold / (2.0 - threshold)  # below this size ratio Dice cannot reach the threshold
    if len(old_ids) * len(new_ids) <= ALL_PAIRS_LIMIT:
        olds = [(i, old_sets[i], len(old_sets[i]), (i - o0) / o_span) for i in old_ids]
        for j in new_ids:
            b = new_sets[j]
            lb = len(b)
            if not lb:
                continue
            low, high, place = ratio * lb, lb / ratio, (j - n0) / n_span
            for i, a, la, old_place in olds:
                if low <= la <= high:
                    score = 2.0 * len(a & b) / (la + lb)
                    if score >= threshold:
                        candidates.append((score, -abs(old_place - place), i, j))
    else:
        index: defaultdict[str, list[int]] = defaultdict(list)
        for i in old_ids:
            for word in old_sets[i]:
                index[word].append(i)
        rare = {word: posting for word, posting in index.items() if len(posting) <= POSTING_CAP}
        for j in new_ids:
            b = new_sets[j]
            # how many rare words each older paragraph shares with this one; ties go to the closest in
            # relative position, then the earlier paragraph: never to a set's iteration order, which
            # changes with the process's hash seed and would make the same filings diff differently
            counts = Counter(itertools.chain.from_iterable(filter(None, map(rare.get, b))))
            lb = len(b)
            place = (j - n0) / n_span
            best = heapq.nlargest(
                CANDIDATES_PER_PARAGRAPH, counts, key=lambda i: (counts[i], -abs((i - o0) / o_span - place), -i)
            )
            for i in best:
                a = old_sets[i]
                la = len(a)
                if ratio * lb <= la <= lb / ratio:
                    score = 2.0 * len(a & b) / (la + lb)
                    if score >= threshold:
                        candidates.append((score, -abs((i - o0) / o_span - (j - n0) / n_span), i, j))
    candidates.sort(reverse=True)
    taken_old: set[int] = set()
    taken_new: set[int] = set()
    out = []
    for _, _, i, j in candidates:
        if i not in taken_old and j not in taken_new:
            taken_old.add(i)
            taken_new.add(j)
            out.append((i, j))
    return out


@dataclass(slots=True)
class _Match:
    old: list[int]
    new: list[int]
    exact: bool  # one-to-one, identical text


def _align(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[list[_Match], set[int], _Side, _Side]:
    """Matches (one-to-one or groups), sorted by older position, and the older first indices of
    the matches that stay in place (the others moved)."""
    old_side, new_side = _Side(old), _Side(new)
    n, m = len(old), len(new)
    weight = lambda i, j: len(old[i]) + 1  # noqa: E731 - characters stand in for words
    # 1. identical paragraphs, in order
    exact = _occurrence_pairs(old, new, range(n), range(m))
    anchors = _heaviest_chain(exact, weight) if exact else []
    pairs: dict[int, int] = dict(anchors)  # old -> new, one-to-one
    exact_pairs = set(anchors)

    # 2. inside each gap between anchors: paragraphs equal but for digits and case, in order
    gaps = [g for g in _gaps(anchors, 0, n, 0, m) if g[0] < g[1] and g[2] < g[3]]
    old_shapes = old_side.shape([i for g in gaps for i in range(g[0], g[1])])
    new_shapes = new_side.shape([j for g in gaps for j in range(g[2], g[3])])
    sub_gaps = []
    for gap in gaps:
        o_lo, o_hi, n_lo, n_hi = gap
        if o_hi - o_lo == 1 and n_hi - n_lo == 1:  # the common case: one paragraph changed in place
            if old_shapes[o_lo] == new_shapes[n_lo]:
                pairs[o_lo] = n_lo
            else:
                sub_gaps.append(gap)
            continue
        o_ids, n_ids = range(o_lo, o_hi), range(n_lo, n_hi)
        shaped = _occurrence_pairs([old_shapes[i] for i in o_ids], [new_shapes[j] for j in n_ids], o_ids, n_ids)
        shaped = _heaviest_chain(shaped, weight) if shaped else []
        pairs.update(shaped)
        sub_gaps.extend(g for g in _gaps(shaped, o_lo, o_hi, n_lo, n_hi) if g[0] < g[1] and g[2] < g[3])

    # 3. inside what is left of each gap: similar paragraphs
    old_sets = old_side.word_sets([i for g in sub_gaps for i in range(g[0], g[1])])
    new_sets = new_side.word_sets([j for g in sub_gaps for j in range(g[2], g[3])])
    for o_lo, o_hi, n_lo, n_hi in sub_gaps:
        found = _similar_pairs(old_sets, new_sets, list(range(o_lo, o_hi)), list(range(n_lo, n_hi)), MODIFIED_THRESHOLD)
        pairs.update(found)
        # rows of figures only ("2023 | 765 | (1,147)") have no words to compare: in the same
        # place and as many on both sides, they are the same rows with new figures
        taken_old, taken_new = {i for i, _ in found}, {j for _, j in found}
        bare_old = [i for i in range(o_lo, o_hi) if i not in taken_old and not old_sets[i] and " | " in old[i]]
        bare_new = [j for j in range(n_lo, n_hi) if j not in taken_new and not new_sets[j] and " | " in new[j]]
        if bare_old and len(bare_old) == len(bare_new):
            pairs.update(zip(bare_old, bare_new))

    # 4. anywhere in the item: the same or a similar paragraph somewhere else (moved)
    taken_new = set(pairs.values())
    rest_old = [i for i in range(n) if i not in pairs]
    rest_new = [j for j in range(m) if j not in taken_new]
    if rest_old and rest_new:
        # the same text elsewhere: only texts found once in each year, so that a repeated table
        # header or a lone "None." does not read as a move
        count_old, count_new = Counter(old), Counter(new)
        candidates_old = [i for i in rest_old if count_old[old[i]] == 1]
        candidates_new = [j for j in rest_new if count_new[new[j]] == 1]
        for i, j in _unique_pairs([old[i] for i in candidates_old], [new[j] for j in candidates_new], candidates_old, candidates_new):
            pairs[i] = j
            exact_pairs.add((i, j))
        taken_new = set(pairs.values())
        rest_old = [i for i in rest_old if i not in pairs]
        rest_new = [j for j in rest_new if j not in taken_new]
        rest_old = [i for i in rest_old if old[i].count(" ") >= MOVED_MIN_WORDS]  # short ones move only when identical
        rest_new = [j for j in rest_new if new[j].count(" ") >= MOVED_MIN_WORDS]
        if rest_old and rest_new:
            old_sets, new_sets = old_side.word_sets(rest_old), new_side.word_sets(rest_new)
            pairs.update(_similar_pairs(old_sets, new_sets, rest_old, rest_new, MOVED_THRESHOLD, MOVED_MIN_WORDS))

    # 5. split and merged paragraphs
    matches = {i: _Match([i], [j], (i, j) in exact_pairs) for i, j in pairs.items()}
    if len(pairs) < max(n, m):
        _join_splits(old_side, new_side, matches)

    ordered = sorted(matches.values(), key=lambda mt: mt.old[0])
    chain = _heaviest_chain([(mt.old[0], mt.new[0]) for mt in ordered], lambda i, j: sum(len(old[k]) + 1 for k in matches[i].old))
    return ordered, {i for i, _ in chain}, old_side, new_side


def _unique_pairs(old_keys, new_keys, old_ids, new_ids) -> list[tuple[int, int]]:
    """(old id, new id) of the keys that occur exactly once on each side, in older order."""
    count_old, count_new = Counter(old_keys), Counter(new_keys)
    where_new = {k: j for j, k in zip(new_ids, new_keys) if count_new[k] == 1 and count_old[k] == 1}
    return [(i, where_new[k]) for i, k in zip(old_ids, old_keys) if k in where_new]


def _join_splits(old_side: _Side, new_side: _Side, matches: dict[int, _Match]) -> None:
    """Glue a leftover paragraph to its neighbour's match when the neighbour's partner contains it:
    one paragraph split in two (or two merged) is one change, not an addition and a rewrite."""
    by_new = {j: mt for mt in matches.values() for j in mt.new}
    by_old = {i: mt for mt in matches.values() for i in mt.old}
    for own_side, other_side, by_self, own, other in (
        (new_side, old_side, by_new, "new", "old"),
        (old_side, new_side, by_old, "old", "new"),
    ):
        size = len(own_side.texts)
        free = [x for x in range(size) if x not in by_self]
        for order in (free, free[::-1]):
            for x in order:
                if x in by_self:
                    continue
                for neighbour in (x - 1, x + 1):
                    mt = by_self.get(neighbour)
                    if mt is None or mt.exact:
                        continue
                    partner_ids, own_ids = getattr(mt, other), getattr(mt, own)
                    partner_chars = sum(len(other_side.texts[k]) for k in partner_ids)
                    own_chars = sum(len(own_side.texts[k]) for k in own_ids)
                    if partner_chars < own_chars + 0.5 * len(own_side.texts[x]):
                        continue  # the partner is too short to also hold this paragraph
                    other_sets = other_side.word_sets(partner_ids)
                    own_sets = own_side.word_sets(own_ids + [x])
                    mine = own_sets[x]
                    partner = set().union(*(other_sets[k] for k in partner_ids))
                    if len(mine) < 3 or len(mine & partner) < SPLIT_CONTAINMENT * len(mine):
                        continue
                    current = set().union(*(own_sets[k] for k in own_ids))
                    if _dice(partner, current | mine) <= _dice(partner, current):
                        continue
                    own_ids.append(x)
                    own_ids.sort()
                    by_self[x] = mt
                    break
    for key in list(matches):  # a merged group is keyed by its first older paragraph
        mt = matches[key]
        if mt.old[0] != key:
            del matches[key]
            matches[mt.old[0]] = mt


# --------------------------------------------------------------------------------------------------
# Word diff, churn labels, redlines
# --------------------------------------------------------------------------------------------------


def _common_head(a: list[str], b: list[str], i: int, j: int, limit: int) -> int:
    """How many tokens a[i:] and b[j:] share at their start, up to `limit` (a C-level scan)."""
    return next(compress(count(), map(ne, islice(a, i, i + limit), islice(b, j, j + limit))), limit)


def _common_tail(a: list[str], b: list[str], i2: int, j2: int, limit: int) -> int:
    """How many tokens a[:i2] and b[:j2] share at their end, up to `limit`."""
    ra = islice(reversed(a), len(a) - i2, len(a) - i2 + limit)
    rb = islice(reversed(b), len(b) - j2, len(b) - j2 + limit)
    return next(compress(count(), map(ne, ra, rb)), limit)


def _add_block(out: list[tuple[int, int, int]], i: int, j: int, size: int) -> None:
    if out:
        x, y, s = out[-1]
        if x + s == i and y + s == j:
            out[-1] = (x, y, s + size)
            return
    out.append((i, j, size))


def _match_range(a: list[str], b: list[str], i1: int, i2: int, j1: int, j2: int, out: list[tuple[int, int, int]]) -> None:
    """Append the matching blocks (i, j, size) of a[i1:i2] and b[j1:j2], in order: a patience diff.

    Words unique on both sides anchor; stretches between anchors that are equally long on both
    sides are compared word by word, the others recursively; difflib only inside small gaps with
    no unique word. The scans run in C (map/compress), so cost is near-linear in the tokens.
    """
    limit = min(i2 - i1, j2 - j1)
    k = _common_head(a, b, i1, j1, limit) if limit else 0
    if k:
        _add_block(out, i1, j1, k)
        i1, j1, limit = i1 + k, j1 + k, limit - k
    s = _common_tail(a, b, i2, j2, limit) if limit else 0
    i2, j2 = i2 - s, j2 - s
    size_a, size_b = i2 - i1, j2 - j1
    if size_a and size_b:
        if size_a == size_b and size_a <= POSITIONAL_MIDDLE and any(map(eq, islice(a, i1, i2), islice(b, j1, j2))):
            _add_positional(a, b, i1, i2, j1, out)  # substitutions in place
        elif size_a == 1 or size_b == 1:
            if size_a == 1 and a[i1] in b[j1:j2]:
                _add_block(out, i1, b.index(a[i1], j1, j2), 1)
            elif size_b == 1 and b[j1] in a[i1:i2]:
                _add_block(out, a.index(b[j1], i1, i2), j1, 1)
        elif set(islice(a, i1, i2)).isdisjoint(islice(b, j1, j2)):
            pass  # a phrase replaced by one with no word in common: nothing to match
        else:
            sa, sb = a[i1:i2], b[j1:j2]
            ca, cb = Counter(sa), Counter(sb)
            unique = set(compress(ca, map((1).__eq__, ca.values()))) & set(compress(cb, map((1).__eq__, cb.values())))
            if len(unique) < 3 and size_a * size_b <= SMALL_GAP:
                unique = set()  # too few anchors to trust: let difflib align this small gap
            if unique:
                olds = list(compress(range(i1, i2), map(unique.__contains__, sa)))
                news = list(map(dict(zip(sb, range(j1, j2))).__getitem__, compress(sa, map(unique.__contains__, sa))))
                if news != sorted(news):
                    chain = _longest_increasing(list(zip(olds, news)))
                    olds, news = [i for i, _ in chain], [j for _, j in chain]
                # points: a virtual one before, the anchors, a virtual one after; a stretch between two
                # points that is equally long on both sides is compared position by position
                points_a, points_b = [i1 - 1, *olds, i2], [j1 - 1, *news, j2]
                uneven = compress(count(), map(ne, map(sub, points_a[1:], points_a), map(sub, points_b[1:], points_b)))
                x, y = i1, j1
                for u in uneven:
                    end_a, end_b = points_a[u] + 1, points_b[u] + 1  # through point u (an anchor, or nothing)
                    if end_a > x:
                        _add_positional(a, b, x, end_a, y, out)
                    _match_range(a, b, end_a, points_a[u + 1], end_b, points_b[u + 1], out)
                    x, y = points_a[u + 1], points_b[u + 1]
                if i2 > x:
                    _add_positional(a, b, x, i2, y, out)
            elif size_a * size_b <= SMALL_GAP:
                matcher = difflib.SequenceMatcher(None, sa, sb, autojunk=False)
                for x, y, size in matcher.get_matching_blocks():
                    if size:
                        _add_block(out, i1 + x, j1 + y, size)
    if s:
        _add_block(out, i2, j2, s)


def _add_positional(a: list[str], b: list[str], lo: int, hi: int, lo_b: int, out: list[tuple[int, int, int]]) -> None:
    """Blocks of equal tokens between a[lo:hi] and the equally long stretch of b at lo_b."""
    x = lo
    for k in compress(count(lo), map(ne, islice(a, lo, hi), islice(b, lo_b, lo_b + hi - lo))):
        if k > x:
            _add_block(out, x, lo_b + (x - lo), k - x)
        x = k + 1
    if hi > x:
        _add_block(out, x, lo_b + (x - lo), hi - x)


def _longest_increasing(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Longest chain increasing in both coordinates; `pairs` sorted by the first."""
    tails: list[int] = []  # smallest second coordinate ending a chain of each length
    tail_ids: list[int] = []
    back = [-1] * len(pairs)
    for p, (_, j) in enumerate(pairs):
        k = bisect_left(tails, j)
        back[p] = tail_ids[k - 1] if k else -1
        if k == len(tails):
            tails.append(j)
            tail_ids.append(p)
        else:
            tails[k] = j
            tail_ids[k] = p
    return _backtrack(pairs, back, tail_ids[-1] if tail_ids else -1)


def _runs_between(blocks: list[tuple[int, int, int]], lo_a: int, hi_a: int, lo_b: int, hi_b: int) -> list[tuple[int, int, int, int]]:
    """Changed token ranges: the gaps between matching blocks."""
    runs = []
    x, y = lo_a, lo_b
    for i, j, size in blocks:
        if i > x or j > y:
            runs.append((x, i, y, j))
        x, y = i + size, j + size
    if hi_a > x or hi_b > y:
        runs.append((x, hi_a, y, hi_b))
    return runs


def _positional_runs(a: list[str], b: list[str], lo: int, hi: int) -> list[tuple[int, int, int, int]]:
    """Runs of differing tokens between two equally long ranges compared position by position."""
    runs: list[tuple[int, int, int, int]] = []
    for k in compress(range(lo, hi), map(ne, islice(a, lo, hi), islice(b, lo, hi))):
        if runs and runs[-1][1] == k:
            runs[-1] = (runs[-1][0], k + 1, runs[-1][0], k + 1)
        else:
            runs.append((k, k + 1, k, k + 1))
    return runs


def _plain(token: str) -> str:
    """A token without its punctuation; numbers keep sign, parentheses and decimal point."""
    if _HAS_DIGIT.search(token):
        return _NUMBER_PUNCT.sub("", token)
    return _NON_ALNUM.sub("", token)


def _bare(token: str) -> str:
    return token.strip(_BARE_CHARS).lower()


def _rolled_year(old: str, new: str) -> bool:
    a, b = _FISCAL.match(old), _FISCAL.match(new)
    if not a or not b or a.group(1) != b.group(1) or len(a.group(2)) != len(b.group(2)):
        return False
    if len(a.group(2)) == 4 and not a.group(2).startswith(("19", "20")):
        return False
    if a.group(1) is None and len(a.group(2)) == 2 and not (old.startswith(("'", "’")) and new.startswith(("'", "’"))):
        return False
    return int(b.group(2)) == int(a.group(2)) + 1


def _churn_label(a: list[str], b: list[str], run: tuple[int, int, int, int], short: bool) -> str | None:
    """The trivial-churn kind of one changed run, or None when it is substantive."""
    i1, i2, j1, j2 = run
    if i2 - i1 == 1 and j2 - j1 == 1:
        return _token_churn(a, b, i1, j1, short)
    old, new = a[i1:i2], b[j1:j2]
    joined_old, joined_new = " ".join(old), " ".join(new)
    if _HAS_DIGIT.search(joined_old) is None and _HAS_DIGIT.search(joined_new) is None:
        if joined_old.lower() == joined_new.lower():
            return "capitalisation"
        if abs(len(joined_old) - len(joined_new)) > 4:
            return None
        plain_old, plain_new = _NON_ALNUM.sub("", joined_old), _NON_ALNUM.sub("", joined_new)
        return "punctuation" if plain_old == plain_new else "capitalisation" if plain_old.lower() == plain_new.lower() else None
    if len(old) == len(new):
        rolled, days, ok = False, False, True
        for k, (x, y) in enumerate(zip(old, new)):
            bx, by = _bare(x), _bare(y)
            if bx == by:
                continue
            if _rolled_year(bx, by):
                rolled = True
            elif bx.isdigit() and by.isdigit() and int(bx) <= 31 and int(by) <= 31 and i1 + k and _bare(a[i1 + k - 1]) in mentions.MONTHS:
                days = True
            else:
                ok = False
                break
        if ok and days and not rolled and i2 < len(a) and j2 < len(b):
            rolled = _rolled_year(_bare(a[i2]), _bare(b[j2]))
        if ok and rolled:
            return "fiscal_year"
    elif abs(len(old) - len(new)) > 2:
        return None
    plain_old, plain_new = [_plain(t) for t in old], [_plain(t) for t in new]
    if plain_old == plain_new or "".join(plain_old) == "".join(plain_new):
        return "punctuation"
    if "".join(plain_old).lower() == "".join(plain_new).lower():
        return "capitalisation"
    return None


def _token_churn(a: list[str], b: list[str], i: int, j: int, short: bool) -> str | None:
    """`_churn_label` of a one-word change, the common case (a table cell, a year), kept cheap."""
    x, y = a[i], b[j]
    bx, by = x.strip(_BARE_CHARS), y.strip(_BARE_CHARS)
    if bx == by:
        if ("(" in x) != ("(" in y) and _HAS_DIGIT.search(bx):
            return None  # "(1.2)" -> "1.2": a sign, not punctuation
        return "punctuation"
    if bx.lower() == by.lower():
        return "capitalisation"
    if bx.isdigit() and by.isdigit():
        if len(bx) == 4 and len(by) == 4 and bx[:2] in ("19", "20") and int(by) == int(bx) + 1:
            return "fiscal_year"
        previous = _bare(a[i - 1]).rstrip(".") if i else ""
        if len(bx) <= 2 and len(by) <= 2 and previous in mentions.MONTHS and i + 1 < len(a) and j + 1 < len(b):
            if _rolled_year(_bare(a[i + 1]), _bare(b[j + 1])):
                return "fiscal_year"  # the day of a fiscal year-end date ("September 28, 2024")
        if previous in _REFERENCE_WORDS:
            return "reference"
        if short and i == len(a) - 1 and j == len(b) - 1 and len(bx) <= 3:
            return "reference"  # a page number at the end of a running footer
        return None
    if _HAS_DIGIT.search(bx) is None and _HAS_DIGIT.search(by) is None:
        if abs(len(bx) - len(by)) > 4:
            return None
        plain_x, plain_y = _NON_ALNUM.sub("", bx), _NON_ALNUM.sub("", by)
        return "punctuation" if plain_x == plain_y else "capitalisation" if plain_x.lower() == plain_y.lower() else None
    if "," in bx or "." in bx or "," in by or "." in by:
        return "punctuation" if bx.replace(",", "") == by.replace(",", "") else None  # an amount's separators
    if bx[:1] in "fFqQhH1234'’" and _rolled_year(bx.lower(), by.lower()):
        return "fiscal_year"  # FY24 -> FY25, Q4'23 -> Q4'24
    previous = _bare(a[i - 1]).rstrip(".") if i else ""
    if previous in _REFERENCE_WORDS and _REFERENCE_ID.match(bx.lower()) and _REFERENCE_ID.match(by.lower()):
        return "reference"  # Item 7A, Note F-12
    return None


class _WordDiff(NamedTuple):
    runs: tuple[tuple[int, int, int, int], ...]
    labels: tuple[str | None, ...]
    equal: int  # tokens kept unchanged


def _word_diff(a: list[str], b: list[str], same_shape: bool) -> _WordDiff:
    """Changed runs between two token lists, each labelled churn or substantive (None)."""
    n, m = len(a), len(b)
    runs = None
    if n == m:
        runs = _positional_runs(a, b, 0, n)
        if not same_shape and sum(i2 - i1 for i1, i2, _, _ in runs) * 5 > n:
            runs = None  # more than a few words swapped in place: align properly
    if runs is None:
        blocks: list[tuple[int, int, int]] = []
        _match_range(a, b, 0, n, 0, m, blocks)
        runs = _runs_between(blocks, 0, n, 0, m)
    short = n <= 12 and "10-k" in " ".join(a).lower()
    labels = tuple(_churn_label(a, b, run, short) for run in runs)
    changed_old = sum(i2 - i1 for i1, i2, _, _ in runs)
    return _WordDiff(tuple(runs), labels, n - changed_old)


def _redline(a: list[str], b: list[str], runs) -> str:
    """Newer text with "[-removed-]" and "{+added+}" marks; adjacent runs are shown as one."""
    out: list[str] = []
    x = 0  # next old token to emit as kept text
    pending_old: list[str] = []
    pending_new: list[str] = []

    def flush() -> None:
        if pending_old:
            out.append("[-" + " ".join(pending_old) + "-]")
        if pending_new:
            out.append("{+" + " ".join(pending_new) + "+}")
        pending_old.clear()
        pending_new.clear()

    for i1, i2, j1, j2 in runs:
        if i1 > x:
            flush()
            out.extend(a[x:i1])
        pending_old.extend(a[i1:i2])
        pending_new.extend(b[j1:j2])
        x = i2
    flush()
    out.extend(a[x:])
    return " ".join(out)


# --------------------------------------------------------------------------------------------------
# Item diff
# --------------------------------------------------------------------------------------------------


def _presence(older: ItemText, newer: ItemText) -> str:
    has_old = older.status is not ItemStatus.MISSING and bool(older.paragraphs)
    has_new = newer.status is not ItemStatus.MISSING and bool(newer.paragraphs)
    return {(True, True): "both", (False, True): "newer_only", (True, False): "older_only"}.get((has_old, has_new), "neither")


@dataclass
class _TableContext:
    """Caption scale ("in millions"), header periods ("| 2025 | 2024") and the unit each value column
    showed on an earlier row ("$", "%") in force at each paragraph of one item, computed forward
    only as far as the rows asked about."""

    paragraphs: tuple[str, ...]
    state: list[tuple[str | None, tuple[str | None, ...] | None, tuple[str | None, ...]]] = field(default_factory=list)
    scale: str | None = None
    periods: tuple[str | None, ...] | None = None
    units: tuple[str | None, ...] = ()
    conventions: list[str | None] = field(default_factory=list)  # the prose convention in force at each paragraph
    convention: str | None = None

    def prose_scale(self, index: int) -> str | None:
        """The scale a standalone caption such as "(Dollars in millions, except per share data)" sets for
        the amounts written without a scale word in the prose after it (BA's notes: "$2,874")."""
        self.at(index)
        return self.conventions[index]

    def at(self, index: int) -> tuple[str | None, tuple[str | None, ...] | None, tuple[str | None, ...]]:
        state = self.state
        if index < len(state):
            return state[index]
        scale, periods, units, convention = self.scale, self.periods, self.units, self.convention
        for text in self.paragraphs[len(state) : index + 1]:
            state.append((scale, periods, units))
            self.conventions.append(convention)
            if len(text) < 120 and " | " not in text and _CONVENTION.match(text):
                convention = mentions.scale_caption(text)
            if " | " in text:
                header = None
                if len(text) < 400 and ("20" in text or "19" in text) and _YEAR_IN_TEXT.search(text):
                    header = mentions.header_periods(text)
                    if header:
                        periods, units = header, ()
                if not header and ("$" in text or "%" in text):
                    shown = mentions.row_units(text.split(" | "))
                    units = tuple(u or (units[n] if n < len(units) else None) for n, u in enumerate(shown)) + units[len(shown):]
            elif len(text) > 120:
                periods, units = None, ()  # prose: the table is over ("Net sales:" sub-headings are not)
                if len(text) >= 400:
                    # a long paragraph ends the caption in force, but may end with the next one
                    # ("... Net sales information is as follows (in millions):", AMZN)
                    tail = text[-150:]
                    scale = mentions.scale_caption(tail) if ("illion" in tail or "housand" in tail) else None
            if len(text) < 400 and ("illion" in text or "housand" in text):
                scale = mentions.scale_caption(text) or scale
        self.scale, self.periods, self.units, self.convention = scale, periods, units, convention
        return state[index]


_CONVENTION = re.compile(r"^\(?\s*(?:dollars|amounts|\$|u\.s\. dollars)\s+in\s+(?:thousands|millions|billions)\b", re.I)


def _word_counts(paragraphs: tuple[str, ...]) -> list[int]:
    """Words per paragraph (as `str.split` counts them). The extractor's text has single spaces,
    so counting spaces is exact and much cheaper than splitting; anything else falls back."""
    joined = _SEP.join(paragraphs)
    edges = "".join([p[:1] + p[-1:] for p in paragraphs])  # a space here: a paragraph starts or ends with one
    if " " in edges or any(odd in joined for odd in _ODD_SPACES):
        return [len(p.split()) for p in paragraphs]
    return [p.count(" ") + 1 if p else 0 for p in paragraphs]


@dataclass(frozen=True)
class _Numbers:
    """What reading one item's number changes needs beyond its text."""

    years: FiscalYears = FiscalYears()
    facts: FactIndex | None = None  # both filings' inline XBRL facts
    old_cell_facts: dict = field(default_factory=dict)  # paragraph -> facts per cell (ItemText.cell_facts)
    new_cell_facts: dict = field(default_factory=dict)


def diff_item(older: ItemText, newer: ItemText, *, years: FiscalYears = FiscalYears(), facts: FactIndex | None = None) -> ItemDiff:
    old, new = older.paragraphs, newer.paragraphs
    old_words, new_words = _word_counts(old), _word_counts(new)
    matches, in_place, old_side, new_side = _align(old, new) if old and new else ([], set(), _Side(old), _Side(new))
    old_tables, new_tables = _TableContext(old), _TableContext(new)
    numbers_context = _Numbers(years, facts, older.cell_facts, newer.cell_facts)
    changes: list[ParagraphChange] = []
    found_numbers: list[NumberChange] = []
    rolled_forward = 0
    matched_old: set[int] = set()
    matched_new: set[int] = set()
    for mt in matches:
        matched_old.update(mt.old)
        matched_new.update(mt.new)
        moved = mt.old[0] not in in_place
        if mt.exact:
            text = old[mt.old[0]]
            kind = "moved" if moved else "unchanged"
            changes.append(ParagraphChange(kind, mt.old[0], mt.new[0], text, new[mt.new[0]], 1.0, None, tuple(mt.old), tuple(mt.new)))
            continue
        change, found, churn = _modified(mt, old, new, old_side, new_side, moved, old_tables, new_tables, numbers_context)
        changes.append(change)
        found_numbers.extend(found)
        rolled_forward += churn
    changes.extend(
        ParagraphChange("added", None, j, None, new[j], new_indices=(j,), words_added=new_words[j])
        for j in range(len(new))
        if j not in matched_new
    )
    changes.extend(
        ParagraphChange("removed", i, None, old[i], None, old_indices=(i,), words_removed=old_words[i])
        for i in range(len(old))
        if i not in matched_old
    )
    changes = _in_reading_order(changes, len(old))
    found_numbers.sort(key=lambda c: (c.new_index, c.old_index))
    if newer.item in _CHURN_ITEMS:  # exhibit numbers and dates of the exhibit index: no reader ranks them
        for number in found_numbers:
            number.churn = number.churn or numbers.CHURN_EXHIBITS
    elif found_numbers:
        _label_performance_graph(found_numbers, new)

    presence = _presence(older, newer)
    subsections = (
        _subsections(older, newer, changes, old_words, new_words) if older.item in SUBSECTION_ITEMS and presence != "neither" else None
    )
    labelled = sum(1 for n in found_numbers if n.churn)
    stats = _stats(changes, sum(old_words), sum(new_words), new_words, len(found_numbers) - labelled, rolled_forward + labelled)
    return ItemDiff(
        item=newer.item,
        presence=presence,
        older_status=older.status.value,
        newer_status=newer.status.value,
        stats=stats,
        changes=tuple(changes),
        number_changes=tuple(found_numbers),
        subsections=subsections,
        flags=_flags(presence, older, newer, stats),
    )


_CHURN_ITEMS = frozenset(("15", "16"))
_PERFORMANCE_GRAPH = re.compile(r"cumulative total (shareholder |stockholder )?return|\$100 invested|performance graph", re.I)


def _label_performance_graph(found: list[NumberChange], paragraphs: tuple[str, ...]) -> None:
    """A performance graph's table (Item 5, or wherever the filer prints it): index values of $100
    invested, rebased as the window moves (churn). Its rows start at 100 or follow the graph's
    caption."""
    captions = [n for n, p in enumerate(paragraphs) if " | " not in p and _PERFORMANCE_GRAPH.search(p)]
    if not captions:
        return
    for number in found:
        if not number.in_table:
            continue
        row = paragraphs[number.new_index]
        based = any(marker in f"{row} " for marker in (" | 100 ", "| $ | 100 ", " | 100.00 ", " | $100.00 ", "$ 100 ", " | $100 "))
        near = any(0 < number.new_index - n <= 15 for n in captions)
        if based or near:
            number.churn = number.churn or numbers.CHURN_GRAPH


def _modified(mt: _Match, old, new, old_side: _Side, new_side: _Side, moved: bool, old_tables: _TableContext, new_tables: _TableContext,
              context: _Numbers = _Numbers()):
    """The change of one non-identical match, with the numbers that changed in it (and the count
    of table cells that only rolled last year's value one column to the right)."""
    one_to_one = len(mt.old) == 1 and len(mt.new) == 1
    old_text = old[mt.old[0]] if len(mt.old) == 1 else "\n\n".join(old[i] for i in mt.old)
    new_text = new[mt.new[0]] if len(mt.new) == 1 else "\n\n".join(new[j] for j in mt.new)
    relation = "one_to_one" if one_to_one else "split" if len(mt.old) == 1 else "merged" if len(mt.new) == 1 else "regrouped"
    if one_to_one and " | " in old_text and " | " in new_text:
        old_cells, new_cells = old_text.split(" | "), new_text.split(" | ")
        if len(old_cells) == len(new_cells):
            return _modified_row(mt, old_text, new_text, old_cells, new_cells, moved, old_tables, new_tables, context)
    a, b = old_text.split(), new_text.split()
    same_shape = one_to_one and old_side.shapes.get(mt.old[0], "a") == new_side.shapes.get(mt.new[0], "b")
    diff = _word_diff(a, b, same_shape)
    churn_labels = {label for label in diff.labels if label}
    if not diff.runs:
        churn_labels.add("whitespace" if one_to_one else "layout")
    substantive_runs = [run for run, label in zip(diff.runs, diff.labels) if label is None]
    words_added = words_removed = words_churn = 0
    for (i1, i2, j1, j2), label in zip(diff.runs, diff.labels):
        words_removed += i2 - i1
        words_added += j2 - j1
        if label:
            words_churn += (i2 - i1) + (j2 - j1)
    change = ParagraphChange(
        "moved" if moved else "modified", mt.old[0], mt.new[0], old_text, new_text,
        2.0 * diff.equal / max(1, len(a) + len(b)),
        _redline(a, b, diff.runs) if diff.runs else new_text,
        tuple(mt.old), tuple(mt.new), relation, words_added, words_removed, words_churn,
        tuple(label for label in CHURN_LABELS if label in churn_labels),
        not substantive_runs and not moved,
    )
    if not substantive_runs or not any(_HAS_DIGIT.search(" ".join(a[i1:i2])) for i1, i2, _, _ in substantive_runs):
        return change, [], 0
    in_table = one_to_one and " | " in old_text and " | " in new_text
    if in_table and context.facts and mt.new[0] in context.new_cell_facts:
        return (change, *_fact_changes(mt, new_text.split(" | "), context))
    if in_table:  # rows of different cells ("$ | ( 12 | )" against "$ | 5"): compared by their value columns
        old_scale, old_periods, old_units = old_tables.at(mt.old[0])
        new_scale, new_periods, new_units = new_tables.at(mt.new[0])
        return (change, *numbers.row_number_changes(
            old_text.split(" | "), new_text.split(" | "), old_index=mt.old[0], new_index=mt.new[0], old_scale=old_scale,
            new_scale=new_scale, old_periods=old_periods, new_periods=new_periods, years=context.years,
            old_units=old_units, new_units=new_units))
    found, rolled_forward = numbers.number_changes_between(
        a, b, substantive_runs, old_index=mt.old[0], new_index=mt.new[0], in_table=False, years=context.years,
        old_scale=old_tables.prose_scale(mt.old[0]), new_scale=new_tables.prose_scale(mt.new[0]),
    )
    return change, found, rolled_forward


_PARENTHESES = re.compile(r"\([^)]*\)")
_NOTE_PREFIX = re.compile(r"^(?:note|schedule|item)\s+[0-9]+[a-z]?\s*[-–—.:]?\s*", re.I)


def _is_page_index(label: str, old: str, new: str) -> bool:
    """A row of an index table: "Notes to Consolidated Financial Statements | 34". The label must name
    a part of a report: "PINNACLE Acetabular Cup System | 920" counts plaintiffs (JNJ), not pages."""
    if not (old.isdigit() and new.isdigit() and len(old) <= 3 and len(new) <= 3):
        return False
    if _NOTE_PREFIX.match(label):
        return True  # "Note 22 – Subsequent Events | 104": an index of the notes
    label = _PARENTHESES.sub("", label)  # "... Accounting Firm (PCAOB ID: 42) | 50"
    if _HAS_DIGIT.search(label):
        return False
    words = label.split()
    if len(words) < 3 or _title_case_share(label) < 0.6:
        return False
    return any(_NON_ALNUM.sub("", w.lower()) in _INDEX_WORDS for w in words)


def _modified_row(mt: _Match, old_text: str, new_text: str, old_cells: list[str], new_cells: list[str], moved: bool,
                  old_tables: _TableContext, new_tables: _TableContext, context: _Numbers = _Numbers()):
    """`_modified` of two table rows: compared cell by cell, which is both cheaper than a word diff
    and right about columns (a shifted comparative column is not text moving around). Cells that are
    inline XBRL facts are paired by concept, dimensions and period, whatever their column."""
    changed = list(compress(count(), map(ne, old_cells, new_cells)))
    short = len(old_cells) <= 4 and "10-k" in old_text.lower()
    words_added = words_removed = words_churn = 0
    labels = set()
    substantive = False
    parts = list(new_cells)
    for k in changed:
        a, b = old_cells[k].split(), new_cells[k].split()
        if len(a) == 1 and len(b) == 1:
            label = _token_churn(a, b, 0, 0, short and k == len(old_cells) - 1)
            if label is None and len(old_cells) == 2 and _is_page_index(old_cells[0], a[0], b[0]):
                label = "reference"
        else:
            label = _churn_label(a, b, (0, len(a), 0, len(b)), False)
        words_removed += len(a)
        words_added += len(b)
        if label:
            labels.add(label)
            words_churn += len(a) + len(b)
        else:
            substantive = True
        parts[k] = "[-" + old_cells[k] + "-] {+" + new_cells[k] + "+}"
    if not changed:
        labels.add("whitespace")
    old_words, new_words = old_text.count(" ") + 1, new_text.count(" ") + 1
    change = ParagraphChange(
        "moved" if moved else "modified", mt.old[0], mt.new[0], old_text, new_text,
        (old_words + new_words - words_added - words_removed) / max(1, old_words + new_words),
        " | ".join(parts) if changed else new_text,
        tuple(mt.old), tuple(mt.new), "one_to_one", words_added, words_removed, words_churn,
        tuple(label for label in CHURN_LABELS if label in labels),
        not substantive and not moved,
    )
    if not substantive or not _HAS_DIGIT.search(new_text):
        return change, [], 0
    if len(old_cells) == 2 and _is_page_index(new_cells[0], old_cells[1], new_cells[1]):
        return change, [], 0  # an index entry: its figure is a page number
    if context.facts and mt.new[0] in context.new_cell_facts:
        return (change, *_fact_changes(mt, new_cells, context))
    old_scale, old_periods, old_units = old_tables.at(mt.old[0])
    new_scale, new_periods, new_units = new_tables.at(mt.new[0])
    found, rolled_forward = numbers.row_number_changes(
        old_cells, new_cells, old_index=mt.old[0], new_index=mt.new[0], old_scale=old_scale, new_scale=new_scale,
        old_periods=old_periods, new_periods=new_periods, years=context.years, old_units=old_units, new_units=new_units,
    )
    return change, found, rolled_forward


def _fact_changes(mt: _Match, new_cells: list[str], context: _Numbers) -> tuple[list[NumberChange], int]:
    """The figures of a newer row whose cells are inline XBRL facts, each against the older filing's
    fact, and the count of those only rolled forward."""
    return numbers.fact_number_changes(context.old_cell_facts.get(mt.old[0]), context.new_cell_facts[mt.new[0]], new_cells,
                                       context.facts, old_index=mt.old[0], new_index=mt.new[0])


def _in_reading_order(changes: list[ParagraphChange], old_size: int) -> list[ParagraphChange]:
    """Newer order; a removed paragraph sits after the newer position of its nearest older predecessor."""
    after: list[float] = [-1.0] * (old_size + 1)
    position = -1.0
    by_old = {c.old_index: c for c in changes if c.old_index is not None and c.new_index is not None and c.kind != "moved"}
    for i in range(old_size):
        c = by_old.get(i)
        if c is not None:
            position = float(max(c.new_indices))
        after[i] = position

    def key(c: ParagraphChange):
        if c.new_index is not None:
            return (float(c.new_index), 0, 0)
        return (after[c.old_index] + 0.5, 1, c.old_index)

    return sorted(changes, key=key)


def _stats(changes, words_old: int, words_new: int, new_words: list[int], number_changes: int, number_churn: int) -> ItemDiffStats:
    counts = dict.fromkeys(CHANGE_KINDS, 0)
    words_added = words_removed = words_churn = words_moved = 0
    split = merged = trivial = 0
    for c in changes:
        counts[c.kind] += 1
        words_added += c.words_added
        words_removed += c.words_removed
        words_churn += c.words_churn
        trivial += c.trivial and c.kind in ("modified", "moved")
        if c.kind == "moved":
            words_moved += sum(new_words[j] for j in c.new_indices)
        split += c.relation == "split"
        merged += c.relation in ("merged", "regrouped")
    total = max(1, words_old + words_new)
    substantive = max(0, words_added + words_removed - words_churn)
    share = min(1.0, (words_added + words_removed) / total)
    share_substantive = min(1.0, substantive / total)
    return ItemDiffStats(
        words_added=words_added,
        words_removed=words_removed,
        paragraphs_added=counts["added"],
        paragraphs_removed=counts["removed"],
        paragraphs_modified=counts["modified"],
        paragraphs_moved=counts["moved"],
        paragraphs_unchanged=counts["unchanged"],
        share_changed=share,
        change_score=(substantive + 0.25 * words_moved) * (0.5 + share_substantive),
        words_old=words_old,
        words_new=words_new,
        words_churn=words_churn,
        words_moved=words_moved,
        share_changed_substantive=share_substantive,
        paragraphs_split=split,
        paragraphs_merged=merged,
        paragraphs_trivial=trivial,
        number_changes=number_changes,
        number_churn=number_churn,
    )


def _flags(presence: str, older: ItemText, newer: ItemText, stats: ItemDiffStats) -> tuple[str, ...]:
    """Hints that a difference may come from extraction rather than from the filer: a paragraph
    missing from the text we extracted is not proof that the filer removed it."""
    flags = []
    if presence == "newer_only" and older.status is ItemStatus.MISSING:
        flags.append("not_found_in_older")
    if presence == "older_only" and newer.status is ItemStatus.MISSING:
        flags.append("not_found_in_newer")
    if presence != "both":
        return tuple(flags)
    if older.status is not newer.status:
        flags.append("status_changed")
    small, large = sorted((stats.words_old, stats.words_new))
    if large >= 300 and large >= 3 * max(1, small):
        flags.append("size_jump")
    if small >= 500 and stats.share_changed_substantive >= 0.8:
        flags.append("mostly_rewritten")
    return tuple(flags)


def diff_filings(older: ExtractedFiling, newer: ExtractedFiling, *, older_period: str | None = None,
                 newer_period: str | None = None) -> FilingDiff:
    """Item by item. The filings' fiscal years (from their inline XBRL, else the periods EDGAR gives)
    decide which figures are the same period; their XBRL facts pair the table cells that are facts."""
    years = FiscalYears.of(older.xbrl, newer.xbrl, older_period, newer_period)
    facts = FactIndex(older.xbrl, newer.xbrl) if older.xbrl is not None and newer.xbrl is not None and len(older.xbrl) and len(newer.xbrl) else None
    return FilingDiff(items={item: diff_item(older.items[item], newer.items[item], years=years, facts=facts) for item in ITEM_ORDER})


# --------------------------------------------------------------------------------------------------
# Sub-sections: risk factors (1A), sections (1C, 7)
# --------------------------------------------------------------------------------------------------

_BULLET = re.compile(r"^(?:[•●▪◦·■□►‣⁃*\-–—]|\(?[a-z0-9]{1,3}[.)]\s)")
_CONNECTIVE = re.compile(
    r"^(?:in addition|additionally|also|for example|for instance|however|moreover|further(?:more)?|as a result"
    r"|accordingly|consequently|similarly|likewise|specifically|in particular|finally)\b",
    re.I,
)
_FURNITURE = re.compile(r"10-k|^(?:part|item)\s+[ivx0-9]+[a-c]?\b|^table of contents$", re.I)
_SENTENCE_BREAK = re.compile(r"[.!?][\"”’)]?\s+[A-Z“\"]")
_RUN_IN_TITLE = re.compile(r"^([A-Z“\"][^:]{8,300}?)(:|\.)\s+(?=[A-Z“\"(])")


class _Unit(NamedTuple):
    title: str
    start: int  # first paragraph (the title's, or the run-in paragraph)
    end: int
    body_start: int  # first body paragraph
    category: str | None


def _title_case_share(text: str) -> float:
    words = [w for w in text.split() if len(w) > 3]
    if not words:
        return 0.0
    return sum(w[0].isupper() or not w[0].isalpha() for w in words) / len(words)


def _segment(item: ItemText, unit: str, words: list[int]) -> tuple[list[_Unit], str]:
    """Split an item into titled sub-sections; (units, segmentation method)."""
    paragraphs = item.paragraphs
    n = len(paragraphs)
    furniture = [w <= 12 and _FURNITURE.search(p) is not None for p, w in zip(paragraphs, words)]  # running headers, "Table of Contents"
    method = "heading_indices" if item.heading_indices else "text_heuristic"
    nxt = [n] * n  # next paragraph that is not page furniture
    following = n
    for k in range(n - 1, -1, -1):
        nxt[k] = following
        if not furniture[k]:
            following = k

    def plausible_heading(k: int) -> bool:
        p = paragraphs[k]
        return not furniture[k] and not mentions.is_table_row(p) and not _BULLET.match(p) and (p[:1].isupper() or p[:1] in "“\"'")

    if item.heading_indices:
        heads = {k for k in item.heading_indices if 0 <= k < n and plausible_heading(k)}
    else:
        heads = set()
        for k in range(n):
            if not plausible_heading(k):
                continue
            p, w = paragraphs[k], words[k]
            next_words = words[nxt[k]] if nxt[k] < n else 0
            short_heading = w <= 12 and p[-1:] not in ".:;,?" and _title_case_share(p) >= 0.5
            if unit == "section":
                if short_heading and next_words > w:
                    heads.add(k)
                continue
            if short_heading:
                heads.add(k)
            elif (
                5 <= w <= 45
                and not p.endswith(":")
                and len(_SENTENCE_BREAK.findall(p)) <= 1
                and not _CONNECTIVE.match(p)
                and next_words >= max(1.5 * w, w + 15)
                and not (k and paragraphs[k - 1].endswith(":"))
            ):
                heads.add(k)

    # Run-in titles ("Our business is seasonal. Sales peak ...") are how risk factors are titled when the
    # styled headings are only their groups (IBM: 6 groups, 26 run-in titles). When the filer styles
    # each risk factor as a heading, a bold-less sentence that looks like a title is body text
    # (NVDA FY2025 "On January 15, 2025, the USG published ...", found in review).
    run_in_titles = not item.heading_indices or len(heads) < RUN_IN_STYLED_LIMIT
    units: list[_Unit] = []
    category: str | None = None
    ordered = sorted(heads)
    head_set = set(ordered)
    starts: list[tuple[int, str, int]] = []  # (start, title, body start)
    for k in range(n):
        p = paragraphs[k]
        if k in head_set:
            is_category = False
            if unit == "risk_factor" and words[k] <= 12 and p[-1:] not in ".?":
                following_k = nxt[k]
                is_category = following_k < n and (following_k in head_set or bool(_BULLET.match(paragraphs[following_k])))
            if is_category:
                category = p
                starts.append((k, "", k + 1))  # closes the previous unit
                continue
            starts.append((k, p, k + 1))
            units.append(_Unit(p, k, -1, k + 1, category))
        elif unit == "risk_factor" and run_in_titles and not furniture[k]:
            match = _RUN_IN_TITLE.match(p)
            if match and len(match.group(1).split()) >= 3 and _title_case_share(match.group(1)) >= (0.6 if match.group(2) == ":" else 0.75):
                starts.append((k, match.group(1), k))
                units.append(_Unit(match.group(1), k, -1, k, category))
    # each unit ends where the next unit or category starts
    start_positions = [s for s, _, _ in starts]
    closed = []
    for u in units:
        at = bisect_left(start_positions, u.start)
        end = start_positions[at + 1] if at + 1 < len(start_positions) else n
        closed.append(_Unit(u.title, u.start, end, u.body_start, u.category))
    return closed, method


def _title_key(title: str) -> str:
    return _NON_ALNUM.sub(" ", _DIGITS.sub("0", title.lower())).strip()


def _subsections(
    older: ItemText, newer: ItemText, changes: list[ParagraphChange], old_paragraph_words: list[int], new_paragraph_words: list[int]
) -> SubsectionDiff | None:
    unit = SUBSECTION_ITEMS[older.item]
    old_units, old_method = _segment(older, unit, old_paragraph_words) if older.paragraphs else ([], "text_heuristic")
    new_units, new_method = _segment(newer, unit, new_paragraph_words) if newer.paragraphs else ([], "text_heuristic")
    if not old_units and not new_units:
        return None
    if (older.paragraphs and not old_units) or (newer.paragraphs and not new_units):
        return None  # one year would not segment: matching units against none would invent additions
    method = "heading_indices" if "heading_indices" in (old_method, new_method) else "text_heuristic"
    old_of = _unit_index(old_units, len(older.paragraphs))
    new_of = _unit_index(new_units, len(newer.paragraphs))
    old_words = [sum(old_paragraph_words[u.start : u.end]) for u in old_units]
    new_words = [sum(new_paragraph_words[u.start : u.end]) for u in new_units]
    old_keys = [_title_key(u.title) for u in old_units]
    new_keys = [_title_key(u.title) for u in new_units]

    overlap: dict[tuple[int, int], float] = {}
    for c in changes:
        if c.old_index is None or c.new_index is None:
            continue
        u, v = old_of[c.old_index], new_of[c.new_index]
        if u < 0 or v < 0:
            continue
        size = sum(old_paragraph_words[i] for i in c.old_indices) + sum(new_paragraph_words[j] for j in c.new_indices)
        kept = c.similarity * size / 2.0
        overlap[(u, v)] = overlap.get((u, v), 0.0) + kept
    scored = []
    for (u, v), kept in overlap.items():
        score = 2.0 * kept / max(1, old_words[u] + new_words[v])
        if old_keys[u] == new_keys[v]:
            score += 1.0
        scored.append((score, u, v))
    title_index: dict[str, list[int]] = {}
    for v, key in enumerate(new_keys):
        title_index.setdefault(key, []).append(v)
    for u, key in enumerate(old_keys):
        for v in title_index.get(key, ()):
            if (u, v) not in overlap:
                scored.append((1.0, u, v))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    pair_of_old: dict[int, int] = {}
    pair_of_new: dict[int, int] = {}
    for score, u, v in scored:
        if score >= SUBSECTION_THRESHOLD and u not in pair_of_old and v not in pair_of_new:
            pair_of_old[u], pair_of_new[v] = v, u
    # bodies rewritten but titles close: still the same risk factor
    left_old = [u for u in range(len(old_units)) if u not in pair_of_old]
    left_new = [v for v in range(len(new_units)) if v not in pair_of_new]
    if left_old and left_new and len(left_old) * len(left_new) <= TITLE_PAIRS_LIMIT:
        title_sets_new = {v: set(new_keys[v].split()) for v in left_new}
        for u in left_old:
            a = set(old_keys[u].split())
            best = max(((_dice(a, title_sets_new[v]), v) for v in left_new if v not in pair_of_new), default=(0.0, -1))
            if best[0] >= TITLE_THRESHOLD:
                pair_of_old[u], pair_of_new[best[1]] = best[1], u

    chain = _heaviest_chain(sorted(pair_of_old.items()), lambda u, v: old_words[u] + 1) if pair_of_old else []
    unit_in_place = {u for u, _ in chain}
    changes_of_old: dict[int, list[tuple[int, ParagraphChange]]] = {}  # removed paragraphs, by older unit
    changes_of_new: dict[int, list[tuple[int, ParagraphChange]]] = {}  # everything else, by newer unit
    for position, c in enumerate(changes):
        if c.new_index is not None:
            if new_of[c.new_index] >= 0:
                changes_of_new.setdefault(new_of[c.new_index], []).append((position, c))
        elif old_of[c.old_index] >= 0:
            changes_of_old.setdefault(old_of[c.old_index], []).append((position, c))

    result: list[SubsectionChange] = []
    for v, nu in enumerate(new_units):
        body = _body(newer.paragraphs, nu)
        u = pair_of_new.get(v)
        if u is None:
            result.append(
                SubsectionChange("added", None, nu.title, None, nu.category, None, (nu.start, nu.end), 0.0,
                                 words_added=new_words[v], new_text=body)
            )
            continue
        ou = old_units[u]
        old_body = _body(older.paragraphs, ou)
        own = [c for _, c in sorted(changes_of_new.get(v, []) + changes_of_old.get(u, []), key=lambda pc: pc[0])]
        identical = "\n".join(older.paragraphs[ou.start : ou.end]) == "\n".join(newer.paragraphs[nu.start : nu.end])
        title_changed = ou.title != nu.title
        title_redline = None
        if title_changed:
            ta, tb = ou.title.split(), nu.title.split()
            title_redline = _redline(ta, tb, _word_diff(ta, tb, False).runs)
        kept = overlap.get((u, v), 0.0)
        similarity = min(1.0, 2.0 * kept / max(1, old_words[u] + new_words[v]))
        not_unchanged = [c for c in own if c.kind != "unchanged"]
        trivial = bool(not_unchanged) and all(c.trivial for c in not_unchanged)
        churn = tuple(label for label in CHURN_LABELS if any(label in c.churn for c in own))
        result.append(
            SubsectionChange(
                kind="unchanged" if identical else "reworded",
                old_title=ou.title,
                new_title=nu.title,
                old_category=ou.category,
                new_category=nu.category,
                old_paragraphs=(ou.start, ou.end),
                new_paragraphs=(nu.start, nu.end),
                similarity=1.0 if identical else similarity,
                title_changed=title_changed,
                title_redline=title_redline,
                moved=u not in unit_in_place,
                trivial=trivial and not identical,
                churn=churn,
                words_added=sum(c.words_added for c in own),
                words_removed=sum(c.words_removed for c in own),
                redline=None if identical else _unit_redline(own),
                old_text=None if identical else old_body,
                new_text=None if identical else body,
            )
        )
    for u, ou in enumerate(old_units):
        if u not in pair_of_old:
            position = next((k for k, r in enumerate(result) if r.old_paragraphs and r.old_paragraphs[0] > ou.start), len(result))
            result.insert(
                position,
                SubsectionChange("removed", ou.title, None, ou.category, None, (ou.start, ou.end), None, 0.0,
                                 words_removed=old_words[u], old_text=_body(older.paragraphs, ou)),
            )
    return SubsectionDiff(unit=unit, segmentation=method, older_count=len(old_units), newer_count=len(new_units), changes=tuple(result))


def _unit_index(units: list[_Unit], size: int) -> list[int]:
    of = [-1] * size
    for n, u in enumerate(units):
        for k in range(u.start, u.end):
            of[k] = n
    return of


def _body(paragraphs: tuple[str, ...], unit: _Unit) -> str:
    return "\n\n".join(paragraphs[unit.body_start : unit.end])


def _unit_redline(own: list[ParagraphChange]) -> str:
    parts = []
    for c in own:
        if c.kind == "unchanged":
            parts.append(c.new_text)
        elif c.kind == "added":
            parts.append("{+" + c.new_text + "+}")
        elif c.kind == "removed":
            parts.append("[-" + c.old_text + "-]")
        else:
            parts.append(c.redline or c.new_text)
    return "\n\n".join(parts)
