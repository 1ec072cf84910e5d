"""Item extraction: a 10-K primary document (HTML, inline XBRL or plain text) -> its Items.

Pure functions, no I/O. The document is parsed once with lxml and linearised into blocks (one
per paragraph, heading or table row); item headings are found among the blocks, the table of
contents is told apart from the body by the spans the headings enclose, and each item gets a
status (`present`, `incorporated_by_reference`, `not_applicable`, `reserved`, `missing`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import Enum

import lxml.html
from lxml import etree

ITEM_ORDER = ("1", "1A", "1B", "1C", "2", "3", "4", "5", "6", "7", "7A", "8", "9", "9A", "9B", "9C", "10", "11", "12", "13", "14", "15", "16")
ITEM_TITLES = {
    "1": "Business",
    "1A": "Risk Factors",
    "1B": "Unresolved Staff Comments",
    "1C": "Cybersecurity",
    "2": "Properties",
    "3": "Legal Proceedings",
    "4": "Mine Safety Disclosures",
    "5": "Market for Registrant's Common Equity, Related Stockholder Matters and Issuer Purchases of Equity Securities",
    "6": "[Reserved]",
    "7": "Management's Discussion and Analysis of Financial Condition and Results of Operations",
    "7A": "Quantitative and Qualitative Disclosures About Market Risk",
    "8": "Financial Statements and Supplementary Data",
    "9": "Changes in and Disagreements with Accountants on Accounting and Financial Disclosure",
    "9A": "Controls and Procedures",
    "9B": "Other Information",
    "9C": "Disclosure Regarding Foreign Jurisdictions that Prevent Inspections",
    "10": "Directors, Executive Officers and Corporate Governance",
    "11": "Executive Compensation",
    "12": "Security Ownership of Certain Beneficial Owners and Management and Related Stockholder Matters",
    "13": "Certain Relationships and Related Transactions, and Director Independence",
    "14": "Principal Accountant Fees and Services",
    "15": "Exhibits and Financial Statement Schedules",
    "16": "Form 10-K Summary",
}
_ITEM_INDEX = {item: i for i, item in enumerate(ITEM_ORDER)}


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
    start: int | None = None  # character offsets in the normalised document text
    end: int | None = None
    refers_to: str | None = None
    table_only: bool = False
    # indices into `paragraphs` of blocks styled as sub-headings (bold/italic/underlined as a whole,
    # or heading tags): risk factor titles, MD&A section titles. Empty when unknown.
    heading_indices: tuple[int, ...] = ()

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
        }
        if with_text:
            body["text"] = self.text
        return body


@dataclass(frozen=True)
class ExtractedFiling:
    items: dict[str, ItemText]
    document_chars: int
    source_format: str  # html | txt
    method: str  # headings | none
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def item(self, item: str) -> ItemText:
        return self.items[item]

    def to_dict(self, with_text: bool = True) -> dict:
        return {item: self.items[item].to_dict(with_text) for item in ITEM_ORDER}


# --------------------------------------------------------------------------------------------------
# Document -> blocks
# --------------------------------------------------------------------------------------------------

_BLOCK_TAGS = {
    "p", "div", "br", "tr", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "table", "center",
    "blockquote", "pre", "section", "article", "dl", "dt", "dd", "hr", "body", "html", "font-block",
}
_SKIP_TAGS = {"script", "style", "head", "title", "ix:header", "ix:hidden", "noscript"}
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_ZERO_WIDTH = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_TEXT_DOCUMENT = re.compile(rb"<DOCUMENT>\s*<TYPE>([^\r\n<]+)(.*?)</DOCUMENT>", re.S | re.I)
_TEXT_BODY = re.compile(rb"<TEXT>(.*?)(?:</TEXT>|$)", re.S | re.I)
_LOOKS_HTML = re.compile(rb"<(html|body|p|div|table|font)[\s>]", re.I)


def normalize_space(text: str) -> str:
    return _SPACES.sub(" ", _ZERO_WIDTH.sub("", text)).strip()


def primary_document_body(content: bytes) -> bytes:
    """Strip EDGAR's SGML wrapper: the TEXT of the first 10-K document, or the content itself."""
    head = content[:4096].upper()
    if b"<DOCUMENT>" not in head and b"<SEC-DOCUMENT>" not in head and b"<SEC-HEADER>" not in head:
        return content
    for match in _TEXT_DOCUMENT.finditer(content):
        doc_type = match.group(1).strip().upper()
        if doc_type.startswith(b"10-K") or doc_type.startswith(b"10K"):
            body = _TEXT_BODY.search(match.group(2))
            return body.group(1) if body else match.group(2)
    body = _TEXT_BODY.search(content)
    return body.group(1) if body else content


