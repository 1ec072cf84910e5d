"""The report object: what is stored in `reports.report` and what `python -m worker report --json` writes.

One pure function assembles it from the stage results (`StageResults`), so the stored report and
the CLI output can never drift apart. README.md documents every field; bump `SCHEMA_VERSION` on
incompatible changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import defaults
from ai_analyzer import AiSummaries
from diff_analyzer import FilingDiff
from highlights import Highlight
from quality_validator import QualityReport
from form_10k import ITEM_ORDER
from section_extractor import ExtractedFiling
from sec_fetcher import AnnualReportPair

SCHEMA_VERSION = 2
MAX_BYTES = 300_000  # the stored report (JSON, UTF-8); larger ones are compacted (`within_size`)
HEAD_HIGHLIGHTS = defaults.HIGHLIGHTS_OPEN  # the highlights a reader sees first keep their redlines whatever the size


@dataclass(frozen=True)
class StageResults:
    """What the pipeline's stages made for one job, stage by stage: all a report is assembled from."""

    pair: AnnualReportPair  # fetching: the company and its two annual reports
    older: ExtractedFiling  # extracting
    newer: ExtractedFiling
    key_figures: dict[str, Any]
    diff: FilingDiff  # diffing
    highlights: list[Highlight]  # ranked, most telling first
    summaries: AiSummaries  # summarizing
    quality: QualityReport  # validating: the refund decision too


def build_report(
    results: StageResults, *, report_id: str, job_id: str, generation_time_seconds: float, stage_seconds: dict[str, float]
) -> dict[str, Any]:
    """The report object of one run: the stage results, under the run's ids and timings."""
    pair, summaries, quality = results.pair, results.summaries, results.quality
    return within_size({
        "schema_version": SCHEMA_VERSION,
        "report_id": report_id,
        "job_id": job_id,
        "ticker": pair.company.ticker,
        "company_name": pair.company.name,
        "cik": pair.company.cik10,
        "filings": {"older": pair.older.provenance(), "newer": pair.newer.provenance()},
        "items": {
            "older": {item: results.older.items[item].summary() for item in ITEM_ORDER},
            "newer": {item: results.newer.items[item].summary() for item in ITEM_ORDER},
        },
        "extraction": {
            label: {"method": f.method, "source_format": f.source_format, "warnings": list(f.warnings),
                    "financial_statements": f.financial_statements}
            for label, f in (("older", results.older), ("newer", results.newer))
        },
        "key_figures": results.key_figures,
        "highlights": [highlight.to_dict() for highlight in results.highlights],
        "diff": results.diff.to_dict(with_changes=False),
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
        "compacted": [],
    })


def within_size(report: dict[str, Any], max_bytes: int = MAX_BYTES) -> dict[str, Any]:
    """The long tail made compact until the report fits: fewer number changes per item in the diff,
    then no redlines past the first highlights, then fewer highlights. `compacted` names each step
    taken; what a reader sees first (key figures, the first highlights, the summaries) is kept."""
    steps = (
        ("diff number changes: 10 per item", lambda r: _keep_number_changes(r, 10)),
        (f"highlights after the first {HEAD_HIGHLIGHTS}: no redline", _drop_tail_redlines),
        ("diff number changes: 3 per item", lambda r: _keep_number_changes(r, 3)),
        ("highlights: the first 30", lambda r: r.__setitem__("highlights", r["highlights"][:30])),
    )
    for name, step in steps:
        if _size(report) <= max_bytes:
            break
        step(report)
        report["compacted"].append(name)
    return report


def _size(report: dict[str, Any]) -> int:
    return len(json.dumps(report, ensure_ascii=False, default=str).encode())


def _keep_number_changes(report: dict[str, Any], count: int) -> None:
    for item in report["diff"]["items"].values():
        if len(item.get("number_changes") or ()) > count:
            item["number_changes"] = item["number_changes"][:count]  # stored most telling first


def _drop_tail_redlines(report: dict[str, Any]) -> None:
    for highlight in report["highlights"][HEAD_HIGHLIGHTS:]:
        highlight["redline"] = None
