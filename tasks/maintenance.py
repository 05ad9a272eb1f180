"""Beat's housekeeping on the ``maintenance`` queue: lease sweeps and dead-letter re-drives.

The sweeper is what makes a killed worker's job come back on any broker: a
running step renews its lease; when the lease expires, the job's current step is
sent again. Claims count attempts, so a job that keeps killing its worker ends
dead instead of looping.
"""

from __future__ import annotations

import structlog

from tasks import connections, jobstore, lifecycle
from tasks.app import app
from tasks.base import holder_alive_here
from tasks.jobstore import ErrorClass, IllegalTransition
from tasks.settings import get_settings
from tasks.submit import dispatch
from tasks.webhooks import DELIVER, deliver

log = structlog.get_logger(__name__)

MAX_REDRIVES = 5
QUEUED_RESEND_SECONDS = 300


@app.task(name="meshmill.maintenance.sweep_leases", ignore_result=True)
def sweep_leases() -> dict[str, int]:
    """Re-send steps whose lease expired, and queued jobs whose message seems lost."""
    with connections.transaction() as conn:
        expired = jobstore.expired_leases(conn)
        stale = jobstore.stale_queued(conn, older_than=QUEUED_RESEND_SECONDS)
        for row in stale:
            jobstore.touch(conn, row["id"])
    requeued = 0
    for row in expired:
        try:
            requeued += _recover(row)
        except IllegalTransition:
            continue
    for row in stale:
        dispatch(row)
    return {"requeued": requeued, "resent": len(stale)}


def _recover(row) -> int:
    """Decide what an expired lease means and act on it.

    - the holder is a live process on this host: it is busy in native code that keeps the
      heartbeat thread from running (OCCT, pymeshfix hold the GIL) -> extend the lease;
    - the step has run past Celery's hard time limit: it was killed for its time ->
      fail the job permanently with its domain's TOO_COMPLEX code;
    - the step keeps losing its worker -> dead (WORKER_LOST);
    - otherwise the worker died -> re-send the step.
    """
    settings = get_settings()
    owner = row["lease_owner"]
    if owner and holder_alive_here(owner):
        with connections.transaction() as conn:
            jobstore.renew_lease(conn, row["id"], owner, lease_seconds=settings.lease_seconds)
        log.info("lease.holder_busy", job_id=row["id"], step=row["step"])
        return 0
    claimed = jobstore.as_utc(row["claimed_at"])
    if owner and claimed and (jobstore.utcnow() - claimed).total_seconds() >= settings.hard_time_limit:
        code = getattr(app.tasks.get(row["step"]), "too_complex_code", "JOB_TOO_COMPLEX")
        lifecycle.fail(row["id"], code, "the job was stopped at the hard time limit",
                       {"hard_time_limit_s": settings.hard_time_limit})
        return 0
    if row["lost_leases"] >= settings.max_attempts:
        lifecycle.bury(row["id"], task_name=row["step"], error_class=ErrorClass.SYSTEMIC, code="WORKER_LOST",
                       message=f"step {row['step']} lost its worker {row['lost_leases'] + 1} times "
                       "(crash, out of memory or hard time limit)")
        return 0
    log.warning("lease.expired", job_id=row["id"], step=row["step"], lost_leases=row["lost_leases"] + 1)
    lifecycle.requeue(row["id"], reason=f"worker lost; re-sending {row['step']}", lost=True)
    return 1


@app.task(name="meshmill.maintenance.redrive_dead_letters", ignore_result=True)
def redrive_dead_letters() -> int:
    """Re-drive transient dead letters whose back-off has passed."""
    with connections.transaction() as conn:
        due = jobstore.due_dead_letters(conn, max_redrives=MAX_REDRIVES)
    for letter in due:
        redrive(letter["id"])
    return len(due)


def redrive(dl_id: int) -> bool:
    """Re-drive one dead letter (beat or an operator); False if it is resolved or gone."""
    with connections.transaction() as conn:
        letter = jobstore.get_dead_letter(conn, dl_id)
        if letter is None or letter["resolved_at"] is not None:
            return False
        jobstore.resolve_dead_letter(conn, dl_id)
    if letter["task_name"] == DELIVER:
        payload = letter["payload"] or {}
        deliver.apply_async(args=(letter["job_id"], payload["event_type"], payload["snapshot"],
                                  payload["message_id"]))
        return True
    try:
        lifecycle.requeue(letter["job_id"], reason=f"re-driven from dead letter {dl_id}", from_dead=True)
    except IllegalTransition:
        return False
    log.info("dead_letter.redriven", dead_letter=dl_id, job_id=letter["job_id"])
    return True

