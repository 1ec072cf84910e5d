"""Is the report worth the user's token? Issues with codes and severities, then a `RefundDecision`.

Pure functions over the extraction, the diff and the summaries. A refund happens if and only if an
issue is `blocking`; every issue, warnings too, is stored in the report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ai_analyzer import AiSummaries
from diff_analyzer import FilingDiff
from section_extractor import ExtractedFiling, ItemStatus

BLOCKING = "blocking"
WARNING = "warning"
CORE_ITEMS = ("1", "7")  # every 10-K since 1993 has these, in its body or by reference


@dataclass(frozen=True)
class QualityIssue:
    code: str
    severity: str
    message: str
    item: str | None = None
    filing: str | None = None  # older | newer
    value: float | None = None
    threshold: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RefundDecision:
    refund: bool
    reason: str | None
    codes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"refund": self.refund, "reason": self.reason, "codes": list(self.codes)}


@dataclass(frozen=True)
class QualityReport:
    issues: tuple[QualityIssue, ...]
    decision: RefundDecision

    @property
    def is_valid(self) -> bool:
        return not self.decision.refund

    def to_dict(self) -> dict:
        return {"is_valid": self.is_valid, "issues": [i.to_dict() for i in self.issues], "refund": self.decision.to_dict()}


def decide(issues: tuple[QualityIssue, ...]) -> RefundDecision:
    blocking = [i for i in issues if i.severity == BLOCKING]
    if not blocking:
        return RefundDecision(refund=False, reason=None)
    codes = tuple(dict.fromkeys(i.code for i in blocking))
    return RefundDecision(refund=True, reason="report quality below standard: " + ", ".join(codes), codes=codes)


def validate(older: ExtractedFiling, newer: ExtractedFiling, diff: FilingDiff, summaries: AiSummaries) -> QualityReport:
    issues: list[QualityIssue] = []
    for label, filing in (("older", older), ("newer", newer)):
        if filing.method == "none":
            issues.append(QualityIssue("NO_ITEMS_FOUND", BLOCKING, "no item headings were found", filing=label))
            continue
        for item in CORE_ITEMS:
            if filing.items[item].status is ItemStatus.MISSING:
                issues.append(QualityIssue("ITEM_MISSING", BLOCKING, f"Item {item} was not found", item=item, filing=label))
    omitted = {o.item for o in summaries.omitted_items}
    for item_diff in diff.ranked()[:5]:
        if item_diff.item not in summaries.items and item_diff.item not in omitted:
            issues.append(
                QualityIssue("AI_SUMMARY_MISSING", WARNING, f"Item {item_diff.item} changed but has no summary", item=item_diff.item)
            )
    issues_tuple = tuple(issues)
    return QualityReport(issues=issues_tuple, decision=decide(issues_tuple))
