"""Numbers as 10-K text writes them: what each one is, its sign, its period and what it names.

`number_changes` pairs the numbers of two aligned paragraphs; this module reads them. A mention is
the number with its currency, scale word, percent sign, unit noun or date parts ("$391.0 billion",
"10 million square feet", "110 basis points"), signed by what the text says: a minus sign,
parentheses around an amount ("$(145) million"), or a direction word that governs it ("decreased
7%", "a decrease of 7%", "7% lower"; "or 6% on a currency-neutral basis" inherits it). Its period is
the year the sentence states for it ("in 2023", "During 2021", "fiscal 2024", "prior year"), and the
words that name it ("net periodic pension cost") tell whether two figures are the same metric.
Table cells are read with their caption's scale and the header row's years. Pure functions.
"""

from __future__ import annotations

import re
from datetime import date
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
_SCALE_CAPTION = re.compile(r"(?:\bin\s+|\$\s*)(thousands|millions|billions)\b", re.I)

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
    unit: str | None = None  # USD, %, bps, pp, x, "employees", "square feet", ...
    iso_date: str | None = None
    sign_source: str | None = None  # what made it negative or signed it: minus | parentheses | direction_word

    @property
    def family(self) -> str:
        return "quantity" if self.kind in QUANTITY_KINDS else self.kind


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
    if prev_bare in ("-", "–", "to", "and", "through") and k >= 2 and (
            _is_reference_word(tokens[k - 2]) or (k >= 3 and _is_reference_word(tokens[k - 3]))):
        return None  # "pages 57 - 110", "services—pages 66 to 70"
    if _is_reference_word(prev):
        return None
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
    if next_bare == "percentage" and k + 2 < n and tokens[k + 2].lower().startswith("point"):
        kind, unit, end = "percent", "pp", k + 3  # "2.3 percentage points": a change of a rate, not a rate
    elif next_bare in ("points", "point", "pts") and not currency:
        kind, unit, end = "percent", "pp", k + 2  # "market share decreased 0.7 points"
    elif suffix == "%" or next_bare in ("%", "percent", "percentage"):
        kind, unit = "percent", "%"
        end = k + 1 if suffix == "%" else k + 2
    elif suffix == "bps" or next_bare in ("bps", "bp") or (
        next_bare == "basis" and k + 2 < n and tokens[k + 2].lower().startswith("point")
    ):
        kind, unit = "percent", "bps"
        end = k + 1 if suffix == "bps" else k + 2 if next_bare in ("bps", "bp") else k + 3
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
        elif not in_table and (scale is None or suffix == "") and _counted_noun_at(tokens, end, k):
            # "161,000 employees", "10 million square feet": a count, and the noun is its unit
            words = []
            for word in tokens[end : end + 3]:
                bare = word.strip(_STRIP).lower()
                if not bare.replace("-", "").isalpha() or bare in _STOPWORDS:
                    break
                words.append(bare)
                if word[-1:] in ",.;:)":
                    break
            kind, unit, end = "count", " ".join(words), end + len(words)
    negative = bool(sign) or (sign2 is not None and sign2 != "(")
    sign_source = "minus" if negative else None
    if not in_table and not negative and sign2 == "(" and currency and (")" in close or ")" in close2):
        negative, sign_source = True, "parentheses"  # "$(145) million"
    if in_table and not negative and (opening.startswith("(") or sign2 == "(" or prev == "(" or prev.endswith("$(")):
        after = k + 1
        while after < n and tokens[after] == "|":
            after += 1
        negative = ")" in close or ")" in close2 or (after < n and tokens[after].startswith(")"))
        sign_source = "parentheses" if negative else None
    value = float(number.replace(",", ""))
    if scale is None and in_table and table_scale and kind in ("amount", "number"):
        scale = table_scale
    elif scale is None and not in_table and table_scale and kind == "amount" and not _CENTS.search(number):
        scale = table_scale  # prose under "(Dollars in millions, except per share data)": "$2,874" is millions
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
    if not in_table and not negative and kind in ("percent", "amount"):
        direction = direction_at(tokens, start, end)
        if direction:
            value, sign_source = direction * abs(value), "direction_word"
    return NumberMention(start, end, k, text, kind, value, scale, unit, None, sign_source)


