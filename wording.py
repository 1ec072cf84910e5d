"""Figures and changes written the way a reader expects: "$416.2 billion", "rose 6.4%", "−5.7%".

One place for how the report words numbers, shared by the highlights' headlines, the offline
summaries and the rendered page, so a figure reads the same everywhere. Pure functions; signs are
never lost (a fall is "fell", a loss is "a loss of"), units and scales are always written.
"""

from __future__ import annotations

import math

MINUS = "\u2212"  # a real minus sign for display
DASH = "\u2014"  # a value the report does not have
_SCALES = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand"))
_CURRENCY = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
_KNOWN_UNITS = ("USD", "EUR", "GBP", "JPY", "shares", "pure", "%", "pp", "bps", "x")


def finite(value) -> bool:
    """A real number to write (not a bool, NaN or infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def lower_first(text: str) -> str:
    """A label inside a sentence: "Diluted earnings per share" -> "diluted earnings per share"; an
    acronym ("BCA revenues") keeps its capitals."""
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def sign(value: float, *, plus: bool = False) -> str:
    return MINUS if value < 0 else ("+" if plus and value > 0 else "")


def _scaled(size: float) -> str:
    """416,161,000,000 -> "416.2 billion" (one decimal, as filings print billions); 999,960,000 ->
    "1.0 billion", never "1,000.0 million"."""
    for threshold, name in _SCALES[:3]:
        if round(size / threshold, 1) >= 1:
            return f"{size / threshold:,.1f} {name}"
    return f"{size:,.0f}" if size >= 100 or size == int(size) else f"{size:,.2f}"


def money(value: float, unit: str = "USD", *, plus: bool = False) -> str:
    """$416.2 billion, $112.0 billion, −$1.3 million, $7.46 (per share), +$25.1 billion (`plus`)."""
    currency = unit.split("/")[0]
    symbol = _CURRENCY.get(currency, currency + " ")
    size = abs(value)
    text = f"{size:,.2f}" if unit.endswith("/share") or size < 1000 else _scaled(size)
    return f"{sign(value, plus=plus)}{symbol}{text}"


def count(value: float, noun: str | None = None) -> str:
    """1,789,000 vehicles (exact, as written); 14.8 billion shares; 166,000 employees."""
    size = abs(value)
    if size >= 1e9 or (size >= 1e6 and size % 1e5 == 0):
        text = _scaled(size)
    else:
        text = f"{size:,.0f}" if size == int(size) else f"{size:,.2f}".rstrip("0").rstrip(".")
    return sign(value) + text + (f" {noun}" if noun else "")


def percent(value: float, *, plus: bool = False, digits: int = 1) -> str:
    """6.4%, 75.0% (the decimal stays, as filings print it), −5.7%; `plus` writes +6.4%; a change of
    100% or more drops the decimals (+581%)."""
    size = abs(value)
    text = f"{size:,.0f}" if size >= 100 else f"{size:.{digits}f}"
    return f"{sign(value, plus=plus)}{text}%"


def figure(value, unit: str | None, *, plus: bool = False) -> str:
    """Any figure of the report in its unit, as a table cell or a sentence shows it; a dash when
    there is none."""
    if not finite(value):
        return DASH
    mark = "+" if plus and value > 0 else ""
    if unit in _CURRENCY or (unit or "").endswith("/share"):
        return money(value, unit, plus=plus)
    if unit == "pure":  # a fraction: 0.469 is 46.9%
        return percent(value * 100, plus=plus)
    if unit == "%":  # as printed: 6.4 is 6.4%, 4.75 stays 4.75%
        return f"{mark}{_plain(value)}%"
    if unit == "pp":
        return f"{mark}{_plain(value)} pp"
    if unit == "bps":
        return f"{mark}{_plain(value, 0)} bps"
    if unit == "x":
        return f"{mark}{_plain(value)}x"
    noun = unit if unit and unit not in _KNOWN_UNITS else ("shares" if unit == "shares" else None)
    return mark + count(value, noun)


def _plain(value: float, digits: int = 2) -> str:
    """A number with at most `digits` decimals, trailing zeros dropped: 2.27, 4.75, 190."""
    text = f"{abs(value):,.{digits}f}"
    return sign(value) + (text.rstrip("0").rstrip(".") if "." in text else text)


def change_sentence(label: str, old: float | None, new: float | None, unit: str | None, *, period: str | None = None,
                    base_word: str = "from") -> str:
    """"Revenue rose 6.4% to $416.2 billion in fiscal 2025, from $391.0 billion." — one sentence,
    the direction from the signs, a loss called a loss, a rate moving in points."""
    when = f" in {period}" if period else ""
    if new is None:
        return f"{label} is not stated{when}."
    if old is None:
        return f"{label} was {figure(new, unit)}{when}."
    if unit in ("pure", "%", "pp", "bps"):
        scale = 100 if unit == "pure" else 1
        delta = (new - old) * scale
        points = "points" if unit in ("pure", "%", "pp") else "basis points"
        if abs(delta) < 1e-9:
            return f"{label} was unchanged at {figure(new, unit)}{when}."
        verb = "rose" if delta > 0 else "fell"
        size = _plain(abs(delta), 0) if points == "basis points" else f"{abs(delta):.1f}"  # as the rates themselves: one decimal
        return f"{label} {verb} {size} {points} to {figure(new, unit)}{when}, {base_word} {figure(old, unit)}."
    if old < 0 and new < 0 and unit and unit.startswith("USD"):
        verb = "widened" if new < old else "narrowed"
        return f"{label} was a loss of {figure(-new, unit)}{when}: the loss {verb} {base_word} {figure(-old, unit)}."
    if old >= 0 > new:
        return f"{label} swung to {figure(new, unit)}{when}, {base_word} {figure(old, unit)}."
    if old < 0 <= new:
        return f"{label} turned to {figure(new, unit)}{when}, {base_word} {figure(old, unit)}."
    if new == old:
        return f"{label} was unchanged at {figure(new, unit)}{when}."
    verb = "rose" if new > old else "fell"
    if new == 0 and old > 0:  # a table's "—": the line went to nothing ("fell 100% to $0.00" reads as an error)
        return f"{label} fell to nil{when}, {base_word} {figure(old, unit)}."
    if old:
        return f"{label} {verb} {percent(abs((new - old) / old) * 100)} to {figure(new, unit)}{when}, {base_word} {figure(old, unit)}."
    return f"{label} {verb} to {figure(new, unit)}{when}, {base_word} {figure(old, unit)}."


def fiscal_year(period_end: str | None) -> str | None:
    """"2025-09-27" -> "fiscal 2025"."""
    return f"fiscal {period_end[:4]}" if period_end and period_end[:4].isdigit() else None
