"""Item extraction: a 10-K primary document (HTML, inline XBRL or plain text) -> its 23 Items.

Pure functions, no I/O. `section_blocks` turns the document into clean blocks (page furniture
removed, table rows as " | "-joined text). Items are then located by the first of three methods that
works, in the spirit of the best open-source extractors, but each a general mechanism:

1. Table-of-contents links: a TOC row "Item 7 ..." linking to an anchor whose first blocks carry
   that item's heading gives the item's start (stale links are rejected); items the TOC lacks are
   filled from body headings lying between their neighbours.
2. Body headings: every short block that reads like "Item 7." (many spellings) is a candidate; a
   dynamic programme picks one per item in increasing order, preferring long spans and rejecting
   chains that jump over other headings (which is what a TOC entry does).
3. Form 10-K cross-reference index (GE, Intel, McDonald's style filings with no Item headings in
   the body): the index maps each item to printed pages, read from the page footers.

An item spans from its heading to the next item's heading in document order (the last one to
SIGNATURES). Each item gets a status: present, incorporated_by_reference (with `refers_to`),
not_applicable, reserved or missing.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from enum import Enum

import statement_tables
from form_10k import ITEM_ORDER, ITEM_PARTS, ITEM_TITLES
from section_blocks import Document, read_document
from statement_tables import StatementTable
from xbrl_facts import InlineXbrl



class ItemStatus(str, Enum):
    PRESENT = "present"
    INCORPORATED_BY_REFERENCE = "incorporated_by_reference"
    NOT_APPLICABLE = "not_applicable"
    RESERVED = "reserved"
    MISSING = "missing"


@dataclass(frozen=True)
class ItemText:
    item: str
    status: ItemStatus
    title: str | None = None
    paragraphs: tuple[str, ...] = ()
    start: int | None = None  # character offsets in the normalised document text ("\n\n"-joined blocks)
    end: int | None = None
    refers_to: str | None = None
    table_only: bool = False
    # indices into `paragraphs` of blocks styled as sub-headings (bold/italic/underlined as a whole,
    # or heading tags): risk factor titles, MD&A section titles. Empty when unknown.
    heading_indices: tuple[int, ...] = ()
    part: str | None = None  # "I" .. "IV"
    method: str | None = None  # how the item was located: toc_links | headings | cross_reference_index
    # paragraph index -> the inline XBRL facts printed in it (indices into ExtractedFiling.xbrl.facts):
    # one tuple per " | " cell of a table row, or a single tuple for a prose paragraph
    cell_facts: dict[int, tuple[tuple[int, ...], ...]] = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def word_count(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)

    def summary(self) -> dict:
        return {"status": self.status.value, "title": self.title, "word_count": self.word_count}

    def to_dict(self, with_text: bool = True) -> dict:
        body = {
            "status": self.status.value,
            "title": self.title,
            "word_count": self.word_count,
            "refers_to": self.refers_to,
            "start": self.start,
            "end": self.end,
            "table_only": self.table_only,
            "part": self.part,
            "heading_indices": list(self.heading_indices),
        }
        if with_text:
            body["text"] = self.text
        return body


@dataclass(frozen=True)
class ExtractedFiling:
    items: dict[str, ItemText]
    document_chars: int
    source_format: str  # html | txt
    method: str  # toc_links | headings | cross_reference_index | none
    warnings: tuple[str, ...] = field(default_factory=tuple)
    # where the financial statements (a balance sheet and an income statement, each a titled table)
    # are: "Item 8", "Item 15"..., "after the signatures" (F-pages), or None when the filing has none
    financial_statements: str | None = None
    xbrl: InlineXbrl | None = field(default=None, compare=False, repr=False)  # the document's inline XBRL facts
    statement_tables: tuple[StatementTable, ...] = field(default=(), compare=False, repr=False)  # printed statements, without XBRL

    def item(self, item: str) -> ItemText:
        return self.items[item]

    def to_dict(self, with_text: bool = True) -> dict:
        return {item: self.items[item].to_dict(with_text) for item in ITEM_ORDER}


# --------------------------------------------------------------------------------------------------
# Item headings
# --------------------------------------------------------------------------------------------------

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
}
_NUMBER = r"\d{1,2}|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_HEADING = re.compile(
    r"^(?:part\s+(?:iv|i{1,3})\b\s*[,.:;|\-–—]*\s*)?"  # "PART II, Item 5"
    r"items?\s*(?:no\.?\s*)?"  # Item / Items / Item No.
    rf"(?P<num>{_NUMBER})(?:\s?(?P<letter>[a-d])(?![a-z]))?"  # 1A, 1 A, ONE
    r"(?P<t>(?<=[a-d])\s*\(\s*[a-z]\s*\))?"  # 9A(T)
    rf"(?P<more>(?:\s*(?:,|and|&|through|to|-|–|—)\s*(?:items?\s*)?(?:\d{{1,2}})(?:\s?[a-d](?![a-z]))?)*)"  # Items 1 and 2
    r"(?![\d])(?P<rest>.*)$",
    re.I,
)
_MORE_ITEM = re.compile(r"(,|and|&|through|to|-|–|—)\s*(?:items?\s*)?(\d{1,2})(?:\s?([a-d])(?![a-z]))?", re.I)
_PAGE_CELL = re.compile(r"^(?:pages?\s*)?(?:[a-z]{1,2}\s?-\s?)?\d{1,3}(?:\s*[-–]\s*(?:[a-z]{1,2}\s?-\s?)?\d{1,3})?$|^[ivxl]{1,6}$", re.I)
_TRAILING_PAGE = re.compile(r"(?:\.{2,}|\s)\s*(?:page\s*)?(?:[a-z]{1,2}-)?\d{1,3}$", re.I)
_SEPARATORS = " .:;-–—|\u2013\u2014"
_SUB_ITEM = re.compile(r"^\(\s*(?:[a-z]|[0-9]{1,2}|[ivx]{1,4})\s*\)", re.I)  # "(a)", "(1)", "(iv)"
_PART_LINE = re.compile(r"^part\s+(?:iv|i{1,3}|[1-4])\b\.?(?:\s*[-–—:.,|]\s*|\s+)?(?:[a-z][a-z ,&'’]{0,60})?$", re.I)
_SIGNATURES = re.compile(r"^signatures?\.?:?$", re.I)
_MAX_HEADING_CHARS = 400


def _rank(number: int, letter: str) -> int:
    """Sort key of an item number: Item 4 -> 40, 4A -> 41 (unlisted items such as 4A still end the item before)."""
    return number * 10 + (" abcd".index(letter.lower()) if letter else 0)


_ITEM_RANK = {item: _rank(int(re.match(r"\d+", item).group()), item[-1] if item[-1].isalpha() else "") for item in ITEM_ORDER}
_RANK_ITEM = {rank: item for item, rank in _ITEM_RANK.items()}


@dataclass(frozen=True)
class Heading:
    """An "Item N" heading (or table-of-contents entry) found in one block."""

    block: int
    ranks: tuple[int, ...]  # one rank per item the heading covers ("Items 1 and 2." covers two)
    title: str
    toc_entry: bool  # ends in a page number: a table-of-contents line, not a heading

    @property
    def items(self) -> tuple[str, ...]:
        return tuple(_RANK_ITEM[r] for r in self.ranks if r in _RANK_ITEM)

    @property
    def first(self) -> int:
        return self.ranks[0]

    @property
    def last(self) -> int:
        return self.ranks[-1]


def parse_heading(text: str, block: int = 0) -> Heading | None:
    """Read a block as an item heading; None when it is not one.

    Accepts `Item 1A.`, `ITEM 1A -`, `Item 1A:`, no punctuation, `Item No. 1`, `ITEM ONE`,
    `Items 1 and 2.`, `Item 7 and 7A`, `ITEM 9A(T)`, `PART II, Item 5`, a heading in table cells
    (`Item 1A | Risk Factors`). Rejects sentences that merely start with an item reference
    ("Item 7 of this report ...", "Item 14(a)(1) ...").
    """
    if len(text) > _MAX_HEADING_CHARS:
        return None
    match = _HEADING.match(text)
    if not match:
        return None
    number_text = match.group("num").lower()
    number = int(number_text) if number_text.isdigit() else _NUMBER_WORDS[number_text]
    letter = match.group("letter") or ""
    if not 1 <= number <= 16:
        return None
    ranks = [_rank(number, letter)]
    more = match.group("more") or ""
    for joiner, other_number, other_letter in _MORE_ITEM.findall(more):
        rank = _rank(int(other_number), other_letter or "")
        if not 10 <= rank <= 169 or rank <= ranks[-1]:
            continue
        if joiner.lower() in ("through", "to", "-", "–", "—"):
            ranks.extend(r for r in sorted(_RANK_ITEM) if ranks[-1] < r <= rank)
            if rank not in ranks:
                ranks.append(rank)
        else:
            ranks.append(rank)
    rest = match.group("rest")
    stripped = rest.strip(_SEPARATORS)
    if _SUB_ITEM.match(stripped) or (stripped[:1].islower() and rest[:1] not in ".:-–—|"):
        return None  # "Item 14(a)(1)", "Item 7 of this report"
    if rest and rest[0].isalnum() and not match.group("t") and not more:
        return None  # "Item 1Business"? glued words are not headings
    cells = [c.strip(_SEPARATORS) for c in rest.split(" | ")]
    cells = [c for c in cells if c]
    toc_entry = False
    if cells and (len(cells) > 1 or " | " in text) and _PAGE_CELL.match(cells[-1]):
        toc_entry = True
        cells = cells[:-1]
    title = " ".join(cells).strip(_SEPARATORS)
    if not toc_entry and _TRAILING_PAGE.search(title) and re.search(r"[a-z]", title, re.I):
        toc_entry = True
        title = _TRAILING_PAGE.sub("", title).strip(_SEPARATORS)
    if len(text) > 250 and not toc_entry and " | " not in text and not _looks_like_title(title):
        return None
    return Heading(block=block, ranks=tuple(ranks), title=title[:300], toc_entry=toc_entry)


def _looks_like_title(title: str) -> bool:
    """A long heading block must start with a known item title (a run-in heading), not a sentence."""
    words = _title_words(title[:120])
    return any(len(words & _title_words(t)) >= min(2, len(_title_words(t))) for t in ITEM_TITLES.values())


_STOP_WORDS = {"and", "of", "in", "the", "on", "with", "for", "to", "a", "about", "s", "registrant", "registrant's"}


def _title_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if w not in _STOP_WORDS and len(w) > 1}


def _title_similarity(text: str, title: str) -> float:
    """Share of the canonical title's words present in `text` (0..1)."""
    wanted = _title_words(title)
    if not wanted:
        return 0.0
    return len(wanted & _title_words(text)) / len(wanted)


