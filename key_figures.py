"""Key figures and segments, year over year: the numbers an analyst reads first, exact and signed.

Each figure comes from the inline XBRL facts of the two filings (`xbrl_facts`): the fact of the
metric's concept in the fiscal year's consolidated context (no dimensions; a duration of a year,
or the instant at the year's end), scale and sign applied, linked to the element that prints it.
A filing without usable inline XBRL falls back to its statement tables as printed
(`statement_tables`); a filing without either says so. Nothing is ever estimated.

How a metric's fact is chosen (one rule for every metric, see `METRICS`):
1. Find the statements: the table printing the year's operating cash flow (cash flow), total assets
   (balance sheet), diluted EPS or net income (income statement), and the table after it when the
   statement continues on the next page.
2. On the metric's statement: the first of its standard concepts, in the listed order, that tags a
   fact of the fiscal year there.
3. Else a company's own (extension) concept, only when it sits on a row of that statement whose
   label reads as the metric's line (NVIDIA FY2023 tags capex as
   nvda:PurchasesOfPropertyAndEquipmentAndIntangibleAssets on "Purchases related to property and
   equipment and intangible assets").
4. Else the first standard concept with a fact of the fiscal year anywhere in the document.
Duplicates (the same figure tagged in the statement and again, rounded, in MD&A) resolve to the
most precise fact.

Which year is which: the newer filing's fiscal year (`newer`), the prior year as the newer filing
states it (`newer_prior`: restated or split-adjusted where the company restated), and the older
filing's own fiscal year (`older`). The change compares `newer` with `newer_prior` when the newer
filing states it (like for like, as the company reports it), else with `older`; `restated` says
that the two statements of the prior year differ beyond rounding. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Iterable

import statement_tables
from xbrl_facts import Context, Fact, InlineXbrl

STATUS_OK, STATUS_PARTIAL, STATUS_UNAVAILABLE = "ok", "partial", "unavailable"
SOURCE_XBRL, SOURCE_TABLES = "inline_xbrl", "statement_tables"
INCOME, BALANCE, CASH_FLOW, COVER, DERIVED = "income", "balance", "cash_flow", "cover", "derived"
DURATION, INSTANT = "duration", "instant"
YEAR_DAYS = (350, 380)  # a fiscal year: 52 or 53 weeks, 365 or 366 days
PRIOR_GAP_DAYS = 10  # the prior year ends at most this many days before the fiscal year starts


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str  # USD | USD/share | shares | pure
    statement: str  # income | balance | cash_flow | cover | derived
    period: str  # duration | instant
    concepts: tuple[str, ...] = ()  # standard concepts, preferred first
    line: str | None = None  # regex: the statement row's label (extension concepts, printed tables)
    not_line: str | None = None  # regex: labels that look alike but are another line
    positive: bool = False  # reported as a positive amount whatever the tagging (capex, buybacks)
    required: bool = False
    said: str | None = None  # regex: how MD&A's sentences name it ("net sales", "income from operations")

    def reads_as_line(self, label: str | None) -> bool:
        if not label or not self.line:
            return False
        text = " ".join(label.lower().replace("’", "'").split())
        return re.search(self.line, text) is not None and not (self.not_line and re.search(self.not_line, text))


def _us(*names: str) -> tuple[str, ...]:
    return tuple(f"us-gaap:{name}" for name in names)


METRICS: tuple[Metric, ...] = (
    Metric("revenue", "Revenue", "USD", INCOME, DURATION, _us(
        "Revenues", "RevenueFromContractWithCustomerExcludingAssessedTax", "RevenueFromContractWithCustomerIncludingAssessedTax",
        "SalesRevenueNet", "SalesRevenueGoodsNet", "RevenuesNetOfInterestExpense"),
        line=r"^(total )?(net )?(revenues?|sales)\b|^total (net )?(revenues?|sales)",
        not_line=r"cost|deferred|unearned|percent|%", required=True, said=r"\b(net revenues?|revenues?|net sales|sales)\b"),
    Metric("gross_profit", "Gross profit", "USD", INCOME, DURATION, _us("GrossProfit"), line=r"^gross (profit|margin)\b",
           said=r"\bgross (profit|margin)\b"),
    Metric("operating_income", "Operating income", "USD", INCOME, DURATION, _us("OperatingIncomeLoss"),
           line=r"^(total )?(operating (income|profit|loss)|(income|loss|earnings)( \(loss\))? from operations)",
           not_line=r"non-?operating|other operating", required=True,
           said=r"\b(operating (income|loss|profit)|(income|loss|earnings) from operations)\b"),
    Metric("net_income", "Net income", "USD", INCOME, DURATION, _us(
        "NetIncomeLoss", "ProfitLoss", "NetIncomeLossAvailableToCommonStockholdersBasic"),
        line=r"^net (income|earnings|loss)", not_line=r"per share|noncontrolling|non-controlling|minority|before|continuing",
        required=True, said=r"\bnet (income|earnings|loss)\b"),
    Metric("eps_diluted", "Diluted earnings per share", "USD/share", INCOME, DURATION, _us(
        "EarningsPerShareDiluted", "EarningsPerShareBasicAndDiluted"), line=r"diluted", not_line=r"shares|weighted|average",
        required=True, said=r"\b(per (diluted )?share|eps)\b"),
    Metric("total_assets", "Total assets", "USD", BALANCE, INSTANT, _us("Assets"), line=r"^total assets$", required=True, said=r"\btotal assets\b"),
    Metric("cash_and_equivalents", "Cash and cash equivalents", "USD", BALANCE, INSTANT, _us(
        "CashAndCashEquivalentsAtCarryingValue", "CashCashEquivalentsRestrictedCashAndRestrictedCashEquivalents",
        "Cash", "CashAndDueFromBanks"), line=r"^cash and (cash )?equivalents", required=True, said=r"\bcash and cash equivalents\b"),
    Metric("long_term_debt", "Long-term debt", "USD", BALANCE, INSTANT, _us(
        "LongTermDebtNoncurrent", "LongTermDebtAndCapitalLeaseObligations", "LongTermDebt"),
        line=r"^long-term debt", not_line=r"current portion|due within", said=r"\b(long-term debt|borrowings|senior notes)\b"),
    Metric("stockholders_equity", "Shareholders' equity", "USD", BALANCE, INSTANT, _us(
        "StockholdersEquity", "StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest"),
        line=r"^total (share|stock)holders' (equity|deficit)", said=r"\b(stock|share)holders['’] equity\b"),
    Metric("operating_cash_flow", "Operating cash flow", "USD", CASH_FLOW, DURATION, _us(
        "NetCashProvidedByUsedInOperatingActivities", "NetCashProvidedByUsedInOperatingActivitiesContinuingOperations"),
        line=r"(provided|generated|used).{0,20}operating activities|^cash (flows? )?from operating activities", required=True,
        said=r"\b(operating activities|cash (flows? )?from operations|operating cash flows?)\b"),
    Metric("capital_expenditures", "Capital expenditures", "USD", CASH_FLOW, DURATION, _us(
        "PaymentsToAcquirePropertyPlantAndEquipment", "PaymentsToAcquireProductiveAssets", "PaymentsForCapitalImprovements"),
        line=r"(purchases?|payments?|additions?|acquisitions?|expenditures?|investments?) (of |for |to |in |related to )?.{0,40}"
             r"(property|plant|equipment|productive|fixed assets)|capital expenditures",
        not_line=r"^(proceeds|sales? of)|included in|non-?cash|accrued", positive=True, required=True,
        said=r"\b(capital expenditures|purchases of property|property and equipment)\b"),
    Metric("share_repurchases", "Share repurchases", "USD", CASH_FLOW, DURATION, _us(
        "PaymentsForRepurchaseOfCommonStock", "PaymentsForRepurchaseOfEquity"),
        line=r"(repurchases?|purchases?|buybacks?) of (common )?(stock|shares)|treasury stock", positive=True,
        said=r"\b(repurchase[sd]?|buybacks?)\b"),
    Metric("dividends_per_share", "Dividends per share", "USD/share", INCOME, DURATION, _us(
        "CommonStockDividendsPerShareDeclared", "CommonStockDividendsPerShareCashPaid"), said=r"\bdividends?\b"),
    Metric("shares_outstanding", "Shares outstanding", "shares", COVER, INSTANT, ("dei:EntityCommonStockSharesOutstanding",)),
    Metric("gross_margin", "Gross margin", "pure", DERIVED, DURATION, said=r"\bgross margin\b"),
    Metric("operating_margin", "Operating margin", "pure", DERIVED, DURATION, said=r"\boperating margin\b"),
    Metric("net_margin", "Net margin", "pure", DERIVED, DURATION, said=r"\bnet (income |profit )?margin\b"),
    Metric("free_cash_flow", "Free cash flow", "USD", DERIVED, DURATION, said=r"\bfree cash flow\b"),
)
METRIC_BY_NAME = {m.name: m for m in METRICS}
REQUIRED = tuple(m.name for m in METRICS if m.required)
# derived metric -> (numerator, denominator) for a ratio, or (minuend, subtrahend) for a difference
RATIOS = {"gross_margin": ("gross_profit", "revenue"), "operating_margin": ("operating_income", "revenue"),
          "net_margin": ("net_income", "revenue")}
DIFFERENCES = {"free_cash_flow": ("operating_cash_flow", "capital_expenditures")}

SEGMENT_AXIS = "us-gaap:StatementBusinessSegmentsAxis"
CONSOLIDATION_AXIS = "srt:ConsolidationItemsAxis"
OPERATING_SEGMENTS = "us-gaap:OperatingSegmentsMember"  # a qualifier: segment contexts from ASU 2023-07 on carry it
RECONCILING_MEMBERS = frozenset((
    "us-gaap:CorporateNonSegmentMember", "us-gaap:IntersegmentEliminationMember",
    "us-gaap:SegmentReconcilingItemsMember", "us-gaap:MaterialReconcilingItemsMember",
))
SEGMENT_METRICS = ("revenue", "operating_income")


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One value of one metric for one fiscal year, as one filing states it."""

    value: Decimal
    period_end: str  # ISO date: the end of the duration, or the instant
    period_start: str | None = None
    concept: str | None = None
    line: str | None = None  # the statement row's label as printed
    element_id: str | None = None  # the fact's element in the SEC document
    decimals: float | None = None  # precision as the filer states it (None: unknown, e.g. a printed table)
    source: str = SOURCE_XBRL

    def to_dict(self, document_url: str | None) -> dict[str, Any]:
        link = f"{document_url}#{self.element_id}" if document_url and self.element_id else document_url
        return {"period_end": self.period_end, "value": number(self.value), "link": link, "concept": self.concept,
                "line": self.line, "source": self.source}


