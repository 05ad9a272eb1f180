"""JobTask: the one base for every job step.

A step is a plain function ``fn(ctx: StepContext) -> dict | None`` registered with
:func:`job_step`. JobTask claims the job's lease, keeps it alive from a heartbeat
thread, gives the step its input, progress callback and artifact writer, and
decides what an exception means:

- ``InputError`` / ``TooComplexError`` / soft time limit: permanent, ``failed`` at once;
- ``RemoteError``, connection and storage errors: transient, retried through Celery's
  ``retry`` with exponential backoff and jitter, then dead-lettered for beat's re-drive;
- anything else (``DependencyError``, bugs): systemic, dead-lettered, logged at error.

A redelivered or duplicate message finds the lease taken or the job moved on and
does nothing, so every step is safe to run twice.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy.exc
import structlog
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval
from sqlalchemy.engine import RowMapping

from pipelines.errors import InputError, PipelineError, RemoteError
from tasks import connections, jobstore, lifecycle
from tasks.app import app
from tasks.heartbeat import Heartbeat
from tasks.jobstore import ErrorClass, State
from tasks.outcome_writer import writer as outcome_writer
from tasks.settings import get_settings
from tasks.storage import StorageError, artifact_key, sha256_bytes
from tasks.webhooks import notify

log = structlog.get_logger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    RemoteError, StorageError, ConnectionError, TimeoutError, *connections.TRANSIENT_DB_ERRORS)


def lease_owner_id() -> str:
    """``host:pid:random``: unique per run, and tells the sweeper where the holder lives."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex}"


def holder_alive_here(owner: str) -> bool:
    """True when the lease holder is a live process on this host (it may be busy in native code)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:40] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobCanceled(Exception):
    """The job was canceled while its step ran."""


class LeaseLost(Exception):
    """Another worker took the job over (this one was presumed dead)."""


@dataclass
class StepContext:
    """What a step sees: its job, input, parameters, progress and artifact writer.

    Progress is coalesced: at most one row write (and webhook) per ``progress_interval``.
    Reports held back in between are not lost: the heartbeat writes them while the step
    runs, and the step's outcome writes the rest as events in its own transaction, so
    the history keeps every step a pipeline reported.
    """

    job: RowMapping
    owner: str
    _last_write: float = field(default_factory=time.monotonic)  # the claim just wrote the row
    _held: list[tuple[int, str, datetime]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    canceled: bool = False

    @property
    def job_id(self) -> str:
        return self.job["id"]

    @property
    def params(self) -> dict[str, Any]:
        return self.job["params"] or {}

    def input_bytes(self) -> bytes:
        return connections.storage().get_bytes(self.job["input_key"])

    def progress(self, pct: int, message: str) -> None:
        """Pipeline progress callback (0-99; the outcome sets 100)."""
        if self.canceled:
            raise JobCanceled()
        with self._lock:
            self._held.append((max(0, min(99, int(pct))), message, jobstore.utcnow()))
            due = time.monotonic() - self._last_write >= get_settings().progress_interval
        if due:
            self.flush_progress()

    def take_held(self) -> list[tuple[int, str, datetime]]:
        """Reports not yet written; the caller writes them as events."""
        with self._lock:
            held, self._held = self._held, []
            self._last_write = time.monotonic()
        return held

    def flush_progress(self) -> bool:
        """Write held reports: the latest to the row and webhook, all of them as events.

        Returns whether it wrote (a progress write also renews the lease).
        """
        held = self.take_held()
        if not held:
            return False
        pct, message, _ = held[-1]
        settings = get_settings()
        with connections.transaction(durable=False) as conn:
            state = jobstore.set_progress(conn, self.job_id, self.owner, pct, message,
                                          lease_seconds=settings.lease_seconds)
            if state == State.RUNNING:
                jobstore.add_progress_events(conn, self.job_id, held)
        if state is None:
            raise LeaseLost()
        if state != State.RUNNING:
            self.canceled = True
            raise JobCanceled()
        notify({**self.job, "state": state, "progress": pct, "message": message}, "job.progress")
        return True

    def record(self, events: list[tuple[str, str, dict[str, Any] | None]]) -> None:
        """Append domain events ``(type, message, data)`` to the job's history in one transaction."""
        progress = int(self.job["progress"] or 0)
        with connections.transaction() as conn:
            for type_, message, data in events:
                jobstore.add_event(conn, self.job_id, type_, State.RUNNING, progress, message, data)

    def save_artifact(self, name: str, data: bytes, media_type: str) -> str:
        """Store an artifact under ``artifacts/<job>/<name>`` and record it (idempotent)."""
        key = artifact_key(self.job_id, name)
        connections.storage().put_bytes(key, data, media_type)
        with connections.transaction() as conn:
            jobstore.add_artifact(conn, self.job_id, name, key, media_type, len(data), sha256_bytes(data))
        return key

    def start_heartbeat(self) -> None:
        _heartbeat().watch(self)

    def stop_heartbeat(self) -> None:
        """Stop renewing before the outcome is written, so nothing lands after it."""
        self._stop.set()
        _heartbeat().release(self)

    def beat(self) -> bool:
        """Renew the lease (writing held progress); False once the step must stop renewing."""
        if self._stop.is_set() or self.canceled:
            return False
        try:
            if self.flush_progress():
                return True  # that write renewed the lease too
        except (JobCanceled, LeaseLost):
            self.canceled = True
            return False
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("progress.flush_failed", job_id=self.job_id, error=str(exc))
        try:
            with connections.transaction(durable=False) as conn:
                state = jobstore.renew_lease(conn, self.job_id, self.owner,
                                             lease_seconds=get_settings().lease_seconds)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("lease.renew_failed", job_id=self.job_id, error=str(exc))
            return True
        if state != State.RUNNING:
            self.canceled = True
            return False
        return True


