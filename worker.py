"""The job pipeline: fetch -> extract -> diff -> summarize -> validate -> save -> callback.

`process_job(job_id, services)` is the one entry point, used by the in-process runner, by RQ
workers and by the CLI. It claims the job (so it runs once), records `stage` and `progress` after
each stage, and ends the job exactly once: `complete_job` (report saved, refund if the validator
says so) or `fail_job` (error logged, refund). Any exception becomes a typed `JobFailure`.

    python -m worker report TICKER [--json FILE] [--html FILE] [--markdown FILE]
                                                   run the pipeline on the embedded defaults
    python -m worker extract FILE                  print the items of one filing as JSON
    python -m worker rq-worker [--burst]           run queued jobs from Redis (QUEUE_BACKEND=rq)

The command line comes first in this file, before the pipeline's imports: `python -m worker
extract` stops there having loaded only the extractor (the pipeline's imports cost ~0.25 s and
~25 MB); the other commands import this module as `worker` and run from it.
"""

from __future__ import annotations

import argparse
import sys

from exceptions import ConfigError, InvalidField, JobFailure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m worker", description="10-K report worker")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="run the whole pipeline for one ticker on the embedded defaults")
    report.add_argument("ticker")
    report.add_argument("--json", metavar="FILE", help="write the report object to FILE (without any FILE option: to stdout)")
    report.add_argument("--html", metavar="FILE", help="write the report as a self-contained HTML page to FILE")
    report.add_argument("--markdown", metavar="FILE", help="write the report as Markdown to FILE")
    report.add_argument("--verbose", action="store_true", help="show the JSON logs")
    extract = commands.add_parser("extract", help="print the items of one filing (HTML or .txt) as JSON")
    extract.add_argument("file")
    rq_worker = commands.add_parser("rq-worker", help="run jobs from Redis (QUEUE_BACKEND=rq)")
    rq_worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    args = parser.parse_args(argv)
    try:
        if args.command == "extract":
            return cmd_extract(args)
        import worker  # the pipeline, under its own name (this file may be running as __main__)

        return {"report": worker.cmd_report, "rq-worker": worker.cmd_rq_worker}[args.command](args)
    except JobFailure as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    except InvalidField as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


