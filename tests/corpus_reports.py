"""Real reports of the corpus pairs, for the renderer's tests and benchmark.

`corpus_reports(corpus, workdir)` runs the worker's whole pipeline (`process_job`, the offline
summarizer, a SQLite store) on every pair of `manifest.json`, against the EDGAR stand-in showing
EDGAR as it looked half a year after the pair's newer fiscal year ended (so both NVIDIA pairs are
the latest pair in their time), and returns the stored reports.

`with_highlights(report)` adds a ranked `highlights` list that follows the schema of issue 14
(key figures, number changes, risk factors) so the page can be rendered and looked at before the
real ranking is in the report. It is a stand-in for that ranking, not a model of materiality, and
steps aside for a report that has its own.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
import uuid
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

from config import Settings
from edgar_standin import EdgarStandIn
from job import parse_job_request
from worker import Services, process_job

USER_AGENT = "Report Worker Tests tests@example.com"
AS_OF_DAYS_AFTER_YEAR_END = 180  # every corpus company files its 10-K within 90 days


def corpus_pairs(corpus: Path) -> list[dict]:
    return json.loads((Path(corpus) / "manifest.json").read_text())["pairs"]


def pair_name(pair: dict) -> str:
    return f"{pair['ticker']}-{pair['newer_fiscal_year_end'][:4]}"


def corpus_reports(corpus: Path, workdir: Path, pairs: list[dict] | None = None) -> dict[str, dict]:
    """{"AAPL-2025": report, ...}: the stored report of each pair, made by the real pipeline."""
    workdir = Path(workdir)
    reports: dict[str, dict] = {}
    with EdgarStandIn(corpus) as edgar:
        settings = Settings.from_env(
            {
                "APP_ENV": "development",
                "SEC_USER_AGENT": USER_AGENT,
                "SEC_WWW_BASE_URL": edgar.base_url,
                "SEC_DATA_BASE_URL": edgar.base_url,
                "SQLITE_PATH": str(workdir / "reports.db"),
                "EDGAR_CACHE_MAX_MB": "0",  # each pair sees EDGAR at another date
                "LOG_LEVEL": "WARNING",
            },
            dotenv_path=None,
        )
        services = Services.build(settings)
        try:
            for pair in pairs or corpus_pairs(corpus):
                newer_end = date.fromisoformat(pair["newer_fiscal_year_end"])
                edgar.as_of = (newer_end + timedelta(days=AS_OF_DAYS_AFTER_YEAR_END)).isoformat()
                reports[pair_name(pair)] = _run(services, pair["ticker"])
        finally:
            services.close()
    return reports


def _run(services: Services, ticker: str) -> dict:
    request = parse_job_request({"job_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "ticker": ticker}, allowed_callback_hosts=())
    services.store.create_job(request, lease_owner=services.owner, lease_seconds=600)
    job = process_job(request.job_id, services)
    assert job is not None and job.report_id, f"{ticker}: no report ({job.error if job else 'no outcome'})"
    return services.store.get_report(job.report_id)


# --------------------------------------------------------------------------------------------------
# A stand-in for the ranked highlights of issue 14 (report["highlights"])
# --------------------------------------------------------------------------------------------------

_KEY_METRICS = ("revenue", "operating_income", "net_income", "eps_diluted", "operating_cash_flow", "capital_expenditures", "free_cash_flow")
_UNITS = {"USD": "USD", "USD/share": "USD/share", "shares": "shares", "pure": "pure"}


def with_highlights(report: dict, limit: int = 60) -> dict:
    """A copy of `report` with a `highlights` list in the schema of issue 14, ranked by a crude score;
    a report that already has its own highlights (the pipeline's, once they are in) keeps them."""
    report = copy.deepcopy(report)
    if report.get("highlights"):
        return report
    entries = _key_figure_highlights(report) + _number_change_highlights(report) + _risk_factor_highlights(report)
    entries.sort(key=lambda h: -h["materiality"])
    for rank, entry in enumerate(entries[:limit], start=1):
        entry["rank"] = rank
        entry["id"] = f"h{rank}"
    report["highlights"] = entries[:limit]
    return report


def _value(point: dict | None, unit: str | None) -> dict | None:
    if not point or point.get("value") is None:
        return None
    return {"value": point["value"], "unit": unit, "period": point.get("period_end"), "text": None}


def _key_figure_highlights(report: dict) -> list[dict]:
    metrics = (report.get("key_figures") or {}).get("metrics") or {}
    found = []
    for name in _KEY_METRICS:
        metric = metrics.get(name)
        if not metric or not metric.get("change") or metric["change"].get("percent") is None:
            continue
        prior = metric.get("newer_prior") or metric.get("older")
        percent = metric["change"]["percent"]
        verb = "rose" if percent > 0 else "fell" if percent < 0 else "was unchanged"
        found.append(
            {
                "kind": "key_figure",
                "item": None,
                "item_title": None,
                "headline": f"{metric['label']} {verb} {abs(percent):.1f}% in fiscal {metric['newer']['period_end'][:4]}.",
                "old": _value(prior, _UNITS.get(metric["unit"])),
                "new": _value(metric["newer"], _UNITS.get(metric["unit"])),
                "change": {"absolute": metric["change"]["absolute"], "percent": percent},
                "materiality": round(min(1.0, 0.55 + abs(percent) / 100), 3),
                "reasons": ["key figure", f"{metric['label'].lower()} {percent:+.1f}%"],
                "quotes": {
                    "old": {"text": prior.get("line") or metric["label"], "link": prior.get("link")},
                    "new": {"text": metric["newer"].get("line") or metric["label"], "link": metric["newer"].get("link")},
                },
                "redline": None,
            }
        )
    return found


def _number_change_highlights(report: dict) -> list[dict]:
    found = []
    newer_url = report["filings"]["newer"]["url"]
    older_url = report["filings"]["older"]["url"]
    for item, diff in (report.get("diff") or {}).get("items", {}).items():
        for change in diff.get("number_changes") or []:
            if change.get("churn") or change.get("old_value") is None or change.get("new_value") is None:
                continue
            words = f"{change.get('metric') or ''} {change.get('context') or ''}".lower()
            kind = (
                "capital_return" if re.search(r"repurchase|dividend", words)
                else "guidance" if re.search(r"expect|anticipate|outlook|guidance", words)
                else "number_change"
            )
            relative = change.get("relative_change")
            weight = {"7": 0.25, "1A": 0.2, "1": 0.15, "3": 0.2}.get(item, 0.05)
            old_context, new_context = change.get("old_context") or "", change.get("context") or ""
            found.append(
                {
                    "kind": kind,
                    "item": item,
                    "item_title": ((report.get("items") or {}).get("newer") or {}).get(item, {}).get("title"),
                    "headline": f"{(change.get('metric') or 'A figure').capitalize()}: {change['old_text']} became {change['new_text']}.",
                    "old": {"value": change["old_value"], "unit": change.get("unit"), "period": change.get("old_period"), "text": change["old_text"]},
                    "new": {"value": change["new_value"], "unit": change.get("unit"), "period": change.get("new_period"), "text": change["new_text"]},
                    "change": {"absolute": change.get("delta"), "percent": relative * 100 if relative is not None else None},
                    "materiality": round(min(0.95, weight + min(abs(relative or 0), 1) * 0.4), 3),
                    "reasons": [f"Item {item}", kind.replace("_", " ")],
                    "quotes": {
                        "old": {"text": old_context, "link": _text_fragment(older_url, old_context)} if old_context else None,
                        "new": {"text": new_context, "link": _text_fragment(newer_url, new_context)} if new_context else None,
                    },
                    "redline": _redline(old_context, new_context) if old_context and new_context else None,
                }
            )
    return found


def _risk_factor_highlights(report: dict) -> list[dict]:
    found = []
    subsections = (((report.get("diff") or {}).get("items") or {}).get("1A") or {}).get("subsections") or {}
    title = ((report.get("items") or {}).get("newer") or {}).get("1A", {}).get("title")
    for change in subsections.get("changes") or []:
        kind = change.get("kind")
        if kind == "added":
            text, headline, score = change["new_title"], f"New risk factor: {change['new_title']}", 0.6
        elif kind == "removed":
            text, headline, score = change["old_title"], f"Risk factor removed: {change['old_title']}", 0.5
        elif kind == "reworded" and not change.get("trivial") and change.get("title_redline"):
            text, headline, score = change["new_title"], f"Risk factor reworded: {change['new_title']}", 0.3
        else:
            continue
        url = report["filings"]["older" if kind == "removed" else "newer"]["url"]
        quote_side = {"text": text, "link": _text_fragment(url, text)}
        found.append(
            {
                "kind": f"risk_factor_{kind}",
                "item": "1A",
                "item_title": title,
                "headline": headline,
                "old": None,
                "new": None,
                "change": None,
                "materiality": score,
                "reasons": [f"risk factor {kind}"],
                "quotes": {"old": quote_side if kind != "added" else None, "new": quote_side if kind != "removed" else None},
                "redline": change.get("title_redline") if kind == "reworded" else None,
            }
        )
    return found


def _text_fragment(url: str, text: str) -> str:
    words = text.split()
    return f"{url}#:~:text={quote(' '.join(words[:4]), safe='')}" + (f",{quote(' '.join(words[-3:]), safe='')}" if len(words) > 8 else "")


def _redline(old: str, new: str) -> str:
    """Word-level markup as the diff writes it: `[-removed-] {+added+}`."""
    a, b = old.split(), new.split()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(" ".join(a[i1:i2]))
            continue
        if i2 > i1:
            out.append(f"[-{' '.join(a[i1:i2])}-]")
        if j2 > j1:
            out.append(f"{{+{' '.join(b[j1:j2])}+}}")
    return " ".join(out)
