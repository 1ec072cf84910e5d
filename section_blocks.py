"""A 10-K primary document (HTML, inline XBRL or plain text) -> blocks of clean text in reading order.

Helper of `section_extractor`. One block per paragraph or heading, one per table row (cells joined by
" | "). Page furniture (lone page numbers, "Table of Contents" back-links, running headers and
footers) is removed, and what the item finder needs is kept beside the text: where pages break and
the number printed on each page, which blocks are wholly bold/italic/underlined, where each internal
link points and which block it sits in.

Speed matters (the extractor must stay within a few times lxml's own parse), so the work is done by C
code wherever possible: a few byte-level scans mark emphasis and page breaks and cut hidden content
before parsing; lxml parses once; link targets are found in libxml2's id table; a small XSLT
stylesheet walks the tree in C and writes the text with marker characters for block, row and cell
boundaries; Python then only splits strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import lxml.html
from lxml import etree

import xbrl_facts
from xbrl_facts import FactSightings, InlineXbrl

# Marker characters (Unicode private use; never produced by the text of a filing we care about).
ROW = "\ue0f0"  # start of a table row
CELL = "\ue0f2"  # start of a table cell
PAGE = "\ue0f3"  # page break
EM_ON, EM_OFF = "\ue0f4", "\ue0f5"  # bold / italic / underline begins, ends
ANCHOR = "\ue0f6"  # ANCHOR <number> END: a link target starts here
LINK = "\ue0f7"  # LINK <target id> END: an internal link sits here
FACT = "\ue0fa"  # FACT <attributes SEP ... SEP printed text> RECORD_END: an inline-XBRL fact is printed here
SEP = "\ue0fb"  # separates the fields of a FACT, CONTEXT, UNIT or COVER record
HEADER = "\ue0fc"  # HEADER ... HEADER: what the ix:header declares (contexts, units, hidden facts)
TABLE = "\ue0fd"  # a <table> starts
CONTEXT = "\ue0fe"  # CONTEXT <id SEP start SEP end-or-instant (SEP axis SEP member)*> RECORD_END
UNIT = "\ue0ff"  # UNIT <id (SEP measure | SEP /measure)*> RECORD_END
COVER = "\ue0f1"  # COVER <name SEP context SEP text> RECORD_END: a dei: cover fact
RECORD_END = "\ue0ef"  # ends a FACT, CONTEXT, UNIT or COVER record (their text may hold ANCHOR ... END)
BLOCK = "\ue0f8"  # block boundary
END = "\ue0f9"


def _entity(char: str) -> bytes:
    return b"&#%d;" % ord(char)


# Block elements are separated; inside a table row (mode "cell") blocks only add a space so that one row
# stays one block, and a nested table starts new rows. Headings (h1-h6) count as emphasised.
_BLOCK_ELEMENTS = "p|div|li|ul|ol|dl|dt|dd|center|blockquote|pre|section|article|caption|address|header|footer|form|font-block"


# Inline XBRL elements, renamed at byte level before parsing ("<ix:nonFraction" -> "<ix-nonFraction"):
# lxml's HTML parser keeps "ix:" in the name, which an XSLT pattern can only match with a predicate
# tested against every element (14x slower); a plain name is a hash look-up.
_FACT_FIELDS = "".join(f'<xsl:value-of select="@{a}"/>{SEP}' for a in xbrl_facts.FACT_ATTRIBUTES)
_FACT_RECORD = f'{FACT}{_FACT_FIELDS}<xsl:value-of select="."/>{RECORD_END}'
_COVER_RECORD = f'{COVER}<xsl:value-of select="@name"/>{SEP}<xsl:value-of select="@contextref"/>{SEP}<xsl:value-of select="."/>{RECORD_END}'
_COVER_FACT = "ix-nonnumeric[starts-with(@name,'dei:')]"

_XSLT = etree.XML(f"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="text" encoding="utf-8"/>
<xsl:template match="script|style|head|title|noscript|template|xml"/>
<xsl:template match="{_BLOCK_ELEMENTS}">{BLOCK}<xsl:apply-templates/>{BLOCK}</xsl:template>
<xsl:template match="h1|h2|h3|h4|h5|h6">{BLOCK}{EM_ON}<xsl:apply-templates/>{EM_OFF}{BLOCK}</xsl:template>
<xsl:template match="br">{BLOCK}</xsl:template>
<xsl:template match="hr">{BLOCK}{PAGE}{BLOCK}</xsl:template>
<xsl:template match="table">{BLOCK}{TABLE}<xsl:apply-templates/>{BLOCK}</xsl:template>
<xsl:template match="tr">{BLOCK}{ROW}<xsl:apply-templates mode="cell"/>{BLOCK}</xsl:template>
<xsl:template match="td|th">{CELL}<xsl:apply-templates mode="cell"/></xsl:template>
<xsl:template match="b|strong|i|em|u">{EM_ON}<xsl:apply-templates/>{EM_OFF}</xsl:template>
<xsl:template match="a[starts-with(@href,'#')]">{LINK}<xsl:value-of select="substring(@href,2)"/>{END}<xsl:apply-templates/></xsl:template>
<xsl:template match="ix-nonfraction">{_FACT_RECORD}<xsl:apply-templates/></xsl:template>
<xsl:template match="{_COVER_FACT}">{_COVER_RECORD}<xsl:apply-templates/></xsl:template>
<xsl:template match="ix-header">{HEADER}<xsl:apply-templates mode="header"/>{HEADER}</xsl:template>
<xsl:template match="script|style|noscript|template" mode="cell"/>
<xsl:template match="td|th" mode="cell">{CELL}<xsl:apply-templates mode="cell"/></xsl:template>
<xsl:template match="{_BLOCK_ELEMENTS}|br|hr" mode="cell">\
<xsl:text> </xsl:text><xsl:apply-templates mode="cell"/><xsl:text> </xsl:text></xsl:template>
<xsl:template match="h1|h2|h3|h4|h5|h6|b|strong|i|em|u" mode="cell">{EM_ON}<xsl:apply-templates mode="cell"/>{EM_OFF}</xsl:template>
<xsl:template match="table" mode="cell">{BLOCK}{TABLE}<xsl:apply-templates/>{BLOCK}</xsl:template>
<xsl:template match="a[starts-with(@href,'#')]" mode="cell">\
{LINK}<xsl:value-of select="substring(@href,2)"/>{END}<xsl:apply-templates mode="cell"/></xsl:template>
<xsl:template match="ix-nonfraction" mode="cell">{_FACT_RECORD}<xsl:apply-templates mode="cell"/></xsl:template>
<xsl:template match="{_COVER_FACT}" mode="cell">{_COVER_RECORD}<xsl:apply-templates mode="cell"/></xsl:template>
<xsl:template match="text()" mode="header"/>
<xsl:template match="xbrli-context" mode="header">\
{CONTEXT}<xsl:value-of select="@id"/>{SEP}<xsl:value-of select=".//xbrli-startdate"/>\
{SEP}<xsl:value-of select=".//xbrli-enddate"/><xsl:value-of select=".//xbrli-instant"/>\
<xsl:for-each select=".//xbrldi-explicitmember|.//xbrldi-typedmember">{SEP}<xsl:value-of select="@dimension"/>\
{SEP}<xsl:value-of select="normalize-space(.)"/></xsl:for-each>{RECORD_END}</xsl:template>
<xsl:template match="xbrli-unit" mode="header">\
{UNIT}<xsl:value-of select="@id"/><xsl:for-each select=".//xbrli-measure">\
{SEP}<xsl:if test="ancestor::xbrli-unitdenominator">/</xsl:if><xsl:value-of select="normalize-space(.)"/></xsl:for-each>{RECORD_END}</xsl:template>
<xsl:template match="ix-nonfraction" mode="header">{_FACT_RECORD}<xsl:apply-templates mode="header"/></xsl:template>
<xsl:template match="{_COVER_FACT}" mode="header">{_COVER_RECORD}<xsl:apply-templates mode="header"/></xsl:template>
</xsl:stylesheet>""")
_TRANSFORM = etree.XSLT(_XSLT)


