"""The lease sweeper's decisions, run in-process against a real SQLite job store.

(The killed-worker path, end to end with real processes, is in test_platform.py.)
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import pytest

from tasks import connections, jobstore, migrate
from tasks.jobstore import NewJob, State
from tasks.settings import get_settings


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MESHMILL_HOME", str(tmp_path))
    monkeypatch.setenv("MESHMILL_HARD_TIME_LIMIT", "60")
    get_settings.cache_clear()
    connections.reset()
    migrate.upgrade(connections.engine())
    from tasks.app import app

    app.loader.import_default_modules()  # as a worker does: every domain's steps registered
    with connections.transaction() as conn:
        _, key = jobstore.create_api_key(conn, "sweeper test")
    yield key
    connections.reset()
    get_settings.cache_clear()


def running_job(key, *, owner: str, claimed_ago: float) -> str:
    now = jobstore.utcnow()
    with connections.transaction() as conn:
        row = jobstore.insert_job(conn, NewJob(owner_key_id=key.id, domain="mesh", operation="analyze",
                                               params={}, steps=["meshmill.mesh.analyze"]))
        jobstore.touch(conn, row["id"], state=State.RUNNING.value, lease_owner=owner, attempts=1,
                       claimed_at=now - timedelta(seconds=claimed_ago),
                       lease_expires_at=now - timedelta(seconds=1))
    return row["id"]


def state_of(job_id: str):
    with connections.transaction() as conn:
        return jobstore.get_job(conn, job_id)


def test_live_holder_on_this_host_keeps_its_job(store):
    from tasks.maintenance import sweep_leases

    me = f"{socket.gethostname()[:40]}:{os.getpid()}:busy"
    job_id = running_job(store, owner=me, claimed_ago=5)
    assert sweep_leases() == {"requeued": 0, "resent": 0}
    row = state_of(job_id)
    assert row["state"] == "running" and row["lease_owner"] == me
    assert jobstore.as_utc(row["lease_expires_at"]) > jobstore.utcnow()


def test_step_past_the_hard_limit_fails_with_its_domain_code(store):
    from tasks.maintenance import sweep_leases

    job_id = running_job(store, owner="elsewhere:1:gone", claimed_ago=61)
    sweep_leases()
    row = state_of(job_id)
    assert row["state"] == "failed" and row["error_code"] == "MESH_TOO_COMPLEX"
    assert row["error_class"] == "permanent"


def test_step_that_keeps_losing_its_worker_ends_dead(store):
    from tasks.maintenance import sweep_leases

    job_id = running_job(store, owner="elsewhere:1:gone", claimed_ago=5)
    with connections.transaction() as conn:
        jobstore.touch(conn, job_id, lost_leases=get_settings().max_attempts)
    sweep_leases()
    row = state_of(job_id)
    assert row["state"] == "dead" and row["error_code"] == "WORKER_LOST"
