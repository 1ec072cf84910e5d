"""Inline XBRL facts of a 10-K primary document: the exact, signed figures behind its tables.

Every modern 10-K tags its financial statements (and many figures of its notes and MD&A) as inline
XBRL: each printed number is an `ix:nonFraction` element naming a concept ("us-gaap:Revenues"), a
context (the period, instant or duration, and dimension members such as a segment), a unit, a scale
and a sign. Those attributes, never the printed look, give the value:

    value = transform(format, printed text) x 10^scale x (-1 if sign="-")

Parentheses are layout only: capex prints "(9,447)" and is a positive payment.

The facts come from the one pass extraction already makes over each document: `section_blocks`
parses it once (lxml's HTML parser: tag and attribute names lower case, the `ix:` prefix part of the
name) and one XSLT pass writes the text together with the attributes of every fact, context and unit
(C speed; no Python walk over the tree). This module turns those sightings into typed facts. Prefixes
come from the namespace declarations on `<html>`, so a filer that names them differently still works.
Pure functions; no I/O.
Facts, formats and concept choices were measured on the corpus: /work/shared/notes/inline-xbrl.md.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Callable

INLINE_XBRL_NS = "http://www.xbrl.org/2013/inlineXBRL"
XBRLI_NS = "http://www.xbrl.org/2003/instance"
XBRLDI_NS = "http://xbrl.org/2006/xbrldi"
# Transformation registries: TR2 (2011), TR3 (2015), TR4 (2020) and the SEC's own (ixt-sec).
_TRANSFORMATION_NS = {
    "http://www.xbrl.org/inlineXBRL/transformation/2010-04-20",
    "http://www.xbrl.org/inlineXBRL/transformation/2011-07-31",
    "http://www.xbrl.org/inlineXBRL/transformation/2015-02-26",
    "http://www.xbrl.org/inlineXBRL/transformation/2020-02-12",
    "http://www.xbrl.org/inlineXBRL/transformation/2022-02-16",
}
_SEC_TRANSFORMATION_NS = "http://www.sec.gov/inlineXBRL/transformation/2015-08-31"
_DEFAULT_PREFIXES = {INLINE_XBRL_NS: "ix", XBRLI_NS: "xbrli", XBRLDI_NS: "xbrldi"}

# Cover facts kept from the dei: taxonomy (document and entity information).
COVER_CONCEPTS = (
    "dei:DocumentType",
    "dei:DocumentPeriodEndDate",
    "dei:DocumentFiscalYearFocus",
    "dei:DocumentFiscalPeriodFocus",
    "dei:CurrentFiscalYearEndDate",
    "dei:EntityRegistrantName",
    "dei:EntityCentralIndexKey",
    "dei:EntityCommonStockSharesOutstanding",
    "dei:EntityPublicFloat",
    "dei:AmendmentFlag",
)

_MARKERS = re.compile("[\ue000-\uf8ff]")  # section_blocks' private-use markers, never part of a value
_MONTHS = {m: n for n, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"),
    start=1)}


@dataclass(frozen=True, slots=True)
class Context:
    """When a fact holds (a duration or an instant) and for what (dimension members; none = consolidated)."""

    id: str
    start: str | None  # ISO date; None for an instant
    end: str  # ISO date: the end of the duration, or the instant
    dimensions: tuple[tuple[str, str], ...] = ()  # sorted (axis, member) QNames

    @property
    def instant(self) -> bool:
        return self.start is None

    @property
    def days(self) -> int:
        """Length of a duration in days (0 for an instant)."""
        if self.start is None:
            return 0
        return (date.fromisoformat(self.end) - date.fromisoformat(self.start)).days

    @property
    def consolidated(self) -> bool:
        return not self.dimensions

    def member(self, axis: str) -> str | None:
        return next((m for a, m in self.dimensions if a == axis), None)


@dataclass(frozen=True, slots=True)
class Fact:
    """One numeric fact as the document tags it."""

    index: int  # document order among the numeric facts (the text markers refer to it)
    concept: str  # QName, e.g. "us-gaap:Revenues"
    context: str  # context id
    unit: str | None  # USD, USD/share, shares, pure, or the measure as declared ("EUR", "segment")
    value: Decimal | None  # signed and scaled; None when nil or in a format we do not read
    decimals: float | None  # precision: an integer, math.inf for INF, None when absent
    text: str  # as printed
    element_id: str | None = None  # the element's id: a link into the SEC document
    hidden: bool = False  # in ix:hidden (not printed)
    table: int | None = None  # ordinal of the <table> holding it; None in prose
    row_label: str | None = None  # the label of its table row ("Total net sales")
    scale: int = 0  # the power of ten its printed text is in (6: millions)

    @property
    def extension(self) -> bool:
        """A company's own concept, not one of the standard taxonomies."""
        return self.concept.split(":", 1)[0] not in ("us-gaap", "ifrs-full", "dei", "srt")


