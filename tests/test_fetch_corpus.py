"""`make corpus` (tests/fetch_corpus.py) against the EDGAR stand-in, never the internet (issue 16, item 6).

Found as a newcomer would: a clone outside this workspace has no `../shared/edgar-corpus`, 196 tests
then errored under CI=true, and nothing said where the corpus comes from. `make corpus` fetches it
with the service's own EDGAR client (rate limit, declared User-Agent), checking every sha256; the
recorded copies of what EDGAR cannot give back byte for byte come from the public repositories named
in the manifest (here a local stand-in serving them at raw.githubusercontent.com's paths).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from conftest import ROOT, USER_AGENT
from edgar_standin import EdgarStandIn
from fetch_corpus import LOCK, RecordedSources

LOCK_MANIFEST = json.loads((LOCK / "manifest.json").read_text())
LOCK_API = json.loads((LOCK / "api.json").read_text())


class SourcesStandIn:
    """raw.githubusercontent.com for the corpus' sources: `/<owner>/<repo>/<commit>/<path>`, files as
    recorded, and cassettes as VCR writes them (the recorded answer's body under interactions[i])."""

    def __init__(self, corpus: Path):
        self.files: dict[str, bytes] = {}
        cassettes: dict[str, dict[int, str]] = defaultdict(dict)
        entries = [(f["source"], corpus / f["path"]) for f in LOCK_MANIFEST["filings"]]
        entries += [(e["source"], corpus / "api" / e["path"]) for e in LOCK_API]
        for source, path in entries:
            match = RecordedSources.SOURCE.fullmatch(source)
            url = f"/{match['repo']}/{match['commit']}/{match['path']}"
            if match["index"] is None:
                self.files[url] = path.read_bytes()
            else:
                cassettes[url][int(match["index"])] = path.read_bytes().decode("utf-8")
        for url, answers in cassettes.items():
            interactions = [{"request": {"method": "GET"}, "response": {"status": {"code": 200}, "body": {"string": answers.get(i, "")}}}
                            for i in range(max(answers) + 1)]
            self.files[url] = yaml.safe_dump({"interactions": interactions, "version": 1}).encode()
        self.requests: list[str] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                path = unquote(self.path)  # requests escapes the cassettes' [ ] as GitHub expects
                standin.requests.append(path)
                body = standin.files.get(path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_corpus(target: Path, edgar: EdgarStandIn, tmp_path: Path, *extra: str, env: dict | None = None):
    run_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SEC_", "EDGAR_", "REDIS_"))},
               "APP_ENV": "development", "SEC_USER_AGENT": USER_AGENT, "SEC_WWW_BASE_URL": edgar.base_url,
               "SEC_DATA_BASE_URL": edgar.base_url, "EDGAR_CACHE_DIR": str(tmp_path / "cache"), **(env or {})}
    return subprocess.run([sys.executable, "tests/fetch_corpus.py", "--to", str(target), *extra], cwd=ROOT,
                          env=run_env, capture_output=True, text=True, timeout=600)


def test_the_lock_is_the_corpus_manifest(corpus):
    """tests/corpus/ must follow the corpus it describes (rewrite it with --lock-from)."""
    assert (LOCK / "manifest.json").read_bytes() == (corpus / "manifest.json").read_bytes()
    for entry in LOCK_API:
        assert sha(corpus / "api" / entry["path"]) == entry["sha256"], entry["path"]
    recorded = {e["path"] for e in json.loads((corpus / "api/index.json").read_text())}
    assert {e["path"] for e in LOCK_API} == recorded


def test_the_missing_corpus_names_make_corpus(tmp_path):
    env = {**os.environ, "EDGAR_CORPUS_DIR": str(tmp_path / "none"), "CI": "true"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_cli.py::test_extract_a_corpus_filing"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "make corpus" in result.stdout


def test_make_corpus_needs_a_declared_user_agent(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SEC_USER_AGENT"}
    result = subprocess.run([sys.executable, str(ROOT / "tests/fetch_corpus.py"), "--to", str(tmp_path / "c")], cwd=tmp_path,
                            env={**env, "APP_ENV": "development"}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "SEC_USER_AGENT" in result.stderr
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_make_corpus_fetches_every_file_with_its_sha256(corpus, tmp_path):
    edgar = EdgarStandIn(corpus).start()  # EDGAR as it serves the recorded answers, no date filter
    # as the real EDGAR does, serve an old filing's primary document without the SGML wrapper it was
    # recorded in: the recorded bytes are then the <DOCUMENT> inside the full submission
    axp = edgar.filing("AXP", "2008-12-31")
    wrapped = axp.path.read_bytes()
    edgar.extra_documents[axp.archive_path] = wrapped.split(b"<TEXT>\n", 1)[1].rsplit(b"</TEXT>", 1)[0]
    sources = SourcesStandIn(corpus)
    target = tmp_path / "corpus"
    try:
        result = make_corpus(target, edgar, tmp_path, "--sources-url", sources.url)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        for entry in LOCK_MANIFEST["filings"]:
            assert sha(target / entry["path"]) == entry["sha256"], entry["path"]
        for entry in LOCK_API:
            assert sha(target / "api" / entry["path"]) == entry["sha256"], entry["path"]
        assert (target / "manifest.json").read_bytes() == (LOCK / "manifest.json").read_bytes()

        lines = result.stdout.splitlines()
        axp_line = next(line for line in lines if "AXP-10k-2008" in line)
        assert "verified" in axp_line and "<DOCUMENT>" in axp_line, axp_line
        no_cik = [f["path"] for f in LOCK_MANIFEST["filings"] if not f.get("cik")]
        assert no_cik and all("source" in next(line for line in lines if path in line) for path in no_cik)
        from_edgar = sum(1 for line in lines if re.search(r"\] verified\s+filings/", line))
        assert from_edgar >= len(LOCK_MANIFEST["filings"]) - len(no_cik) - 1

        # the project's polite client: its declared User-Agent on every request, at most 8 a second
        log = list(edgar.requests)
        assert log and all(r.user_agent == USER_AGENT for r in log)
        arrivals = sorted(r.received for r in log)
        busiest = max(sum(1 for t in arrivals[i:] if t - start < 1.0) for i, start in enumerate(arrivals))
        assert busiest <= 8 + 1, busiest  # SEC_MAX_REQUESTS_PER_SECOND (8), one of slack for the window's edge

        # a second run finds everything in place and asks EDGAR for no document again
        edgar.clear_log()
        again = make_corpus(target, edgar, tmp_path, "--sources-url", sources.url)
        assert again.returncode == 0 and not edgar.requests_to(r"^/Archives/"), again.stdout[-2000:]
    finally:
        edgar.stop()
        sources.stop()


@pytest.mark.slow
def test_a_filing_edgar_cannot_give_back_is_reported_and_the_manifest_is_not_written(corpus, tmp_path):
    edgar = EdgarStandIn(corpus).start()
    tsla = edgar.filing("TSLA", "2024-12-31")
    edgar.extra_documents[tsla.archive_path] = tsla.path.read_bytes().replace(b"Tesla", b"Teslb", 1)  # EDGAR's bytes differ
    target = tmp_path / "corpus"
    try:
        result = make_corpus(target, edgar, tmp_path, "--no-sources", env={"SEC_MAX_REQUESTS_PER_SECOND": "10"})
    finally:
        edgar.stop()
    assert result.returncode == 1
    assert "filings/TSLA/TSLA-10k-2024-12-31.html" in result.stderr and "not the recorded bytes" in result.stderr
    assert not (target / "filings/TSLA/TSLA-10k-2024-12-31.html").exists()
    assert not (target / "manifest.json").exists()  # the tests keep saying "run make corpus"
    assert (target / "filings/AAPL/AAPL-10k-2024-09-28.html").is_file()  # what was verified is kept for the next run


def test_the_corpus_location_is_documented():
    readme = (ROOT / "README.md").read_text()
    assert "make corpus" in readme and "EDGAR_CORPUS_DIR" in readme and "raw.githubusercontent.com" in readme