_XML_PROLOG = re.compile(rb"^\s*<\?xml[^>]*\?>")
_STYLE_ATTRIBUTE = re.compile(rb' style="[^"]*"| STYLE="[^"]*"')
_CHARSET = re.compile(rb"charset=[\"']?([A-Za-z0-9_\-]+)")
_TAG_NAME = re.compile(rb"<([a-z][a-z0-9:\-]*)")
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")

# Inline-style cues: one C-speed regex finds the style values we care about (after a colon), then the
# property name in front of the colon says what they mean (font-weight:700 is bold, break-before:page...).
_HIDDEN, _EMPHASIS, _BREAK_BEFORE, _BREAK_AFTER = "hidden", "emphasis", "break-before", "break-after"
_STYLE_VALUE = re.compile(rb":\s*(bold|[6-9]00|italic|oblique|underline|always|page)\b")
_WEIGHT_VALUES = b"b6789"
_DISPLAY_NONE = re.compile(rb"display\s*:\s*none")
_VOID_TAGS = {b"br", b"hr", b"img", b"input", b"meta", b"link", b"col", b"area", b"base", b"wbr"}
_NON_NESTING_TAGS = {b"span", b"font", b"b", b"strong", b"i", b"em", b"u", b"a"}
_IMPLIED_END_TAGS = {b"p", b"td", b"th", b"li", b"tr", b"dt", b"dd"}
# Emphasis markers are only put inside elements that may contain text (not between table rows).
_EMPHASIS_TAGS = {b"span", b"font", b"p", b"div", b"a", b"td", b"th", b"li", b"b", b"strong", b"i", b"em", b"u", b"h1",
                  b"h2", b"h3", b"h4", b"h5", b"h6", b"center", b"sup", b"small", b"big", b"ix:nonnumeric"}