@dataclass(frozen=True)
class InlineXbrl:
    """Every numeric fact of one document, its contexts and its cover facts."""

    facts: tuple[Fact, ...]
    contexts: dict[str, Context]
    cover: dict[str, str] = field(default_factory=dict)  # dei concept -> value (dates ISO)
    problems: tuple[str, ...] = ()  # formats we could not read, inconsistent duplicates
    _best: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        best: dict[tuple[str, str, str | None], Fact] = {}
        conflicts = []
        for fact in self.facts:
            if fact.value is None:
                continue
            key = (fact.concept, fact.context, fact.unit)
            kept = best.get(key)
            if kept is None or _precision(fact) > _precision(kept):
                best[key] = fact
            elif kept.decimals == fact.decimals and kept.value != fact.value:
                conflicts.append(f"{fact.concept} in {fact.context}: {kept.value} and {fact.value} at the same precision")
        self._best.update(best)
        if conflicts:  # duplicates that contradict each other: the filer's error, shown, never resolved silently
            object.__setattr__(self, "problems", self.problems + tuple(conflicts))

    def __len__(self) -> int:
        return len(self.facts)

    def fact(self, concept: str, context: str, unit: str | None) -> Fact | None:
        """The most precise fact of a concept in a context (duplicates are the norm: the same figure
        tagged in the statement and again, rounded, in MD&A)."""
        return self._best.get((concept, context, unit))

    def best_facts(self):
        """One fact per (concept, context, unit): the most precise."""
        return self._best.values()

    def fiscal_year(self) -> Context | None:
        """The context of the fiscal year the document reports: the one holding
        dei:DocumentPeriodEndDate (the SEC's required context, EFM 6.5.19), else the longest-running
        consolidated year-long duration ending last."""
        context_id = self.cover.get("context")
        context = self.contexts.get(context_id) if context_id else None
        if context is not None and not context.instant and 350 <= context.days <= 380 and context.consolidated:
            return context
        years = [c for c in self.contexts.values() if c.consolidated and not c.instant and 350 <= c.days <= 380]
        return max(years, key=lambda c: c.end) if years else None


def _precision(fact: Fact) -> float:
    return -math.inf if fact.decimals is None else fact.decimals


# --------------------------------------------------------------------------------------------------
# Assembling the facts from what the document's one pass found
# --------------------------------------------------------------------------------------------------

# What the text pass (`section_blocks`) records of each element, in this order, separated by SEPARATOR.
FACT_ATTRIBUTES = ("name", "contextref", "unitref", "decimals", "scale", "sign", "format", "id")  # + the printed text
# A context: id, start date, end date or instant, then (axis, member) pairs. A unit: id, then its
# measures, a denominator's prefixed with "/". A cover fact: name, context id, printed text.