@dataclass(frozen=True)
class FilingFigures:
    """What one filing states: its fiscal year and the prior year, per metric."""

    source: str | None  # inline_xbrl | statement_tables | None (nothing usable)
    fiscal_year_end: str | None
    current: dict[str, Figure]
    prior: dict[str, Figure]
    segments: dict[str, dict[str, dict[str, Figure]]]  # member -> metric -> {"current"|"prior": Figure}
    segment_labels: dict[str, str]
    reconciling: frozenset[str] = frozenset()
    reason: str | None = None  # why nothing usable was found


def number(value: Decimal | None) -> int | float | None:
    """A JSON number: an integer when the value is whole (full units), else a float."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


# --------------------------------------------------------------------------------------------------
# One filing
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Periods:
    """The consolidated contexts of the fiscal year and of the prior year, by id."""

    current_duration: frozenset[str]
    current_instant: frozenset[str]
    prior_duration: frozenset[str]
    prior_instant: frozenset[str]
    fiscal_year: Context

    def role(self, context: Context | None, period: str) -> str | None:
        if context is None:
            return None
        if period == DURATION:
            return "current" if context.id in self.current_duration else "prior" if context.id in self.prior_duration else None
        return "current" if context.id in self.current_instant else "prior" if context.id in self.prior_instant else None


def _periods(xbrl: InlineXbrl) -> _Periods | None:
    year = xbrl.fiscal_year()
    if year is None:
        return None
    years = [c for c in xbrl.contexts.values() if not c.instant and YEAR_DAYS[0] <= c.days <= YEAR_DAYS[1]]
    start = date.fromisoformat(year.start)
    prior_ends = [c.end for c in years if 0 < (start - date.fromisoformat(c.end)).days <= PRIOR_GAP_DAYS]
    prior_end = max(prior_ends) if prior_ends else None
    consolidated = [c for c in xbrl.contexts.values() if c.consolidated]
    return _Periods(
        current_duration=frozenset(c.id for c in consolidated if not c.instant and c.end == year.end and YEAR_DAYS[0] <= c.days <= YEAR_DAYS[1]),
        current_instant=frozenset(c.id for c in consolidated if c.instant and c.end == year.end),
        prior_duration=frozenset(c.id for c in consolidated if not c.instant and c.end == prior_end and YEAR_DAYS[0] <= c.days <= YEAR_DAYS[1]),
        prior_instant=frozenset(c.id for c in consolidated if c.instant and c.end == prior_end),
        fiscal_year=year,
    )


def _statement_tables(xbrl: InlineXbrl, periods: _Periods) -> dict[str, set[int]]:
    """statement -> the tables printing it: the table with the most fiscal-year facts among those
    printing its anchor fact, and the next table when the statement runs on over a page break."""
    anchors = {
        CASH_FLOW: (_us("NetCashProvidedByUsedInOperatingActivities", "NetCashProvidedByUsedInOperatingActivitiesContinuingOperations"), DURATION),
        BALANCE: (_us("Assets", "LiabilitiesAndStockholdersEquity"), INSTANT),
        INCOME: (_us("EarningsPerShareDiluted", "EarningsPerShareBasicAndDiluted", "EarningsPerShareBasic"), DURATION),
    }
    # without EPS (a company with no public shares), the income statement is the table of its revenue;
    # net income is no anchor: the cash flow statement starts with it
    current = periods.current_duration | periods.current_instant
    facts_per_table: dict[int, int] = {}
    holders: dict[str, set[int]] = {kind: set() for kind in anchors}
    for fact in xbrl.facts:
        if fact.table is None or fact.context not in current:
            continue
        facts_per_table[fact.table] = facts_per_table.get(fact.table, 0) + 1
        for kind, (concepts, period) in anchors.items():
            ids = periods.current_duration if period == DURATION else periods.current_instant
            if fact.concept in concepts and fact.context in ids:
                holders[kind].add(fact.table)
    if not holders[INCOME]:
        revenue = METRIC_BY_NAME["revenue"].concepts
        holders[INCOME] = {f.table for f in xbrl.facts if f.table is not None and f.concept in revenue and f.context in periods.current_duration}
    out: dict[str, set[int]] = {}
    claimed = {table for tables in holders.values() for table in tables}
    for kind, tables in holders.items():
        if not tables:
            continue
        main = max(tables, key=lambda t: (facts_per_table.get(t, 0), -t))
        chosen = {main}
        following = main + 1
        if following in facts_per_table and following not in claimed:
            chosen.add(following)
        out[kind] = chosen
    return out


def _pick(metric: Metric, facts: list[Fact], statement_tables: set[int]) -> Fact | None:
    """The metric's fact among the candidate facts of one period (see the module docstring)."""
    if not facts:
        return None
    order = {concept: n for n, concept in enumerate(metric.concepts)}
    def best(candidates: Iterable[Fact]) -> Fact | None:
        ranked = sorted(candidates, key=lambda f: (order.get(f.concept, len(order)), -_precision(f), f.index))
        return ranked[0] if ranked else None
    on_statement = [f for f in facts if f.table in statement_tables]
    return (
        best(f for f in on_statement if f.concept in order)
        or best(f for f in on_statement if f.extension and metric.reads_as_line(f.row_label))
        or best(f for f in facts if f.concept in order and not f.hidden)
        or best(f for f in facts if f.concept in order)
    )