@dataclass(frozen=True)
class Document:
    """The blocks of one document and what the item finder needs to know about them."""

    blocks: list[str]
    source_format: str  # html | txt
    rows: frozenset[int] = frozenset()  # indices of table-row blocks
    emphasised: frozenset[int] = frozenset()  # blocks whose whole text is bold/italic/underlined or a <h1>-<h6>
    page_of: list[int] = field(default_factory=list)  # physical page index of each block
    page_labels: dict[int, str] = field(default_factory=dict)  # page index -> number printed on that page
    anchors: dict[str, int] = field(default_factory=dict)  # link target (lower case) -> block it points at
    links: list[tuple[int, str]] = field(default_factory=list)  # (block index, target) of each internal link
    furniture: int = 0  # blocks removed as page furniture
    xbrl: InlineXbrl | None = None  # the inline XBRL facts, when the document has them
    # block -> the inline XBRL facts printed in it: per table cell (as the block's " | " cells), or one
    # entry holding every fact of a prose block
    block_facts: dict[int, tuple[tuple[int, ...], ...]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------

_LOOKS_HTML = (b"<html", b"<body", b"<p>", b"<p ", b"<div", b"<td", b"<font", b"<br")  # not <table: SGML text filings have it


def primary_document_body(content: bytes) -> bytes:
    """Strip EDGAR's SGML wrapper: the TEXT of the first 10-K document (else of the first document).

    Wrapper tags are upper case (lower case in a few old submissions); the documents are walked with
    C-speed searches, never a regular expression over the whole filing.
    """
    head = content[:8192]
    if b"<DOCUMENT>" in head or b"<TYPE>" in head:
        open_doc, type_tag, open_text, close_text = b"<DOCUMENT>", b"<TYPE>", b"<TEXT>", b"</TEXT>"
    elif b"<document>" in head or b"<type>" in head:
        open_doc, type_tag, open_text, close_text = b"<document>", b"<type>", b"<text>", b"</text>"
    else:
        return content
    first = None
    pos = max(0, content.find(open_doc))
    while pos >= 0:
        text = content.find(open_text, pos)
        if text < 0:
            break
        type_at = content.find(type_tag, pos, text)
        doc_type = content[type_at + len(type_tag) : content.find(b"\n", type_at, text)].strip().upper() if type_at >= 0 else b""
        close = content.find(close_text, text)
        body = content[text + len(open_text) : close if close >= 0 else len(content)]
        if doc_type.startswith((b"10-K", b"10K")):
            return body
        first = body if first is None else first
        if close < 0:
            break
        pos = content.find(open_doc, close)
    return first if first is not None else content


def read_document(content: bytes, *, with_facts: bool = True) -> Document:
    """Linearise a filing (SGML-wrapped or not, HTML or plain text) into clean blocks, and read its
    inline XBRL facts in the same pass (`with_facts=False`: the blocks alone, for a caller that
    needs only the text)."""
    body = primary_document_body(content)
    head = body[:100_000].lower()
    if any(tag in head for tag in _LOOKS_HTML):
        return html_document(body, with_facts=with_facts)
    return text_document(body)


# --------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------

def html_document(body: bytes, *, with_facts: bool = True) -> Document:
    if body[:200].lstrip().startswith(b"<?xml"):
        body = _XML_PROLOG.sub(b"", body, count=1)
    # styles were read at byte level; without them libxml2 parses (and frees) half the bytes of an iXBRL filing
    marked = _STYLE_ATTRIBUTE.sub(b"", _mark_bytes(body, with_facts=with_facts))
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, encoding=_encoding_of(body))
    root = lxml.html.document_fromstring(marked, parser=parser)
    target_ids = _mark_link_targets(root)
    try:
        text = str(_TRANSFORM(root))
    except etree.XSLTApplyError:  # e.g. nesting deeper than libxslt's template depth
        text = _plain_walk(root)  # without inline XBRL facts
    for char in _ZERO_WIDTH:
        if char in text:
            text = text.replace(char, "")
    raw = _split_blocks(text, target_ids)
    xbrl = xbrl_facts.assemble(raw.sightings, xbrl_facts.format_namespaces(root)) if raw.sightings else None
    return _finish(raw, "html", xbrl)


_HREFS = etree.XPath("//a/@href", smart_strings=False)
_BY_ID = etree.XPath("id($ids)")


def _mark_link_targets(root) -> dict[str, int]:
    """Put an ANCHOR marker at the start of every element an internal link points to.

    The targets are looked up with XPath id(), i.e. in the id table libxml2 builds while parsing
    (id="..." and <a name="...">), so this costs a few hundred dictionary look-ups, not a walk.
    Returns {target: anchor number}.
    """
    targets = {href[1:] for href in _HREFS(root) if href.startswith("#") and len(href) > 1 and " " not in href}
    if not targets:
        return {}
    numbers: dict[str, int] = {}
    for element in _BY_ID(root, ids=" ".join(targets)):
        name = element.get("id") or element.get("name")
        if name is None or name in numbers:
            continue
        numbers[name] = len(numbers)
        marker = f"{ANCHOR}{numbers[name]}{END}"
        element.text = marker + element.text if element.text else marker
    return numbers