def _is_reference_word(token: str) -> bool:
    """"page", "Note", "Item"... also glued to the word before by a dash ("services—pages")."""
    return re.split(r"[—–]", token.strip(_STRIP).lower())[-1] in _REFERENCE_WORDS


def _counted_noun_at(tokens: list[str], at: int, k: int) -> bool:
    """A counted noun follows the number (and its scale word), not a stop word or a month."""
    if at >= len(tokens) or tokens[at - 1][-1:] in ",;:.":
        return False
    word = tokens[at].strip(_STRIP).lower()
    return word.replace("-", "").isalpha() and word not in _STOPWORDS and word not in MONTHS and word not in SCALES


# --------------------------------------------------------------------------------------------------
# Direction, period and name of a prose figure
# --------------------------------------------------------------------------------------------------

INCREASE_WORDS = frozenset(
    "increase increased increases increasing rose rise rises rising risen grew grow grows growing grown growth gain gained "
    "gains up higher improved improvement improve improves expanded expansion expand climbed jumped surged".split()
)
DECREASE_WORDS = frozenset(
    "decrease decreased decreases decreasing declined decline declines declining fell fall falls falling fallen dropped "
    "drop drops down lower reduced reduction reduce reduces contracted contraction deteriorated deterioration slipped "
    "shrank decline negative unfavorable unfavourable adverse loss losses headwind consumed".split()
)
# nouns between a direction word and its figure: "unfavorable foreign exchange impact of 2%"
_IMPACT_WORDS = frozenset("impact impacts effect effects currency foreign exchange fx translation".split())
# words after the figure that give its direction: "a 7% decrease", "7% lower", "6% more than"
_AFTER_INCREASE = frozenset("increase increases higher more growth gain improvement up above rise expansion".split())
_AFTER_DECREASE = frozenset("decrease decreases lower less decline reduction down below drop contraction".split())
_GLUE = frozenset("by of approximately about nearly roughly some just almost around an a over".split())
_UNIT_TAIL = frozenset("% percent percentage points point basis bps bp million billion thousand trillion".split())


def direction_at(tokens: list[str], start: int, end: int) -> int:
    """+1 / -1 when a direction word governs the figure at tokens[start:end] ("decreased 7%", "a
    decrease of 7%", "a 7% decrease", "7% lower"), or when it follows such a figure in the same
    clause ("increased 1%, or 2% on a currency-neutral basis"); 0 otherwise. "decreased to $5
    billion" states a level, not a change: no direction."""
    k = start - 1
    while k >= 0 and _bare(tokens[k]) in _GLUE:
        k -= 1
    skipped = 0
    while k >= 0 and skipped < 4 and _bare(tokens[k]) in _IMPACT_WORDS and not tokens[k].endswith((".", ";", ",")):
        k -= 1
        skipped += 1
    if k >= 0 and not tokens[k].endswith((".", ";", ":")):
        word = _bare(tokens[k])
        if word in INCREASE_WORDS:
            return 1
        if word in DECREASE_WORDS:
            return -1
    k = end
    while k < len(tokens) and _bare(tokens[k]) in _UNIT_TAIL and not tokens[k - 1].endswith((",", ";", ".")):
        k += 1
    if k < len(tokens) and not tokens[k - 1].endswith((",", ";", ".")):
        word = _bare(tokens[k])
        if word in _AFTER_INCREASE:
            return 1
        if word in _AFTER_DECREASE:
            return -1
    # "..., or 2% on a currency-neutral basis": the figure restates the one before it
    if start >= 2 and _bare(tokens[start - 1]) == "or" and tokens[start - 2].endswith(","):
        for j in range(start - 2, max(-1, start - 8), -1):
            if _HAS_DIGIT.search(tokens[j]) and not _YEAR.match(_bare(tokens[j])):
                head = j
                while head > 0 and _bare(tokens[head - 1]) in ("$", "us$"):
                    head -= 1
                return direction_at(tokens, head, j + 1) if not tokens[j - 1].endswith(".") else 0
    return 0


_RELATIVE_PERIODS = {("prior", "year"): "prior", ("last", "year"): "prior", ("previous", "year"): "prior",
                     ("preceding", "year"): "prior", ("year", "ago"): "prior", ("current", "year"): "current",
                     ("this", "year"): "current"}