def _precision(fact: Fact) -> float:
    return -1e9 if fact.decimals is None else fact.decimals


def read_filing(xbrl: InlineXbrl | None, tables: tuple = (), fiscal_year_end: str | None = None) -> FilingFigures:
    """The key figures and segments one filing states, from its inline XBRL, else from its printed
    statement tables."""
    if xbrl is not None and len(xbrl):
        figures = _from_xbrl(xbrl)
        if figures.current:
            return figures
        reason = figures.reason
    else:
        reason = "the document has no inline XBRL"
    printed = statement_tables.read_figures(tables, fiscal_year_end) if tables else None
    if printed is not None and printed.current:
        current = {name: _printed_figure(name, value) for name, value in printed.current.items()}
        prior = {name: _printed_figure(name, value) for name, value in printed.prior.items()}
        return FilingFigures(SOURCE_TABLES, printed.fiscal_year_end, current, prior, {}, {})
    if xbrl is None or not len(xbrl):
        reason = f"{reason}, and no consolidated statement table with a key figure was found in it"
    return FilingFigures(None, None, {}, {}, {}, {}, reason=reason)


def _printed_figure(name: str, value: statement_tables.PrintedValue) -> Figure:
    metric = METRIC_BY_NAME[name]
    amount = abs(value.value) if metric.positive else value.value
    return Figure(amount, value.period_end, None, None, value.line, None, None, SOURCE_TABLES)