def format_namespaces(root) -> dict[str, str]:
    """Prefix -> namespace URI, for the `format` attributes (lxml's HTML parser keeps the namespace
    declarations on <html> as plain attributes)."""
    return {key[6:].lower(): value for key, value in root.attrib.items() if key.startswith("xmlns:")}


@dataclass
class FactSightings:
    """What one pass over a document saw, before it becomes an `InlineXbrl`."""

    contexts: list[list[str]] = field(default_factory=list)
    units: list[list[str]] = field(default_factory=list)
    cover: list[list[str]] = field(default_factory=list)
    facts: list[tuple[list[str], bool, int | None, str | None]] = field(default_factory=list)  # fields, hidden, table, row label

    def __bool__(self) -> bool:
        return bool(self.facts or self.contexts)


def assemble(seen: FactSightings, formats: dict[str, str]) -> InlineXbrl:
    contexts = {}
    for fields in seen.contexts:
        context = _context(fields)
        if context is not None:
            contexts[context.id] = context
    units = {fields[0]: _unit(fields[1:]) for fields in seen.units if fields and fields[0]}
    problems: list[str] = []
    facts: list[Fact] = []
    width = len(FACT_ATTRIBUTES) + 1
    readers: dict[str, Callable[[str], Decimal | None]] = {}
    precision: dict[str, float | None] = {}
    for fields, hidden, table, row_label in seen.facts:  # every sighting, so indices match the text's marks
        if len(fields) != width:
            fields = (fields + [""] * width)[:width]
        name, context, unit, decimals, scale, sign, format_, element_id, text = fields
        if not text.isascii():
            text = _MARKERS.sub("", text)
        text = " ".join(text.split())
        value = None
        if text:
            reader = readers.get(format_)
            if reader is None:
                reader = readers[format_] = _reader(format_, formats)
            value = reader(text)
            if value is None:
                problems.append(f"{name} ({element_id or 'no id'}): cannot read {text[:40]!r} in format {format_ or '(none)'}")
            else:
                if scale and scale != "0":
                    value = value.scaleb(int(scale)) if scale.lstrip("-").isdigit() else None
                if sign == "-" and value is not None:
                    value = -value
        if decimals not in precision:
            precision[decimals] = _decimals(decimals or None)
        facts.append(Fact(len(facts), name, context, units.get(unit), value, precision[decimals], text,
                          element_id or None, hidden, table, row_label, int(scale) if scale.lstrip("-").isdigit() else 0))
    cover: dict[str, str] = {}
    for fields in seen.cover:
        if len(fields) >= 3 and fields[0] in COVER_CONCEPTS and fields[0] not in cover:
            cover[fields[0]] = " ".join(_MARKERS.sub("", fields[2]).split())
            if fields[0] == "dei:DocumentPeriodEndDate":
                cover["context"] = fields[1]
    if "dei:DocumentPeriodEndDate" in cover:
        cover["dei:DocumentPeriodEndDate"] = _iso_date(cover["dei:DocumentPeriodEndDate"]) or cover["dei:DocumentPeriodEndDate"]
    return InlineXbrl(facts=tuple(facts), contexts=contexts, cover=cover, problems=tuple(problems))


def _context(fields: list[str]) -> Context | None:
    if len(fields) < 3 or not fields[0]:
        return None
    start, end = fields[1].strip()[:10] or None, fields[2].strip()[:10]
    if not end:
        return None
    pairs = fields[3:]
    dimensions = tuple(sorted((pairs[k].strip(), pairs[k + 1].strip()) for k in range(0, len(pairs) - 1, 2)))
    return Context(fields[0], start, end, dimensions)


def _unit(measures: list[str]) -> str:
    """A readable unit: USD, USD/share, shares, pure, or the measure's local name."""
    top = [_measure(m) for m in measures if not m.startswith("/")]
    bottom = [_measure(m[1:]) for m in measures if m.startswith("/")]
    if bottom:
        return f"{top[0] if top else '1'}/share" if bottom == ["shares"] else f"{top[0] if top else '1'}/{bottom[0]}"
    return top[0] if top else ""


