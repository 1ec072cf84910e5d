"""Figures and changes written the way a reader expects: "$416.2 billion", "rose 6.4%", "−5.7%".

One place for how the report words numbers, shared by the highlights' headlines, the offline
summaries and the rendered page, so a figure reads the same everywhere. Pure functions; signs are
never lost (a fall is "fell", a loss is "a loss of"), units and scales are always written.
"""

from __future__ import annotations

import math

MINUS = "\u2212"  # a real minus sign for display
_SCALES = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"), (1e3, "thousand"))
_CURRENCY = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def money(value: float, unit: str = "USD", digits: int = 1) -> str:
    """$416.2 billion, $112.0 billion, $950 million, −$1.3 million, $7.46 (per share)."""
    symbol = _CURRENCY.get(unit.split("/")[0], unit.split("/")[0] + " ")
    sign = MINUS if value < 0 else ""
    size = abs(value)
    if unit.endswith("/share") or size < 1e4:
        return f"{sign}{symbol}{size:,.2f}"
    for threshold, name in _SCALES:
        if size >= threshold:
            scaled = size / threshold
            text = f"{scaled:,.{digits}f}" if scaled < 1000 else f"{scaled:,.0f}"
            if threshold < 1e9:  # "$950 million", "$1.5 million"; billions keep their decimal: "$112.0 billion"
                text = text.rstrip("0").rstrip(".") if "." in text else text
            return f"{sign}{symbol}{text} {name}"
    return f"{sign}{symbol}{size:,.0f}"


def count(value: float, noun: str | None = None) -> str:
    """166,000 employees; 14.8 billion shares."""
    sign = MINUS if value < 0 else ""
    size = abs(value)
    if size >= 1e9 or (size >= 1e6 and size % 1e5 == 0):
        for threshold, name in _SCALES[:3]:
            if size >= threshold:
                text = f"{size / threshold:,.2f}".rstrip("0").rstrip(".")
                return f"{sign}{text} {name}" + (f" {noun}" if noun else "")
    text = f"{size:,.0f}" if size == int(size) else f"{size:,.2f}".rstrip("0").rstrip(".")
    return f"{sign}{text}" + (f" {noun}" if noun else "")


def percent(value: float, digits: int = 1, signed: bool = False) -> str:
    """6.4%, 75.0%, −5.7%; `signed` writes +6.4%. The decimal stays, as filings print it."""
    text = f"{abs(value):.{digits}f}"
    sign = MINUS if value < 0 else ("+" if signed and value > 0 else "")
    return f"{sign}{text}%"


def figure(value: float | None, unit: str | None) -> str:
    """Any figure of the report in its unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit in ("USD", "EUR", "GBP", "JPY") or (unit or "").endswith("/share"):
        return money(value, unit)
    if unit == "pure":
        return percent(value * 100)
    if unit == "%":
        return percent(value)
    if unit == "pp":
        return f"{_plain(value)} percentage points"
    if unit == "bps":
        return f"{_plain(value)} basis points"
    if unit == "x":
        return f"{_plain(value)}x"
    if unit == "shares":
        return count(value, "shares")
    return count(value, unit)


def _plain(value: float) -> str:
    text = f"{abs(value):,.2f}".rstrip("0").rstrip(".")
    return (MINUS if value < 0 else "") + text


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
        return f"{label} {verb} {_plain(abs(delta))} {points} to {figure(new, unit)}{when}, {base_word} {figure(old, unit)}."
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
    if old:
        return f"{label} {verb} {percent(abs((new - old) / old) * 100)} to {figure(new, unit)}{when}, {base_word} {figure(old, unit)}."
    return f"{label} {verb} to {figure(new, unit)}{when}, {base_word} {figure(old, unit)}."


def fiscal_year(period_end: str | None) -> str | None:
    """"2025-09-27" -> "fiscal 2025"."""
    return f"fiscal {period_end[:4]}" if period_end and period_end[:4].isdigit() else None
