"""How the numbers changed between two aligned paragraphs: the same metric, the same period, signed.

A reader of a year-over-year diff wants "Net sales rose 2% → 6%; $391.0 billion → $416.2 billion",
never two neighbouring figures paired by position. The paragraph aligner (`diff_analyzer`) finds
which words changed; `number_mentions` reads each figure (its sign, unit, scale, period and the
words that name it); this module pairs an older figure with a newer one only when

- they are the same kind of figure (a percent with a percent, basis points with basis points);
- they name the same metric ("net periodic pension cost" is not "total cost related to pension plans");
- they are for the same period: the year each sentence states for it, paired only with the same
  year ("same_period": a revision), or the older filing's own year with the newer filing's own year
  ("year_over_year"). A figure about an earlier year that merely rolled forward with the filing
  ("compared to $383.3 billion in 2023" -> "... $391.0 billion in 2024") is churn, not a change.

Table cells that are inline XBRL facts are paired by concept, dimensions and period — the older
filing's fact for its own fiscal year against the newer filing's for its own (or the same period,
restated) — never by column position. Other table cells are paired by the years of their header
row. What no reader wants ranked is labelled churn: officers' ages, exhibit numbers and dates in
the exhibit index, the index values of a performance graph. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import wording
from number_mentions import (
    DASHES, NumberMention, cell_value, context_words, is_rolled_date, label_end, mentions_in, naming_words,
    period_at, same_metric, value_columns,
)
from xbrl_facts import Fact, InlineXbrl

YEAR_OVER_YEAR, SAME_PERIOD = "year_over_year", "same_period"
CHURN_AGE, CHURN_EXHIBITS, CHURN_GRAPH = "age", "exhibit_index", "performance_graph"
NUMBER_CHURN_LABELS = (CHURN_AGE, CHURN_EXHIBITS, CHURN_GRAPH)
YEAR_DAYS = (350, 380)
PRIOR_GAP_DAYS = 10


@dataclass(slots=True)
class NumberChange:
    """A number that changed between the older and the newer text of one aligned paragraph."""

    kind: str  # amount | percent | count | number | date | year | multiple
    unit: str | None  # USD, USD/share, %, bps, pp, x, shares, or the counted noun ("employees")
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
    period: str | None = None  # the newer figure's year (a table column's, a fact's, or the sentence's)
    old_date: str | None = None
    new_date: str | None = None
    old_period: str | None = None  # the older figure's period: a year, "prior", an ISO date (XBRL), or None (its filing's year)
    new_period: str | None = None
    comparison: str | None = None  # year_over_year | same_period
    metric: str | None = None  # the words that name the figure ("net periodic pension cost"), or a table's row label
    concept: str | None = None  # the XBRL concept, for a table cell that is a fact
    dimensions: tuple[tuple[str, str], ...] = ()  # its dimension members (segment, product...)
    old_fact: str | None = None  # element ids of the facts: links into the SEC documents
    new_fact: str | None = None
    sign_source: str | None = None  # what gave the figures their sign: xbrl | minus | parentheses | direction_word
    churn: str | None = None  # age | exhibit_index | performance_graph: listed, never ranked
    change_column: bool = False  # a table's change column ("2024 vs. 2023 Change | $ | %"): a change, not a level

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
            "old_period": self.old_period,
            "new_period": self.new_period,
            "comparison": self.comparison,
            "metric": self.metric,
            "concept": self.concept,
            "dimensions": [list(d) for d in self.dimensions] or None,
            "old_fact": self.old_fact,
            "new_fact": self.new_fact,
            "sign_source": self.sign_source,
            "churn": self.churn,
            "change_column": self.change_column,
            "context": self.context,
            "old_context": self.old_context,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


# --------------------------------------------------------------------------------------------------
# The two filings' years
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FiscalYears:
    """The years each filing calls its own (its fiscal-year label and the calendar year its year
    ends in: GameStop's year ending 2024-02-03 is "2023"); empty when unknown."""

    older: frozenset[int] = frozenset()
    newer: frozenset[int] = frozenset()

    @classmethod
    def of(cls, older: InlineXbrl | None, newer: InlineXbrl | None, older_period: str | None = None,
           newer_period: str | None = None) -> "FiscalYears":
        return cls(_years(older, older_period), _years(newer, newer_period))


def _years(xbrl: InlineXbrl | None, period_end: str | None) -> frozenset[int]:
    years = set()
    if xbrl is not None:
        label = xbrl.cover.get("dei:DocumentFiscalYearFocus", "")
        if label.isdigit():
            years.add(int(label))
        year = xbrl.fiscal_year()
        if year is not None:
            years.add(int(year.end[:4]))
    if not years and period_end and period_end[:4].isdigit():
        years.add(int(period_end[:4]))
    return frozenset(years)


def compare_periods(old: str | None, new: str | None, years: FiscalYears) -> str | None:
    """year_over_year (each filing's own year), same_period (the same year stated on both sides),
    or None: different periods, not the same figure."""
    if old is None and new is None:
        return YEAR_OVER_YEAR  # no year stated: each sentence speaks of its own filing's year
    if old not in (None, "current", "prior") and old == new:
        return SAME_PERIOD
    old_years, new_years = _resolve(old, years.older), _resolve(new, years.newer)
    if old_years is None or new_years is None:
        return None  # a year we cannot place: never guess
    if old_years & years.older and new_years & years.newer:
        return YEAR_OVER_YEAR
    if old_years & new_years:
        return SAME_PERIOD
    return None


def _resolve(period: str | None, own: frozenset[int]) -> frozenset[int] | None:
    if period is None or period == "current":
        return own or None
    if period == "prior":
        return frozenset(y - 1 for y in own) or None
    return frozenset((int(period),))


# --------------------------------------------------------------------------------------------------
# Prose
# --------------------------------------------------------------------------------------------------


def number_changes_between(
    old_tokens: list[str],
    new_tokens: list[str],
    segments: list[tuple[int, int, int, int]],
    *,
    old_index: int,
    new_index: int,
    in_table: bool,
    years: FiscalYears = FiscalYears(),
    old_scale: str | None = None,
    new_scale: str | None = None,
    periods: tuple[str | None, ...] | None = None,
) -> tuple[list[NumberChange], int]:
    """The number changes in the changed token ranges of one aligned pair, and how many figures
    only rolled forward (a year +1, last year's figure now under its own year).

    Inside each changed range, the older and newer figures of one family (quantities, percents,
    dates, years, multiples) are paired in order, each older figure with the first newer one of the
    same unit, metric and period (see the module docstring)."""
    substantive: list[NumberChange] = []
    rolled_forward = 0
    used_new: set[int] = set()
    old_stop = label_end(old_tokens) if in_table else 0
    new_stop = label_end(new_tokens) if in_table else 0
    old_label = " ".join(old_tokens[:old_stop]) if in_table else None
    new_label = " ".join(new_tokens[:new_stop]) if in_table else None
    # figures the old text had in any changed run: a new figure equal to one of them moved (a list of
    # years shifted by one: "$255, $227 and $168 million" for 2024, 2023, 2022 after "$227, $168 and
    # $120 million"; found in review, NVDA and WMT), it did not change
    old_mentions = [mentions_in(old_tokens, i1, i2, in_table=in_table, table_scale=old_scale, label_stop=old_stop)
                    for i1, i2, _, _ in segments]
    changed_old_values: dict[str, set[float]] = {}
    for m in (m for found in old_mentions for m in found):
        if m.value and m.family in ("quantity", "percent"):
            changed_old_values.setdefault(m.family, set()).add(abs(m.value))
    for (i1, i2, j1, j2), olds in zip(segments, old_mentions):
        if i1 == i2 or j1 == j2 or not olds:
            continue
        news = mentions_in(new_tokens, j1, j2, in_table=in_table, table_scale=new_scale, label_stop=new_stop)
        if not news:
            continue
        for old in olds:
            new = next((m for m in news if m.anchor not in used_new and _comparable(old, m)), None)
            if new is None:
                continue
            if old.value == new.value and old.iso_date == new.iso_date:
                used_new.add(new.anchor)
                continue
            if old.family == "year" and not _is_deadline(new_tokens, new):
                used_new.add(new.anchor)
                continue  # a year is a period, not a figure ("During 2021" -> "During 2024"); a deadline is one
            if old.family == "date" and is_rolled_date(old.iso_date, new.iso_date):
                used_new.add(new.anchor)
                continue
            old_period = period_at(old_tokens, old) if not in_table else None
            new_period = period_at(new_tokens, new) if not in_table else None
            comparison = compare_periods(old_period, new_period, years) if not in_table else None
            if not in_table and comparison is None:
                rolled_forward += _rolled(old_period, new_period, years)
                continue  # different years: not the same figure
            old_words = naming_words(old_tokens, old) if not in_table else frozenset()
            new_words = naming_words(new_tokens, new) if not in_table else frozenset()
            if not in_table and not same_metric(old_words, new_words):
                continue  # another metric in the same place
            if not in_table and old.family == "date" and not (old_words & new_words):
                continue  # two dates of two sentences that say nothing alike
            used_new.add(new.anchor)
            if new.value is not None and abs(new.value) in changed_old_values.get(old.family, set()) and new.family != "date":
                rolled_forward += 1
                continue
            churn = _prose_churn(old, new, old_tokens, new_tokens, new_words) if not in_table else None
            substantive.append(_number_change(
                old, new, old_index, new_index,
                context=new_label if in_table else context_words(new_tokens, new),
                old_context=old_label if in_table else context_words(old_tokens, old),
                in_table=in_table, row_label=new_label, period=new_period if new_period not in ("current", "prior") else None,
                old_period=old_period, new_period=new_period, comparison=comparison,
                metric=new_label if in_table else _phrase(new_tokens, new), churn=churn,
            ))
    return substantive, rolled_forward


_DEADLINE_WORDS = frozenset("expire expires expired expiring expiration mature matures maturing maturity due through until till "
                            "by extend extended extends target targets goal".split())


def _is_deadline(tokens: list[str], mention: NumberMention) -> bool:
    """A year that is a date something happens by ("expires in 2030", "through 2027", "by 2030")."""
    return any(token.strip(".,;:()").lower() in _DEADLINE_WORDS for token in tokens[max(0, mention.start - 3) : mention.start])


def _comparable(old: NumberMention, new: NumberMention) -> bool:
    """The same kind of figure: family, and unit where it says what is measured."""
    if old.family != new.family:
        return False
    if old.family == "percent":
        return (old.unit or "%") == (new.unit or "%")
    if old.kind == new.kind and old.kind in ("amount", "count"):
        return old.unit == new.unit
    return {old.kind, new.kind} != {"amount", "count"}  # money is not a count; a bare number may be either


def _rolled(old_period: str | None, new_period: str | None, years: FiscalYears) -> int:
    """1 when both figures are about an earlier year and the year moved on by one with the filing."""
    if old_period and new_period and old_period.isdigit() and new_period.isdigit():
        return int(new_period == str(int(old_period) + 1))
    return int(old_period == "prior" and new_period == "prior")


_AGE_WORDS = frozenset(("age", "aged"))


def _prose_churn(old: NumberMention, new: NumberMention, old_tokens: list[str], new_tokens: list[str], words) -> str | None:
    """An officer's age, one year older ("Timothy D. Cook, 63, ..." -> "64")."""
    if _is_age(old.value, new.value) and (words & _AGE_WORDS or (new.start and new_tokens[new.start - 1].endswith(",")
                                                                  and new_tokens[new.anchor].endswith(","))):
        return CHURN_AGE
    return None


def _is_age(old: float | None, new: float | None) -> bool:
    return old is not None and new is not None and old == int(old) and 18 <= old <= 100 and new - old in (1, 2)


def _phrase(tokens: list[str], mention: NumberMention) -> str | None:
    """The naming words in reading order, for a headline ("net sales")."""
    words = naming_words(tokens, mention)
    if not words:
        return None
    ordered = []
    for token in tokens[max(0, mention.start - 8) : mention.end + 4]:
        word = token.strip(".,;:()[]“”\"'’‘").lower()
        key = word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word
        if key in words and key not in ordered:
            ordered.append(key)
    return " ".join(ordered) or None


# --------------------------------------------------------------------------------------------------
# Table rows: by period, never by position
# --------------------------------------------------------------------------------------------------


def table_number_changes(
    old_text: str,
    new_text: str,
    *,
    old_index: int,
    new_index: int,
    old_scale: str | None = None,
    new_scale: str | None = None,
    old_periods: tuple[str | None, ...] | None = None,
    new_periods: tuple[str | None, ...] | None = None,
    years: FiscalYears = FiscalYears(),
) -> tuple[list[NumberChange], int] | None:
    """`row_number_changes` of two rows given as text; None when they have different numbers of cells."""
    old_cells, new_cells = old_text.split(" | "), new_text.split(" | ")
    if len(old_cells) != len(new_cells):
        return None
    return row_number_changes(old_cells, new_cells, old_index=old_index, new_index=new_index, old_scale=old_scale,
                              new_scale=new_scale, old_periods=old_periods, new_periods=new_periods, years=years)


def row_number_changes(
    old_cells: list[str],
    new_cells: list[str],
    *,
    old_index: int,
    new_index: int,
    old_scale: str | None = None,
    new_scale: str | None = None,
    old_periods: tuple[str | None, ...] | None = None,
    new_periods: tuple[str | None, ...] | None = None,
    years: FiscalYears = FiscalYears(),
    old_units: tuple[str | None, ...] = (),
    new_units: tuple[str | None, ...] = (),
) -> tuple[list[NumberChange], int]:
    """Number changes of two aligned table rows of printed figures (no XBRL facts), and how many
    figures only rolled to the next column.

    With header years on both sides, a newer column is compared with the older column of the same
    year (a revised figure, or a schedule such as debt maturities), or — for the filing's own year —
    with the older filing's own year; a text column after a year ("Change") goes with its year. Without
    header years, cells are compared column by column, and a figure the older row had in another
    column that changed too is last year's figure rolled over (churn)."""
    old_columns, new_columns = value_columns(old_cells), value_columns(new_cells)
    if old_periods and new_periods:
        if len(old_periods) != len(old_columns) or len(new_periods) != len(new_columns):
            return [], 0  # a row with fewer figures than its header has years: which year is which cannot be told
        return _by_period(old_cells, new_cells, old_columns, new_columns, old_periods, new_periods, years,
                          old_index, new_index, old_scale, new_scale, old_units, new_units)
    if len(old_columns) != len(new_columns):
        return [], 0  # a figure more or less, and no header years to say which is which
    substantive: list[NumberChange] = []
    rolled_forward = 0
    old_values = [old_cells[k] for k in old_columns]
    new_values = [new_cells[k] for k in new_columns]
    for ordinal, (old_k, new_k) in enumerate(zip(old_columns, new_columns)):
        if old_cells[old_k] == new_cells[new_k]:
            continue
        if _moved_from_another_column(old_values, new_values, ordinal):
            rolled_forward += 1
            continue
        change = _cell_change(old_cells, new_cells, old_k, new_k, old_index, new_index, old_scale, new_scale, None, None, None,
                              _unit_of(old_k, old_columns, old_units), _unit_of(new_k, new_columns, new_units))
        if change is not None:
            substantive.append(change)
    return substantive, rolled_forward


def _unit_of(k: int, columns: list[int], units: tuple[str | None, ...]) -> str | None:
    """The unit an earlier row of the block showed for the value column of cell k."""
    if k not in columns:
        return None
    ordinal = columns.index(k)
    return units[ordinal] if ordinal < len(units) else None


def _column_periods(columns: list[int], periods: tuple[str | None, ...]) -> dict[int, str]:
    """cell index -> its period: the header's year, or "<year>+<n>" for the n-th text column ("Change",
    "% change") of a year's comparison: the year before it (AAPL: "2025 | Change | 2024 | Change"), or,
    when the text columns follow all the years, shared out in order among the comparisons, newest
    first (JNJ: "2024 | 2023 | Total | Operations | Currency Change" are all 2024's; TSLA: "2024 |
    2023 | 2022 | $ | % | $ | %" are 2024's then 2023's)."""
    years = [p for p in periods if p is not None]
    last_year_at = max((n for n, p in enumerate(periods) if p is not None), default=-1)
    trailing = len(periods) - last_year_at - 1
    comparisons = sorted(set(years), reverse=True)[: max(1, len(set(years)) - 1)]
    per = trailing // len(comparisons) if comparisons and trailing % len(comparisons) == 0 else trailing
    out = {}
    owner, count = None, 0
    for n, (column, period) in enumerate(zip(columns, periods)):
        if period is not None:
            owner, count = period, 0
            out[column] = period
        elif n > last_year_at and comparisons and per:
            j = n - last_year_at - 1
            group = min(j // per, len(comparisons) - 1)
            out[column] = f"{comparisons[group]}+{j % per + 1}"
        elif owner is not None:
            count += 1
            out[column] = f"{owner}+{count}"
    return out


def _by_period(old_cells, new_cells, old_columns, new_columns, old_periods, new_periods, years: FiscalYears,
               old_index, new_index, old_scale, new_scale, old_units=(), new_units=()) -> tuple[list[NumberChange], int]:
    old_at, new_at = _column_periods(old_columns, old_periods), _column_periods(new_columns, new_periods)
    old_by_period = {period: k for k, period in old_at.items()}
    if not years.older or not years.newer:  # unknown: each header's latest year is its filing's own, if they rolled by one
        old_latest = max(int(p) for p in old_periods if p)
        new_latest = max(int(p) for p in new_periods if p)
        if new_latest == old_latest + 1:
            years = FiscalYears(frozenset((old_latest,)), frozenset((new_latest,)))
    substantive: list[NumberChange] = []
    rolled_forward = 0
    for k, period in new_at.items():
        year, plus, ordinal = period.partition("+")
        suffix = plus + ordinal
        own = bool(years.newer) and int(year) in years.newer
        counterpart = None
        comparison = None
        if own:  # the newer filing's own year: against the older filing's own year
            counterpart = next((old_by_period[f"{y}{suffix}"] for y in sorted(years.older, reverse=True)
                                if f"{y}{suffix}" in old_by_period), None)
            comparison = YEAR_OVER_YEAR
        if counterpart is None and period in old_by_period:
            counterpart, comparison = old_by_period[period], SAME_PERIOD
        if counterpart is None:
            continue
        if old_cells[counterpart] == new_cells[k]:
            rolled_forward += counterpart != k  # last year's figure, now under its own year in another column
            continue
        old_period = old_at[counterpart].partition("+")[0]
        change = _cell_change(old_cells, new_cells, counterpart, k, old_index, new_index, old_scale, new_scale,
                              year, old_period, comparison, _unit_of(counterpart, old_columns, old_units),
                              _unit_of(k, new_columns, new_units), change_column=bool(suffix))
        if change is not None:
            substantive.append(change)
    return substantive, rolled_forward


def _cell_change(old_cells, new_cells, old_k: int, new_k: int, old_index: int, new_index: int, old_scale, new_scale,
                 period: str | None, old_period: str | None, comparison: str | None, old_unit: str | None = None,
                 new_unit: str | None = None, change_column: bool = False) -> NumberChange | None:
    """`change_column`: the cells are a year's change ("2024 vs. 2023 Change | $ | %"), not its level:
    the figure is named "Change in <row>" (found in review: TSLA's revenue change of −$3.1 billion
    read as revenue)."""
    old, new = cell_value(old_cells, old_k, old_scale, old_unit), cell_value(new_cells, new_k, new_scale, new_unit)
    if old is None or new is None:
        return None
    if old.kind == "date" or new.kind == "date":
        if old.kind == new.kind and old.iso_date != new.iso_date and not is_rolled_date(old.iso_date, new.iso_date):
            return _table_change(old, new, new_cells[0], old_cells[0], old_index, new_index, None, None, None)
        return None
    if old.value == new.value:
        return None  # "1,000" -> "1000"
    if old.kind == "year" and new.kind == "year" and new.value == old.value + 1:
        return None  # a header rolled forward
    if old.kind != new.kind and "percent" in (old.kind, new.kind):
        return None  # a rate and an amount are not one figure
    churn = CHURN_AGE if _is_age(old.value, new.value) and _reads_as_name(new_cells[0]) else None
    metric = f"Change in {wording.lower_first(new_cells[0])}" if change_column else None
    change = _table_change(old, new, new_cells[0], old_cells[0], old_index, new_index, period, old_period, comparison, churn,
                           metric=metric)
    change.change_column = change_column
    return change


_NAME = re.compile(r"^(?:(?:Mr|Ms|Mrs|Dr)\.\s)?[A-Z][a-z'’-]+(?:\s(?:[A-Z]\.|[A-Z][a-z'’-]+)){1,3}(?:,?\s(?:Jr|Sr|II|III)\.?)?$")


def _reads_as_name(label: str) -> bool:
    """A row label that is a person's name ("Timothy D. Cook"): its small integer that grew by one is an age."""
    return bool(_NAME.match(label.strip()))


def _moved_from_another_column(old_values: list[str], new_values: list[str], k: int) -> bool:
    """The new value column k holds a figure the old row had in another column that changed too: the
    years shifted one column (last year's figure now sits under its own year), whichever side the
    newest year is on (AMZN and GOOGL put it right) and whatever "% change" columns lie between
    (AAPL). Dashes and zeros are too common to prove a shift."""
    value = new_values[k]
    if value in DASHES or value.strip("$()% ") in ("0", "0.0", ""):
        return False
    return any(old_values[j] == value and new_values[j] != value for j in range(len(old_values)) if j != k)


# --------------------------------------------------------------------------------------------------
# Table cells that are inline XBRL facts: by concept, dimensions and period
# --------------------------------------------------------------------------------------------------


@dataclass
class FactIndex:
    """The two filings' facts, with what pairing needs: each context's role (the filing's own year,
    the prior year, or neither) and the older filing's facts by concept, dimensions and period."""

    older: InlineXbrl
    newer: InlineXbrl
    _old_roles: dict[str, str | None] = field(default_factory=dict)
    _new_roles: dict[str, str | None] = field(default_factory=dict)
    _old_by_period: dict[tuple, Fact] = field(default_factory=dict)
    _old_by_role: dict[tuple, Fact] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._old_roles = _roles(self.older)
        self._new_roles = _roles(self.newer)
        for fact in self.older.best_facts():
            context = self.older.contexts.get(fact.context)
            if context is None:
                continue
            key = (fact.concept, context.dimensions, fact.unit)
            self._old_by_period[key + (context.start, context.end)] = fact
            role = self._old_roles.get(fact.context)
            if role:
                self._old_by_role[key + (role, context.instant)] = fact

    def counterpart(self, fact: Fact, old_row: set[int]) -> tuple[Fact, str] | None:
        """The older filing's fact for the same concept, dimensions and period (same_period), or for
        its own year when `fact` is for the newer filing's own year (year_over_year); one printed in
        the aligned older row first."""
        context = self.newer.contexts.get(fact.context)
        if context is None:
            return None
        key = (fact.concept, context.dimensions, fact.unit)
        role = self._new_roles.get(fact.context)
        candidates = []
        if role == "current":
            found = self._old_by_role.get(key + ("current", context.instant))
            if found is not None:
                candidates.append((found, YEAR_OVER_YEAR))
        else:
            found = self._old_by_period.get(key + (context.start, context.end))
            if found is not None:
                candidates.append((found, SAME_PERIOD))
        if not candidates:
            return None
        found, comparison = candidates[0]
        if found.index not in old_row:  # prefer the same figure printed in the aligned row
            printed = next((self.older.facts[i] for i in old_row if self._same(self.older.facts[i], found)), None)
            found = printed or found
        return found, comparison

    def _same(self, a: Fact, b: Fact) -> bool:
        return a.concept == b.concept and a.context == b.context and a.unit == b.unit and a.value == b.value


def _roles(xbrl: InlineXbrl) -> dict[str, str | None]:
    """context id -> "current" (the fiscal year, or its last day), "prior" (the year before), or None."""
    year = xbrl.fiscal_year()
    if year is None:
        return {}
    start = date.fromisoformat(year.start)
    prior_end = None
    for context in xbrl.contexts.values():
        if not context.instant and YEAR_DAYS[0] <= context.days <= YEAR_DAYS[1]:
            gap = (start - date.fromisoformat(context.end)).days
            if 0 < gap <= PRIOR_GAP_DAYS and (prior_end is None or context.end > prior_end):
                prior_end = context.end
    roles = {}
    for context in xbrl.contexts.values():
        yearly = context.instant or YEAR_DAYS[0] <= context.days <= YEAR_DAYS[1]
        if not yearly:
            roles[context.id] = None
        elif context.end == year.end:
            roles[context.id] = "current"
        elif context.end == prior_end:
            roles[context.id] = "prior"
        else:
            roles[context.id] = None
    return roles


def fact_number_changes(
    old_cell_facts: tuple[tuple[int, ...], ...] | None,
    new_cell_facts: tuple[tuple[int, ...], ...],
    new_cells: list[str],
    index: FactIndex,
    *,
    old_index: int,
    new_index: int,
) -> tuple[list[NumberChange], int]:
    """The changes of the facts printed in one newer table row, each against its counterpart in the
    older filing (see `FactIndex.counterpart`), and how many facts only restate the older filing's
    figure for the same period (last year's column, rolled forward)."""
    old_row = {n for cell in (old_cell_facts or ()) for n in cell}
    changes = []
    rolled_forward = 0
    label = new_cells[0] if new_cells else ""
    for k, cell in enumerate(new_cell_facts):
        fact = next((index.newer.facts[n] for n in cell if index.newer.facts[n].value is not None), None)
        if fact is None:
            continue
        found = index.counterpart(fact, old_row)
        if found is None:
            continue
        old, comparison = found
        if old.value == fact.value:
            rolled_forward += comparison == SAME_PERIOD
            continue
        context = index.newer.contexts[fact.context]
        old_context = index.older.contexts[old.context]
        kind, unit = _fact_kind(fact)
        churn = CHURN_AGE if _is_age(float(old.value), float(fact.value)) and _reads_as_name(label) else None
        factor = 100 if unit == "%" else 1  # a "pure" fact is a fraction (0.075); the report shows percents (7.5)
        changes.append(NumberChange(
            kind=kind, unit=unit, old_text=_shown(old), new_text=_shown(fact),
            old_value=_float(old.value * factor), new_value=_float(fact.value * factor),
            scale=None if factor != 1 else _SCALE_NAMES.get(fact.scale),
            old_index=old_index, new_index=new_index, context=label, old_context=old.row_label or label,
            in_table=True, row_label=label, period=context.end[:4],
            old_period=_period_text(old_context), new_period=_period_text(context), comparison=comparison,
            metric=label, concept=fact.concept, dimensions=context.dimensions,
            old_fact=old.element_id, new_fact=fact.element_id, sign_source="xbrl", churn=churn,
        ))
    return changes, rolled_forward


_SCALE_NAMES = {3: "thousand", 6: "million", 9: "billion", 12: "trillion"}


def _fact_kind(fact: Fact) -> tuple[str, str | None]:
    unit = fact.unit or None
    if unit in ("USD", "EUR", "GBP", "JPY", "CAD", "CHF", "CNY") or (unit or "").endswith("/share"):
        return "amount", unit
    if unit == "pure":
        return "percent", "%"
    if unit == "shares":
        return "count", "shares"
    return ("count", unit) if unit else ("number", None)


def _shown(fact: Fact) -> str:
    """A fact as its table prints it, with its sign: "$391,035" in millions is shown as printed,
    negatives in parentheses as statements print them."""
    text = fact.text or str(fact.value)
    if fact.value is not None and fact.value < 0 and not text.startswith(("(", "-", "−")):
        return f"({text})"
    return text


def _float(value: Decimal | None) -> float | None:
    if value is None:
        return None
    return float(value)


def _period_text(context) -> str:
    return f"{context.start}/{context.end}" if context.start else context.end


# --------------------------------------------------------------------------------------------------
# Constructors
# --------------------------------------------------------------------------------------------------


def _number_change(old, new, old_index: int, new_index: int, *, context: str, old_context: str, in_table: bool,
                   row_label: str | None, period: str | None, old_period: str | None = None, new_period: str | None = None,
                   comparison: str | None = None, metric: str | None = None, churn: str | None = None) -> NumberChange:
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
        old_period=old_period,
        new_period=new_period,
        comparison=comparison,
        metric=metric,
        sign_source=getattr(new, "sign_source", None) or getattr(old, "sign_source", None),
        churn=churn,
    )


def _table_change(old, new, label: str, old_label: str, old_index: int, new_index: int, period: str | None,
                  old_period: str | None, comparison: str | None, churn: str | None = None, metric: str | None = None) -> NumberChange:
    return _number_change(old, new, old_index, new_index, context=label, old_context=old_label, in_table=True,
                          row_label=label, period=period, old_period=old_period, new_period=period,
                          comparison=comparison, metric=metric or label, churn=churn)
