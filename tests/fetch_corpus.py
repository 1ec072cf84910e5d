"""`make corpus`: fetch the test and benchmark corpus from SEC EDGAR into EDGAR_CORPUS_DIR.

The corpus (real 10-K filings and real EDGAR API answers) lives outside this repository, at
`../shared/edgar-corpus` for the team. A clone elsewhere fetches it with this script, through the
service's own EDGAR client: its rate limit (SEC_MAX_REQUESTS_PER_SECOND, never above 10), its
declared User-Agent (SEC_USER_AGENT, required), its retries and its handling of the SEC's block page.
Every file is checked against the sha256 recorded for it; a file that does not match is not kept.

What to fetch is `tests/corpus/manifest.json` (the corpus' own manifest: every filing with its CIK,
accession where known, fiscal year end, sha256 and `source`) and `tests/corpus/api.json` (the API
answers, each with the URL it came from and its sha256). For each filing, the accession and primary
document come from the manifest or, when it has none, from the company's filing history on EDGAR
(form and period); then what EDGAR serves for it is tried until one has the recorded sha256: the
primary document, the full submission `<accession>.txt`, and the annual report's `<DOCUMENT>` inside
it (older filings were recorded in that SGML wrapper).

EDGAR cannot give back every recorded byte: some filings were recorded by public repositories that
re-serialized them (an `<?xml ...?>` prolog), five have no CIK to ask EDGAR with, and EDGAR's API
answers change every day. For those, the copy recorded at `source` (a file of a public repository at
a commit, or one answer of a VCR cassette in it) is fetched, sha256-checked too (`--sources-url`,
default raw.githubusercontent.com; `--no-sources` to ask EDGAR only). An API answer found nowhere
with its recorded bytes is kept as EDGAR sends it today and reported `live`.

`manifest.json` is written last, once every filing is there: until then the tests keep saying
"run make corpus". Files already present with the right sha256 are not fetched again.

Not on EDGAR nor anywhere public, so not fetched: the hand-checked `reference/` texts,
`key-figures.json` and `material-changes.json` (the tests that read them are not generated).

    python tests/fetch_corpus.py [--to DIR] [--sources-url URL | --no-sources]      (make corpus)
    python tests/fetch_corpus.py --lock-from DIR    rewrite tests/corpus/ from a complete corpus
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import yaml  # noqa: E402

import defaults  # noqa: E402
from config import Settings  # noqa: E402
from exceptions import ConfigError, JobFailure  # noqa: E402
from sec_fetcher import ANNUAL_FORMS, Company, EdgarClient, FilingRef  # noqa: E402

LOCK = Path(__file__).resolve().parent / "corpus"
NOT_ON_EDGAR = ("reference/", "key-figures.json", "material-changes.json", "README.md")
_DOCUMENT_BLOCK = re.compile(rb"<DOCUMENT>\s*<TYPE>([^\s<]+).*?</DOCUMENT>\n?", re.S)
_API_MAX_BYTES = 64 * 1024 * 1024
_DOCUMENT_MAX_BYTES = 256 * 1024 * 1024


class CorpusClient(EdgarClient):
    """The service's EDGAR client, plus the one thing only the corpus needs: a body's exact bytes."""

    def get(self, url: str, *, max_bytes: int = _DOCUMENT_MAX_BYTES) -> bytes | None:
        """GET with the client's rate limit, User-Agent, retries and block handling; None on 404."""
        from sec_fetcher import _NotFound  # the client's own "404" signal

        def accept(content: bytes) -> bytes:
            return content

        try:
            return self._fetch(url, what=url, deadline=None, accept=accept, max_bytes=max_bytes).content
        except _NotFound:
            return None


class RecordedSources:
    """Where each corpus file was recorded from (`source`): `owner/repo:path@commit`, or one answer of a
    VCR cassette, `owner/repo:cassette.yaml#interactions[i] (url)@commit`, whose body string is the file."""

    SOURCE = re.compile(r"(?P<repo>[\w.-]+/[\w.-]+):(?P<path>[^#@]+)(?:#interactions\[(?P<index>\d+)\][^@]*)?@(?P<commit>[0-9a-f]{7,40})")

    def __init__(self, base_url: str, user_agent: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self._cassettes: dict[str, list] = {}

    def get(self, source: str) -> bytes | None:
        match = self.SOURCE.fullmatch(source or "")
        if not match:
            return None
        url = f"{self.base_url}/{match['repo']}/{match['commit']}/{match['path']}"
        if match["index"] is None:
            return self._download(url)
        if url not in self._cassettes:
            raw = self._download(url)
            self._cassettes[url] = (yaml.safe_load(raw) or {}).get("interactions", []) if raw else []
        interactions, index = self._cassettes[url], int(match["index"])
        if index >= len(interactions):
            return None
        body = ((interactions[index].get("response") or {}).get("body") or {}).get("string")
        return body.encode("utf-8") if isinstance(body, str) else body

    def _download(self, url: str) -> bytes | None:
        for attempt in range(3):
            try:
                response = self.session.get(url, timeout=(5, 120))
            except requests.RequestException:
                time.sleep(2**attempt)
                continue
            if response.status_code == 200:
                return response.content
            if response.status_code not in (429, 500, 502, 503, 504):
                return None
            time.sleep(2**attempt)
        return None


@dataclass
class Outcome:
    path: str
    status: str  # verified (from EDGAR) | source (the recorded copy) | present (already there) | live | mismatch | missing
    detail: str = ""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def corpus_dir() -> Path:
    return (ROOT / os.environ.get("EDGAR_CORPUS_DIR", defaults.EDGAR_CORPUS_DIR)).resolve()


def write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)


