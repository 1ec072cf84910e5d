"""What a job is: the validated request, its states and stages, and the record the store keeps.

Pure data and validation; no I/O. `parse_job_request` is the only door through which a request
becomes a job, so every rule about the Edge Function's payload lives here.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Iterable
from urllib.parse import urlsplit

from exceptions import InvalidField


class JobStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"  # report saved, quality good
    COMPLETED_REFUNDED = "completed_refunded"  # report saved, quality not good enough: token refunded
    FAILED = "failed"  # no usable report: error logged, token refunded

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.COMPLETED_REFUNDED, JobStatus.FAILED})


class Stage(str, Enum):
    """Pipeline stages in order, each with the progress (0-100) reached when it starts."""

    QUEUED = "queued"
    FETCHING = "fetching"
    EXTRACTING = "extracting"
    DIFFING = "diffing"
    SUMMARIZING = "summarizing"
    VALIDATING = "validating"
    SAVING = "saving"
    DONE = "done"

    @property
    def progress(self) -> int:
        return _STAGE_PROGRESS[self]


_STAGE_PROGRESS = {
    Stage.QUEUED: 0,
    Stage.FETCHING: 5,
    Stage.EXTRACTING: 30,
    Stage.DIFFING: 45,
    Stage.SUMMARIZING: 55,
    Stage.VALIDATING: 85,
    Stage.SAVING: 92,
    Stage.DONE: 100,
}

# fullmatch, never `$`: `$` also matches before a final "\n"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TICKER = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,9}")  # ASCII only: "ß".upper() is "SS"
_URL_CONTROL = re.compile(r"[\x00-\x20\x7f]")  # urlsplit drops tabs and newlines; requests would refuse them
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
MAX_URL_LENGTH = 2048


@dataclass(frozen=True)
class JobRequest:
    job_id: str
    user_id: str
    ticker: str  # normalised: upper case, class separator "-" (BRK.B -> BRK-B, as the SEC writes it)
    callback_url: str | None = None

    def fingerprint(self) -> str:
        """Identifies the payload, so a repeated job_id can be told apart from a conflicting one."""
        canonical = json.dumps([self.user_id, self.ticker, self.callback_url], separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class JobError:
    code: str
    message: str


@dataclass(frozen=True)
class Job:
    job_id: str
    user_id: str
    ticker: str
    callback_url: str | None
    fingerprint: str
    status: JobStatus
    stage: Stage
    progress: int
    created_at: datetime
    updated_at: datetime
    error: JobError | None = None
    error_log_id: str | None = None
    report_id: str | None = None
    refunded: bool = False
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    accepted: bool = True  # False: the Edge Function's spend recorded it and no worker has taken it yet

    @property
    def awaiting_worker(self) -> bool:
        """Recorded by the spend, not yet accepted by a worker: the next POST of it runs it."""
        return not self.accepted and self.status is JobStatus.QUEUED

    def status_document(self) -> dict[str, Any]:
        """The body of GET /jobs/<id>/status."""
        return {
            "job_id": self.job_id,
            "status": self.status.value,
            "stage": self.stage.value,
            "progress": self.progress,
            "ticker": self.ticker,
            "error": asdict(self.error) if self.error else None,
            "report_id": self.report_id,
            "refunded": self.refunded,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def normalize_ticker(value: str) -> str:
    """`brk.b`, `BRK.B` and `BRK-B` are the same listing; EDGAR writes it `BRK-B`."""
    return value.strip().upper().replace(".", "-")


def parse_job_request(
    payload: Any, *, allowed_callback_hosts: Iterable[str], allow_local_http: bool = False
) -> JobRequest:
    """Validate the POST /generate-report body; raise `InvalidField` naming the first bad field."""
    if not isinstance(payload, dict):
        raise InvalidField("the request body must be a JSON object", field=None)
    job_id = _uuid(payload, "job_id")
    user_id = _uuid(payload, "user_id")

    ticker = payload.get("ticker")
    if not isinstance(ticker, str) or not ticker.strip():
        raise InvalidField("ticker is required (e.g. \"AAPL\")", field="ticker")
    if not _TICKER.fullmatch(ticker):  # "KO\n" and " KO " too: a caller that sends them has a bug to see
        raise InvalidField("ticker must be 1-10 characters of A-Z, 0-9, '.' or '-', without spaces", field="ticker")

    callback_url = payload.get("callback_url")  # null is the same as absent: no callback
    if callback_url is not None:
        callback_url = validate_callback_url(callback_url, allowed_callback_hosts, allow_local_http=allow_local_http)
    return JobRequest(job_id=job_id, user_id=user_id, ticker=normalize_ticker(ticker), callback_url=callback_url)


def validate_callback_url(value: Any, allowed_hosts: Iterable[str], *, allow_local_http: bool = False) -> str:
    """Only https URLs on allow-listed hosts: the worker must not be usable to reach anything else."""
    if not isinstance(value, str) or not value:
        raise InvalidField("callback_url must be a URL string", field="callback_url")
    if len(value) > MAX_URL_LENGTH:
        raise InvalidField(f"callback_url must be at most {MAX_URL_LENGTH} characters", field="callback_url")
    if _URL_CONTROL.search(value):
        raise InvalidField("callback_url must not contain spaces or control characters", field="callback_url")
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        parts.port  # raises ValueError on a malformed port
    except ValueError:
        raise InvalidField("callback_url is not a valid URL", field="callback_url") from None
    if parts.username or parts.password:
        raise InvalidField("callback_url must not contain credentials", field="callback_url")
    local = allow_local_http and host in _LOCAL_HOSTS
    if parts.scheme != "https" and not (local and parts.scheme == "http"):
        raise InvalidField("callback_url must use https", field="callback_url")
    if not host:
        raise InvalidField("callback_url has no host", field="callback_url")
    if not local and not _HOSTNAME.match(host):
        raise InvalidField(f"callback_url host {host!r} is not a valid host name", field="callback_url")
    if not local and not host_allowed(host, allowed_hosts, port=parts.port):
        where = host if parts.port in (None, 443) else f"{host}:{parts.port}"
        raise InvalidField(f"callback_url host {where!r} is not in CALLBACK_ALLOWED_HOSTS", field="callback_url")
    return value


def host_allowed(host: str, allowed_hosts: Iterable[str], *, port: int | None = None) -> bool:
    """Exact match, or a suffix match for entries written `*.example.com`. A port other than https's
    443 must be named by the entry (`hooks.example.com:8443`): an allowed host name must not open
    its other services (a Redis on 6379, an admin port) to requests from this worker."""
    host = host.lower().rstrip(".")
    port = 443 if port is None else port
    for entry in allowed_hosts:
        allowed, _, allowed_port = entry.partition(":")
        if port != (int(allowed_port) if allowed_port else 443):
            continue
        if allowed.startswith("*."):
            if host.endswith(allowed[1:]) and host != allowed[2:]:
                return True
        elif host == allowed:
            return True
    return False


def _uuid(payload: dict, name: str) -> str:
    value = payload.get(name)
    if value is None:
        raise InvalidField(f"{name} is required (a UUID)", field=name)
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise InvalidField(f"{name} must be a UUID like 123e4567-e89b-12d3-a456-426614174000", field=name)
    return str(uuid.UUID(value))


def is_uuid(value: str) -> bool:
    return bool(_UUID.fullmatch(value))
