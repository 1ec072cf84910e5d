"""`python -m worker extract` loads only the extractor (issue 16, item 1).

Found by measuring: importing `worker` cost 0.25-0.30 s and ~45 MB (Claude's SDK, Supabase, Flask's
neighbours, the diff, the validator) for an extraction that itself takes 0.055 s. The command line
now comes before the pipeline's imports. Checked with Python's own import log (`-X importtime`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT
from test_cli import SMALL_FILING

PIPELINE_ONLY = ("ai_analyzer", "anthropic", "database", "store", "store_sqlite", "store_supabase", "diff_analyzer",
                 "quality_validator", "callbacks", "sec_fetcher", "requests", "flask", "supabase", "sentry_sdk",
                 "prometheus_client", "rq", "redis", "runner", "config")


def imported_modules(args: list[str]) -> tuple[subprocess.CompletedProcess, set[str]]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "worker", *args], cwd=ROOT, env=os.environ.copy(),
                            capture_output=True, text=True, timeout=120)
    names = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines() if line.startswith("import time:") and "|" in line}
    return result, names


def test_extract_imports_the_extractor_and_nothing_of_the_pipeline(tmp_path):
    path = tmp_path / "filing.html"
    path.write_bytes(SMALL_FILING)
    result, modules = imported_modules(["extract", str(path)])
    assert result.returncode == 0
    assert json.loads(result.stdout)["1"]["status"] == "present"
    assert "section_extractor" in modules
    loaded = sorted(m for m in modules if m.split(".")[0] in PIPELINE_ONLY)
    assert loaded == [], f"python -m worker extract imported {loaded}"


def test_the_other_commands_still_reach_the_pipeline(tmp_path):
    result = subprocess.run([sys.executable, "-m", "worker", "report", "AA PL"], cwd=ROOT,
                            env={**os.environ, "APP_ENV": "development", "SQLITE_PATH": str(tmp_path / "s.db")},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "ticker must be" in result.stderr  # validated by the pipeline's own rules
    help_text = subprocess.run([sys.executable, "-m", "worker", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert all(command in help_text for command in ("report", "extract", "rq-worker"))