def _from_xbrl(xbrl: InlineXbrl) -> FilingFigures:
    periods = _periods(xbrl)
    if periods is None:
        return FilingFigures(SOURCE_XBRL, None, {}, {}, {}, {}, reason="the inline XBRL names no fiscal year")
    statements = _statement_tables(xbrl, periods)
    by_concept: dict[str, list[Fact]] = {}
    wanted = {c for m in METRICS for c in m.concepts}
    for fact in xbrl.facts:
        if fact.value is None:
            continue
        if fact.concept in wanted or fact.extension:
            by_concept.setdefault(fact.concept, []).append(fact)
    current: dict[str, Figure] = {}
    prior: dict[str, Figure] = {}
    for metric in METRICS:
        if metric.statement in (DERIVED, COVER):
            continue
        tables = statements.get(metric.statement, set())
        candidates: dict[str, list[Fact]] = {"current": [], "prior": []}
        concepts = list(metric.concepts) + ([c for c in by_concept if c.split(":")[0] not in ("us-gaap", "dei", "srt")] if tables else [])
        for concept in concepts:
            for fact in by_concept.get(concept, ()):
                if fact.unit != metric.unit:
                    continue
                role = periods.role(xbrl.contexts.get(fact.context), metric.period)
                if role:
                    candidates[role].append(fact)
        for role, out in (("current", current), ("prior", prior)):
            fact = _pick(metric, candidates[role], tables)
            if fact is not None:
                out[metric.name] = _figure(metric, fact, xbrl.contexts[fact.context])
    shares = _shares_outstanding(xbrl)
    if shares is not None:
        current["shares_outstanding"] = shares
    reason = None
    if not any(name in current for name in ("total_assets", "operating_cash_flow", "revenue")):
        reason = "the financial statements are not in the primary document (no fiscal-year fact for total assets, operating cash flow or revenue)"
        current = {}
        prior = {}
    segments, labels, reconciling = _segments(xbrl, periods, current)
    return FilingFigures(SOURCE_XBRL, periods.fiscal_year.end, current, prior, segments, labels, reconciling, reason)