def candidates(full_submission: bytes | None, form: str) -> list[tuple[str, bytes]]:
    """What a recorded filing may be, cut from EDGAR's full submission: all of it, or its report's <DOCUMENT>."""
    if not full_submission:
        return []
    found = [("full submission", full_submission)]
    for block in _DOCUMENT_BLOCK.finditer(full_submission):
        if block.group(1).decode("ascii", "replace").upper() in (form.upper(), *ANNUAL_FORMS):
            found.append(("the <DOCUMENT> of the full submission", block.group(0)))
            found.append(("the <DOCUMENT> of the full submission", block.group(0).rstrip(b"\n") + b"\n"))
    return found


class CorpusFetcher:
    def __init__(self, client: CorpusClient, target: Path, sources: RecordedSources | None = None, log=print):
        self.client = client
        self.target = target
        self.sources = sources
        self.log = log
        self._history: dict[int, list[FilingRef]] = {}

    # -- filings -----------------------------------------------------------------------------------

    def filing(self, entry: dict) -> Outcome:
        path, want = entry["path"], entry["sha256"]
        target = self.target / path
        if target.is_file() and sha256(target.read_bytes()) == want:
            return Outcome(path, "present")
        if not entry.get("cik"):
            edgar = "the manifest names no CIK to ask EDGAR with"
        else:
            ref = self.locate(entry)
            if ref is None:
                edgar = f"EDGAR lists no {entry.get('form', '10-K')} for period {entry['fiscal_year_end']}"
            else:
                tried = []
                for name, data in self.bodies(ref, entry):
                    tried.append(name)
                    if sha256(data) == want:
                        write(target, data)
                        return Outcome(path, "verified", f"EDGAR {ref.accession}: {name}")
                edgar = f"EDGAR {ref.accession}: not the recorded bytes in {', '.join(tried) or 'anything it has'}"
        recorded = self.recorded(entry["source"], want)
        if recorded is not None:
            write(target, recorded)
            return Outcome(path, "source", f"{edgar}; the recorded copy at {entry['source']}")
        return Outcome(path, "mismatch", f"{edgar}; source: {entry.get('source', '?')}")

    def recorded(self, source: str, want: str) -> bytes | None:
        """The copy recorded at `source`, if sources are asked and it has the recorded sha256."""
        if self.sources is None:
            return None
        data = self.sources.get(source)
        return data if data is not None and sha256(data) == want else None

    def locate(self, entry: dict) -> FilingRef | None:
        cik = int(entry["cik"])
        if entry.get("accession"):
            return FilingRef(cik=cik, form=entry.get("form", "10-K"), accession=entry["accession"], filing_date=entry.get("filed") or "",
                             period_of_report=entry["fiscal_year_end"], primary_document=entry.get("primary_document"))
        if cik not in self._history:
            self._history[cik] = self.client.filing_history(Company(cik=cik, name=entry.get("company", ""), ticker=entry["ticker"]))
        for row in self._history[cik]:
            if row.form in ANNUAL_FORMS and row.period_of_report == entry["fiscal_year_end"]:
                return row
        return None

    def bodies(self, ref: FilingRef, entry: dict):
        """The filing's candidate bodies, cheapest first; each fetched only if the ones before did not match."""
        base = f"{self.client.www}/Archives/edgar/data/{ref.cik}/{ref.accession_path}"
        if ref.primary_document:
            document = self.client.get(f"{base}/{ref.primary_document}")
            if document is not None:
                yield f"the primary document {ref.primary_document}", document
        else:
            for name in self.index_documents(base, ref.accession):
                document = self.client.get(f"{base}/{name}")
                if document is not None:
                    yield f"{name} of the filing index", document
        full = self.client.get(f"{base}/{ref.accession}.txt")
        yield from candidates(full, entry.get("form", "10-K"))

    def index_documents(self, base: str, accession: str) -> list[str]:
        """The filing's documents (not its index pages, not its full submission), those named like a 10-K first."""
        raw = self.client.get(f"{base}/index.json", max_bytes=_API_MAX_BYTES)
        try:
            items = json.loads(raw)["directory"]["item"] if raw else []
        except (ValueError, KeyError, TypeError):
            return []
        names = [str(i.get("name", "")) for i in items if isinstance(i, dict)]
        names = [n for n in names if n.lower().endswith((".htm", ".html", ".txt")) and not n.startswith(accession)]
        return sorted(names, key=lambda n: not re.search(r"10-?k|10vk", n, re.I))

    # -- API answers -------------------------------------------------------------------------------

    def api_body(self, entry: dict) -> Outcome:
        path = f"api/{entry['path']}"
        target = self.target / path
        if target.is_file():
            return Outcome(path, "present" if sha256(target.read_bytes()) == entry["sha256"] else "live", "kept from an earlier run")
        url = re.sub(r"^https://www\.sec\.gov", self.client.www, entry["url"])
        url = re.sub(r"^https://data\.sec\.gov", self.client.data, url)
        body = self.client.get(url, max_bytes=_API_MAX_BYTES)
        if body is not None and sha256(body) == entry["sha256"]:
            write(target, body)
            return Outcome(path, "verified", f"EDGAR {entry['url']}")
        recorded = self.recorded(entry.get("source", ""), entry["sha256"])
        if recorded is not None:
            write(target, recorded)
            return Outcome(path, "source", f"the recorded copy at {entry['source']}")
        if body is None:
            return Outcome(path, "missing", f"EDGAR answered 404 for {entry['url']}, and no recorded copy was found")
        write(target, body)
        return Outcome(path, "live", f"EDGAR's answer today for {entry['url']}, not the recorded one")

    # -- all ---------------------------------------------------------------------------------------

    def run(self, manifest: dict, api: list[dict]) -> list[Outcome]:
        outcomes = []
        for n, entry in enumerate(manifest["filings"], 1):
            outcome = self.filing(entry)
            outcomes.append(outcome)
            self.log(f"[{n:3d}/{len(manifest['filings'])}] {outcome.status:9s} {outcome.path}  {outcome.detail}".rstrip())
        for entry in api:
            outcome = self.api_body(entry)
            outcomes.append(outcome)
            self.log(f"[api]     {outcome.status:9s} {outcome.path}  {outcome.detail}".rstrip())
        filings_ok = all(o.status in ("verified", "present", "source") for o in outcomes[: len(manifest["filings"])])
        if filings_ok:
            write(self.target / "manifest.json", (LOCK / "manifest.json").read_bytes())
        return outcomes


