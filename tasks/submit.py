"""Creating jobs: store the row (honouring Idempotency-Key), then send its chain after commit.

A domain declares its operations with :func:`register_operation`; the API looks
them up by (domain, operation) and never names a task itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from celery import chain
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.engine import Connection, RowMapping

from tasks import connections, jobstore
from tasks.app import app, send
from tasks.jobstore import NewJob
from tasks.webhooks import notify

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Operation:
    domain: str
    name: str
    steps: tuple[str, ...]
    reuse_seconds: float = 0.0
    figures: Callable[[Connection, str | None], dict[str, Any]] | None = None  # extra /stats figures


OPERATIONS: dict[tuple[str, str], Operation] = {}


def register_operation(domain: str, name: str, steps: list[str], *, reuse_seconds: float = 0.0,
                       figures: Callable[[Connection, str | None], dict[str, Any]] | None = None) -> Operation:
    """Declare that ``POST /<domain>/<name>`` runs these Celery task names as a chain.

    ``reuse_seconds`` > 0: a job with identical input and parameters finishes at once
    with the result of one that succeeded within that time (seed 003 caches 24 h).
    ``figures(conn, owner)`` adds the operation's own figures to ``GET /stats``.
    """
    op = Operation(domain, name, tuple(steps), reuse_seconds, figures)
    OPERATIONS[(domain, name)] = op
    return op


def get_operation(domain: str, name: str) -> Operation:
    return OPERATIONS[(domain, name)]


@dataclass(frozen=True)
class Submitted:
    job: RowMapping
    created: bool


def submit(new: NewJob) -> Submitted:
    """Insert the job and dispatch it; a repeated Idempotency-Key returns the first job.

    For an operation that allows reuse, an identical recent success finishes the job at once.
    """
    op = get_operation(new.domain, new.operation)
    if op.reuse_seconds:
        new.reuse_key = jobstore.reuse_key(new.owner_key_id, new.domain, new.operation, new.input_key,
                                          new.params)
    # one statement on PostgreSQL unless a savepoint (Idempotency-Key) or a reuse lookup joins it
    plain = not new.idempotency_key and not new.reuse_key
    try:
        with (connections.single_statement() if plain else connections.transaction()) as conn:
            row = jobstore.insert_job(conn, new)
            source = (jobstore.find_reusable(conn, new.reuse_key, max_age_seconds=op.reuse_seconds)
                      if new.reuse_key else None)
            if source is not None:
                row = jobstore.copy_outcome(conn, row["id"], source)
    except jobstore.DuplicateJob as dup:
        with connections.transaction() as conn:
            return Submitted(jobstore.get_job(conn, dup.job_id), created=False)
    if source is not None:
        notify(row, "job.succeeded")
    else:
        dispatch(row)
    return Submitted(row, created=True)


def dispatch(row: RowMapping) -> None:
    """Send the job's remaining steps, from its current one, as a Celery chain.

    A broker outage is logged, not raised: the job row is committed, and the
    sweeper re-sends queued jobs whose message never arrived.
    """
    steps: list[str] = row["steps"]
    remaining = steps[steps.index(row["step"]) if row["step"] in steps else 0:]
    try:
        if len(remaining) == 1:  # by name: Celery's signature and task layers add ~0.1 ms to each POST
            send(remaining[0], (row["id"],))
        else:
            chain(*[app.signature(name, args=(row["id"],), immutable=True) for name in remaining]).apply_async()
    except BrokerError as exc:
        log.error("dispatch.failed", job_id=row["id"], error=str(exc))
