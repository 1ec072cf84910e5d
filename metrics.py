"""Prometheus metrics, served at /metrics, correct across several gunicorn worker processes.

Each `Services` owns one `Metrics` with its own registry (no global registry, so tests and several
apps in one process stay apart). Under gunicorn, `gunicorn.conf.py` sets PROMETHEUS_MULTIPROC_DIR
before any worker imports prometheus_client: every process then writes its samples to files in
that directory and `render()` aggregates all live processes, whichever process is scraped.

With QUEUE_BACKEND=rq, jobs run in RQ work horses: short-lived processes, on any machine, that no
scrape reaches. Each horse adds its counters and histograms to totals in Redis when its job ends
(`add_to_shared`), and `render()` merges those totals into the web service's answer.
"""

from __future__ import annotations

import json
import os
from typing import Mapping

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

from job import Job

STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320)
SHARED_KEY = "report-worker:metrics"  # Redis hash: sample (name, labels) -> total over every RQ work horse
_SAMPLE_SUFFIXES = ("_total", "_bucket", "_count", "_sum")


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.jobs_accepted = Counter("report_jobs_accepted_total", "Jobs accepted by POST /generate-report", registry=r)
        self.jobs_rejected = Counter("report_jobs_rejected_total", "POST /generate-report answers that recorded no job", ["reason"], registry=r)
        self.jobs_finished = Counter("report_jobs_finished_total", "Jobs by terminal outcome", ["outcome"], registry=r)
        self.jobs_recovered = Counter("report_jobs_recovered_total", "Jobs whose process died, by what recovery did", ["action"], registry=r)
        self.queue_depth = Gauge("report_jobs_in_process", "Jobs held by this service, by state", ["state"], registry=r, multiprocess_mode="livesum")
        self.stage_seconds = Histogram("report_stage_seconds", "Time spent per pipeline stage", ["stage"], buckets=STAGE_BUCKETS, registry=r)
        self.refunds = Counter("report_refunds_total", "Tokens refunded, by reason", ["reason"], registry=r)
        self.sec_requests = Counter("sec_requests_total", "Requests sent to SEC EDGAR", registry=r)
        self.sec_throttled = Counter("sec_throttled_total", "SEC answers asking us to slow down, by kind", ["kind"], registry=r)
        self.sec_retries = Counter("sec_retries_total", "SEC requests retried", registry=r)
        self.sec_cache = Counter("sec_cache_total", "EDGAR cache lookups by result", ["result"], registry=r)
        self.sec_bytes = Counter("sec_downloaded_bytes_total", "Bytes downloaded from SEC EDGAR", registry=r)
        self.claude_requests = Counter("claude_requests_total", "Claude requests that returned a message", ["model"], registry=r)
        self.claude_tokens = Counter("claude_tokens_total", "Claude tokens by kind", ["model", "kind"], registry=r)
        self.claude_cost = Counter("claude_cost_usd_total", "Claude cost in US dollars at the price table", ["model"], registry=r)
        self.callback_attempts = Counter("callback_attempts_total", "Callback delivery attempts by result", ["result"], registry=r)

    def set_queue_depth(self, running: int, queued: int) -> None:
        self.queue_depth.labels("running").set(running)
        self.queue_depth.labels("queued").set(queued)

    def record_outcome(self, job: Job, refund_reason: str | None) -> None:
        """Count a job this process ended (the store changed it): its outcome, and its refund by reason.
        The one counter of every way a job ends: the pipeline, the watchdog and the sweeper."""
        self.jobs_finished.labels(job.status.value).inc()
        if job.refunded:
            self.refunds.labels(refund_reason or "unknown").inc()

    def record_sec(self, name: str, n: int = 1) -> None:
        """The EDGAR client's counters (`EdgarClient.stats()` names), as they move."""
        if name == "requests":
            self.sec_requests.inc(n)
        elif name == "retries":
            self.sec_retries.inc(n)
        elif name in ("throttled", "blocked", "refused_while_blocked"):
            self.sec_throttled.labels(name).inc(n)
        elif name in ("cache_hits", "cache_misses", "revalidated"):
            self.sec_cache.labels({"cache_hits": "hit", "cache_misses": "miss"}.get(name, name)).inc(n)
        elif name == "bytes_downloaded":
            self.sec_bytes.inc(n)

    def record_usage(self, usage) -> None:
        """Account one report's Claude usage (`claude_models.Usage` entries, each priced by itself)."""
        for u in usage:
            self.claude_requests.labels(u.model).inc()
            for kind in ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"):
                value = getattr(u, kind)
                if value:
                    self.claude_tokens.labels(u.model, kind.replace("_tokens", "")).inc(value)
            self.claude_cost.labels(u.model).inc(u.cost_usd)

    def add_to_shared(self, redis) -> None:
        """Add this process's counters and histograms to the shared totals in Redis. For an RQ work
        horse, whose registry started at zero with its one job, these are that job's increments."""
        pipe = redis.pipeline(transaction=False)
        for family in self.registry.collect():
            if family.type not in ("counter", "histogram"):
                continue
            for sample in family.samples:
                if sample.value and not sample.name.endswith("_created"):
                    pipe.hincrbyfloat(SHARED_KEY, json.dumps([sample.name, sorted(sample.labels.items())]), sample.value)
        pipe.execute()

    def render(self, shared: Mapping | None = None) -> tuple[bytes, str]:
        """The exposition of this service, plus `shared` totals (the RQ work horses')."""
        registry = self.registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        if not shared:
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(_Merged(list(registry.collect()), shared)), CONTENT_TYPE_LATEST


class _Merged:
    """Metric families with shared totals added: to a sample with the same name and labels, or as a
    new sample of the family the name belongs to. Names no family here knows are left out."""

    def __init__(self, families: list, shared: Mapping) -> None:
        by_sample_name = {family.name + suffix: family for family in families for suffix in ("", *_SAMPLE_SUFFIXES)}
        for key, value in sorted(shared.items()):
            name, labels = json.loads(key)
            family = by_sample_name.get(name)
            if family is None:
                continue
            labels = dict(labels)
            for n, sample in enumerate(family.samples):
                if sample.name == name and sample.labels == labels:
                    family.samples[n] = sample._replace(value=sample.value + float(value))
                    break
            else:
                family.add_sample(name, labels, float(value))
        self.families = families

    def collect(self):
        return self.families


def mark_process_dead(pid: int) -> None:
    """gunicorn `child_exit` hook: drop a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(pid)
