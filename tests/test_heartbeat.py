"""The per-process heartbeat: its schedule, and the lease renewals it makes in a real job store."""

from __future__ import annotations

import threading
import time

import pytest

from tasks import base, connections, jobstore, lifecycle, migrate
from tasks.heartbeat import Heartbeat
from tasks.jobstore import NewJob, State
from tasks.settings import get_settings


class Counting:
    def __init__(self, keep: bool = True, hold: float = 0.0):
        self.beats, self.keep, self.hold, self.inside = 0, keep, hold, threading.Event()
        self.finished = threading.Event()

    def beat(self) -> bool:
        self.inside.set()
        time.sleep(self.hold)
        self.beats += 1
        self.finished.set()
        return self.keep


def test_watched_steps_beat_every_interval_until_released():
    heart = Heartbeat(0.05)
    first, second = Counting(), Counting()
    heart.watch(first)
    heart.watch(second)
    time.sleep(0.6)
    heart.release(first)
    after_release = first.beats
    time.sleep(0.2)
    assert 3 <= after_release <= 13 and first.beats == after_release  # nothing after release
    assert second.beats > after_release
    heart.release(second)


def test_a_step_whose_beat_says_stop_is_dropped():
    heart = Heartbeat(0.05)
    step = Counting(keep=False)
    heart.watch(step)
    time.sleep(0.4)
    assert step.beats == 1


def test_release_waits_for_a_beat_in_flight():
    heart = Heartbeat(0.05)
    step = Counting(hold=0.3)
    heart.watch(step)
    assert step.inside.wait(2)
    heart.release(step)  # must not return while beat() still runs: the outcome is written next
    assert step.finished.is_set()


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MESHMILL_HOME", str(tmp_path))
    monkeypatch.setenv("MESHMILL_HEARTBEAT_SECONDS", "0.1")
    monkeypatch.setenv("MESHMILL_LEASE_SECONDS", "1")
    get_settings.cache_clear()
    base._heartbeat.cache_clear()
    connections.reset()
    migrate.upgrade(connections.engine())
    with connections.transaction() as conn:
        _, key = jobstore.create_api_key(conn, "heartbeat test")
    yield key
    connections.reset()
    base._heartbeat.cache_clear()
    get_settings.cache_clear()


def claimed_job(key, owner: str):
    with connections.transaction() as conn:
        row = jobstore.insert_job(conn, NewJob(owner_key_id=key.id, domain="mesh", operation="analyze",
                                               params={}, steps=["meshmill.mesh.analyze"]))
        return jobstore.claim(conn, row["id"], "meshmill.mesh.analyze", owner, lease_seconds=1)


def lease_of(job_id: str):
    with connections.transaction() as conn:
        return jobstore.as_utc(jobstore.get_job(conn, job_id)["lease_expires_at"])


def test_a_running_step_keeps_its_lease_past_the_lease_time(store):
    ctx = base.StepContext(job=claimed_job(store, "me"), owner="me")
    first = lease_of(ctx.job_id)
    ctx.start_heartbeat()
    time.sleep(1.5)  # longer than the 1 s lease
    assert lease_of(ctx.job_id) > jobstore.utcnow() > first
    ctx.stop_heartbeat()


def test_cancel_is_noticed_by_the_heartbeat(store):
    ctx = base.StepContext(job=claimed_job(store, "me"), owner="me")
    ctx.start_heartbeat()
    lifecycle.cancel(ctx.job_id, None)
    deadline = time.monotonic() + 3
    while not ctx.canceled and time.monotonic() < deadline:
        time.sleep(0.05)
    ctx.stop_heartbeat()
    assert ctx.canceled
    with pytest.raises(base.JobCanceled):
        ctx.progress(50, "still working")
    with connections.transaction() as conn:
        assert jobstore.get_job(conn, ctx.job_id)["state"] == State.CANCELED.value