_WALK_BLOCKS = frozenset(_BLOCK_ELEMENTS.split("|")) | {"h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "table"}
_WALK_SKIPPED = frozenset(("script", "style", "head", "title", "noscript", "template"))


def _plain_walk(root) -> str:
    """Fallback for the XSLT: the same block, row and cell markers from an iterative walk (no emphasis,
    no inline XBRL facts)."""
    for element in list(root.iter(*_WALK_SKIPPED, "ix-header")):
        element.drop_tree()
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        prefix = BLOCK + ROW if tag == "tr" else CELL if tag in ("td", "th") else BLOCK if tag in _WALK_BLOCKS else ""
        if prefix:
            element.text = prefix + (element.text or "")
            if tag not in ("td", "th"):
                element.tail = BLOCK + (element.tail or "")
    return etree.tostring(root, method="text", encoding="unicode", with_tail=False)


def _encoding_of(body: bytes) -> str:
    match = _CHARSET.search(body[:4096])
    if match:
        name = match.group(1).decode("ascii", "ignore").lower()
        return "windows-1252" if name in ("iso-8859-1", "latin-1", "us-ascii", "ascii") else name
    try:
        body[:400_000].decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        return "utf-8" if exc.start > 399_990 else "windows-1252"


def _mark_bytes(body: bytes, *, with_facts: bool = True) -> bytes:
    """Insert marker entities for emphasis and page breaks; cut hidden content (display:none; the
    ix:header too without facts); rename inline XBRL tags for the text pass.

    Only the few hundred places found by C-speed searches of the lower-cased bytes are touched.
    """
    low = body.lower()
    inserts, elements = _inline_styles(low)
    for match in _DISPLAY_NONE.finditer(low):
        tag_end = low.find(b">", match.end())
        if tag_end > 0 and low[tag_end - 1] != 47:  # not self-closing "/>" (empty hidden cells abound)
            lt = low.rfind(b"<", 0, match.start())
            if lt >= 0 and low.rfind(b">", lt, match.start()) < 0:
                elements.setdefault(lt, set()).add(_HIDDEN)
    cuts: list[tuple[int, int]] = []
    prefixes = _xbrl_prefixes(low)
    headers = _xbrl_headers(low, prefixes[0]) if prefixes else []
    for lt in sorted(elements):
        _element_edits(low, lt, elements[lt], inserts, cuts)
    if not with_facts:
        return _apply_edits(body, inserts, _merge(cuts + headers))
    if headers:  # kept for the facts' contexts and units: a hidden <div> around it is not cut
        cuts = [cut for cut in cuts if not any(cut[0] <= start < cut[1] for start, _ in headers)]
    marked = _apply_edits(body, inserts, _merge(cuts))
    return _rename_xbrl_tags(marked, prefixes) if prefixes else marked


_XBRL_NAMESPACES = (
    rb"http://www\.xbrl\.org/2013/inlinexbrl",  # ix
    rb"http://www\.xbrl\.org/2003/instance",  # xbrli
    rb"http://xbrl\.org/2006/xbrldi",  # xbrldi
)
_XBRL_TAG_NAMES = (b"ix-", b"xbrli-", b"xbrldi-")


def _xbrl_prefixes(low: bytes) -> tuple[bytes, bytes, bytes] | None:
    """The document's own prefixes for ix, xbrli and xbrldi, or None without inline XBRL."""
    head = low[:30_000]
    if b"inlinexbrl" not in head:
        return None
    found = []
    for namespace, default in zip(_XBRL_NAMESPACES, (b"ix", b"xbrli", b"xbrldi")):
        match = re.search(rb'xmlns:([a-z0-9_\-]+)\s*=\s*["\']' + namespace + rb'["\']', head)
        found.append(match.group(1) if match else default)
    return found[0], found[1], found[2]


def _xbrl_headers(low: bytes, ix: bytes) -> list[tuple[int, int]]:
    """(start, end) of each ix:header."""
    opening, closing = b"<" + ix + b":header", b"</" + ix + b":header"
    out = []
    pos = low.find(opening)
    while pos >= 0:
        close = low.find(b">", low.find(closing, pos))
        if close < 0:
            break
        out.append((pos, close + 1))
        pos = low.find(opening, close)
    return out


def _rename_xbrl_tags(body: bytes, prefixes: tuple[bytes, bytes, bytes]) -> bytes:
    """"<ix:nonFraction" -> "<ix-nonFraction" (and the xbrli/xbrldi tags inside each ix:header), so
    the text pass matches them by plain name. Only the colons change: one byte each, in place."""
    ix, xbrli, xbrldi = prefixes
    if (ix, xbrli, xbrldi) != (b"ix", b"xbrli", b"xbrldi"):  # a filer's own prefixes: rename them to ours first
        body = body.replace(b"<" + ix + b":", b"<ix:").replace(b"</" + ix + b":", b"</ix:")
        body = body.replace(b"<" + xbrli + b":", b"<xbrli:").replace(b"</" + xbrli + b":", b"</xbrli:")
        body = body.replace(b"<" + xbrldi + b":", b"<xbrldi:").replace(b"</" + xbrldi + b":", b"</xbrldi:")
        ix, xbrli, xbrldi = b"ix", b"xbrli", b"xbrldi"
    buffer = bytearray(body)
    header_spans = []
    for opening in (b"<" + ix + b":", b"</" + ix + b":"):
        colon = len(opening) - 1
        pos = body.find(opening)
        while pos >= 0:
            buffer[pos + colon] = 45  # "-"
            if opening[1] != 47 and body.startswith(b"header", pos + len(opening)):
                header_spans.append(pos)
            pos = body.find(opening, pos + colon)
    for start in header_spans:  # contexts and units live only in the header
        end = body.find(b"</" + ix + b":header", start)
        for prefix in (xbrli, xbrldi):
            for opening in (b"<" + prefix + b":", b"</" + prefix + b":"):
                colon = len(opening) - 1
                pos = body.find(opening, start, end)
                while pos >= 0:
                    buffer[pos + colon] = 45
                    pos = body.find(opening, pos + colon, end)
    return bytes(buffer)





def _inline_styles(low: bytes) -> tuple[list, dict[int, set[str]]]:
    """Emphasis of inline runs (<span>/<font> with font-weight:700 ...) as ready inserts, and the other
    styled elements (page breaks, emphasised blocks) by the position of their start tag."""
    inserts: list[tuple] = []
    elements: dict[int, set[str]] = {}
    seen: set[int] = set()
    endswith = low.endswith
    for match in _STYLE_VALUE.finditer(low):
        colon = match.start()
        first = match.group(1)[0]
        if first in _WEIGHT_VALUES:
            kind = _EMPHASIS if endswith(b"font-weight", 0, colon) else None
        elif first in b"io":
            kind = _EMPHASIS if endswith(b"font-style", 0, colon) else None
        elif first == 117:  # underline
            kind = _EMPHASIS if endswith(b"decoration", 0, colon) or endswith(b"decoration-line", 0, colon) else None
        elif endswith(b"break-before", 0, colon):
            kind = _BREAK_BEFORE
        elif endswith(b"break-after", 0, colon):
            kind = _BREAK_AFTER
        else:
            kind = None
        lt = low.rfind(b"<", 0, colon) if kind else -1
        if lt < 0:
            continue
        if kind is _EMPHASIS and (low.startswith(b"<span", lt) or low.startswith(b"<font", lt)):
            if lt not in seen:  # the common case: an inline run, closed by the next end tag of its kind
                seen.add(lt)
                tag_end = low.find(b">", colon) + 1
                close = low.find(b"</span" if low[lt + 1] == 115 else b"</font", tag_end, tag_end + 200_000)
                if tag_end > 0 and close > 0:
                    inserts.append((tag_end, 1, _EM_ON_BYTES))
                    inserts.append((close, 1, _EM_OFF_BYTES))
        else:
            elements.setdefault(lt, set()).add(kind)
    return inserts, elements


def _element_edits(low: bytes, lt: int, kinds: set[str], inserts: list, cuts: list) -> None:
    """Edits for one styled element starting at `lt`: a cut when hidden, markers otherwise."""
    name_match = _TAG_NAME.match(low, lt)
    tag_end = low.find(b">", lt) + 1
    if not name_match or tag_end <= 0:
        return
    name = name_match.group(1)
    empty = name in _VOID_TAGS or low[tag_end - 2 : tag_end] == b"/>"
    if empty:
        span = None
    elif name in _NON_NESTING_TAGS:  # not nested in practice: the next end tag closes it
        close = low.find(b"</" + name, tag_end, tag_end + 200_000)
        span = (close, low.find(b">", close) + 1) if close >= 0 else None
    else:
        span = _element_end(low, name, tag_end)
    if _HIDDEN in kinds:
        if span and low[tag_end : span[0]].strip():
            cuts.append((lt, span[1]))
        return
    if _BREAK_BEFORE in kinds:
        inserts.append((lt, 0, _PAGE_BYTES))
    if _BREAK_AFTER in kinds:
        inserts.append((span[1] if span else tag_end, 2, _PAGE_BYTES))
    if _EMPHASIS in kinds and span and name in _EMPHASIS_TAGS:
        inserts.append((tag_end, 1, _EM_ON_BYTES))
        inserts.append((span[0], 1, _EM_OFF_BYTES))


def _apply_edits(body: bytes, inserts: list, cuts: list[tuple[int, int]]) -> bytes:
    """The body with the insertions made and the (disjoint) cut ranges removed."""
    if not inserts and not cuts:
        return body
    if cuts:  # nothing is inserted inside hidden content
        inserts = [edit for edit in inserts if not any(start < edit[0] < stop for start, stop in cuts)]
    out: list[bytes] = []
    last = 0
    for edit in sorted(inserts + [(start, -1, b"", stop) for start, stop in cuts]):
        position = edit[0]
        if position < last:
            continue
        out.append(body[last:position])
        if edit[1] < 0:  # a cut: skip to its end
            last = edit[3]
        else:
            out.append(edit[2])
            last = position
    out.append(body[last:])
    return b"".join(out)


_PAGE_BYTES = _entity(BLOCK) + _entity(PAGE) + _entity(BLOCK)
_EM_ON_BYTES = _entity(EM_ON)
_EM_OFF_BYTES = _entity(EM_OFF)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


def _element_end(low: bytes, name: bytes, start: int, limit: int = 400_000) -> tuple[int, int] | None:
    """(start, end) of the closing tag matching an element opened just before `start`, or None.

    Counts nested elements of the same name; an element whose end tag may be omitted (p, td, li...)
    ends at the next sibling of the same name.
    """
    opening, closing = b"<" + name, b"</" + name
    depth, pos, stop = 1, start, min(len(low), start + limit)
    for _ in range(10_000):
        close = low.find(closing, pos, stop)
        if close < 0:
            return None
        nxt = low.find(opening, pos, close)
        while nxt >= 0:
            after = low[nxt + len(opening) : nxt + len(opening) + 1]
            if after in (b" ", b">", b"\t", b"\n", b"\r", b"/"):
                if depth == 1 and name in _IMPLIED_END_TAGS:
                    return nxt, nxt
                depth += 1
            nxt = low.find(opening, nxt + 1, close)
        depth -= 1
        end = low.find(b">", close)
        if end < 0:
            return None
        if depth == 0:
            return close, end + 1
        pos = end + 1
    return None


_ANCHOR_REF = re.compile(ANCHOR + "([0-9]+)" + END)
_LINK_REF = re.compile(LINK + "([^" + END + "]*)" + END)
_EMPHASIS_SPLIT = re.compile("([" + EM_ON + EM_OFF + "])")
_EMPHASIS_RUN = re.compile(EM_ON + "[^" + EM_ON + EM_OFF + "]*" + EM_OFF)
_HAS_WORD = re.compile(r"\w")


@dataclass
class _RawBlocks:
    """Blocks before furniture removal (mutable while being built)."""

    texts: list[str] = field(default_factory=list)
    rows: set[int] = field(default_factory=set)
    emphasised: set[int] = field(default_factory=set)
    page_of: list[int] = field(default_factory=list)
    anchors: dict[str, int] = field(default_factory=dict)
    links: list[tuple[int, str]] = field(default_factory=list)
    facts: dict[int, tuple[tuple[int, ...], ...]] = field(default_factory=dict)  # block -> facts per cell
    sightings: FactSightings = field(default_factory=FactSightings)  # inline XBRL records met on the way


def _split_blocks(text: str, target_ids: dict[str, int]) -> _RawBlocks:
    """Marked text -> blocks, with rows, emphasis, page index, anchors and links."""
    raw = _RawBlocks()
    if HEADER in text:  # what the ix:header declares: no text of the document
        parts = text.split(HEADER)
        for declared in parts[1::2]:
            _read_header(declared, raw.sightings)
        text = "".join(parts[0::2])
    if FACT in text or COVER in text:
        text = _take_records(text, raw.sightings)
    texts, page_of, rows, emphasised = raw.texts, raw.page_of, raw.rows, raw.emphasised
    names = {number: name for name, number in target_ids.items()}
    pending_anchors: list[str] = []
    page = 0
    depth = 0
    table = -1
    has_marker = _ANY_MARKER.search
    for segment in text.split(BLOCK):
        if not segment or segment.isspace():
            continue
        if not has_marker(segment):  # the common case: a plain paragraph
            clean = " ".join(segment.split())
            if clean:
                if depth:
                    emphasised.add(len(texts))
                if pending_anchors:
                    _attach(raw, pending_anchors, len(texts))
                texts.append(clean)
                page_of.append(page)
            continue
        if TABLE in segment:
            table += segment.count(TABLE)
            segment = segment.replace(TABLE, "")
        if PAGE in segment:
            page += segment.count(PAGE)
            segment = segment.replace(PAGE, " ")
        if ANCHOR in segment:
            for number in _ANCHOR_REF.findall(segment):
                pending_anchors.append(names.get(int(number), ""))
            segment = _ANCHOR_REF.sub("", segment)
        links = None
        if LINK in segment:
            links = _LINK_REF.findall(segment)
            segment = _LINK_REF.sub("", segment)
        is_emphasised = depth > 0
        is_row = ROW in segment
        if EM_ON in segment or EM_OFF in segment:
            if not is_row:  # a row's runs open and close inside its cells; rows are never sub-headings
                is_emphasised, depth = _emphasis(segment, depth)
            segment = segment.replace(EM_ON, "").replace(EM_OFF, "")
        facts = None
        if is_row:
            cells = [cell for cell in map(str.strip, " ".join(segment.replace(ROW, " ").split()).split(CELL)) if cell]
            if FACT in segment:
                facts, cells = _cell_facts(cells)
                label = next((cell for cell in cells if _HAS_LETTER(cell)), None)
                sighted = raw.sightings.facts
                where = (max(table, 0), label)
                for cell_facts in facts:
                    for number in cell_facts:
                        sighted[number] = sighted[number][:2] + where
            clean = " | ".join(cells)
        else:
            if CELL in segment:
                segment = segment.replace(CELL, " ")
            if FACT in segment:
                facts = (tuple(int(n) for n in _FACT_REF.findall(segment)),)
                segment = _FACT_REF.sub("", segment)
            clean = " ".join(segment.split())
        if not clean:
            continue
        index = len(texts)
        if facts and any(facts):
            raw.facts[index] = facts
        texts.append(clean)
        page_of.append(page)
        if is_row:
            rows.add(index)
        if is_emphasised:
            emphasised.add(index)
        if pending_anchors:
            _attach(raw, pending_anchors, index)
        if links:
            for target in links:
                raw.links.append((index, target.lower()))
    return raw


_ANY_MARKER = re.compile("[" + ROW + CELL + PAGE + EM_ON + EM_OFF + ANCHOR + LINK + FACT + TABLE + COVER + "]")
_RECORD = re.compile("([" + FACT + COVER + CONTEXT + UNIT + "])([^" + RECORD_END + "]*)" + RECORD_END)
_FACT_REF = re.compile(FACT + "([0-9]+)" + RECORD_END)
_HAS_LETTER = re.compile(r"[^\W\d_]").search


def _read_header(declared: str, sightings: FactSightings) -> None:
    """Contexts, units and hidden facts declared in an ix:header."""
    for kind, body in _RECORD.findall(declared):
        fields = body.split(SEP)
        if kind == CONTEXT:
            sightings.contexts.append(fields)
        elif kind == UNIT:
            sightings.units.append(fields)
        elif kind == FACT:
            sightings.facts.append((fields, True, None, None))
        else:
            sightings.cover.append(fields)


def _take_records(text: str, sightings: FactSightings) -> str:
    """Record the facts printed in the text, leaving a short FACT <number> mark where each one is (so
    each table cell knows its facts); cover records are recorded and removed. Done before anchors are
    read: a fact's printed text, copied into its record, may hold an anchor marker."""
    pieces = _RECORD.split(text)  # text, kind, record, text, kind, record, ..., text
    facts, cover = sightings.facts, sightings.cover
    for k in range(1, len(pieces), 3):
        fields = pieces[k + 1].split(SEP)
        if pieces[k] == FACT:
            pieces[k] = f"{FACT}{len(facts)}{RECORD_END}"
            facts.append((fields, False, None, None))
        else:
            pieces[k] = ""
            cover.append(fields)
        pieces[k + 1] = ""
    return "".join(pieces)


def _cell_facts(cells: list[str]) -> tuple[tuple[tuple[int, ...], ...], list[str]]:
    """The facts of each cell (markers removed) and the cells left with text: a marker alone in
    its cell (a fact printed as nothing) joins the next cell with text, if any."""
    kept: list[str] = []
    facts: list[tuple[int, ...]] = []
    pending: list[int] = []
    for cell in cells:
        if FACT in cell:  # "FACT 12 RECORD_END 1,234": string splits, cheaper than a regex per cell
            parts = cell.split(FACT)
            text = [parts[0]]
            for part in parts[1:]:
                number, _, rest = part.partition(RECORD_END)
                pending.append(int(number))
                text.append(rest)
            cell = "".join(text).strip()
        if cell:
            kept.append(cell)
            facts.append(tuple(pending) if pending else ())
            pending = []
    return tuple(facts), kept


def _attach(raw: _RawBlocks, pending_anchors: list[str], index: int) -> None:
    """Anchors met before a block point at it (an anchor on an empty element points at what follows)."""
    for name in pending_anchors:
        raw.anchors.setdefault(name.lower(), index)
    pending_anchors.clear()


def _emphasis(segment: str, depth: int) -> tuple[bool, int]:
    """(is every word of the segment emphasised, emphasis depth after it)."""
    if depth == 0:
        rest = _EMPHASIS_RUN.sub("", segment)  # the usual case: runs that open and close here
        if EM_ON not in rest and EM_OFF not in rest:
            return not _HAS_WORD.search(rest), 0
    plain = False
    for part in _EMPHASIS_SPLIT.split(segment):
        if part == EM_ON:
            depth += 1
        elif part == EM_OFF:
            depth = max(0, depth - 1)
        elif depth == 0 and not plain and _HAS_WORD.search(part):
            plain = True
    return not plain, depth


# --------------------------------------------------------------------------------------------------
# Plain text
# --------------------------------------------------------------------------------------------------

_TEXT_PAGE = re.compile(r"\f|<PAGE>|</?PAGE>", re.I)
_SGML_TAG = re.compile(r"</?(?:PAGE|S|C|F\d*|FN|CAPTION|TABLE|/TABLE|R\d*|SEQUENCE|DESCRIPTION|FILENAME|TYPE|TEXT)>[^\n]*", re.I)
_TEXT_HEADING_LINE = re.compile(
    r"^\s*(?:part\s+[ivx]+\b.*|items?\s+(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen)\b.*|signatures?\s*)$",
    re.I,
)


# inside a paragraph, a line starting "Item 7" is a heading only when it reads like one ("Item 7. Manage...")
_TEXT_HEADING_START = re.compile(r"^\s*(?:part\s+[ivx]+|items?\s+\S+?\s*[.:\-–—]\s+[A-Z(\[\"]|signatures?\s*$)", re.I)


def text_document(body: bytes) -> Document:
    """Plain-text filing: paragraphs split at blank lines, item headings on their own line become blocks."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("windows-1252", errors="replace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    raw = _RawBlocks()
    page = 0
    for page_text in _TEXT_PAGE.split(text):
        page_text = _SGML_TAG.sub("", page_text)
        paragraph: list[str] = []

        def flush() -> None:
            if paragraph:
                clean = " ".join(" ".join(paragraph).split())
                if clean:
                    raw.texts.append(clean)
                    raw.page_of.append(page)
                paragraph.clear()

        for line in page_text.split("\n"):
            if not line.strip() or _RULE_LINE.match(line):
                flush()
            elif _TEXT_HEADING_LINE.match(line) and len(line.strip()) < 160 and (not paragraph or _TEXT_HEADING_START.match(line)):
                flush()
                paragraph.append(line)
                flush()
            elif _is_text_table_line(line):
                flush()
                paragraph.append(line)
                flush()
            else:
                paragraph.append(line)
        flush()
        page += 1
    return _finish(raw, "txt")


_RULE_LINE = re.compile(r"^[\s\-_=*.]+$")  # "- -------" underlines and separators


def _is_text_table_line(line: str) -> bool:
    """A line of a fixed-width table (columns separated by runs of spaces or dots) is a row of its own."""
    return bool(re.search(r"\S(?: {3,}|\.{4,}|\t)\S", line.strip())) and len(line.strip()) < 200


# --------------------------------------------------------------------------------------------------
# Page furniture
# --------------------------------------------------------------------------------------------------

_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?[-–—(]?\s*(?:[a-z]{1,2}\s*-\s*)?(\d{1,3})\s*[-–—)]?$"
    r"|^[-–—(]?\s*((?=[ivxlc])c{0,3}(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3}))\s*[-–—)]?$"
    r"|^(?:page\s+)?(\d{1,3})\s+of\s+\d{1,3}$",
    re.I,
)
_BACK_LINK = re.compile(
    r"^(?:\(?(?:back|return|go)\s+to\s+(?:the\s+)?)?(?:table\s+of\s+contents?|contents|index|toc|top|index to financial statements)\)?\.?$",
    re.I,
)
_NOT_FURNITURE = re.compile(r"^(?:none|not applicable|n/a|omitted|\[?reserved\]?)\.?$", re.I)
_DIGITS = re.compile(r"\d+")
_LABEL_AT_END = re.compile(r"(?:^|[\s|])((?:[A-Z]{1,2}-)?\d{1,3})$")
_LABEL_AT_START = re.compile(r"^((?:[A-Z]{1,2}-)?\d{1,3})(?:[\s|]|$)")
_EDGE = 3  # blocks on each side of a page break that may be furniture


def _finish(raw: _RawBlocks, source_format: str, xbrl: InlineXbrl | None = None) -> Document:
    """Drop page furniture, keeping the number printed on each page; renumber everything."""
    texts, page_of = raw.texts, raw.page_of
    n = len(texts)
    drop = [False] * n
    labels: dict[int, str] = {}
    # Lone page numbers and back-links, anywhere.
    for i, text in enumerate(texts):
        if len(text) <= 40:
            match = _PAGE_NUMBER.match(text)
            if match:
                drop[i] = True
                page = page_of[i]
                # the number printed nearest the page's end wins (footers); else the first one
                if page not in labels or _near_page_end(i, page_of):
                    labels[page] = _clean_label(text)
                continue
            if _BACK_LINK.match(text):
                drop[i] = True
    breaks = _page_breaks(page_of, drop, texts)
    if len(breaks) >= 4:
        _drop_running_lines(texts, page_of, drop, breaks, labels)
        _drop_numbered_footers(texts, page_of, drop, breaks, labels)
    kept = [i for i in range(n) if not drop[i]]
    new_index = {old: new for new, old in enumerate(kept)}

    def remap(old: int) -> int:
        # an anchor on a dropped block points at the next kept block
        while old < n and drop[old]:
            old += 1
        return new_index.get(old, len(kept))

    return Document(
        blocks=[texts[i] for i in kept],
        source_format=source_format,
        rows=frozenset(new_index[i] for i in raw.rows if i in new_index),
        emphasised=frozenset(new_index[i] for i in raw.emphasised if i in new_index),
        page_of=[page_of[i] for i in kept],
        page_labels=labels,
        anchors={name: remap(i) for name, i in raw.anchors.items()},
        links=[(remap(i), target) for i, target in raw.links],
        furniture=n - len(kept),
        xbrl=xbrl,
        block_facts={new_index[i]: facts for i, facts in raw.facts.items() if i in new_index},
    )


def _clean_label(text: str) -> str:
    match = _PAGE_NUMBER.match(text)
    label = match.group(1) or match.group(2) or match.group(3)
    prefix = re.match(r"^(?:page\s+)?[-–—(]?\s*([a-z]{1,2})\s*-\s*\d", text, re.I)
    return f"{prefix.group(1).upper()}-{label}" if prefix else label.lower() if not label.isdigit() else label


def _near_page_end(i: int, page_of: list[int]) -> bool:
    page = page_of[i]
    return all(j >= len(page_of) or page_of[j] != page for j in range(i + 1, i + 1 + _EDGE)) or \
        (i + _EDGE < len(page_of) and page_of[i + _EDGE] != page)


def _page_breaks(page_of: list[int], drop: list[bool], texts: list[str]) -> list[int]:
    """Block indices where a new physical page starts."""
    return [i for i in range(1, len(page_of)) if page_of[i] != page_of[i - 1]]


def _drop_running_lines(texts: list[str], page_of: list[int], drop: list[bool], breaks: list[int],
                        labels: dict[int, str]) -> None:
    """Short lines that recur next to many page breaks are running headers or footers.

    A line (digits ignored, so "Form 10-K | 20" and "Form 10-K | 21" are the same line) counts when
    it sits within the blocks nearest to at least max(4, 30% of) the page breaks. A section's
    running header ("ITEM 1A. RISK FACTORS" atop every page of Item 1A) recurs at fewer breaks; an
    "Item"/"Part" line counts when it opens or closes 3 or more pages in a row, except its first
    occurrence, which may be the heading itself.
    """
    near: dict[str, set[int]] = {}
    positions: dict[str, list[int]] = {}
    edge_runs: dict[str, list[tuple[int, int]]] = {}  # key -> [(break ordinal, block)] at the very edge
    n = len(texts)
    for b, start in enumerate(breaks):
        for rank, i in enumerate(_edge_blocks(start, page_of, drop, n)):
            text = texts[i]
            if len(text) > 120 or _NOT_FURNITURE.match(text):
                continue
            key = _DIGITS.sub("#", text)
            near.setdefault(key, set()).add(b)
            positions.setdefault(key, []).append(i)
            if _SECTION_HEADER.match(text):
                edge_runs.setdefault(key, []).append((b, i))
    threshold = max(4, 0.3 * len(breaks))
    for key, seen in near.items():
        if len(seen) >= threshold:
            for i in positions[key]:
                drop[i] = True
                label = _label_in(texts[i])
                if label and page_of[i] not in labels:
                    labels[page_of[i]] = label
    page_rank = {page: rank for rank, page in enumerate(sorted(set(page_of)))}
    for key, occurrences in edge_runs.items():
        pages = sorted({(page_rank[page_of[i]], i) for _, i in occurrences})
        in_run = set()
        for k in range(len(pages) - 2):
            (p0, _), (p1, _), (p2, _) = pages[k : k + 3]
            if 0 < p1 - p0 <= 2 and 0 < p2 - p1 <= 2:
                in_run.update(i for _, i in pages[k : k + 3])
        first = pages[0][1]
        for i in in_run:
            if i != first:
                drop[i] = True


_SECTION_HEADER = re.compile(r"^(?:part|item)\b", re.I)


_EDGE_NUMBER = re.compile(r"(?:^|[\s|])(\d{1,3})$|^(\d{1,3})(?:\s*\|\s*|\s+)\D")


def _drop_numbered_footers(texts: list[str], page_of: list[int], drop: list[bool], breaks: list[int],
                           labels: dict[int, str]) -> None:
    """Footers whose wording changes with the section ("Our Strategy | 7", "Risk Factors | 50").

    The first or last line of a page that ends (or starts) with a number is the page's footer or
    header when the numbers run on from page to page; it is furniture, and its number is the page's.
    """
    candidates: list[tuple[int, int, int]] = []  # (page, printed number, block)
    starts = [0] + breaks
    ends = breaks + [len(texts)]
    for start, end in zip(starts, ends):
        page = page_of[start] if start < len(page_of) else None
        if page is None or page in labels:
            continue
        kept = [i for i in range(start, end) if not drop[i]]
        for i in (kept[-1:] + kept[:1]) if kept else []:
            text = texts[i]
            if len(text) <= 100:
                match = _EDGE_NUMBER.search(text)
                if match:
                    candidates.append((page, int(match.group(1) or match.group(2)), i))
                    break
    for k, (page, number, block) in enumerate(candidates):
        neighbours = candidates[max(0, k - 2) : k] + candidates[k + 1 : k + 3]
        if any(0 < (n - number) * (1 if p > page else -1) <= abs(p - page) for p, n, _ in neighbours if p != page):
            drop[block] = True
            labels[page] = str(number)


def _edge_blocks(start: int, page_of: list[int], drop: list[bool], n: int) -> list[int]:
    """The kept blocks closest to the page break before block `start` (end of one page, top of the next)."""
    out = []
    i, count = start - 1, 0
    while i >= 0 and count < _EDGE and page_of[i] == page_of[start - 1]:
        if not drop[i]:
            out.append(i)
            count += 1
        i -= 1
    i, count = start, 0
    while i < n and count < _EDGE and page_of[i] == page_of[start]:
        if not drop[i]:
            out.append(i)
            count += 1
        i += 1
    return out


def _label_in(text: str) -> str | None:
    match = _LABEL_AT_END.search(text) or _LABEL_AT_START.match(text)
    return match.group(1) if match else None