def _figure(metric: Metric, fact: Fact, context: Context) -> Figure:
    value = abs(fact.value) if metric.positive else fact.value
    return Figure(value, context.end, context.start, fact.concept, fact.row_label, fact.element_id, fact.decimals)


def _shares_outstanding(xbrl: InlineXbrl) -> Figure | None:
    """dei:EntityCommonStockSharesOutstanding of the cover page, summed over share classes."""
    facts = [f for f in xbrl.best_facts() if f.concept == "dei:EntityCommonStockSharesOutstanding" and f.value is not None]
    if not facts:
        return None
    dates = {xbrl.contexts[f.context].end for f in facts if f.context in xbrl.contexts}
    if len(dates) != 1:
        latest = max(dates) if dates else None
        facts = [f for f in facts if f.context in xbrl.contexts and xbrl.contexts[f.context].end == latest]
    consolidated = [f for f in facts if f.context in xbrl.contexts and xbrl.contexts[f.context].consolidated]
    chosen = consolidated or facts
    total = sum((f.value for f in chosen), Decimal(0))
    first = chosen[0]
    context = xbrl.contexts.get(first.context)
    return Figure(total, context.end if context else "", None, first.concept, None, first.element_id, first.decimals)


# --------------------------------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------------------------------


def _segment_member(context: Context) -> tuple[str, bool] | None:
    """(member, is a reconciling item) when the context is a reportable segment (the business
    segments axis alone, or with the operating-segments qualifier) or a reconciling item."""
    axes = dict(context.dimensions)
    consolidation = axes.pop(CONSOLIDATION_AXIS, None)
    if set(axes) == {SEGMENT_AXIS} and consolidation in (None, OPERATING_SEGMENTS):
        return axes[SEGMENT_AXIS], False
    if not axes and consolidation in RECONCILING_MEMBERS:
        return consolidation, True
    return None


