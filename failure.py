"""One failure path: how any error becomes the failure record a job ends with.

Three places fail a job: the pipeline (`worker`) when a stage raises, the watchdog
(`runner.JobWatch`) when a job outlives its deadline, and the lease sweeper (`recovery`) when the
process running a job died. As python-rq sends every way a job can fail through
`Job._handle_failure`, all three build the error row with `failure_record` and count the ended job
with `Metrics.record_outcome`, so a failure is stored, refunded and counted the same whoever saw it,
and a new failure is one error type in `exceptions.py` (its code, message and details), not a new
record written by hand.
"""

from __future__ import annotations

from database import FailureRecord
from exceptions import JobFailure, as_job_failure
from job import Stage


def failure_record(error: BaseException, stage: Stage | None) -> FailureRecord:
    """The error row of a job that ended with `error` at `stage` (None: not known).

    Code, safe message and details come from the error type (`exceptions.py`). An unexpected
    exception becomes INTERNAL_ERROR and only its type name is kept: its message may hold anything
    (a secret, a user's data), and the record is stored, sent in the callback and shown to operators.
    """
    failure = as_job_failure(error)
    details = dict(failure.details)
    if not isinstance(error, JobFailure):
        details["exception"] = type(error).__name__
    return FailureRecord(
        code=failure.code, message=failure.message, stage=stage.value if stage is not None else None, details=details
    )