def find_headings(doc: Document) -> list[Heading]:
    headings = []
    for i, text in enumerate(doc.blocks):
        first = text[:6].lower()
        if first.startswith(("item", "part")) or (first[:1] in "|-–—" and "item" in text[:10].lower()):
            heading = parse_heading(text.lstrip("|-–— "), i)
            if heading:
                headings.append(heading)
    return headings


# --------------------------------------------------------------------------------------------------
# Locating items
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Start:
    """Where one heading (for one or more items) begins and its body starts."""

    heading: int  # block of the heading
    body: int  # first block of the item's text
    ranks: tuple[int, ...]
    title: str | None


@dataclass(frozen=True)
class _Span:
    """The blocks of one located item (or of several, for a combined heading)."""

    items: tuple[str, ...]
    title: str | None
    blocks: tuple[int, ...]
    method: str
    status: ItemStatus | None = None  # when the layout itself says (cross-reference index rows)
    text: tuple[str, ...] | None = None  # text given by the index instead of blocks


def locate_items(doc: Document) -> tuple[list[_Span], str, list[str]]:
    """(spans, method, warnings): TOC links when they resolve 8 or more items, else body headings;
    the cross-reference index when it locates clearly more items than either."""
    headings = find_headings(doc)
    body_headings = [h for h in headings if not h.toc_entry]
    starts = toc_link_starts(doc, headings)
    method = "toc_links"
    if len({r for s in starts for r in s.ranks if r in _RANK_ITEM}) >= 8:
        starts = _fill_from_headings(doc, starts, body_headings)
    else:
        starts = _fill_out_of_order(doc, choose_headings(doc, body_headings), body_headings)
        method = "headings"
    located = {r for s in starts for r in s.ranks if r in _RANK_ITEM}
    if len(located) < len(ITEM_ORDER) - 4:  # few Item headings: maybe a cross-reference-index layout
        index = cross_reference_index(doc)
        if len(index) > len(located) + 4:
            return index, "cross_reference_index", []
    if not starts:
        return [], "none", ["no item headings found"]
    return _spans_from_starts(doc, starts, method, toc_regions(doc, headings)), method, []