def _segments(xbrl: InlineXbrl, periods: _Periods, current: dict[str, Figure]):
    years = {
        "current": {c.id for c in xbrl.contexts.values()
                    if not c.instant and c.end == periods.fiscal_year.end and YEAR_DAYS[0] <= c.days <= YEAR_DAYS[1]},
        "prior": set(),
    }
    prior_end = next((xbrl.contexts[c].end for c in periods.prior_duration if c in xbrl.contexts), None)
    if prior_end:
        years["prior"] = {c.id for c in xbrl.contexts.values() if not c.instant and c.end == prior_end and YEAR_DAYS[0] <= c.days <= YEAR_DAYS[1]}
    revenue_concepts = METRIC_BY_NAME["revenue"].concepts
    preferred = current["revenue"].concept if "revenue" in current else None
    concepts = {"revenue": ((preferred,) if preferred else ()) + revenue_concepts,
                "operating_income": METRIC_BY_NAME["operating_income"].concepts}
    out: dict[str, dict[str, dict[str, Figure]]] = {}
    reconciling: set[str] = set()
    found: dict[tuple[str, str, str], list[Fact]] = {}
    for fact in xbrl.best_facts():
        if fact.unit != "USD":
            continue
        context = xbrl.contexts.get(fact.context)
        if context is None or context.consolidated:
            continue
        role = "current" if context.id in years["current"] else "prior" if context.id in years["prior"] else None
        if role is None:
            continue
        member = _segment_member(context)
        if member is None:
            continue
        for metric, names in concepts.items():
            if fact.concept in names:
                found.setdefault((member[0], metric, role), []).append(fact)
                if member[1]:
                    reconciling.add(member[0])
    for (member, metric, role), facts in found.items():
        names = concepts[metric]
        fact = min(facts, key=lambda f: (names.index(f.concept), -_precision(f)))
        context = xbrl.contexts[fact.context]
        out.setdefault(member, {}).setdefault(metric, {})[role] = Figure(
            fact.value, context.end, context.start, fact.concept, fact.row_label, fact.element_id, fact.decimals)
    labels = {member: member_label(member) for member in out}
    return out, labels, frozenset(reconciling)


_RECONCILING_LABELS = {
    "us-gaap:CorporateNonSegmentMember": "Corporate and other (not in a segment)",
    "us-gaap:IntersegmentEliminationMember": "Intersegment eliminations",
    "us-gaap:SegmentReconcilingItemsMember": "Reconciling items",
    "us-gaap:MaterialReconcilingItemsMember": "Reconciling items",
}


def _same_segment(old_member: str, candidates: list[str]) -> str | None:
    """A newer member naming the same segment: the same words, or one's words within the other's
    ("Sams Club" and "Sams Club US", "Compute and Networking" in either spelling)."""
    old_words = set(member_label(old_member).lower().split()) - {"and", "of", "the"}
    for member in candidates:
        new_words = set(member_label(member).lower().split()) - {"and", "of", "the"}
        if old_words and new_words and (old_words <= new_words or new_words <= old_words):
            return member
    return None


def member_label(member: str) -> str:
    """"aapl:GreaterChinaSegmentMember" -> "Greater China" (the member's own words: its label is in
    the taxonomy's label linkbase, which the document does not carry)."""
    if member in _RECONCILING_LABELS:
        return _RECONCILING_LABELS[member]
    local = member.split(":", 1)[-1]
    local = re.sub(r"(Reportable)?(Operating)?(Business)?Segments?Member$|Member$", "", local) or local
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[0-9]+", local)
    if not words:
        return local
    small = {"and", "of", "the", "for", "in", "to", "non"}
    text = " ".join(w if (w.isupper() and len(w) > 1) or n == 0 else (w.lower() if w.lower() in small else w) for n, w in enumerate(words))
    return text[0].upper() + text[1:]


# --------------------------------------------------------------------------------------------------
# Two filings: the report's key_figures
# --------------------------------------------------------------------------------------------------