def cmd_extract(args) -> int:
    import json

    from section_extractor import extract_items

    with open(args.file, "rb") as fh:
        content = fh.read()
    extracted = extract_items(content)
    out = {
        item: {
            "status": text.status.value,
            "title": text.title,
            "word_count": text.word_count,
            "text": text.text,
            "refers_to": text.refers_to,
        }
        for item, text in extracted.items.items()
    }
    json.dump(out, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

# --------------------------------------------------------------------------------------------------
# What a job needs
# --------------------------------------------------------------------------------------------------

import json  # noqa: E402  (after the command line: see the module docstring)
import logging  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Callable  # noqa: E402

import defaults  # noqa: E402
import observability  # noqa: E402
from ai_analyzer import Summarizer, make_summarizer  # noqa: E402
from callbacks import CallbackDispatcher  # noqa: E402
from config import Settings  # noqa: E402
from database import ReportRecord, Store, open_store  # noqa: E402
from diff_analyzer import diff_filings  # noqa: E402
from exceptions import ExtractionFailed, LeaseLost, StoreUnavailable  # noqa: E402
from failure import failure_record  # noqa: E402
from faithfulness import Sources  # noqa: E402
import highlights  # noqa: E402
from job import Job, Stage, parse_job_request  # noqa: E402
from key_figures import key_figures  # noqa: E402
from metrics import Metrics  # noqa: E402
from observability import configure_logging, job_context  # noqa: E402
from quality_validator import FilingContext, RefundDecision, validate  # noqa: E402
from recovery import Sweeper  # noqa: E402
from render import render_html, render_markdown  # noqa: E402
from report import StageResults, build_report  # noqa: E402
from retry import Backoff  # noqa: E402
from runner import JobControl, JobWatch, LeaseKeeper, RQRunner, Runner, ThreadPoolRunner  # noqa: E402
from sec_fetcher import EdgarClient  # noqa: E402
from section_extractor import extract_items  # noqa: E402

log = logging.getLogger("worker")


@dataclass(frozen=True)
class Pipeline:
    """The pure stages. Tests substitute one of them to inject a failure at that stage."""

    extract: Callable = extract_items
    diff: Callable = diff_filings
    validate: Callable = validate
    render: Callable = render_html


@dataclass
class Services:
    """Everything a job needs, built once per process (after gunicorn forks)."""

    settings: Settings
    store: Store
    edgar: EdgarClient
    summarizer: Summarizer
    dispatcher: CallbackDispatcher
    metrics: Metrics
    pipeline: Pipeline = field(default_factory=Pipeline)
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")
    runner: Runner | None = None
    sweeper: Sweeper | None = None

    @classmethod
    def build(cls, settings: Settings, *, store: Store | None = None, pipeline: Pipeline | None = None, **parts) -> "Services":
        store = store or open_store(settings)
        metrics = parts.pop("metrics", None) or Metrics()
        services = cls(
            settings=settings,
            store=store,
            edgar=parts.pop("edgar", None) or EdgarClient(settings, on_count=metrics.record_sec),
            summarizer=parts.pop("summarizer", None) or make_summarizer(settings),
            dispatcher=parts.pop("dispatcher", None) or CallbackDispatcher(settings, store, metrics=metrics),
            metrics=metrics,
            pipeline=pipeline or Pipeline(),
        )
        if settings.queue_backend == "rq":
            services.runner = RQRunner(settings, store, metrics=metrics)
        else:
            services.runner = ThreadPoolRunner(
                settings, store, services.owner, lambda job_id, control: process_job(job_id, services, control), metrics=metrics
            )
        services.sweeper = Sweeper(settings, store, runner=services.runner, metrics=metrics, on_change=services.dispatcher.wake)
        return services

    def start(self) -> "Services":
        self.dispatcher.start()
        self.runner.start()
        self.sweeper.start()
        return self

    def close(self, wait: bool = False, timeout: float | None = 5.0) -> None:
        """Stop taking jobs; with `wait`, let running ones finish within `timeout` seconds."""
        self.runner.shutdown(wait=wait, timeout=timeout)
        self.sweeper.stop()
        self.dispatcher.stop()
        if not self.runner.running_here():  # never close the store under a job still running here
            self.store.close()


# --------------------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------------------


class _Run:
    """One execution of one job: tracks the stage, records progress, checks the deadline."""

    def __init__(self, job: Job, services: Services, control: JobControl, on_progress: Callable | None):
        self.job = job
        self.services = services
        self.control = control
        self.on_progress = on_progress
        self.stage = Stage.FETCHING  # where a failure is reported if one comes before the first stage
        self.stage_seconds: dict[str, float] = {}
        self._stage_started: float | None = None  # None until the first stage is entered

    def enter(self, stage: Stage) -> None:
        self.finish()
        self.control.check()
        self.stage = stage
        if not self.services.store.record_progress(self.job.job_id, owner=self.services.owner, stage=stage, progress=stage.progress):
            raise LeaseLost()
        self._stage_started = time.monotonic()
        if self.on_progress:
            self.on_progress(stage)

    def finish(self) -> None:
        """Close the current stage: its time goes to the report, the metrics and the log."""
        if self._stage_started is None:
            return
        elapsed = time.monotonic() - self._stage_started
        self.stage_seconds[self.stage.value] = self.stage_seconds.get(self.stage.value, 0.0) + elapsed
        self.services.metrics.stage_seconds.labels(self.stage.value).observe(elapsed)
        log.info("stage finished", extra={"stage": self.stage.value, "duration_ms": int(elapsed * 1000)})
        self._stage_started = None


def process_job(job_id: str, services: Services, control: JobControl | None = None, on_progress: Callable | None = None) -> Job | None:
    """Run one job to a terminal state. Safe to call twice: only one caller can claim the job."""
    control = control or JobControl(job_id=job_id, timeout_seconds=services.settings.job_timeout_seconds)
    store, settings = services.store, services.settings
    with job_context(job_id):
        job = store.claim_job(job_id, owner=services.owner, lease_seconds=settings.job_lease_seconds)
        if job is None:
            log.info("job not claimable (already running or finished)")
            return store.get_job(job_id)
        control.claimed()
        log.info("job started", extra={"ticker": job.ticker, "attempt": job.attempts})
        run = _Run(job, services, control, on_progress)
        started = time.monotonic()
        try:
            record, decision = _produce_report(run, services, started)
            outcome = _store_call(
                lambda: store.complete_job(
                    job_id,
                    owner=services.owner,
                    report=record,
                    refund=decision.refund,
                    refund_reason=decision.reason,
                )
            )
            run.finish()
            if not outcome.changed:
                log.warning("job finished elsewhere; this run's report is discarded", extra={"status": outcome.job.status.value})
            else:
                services.metrics.record_outcome(outcome.job, "QUALITY_BELOW_STANDARD")
                log.info(
                    "job completed",
                    extra={"status": outcome.job.status.value, "refunded": outcome.job.refunded,
                           "duration_ms": int((time.monotonic() - started) * 1000)},
                )
            return outcome.job
        except LeaseLost:
            log.warning("job stopped: this worker no longer holds it")
            return store.get_job(job_id)
        except Exception as exc:  # every failure ends the job, typed, exactly once
            run.finish()  # the failing stage's time counts too: a slow SEC shows in report_stage_seconds
            return _fail(job_id, run.stage, exc, services, owner=services.owner)
        finally:
            services.dispatcher.wake()


def _produce_report(run: _Run, services: Services, started: float) -> tuple[ReportRecord, RefundDecision]:
    """Run the stages, then assemble the report row to save and the validator's refund decision."""
    job = run.job
    results = _run_stages(run, services)

    run.enter(Stage.SAVING)  # the report's stage_seconds cover every stage before this one

    report_id = str(uuid.uuid4())
    body = build_report(
        results,
        report_id=report_id,
        job_id=job.job_id,
        generation_time_seconds=time.monotonic() - started,
        stage_seconds=run.stage_seconds,
    )
    record = ReportRecord(
        report_id=report_id,
        ticker=job.ticker,
        company_name=results.pair.company.name,
        body=body,
        is_valid=results.quality.is_valid,
        ai_cost_usd=results.summaries.cost_usd,
        total_tokens=results.summaries.total_tokens,
        html=_rendered(services.pipeline.render, body),
    )
    decision = results.quality.decision
    if decision.refund:
        log.warning("report below standard; the token will be refunded", extra={"codes": list(decision.codes)})
    return record, decision


def _run_stages(run: _Run, services: Services) -> StageResults:
    """fetch -> extract -> diff -> summarize -> validate, each stage entered (and recorded) in turn."""
    job, pipeline = run.job, services.pipeline

    run.enter(Stage.FETCHING)
    pair = services.edgar.latest_annual_reports(job.ticker, deadline=run.control.deadline)

    run.enter(Stage.EXTRACTING)
    older = pipeline.extract(pair.older.content)
    newer = pipeline.extract(pair.newer.content)
    if older.method == "none" and newer.method == "none":
        raise ExtractionFailed("no item headings were found in either annual report")
    figures = key_figures(
        older, newer, older_period=pair.older.ref.period_of_report, newer_period=pair.newer.ref.period_of_report,
        older_url=pair.older.url, newer_url=pair.newer.url,
    )

    run.enter(Stage.DIFFING)
    diff = pipeline.diff(older, newer, older_period=pair.older.ref.period_of_report, newer_period=pair.newer.ref.period_of_report)
    ranked = highlights.rank(figures, diff, older, newer, older_url=pair.older.url, newer_url=pair.newer.url)

    run.enter(Stage.SUMMARIZING)
    sources = Sources(diff)  # each item's text normalised once, for the summarizer's checks and the validator's
    summaries = services.summarizer.summarize(diff, highlights=ranked, deadline=run.control.deadline, sources=sources)
    services.metrics.record_usage(summaries.usage)

    run.enter(Stage.VALIDATING)
    context = FilingContext(older_period=pair.older.ref.period_of_report, newer_period=pair.newer.ref.period_of_report)
    quality = pipeline.validate(older, newer, diff, summaries, context, highlights=ranked, sources=sources)

    return StageResults(pair=pair, older=older, newer=newer, key_figures=figures, diff=diff, highlights=ranked,
                        summaries=summaries, quality=quality)


def _rendered(render: Callable[[dict], str], body: dict) -> str | None:
    """The page a person reads, stored with the report. A page that fails to render never costs the
    user the report: it is stored without one, and GET /reports/<id> renders it on request."""
    try:
        return render(body)
    except Exception:
        log.exception("the report page could not be rendered; the report is stored without it")
        return None


def fail_unqueued_job(job_id: str, exc: JobFailure, services: Services) -> Job | None:
    """End a job that was recorded but could not be queued: failed, refunded once, callback queued.
    No runner holds it, so the store acts for anyone. One store call, since a request is waiting;
    if it fails, lease recovery ends the job later."""
    job = _fail(job_id, Stage.QUEUED, exc, services, owner=None, budget_seconds=0)
    services.dispatcher.wake()
    return job


def _fail(
    job_id: str, stage: Stage, exc: BaseException, services: Services, *, owner: str | None,
    budget_seconds: float = defaults.STORE_RETRY_BUDGET_SECONDS,
) -> Job | None:
    record = failure_record(exc, stage)
    if isinstance(exc, JobFailure):
        log.warning("job failed", extra={"code": record.code, "stage": record.stage, "error": record.message})
    else:
        log.exception("job failed with an unexpected error", extra={"code": record.code, "stage": record.stage})
    try:
        outcome = _store_call(lambda: services.store.fail_job(job_id, failure=record, owner=owner), budget_seconds)
    except Exception:
        # The lease will expire and recovery fails the job later: the refund is delayed, not lost.
        log.critical("could not record the job's failure; leaving it to lease recovery", exc_info=True)
        return None
    if not outcome.changed:
        log.warning("failure not recorded: the job was already finished elsewhere", extra={"status": outcome.job.status.value})
    else:
        services.metrics.record_outcome(outcome.job, record.code)
    return outcome.job


STORE_RETRY = Backoff(
    base=defaults.STORE_RETRY_BASE_SECONDS, cap=defaults.STORE_RETRY_MAX_DELAY_SECONDS, jitter=defaults.STORE_RETRY_JITTER
)


def _store_call(call: Callable, budget_seconds: float = defaults.STORE_RETRY_BUDGET_SECONDS):
    """Retry an idempotent terminal write on transient store errors for up to `budget_seconds`.

    A finished report must outlive a store blip (a Supabase pooler restart takes tens of seconds):
    giving up early would throw the report away and leave the refund to lease recovery.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except StoreUnavailable:
            delay = STORE_RETRY.delay(attempt)
            if time.monotonic() - started + delay > budget_seconds:
                raise
            log.warning("store unavailable; retrying", extra={"attempt": attempt, "delay_s": delay})
            time.sleep(delay)


def run_queued_job(job_id: str) -> str | None:
    """The RQ entry point (`rq worker reports`): run one job in this work horse, keeping its lease."""
    settings = Settings.from_env()
    observability.setup(settings, release=f"{defaults.SERVICE_NAME}@{defaults.VERSION}")
    services = Services.build(settings)
    control = JobControl(job_id=job_id, timeout_seconds=settings.job_timeout_seconds)
    try:
        with LeaseKeeper(JobWatch(settings, services.store, services.owner, services.metrics), job_id, control):
            job = process_job(job_id, services, control)
        # The callback is in the store's outbox; the web processes' dispatchers send it within
        # CALLBACK_POLL_INTERVAL_SECONDS. Sending it from here would hold this worker on a slow receiver.
        return job.status.value if job else None
    finally:
        _add_metrics_to_shared(services)
        services.store.close()


def _add_metrics_to_shared(services: Services) -> None:
    """This work horse's metrics die with it: add them to the totals the web's /metrics shows."""
    from redis import Redis

    try:
        services.metrics.add_to_shared(Redis.from_url(services.settings.redis_url))
    except Exception:  # metrics never fail a job
        log.warning("could not add this job's metrics to the shared totals", exc_info=True)


# --------------------------------------------------------------------------------------------------
# The commands that run the pipeline (`main`, at the top, dispatches to them)
# --------------------------------------------------------------------------------------------------


def _cli_settings() -> Settings:
    return Settings.from_env(fallbacks={"APP_ENV": "development"})


def cmd_report(args) -> int:
    settings = _cli_settings()
    configure_logging("WARNING" if not args.verbose else "INFO", settings.secrets)
    request = parse_job_request(  # the API's own validation and normalisation (BRK.B -> BRK-B)
        {"job_id": str(uuid.uuid4()), "user_id": str(uuid.uuid4()), "ticker": args.ticker}, allowed_callback_hosts=()
    )
    services = Services.build(settings)
    services.store.create_job(request, lease_owner=services.owner, lease_seconds=settings.job_lease_seconds)
    print(f"job {request.job_id}: {request.ticker}", file=sys.stderr)
    control = JobControl(job_id=request.job_id, timeout_seconds=settings.job_timeout_seconds)
    with LeaseKeeper(JobWatch(settings, services.store, services.owner, services.metrics), request.job_id, control):
        # the lease is renewed as a server's would be, so a server sharing the store never sweeps this job
        job = process_job(request.job_id, services, control,
                          on_progress=lambda stage: print(f"  {stage.progress:3d}%  {stage.value}", file=sys.stderr))
    services.close()
    if job is None:
        print("the job's outcome could not be recorded", file=sys.stderr)
        return 2
    if job.status.is_terminal and not job.error:
        print(f"  {Stage.DONE.progress:3d}%  {Stage.DONE.value}", file=sys.stderr)
    print(f"  status: {job.status.value}, refunded: {job.refunded}", file=sys.stderr)
    if job.error:
        print(f"  error: {job.error.code}: {job.error.message}", file=sys.stderr)
        return 1
    report = services.store.get_report(job.report_id) if job.report_id else None
    if report is None:
        return 1

    def as_json() -> str:
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"

    files = (
        (args.json, "report", as_json),
        (args.html, "page", lambda: services.store.get_report_html(job.report_id) or render_html(report)),
        (args.markdown, "Markdown", lambda: render_markdown(report)),
    )
    for path, what, text in files:
        if path:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text())
            print(f"  {what} written to {path}", file=sys.stderr)
    if not (args.json or args.html or args.markdown):
        sys.stdout.write(as_json())
    return 0


def cmd_rq_worker(args) -> int:
    """An RQ worker for QUEUE_BACKEND=rq, configured from the same settings as the web service."""
    from redis import Redis
    from rq import Queue, Worker

    from runner import RQ_QUEUE

    settings = Settings.from_env()
    if not settings.redis_url:
        print("REDIS_URL is required to run an RQ worker", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.secrets)
    connection = Redis.from_url(settings.redis_url)
    worker = Worker([Queue(RQ_QUEUE, connection=connection)], connection=connection)
    worker.work(burst=args.burst, with_scheduler=False)
    return 0
