"""Key figures read from the printed statement tables, for filings without inline XBRL.

Older 10-Ks (before 2019) and filings whose primary document carries no usable facts print their
statements as plain tables: a title ("Consolidated Statements of Operations"), a caption with the
scale ("in millions, except per share amounts"), a header row of years, then rows of a label and
one figure per year, losses and outflows in parentheses. This module finds those tables among the
document's blocks (`find`) and reads the key figures' lines from them (`read_figures`): the row by
its label, the column by its year, the caption's scale applied (never to per-share amounts),
parentheses read as negative. Pure functions; nothing is estimated: a line that cannot be read
exactly is left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

_TITLES = {
    "income": re.compile(r"^(?!.*comprehensive).*\b(?:statements? of (?:consolidated )?(?:operations|income|earnings)|income statements?)\b", re.I),
    "balance": re.compile(r"\b(?:balance sheets?|statements? of (?:consolidated )?financial (?:position|condition))\b", re.I),
    "cash_flow": re.compile(r"\b(?:statements? of (?:consolidated )?cash flows?|cash flows? statements?)\b", re.I),
}
_NOT_CONSOLIDATED = re.compile(r"parent company|registrant only|condensed|schedule i\b|unaudited|quarterly|pro forma", re.I)
_WINDOW = 90  # blocks after a title in which its table's rows are looked for
_MIN_ROWS = 8  # a statement, not an index entry or a condensed extract
_SCALE = re.compile(r"\bin (thousands|millions|billions)\b", re.I)
_SCALES = {"thousands": 3, "millions": 6, "billions": 9}
_YEAR = re.compile(r"\b(19[5-9]\d|20\d\d)\b")
_FIGURE = re.compile(r"^\(?\$?\s*\(?(-)?(\d{1,3}(?:,\d{3})+|\d+|)(\.\d+)?\)?$")
_PER_SHARE = re.compile(r"per (common )?share|earnings per|income per|loss per")
_SHARE_COUNT = re.compile(r"shares outstanding|weighted|average (common )?shares|number of shares")
_DASH = frozenset(("—", "–", "-", "--"))

# metric -> (statement, row label pattern, excluded labels, per share)
LINES = {
    "revenue": ("income", r"^(total )?(net )?(revenues?|sales)\b|^total (net )?(revenues?|sales)", r"cost|deferred|%", False),
    "operating_income": ("income", r"^(total )?(operating (income|profit|loss)|(income|loss|earnings)( \(loss\))? from operations)",
                         r"non-?operating|other operating", False),
    "net_income": ("income", r"^net (income|earnings|loss)",
                   r"per share|noncontrolling|non-controlling|minority|per common|before|continuing", False),
    "eps_diluted": ("income", r"diluted", r"shares|weighted|average|dilutive", True),
    "total_assets": ("balance", r"^total assets$", None, False),
    "cash_and_equivalents": ("balance", r"^cash and (cash )?equivalents", r"beginning|end of|restricted", False),
    "operating_cash_flow": ("cash_flow", r"(provided|generated|used).{0,20}operating activities|^net cash (from|provided by) operations",
                            r"discontinued", False),
    "capital_expenditures": ("cash_flow", r"(purchases?|payments?|additions?|acquisitions?|expenditures?) (of |for |to |in )?.{0,40}"
                             r"(property|plant|equipment|fixed assets)|capital expenditures", r"^(proceeds|sales? of)|non-?cash|accrued", False),
}


@dataclass(frozen=True)
class StatementTable:
    kind: str  # income | balance | cash_flow
    title: str
    rows: tuple[str, ...]  # the caption and header lines and the " | "-joined rows, in order


@dataclass(frozen=True)
class PrintedValue:
    value: Decimal
    period_end: str  # the column's date as printed, else the year's last day as the filing's year end has it
    line: str


@dataclass
class PrintedFigures:
    fiscal_year_end: str | None = None
    current: dict[str, PrintedValue] = field(default_factory=dict)
    prior: dict[str, PrintedValue] = field(default_factory=dict)


def find(blocks: list[str], rows: frozenset[int]) -> tuple[StatementTable, ...]:
    """Each statement's table: its title followed by the longest run of rows (the statement itself,
    not the index of statements or a condensed extract)."""
    found = []
    for kind, title in _TITLES.items():
        best = None
        for i, block in enumerate(blocks):
            if len(block) > 160 or i in rows or not title.search(block) or _NOT_CONSOLIDATED.search(block):
                continue
            lines = []
            row_count = 0
            for j in range(i + 1, min(len(blocks), i + 1 + _WINDOW)):
                text = blocks[j]
                if j in rows:
                    row_count += 1
                    lines.append(text)
                elif len(text) > 300 and row_count:
                    break  # prose after the table: the statement is over
                elif len(text) <= 300:
                    lines.append(text)
            if row_count >= _MIN_ROWS and (best is None or row_count > best[0]):
                best = (row_count, StatementTable(kind, block, tuple(lines)))
        if best:
            found.append(best[1])
    return tuple(found)


def read_figures(tables: tuple[StatementTable, ...], fiscal_year_end: str | None = None) -> PrintedFigures:
    out = PrintedFigures(fiscal_year_end=fiscal_year_end)
    for table in tables:
        scale = 0
        years: list[str] | None = None
        section = ""
        for line in table.rows:
            match = _SCALE.search(line)
            if match and scale == 0:
                scale = _SCALES[match.group(1).lower()]
            if years is None:
                header = _header_years(line)
                if header:
                    years = header
                continue
            cells = [c.strip() for c in line.split(" | ")]
            label = cells[0].lower()
            values = _figures(cells[1:])
            if not values or len(values) != len(years):
                if len(cells) == 1 or values is None:
                    section = label  # a line without figures heads the rows below it
                continue
            for metric, (kind, pattern, exclude, per_share) in LINES.items():
                if kind != table.kind or metric in out.current or not re.search(pattern, label):
                    continue
                if exclude and re.search(exclude, label):
                    continue
                if per_share and not (_PER_SHARE.search(label) or _PER_SHARE.search(section)) or (
                        per_share and _SHARE_COUNT.search(section)):
                    continue  # "Diluted" under "Weighted average shares outstanding" counts shares
                by_year = dict(zip(years, values))
                newest = max(years)
                period_end = _period_end(newest, fiscal_year_end)
                out.current[metric] = PrintedValue(by_year[newest].scaleb(0 if per_share else scale), period_end, cells[0])
                older_years = sorted((y for y in years if y < newest), reverse=True)
                if older_years:
                    out.prior[metric] = PrintedValue(by_year[older_years[0]].scaleb(0 if per_share else scale),
                                                     _period_end(older_years[0], fiscal_year_end), cells[0])
        if years and out.fiscal_year_end is None:
            out.fiscal_year_end = _period_end(max(years), None)
    return out


def _header_years(line: str) -> list[str] | None:
    """The years of a header row ("| 2024 | 2023 | 2022", "December 31, 2024 | 2023"), in column order."""
    if len(line) > 300:
        return None
    cells = [c for c in (c.strip() for c in line.split(" | ")) if c]
    if len(cells) >= 3 and not _YEAR.fullmatch(cells[0]):
        cells = cells[1:]  # the label cell ("Year Ended June 30,", "(In millions) December 31,") says no year of a column
    years = []
    for cell in cells:
        found = _YEAR.findall(cell)
        if len(found) == 1 and len(cell) <= 40:
            years.append(found[0])
        elif any(ch.isdigit() for ch in cell):
            return None
    return years if len(years) >= 2 and len(set(years)) == len(years) else None


def _figures(cells: list[str]) -> list[Decimal] | None:
    """The figures of a row's value cells ("$", ")" and "%" cells are layout), parentheses negative."""
    values: list[Decimal] = []
    k = 0
    while k < len(cells):
        cell = cells[k]
        if cell in ("$", ")", "%", "$(", "(", ""):
            k += 1
            continue
        if cell in _DASH:
            values.append(Decimal(0))
            k += 1
            continue
        match = _FIGURE.match(cell.replace(" ", ""))
        if match is None:
            return None
        if not match.group(2) and not match.group(3):
            return None
        try:
            value = Decimal((match.group(2) or "0").replace(",", "") + (match.group(3) or ""))
        except InvalidOperation:
            return None
        opened = cell.startswith("(") or "$(" in cell or (k > 0 and cells[k - 1] in ("(", "$("))
        closed = cell.endswith(")") or (k + 1 < len(cells) and cells[k + 1].startswith(")"))
        if match.group(1) or (opened and closed):
            value = -value
        values.append(value)
        k += 1
    return values


def _period_end(year: str, fiscal_year_end: str | None) -> str:
    if fiscal_year_end and len(fiscal_year_end) == 10:
        return f"{year}{fiscal_year_end[4:]}"
    return f"{year}-12-31"