def _signatures_after(doc: Document, block: int) -> int:
    for i in range(block, len(doc.blocks)):
        if _SIGNATURES.match(doc.blocks[i]):
            return i
    return len(doc.blocks)


def _spans_from_starts(doc: Document, starts: list[_Start], method: str, tocs: list[int] = ()) -> list[_Span]:
    """Each item runs from its heading to the next one (the last to SIGNATURES), stopping early at a
    Part heading of a later Part or at a table of contents (a second TOC, an index of items)."""
    starts = sorted(starts, key=lambda s: s.heading)
    spans = []
    last_heading = starts[-1].heading if starts else 0
    end_of_items = _signatures_after(doc, last_heading + 1)
    omitted = _omitted_lists(doc, starts)
    specific = {s.ranks[0] for s in starts if len(s.ranks) == 1}  # beat a combined heading's later items
    for n, start in enumerate(starts):
        stop = starts[n + 1].heading if n + 1 < len(starts) else end_of_items
        stop = _part_boundary(doc, start, stop)
        stop = next((t for t in tocs if start.body < t < stop), stop)
        body = list(range(min(start.body, stop), stop))
        while body and _PART_LINE.match(doc.blocks[body[-1]]):
            body.pop()
        items = tuple(_RANK_ITEM[r] for k, r in enumerate(start.ranks) if r in _RANK_ITEM and (k == 0 or r not in specific))
        if not items:
            continue
        if start.heading in omitted:
            note = doc.blocks[omitted[start.heading]]
            spans.append(_Span(items, start.title, (), method, ItemStatus.NOT_APPLICABLE, (note,)))
        else:
            spans.append(_Span(items=items, title=start.title, blocks=tuple(body), method=method))
    return spans


_TOC_TITLE = re.compile(r"\b(?:index|contents)\b", re.I)


def toc_regions(doc: Document, headings: list[Heading]) -> list[int]:
    """First blocks of the tables of contents: 3 or more TOC entries (an "Item" line ending in a page
    number, or table rows of different items with nothing between them) at most 2 blocks apart.
    A title such as "INDEX" or "TABLE OF CONTENTS" right above belongs to it."""
    members = []
    for k, heading in enumerate(headings):
        if heading.toc_entry or (heading.block in doc.rows and any(
                other.block in (heading.block - 1, heading.block + 1) and other.first != heading.first and other.block in doc.rows
                for other in headings[max(0, k - 1) : k + 2])):
            members.append(heading.block)
    regions, run = [], []
    for block in members:
        if run and block - run[-1] > 2:
            if len(run) >= 3:
                regions.append(run[0])
            run = []
        run.append(block)
    if len(run) >= 3:
        regions.append(run[0])
    starts = []
    for first in regions:
        for above in (first - 1, first - 2):
            if above >= 0 and len(doc.blocks[above]) <= 60 and _TOC_TITLE.search(doc.blocks[above]):
                first = above
                break
        starts.append(first)
    return starts


_OMITTED_LIST = re.compile(r"\b(?:omitted|not\s+applicable|not\s+required)\b[^.]*[:.]?$", re.I)


def _omitted_lists(doc: Document, starts: list[_Start]) -> dict[int, int]:
    """Headings listed right after "The following items have been omitted ...:" (asset-backed
    issuers, General Instruction J): {heading block: block of that sentence}. Such items have no text."""
    found: dict[int, int] = {}
    by_block = {s.heading: s for s in starts}
    for start in starts:
        above = start.heading - 1
        if above < 0 or above in by_block or len(doc.blocks[above]) > 300:
            continue
        text = doc.blocks[above]
        if not (_OMITTED_LIST.search(text) and re.search(r"\bitems?\b|following", text, re.I) and text.rstrip().endswith(":")):
            continue
        block, is_row = start.heading, start.heading in doc.rows
        while block in by_block and (block in doc.rows) == is_row and by_block[block].body <= block + 1:
            found[block] = above
            block += 1
    return found


