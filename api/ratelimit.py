"""Per-client rate limits (flask-limiter): one budget per API key, or per address without one.

``MESHMILL_RATE_LIMIT`` (e.g. ``600/minute``; empty turns limits off). Counters live in
Redis when ``MESHMILL_REDIS_URL`` is set, so every API process shares them; otherwise
in each process's memory. Health, metrics and the API docs are never limited.
"""

from __future__ import annotations

import hashlib

from flask import Flask, request
from flask_limiter import Limiter

from tasks.settings import get_settings

UNLIMITED_PATHS = ("/api/v1/health", "/api/v1/metrics", "/openapi.json", "/docs")


def client_key() -> str:
    """The bucket: a digest of the bearer credential, else the remote address."""
    credential = request.headers.get("Authorization", "")
    if credential:
        return "key:" + hashlib.sha256(credential.encode()).hexdigest()[:24]
    return "addr:" + (request.remote_addr or "unknown")


def install_rate_limits(app: Flask) -> Limiter | None:
    settings = get_settings()
    if not settings.rate_limit:
        return None
    return Limiter(client_key, app=app, default_limits=[settings.rate_limit], headers_enabled=True,
                   storage_uri=settings.redis_url or "memory://", key_prefix="meshmill-rl",
                   default_limits_exempt_when=lambda: request.path.startswith(UNLIMITED_PATHS))