_PERIOD_PREPOSITIONS = frozenset("in for during of at as ended ending through".split())



def period_at(tokens: list[str], mention: NumberMention) -> str | None:
    """The year a sentence states for the figure: "$383.3 billion in 2023", "During 2021, ...
    $2,180 million", "in fiscal 2024", "the prior year" -> "2023" / "2021" / "2024" / "prior";
    None when the sentence states none (the filing's own year)."""
    n = len(tokens)
    listed = _respectively(tokens, mention)
    if listed:
        return listed
    before = mention.start - 1
    while before >= 0 and _bare(tokens[before]) in ("approximately", "about", "nearly", "roughly"):
        before -= 1
    if before >= 0 and (_bare(tokens[before]) in ("from", "versus", "vs", "over") or (
            _bare(tokens[before]) in ("to", "with") and before and _bare(tokens[before - 1]) == "compared")):
        return "prior"  # "increased ... from $13.26 billion", "compared to $383.3 billion": the base of a comparison
    # after the figure: "in 2023", "for fiscal 2024", "as of December 31, 2023", "in the prior year";
    # "from 2023", "compared with the prior year" name the base of a comparison, not the figure's year
    k = mention.end
    base = None  # the comparison word in force ("from", "compared"...)
    for step in range(6):
        if k + step >= n or tokens[k + step - 1].endswith((".", ";")) and step:
            break
        word = _bare(tokens[k + step])
        if word in _COMPARISON_WORDS:
            base = word
            continue
        if word == "to" and base == "from" and step and _HAS_DIGIT.search(tokens[k + step - 1]):
            base = None  # "from 2023 to 2024": the period is what follows "to"
            continue
        if _YEAR.match(word) and step and (_bare(tokens[k + step - 1]) in _PERIOD_PREPOSITIONS | {"fiscal", "to"} | set(MONTHS)
                                           or _bare(tokens[k + step - 1]).isdigit()):
            if base is None:
                return word
            continue
        pair = (word, _bare(tokens[k + step + 1])) if k + step + 1 < n else None
        if pair in _RELATIVE_PERIODS:
            if base is None:
                return _RELATIVE_PERIODS[pair]
            continue
        if _HAS_DIGIT.search(word) and not _YEAR.match(word) and step and _bare(tokens[k + step - 1]) not in MONTHS:
            break  # the next figure: what follows is its period, not this one's (a day after a month is a date)
    # before the figure, in the same sentence: "During 2021, we ...", "In fiscal 2024, net sales were"
    for j in range(mention.start - 1, max(-1, mention.start - 25), -1):
        token = tokens[j]
        if token.endswith((".", ";", "?")) and not _ABBREVIATION.match(token):
            break
        word = _bare(token)
        if _YEAR.match(word) and j != mention.anchor and _states_a_period(tokens, j):
            return word
        if j + 1 < n and (word, _bare(tokens[j + 1])) in _RELATIVE_PERIODS:
            return _RELATIVE_PERIODS[(word, _bare(tokens[j + 1]))]
    return None


_COMPARISON_WORDS = frozenset("from compared versus vs vs. than over against".split())


def _respectively(tokens: list[str], mention: NumberMention) -> str | None:
    """"... for fiscal years 2024, 2023 and 2022 was $255 million, $227 million and $168 million,
    respectively": the k-th figure of the list is for the k-th year."""
    n = len(tokens)
    stop = next((j for j in range(mention.end, min(n, mention.end + 40)) if _bare(tokens[j]) == "respectively"), None)
    if stop is None:
        return None
    sentence_start = mention.start
    while sentence_start > 0 and not (tokens[sentence_start - 1].endswith((".", ";")) and not _ABBREVIATION.match(tokens[sentence_start - 1])):
        sentence_start -= 1
    years = [j for j in range(sentence_start, mention.start) if _YEAR.match(_bare(tokens[j])) and _states_a_period(tokens, j)]
    if len(years) < 2:
        return None
    figures = [j for j in range(years[-1] + 1, stop) if _HAS_DIGIT.search(tokens[j]) and not _YEAR.match(_bare(tokens[j]))
               and _NUMERIC_TOKEN.match(tokens[j])]
    if len(figures) != len(years) or mention.anchor not in figures:
        return None
    return _bare(tokens[years[figures.index(mention.anchor)]])


