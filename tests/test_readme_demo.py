"""README's "first report in five minutes" works as written (issue 16, item 8).

The three terminals' commands are taken from README.md and run as they are, in a copy of the
project next to the corpus (the same layout as this repository's: `../shared/edgar-corpus`); only
the two ports are moved to free ones. And the tickers README says the stand-in has are exactly those
it gives two annual reports for.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from config import Settings
from conftest import ROOT, USER_AGENT, wait_for
from edgar_standin import EdgarStandIn
from exceptions import FilingsUnavailable, TickerNotFound
from sec_fetcher import EdgarClient

README = (ROOT / "README.md").read_text()
DEMO = README.split("### Your first report in five minutes", 1)[1].split("\n### ", 1)[0]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def project_copy(tmp_path: Path, corpus: Path) -> Path:
    """The repository's files beside `shared/edgar-corpus`, its .venv and tests linked, not rebuilt."""
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "edgar-corpus").symlink_to(corpus)
    project = tmp_path / "project"
    project.mkdir()
    for path in ROOT.iterdir():
        if path.is_file() and (path.suffix in (".py", ".json", ".txt") or path.name == "Makefile"):
            shutil.copy2(path, project / path.name)
    (project / ".venv").symlink_to(ROOT / ".venv")
    (project / "tests").symlink_to(ROOT / "tests")
    return project


def start(script: str, project: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(["bash", "-e", "-c", script], cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def stop(proc: subprocess.Popen) -> str:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        return proc.communicate()[0]


def test_the_demo_runs_as_written(corpus, tmp_path):
    blocks = re.findall(r"```sh\n(.*?)```", DEMO, re.S)
    assert len(blocks) == 3
    edgar_port, web_port = free_port(), free_port()
    blocks = [b.replace("8765", str(edgar_port)).replace("8000", str(web_port)) for b in blocks]
    project = project_copy(tmp_path, corpus)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEC_", "APP_ENV", "WORKER_", "CALLBACK_", "ANTHROPIC_", "SQLITE", "EDGAR_"))}
    edgar = start(blocks[0], project, env)
    service = None
    try:
        wait_for(lambda: listening(edgar_port), timeout=60, message="the EDGAR stand-in of terminal 1")
        service = start(blocks[1], project, {**env, "PORT": str(web_port)})  # make run's port, moved like the others
        wait_for(lambda: listening(web_port), timeout=60, message="make run of terminal 2")
        demo = subprocess.run(["bash", "-e", "-c", blocks[2]], cwd=project, env=env, capture_output=True, text=True, timeout=180)
    finally:
        outputs = [stop(edgar)] + ([stop(service)] if service else [])
    assert demo.returncode == 0, demo.stdout + demo.stderr + "\n".join(outputs)
    assert '"status":"queued"' in demo.stdout and '"status":"completed"' in demo.stdout, demo.stdout
    report = json.loads((project / "var" / "report.json").read_text())
    assert report["ticker"] == "AAPL" and report["company_name"] == "Apple Inc." and report["quality"]["is_valid"]
    assert demo.stdout.rstrip().endswith("\n".join((project / "var" / "report.json").read_text().splitlines()[:60]))


def test_the_tickers_readme_lists_are_those_the_stand_in_has(corpus, tmp_path):
    listed = re.findall(r"\*\*([A-Z, ]+)\*\*", DEMO)
    full = {t.strip() for group in listed for t in group.split(",")}
    refunded = set(re.findall(r"`([A-Z]+)`", DEMO.split("To see a refund instead", 1)[1].split("\n\n", 1)[0]))
    tickers = {f["ticker"] for f in json.loads((corpus / "manifest.json").read_text())["filings"]} | refunded
    with EdgarStandIn(corpus, as_of="2025-12-31") as standin:
        settings = Settings.from_env({"APP_ENV": "development", "SEC_USER_AGENT": USER_AGENT, "SEC_WWW_BASE_URL": standin.base_url,
                                      "SEC_DATA_BASE_URL": standin.base_url, "EDGAR_CACHE_DIR": str(tmp_path / "cache"),
                                      "SEC_MAX_REQUESTS_PER_SECOND": "10"})
        client = EdgarClient(settings)
        works, fails = set(), {}
        for ticker in sorted(tickers):
            try:
                client.latest_annual_reports(ticker, deadline=time.monotonic() + 60)
                works.add(ticker)
            except (FilingsUnavailable, TickerNotFound) as exc:
                fails[ticker] = exc.code
    assert works == full
    assert fails["KO"] == fails["V"] == fails["NFLX"] == "FILINGS_UNAVAILABLE" and fails["ZZZZ"] == "TICKER_NOT_FOUND"
