"""Signed webhook delivery (Standard Webhooks), one task on the ``webhooks`` queue.

The body is the job as ``GET /jobs/<id>`` returns it plus ``type`` and
``timestamp``, built at delivery time; a progress event carries the progress it
was raised at. Every attempt is recorded in ``webhook_deliveries``. Failures are
retried by Celery with exponential backoff and jitter; a terminal event that
exhausts its retries becomes a dead letter that beat re-drives, so it is never
dropped. Progress events are best effort.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import structlog
from celery.utils.time import get_exponential_backoff_interval
from sqlalchemy.engine import RowMapping
from standardwebhooks import Webhook

from tasks import connections, jobstore
from tasks.app import app, send
from tasks.jobstore import ErrorClass
from tasks.jobview import job_view
from tasks.netguard import UnsafeUrl, check_url, pin, pinned_client
from tasks.settings import get_settings

log = structlog.get_logger(__name__)

TERMINAL_EVENTS = frozenset({"job.succeeded", "job.failed", "job.dead", "job.canceled"})
DELIVER = "meshmill.webhooks.deliver"


def notify(row: RowMapping, event_type: str) -> None:
    """Queue a delivery of ``event_type`` for a job row, if the job has a callback URL."""
    if not row["callback_url"]:
        return
    snapshot = {"state": row["state"], "progress": row["progress"], "message": row["message"]}
    send(DELIVER, (row["id"], event_type, snapshot, f"msg_{uuid.uuid4().hex}"))


class DeliveryFailed(Exception):
    """A non-2xx answer or a transport error: retried."""


@app.task(bind=True, name=DELIVER, acks_late=True, max_retries=None, ignore_result=True)
def deliver(self, job_id: str, event_type: str, snapshot: dict[str, Any], message_id: str) -> None:
    """POST one signed event; retry with backoff on timeouts and non-2xx."""
    settings = get_settings()
    structlog.contextvars.bind_contextvars(job_id=job_id, webhook_id=message_id, event=event_type)
    with connections.transaction() as conn:
        row = jobstore.get_job(conn, job_id)
        if row is None or not row["callback_url"]:
            return
        key = jobstore.get_api_key(conn, row["owner_key_id"])
        body = job_view(row, jobstore.list_artifacts(conn, job_id), settings.public_url)
    body.update(snapshot)
    body["type"] = event_type
    attempt = self.request.retries + 1
    try:
        status = _post(row["callback_url"], body, message_id, key.webhook_secret if key else "", settings,
                       attempt)
    except UnsafeUrl as exc:
        _record(job_id, message_id, event_type, row["callback_url"], attempt, None, str(exc), 0.0)
        log.warning("webhook.refused", error=str(exc))
        return
    except DeliveryFailed as exc:
        _retry_or_bury(self, exc, job_id, event_type, snapshot, message_id, attempt, settings)
    else:
        log.info("webhook.delivered", status=status, attempt=attempt)


def _post(url: str, body: dict[str, Any], message_id: str, secret: str, settings, attempt: int) -> int:
    """Sign and send; the connection goes to the address checked just now (no rebinding)."""
    addrs = check_url(url, settings.url_allowlist)
    pinned, host, extensions = pin(httpx.URL(url), addrs[0])
    now = jobstore.utcnow()
    body["timestamp"] = now.isoformat().replace("+00:00", "Z")
    payload = json.dumps(body, separators=(",", ":"), default=str)
    headers = {
        "content-type": "application/json",
        "user-agent": "Meshmill-Webhooks/1",
        **host,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, now, payload),
    }
    started = time.perf_counter()
    status, error = None, None
    try:
        with pinned_client(settings.webhook_timeout) as client:
            response = client.post(pinned, content=payload.encode(), headers=headers, extensions=extensions)
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration = (time.perf_counter() - started) * 1000
    _record(body["id"], message_id, body["type"], url, attempt, status, error, duration)
    if error:
        raise DeliveryFailed(error)
    return status


def _record(job_id: str, message_id: str, event_type: str, url: str, attempt: int, status: int | None,
            error: str | None, duration_ms: float) -> None:
    with connections.transaction() as conn:
        jobstore.record_delivery(conn, job_id=job_id, message_id=message_id, event_type=event_type, url=url,
                                 attempt=attempt, status_code=status, error=error, duration_ms=duration_ms,
                                 delivered=error is None)


def _retry_or_bury(task, exc: Exception, job_id: str, event_type: str, snapshot: dict, message_id: str,
                   attempt: int, settings) -> None:
    if attempt <= settings.webhook_max_retries:
        countdown = get_exponential_backoff_interval(factor=1, retries=attempt - 1,
                                                     maximum=settings.retry_backoff_max, full_jitter=True)
        log.info("webhook.retry", attempt=attempt, countdown=countdown, error=str(exc))
        raise task.retry(exc=exc, countdown=max(countdown, 0.5))
    if event_type not in TERMINAL_EVENTS:
        log.warning("webhook.dropped", attempt=attempt, error=str(exc))
        return
    with connections.transaction() as conn:
        jobstore.add_dead_letter(
            conn, kind="webhook", job_id=job_id, task_name=DELIVER,
            payload={"event_type": event_type, "snapshot": snapshot, "message_id": message_id},
            error_class=ErrorClass.TRANSIENT.value, error_code="WEBHOOK_UNDELIVERED", error_message=str(exc),
            attempts=attempt, next_retry_at=jobstore.utcnow())
    log.error("webhook.dead_lettered", attempt=attempt, error=str(exc))