_PART_NUMBER = re.compile(r"^part\s+(iv|i{1,3}|[1-4])\b", re.I)
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}


_OTHER_ITEM_HEADING = re.compile(r"^items?\s+\d{3,4}\b", re.I)  # "Item 1112(b) of Regulation AB."


def _part_boundary(doc: Document, start: _Start, stop: int) -> int:
    """A "PART III" heading ends the Part II item before it: the Part's introduction belongs to no item.
    So does the bold heading of another form's item (Regulation AB's "Item 1117")."""
    item = next((_RANK_ITEM[r] for r in start.ranks if r in _RANK_ITEM), None)
    if item is None:
        return stop
    part = _ROMAN[ITEM_PARTS[item].lower()]
    for i in range(start.body, stop):
        text = doc.blocks[i]
        if len(text) <= 80:
            match = _PART_NUMBER.match(text)
            if match and _PART_LINE.match(text) and _ROMAN[match.group(1).lower()] > part:
                return i
        if len(text) <= 200 and i in doc.emphasised and _OTHER_ITEM_HEADING.match(text):
            return i
    return stop


def _heading_start(doc: Document, heading: Heading) -> _Start:
    """The body starts after the heading, and after the title when it sits in the next block."""
    title = heading.title or None
    body = heading.block + 1
    first = heading.block
    # a running header repeating the heading ("ITEM 7. MANAGEMENT'S ...") right above it belongs to it
    for i in (heading.block - 1, heading.block - 2):
        if i < 0:
            break
        above = parse_heading(doc.blocks[i])
        if above is not None and above.first == heading.first and not above.toc_entry:
            first = i
        elif not _PART_LINE.match(doc.blocks[i]):
            break
    if not title and body < len(doc.blocks):
        following = doc.blocks[body]
        if _is_title_block(doc, body, heading) and not parse_heading(following):
            title = following
            body += 1
    elif title and body < len(doc.blocks) and _continues_title(doc, heading, title, body):
        title = f"{title} {doc.blocks[body]}"  # a heading split over two blocks
        body += 1
    return _Start(heading=first, body=body, ranks=heading.ranks, title=title)


_DANGLING = re.compile(r"(?:\b(?:and|or|on|of|the|for|in|with|to|from|about|by)|[,&\-–—])$", re.I)


def _continues_title(doc: Document, heading: Heading, title: str, i: int) -> bool:
    """The next block completes a title cut in two ("... ON ACCOUNTING AND" / "FINANCIAL DISCLOSURE")."""
    text = doc.blocks[i]
    if len(text) > 100 or parse_heading(text) or _PART_LINE.match(text) or text.endswith("."):
        return False
    if (title.upper() == title) != (text.upper() == text):
        return False
    if _DANGLING.search(title):
        return True
    canonical = ITEM_TITLES.get(_RANK_ITEM.get(heading.first, ""), "")
    if not canonical:
        return False
    before, after = _title_similarity(title, canonical), _title_similarity(f"{title} {text}", canonical)
    return after > before and abs(_title_similarity(text, canonical) - (after - before)) < 1e-9 and before < 1.0


def _is_title_block(doc: Document, i: int, heading: Heading) -> bool:
    text = doc.blocks[i]
    if len(text) > 200 or _PART_LINE.match(text):
        return False
    canonical = [ITEM_TITLES.get(_RANK_ITEM.get(r, ""), "") for r in heading.ranks]
    if any(_title_similarity(text, t) >= 0.5 for t in canonical if t):
        return True
    if text.upper() == text and re.search(r"[A-Z]{3}", text) and not text.endswith("."):
        return True
    return i in doc.emphasised and not text.rstrip().endswith((".", ":")) and len(text) < 160


# --- 1. table-of-contents links ---------------------------------------------------------------------

def toc_link_starts(doc: Document, headings: list[Heading]) -> list[_Start]:
    """Item starts read from TOC links whose target really is that item's heading."""
    by_block = {h.block: h for h in headings}
    heading_at = {h.block: h for h in headings if not h.toc_entry}
    starts: dict[int, _Start] = {}
    for link_block, target in doc.links:
        entry = by_block.get(link_block)
        if entry is None or target not in doc.anchors:
            continue
        anchor = doc.anchors[target]
        if anchor <= link_block:
            continue  # a link back up (to the TOC) is not an item start
        start = _validate_target(doc, entry, anchor, heading_at)
        if start and entry.first not in starts:
            starts[entry.first] = start
    return list({s.heading: s for s in starts.values()}.values())


def _validate_target(doc: Document, entry: Heading, anchor: int, heading_at: dict[int, Heading]) -> _Start | None:
    """Accept a link target when one of its first blocks is the linked item's heading (and no other item's)."""
    found: Heading | None = None
    for i in range(anchor, min(anchor + 4, len(doc.blocks))):
        heading = heading_at.get(i)
        if heading is not None:
            if heading.first != entry.first:
                break
            found = heading  # keep going: a running header may precede the real heading
            continue
        if found is not None:
            break
        text = doc.blocks[i]
        if len(text) <= 200 and entry.title and _title_similarity(text, entry.title) >= 0.7 \
                and _title_similarity(entry.title, text) >= 0.5:
            return _Start(heading=i, body=i + 1, ranks=entry.ranks, title=text)  # the title alone
    if found is None:
        return None
    return _heading_start(doc, found)