def compare(older: FilingFigures, newer: FilingFigures, *, older_url: str | None = None, newer_url: str | None = None) -> dict[str, Any]:
    """`report["key_figures"]`: every metric year over year, segments, status and source."""
    if newer.source is None or older.source is None:
        missing = [(label, f) for label, f in (("newer", newer), ("older", older)) if f.source is None]
        reasons = "; ".join(f"{label} filing: {f.reason}" for label, f in missing)
        if newer.source is None and older.source is None:
            return {"status": STATUS_UNAVAILABLE, "reason": reasons, "source": None, "metrics": {}, "segments": []}
    else:
        reasons = None
    metrics: dict[str, Any] = {}
    for metric in METRICS:
        if metric.statement == DERIVED:
            continue
        entry = _metric_entry(metric, older.current.get(metric.name), newer.current.get(metric.name),
                              newer.prior.get(metric.name), older_url, newer_url)
        if entry is not None or metric.required:
            metrics[metric.name] = entry or _missing(metric)
    for name in (*RATIOS, *DIFFERENCES):
        entry = _derived_entry(METRIC_BY_NAME[name], metrics)
        if entry is not None:
            metrics[name] = entry
    split = stock_split(metrics.get("eps_diluted"))
    if split and "shares_outstanding" in metrics and metrics["shares_outstanding"]["change"]:
        metrics["shares_outstanding"]["change"] = None  # counts on either side of a split do not compare
        metrics["shares_outstanding"]["note"] = f"not comparable: the newer filing restates per-share figures for a {split}-for-1 split"
    incomplete = [name for name in REQUIRED if metrics[name]["older"] is None or metrics[name]["newer"] is None]
    status = STATUS_OK if not incomplete and not reasons else STATUS_PARTIAL
    reason = reasons
    if incomplete:
        reason = "; ".join(filter(None, [reasons, "not stated in both filings: " + ", ".join(incomplete)]))
    return {
        "status": status,
        "reason": reason,
        "source": newer.source or older.source,
        "stock_split": split,
        "fiscal_years": {"older": older.fiscal_year_end, "newer": newer.fiscal_year_end},
        "metrics": metrics,
        "segments": _segment_entries(older, newer, older_url, newer_url),
    }


def stock_split(eps: dict | None) -> int | None:
    """The split ratio when the newer filing restates last year's EPS by a whole factor (NVIDIA's
    10-for-1: 11.93 as filed, 1.19 as restated), else None."""
    if not eps or not eps.get("restated") or not eps["older"] or not eps["newer_prior"]:
        return None
    filed, restated_value = eps["older"]["value"], eps["newer_prior"]["value"]
    if not filed or not restated_value or (filed > 0) != (restated_value > 0):
        return None
    ratio = filed / restated_value
    whole = round(ratio)
    return whole if whole >= 2 and abs(ratio - whole) / whole < 0.02 else None


def _missing(metric: Metric) -> dict[str, Any]:
    return {"label": metric.label, "concept": None, "unit": metric.unit, "older": None, "newer": None,
            "newer_prior": None, "change": None, "restated": False}


def _metric_entry(metric: Metric, older: Figure | None, newer: Figure | None, newer_prior: Figure | None,
                  older_url: str | None, newer_url: str | None) -> dict[str, Any] | None:
    if older is None and newer is None:
        return None
    return {
        "label": metric.label,
        "concept": (newer or older).concept,
        "unit": metric.unit,
        "older": older.to_dict(older_url) if older else None,
        "newer": newer.to_dict(newer_url) if newer else None,
        "newer_prior": newer_prior.to_dict(newer_url) if newer_prior else None,
        "change": change(newer, newer_prior if newer_prior is not None else older, "newer_prior" if newer_prior is not None else "older"),
        "restated": restated(older, newer_prior),
    }


def change(newer: Figure | None, base: Figure | None, basis: str) -> dict[str, Any] | None:
    if newer is None or base is None:
        return None
    absolute = newer.value - base.value
    percent = None if base.value == 0 else float(absolute / abs(base.value) * 100)
    return {"absolute": number(absolute), "percent": None if percent is None else round(percent, 2), "basis": basis}


def restated(older: Figure | None, newer_prior: Figure | None) -> bool:
    """The newer filing's prior year differs from the older filing's figure beyond rounding: the
    coarser of the two precisions decides (a figure in millions is exact to half a million)."""
    if older is None or newer_prior is None:
        return False
    if older.period_end != newer_prior.period_end:
        return False
    precisions = [p for p in (older.decimals, newer_prior.decimals) if p is not None]
    tolerance = Decimal(5).scaleb(-int(min(precisions)) - 1) if precisions and min(precisions) != float("inf") else Decimal(0)
    return abs(older.value - newer_prior.value) > tolerance