def document_blocks(content: bytes) -> tuple[list[str], str]:
    """Linearise a document into text blocks in reading order; returns (blocks, source format)."""
    body = primary_document_body(content)
    if _LOOKS_HTML.search(body[:200_000]):
        return _html_blocks(body), "html"
    return _text_blocks(body), "txt"


def _html_blocks(body: bytes) -> list[str]:
    body = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", body)
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, encoding=_encoding_of(body))
    root = lxml.html.document_fromstring(body, parser=parser)
    blocks: list[str] = []
    buffer: list[str] = []

    def flush() -> None:
        if buffer:
            text = normalize_space("".join(buffer))
            if text:
                blocks.append(text)
            buffer.clear()

    def walk(element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        tag = tag.lower()
        if tag in _SKIP_TAGS or (element.get("style") and _HIDDEN_STYLE.search(element.get("style"))):
            if element.tail:
                buffer.append(element.tail)
            return
        if tag == "tr":
            flush()
            cells = []
            for cell in element:
                if isinstance(cell.tag, str) and cell.tag.lower() in ("td", "th"):
                    text = normalize_space(" ".join(_visible_text(cell)))
                    if text:
                        cells.append(text)
            if cells:
                blocks.append(" | ".join(cells))
            if element.tail:
                buffer.append(element.tail)
            return
        is_block = tag in _BLOCK_TAGS
        if is_block:
            flush()
        if element.text:
            buffer.append(element.text)
        for child in element:
            walk(child)
        if is_block:
            flush()
        if element.tail:
            buffer.append(element.tail)

    walk(root)
    flush()
    return blocks


def _visible_text(element) -> list[str]:
    parts: list[str] = []

    def walk(node) -> None:
        tag = node.tag.lower() if isinstance(node.tag, str) else ""
        if tag in _SKIP_TAGS or (node.get("style") and _HIDDEN_STYLE.search(node.get("style"))):
            if node.tail:
                parts.append(node.tail)
            return
        if tag in ("br", "p", "div"):
            parts.append(" ")
        if node.text:
            parts.append(node.text)
        for child in node:
            walk(child)
        if node.tail:
            parts.append(node.tail)

    if element.text:
        parts.append(element.text)
    for child in element:
        walk(child)
    return parts


def _encoding_of(body: bytes) -> str:
    match = re.search(rb"charset=[\"']?([A-Za-z0-9_\-]+)", body[:4096])
    if match:
        return match.group(1).decode("ascii", "ignore")
    try:
        body[:200_000].decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "windows-1252"


def _text_blocks(body: bytes) -> list[str]:
    text = body.decode("utf-8", errors="replace") if _is_utf8(body) else body.decode("windows-1252", errors="replace")
    text = re.sub(r"<[^>\n]{1,40}>", " ", text)  # stray SGML tags such as <PAGE>
    blocks: list[str] = []
    for chunk in re.split(r"\n\s*\n", text):
        line = normalize_space(" ".join(chunk.split("\n")))
        if line:
            blocks.append(line)
    return blocks


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


# --------------------------------------------------------------------------------------------------
# Blocks -> items
# --------------------------------------------------------------------------------------------------

_HEADING = re.compile(
    r"^(?:part\s+[ivx]+\s*[,.:\-–—]?\s*)?items?\s*(?:no\.?\s*)?(\d{1,2})\s*([a-c])?(?:\s*\(t\))?(?![\d])"
    r"(?:\s*(?:,|and|&|through|to|-|–)\s*(\d{1,2}[a-c]?))*\s*[.:\-–—]?\s*(.*)$",
    re.I,
)
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?(?:[-–—]\s*)?(?:[a-z]-)?\d{1,3}(?:\s*[-–—])?$|^[ivxlc]{1,6}$", re.I)
_BACK_LINK = re.compile(r"^(?:back to |return to )?(?:table of contents|index|toc)$", re.I)
_PART_HEADING = re.compile(r"^part\s+(i{1,3}|iv)\b\.?\s*(?:[-–—:.]\s*)?(?:[a-z ,&]{0,60})?$", re.I)
_SIGNATURES = re.compile(r"^signatures?\.?$", re.I)
_POINTER = re.compile(
    r"incorporated\s+(?:herein\s+)?by\s+reference|is\s+set\s+forth\s+(?:in|under)|will\s+be\s+(?:included|contained|set forth)\s+in"
    r"|can\s+be\s+found\s+(?:in|under)|is\s+included\s+(?:in|under)|see\s+item|refer\s+to|appears?\s+(?:in|on|under)",
    re.I,
)
_NOT_APPLICABLE = re.compile(r"\b(?:not\s+applicable|none|n/a|omitted|not\s+required|there\s+(?:were|are|have been)\s+no)\b", re.I)
_RESERVED = re.compile(r"^\[?\s*(?:removed\s+and\s+)?reserved\s*\]?\.?$", re.I)
_MAX_HEADING_CHARS = 260


@dataclass(frozen=True)
class _Candidate:
    block: int
    items: tuple[str, ...]  # more than one for combined headings ("Items 1 and 2.")
    title: str


def _heading_candidates(blocks: list[str]) -> list[_Candidate]:
    candidates = []
    for i, block in enumerate(blocks):
        if len(block) > _MAX_HEADING_CHARS:
            continue
        match = _HEADING.match(block)
        if not match:
            continue
        first = (match.group(1) + (match.group(2) or "")).upper()
        if first not in _ITEM_INDEX:
            continue
        rest = match.group(4) or ""
        if re.search(r"\|\s*\d{1,3}\s*$", block) or re.search(r"\s\d{1,3}$", rest) and len(rest) < 160:
            # a table-of-contents row ends in a page number
            continue
        items = [first]
        extra = re.findall(r"(?:,|and|&|through|to|-|–)\s*(\d{1,2}[a-c]?)", block[match.start(1) : match.start(4)], re.I)
        for other in extra:
            other = other.upper()
            if other in _ITEM_INDEX and _ITEM_INDEX[other] > _ITEM_INDEX[items[-1]]:
                if re.search(r"through|to", block[: match.start(4)], re.I):
                    items.extend(ITEM_ORDER[_ITEM_INDEX[items[-1]] + 1 : _ITEM_INDEX[other] + 1])
                else:
                    items.append(other)
        candidates.append(_Candidate(block=i, items=tuple(dict.fromkeys(items)), title=rest.strip(" |.")))
    return candidates


def _choose_headings(candidates: list[_Candidate], block_sizes: list[int], end_block: int) -> list[_Candidate]:
    """Pick one heading per item in document order, preferring long spans (the body) to short (TOC).

    Dynamic programme over candidates: a chain must increase in item order and in position; its
    score counts the items covered and the log-size of the text each heading encloses.
    """
    if not candidates:
        return []
    prefix = [0]
    for size in block_sizes:
        prefix.append(prefix[-1] + size)

    def span(a: int, b: int) -> int:
        return prefix[b] - prefix[a]

    n = len(candidates)
    best = [0.0] * n
    back = [-1] * n
    for j in range(n):
        cj = candidates[j]
        best[j] = -1e9
        for i in range(-1, j):
            if i >= 0:
                ci = candidates[i]
                if _ITEM_INDEX[ci.items[-1]] >= _ITEM_INDEX[cj.items[0]] or ci.block >= cj.block:
                    continue
                gain = best[i] + 10.0 * len(cj.items) + math.log1p(span(ci.block, cj.block))
            else:
                gain = 10.0 * len(cj.items)
            if gain > best[j]:
                best[j], back[j] = gain, i
    final = [best[j] + math.log1p(span(candidates[j].block, end_block)) for j in range(n)]
    j = max(range(n), key=lambda k: final[k])
    chain = []
    while j >= 0:
        chain.append(candidates[j])
        j = back[j]
    return list(reversed(chain))


def _is_furniture(block: str) -> bool:
    return bool(_PAGE_NUMBER.match(block) or _BACK_LINK.match(block))


def classify_item(item: str, title: str | None, paragraphs: tuple[str, ...]) -> tuple[ItemStatus, str | None]:
    text = " ".join(paragraphs)
    words = text.split()
    if (title and re.search(r"reserved", title, re.I) and len(words) <= 40) or (not words and title and "reserved" in title.lower()):
        return ItemStatus.RESERVED, None
    if words and _RESERVED.match(text.strip()):
        return ItemStatus.RESERVED, None
    if len(words) <= 40 and _NOT_APPLICABLE.search(text) and not _POINTER.search(text):
        return ItemStatus.NOT_APPLICABLE, None
    limit = 60 if item in ("15", "16") else 300
    if words and len(words) <= limit and _POINTER.search(" ".join(words[:80])):
        return ItemStatus.INCORPORATED_BY_REFERENCE, _refers_to(text)
    if not words:
        return ItemStatus.NOT_APPLICABLE if item in ("6",) else ItemStatus.PRESENT, None
    return ItemStatus.PRESENT, None


def _refers_to(text: str) -> str:
    lowered = text.lower()
    if "proxy" in lowered:
        return "proxy statement"
    if "exhibit 13" in lowered or "annual report to" in lowered:
        return "Annual Report to shareholders (Exhibit 13)"
    if "item 15" in lowered or "part iv" in lowered or re.search(r"\bf-\d", lowered):
        return "Item 15 / financial statements pages"
    match = re.search(r"item\s+(\d{1,2}[a-c]?)", lowered)
    if match:
        return f"Item {match.group(1).upper()}"
    if "notes to" in lowered:
        return "notes to financial statements"
    return "elsewhere"


def extract_items(content: bytes) -> ExtractedFiling:
    """Extract all 23 items of a 10-K; items without a heading are `missing`."""
    blocks, source_format = document_blocks(content)
    blocks = [b for b in blocks if not _is_furniture(b)]
    offsets = []
    position = 0
    for block in blocks:
        offsets.append(position)
        position += len(block) + 2
    document_chars = max(0, position - 2)

    end_block = len(blocks)
    for i in range(len(blocks) - 1, -1, -1):
        if _SIGNATURES.match(blocks[i]):
            end_block = i
            break
    candidates = [c for c in _heading_candidates(blocks) if c.block < end_block]
    chosen = _choose_headings(candidates, [len(b) for b in blocks], end_block)

    items: dict[str, ItemText] = {}
    for index, heading in enumerate(chosen):
        stop = chosen[index + 1].block if index + 1 < len(chosen) else end_block
        first = heading.block + 1
        title = heading.title or None
        if not title and first < stop and len(blocks[first]) < 160 and not _HEADING.match(blocks[first]):
            title = blocks[first]
            first += 1
        body = [b for b in blocks[first:stop]]
        while body and _PART_HEADING.match(body[-1]):
            body.pop()
        paragraphs = tuple(body)
        status, refers_to = classify_item(heading.items[0], title, paragraphs)
        table_rows = sum(1 for p in paragraphs if " | " in p)
        for item in heading.items:
            items[item] = ItemText(
                item=item,
                status=status,
                title=title,
                paragraphs=paragraphs,
                start=offsets[first] if first < len(offsets) and paragraphs else None,
                end=(offsets[stop - 1] + len(blocks[stop - 1])) if paragraphs else None,
                refers_to=refers_to,
                table_only=bool(paragraphs) and table_rows == len(paragraphs),
            )
    for item in ITEM_ORDER:
        items.setdefault(item, ItemText(item=item, status=ItemStatus.MISSING))
    warnings = () if chosen else ("no item headings found",)
    return ExtractedFiling(
        items=items,
        document_chars=document_chars,
        source_format=source_format,
        method="headings" if chosen else "none",
        warnings=warnings,
    )
