"""Numbers in 10-K text and how they changed between two aligned paragraphs.

A reader of a year-over-year diff wants "$391.0 billion -> $394.3 billion", not a redline of two
tokens. The paragraph aligner (`diff_analyzer`) finds which words changed; this module reads the
numbers at and around them (currency, scale word, percent sign, unit noun, date parts) and pairs
old and new numbers of the same family. Table rows with the same cells are compared column by
column instead: "(1.2)" is negative, the caption's "(in millions)" is the scale, the header row of
years gives each column its period, and a cell that only took last year's value of the column to
its left (the prior-year comparative) is churn, counted rather than listed. Pure functions.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date
from itertools import compress, islice
from operator import ne
from typing import NamedTuple

SCALES = {
    "thousand": 1e3, "thousands": 1e3, "million": 1e6, "millions": 1e6, "billion": 1e9, "billions": 1e9,
    "trillion": 1e12, "trillions": 1e12,
}
_SUFFIX_SCALES = {"k": "thousand", "m": "million", "mm": "million", "b": "billion", "bn": "billion"}
_CURRENCIES = {"$": "USD", "us$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
MONTHS = {
    m: n
    for n, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
         ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
         ("november", "nov"), ("december", "dec")],
        start=1,
    )
    for m in names
}
# Words after a number that are not its unit ("5 of", "2024 and").
_STOPWORDS = frozenset(
    "a an and or of in on at to for from by with as the than that which who per is are was were be been "
    "compared versus vs through during over under about approximately nearly more less fiscal year years "
    "ended ending month months quarter quarters days percent percentage basis points".split()
)
_REFERENCE_WORDS = frozenset("page pages p. pp. item items note notes part section sections exhibit exhibits rule article".split())
_NUMERIC_TOKEN = re.compile(
    r"^(?P<open>[(\[“\"']*)(?P<sign>[-−–](?=\S))?(?P<cur>US\$|[$€£¥])?(?P<sign2>[-−–(])?"
    r"(?P<num>\d{1,3}(?:,\d{3}){1,5}(?:\.\d+)?|\d{1,18}(?:\.\d+)?)"  # longer digit runs are no figures (and overflow)
    r"(?P<suffix>%|x|bps|bn|mm|[kmb])?(?P<close>[)\]”\"'’]*)[.,;:]*(?P<close2>[)\]]*)$",
    re.I,
)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_STRIP = ".,;:()[]“”\"'’‘"
_YEARS_IN_CELL = re.compile(r"\b(?:19|20)\d\d\b")
_SCALE_CAPTION = re.compile(r"\bin\s+(thousands|millions|billions)\b", re.I)

QUANTITY_KINDS = ("amount", "count", "number")


class NumberMention(NamedTuple):
    """One number as written in a paragraph. `value` is signed and scaled (391.0 billion -> 3.91e11)."""

    start: int  # first token of the mention (the currency sign or the month of a date)
    end: int  # one past its last token (the scale or unit word included)
    anchor: int  # the token holding the digits (the year of a date)
    text: str
    kind: str  # amount | percent | count | number | year | date | multiple
    value: float | None
    scale: str | None = None  # thousand | million | billion | trillion, as written or from a table caption
    unit: str | None = None  # USD, %, bps, x, "employees", ...
    iso_date: str | None = None

    @property
    def family(self) -> str:
        return "quantity" if self.kind in QUANTITY_KINDS else self.kind


@dataclass(slots=True)
class NumberChange:
    """A number that changed between the older and the newer text of one aligned paragraph."""

    kind: str  # amount | percent | count | number | date | year | multiple
    unit: str | None
    old_text: str  # as written in the older filing, e.g. "$391.0 billion"
    new_text: str
    old_value: float | None  # signed and scaled; None for dates
    new_value: float | None
    scale: str | None
    old_index: int  # paragraph indices in the item
    new_index: int
    context: str  # the words around the number in the newer text (for a table row: the row label)
    old_context: str
    in_table: bool = False
    row_label: str | None = None
    period: str | None = None  # the table column's year, when the table has a header row of years
    old_date: str | None = None
    new_date: str | None = None

    @property
    def delta(self) -> float | None:
        if self.old_value is None or self.new_value is None:
            return None
        return self.new_value - self.old_value

    @property
    def relative_change(self) -> float | None:
        """(new - old) / |old|; None for percentages (see `delta`, in points) and dates."""
        if self.kind in ("percent", "date", "year") or not self.old_value or self.new_value is None:
            return None
        return (self.new_value - self.old_value) / abs(self.old_value)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "unit": self.unit,
            "scale": self.scale,
            "old_text": self.old_text,
            "new_text": self.new_text,
            "old_value": self.old_value,
            "new_value": self.new_value,
            "delta": _round(self.delta),
            "relative_change": _round(self.relative_change),
            "old_date": self.old_date,
            "new_date": self.new_date,
            "old_index": self.old_index,
            "new_index": self.new_index,
            "in_table": self.in_table,
            "row_label": self.row_label,
            "period": self.period,
            "context": self.context,
            "old_context": self.old_context,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _bare(token: str) -> str:
    return token.strip(_STRIP).lower()


def is_table_row(text: str) -> bool:
    return " | " in text


def label_end(tokens: list[str]) -> int:
    """Index of the first cell separator: in a table row the numbers before it are part of the label."""
    try:
        return tokens.index("|")
    except ValueError:
        return 0


def scale_caption(text: str) -> str | None:
    """"(in millions, except per share data)" -> "million"."""
    match = _SCALE_CAPTION.search(text)
    return match.group(1).lower().rstrip("s") if match else None


def mention_at(
    tokens: list[str], k: int, *, in_table: bool = False, table_scale: str | None = None, label_stop: int | None = None
) -> NumberMention | None:
    """The number written at token `k` (with its currency, scale, unit or date parts), or None."""
    match = _NUMERIC_TOKEN.match(tokens[k])
    if match is None:
        return None
    if in_table and k < (label_end(tokens) if label_stop is None else label_stop):
        return None  # "2025 Notes", footnote markers: part of the row label
    opening, sign, currency, sign2, number, suffix, close, close2 = match.groups()
    n = len(tokens)
    prev = tokens[k - 1] if k else ""
    prev_bare = prev.strip(_STRIP).lower()
    if prev_bare in _REFERENCE_WORDS:
        return None  # "Item 7", "page 45", "Note 12": references, labelled as churn by the aligner
    following = tokens[k + 1] if k + 1 < n else ""
    next_bare = following.strip(_STRIP).lower()
    if prev_bare in MONTHS or next_bare in MONTHS or (k >= 2 and tokens[k - 2].strip(_STRIP).lower() in MONTHS):
        found = _date_at(tokens, k)
        if found:
            return found
    if not in_table and not currency and k and _is_name_part(tokens, k):
        return None  # "iPhone 16", "Series 11", "S&P 500", "Tier 1": part of a name, not a quantity
    suffix = suffix.lower() if suffix else ""
    start, end = k, k + 1
    scale = _SUFFIX_SCALES.get(suffix)
    if scale is None and next_bare in SCALES:
        scale, end = next_bare.rstrip("s"), k + 2
    kind, unit = "number", None
    if suffix == "%" or next_bare in ("%", "percent", "percentage"):
        kind, unit = "percent", "%"
        end = k + 1 if suffix == "%" else k + 2
    elif suffix == "bps" or next_bare in ("bps", "bp") or (
        next_bare == "basis" and k + 2 < n and tokens[k + 2].lower().startswith("point")
    ):
        kind, unit = "percent", "bps"
    elif suffix == "x":
        kind, unit = "multiple", "x"
    else:
        if not currency and k:
            back = k - 1
            while back > 0 and tokens[back] in ("|", "("):  # "$ | ( 12": the sign sits cells away
                back -= 1
            symbol = tokens[back].strip("(").lower()
            if symbol in _CURRENCIES:
                currency, start = symbol, back
        if currency:
            kind, unit = "amount", _CURRENCIES[currency.lower()]
        elif not scale and "." not in number and _YEAR.match(number):
            return NumberMention(k, k + 1, k, number, "year", float(number))
        elif (
            not in_table and not scale and tokens[k][-1:] not in ",;:."
            and next_bare.replace("-", "").isalpha() and next_bare not in _STOPWORDS and next_bare not in MONTHS
        ):
            words = []
            for word in tokens[k + 1 : k + 4]:
                bare = word.strip(_STRIP).lower()
                if not bare.replace("-", "").isalpha() or bare in _STOPWORDS:
                    break
                words.append(bare)
                if word[-1:] in ",.;:)":
                    break
            kind, unit, end = "count", " ".join(words), k + 1 + len(words)
    negative = bool(sign) or (sign2 is not None and sign2 != "(")
    if in_table and not negative and (opening.startswith("(") or sign2 == "(" or prev == "(" or prev.endswith("$(")):
        after = k + 1
        while after < n and tokens[after] == "|":
            after += 1
        negative = ")" in close or ")" in close2 or (after < n and tokens[after].startswith(")"))
    value = float(number.replace(",", ""))
    if scale is None and in_table and table_scale and kind in ("amount", "number"):
        scale = table_scale
    if scale:
        value *= SCALES[scale]
    if negative:
        value = -value
    if in_table:  # "$ | ( 12 | )" reads "$(12)"
        text = "".join(t for t in tokens[start:end] if t != "|").strip(_TEXT_STRIP)
        if negative and "(" in text and ")" not in text:
            text += ")"
    else:
        text = (" ".join(tokens[start:end]) if start + 1 < end else tokens[start]).strip(_TEXT_STRIP)
    if not negative:
        text = text.strip("()[]").strip(_TEXT_STRIP)
    return NumberMention(start, end, k, text, kind, value, scale, unit)


_TEXT_STRIP = ".,;:“”\"'’‘"


def _is_name_part(tokens: list[str], k: int) -> bool:
    """A number right after a capitalised word that does not start a sentence ("iPhone 16")."""
    prev = tokens[k - 1]
    if not any(c.isupper() for c in prev) or prev.strip(_STRIP).lower() in MONTHS or prev.upper() in _CURRENCY_CODES:
        return False
    word = prev.lstrip("•·-–—(“\"'")
    if any(c.isupper() for c in word[1:]) and not word.isupper():
        return True  # iOS, iPhone, macOS, S&P
    return k >= 2 and tokens[k - 2][-1:] not in ".!?:;" and not tokens[k - 2].endswith(("•", "|"))


_CURRENCY_CODES = frozenset(("USD", "EUR", "GBP", "JPY", "CNY", "CAD", "CHF", "INR"))


def _date_at(tokens: list[str], k: int) -> NumberMention | None:
    """A date that the digits at `k` belong to (as its day or its year)."""
    bare = _bare(tokens[k])
    if not bare.isdigit():
        return None
    n = len(tokens)
    # k is the year: "<Month> <day>, <year>" or "<Month> <year>"
    if _YEAR.match(bare):
        if k >= 2 and _bare(tokens[k - 2]) in MONTHS and _bare(tokens[k - 1]).isdigit() and tokens[k - 1].endswith(","):
            return _make_date(tokens, k - 2, k + 1, MONTHS[_bare(tokens[k - 2])], int(_bare(tokens[k - 1])), int(bare))
        if k >= 1 and _bare(tokens[k - 1]) in MONTHS:
            return _make_date(tokens, k - 1, k + 1, MONTHS[_bare(tokens[k - 1])], None, int(bare))
        return None
    # k is the day: "<Month> <day>, <year>" or "<day> <Month> <year>"
    if k >= 1 and _bare(tokens[k - 1]) in MONTHS and k + 1 < n and _YEAR.match(_bare(tokens[k + 1])):
        return _make_date(tokens, k - 1, k + 2, MONTHS[_bare(tokens[k - 1])], int(bare), int(_bare(tokens[k + 1])))
    if k + 2 < n and _bare(tokens[k + 1]) in MONTHS and _YEAR.match(_bare(tokens[k + 2])):
        return _make_date(tokens, k, k + 3, MONTHS[_bare(tokens[k + 1])], int(bare), int(_bare(tokens[k + 2])))
    return None


def _make_date(tokens: list[str], start: int, end: int, month: int, day: int | None, year: int) -> NumberMention | None:
    try:
        iso = date(year, month, day or 1).isoformat()
    except ValueError:
        return None
    if day is None:
        iso = iso[:7]
    text = " ".join(tokens[start:end]).strip(".,;:()")
    return NumberMention(start, end, end - 1, text, "date", None, None, None, iso)


def is_rolled_date(old_iso: str, new_iso: str) -> bool:
    """Two dates about one year apart: a fiscal-year end or record date rolled forward."""
    if len(old_iso) != len(new_iso):
        return False
    if len(old_iso) == 7:
        return int(new_iso[:4]) == int(old_iso[:4]) + 1 and new_iso[5:] == old_iso[5:]
    gap = (date.fromisoformat(new_iso) - date.fromisoformat(old_iso)).days
    return 350 <= gap <= 380


_HAS_DIGIT = re.compile(r"\d")


def mentions_in(
    tokens: list[str], lo: int, hi: int, *, in_table: bool, table_scale: str | None, label_stop: int = 0
) -> list[NumberMention]:
    """Numbers with a digit token in tokens[lo:hi], each once, in order."""
    found: dict[int, NumberMention] = {}
    for k in range(lo, hi):
        if _HAS_DIGIT.search(tokens[k]) is None:
            continue
        mention = mention_at(tokens, k, in_table=in_table, table_scale=table_scale, label_stop=label_stop)
        if mention is not None and mention.anchor not in found:
            found[mention.anchor] = mention
    if len(found) > 1:
        return sorted(found.values())
    return list(found.values())


def previous_value(tokens: list[str], mention: NumberMention, *, label_stop: int) -> float | None:
    """The value in the table cell before `mention` in its row (the more recent column), same scale."""
    for k in range(mention.start - 1, label_stop, -1):
        token = tokens[k]
        if _HAS_DIGIT.search(token) is None:
            continue
        match = _NUMERIC_TOKEN.match(token)
        if match is None:
            return None
        value = float(match.group("num").replace(",", ""))
        if mention.scale:
            value *= SCALES[mention.scale]
        if match.group("sign") or match.group("sign2") or token.startswith("(") or tokens[k - 1] == "(":  # table negatives
            value = -value
        return value
    return None


def column_of(tokens: list[str], mention: NumberMention, stop: int) -> int:
    """0-based column of a value in a table row, counting cells with digits after the label."""
    column = 0
    for k in range(stop, mention.anchor):
        if _NUMERIC_TOKEN.match(tokens[k]):
            column += 1
    return column


def header_periods(text: str) -> tuple[str | None, ...] | None:
    """A table header row of years ("| 2025 | 2024 | 2023", or dates): the period of each value column.

    A text column after the first year ("2025 | Change | 2024 | Change | 2023", AAPL) is a value
    column without a period (None): counting it keeps the years over their own figures (found in
    review: AAPL's 2025 growth rate was labelled 2024).
    """
    if not is_table_row(text) or len(text) > 400:
        return None
    cells = [c.strip() for c in text.split("|")]
    periods: list[str | None] = []
    for cell in cells:
        found = _YEARS_IN_CELL.findall(cell)
        if len(found) == 1:
            periods.append(found[0])
        elif _HAS_DIGIT.search(cell):
            return None
        elif cell and periods:
            periods.append(None)
    return tuple(periods) if sum(p is not None for p in periods) >= 2 else None


def context_words(tokens: list[str], mention: NumberMention, before: int = 8, after: int = 6) -> str:
    return " ".join(tokens[max(0, mention.start - before) : mention.end + after])


def number_changes_between(
    old_tokens: list[str],
    new_tokens: list[str],
    segments: list[tuple[int, int, int, int]],
    *,
    old_index: int,
    new_index: int,
    in_table: bool,
    old_scale: str | None = None,
    new_scale: str | None = None,
    periods: tuple[str | None, ...] | None = None,
) -> tuple[list[NumberChange], int]:
    """The number changes in the changed token ranges of one aligned pair, and how many table
    cells only took the value of the column to their left (prior-year column rolled forward).

    Numbers are paired inside each changed range, in order, within a family (quantities, percents,
    dates, years, multiples). A year or date rolled forward by one year is fiscal-year churn and is
    left out (the paragraph carries the label); so is, in a table, a value that equals the old
    row's value one column to the left (counted: the comparative column rolled forward).
    """
    substantive: list[NumberChange] = []
    rolled_forward = 0
    used_old: set[int] = set()
    used_new: set[int] = set()
    old_stop = label_end(old_tokens) if in_table else 0
    new_stop = label_end(new_tokens) if in_table else 0
    old_label = " ".join(old_tokens[:old_stop]) if in_table else None
    new_label = " ".join(new_tokens[:new_stop]) if in_table else None
    # figures the old text had in any changed run: a new figure equal to one of them moved (a list of
    # years shifted by one: "$255, $227 and $168 million" for 2024, 2023, 2022 after "$227, $168 and
    # $120 million"; found in review, NVDA and WMT), it did not change
    old_mentions = [mentions_in(old_tokens, i1, i2, in_table=in_table, table_scale=old_scale, label_stop=old_stop) for i1, i2, _, _ in segments]
    changed_old_values: dict[str, set[float]] = {}
    for m in (m for found in old_mentions for m in found):
        if m.value and m.family in ("quantity", "percent"):
            changed_old_values.setdefault(m.family, set()).add(m.value)
    for (i1, i2, j1, j2), olds in zip(segments, old_mentions):
        if i1 == i2 or j1 == j2:
            continue
        if not olds:
            continue
        news = mentions_in(new_tokens, j1, j2, in_table=in_table, table_scale=new_scale, label_stop=new_stop)
        if not news:
            continue
        families = {m.family for m in olds}
        for family in sorted(families) if len(families) > 1 else families:
            family_olds = [m for m in olds if m.family == family]
            shifted_values = changed_old_values.get(family, set())
            pairs = zip(family_olds, [m for m in news if m.family == family])
            for old, new in pairs:
                if old.anchor in used_old or new.anchor in used_new:
                    continue
                used_old.add(old.anchor)
                used_new.add(new.anchor)
                if old.value == new.value and old.iso_date == new.iso_date:
                    continue
                if family == "year" and new.value == old.value + 1:
                    continue
                if family == "date" and is_rolled_date(old.iso_date, new.iso_date):
                    continue
                if new.value in shifted_values or (
                    in_table and family == "quantity" and previous_value(old_tokens, old, label_stop=old_stop) == new.value
                ):
                    rolled_forward += 1
                    continue
                period = None
                if in_table and periods:
                    column = column_of(new_tokens, new, new_stop)
                    period = periods[column] if column < len(periods) else None
                substantive.append(_number_change(
                    old, new, old_index, new_index,
                    context=new_label if in_table else context_words(new_tokens, new),
                    old_context=old_label if in_table else context_words(old_tokens, old),
                    in_table=in_table, row_label=new_label, period=period,
                ))
    return substantive, rolled_forward


# --------------------------------------------------------------------------------------------------
# Table rows: cells compared column by column
# --------------------------------------------------------------------------------------------------

_CELL = re.compile(
    r"^(?P<open>\()?\s*(?P<cur>US\$|[$€£¥])?\s*(?P<open2>\()?\s*(?P<sign>[-−–])?"
    r"(?P<num>\d{1,3}(?:,\d{3}){1,5}(?:\.\d+)?|\d{1,18}(?:\.\d+)?|\.\d+)\s*(?P<suffix>%|x|bps)?\s*(?P<close>\))?\s*(?P<suffix2>%)?$",
    re.I,
)
_DASHES = frozenset(("—", "–", "-", "--", "—%", "-%", "— %"))
_MONTH_IN_CELL = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d", re.I)
_CENTS = re.compile(r"\.\d\d$")  # a per-share amount, not scaled by the caption
_CELL_FILLERS = frozenset(("$", "US$", "€", "£", "¥", ")", "%", ")%", "%)", "pts", "bps", "x"))


class _Cell(NamedTuple):
    text: str
    value: float | None
    kind: str  # amount | number | percent | multiple | year | date
    unit: str | None
    scale: str | None
    iso_date: str | None = None


def _cell_value(cells: list[str], k: int, table_scale: str | None) -> _Cell | None:
    """The number in cell k of a table row (its currency, sign and percent sign may sit in the
    neighbouring cells: "$ | (1,234 | )"), or None when the cell holds no number."""
    text = cells[k]
    if text in _DASHES:
        return _Cell(text, 0.0, "number", None, table_scale)
    match = _CELL.match(text)
    if match is None:
        if _MONTH_IN_CELL.search(text):
            tokens = text.split()
            for n in range(len(tokens)):
                found = _date_at(tokens, n)
                if found:
                    return _Cell(found.text, None, "date", None, None, found.iso_date)
        return None
    opening, cur, opening2, sign, number, suffix, closing, suffix2 = match.groups()
    after = cells[k + 1] if k + 1 < len(cells) else ""
    before = cells[k - 1] if k > 1 else ""
    value = float(number.replace(",", ""))
    if suffix == "%" or suffix2 or after.startswith("%") or after == ")%":
        kind, unit, scale = "percent", "%", None
    elif (suffix or "").lower() == "x":
        kind, unit, scale = "multiple", "x", None
    elif not cur and before not in _CURRENCIES and _YEAR.match(number):
        return _Cell(number, value, "year", None, None)
    else:
        currency = cur or (before if before.lower() in _CURRENCIES else None)
        kind, unit = ("amount", _CURRENCIES[currency.lower()]) if currency else ("number", None)
        scale = table_scale
        if scale and value < 1000 and _CENTS.search(number):
            scale = None  # "$ | 7.49" under "(in millions, except per-share amounts)"
        if scale:
            value *= SCALES[scale]
    opened = opening or opening2 or before == "(" or before.endswith("$(")
    closed = closing or after.startswith(")")
    if sign or (opened and closed):
        value = -value
    shown = text.replace("( ", "(").replace(" )", ")")
    if opened and "(" not in shown:
        shown = "(" + shown
    if closed and ")" not in shown:
        shown += ")"
    if kind == "percent" and "%" not in shown:
        shown += "%"
    return _Cell(shown, value, kind, unit, scale)


def table_number_changes(
    old_text: str,
    new_text: str,
    *,
    old_index: int,
    new_index: int,
    old_scale: str | None = None,
    new_scale: str | None = None,
    periods: tuple[str | None, ...] | None = None,
) -> tuple[list[NumberChange], int] | None:
    """Number changes of two aligned table rows, cell by cell, and the count of cells that only
    took last year's value of the column to their left (the prior-year column rolled forward:
    churn, counted, not listed); None when the rows have different numbers of cells."""
    old_cells, new_cells = old_text.split(" | "), new_text.split(" | ")
    if len(old_cells) != len(new_cells):
        return None
    return row_number_changes(
        old_cells, new_cells, old_index=old_index, new_index=new_index, old_scale=old_scale, new_scale=new_scale, periods=periods
    )


def row_number_changes(
    old_cells: list[str],
    new_cells: list[str],
    *,
    old_index: int,
    new_index: int,
    old_scale: str | None = None,
    new_scale: str | None = None,
    periods: tuple[str | None, ...] | None = None,
) -> tuple[list[NumberChange], int]:
    """`table_number_changes` of two rows already split into as many cells (`text.split(" | ")`)."""
    substantive: list[NumberChange] = []
    rolled_forward = 0
    label = new_cells[0]
    value_columns: list[int] | None = None
    for k in compress(range(1, len(new_cells)), map(ne, islice(old_cells, 1, None), islice(new_cells, 1, None))):
        if new_cells[k] in _CELL_FILLERS:
            continue
        if _moved_from_another_column(old_cells, new_cells, k):
            rolled_forward += 1
            continue
        old, new = _cell_value(old_cells, k, old_scale), _cell_value(new_cells, k, new_scale)
        if old is None or new is None:
            continue
        if old.kind == "date" or new.kind == "date":
            if old.kind == new.kind and old.iso_date != new.iso_date and not is_rolled_date(old.iso_date, new.iso_date):
                substantive.append(_table_change(old, new, label, old_cells[0], old_index, new_index, None))
            continue
        if old.value == new.value:
            continue  # "1,000" -> "1000"
        if old.kind == "year" and new.kind == "year" and new.value == old.value + 1:
            continue  # a header rolled forward
        period = None
        if periods:
            if value_columns is None:
                value_columns = [
                    c for c in range(1, len(new_cells))
                    if new_cells[c] not in _CELL_FILLERS and (new_cells[c] in _DASHES or _CELL.match(new_cells[c]))
                ]
            column = bisect_left(value_columns, k)
            period = periods[column] if column < len(periods) else None
        substantive.append(_table_change(old, new, label, old_cells[0], old_index, new_index, period))
    return substantive, rolled_forward


def _moved_from_another_column(old_cells: list[str], new_cells: list[str], k: int) -> bool:
    """The new cell k holds a figure the old row had in another column that changed too: the years
    shifted one column (last year's figure now sits under its own year), whichever side the newest
    year is on (AMZN and GOOGL put it right) and whatever "% change" columns lie between (AAPL).
    Dashes and zeros are too common to prove a shift."""
    value = new_cells[k]
    if value in _DASHES or value.strip("$()% ") in ("0", "0.0", ""):
        return False
    return any(
        old_cells[j] == value and new_cells[j] != value
        for j in range(1, len(old_cells))
        if j != k
    )


def _number_change(old, new, old_index: int, new_index: int, *, context: str, old_context: str, in_table: bool,
                   row_label: str | None, period: str | None) -> NumberChange:
    """One changed number (prose mention or table cell): the newer side's kind, unit and scale win."""
    return NumberChange(
        kind=new.kind if new.kind != "number" else old.kind,
        unit=new.unit or old.unit,
        old_text=old.text,
        new_text=new.text,
        old_value=old.value,
        new_value=new.value,
        scale=new.scale or old.scale,
        old_index=old_index,
        new_index=new_index,
        context=context,
        old_context=old_context,
        in_table=in_table,
        row_label=row_label,
        period=period,
        old_date=old.iso_date,
        new_date=new.iso_date,
    )


def _table_change(old: _Cell, new: _Cell, label: str, old_label: str, old_index: int, new_index: int, period: str | None) -> NumberChange:
    return _number_change(old, new, old_index, new_index, context=label, old_context=old_label, in_table=True,
                          row_label=label, period=period)