def _fill_from_headings(doc: Document, starts: list[_Start], body_headings: list[Heading]) -> list[_Start]:
    """Add items the TOC links missed, from body headings lying between their located neighbours."""
    by_rank = {r: s for s in starts for r in s.ranks}
    positions = sorted(by_rank)
    added: list[_Start] = []
    taken = {s.heading for s in starts}
    for heading in body_headings:
        if heading.first in by_rank or heading.block in taken:
            continue
        before = [by_rank[r].heading for r in positions if r < heading.first]
        after = [by_rank[r].heading for r in positions if r > heading.last]
        low = max(before) if before else -1
        high = min(after) if after else len(doc.blocks)
        if low < heading.block < high:
            start = _heading_start(doc, heading)
            added.append(start)
            for r in heading.ranks:
                by_rank[r] = start
            positions = sorted(by_rank)
            taken.add(heading.block)
    return starts + added


# --- 2. body headings --------------------------------------------------------------------------------

_ITEM_WEIGHT = 10.0
_JUMP_PENALTY = 3.0
_TOC_ROW_PENALTY = 4.0
_MAX_PREDECESSORS = 150  # bounds the quadratic search on pathological documents


def choose_headings(doc: Document, headings: list[Heading]) -> list[_Start]:
    """Pick one heading per item in increasing item order and document order.

    Dynamic programme: a chain scores 10 per item covered plus the log-length of the text each
    heading encloses, minus 3 for every heading of another item its span jumps over (a TOC entry's
    span jumps over all the other entries and the real headings) and minus 4 for a table row that
    sits among rows of other items (a TOC table without page numbers).
    """
    if not headings:
        return []
    sizes = [0]
    for text in doc.blocks:
        sizes.append(sizes[-1] + len(text))
    end = _signatures_after(doc, headings[-1].block + 1)
    n = len(headings)
    blocks = [h.block for h in headings]
    by_rank: dict[int, list[int]] = {}
    for k, h in enumerate(headings):
        by_rank.setdefault(h.first, []).append(k)

    def jumped(i: int, j: int) -> int:
        """Headings strictly between i and j (indices into `headings`) of another item than i's."""
        same = by_rank[headings[i].first]
        return (j - i - 1) - (bisect.bisect_left(same, j) - bisect.bisect_right(same, i))

    def span_score(i: int, stop_block: int) -> float:
        return math.log1p(sizes[stop_block] - sizes[blocks[i] + 1]) if stop_block > blocks[i] else 0.0

    own = [_ITEM_WEIGHT * len(h.ranks) - (_TOC_ROW_PENALTY if h.block in doc.rows and _row_in_run(doc, headings, k) else 0.0)
           for k, h in enumerate(headings)]
    best = own[:]
    back = [-1] * n
    combined = [len(h.ranks) > 1 for h in headings]
    for j in range(n):
        first_j, block_j = headings[j].first, blocks[j]
        for i in range(max(0, j - _MAX_PREDECESSORS), j):
            if headings[i].first >= first_j or blocks[i] >= block_j:
                continue
            gain = own[j]
            if combined[i] or combined[j]:  # "Item 2, 3, 4, 5" atop a page and "Item 3." do not both earn Item 3
                gain -= _ITEM_WEIGHT * len(set(headings[i].ranks).intersection(headings[j].ranks))
            score = best[i] + gain + span_score(i, block_j) - _JUMP_PENALTY * jumped(i, j)
            if score > best[j]:
                best[j], back[j] = score, i
    # the last heading's span runs to SIGNATURES: headings after it are jumped over as well
    final = [best[j] + span_score(j, max(end, blocks[j] + 1)) - _JUMP_PENALTY * jumped(j, n) for j in range(n)]
    j = max(range(n), key=lambda k: final[k])
    chain = []
    while j >= 0:
        chain.append(headings[j])
        j = back[j]
    return [_heading_start(doc, h) for h in reversed(chain)]


def _row_in_run(doc: Document, headings: list[Heading], i: int) -> bool:
    """A table row heading whose neighbouring block is another item's row: part of a TOC table."""
    block = headings[i].block
    neighbours = [h for h in headings[max(0, i - 1) : i + 2] if h.block != block and abs(h.block - block) <= 2]
    return any(h.first != headings[i].first for h in neighbours)


def _fill_out_of_order(doc: Document, chain: list[_Start], headings: list[Heading]) -> list[_Start]:
    """Items the in-order chain skipped whose heading stands in the body, out of numeric order
    (e.g. "Item 1B" printed after an omitted-items list that ends with Item 3)."""
    if not chain:
        return chain
    located = {r for s in chain for r in s.ranks}
    first = min(s.heading for s in chain)
    taken = {s.heading for s in chain}
    added = []
    for k, heading in enumerate(headings):
        if heading.block <= first or heading.block in taken or any(r in located for r in heading.ranks):
            continue
        if heading.block in doc.rows and _row_in_run(doc, headings, k):
            continue
        added.append(_heading_start(doc, heading))
        located.update(heading.ranks)
        taken.add(heading.block)
    return chain + added


# --- 3. cross-reference index ----------------------------------------------------------------------

_INDEX_TITLE = re.compile(r"cross[\s-]*reference\s+(?:index|table|sheet)|form 10-k (?:reference )?index|index to form 10-k", re.I)
_PAGE_LIST = re.compile(r"(?:[A-Z]{1,2}-)?\d{1,3}(?:\s*[-–—]\s*(?:[A-Z]{1,2}-)?\d{1,3})?", re.I)
_FOOTNOTE_REF = re.compile(r"\(([a-z])\)|(?<![\w(])([a-z])\)|\*+")
_NOT_APPLICABLE_CELL = re.compile(r"^(?:not\s+applicable|none|n/?a|omitted|not\s+required)\.?$", re.I)
_RESERVED_CELL = re.compile(r"\[?\s*reserved\s*\]?", re.I)


