"""`python -m worker extract FILE` and `python -m worker report TICKER --json/--html/--markdown FILE`, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT, USER_AGENT

SMALL_FILING = b"""<html><body>
<p>UNITED STATES SECURITIES AND EXCHANGE COMMISSION</p><p>FORM 10-K</p>
<p>PART I</p>
<p>Item 1. Business</p><p>We make widgets in Ohio and sell them worldwide to industrial buyers.</p>
<p>Item 1A. Risk Factors</p><p>Demand for widgets may fall. Our suppliers may fail.</p>
<p>Item 2. Properties</p><p>We own one plant.</p>
<p>PART II</p>
<p>Item 7. Management's Discussion and Analysis</p><p>Revenue grew 5% to $12.3 million.</p>
<p>Item 8. Financial Statements</p><p>The information required by this Item is set forth in Part IV, Item 15.</p>
<p>Item 9. Changes in and Disagreements with Accountants</p><p>None.</p>
<p>SIGNATURES</p><p>Pursuant to the requirements...</p>
</body></html>"""


def run(args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "worker", *args], cwd=ROOT, env=env or os.environ.copy(),
                          capture_output=True, text=True, timeout=timeout)


def test_extract_prints_items_as_json(tmp_path):
    path = tmp_path / "filing.html"
    path.write_bytes(SMALL_FILING)
    result = run(["extract", str(path)])
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert len(items) == 23
    assert items["1"]["status"] == "present" and "widgets in Ohio" in items["1"]["text"]
    assert items["1"]["title"] == "Business" and items["1"]["word_count"] == 12
    assert items["8"]["status"] == "incorporated_by_reference" and items["8"]["refers_to"].startswith("Item 15")
    assert items["9"]["status"] == "not_applicable"
    assert items["1C"]["status"] == "missing" and items["1C"]["text"] == ""
    assert set(items["7"]) == {"status", "title", "word_count", "text", "refers_to"}


def test_extract_a_corpus_filing(corpus):
    result = run(["extract", str(corpus / "filings/AAPL/AAPL-10k-2024-09-28.html")])
    items = json.loads(result.stdout)
    assert items["1A"]["word_count"] > 8000 and items["7"]["word_count"] > 2000


def test_extract_missing_file_is_a_clear_error(tmp_path):
    result = run(["extract", str(tmp_path / "nope.html")])
    assert result.returncode != 0 and "nope.html" in result.stderr


def test_report_writes_the_report_object(edgar, tmp_path):
    env = {**os.environ, "APP_ENV": "development", "SQLITE_PATH": str(tmp_path / "cli.db"), "SEC_USER_AGENT": USER_AGENT,
           "SEC_WWW_BASE_URL": edgar.base_url, "SEC_DATA_BASE_URL": edgar.base_url, "EDGAR_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("ANTHROPIC_API_KEY", None)
    out = tmp_path / "report.json"
    result = run(["report", "nvda", "--json", str(out)], env=env)
    assert result.returncode == 0, result.stderr
    assert "fetching" in result.stderr and "100%" in result.stderr and "completed" in result.stderr
    report = json.loads(out.read_text())
    assert report["ticker"] == "NVDA" and report["ai_provider"] == "offline"
    assert report["filings"]["newer"]["period_of_report"] == "2025-01-26"


def test_report_writes_the_page_and_markdown(edgar, tmp_path):
    from store_sqlite import SQLiteStore

    env = {**os.environ, "APP_ENV": "development", "SQLITE_PATH": str(tmp_path / "cli.db"), "SEC_USER_AGENT": USER_AGENT,
           "SEC_WWW_BASE_URL": edgar.base_url, "SEC_DATA_BASE_URL": edgar.base_url, "EDGAR_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("ANTHROPIC_API_KEY", None)
    page, markdown, report = tmp_path / "aapl.html", tmp_path / "aapl.md", tmp_path / "aapl.json"
    result = run(["report", "AAPL", "--html", str(page), "--markdown", str(markdown), "--json", str(report)], env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # with files to write, nothing on stdout
    assert f"page written to {page}" in result.stderr and f"Markdown written to {markdown}" in result.stderr
    report_id = json.loads(report.read_text())["report_id"]
    assert page.read_text() == SQLiteStore(str(tmp_path / "cli.db")).get_report_html(report_id)  # the page the store keeps
    assert page.read_text().startswith("<!DOCTYPE html>") and "<h1>Apple Inc. (AAPL)</h1>" in page.read_text()
    assert markdown.read_text().startswith("# Apple Inc. (AAPL)\n") and "| Figure | FY2024 | FY2025 | Change |" in markdown.read_text()


def test_report_for_unknown_ticker_fails_clearly(edgar, tmp_path):
    env = {**os.environ, "APP_ENV": "development", "SQLITE_PATH": str(tmp_path / "cli.db"), "SEC_USER_AGENT": USER_AGENT,
           "SEC_WWW_BASE_URL": edgar.base_url, "SEC_DATA_BASE_URL": edgar.base_url, "EDGAR_CACHE_DIR": str(tmp_path / "cache")}
    result = run(["report", "ZZZZZZ"], env=env)
    assert result.returncode == 1 and "TICKER_NOT_FOUND" in result.stderr


def test_report_rejects_a_malformed_ticker(tmp_path):
    env = {**os.environ, "APP_ENV": "development", "SQLITE_PATH": str(tmp_path / "cli.db")}
    result = run(["report", "AA PL;"], env=env)
    assert result.returncode == 2 and "ticker" in result.stderr


def test_a_long_cli_job_keeps_its_lease(edgar, tmp_path):
    """The CLI renews its job's lease: a server sweeping the same store must not take the job over."""
    from edgar_standin import Fault
    from recovery import Sweeper
    from conftest import make_settings
    from store_sqlite import SQLiteStore

    edgar.add_fault(Fault(pattern=r"^/Archives/", kind="slow", delay=3, times=2))
    env = {**os.environ, "APP_ENV": "development", "SQLITE_PATH": str(tmp_path / "cli.db"), "SEC_USER_AGENT": USER_AGENT,
           "SEC_WWW_BASE_URL": edgar.base_url, "SEC_DATA_BASE_URL": edgar.base_url, "EDGAR_CACHE_DIR": str(tmp_path / "cache"),
           "JOB_LEASE_SECONDS": "1", "HEARTBEAT_INTERVAL_SECONDS": "0.2"}
    proc = subprocess.Popen([sys.executable, "-m", "worker", "report", "AAPL", "--json", str(tmp_path / "r.json")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sweeper = Sweeper(make_settings(tmp_path, SQLITE_PATH=str(tmp_path / "cli.db")), SQLiteStore(str(tmp_path / "cli.db")))
    swept = 0
    while proc.poll() is None:
        swept += sweeper.sweep_once()
        import time

        time.sleep(0.2)
    assert proc.returncode == 0, proc.stderr.read()
    assert swept == 0 and json.loads((tmp_path / "r.json").read_text())["ticker"] == "AAPL"