def _states_a_period(tokens: list[str], j: int) -> bool:
    """The year at tokens[j] dates the sentence ("In 2024", "fiscal 2024", "December 31, 2024"), not
    a name ("the Tax Cuts and Jobs Act of 2017", "Notes due 2029", "Note 2024")."""
    if j == 0:
        return True
    previous = _bare(tokens[j - 1])
    if previous in _REFERENCE_WORDS or previous in ("due", "act", "notes", "plan", "series"):
        return False
    if previous == "of" and j >= 2 and tokens[j - 2][:1].isupper() and _bare(tokens[j - 2]) not in MONTHS:
        return False  # "Act of 2017"
    if previous in _PERIOD_PREPOSITIONS or previous in ("fiscal", "year", "years", "since", "from", "to", "and", "end", "calendar") or \
            previous in MONTHS or previous.isdigit():
        return True
    return not tokens[j - 1][:1].isupper()


_ABBREVIATION = re.compile(r"^(?:[A-Z]\.|[A-Z]\.[A-Z]\.|(?:Inc|Corp|Co|Ltd|No|Nos|vs|approx|e\.g|i\.e|U\.S)\.)$")
_NAMING_STOPWORDS = _STOPWORDS | INCREASE_WORDS | DECREASE_WORDS | frozenset(SCALES) | frozenset(
    "we our us its it company company's companies this these those total net primarily mainly due driven "
    "respectively compared approximately were was had has have been also which while whereas prior last previous "
    "current ago basis point points".split()
)


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def naming_words(tokens: list[str], mention: NumberMention, before: int = 8, after: int = 4) -> frozenset[str]:
    """The words that name a figure: content words of its clause around it ("net periodic pension
    cost"), numbers, years and direction words left out. Two figures name the same metric when
    these mostly agree."""
    words = set()
    for j in range(mention.start - 1, max(-1, mention.start - 1 - before), -1):
        token = tokens[j]
        if token.endswith((".", ";", ":")) and not _ABBREVIATION.match(token):
            break
        if _HAS_DIGIT.search(token):
            continue
        word = _bare(token)
        if word and word not in _NAMING_STOPWORDS and word not in MONTHS and word.replace("-", "").replace("&", "").isalpha():
            words.add(_singular(word))
    for token in tokens[mention.end : mention.end + after]:
        if _HAS_DIGIT.search(token):
            break
        word = _bare(token)
        if word and word not in _NAMING_STOPWORDS and word not in MONTHS and word.replace("-", "").replace("&", "").isalpha():
            words.add(_singular(word))
        if token.endswith((",", ".", ";", ":")):
            break
    return frozenset(words)


def same_metric(old_words: frozenset[str], new_words: frozenset[str]) -> bool:
    """Two figures name the same metric: their naming words agree (Jaccard >= 0.5), or neither
    sentence names anything around them."""
    if not old_words and not new_words:
        return True
    if not old_words or not new_words:
        return False
    return len(old_words & new_words) / len(old_words | new_words) >= 0.5


_TEXT_STRIP = ".,;:“”\"'’‘"


def _is_name_part(tokens: list[str], k: int) -> bool:
    """A number right after a capitalised word that does not start a sentence ("iPhone 16")."""
    prev = tokens[k - 1]
    if not any(c.isupper() for c in prev) or prev.strip(_STRIP).lower() in MONTHS or prev.upper() in _CURRENCY_CODES:
        return False
    if prev.endswith(","):
        return False  # "Jeffrey Williams, 60,": an apposition, not part of a name
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


# --------------------------------------------------------------------------------------------------
# Table rows: cells compared column by column
# --------------------------------------------------------------------------------------------------

CELL_PATTERN = re.compile(
    r"^(?P<open>\()?\s*(?P<cur>US\$|[$€£¥])?\s*(?P<open2>\()?\s*(?P<sign>[-−–])?"
    r"(?P<num>\d{1,3}(?:,\d{3}){1,5}(?:\.\d+)?|\d{1,18}(?:\.\d+)?|\.\d+)\s*(?P<suffix>%|x|bps)?\s*(?P<close>\))?\s*(?P<suffix2>%)?$",
    re.I,
)
DASHES = frozenset(("—", "–", "-", "--", "—%", "-%", "— %"))
_MONTH_IN_CELL = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d", re.I)
_CENTS = re.compile(r"\.\d\d$")  # a per-share amount, not scaled by the caption
CELL_FILLERS = frozenset(("$", "US$", "€", "£", "¥", ")", "%", ")%", "%)", "pts", "bps", "x"))