def _derived_entry(metric: Metric, metrics: dict[str, Any]) -> dict[str, Any] | None:
    """Margins and free cash flow, from the figures above (never from a figure of another year)."""
    if metric.name in RATIOS:
        top, bottom = RATIOS[metric.name]
        combine = lambda a, b: None if not b else round(a / b, 6)  # noqa: E731
    else:
        top, bottom = DIFFERENCES[metric.name]
        combine = lambda a, b: a - b  # noqa: E731
    a, b = metrics.get(top), metrics.get(bottom)
    if not a or not b:
        return None
    values = {}
    for side in ("older", "newer", "newer_prior"):
        x, y = a.get(side), b.get(side)
        if x and y and x["period_end"] == y["period_end"] and x["value"] is not None and y["value"] is not None:
            values[side] = {"period_end": x["period_end"], "value": combine(x["value"], y["value"]), "link": None,
                            "concept": None, "line": None, "source": x.get("source")}
        else:
            values[side] = None
    if values["older"] is None and values["newer"] is None:
        return None
    base_side = "newer_prior" if values["newer_prior"] else "older"
    base = values[base_side]
    delta = None
    if values["newer"] and base and values["newer"]["value"] is not None and base["value"] is not None:
        absolute = values["newer"]["value"] - base["value"]
        delta = {"absolute": round(absolute, 6) if metric.unit == "pure" else absolute,
                 "percent": None if metric.unit == "pure" or not base["value"] else round(absolute / abs(base["value"]) * 100, 2),
                 "basis": base_side}
    return {"label": metric.label, "concept": None, "unit": metric.unit, **values, "change": delta,
            "restated": False, "derived_from": [top, bottom]}


def _segment_entries(older: FilingFigures, newer: FilingFigures, older_url: str | None, newer_url: str | None) -> list[dict]:
    # a member renamed between the years ("ComputeAndNetworkingMember" -> "...SegmentMember") is the
    # same segment when its words are the same
    renamed = {}
    for old_member in older.segments:
        if old_member in newer.segments:
            continue
        match = _same_segment(old_member, [m for m in newer.segments if m not in older.segments])
        if match:
            renamed[old_member] = match
    older_segments = {renamed.get(m, m): v for m, v in older.segments.items()}
    older = FilingFigures(older.source, older.fiscal_year_end, older.current, older.prior, older_segments,
                          older.segment_labels, frozenset(renamed.get(m, m) for m in older.reconciling), older.reason)
    members = list(newer.segments) + [m for m in older.segments if m not in newer.segments]
    tagged = {side: any(m not in f.reconciling for m in f.segments) for side, f in (("older", older), ("newer", newer))}
    entries = []
    for member in members:
        in_newer = any("current" in v for v in newer.segments.get(member, {}).values())
        in_older = any("current" in v for v in older.segments.get(member, {}).values())
        if in_newer and in_older:
            status = "continuing"
        elif in_newer:  # a filing that tags no segment at all did not drop or add one (ASU 2023-07 single segments)
            status = "new" if tagged["older"] else "first_reported"
        else:
            status = "dropped" if tagged["newer"] else "no_longer_reported"
        entry: dict[str, Any] = {
            "member": member,
            "label": member_label(member),
            "kind": "reconciling" if member in newer.reconciling | older.reconciling else "segment",
            "status": status,
        }
        for metric_name in SEGMENT_METRICS:
            metric = METRIC_BY_NAME[metric_name]
            o = older.segments.get(member, {}).get(metric_name, {}).get("current")
            n = newer.segments.get(member, {}).get(metric_name, {}).get("current")
            p = newer.segments.get(member, {}).get(metric_name, {}).get("prior")
            entry[metric_name] = _metric_entry(metric, o, n, p, older_url, newer_url)
        if entry["revenue"] is None and entry["operating_income"] is None:
            continue
        entries.append(entry)
    entries.sort(key=lambda e: (e["kind"] != "segment", e["status"] == "dropped",
                                -abs(((e["revenue"] or {}).get("newer") or (e["revenue"] or {}).get("older") or {}).get("value") or 0)))
    return entries


def key_figures(older, newer, *, older_period: str | None = None, newer_period: str | None = None,
                older_url: str | None = None, newer_url: str | None = None) -> dict[str, Any]:
    """The report's `key_figures` from the two extracted filings' facts (or printed statements)."""
    return compare(
        read_filing(older.xbrl, older.statement_tables, older_period),
        read_filing(newer.xbrl, newer.statement_tables, newer_period),
        older_url=older_url, newer_url=newer_url,
    )
