"""Fixtures: whole Meshmill stacks (embedded and on real servers) and a webhook receiver.

Tests marked ``servers`` need Redis and PostgreSQL. In CI (``CI`` set) a missing
service fails the run; on a developer machine it skips with the reason.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from pipelines.contour_kernels import warm as warm_kernels
from tasks import jobstore
from tests.stack import create_database, drop_database, embedded_stack, missing_services, servers_stack
from tests.webhook_receiver import WebhookReceiver

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    """../shared beside the repo (or MESHMILL_SHARED_DIR); None on a user's clone."""
    candidate = Path(os.environ.get("MESHMILL_SHARED_DIR", REPO.parent / "shared"))
    return candidate if candidate.is_dir() else None


def require_services() -> None:
    missing = list(missing_services())
    if not missing:
        return
    message = f"services not reachable: {', '.join(missing)} (start them; see README)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_service(name: str, host_port: str) -> None:
    """Fail in CI, skip elsewhere, when a service does not accept connections."""
    import socket

    host, _, port = host_port.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
    except OSError:
        message = f"{name} not reachable at {host_port} (start it; see README)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session", params=["embedded", "servers"])
def stack(request, tmp_path_factory):
    """A running Meshmill; every test using it runs on both kinds."""
    kind = request.param
    if kind == "servers":
        require_services()
    home = tmp_path_factory.mktemp(f"stack-{kind}")
    warm_kernels()  # fill numba's disk cache first (~26 s cold), so the worker only loads it
    made = embedded_stack(home) if kind == "embedded" else servers_stack(home)
    try:
        made.start()
    except Exception:
        made.stop()
        raise
    yield made
    made.stop()


@pytest.fixture(scope="session")
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def admin(stack):
    with stack.client() as client:
        yield client


@pytest.fixture
def user(stack):
    """A fresh non-admin key: (client, key info with webhook_secret)."""
    key = stack.new_key()
    with stack.client(key["api_key"]) as client:
        yield client, key


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_engine(request, tmp_path):
    """A job-store engine on an empty database (no schema yet): SQLite, then a real PostgreSQL."""
    if request.param == "sqlite":
        made = jobstore.make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
        yield made
        made.dispose()
        return
    require_services()
    name = f"meshmill_store_{uuid.uuid4().hex[:8]}"
    made = jobstore.make_engine(create_database(name))
    yield made
    made.dispose()
    drop_database(name)