def cross_reference_index(doc: Document) -> list[_Span]:
    """Items located through a "Form 10-K Cross-Reference Index" (item -> printed pages)."""
    for i, text in enumerate(doc.blocks):
        if len(text) < 120 and ("ndex" in text or "NDEX" in text or "eference" in text or "EFERENCE" in text) \
                and _INDEX_TITLE.search(text) and not re.search(r"\|\s*\d{1,3}$", text):
            rows = _index_rows(doc, i + 1)
            if len(rows) >= 10:
                return _index_spans(doc, rows, i)
    return []


@dataclass
class _IndexRow:
    ranks: tuple[int, ...]
    title: str
    references: list[str]  # cells after the title (page lists, "Not applicable", "(a)")
    sub_rows: bool = False


def _index_rows(doc: Document, first: int) -> list[_IndexRow]:
    """The item rows of the index table, sub-rows ("Description of business | Pages 3-36") merged into their item."""
    rows: list[_IndexRow] = []
    misses = 0
    for i in range(first, min(first + 120, len(doc.blocks))):
        text = doc.blocks[i]
        heading = parse_heading(text)
        if heading is not None:
            cells = [c.strip() for c in text.split(" | ")]
            label_cells = 1 if parse_heading(cells[0]) else 0
            rest = cells[label_cells:]
            title, references = (rest[0], rest[1:]) if rest else ("", [])
            if len(rest) == 1 and _looks_like_reference(rest[0]):
                title, references = "", rest
            rows.append(_IndexRow(ranks=heading.ranks, title=title, references=references))
            misses = 0
        elif rows and i in doc.rows and " | " in text and not _SIGNATURES.match(text.split(" | ")[0]):
            cells = [c.strip() for c in text.split(" | ")]
            if _looks_like_reference(cells[-1]) and (rows[-1].sub_rows or not rows[-1].references):
                rows[-1].references.extend(cells[-1:])  # "Description of business | Pages 3-36" under "Item 1. Business:"
                rows[-1].sub_rows = True
            misses = 0
        elif _PART_LINE.match(text) or (i in doc.rows and not rows):
            continue
        else:
            misses += 1
            if misses > 2 and rows:
                break
    return rows


def _looks_like_reference(cell: str) -> bool:
    return bool(_NOT_APPLICABLE_CELL.match(cell) or _RESERVED_CELL.fullmatch(cell.strip()) or
                re.match(r"^(?:pages?\s*)?(?:[A-Z]{1,2}-)?\d{1,3}", cell, re.I) or _FOOTNOTE_REF.match(cell))


def _index_spans(doc: Document, rows: list[_IndexRow], index_block: int) -> list[_Span]:
    footnotes = _index_footnotes(doc, index_block)
    label_pages: dict[str, list[int]] = {}
    for page, label in doc.page_labels.items():
        label_pages.setdefault(label.upper(), []).append(page)
    blocks_of_page: dict[int, list[int]] = {}
    for i, page in enumerate(doc.page_of):
        blocks_of_page.setdefault(page, []).append(i)
    ranged = any(re.search(r"\d\s*[-–—,]\s*\d", " ".join(row.references)) for row in rows)
    starts_by_page = {} if ranged else _single_page_starts(doc, rows, label_pages, blocks_of_page, index_block)
    spans: list[_Span] = []
    for row in rows:
        items = tuple(_RANK_ITEM[r] for r in row.ranks if r in _RANK_ITEM)
        if not items:
            continue
        joined = " ".join(row.references)
        notes = [footnotes[m] for m in re.findall(r"\(([a-z])\)", joined) if m in footnotes]
        if _RESERVED_CELL.search(row.title) or _RESERVED_CELL.fullmatch(joined.strip()):
            spans.append(_Span(items, row.title, (), "cross_reference_index", ItemStatus.RESERVED, ()))
            continue
        if _NOT_APPLICABLE_CELL.match(joined.strip()):
            spans.append(_Span(items, row.title, (), "cross_reference_index", ItemStatus.NOT_APPLICABLE, (joined.strip(),)))
            continue
        pages = _pages_in(re.sub(r"\([a-z]\)", " ", joined))
        if ranged:
            blocks = sorted({b for p in pages for page in label_pages.get(p, []) for b in blocks_of_page.get(page, [])})
        else:
            blocks = list(starts_by_page.get(items[0], ()))
        text = tuple(doc.blocks[b] for b in blocks) + tuple(notes)
        status = None if blocks else (ItemStatus.INCORPORATED_BY_REFERENCE if notes else None)
        spans.append(_Span(items, row.title, tuple(blocks), "cross_reference_index", status, text if notes else None))
    return spans


def _pages_in(text: str) -> list[str]:
    """"4-6, 7-13, 78-80" -> ['4', '5', ..., '80'] (labels as printed, e.g. 'F-3')."""
    pages: list[str] = []
    for part in _PAGE_LIST.findall(text):
        bounds = re.split(r"\s*[-–—]\s*(?=(?:[A-Z]{1,2}-)?\d)", part.strip(), flags=re.I)
        if len(bounds) == 2:
            prefix = re.match(r"^([A-Z]{1,2}-)?", bounds[0], re.I).group(1) or ""
            lo, hi = int(re.sub(r"\D", "", bounds[0])), int(re.sub(r"\D", "", bounds[1]))
            if 0 < hi - lo < 400:
                pages.extend(f"{prefix.upper()}{p}" for p in range(lo, hi + 1))
                continue
        pages.append(bounds[0].upper())
    return pages


def _index_footnotes(doc: Document, index_block: int) -> dict[str, str]:
    notes = {}
    for i in range(index_block, min(index_block + 150, len(doc.blocks))):
        match = re.match(r"^\(([a-z])\)\s*(.+)", doc.blocks[i])
        if match and len(doc.blocks[i]) > 20:
            notes.setdefault(match.group(1), doc.blocks[i])
    return notes


