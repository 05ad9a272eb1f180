"""Turning a validated POST into a job: callback check, Idempotency-Key, submit, 202."""

from __future__ import annotations

from typing import Any

from flask import g, request

from api.auth import current_key
from api.errors import ApiError
from api.uploads import StoredInput
from api.views import present_job
from tasks import connections
from tasks.jobstore import NewJob
from tasks.netguard import UnsafeUrl, check_url
from tasks.settings import get_settings
from tasks.submit import get_operation, submit

_IDEMPOTENCY_MAX = 200


def create_job(domain: str, operation: str, params: dict[str, Any], stored: StoredInput | None,
               callback_url: str | None):
    """Create (or replay) a job and answer 202 with it and a Location header."""
    key = current_key()
    if callback_url:
        check_callback(callback_url)
    idem = request.headers.get("Idempotency-Key")
    if idem is not None and not 0 < len(idem) <= _IDEMPOTENCY_MAX:
        raise ApiError(400, "BAD_IDEMPOTENCY_KEY", f"Idempotency-Key must be 1-{_IDEMPOTENCY_MAX} characters")
    op = get_operation(domain, operation)
    new = NewJob(owner_key_id=key.id, domain=domain, operation=operation, params=params,
                 steps=list(op.steps), input_key=stored.key if stored else None,
                 input_name=stored.name if stored else None, input_format=stored.format if stored else None,
                 input_size=stored.size if stored else None, idempotency_key=idem,
                 callback_url=callback_url, request_id=g.request_id)
    done = submit(new)
    if not done.created:
        _check_same_request(done.job, new)
    if done.job["state"] == "queued":
        body = present_job(None, done.job)
    else:
        with connections.transaction() as conn:
            body = present_job(conn, done.job)
    headers = {"Location": f"/api/v1/jobs/{done.job['id']}"}
    if not done.created:
        headers["Idempotent-Replayed"] = "true"
    return body, 202, headers


def check_callback(url: str) -> None:
    try:
        check_url(url, get_settings().url_allowlist)
    except UnsafeUrl as exc:
        raise ApiError(422, "UNSAFE_URL", str(exc), {"fields": {"callback_url": [str(exc)]}}) from exc


def _check_same_request(first: Any, new: NewJob) -> None:
    """A reused Idempotency-Key must come with the same request (as Stripe does)."""
    same = (first["domain"], first["operation"], first["params"], first["input_key"]) == (
        new.domain, new.operation, new.params, new.input_key)
    if not same:
        raise ApiError(409, "IDEMPOTENCY_KEY_REUSED",
                       "this Idempotency-Key was used for a different request", {"job_id": first["id"]})
