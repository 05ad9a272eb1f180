"""Bearer API keys -> the calling key; binds request_id and key to structlog."""

from __future__ import annotations

import re
import time
import uuid
from functools import wraps

import structlog
from flask import Flask, g, request

from api.errors import ApiError
from tasks import connections, jobstore
from tasks.jobstore import ApiKey

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def current_key() -> ApiKey:
    """The authenticated key of this request; raises 401 when absent or wrong."""
    if getattr(g, "api_key", None) is None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "UNAUTHORIZED", "send 'Authorization: Bearer <api key>'")
        key = _lookup(token.strip())
        if key is None:
            raise ApiError(401, "UNAUTHORIZED", "unknown or revoked API key")
        g.api_key = key
        structlog.contextvars.bind_contextvars(api_key_id=key.id)
    return g.api_key


_CACHE_SECONDS = 5.0
_cache: dict[str, tuple[float, ApiKey | None]] = {}


def _lookup(token: str) -> ApiKey | None:
    """Key by token, cached briefly per process: one DB round trip saved per request.

    A revoked key stops working within ``_CACHE_SECONDS``.
    """
    now = time.monotonic()
    hit = _cache.get(token)
    if hit is not None and now - hit[0] < _CACHE_SECONDS:
        return hit[1]
    with connections.transaction() as conn:
        key = jobstore.find_api_key(conn, token)
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[token] = (now, key)
    return key


def owner_filter() -> str | None:
    """The owner to filter jobs by: the key itself, or None (all) for an admin key."""
    key = current_key()
    return None if key.is_admin else key.id


def require_key(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        current_key()
        return fn(*args, **kwargs)
    return wrapper


def require_admin(fn):
    @wraps(fn)
    def wrapper(*args, **kwargs):
        if not current_key().is_admin:
            raise ApiError(403, "FORBIDDEN", "this endpoint needs an admin API key")
        return fn(*args, **kwargs)
    return wrapper


def install_request_context(app: Flask) -> None:
    """A request id per request (accepted from X-Request-ID when sane), echoed back."""

    @app.before_request
    def _bind():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=g.request_id)

    @app.after_request
    def _echo(response):
        response.headers["X-Request-ID"] = getattr(g, "request_id", "")
        return response