def _single_page_starts(doc: Document, rows: list[_IndexRow], label_pages: dict[str, list[int]],
                        blocks_of_page: dict[int, list[int]], index_block: int) -> dict[str, tuple[int, ...]]:
    """An index giving one start page per item: the item starts at the heading on that page that best
    matches its title, and ends at the next item's start (a sub-section that matches its title poorly,
    e.g. "Financing and market risk" for Item 7A, ends at the next heading of the same style and does
    not cut the item around it)."""
    starts: list[tuple[int, str, bool]] = []  # (block, item, nested)
    link_targets = {doc.anchors[t] for _, t in doc.links if t in doc.anchors}
    for row in rows:
        items = tuple(_RANK_ITEM[r] for r in row.ranks if r in _RANK_ITEM)
        pages = _pages_in(re.sub(r"\([a-z]\)", " ", " ".join(row.references)))
        if not items or not pages:
            continue
        candidates = [b for page in label_pages.get(pages[0], []) for b in blocks_of_page.get(page, [])]
        if not candidates:
            continue
        title = row.title or ITEM_TITLES[items[0]]
        scored = [(_title_similarity(doc.blocks[b], title), -b) for b in candidates
                  if len(doc.blocks[b]) <= 150 and _is_heading_like(doc, b)]
        if scored:
            score, neg_block = max(scored)
            block = -neg_block
        else:
            score, block = 0.0, candidates[0]
        # a start that matches its title poorly and that the table of contents does not list is a
        # sub-section: "Financing and market risk" for Item 7A, inside Item 7
        listed = score >= 0.5 or block in link_targets
        starts.append((block, items[0], not listed))
    starts.sort()
    outer = [b for b, _, nested in starts if not nested] + [index_block]
    result: dict[str, tuple[int, ...]] = {}
    end_all = min(index_block, _signatures_after(doc, max((b for b, _, _ in starts), default=0) + 1))
    for block, item, nested in starts:
        if nested:
            stop = _next_same_style(doc, block)
        else:
            later = [b for b in outer if b > block]
            stop = min(later[0] if later else end_all, end_all if block < end_all else len(doc.blocks))
        result[item] = tuple(range(block + 1, max(block + 1, stop)))
    return result


def _is_heading_like(doc: Document, i: int) -> bool:
    text = doc.blocks[i]
    return i in doc.emphasised or (text.upper() == text and re.search(r"[A-Z]{3}", text) is not None) or i in doc.anchors.values()


def _next_same_style(doc: Document, block: int) -> int:
    text = doc.blocks[block]
    upper = text.upper() == text
    for i in range(block + 1, len(doc.blocks)):
        other = doc.blocks[i]
        if len(other) <= 150 and (i in doc.emphasised) == (block in doc.emphasised) and \
                (other.upper() == other and re.search(r"[A-Z]{3}", other) is not None) == upper and \
                (i in doc.rows) == (block in doc.rows):
            return i
    return len(doc.blocks)


# --------------------------------------------------------------------------------------------------
# Statuses
# --------------------------------------------------------------------------------------------------

_POINTER = re.compile(
    r"incorporated\s+(?:herein\s+|in\s+this\s+item\s+)?by\s+reference|is\s+(?:set\s+forth|contained|included|presented|provided)\s+(?:in|under|on)"
    r"|are\s+(?:set\s+forth|contained|included|presented)\s+(?:in|under|on)|will\s+be\s+(?:included|contained|set\s+forth|presented)\s+(?:in|under)"
    r"|can\s+be\s+found\s+(?:in|under|on)|(?:see|refer\s+to)\s+(?:item|part|note|the\s+information|\"|“)|appears?\s+(?:in|on|under)"
    r"|reference\s+is\s+made\s+to|is\s+incorporated|see\s+(?:the\s+)?index"
    r"|(?:begins?|are|is|reported|presented|shown|appearing|contained)\s+on\s+pages?\s",
    re.I,
)
# "None" as an answer ("None.", "There are none."), not "none of our directors ..."
_NOT_APPLICABLE = re.compile(
    r"\b(?:not\s+applicable|n/a|omitted|not\s+required|there\s+(?:were|are|have\s+been|was|is)\s+no|no\s+matters|no\s+events?\s+occurred)\b"
    r"|\bnone\s*(?:\.|;|$)",
    re.I,
)
_RESERVED = re.compile(r"^\[?\s*(?:removed\s+and\s+)?reserved\s*\]?\.?$", re.I)


def classify_item(item: str, title: str | None, paragraphs: tuple[str, ...]) -> tuple[ItemStatus, str | None]:
    """The item's status and, for a pointer, where it points (rules of the corpus reference)."""
    if title and re.search(r"\breserved\b", title, re.I):
        return ItemStatus.RESERVED, None
    if sum(len(p) for p in paragraphs) > 6000 and item not in ("15", "16"):
        return ItemStatus.PRESENT, None  # far more than 300 words: no rule below can apply
    text = " ".join(paragraphs)
    words = text.split()
    if words and _RESERVED.match(text.strip()):
        return ItemStatus.RESERVED, None
    if len(words) <= 40 and _NOT_APPLICABLE.search(text) and not _POINTER.search(text):
        return ItemStatus.NOT_APPLICABLE, None
    limit = 40 if item in ("15", "16") else 300  # an exhibit list mentions "incorporated by reference" anyway
    if words and len(words) <= limit and _POINTER.search(" ".join(words[:80])):
        return ItemStatus.INCORPORATED_BY_REFERENCE, refers_to(text)
    if len(words) <= 40 and _NOT_APPLICABLE.search(text):
        return ItemStatus.NOT_APPLICABLE, None
    return ItemStatus.PRESENT, None


