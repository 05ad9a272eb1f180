"""Moving jobs to their outcomes: each change is one transaction (row + event, through
``jobstore.update_with_event``; on PostgreSQL a success is one autocommitted statement),
then the webhook is queued after commit. Every domain, the sweeper, cancel and re-drive go
through these functions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog

from tasks import connections, jobstore
from tasks.jobstore import ErrorClass, State
from tasks.settings import get_settings
from tasks.webhooks import notify

log = structlog.get_logger(__name__)

def succeed(job_id: str, owner: str, result: dict[str, Any], message: str = "done",
            progress: list[tuple[int, str, datetime]] | None = None) -> None:
    """Finish a job's last step with its result (artifacts are already recorded).

    ``progress``: the step's held ``job.progress`` reports, written before ``job.succeeded``
    by the same statement.
    """
    with connections.single_statement() as conn:
        row = jobstore.transition(conn, job_id, State.SUCCEEDED, expect=[State.RUNNING], held_by=owner,
                                  event=jobstore.Event("job.succeeded", message, progress=progress or []),
                                  returning=jobstore.OUTCOME_COLUMNS,
                                  result=result, progress=100, message=message)
    log.info("job.succeeded", job_id=job_id)
    notify(row, "job.succeeded")


def fail(job_id: str, code: str, message: str, details: dict | None = None, *, owner: str | None = None,
         progress: list[tuple[int, str, datetime]] | None = None) -> None:
    """A permanent failure: bad input or over a guard. Never retried.

    ``progress``: the step's held reports, so the history shows how far it got.
    """
    failed = jobstore.Event("job.failed", message, {"code": code, "details": details or {}}, progress=progress or [])
    with connections.single_statement() as conn:
        row = jobstore.transition(conn, job_id, State.FAILED, held_by=owner, error_code=code,
                                  returning=jobstore.OUTCOME_COLUMNS, event=failed,
                                  error_message=message, error_details=details or {},
                                  error_class=ErrorClass.PERMANENT.value, message=message)
    log.info("job.failed", job_id=job_id, code=code, error=message)
    notify(row, "job.failed")


def bury(job_id: str, *, task_name: str, error_class: ErrorClass, code: str, message: str,
         details: dict | None = None, owner: str | None = None, retry_in: float | None = None) -> None:
    """Dead-letter a job: transient ones after their retries, systemic ones at once.

    ``retry_in`` schedules beat's re-drive of a transient dead letter.
    """
    next_retry = jobstore.utcnow() + timedelta(seconds=retry_in) if retry_in is not None else None
    with connections.transaction() as conn:
        died = jobstore.Event("job.dead", message,
                              {"code": code, "class": error_class.value, "details": details or {}})
        row = jobstore.transition(conn, job_id, State.DEAD, held_by=owner, error_code=code, event=died,
                                  returning=jobstore.OUTCOME_COLUMNS,
                                  error_message=message, error_details=details or {},
                                  error_class=error_class.value, message=message)
        jobstore.add_dead_letter(conn, kind="job", job_id=job_id, task_name=task_name,
                                 error_class=error_class.value, error_code=code, error_message=message,
                                 attempts=row["attempts"], next_retry_at=next_retry)
    level = log.error if error_class is ErrorClass.SYSTEMIC else log.warning
    level("job.dead", job_id=job_id, code=code, error_class=error_class.value, error=message)
    notify(row, "job.dead")


def cancel(job_id: str, owner_key_id: str | None) -> dict | None:
    """Cancel a queued or running job; returns the row, or None if it does not exist for this owner.

    Raises IllegalTransition when the job already ended.
    """
    with connections.transaction() as conn:
        if jobstore.get_job(conn, job_id, owner=owner_key_id) is None:
            return None
        row = jobstore.transition(conn, job_id, State.CANCELED, expect=[State.QUEUED, State.RUNNING],
                                  event=jobstore.Event("job.canceled", "canceled"), message="canceled")
    notify(row, "job.canceled")
    return row


def requeue(job_id: str, *, reason: str, from_dead: bool = False, lost: bool = False) -> dict:
    """Put a job back in the queue at its current step and send it (sweeper, re-drive).

    ``lost`` counts a lost lease (the worker died); see the sweeper for the limit.
    """
    from tasks.submit import dispatch

    with connections.transaction() as conn:
        window = jobstore.utcnow() + timedelta(seconds=get_settings().lease_seconds)
        values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": window, "message": reason}
        if lost:
            values["lost_leases"] = jobstore.jobs.c.lost_leases + 1
        if from_dead:
            values.update(error_code=None, error_message=None, error_details=None, error_class=None,
                          attempts=0, lost_leases=0, finished_at=None)
        row = jobstore.transition(conn, job_id, State.QUEUED if from_dead else State.RUNNING,
                                  expect=[State.DEAD] if from_dead else [State.RUNNING],
                                  event=jobstore.Event("job.requeued", reason), **values)
    dispatch(row)
    return row