def _measure(text: str | None) -> str:
    local = (text or "").strip().split(":")[-1]
    return {"shares": "shares", "pure": "pure"}.get(local.lower(), local)


def _decimals(raw: str | None) -> float | None:
    if raw is None:
        return None
    raw = raw.strip()
    if raw.upper() == "INF":
        return math.inf
    try:
        return float(int(raw))
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# Values: the transformation registry
# --------------------------------------------------------------------------------------------------


def _reader(format_: str, formats: dict[str, str]) -> Callable[[str], Decimal | None]:
    """The function reading a printed value in this `format` (a transformation registry entry, keyed
    by its namespace, not by the prefix text); unknown formats read as None."""
    if not format_:
        return _plain
    prefix, _, local = format_.partition(":")
    namespace, local = formats.get(prefix.lower()), local.lower()
    if namespace in _TRANSFORMATION_NS or (namespace is None and prefix.lower() == "ixt"):
        if local in _ZERO_FORMATS:
            return lambda text: _ZERO
        if local in _DOT_DECIMAL:
            return _dot_decimal
        if local in _COMMA_DECIMAL:
            return lambda text: _plain(text.replace(".", "").replace(" ", "").replace(",", "."))
    if namespace == _SEC_TRANSFORMATION_NS and local == "numwordsen":
        return _number_words
    return lambda text: None


_ZERO = Decimal(0)
_ZERO_FORMATS = {"fixed-zero", "zerodash", "numdash", "fixedzero"}
_DOT_DECIMAL = {"num-dot-decimal", "numdotdecimal", "numcommadot", "num-dot-decimal-apos"}
_COMMA_DECIMAL = {"num-comma-decimal", "numcommadecimal", "numdotcomma"}
_DASHES = {"-", "—", "–", "‒", "−", ""}


def _dot_decimal(text: str) -> Decimal | None:
    """TR4 num-dot-decimal ("1,234.5"): the common case first, without a regex or a strip."""
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return _plain(text.replace("'", ""))


def _plain(text: str) -> Decimal | None:
    cleaned = text.replace(",", "").replace(" ", "").replace("\xa0", "").strip("$()")
    if cleaned in _DASHES:
        return Decimal(0) if cleaned else None
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


_SMALL_NUMBERS = {
    word: n for n, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen".split())
} | {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SCALE_WORDS = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9}


def _number_words(text: str) -> Decimal | None:
    """The SEC's numwordsen: "four" -> 4, "twenty-one" -> 21, "no" / "none" -> 0."""
    words = re.findall(r"[a-z]+", text.lower())
    if not words:
        return None
    if words[0] in ("no", "none"):
        return Decimal(0)
    total = current = 0
    for word in words:
        if word == "and":
            continue
        if word in _SMALL_NUMBERS:
            current += _SMALL_NUMBERS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALE_WORDS:
            total += max(current, 1) * _SCALE_WORDS[word]
            current = 0
        else:
            return None
    return Decimal(total + current)


def _iso_date(text: str) -> str | None:
    """"September 28, 2024" / "Sept. 28, 2024" / "2024-09-28" / "12/31/2024" -> ISO."""
    text = text.strip()
    if re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        return text
    match = re.match(r"^([A-Za-z]+)\.?\s+(\d{1,2})\s*,?\s*(\d{4})$", text)
    if match:
        month = next((n for name, n in _MONTHS.items() if name.startswith(match.group(1).lower()[:3])), None)
        if month:
            try:
                return date(int(match.group(3)), month, int(match.group(2))).isoformat()
            except ValueError:
                return None
    match = re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", text)
    if match:
        try:
            return date(int(match.group(3)), int(match.group(1)), int(match.group(2))).isoformat()
        except ValueError:
            return None
    return None