def refers_to(text: str) -> str:
    """Where a pointer item points: proxy statement, Exhibit 13, Item 15 pages, another item..."""
    lowered = text.lower()
    if "proxy" in lowered:
        return "proxy statement"
    if "exhibit 13" in lowered or "annual report to" in lowered:
        return "Annual Report to shareholders (Exhibit 13)"
    if re.search(r"item\s+15|part\s+iv|\bf-\d|financial statements?\s+(?:and\s+supplementary\s+data\s+)?(?:beginning|on)\s+page", lowered):
        return "Item 15 / financial statements pages"
    match = re.search(r"item\s+(\d{1,2}[a-c]?)", lowered)
    if match:
        return f"Item {match.group(1).upper()}"
    if "notes to" in lowered or re.search(r"\bnote\s+\d", lowered):
        return "notes to financial statements"
    return "elsewhere in the filing"


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------

def extract_items(content: bytes, *, with_facts: bool = True) -> ExtractedFiling:
    """Extract all 23 items of a 10-K; items without a heading are `missing`. With `with_facts`, the
    same pass reads the inline XBRL facts (and, without them, the printed statement tables)."""
    doc = read_document(content, with_facts=with_facts)
    spans, method, warnings = locate_items(doc)
    offsets = []
    position = 0
    for block in doc.blocks:
        offsets.append(position)
        position += len(block) + 2
    document_chars = max(0, position - 2)

    items: dict[str, ItemText] = {}
    warnings = list(warnings)
    for span in spans:
        paragraphs = span.text if span.text is not None else tuple(doc.blocks[i] for i in span.blocks)
        status, pointer = classify_item(span.items[0], span.title, paragraphs)
        if span.status is not None:
            status = span.status
            pointer = refers_to(" ".join(paragraphs)) if status is ItemStatus.INCORPORATED_BY_REFERENCE else None
        blocks = span.blocks if span.text is None else ()
        heading_indices = tuple(n for n, b in enumerate(blocks) if b in doc.emphasised and b not in doc.rows) \
            if doc.emphasised else ()
        rows = len(doc.rows.intersection(blocks)) if blocks else 0
        for item in span.items:
            if item in items:
                continue
            items[item] = ItemText(
                item=item,
                status=status,
                title=span.title,
                paragraphs=paragraphs,
                start=offsets[blocks[0]] if blocks else None,
                end=offsets[blocks[-1]] + len(doc.blocks[blocks[-1]]) if blocks else None,
                refers_to=pointer,
                table_only=bool(blocks) and rows == len(blocks),
                heading_indices=heading_indices,
                part=ITEM_PARTS[item],
                method=span.method,
                cell_facts={n: doc.block_facts[b] for n, b in enumerate(blocks) if b in doc.block_facts} if doc.block_facts else {},
            )
    for item in ITEM_ORDER:
        items.setdefault(item, ItemText(item=item, status=ItemStatus.MISSING, part=ITEM_PARTS[item]))
    if spans:
        warnings.extend(f"Item {item} not found" for item in ("1", "7", "8") if items[item].status is ItemStatus.MISSING)
    if method == "cross_reference_index":
        warnings.append("items located through the cross-reference index: page-granular, items may overlap")
    return ExtractedFiling(
        items=items,
        document_chars=document_chars,
        source_format=doc.source_format,
        method=method,
        warnings=tuple(warnings),
        financial_statements=financial_statements_location(doc, spans),
        xbrl=doc.xbrl,
        # printed statements are read only where no inline XBRL states the figures
        statement_tables=() if not with_facts or (doc.xbrl is not None and len(doc.xbrl)) else statement_tables.find(doc.blocks, doc.rows),
    )


_BALANCE_SHEET = re.compile(r"\b(?:balance sheets?|statements? of (?:consolidated )?financial (?:position|condition))\b", re.I)
_INCOME_STATEMENT = re.compile(r"\b(?:statements? of (?:consolidated )?(?:operations|income|earnings)|income statements?)\b", re.I)
_STATEMENT_ROWS = 5  # a statement title is followed by its table: at least this many rows ...
_STATEMENT_WINDOW = 60  # ... within this many blocks


def financial_statements_location(doc: Document, spans: list[_Span]) -> str | None:
    """Where a balance sheet and an income statement stand as titled tables (not as index entries).

    Lets the validator follow Item 8's pointer ("see the financial statements beginning on page F-1")
    to statements printed in Item 15 or after the signatures, which belong to no item.
    """
    def statement(pattern: re.Pattern) -> int | None:
        """The title followed by the longest table: the statement itself, not a condensed extract."""
        best, best_rows = None, 0
        for i, block in enumerate(doc.blocks):
            if len(block) <= 160 and i not in doc.rows and pattern.search(block):
                rows = sum(1 for j in range(i + 1, min(len(doc.blocks), i + 1 + _STATEMENT_WINDOW)) if j in doc.rows)
                if rows >= _STATEMENT_ROWS and rows > best_rows:
                    best, best_rows = i, rows
        return best

    balance, income = statement(_BALANCE_SHEET), statement(_INCOME_STATEMENT)
    if balance is None or income is None:
        return None
    first = min(balance, income)
    for span in spans:
        if span.text is None and span.blocks and span.blocks[0] <= first <= span.blocks[-1]:
            return f"Item {span.items[0]}"
    last_item_block = max((span.blocks[-1] for span in spans if span.text is None and span.blocks), default=-1)
    return "after the signatures" if first > last_item_block else "outside the items"