def read_lock() -> tuple[dict, list[dict]]:
    return json.loads((LOCK / "manifest.json").read_text()), json.loads((LOCK / "api.json").read_text())


def write_lock(corpus: Path) -> None:
    """tests/corpus/ from a complete corpus: its manifest as it is, and each API answer's URL and sha256."""
    LOCK.mkdir(exist_ok=True)
    (LOCK / "manifest.json").write_bytes((corpus / "manifest.json").read_bytes())
    api = [
        {"path": e["path"], "url": e["url"], "source": e["source"], "bytes": (corpus / "api" / e["path"]).stat().st_size,
         "sha256": sha256((corpus / "api" / e["path"]).read_bytes())}
        for e in json.loads((corpus / "api" / "index.json").read_text())
    ]
    (LOCK / "api.json").write_text(json.dumps(api, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make corpus", description=__doc__.splitlines()[0])
    parser.add_argument("--to", type=Path, default=None, help="where to put it (default: EDGAR_CORPUS_DIR, else ../shared/edgar-corpus)")
    parser.add_argument("--sources-url", default="https://raw.githubusercontent.com",
                        help="where the recorded copies' repositories are served (raw files by repo/commit/path)")
    parser.add_argument("--no-sources", action="store_true", help="ask EDGAR only")
    parser.add_argument("--lock-from", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.lock_from:
        write_lock(args.lock_from)
        return 0
    target = (args.to or corpus_dir()).resolve()
    try:
        settings = Settings.from_env(fallbacks={"APP_ENV": "development"})
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    if not settings.sec_user_agent:
        print("make corpus: set SEC_USER_AGENT (\"<name> <contact e-mail>\", the SEC's fair-access rule) in the environment or .env",
              file=sys.stderr)
        return 2
    manifest, api = read_lock()
    print(f"fetching {len(manifest['filings'])} filings and {len(api)} API answers from {settings.sec_www_base_url} into {target}, "
          f"at most {settings.sec_max_requests_per_second:g} requests a second")
    started = time.monotonic()
    try:
        sources = None if args.no_sources else RecordedSources(args.sources_url, settings.sec_user_agent)
        outcomes = CorpusFetcher(CorpusClient(settings), target, sources).run(manifest, api)
    except JobFailure as exc:  # blocked, rate-limited past the retries, EDGAR down
        print(f"make corpus: stopped: {exc.code}: {exc.message} (run it again later: what is there is kept)", file=sys.stderr)
        return 1
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("verified", "source", "present", "live", "mismatch", "missing")}
    print(f"done in {time.monotonic() - started:.0f} s: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n))
    print(f"not on EDGAR, not fetched: {', '.join(NOT_ON_EDGAR)} (hand-checked; tests that need them are not generated without them)")
    incomplete = [o for o in outcomes if o.status in ("mismatch", "missing") and not o.path.startswith("api/")]
    if incomplete:
        print(f"make corpus: {len(incomplete)} filings could not be fetched with the recorded bytes; manifest.json not written:", file=sys.stderr)
        for o in incomplete:
            print(f"  {o.status}: {o.path}  {o.detail}", file=sys.stderr)
        return 1
    print(f"the corpus is complete: {target / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
