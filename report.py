"""The report object: what is stored in `reports.report` and what `python -m worker report --json` writes.

One pure function assembles it from the stage results, so the stored report and the CLI output can
never drift apart. README.md documents every field; bump `SCHEMA_VERSION` on incompatible changes.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import defaults
from ai_analyzer import AiSummaries
from diff_analyzer import FilingDiff
from quality_validator import QualityReport
from section_extractor import ITEM_ORDER, ExtractedFiling
from sec_fetcher import AnnualReportPair

SCHEMA_VERSION = 2


def build_report(
    *,
    report_id: str,
    job_id: str,
    pair: AnnualReportPair,
    older: ExtractedFiling,
    newer: ExtractedFiling,
    key_figures: dict[str, Any],
    diff: FilingDiff,
    highlights: list[dict[str, Any]] | None = None,
    summaries: AiSummaries,
    quality: QualityReport,
    generation_time_seconds: float,
    stage_seconds: dict[str, float],
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "report_id": report_id,
        "job_id": job_id,
        "ticker": pair.company.ticker,
        "company_name": pair.company.name,
        "cik": pair.company.cik10,
        "filings": {"older": pair.older.provenance(), "newer": pair.newer.provenance()},
        "items": {
            "older": {item: older.items[item].summary() for item in ITEM_ORDER},
            "newer": {item: newer.items[item].summary() for item in ITEM_ORDER},
        },
        "extraction": {
            label: {"method": f.method, "source_format": f.source_format, "warnings": list(f.warnings),
                    "financial_statements": f.financial_statements}
            for label, f in (("older", older), ("newer", newer))
        },
        "key_figures": key_figures,
        "highlights": highlights or [],
        "diff": diff.to_dict(with_changes=False),
        "ai_summaries": summaries.to_dict(),
        "ai_provider": summaries.provider,
        "ai_model": summaries.model,
        "quality": quality.to_dict(),
        "extraction_issues": [issue.to_dict() for issue in quality.issues],
        "ai_cost_usd": round(summaries.cost_usd, 6),
        "total_tokens": summaries.total_tokens,
        "generation_time_seconds": round(generation_time_seconds, 3),
        "stage_seconds": {k: round(v, 3) for k, v in stage_seconds.items()},
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "worker_version": defaults.VERSION,
    }