@lru_cache(maxsize=1)
def _heartbeat() -> Heartbeat:
    """This process's heartbeat (made on first use, with the settings' interval)."""
    return Heartbeat(get_settings().heartbeat_seconds)


StepFn = Callable[[StepContext], "dict[str, Any] | None"]


class JobTask(Task):
    """Base class of every job step; see the module docstring."""

    abstract = True
    acks_late = True
    ignore_result = True
    max_retries = None  # the retry budget is settings.max_attempts, checked in _retry_or_bury
    too_complex_code = "JOB_TOO_COMPLEX"
    step_fn: StepFn

    def run(self, job_id: str) -> None:
        settings = get_settings()
        owner = lease_owner_id()
        structlog.contextvars.bind_contextvars(job_id=job_id)
        row = self._claim(job_id, owner, settings)
        if row is None:
            return
        structlog.contextvars.bind_contextvars(request_id=row["request_id"], attempt=row["attempts"])
        ctx = StepContext(job=row, owner=owner)
        ctx.start_heartbeat()
        try:
            self._run_step(ctx)
        finally:
            ctx.stop_heartbeat()

    def _claim(self, job_id: str, owner: str, settings) -> RowMapping | None:
        started = jobstore.Event("job.running", f"{self.name.rsplit('.', 1)[-1]} started", with_attempt=True)
        with connections.single_statement(durable=False) as conn:
            row = jobstore.claim(conn, job_id, self.name, owner, lease_seconds=settings.lease_seconds,
                                 event=started)
        if row is None:
            log.info("step.skipped", reason="job moved on, ended, or leased by another worker")
            self.request.chain = None
        return row

    def _run_step(self, ctx: StepContext) -> None:
        try:
            result = type(self).step_fn(ctx)
            ctx.stop_heartbeat()
            self._complete(ctx, result)
        except (JobCanceled, LeaseLost) as exc:
            self.request.chain = None
            log.info("step.stopped", reason=type(exc).__name__)
        except SoftTimeLimitExceeded:
            self.request.chain = None
            lifecycle.fail(ctx.job_id, self.too_complex_code, "the job exceeded its time limit",
                           {"soft_time_limit_s": get_settings().soft_time_limit}, owner=ctx.owner)
        except InputError as exc:
            self.request.chain = None
            lifecycle.fail(ctx.job_id, exc.code, exc.message, exc.details, owner=ctx.owner, progress=ctx.take_held())
        except TRANSIENT_ERRORS as exc:
            self._retry_or_bury(ctx, exc)
        except Exception as exc:
            self.request.chain = None
            log.exception("step.crashed")
            self._bury_crashed(ctx, exc)

    def _bury_crashed(self, ctx: StepContext, exc: BaseException) -> None:
        """A bug or a broken dependency: dead-letter the job as systemic."""
        code = exc.code if isinstance(exc, PipelineError) else "INTERNAL_ERROR"
        message = exc.message if isinstance(exc, PipelineError) else f"{type(exc).__name__}: {exc}"
        lifecycle.bury(ctx.job_id, task_name=self.name, error_class=ErrorClass.SYSTEMIC, code=code,
                       message=message, owner=ctx.owner)

    def _complete(self, ctx: StepContext, result: dict[str, Any] | None) -> None:
        steps: list[str] = ctx.job["steps"]
        index = steps.index(self.name)
        if index == len(steps) - 1:  # written while Celery hands this process its next job
            held = ctx.take_held()
            outcome_writer.submit(lambda: lifecycle.succeed(ctx.job_id, ctx.owner, result or {}, progress=held),
                                  on_crash=lambda exc: self._bury_crashed(ctx, exc))
            return
        settings = get_settings()
        pct = int(100 * (index + 1) / len(steps))
        with connections.transaction() as conn:
            jobstore.add_progress_events(conn, ctx.job_id, ctx.take_held())
            moved = jobstore.hand_off(conn, ctx.job_id, ctx.owner, steps[index + 1], progress=pct,
                                      message=f"{self.name.rsplit('.', 1)[-1]} done",
                                      lease_seconds=settings.lease_seconds)
        if not moved:
            self.request.chain = None

    def _retry_or_bury(self, ctx: StepContext, exc: Exception) -> None:
        settings = get_settings()
        code = exc.code if isinstance(exc, PipelineError) else "TRANSIENT_ERROR"
        message = exc.message if isinstance(exc, PipelineError) else f"{type(exc).__name__}: {exc}"
        if self.request.retries < settings.max_attempts:
            countdown = get_exponential_backoff_interval(
                factor=2, retries=self.request.retries, maximum=settings.retry_backoff_max, full_jitter=True)
            countdown = max(1, countdown)
            with connections.transaction() as conn:
                jobstore.release_for_retry(conn, ctx.job_id, ctx.owner, delay=countdown,
                                           lease_seconds=settings.lease_seconds,
                                           message=f"retrying in {countdown}s: {message}")
                jobstore.add_event(conn, ctx.job_id, "job.retrying", State.RUNNING, ctx.job["progress"],
                                   message, {"code": code, "countdown": countdown})
            log.warning("step.retry", code=code, error=message, countdown=countdown)
            raise self.retry(exc=exc, countdown=countdown)
        self.request.chain = None
        backoff = get_exponential_backoff_interval(factor=30, retries=0, maximum=settings.retry_backoff_max)
        lifecycle.bury(ctx.job_id, task_name=self.name, error_class=ErrorClass.TRANSIENT, code=code,
                       message=message, owner=ctx.owner, retry_in=backoff)


def job_step(name: str, *, too_complex_code: str = "JOB_TOO_COMPLEX", **options: Any):
    """Register ``fn(ctx)`` as the Celery task ``name`` (``meshmill.<domain>.<step>``)."""

    def decorate(fn: StepFn) -> JobTask:
        attrs = {"name": name, "step_fn": staticmethod(fn), "too_complex_code": too_complex_code,
                 "__doc__": fn.__doc__, "__module__": fn.__module__, **options}
        cls = type(f"{fn.__name__}_task", (JobTask,), attrs)
        return app.register_task(cls())

    return decorate