class _Cell(NamedTuple):
    text: str
    value: float | None
    kind: str  # amount | number | percent | multiple | year | date
    unit: str | None
    scale: str | None
    iso_date: str | None = None
    sign_source: str | None = None  # minus | parentheses


_NO_FIGURE = re.compile(r"^(?:not meaningful|nm|n/?m|n/?a|\*+)$", re.I)


def value_columns(cells: list[str]) -> list[int]:
    """Indices of the cells that hold a figure (a dash, or "Not meaningful" in its place), the label
    and the "$"/")" cells left out."""
    return [k for k in range(1, len(cells))
            if cells[k] not in CELL_FILLERS and (cells[k] in DASHES or CELL_PATTERN.match(cells[k]) or _NO_FIGURE.match(cells[k]))]


def row_units(cells: list[str]) -> tuple[str | None, ...]:
    """The unit each value column of a row shows: "$" or "%", or None. Statements show them on the
    first row of a block only ("North America | 12 | % | 10 | %", then "International | 11 | 9")."""
    units = []
    for k in value_columns(cells):
        text, before = cells[k], cells[k - 1] if k > 1 else ""
        after = cells[k + 1] if k + 1 < len(cells) else ""
        if text.endswith("%") or after.startswith("%") or after == ")%":
            units.append("%")
        elif text.startswith(("$", "($")) or before in ("$", "$(", "US$"):
            units.append("$")
        else:
            units.append(None)
    return tuple(units)


def cell_value(cells: list[str], k: int, table_scale: str | None, unit_hint: str | None = None) -> _Cell | None:
    """The number in cell k of a table row (its currency, sign and percent sign may sit in the
    neighbouring cells: "$ | (1,234 | )"), or None when the cell holds no number. `unit_hint` is the
    unit the column showed on an earlier row of the block ("$" or "%")."""
    text = cells[k]
    if text in DASHES:  # nil: a zero of the column's kind ("—%" is no amount: PG FY2025's "$29,495 → —%")
        after = cells[k + 1] if k + 1 < len(cells) else ""
        if text.endswith("%") or after.startswith("%") or unit_hint == "%":
            return _Cell(text, 0.0, "percent", "%", None)
        return _Cell(text, 0.0, "number", None, table_scale)
    match = CELL_PATTERN.match(text)
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
    if suffix == "%" or suffix2 or after.startswith("%") or after == ")%" or (unit_hint == "%" and not cur and before not in _CURRENCIES):
        kind, unit, scale = "percent", "%", None
    elif (suffix or "").lower() == "x":
        kind, unit, scale = "multiple", "x", None
    elif not cur and before not in _CURRENCIES and _YEAR.match(number):
        return _Cell(number, value, "year", None, None)
    else:
        currency = cur or (before if before.lower() in _CURRENCIES else None) or ("$" if unit_hint == "$" else None)
        kind, unit = ("amount", _CURRENCIES[currency.lower()]) if currency else ("number", None)
        scale = table_scale
        if scale and value < 1000 and _CENTS.search(number):
            scale = None  # "$ | 7.49" under "(in millions, except per-share amounts)"
        if scale:
            value *= SCALES[scale]
    opened = opening or opening2 or before == "(" or before.endswith("$(")
    closed = closing or after.startswith(")") or after in ("%)", "% )")  # "(2.4 | %)": the sign spans two cells
    if sign or (opened and closed):
        value = -value
    shown = text.replace("( ", "(").replace(" )", ")")
    if opened and "(" not in shown:
        shown = "(" + shown
    if closed and ")" not in shown:
        shown += ")"
    if kind == "percent" and "%" not in shown:
        shown += "%"
    if before.lower() in _CURRENCIES and not cur:
        shown = before + shown  # "$ | ( 12 | )" reads "$(12)"
    sign_source = "minus" if sign else "parentheses" if opened and closed else None
    return _Cell(shown, value, kind, unit, scale, None, sign_source)


