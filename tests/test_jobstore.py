"""Job store statements on SQLite and on a real PostgreSQL: outcomes and their events."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tasks import jobstore, migrate
from tasks.jobstore import Event, IllegalTransition, NewJob, State


@pytest.fixture
def engine(blank_engine):
    migrate.upgrade(blank_engine)
    return blank_engine


def one_statement(engine):
    """How the worker runs an outcome: autocommit on PostgreSQL, a transaction elsewhere."""
    if engine.dialect.name == "postgresql":
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    return engine.begin()


def running_job(engine, owner: str) -> str:
    with engine.begin() as conn:
        _raw, key = jobstore.create_api_key(conn, "t")
        job = jobstore.insert_job(conn, NewJob(owner_key_id=key.id, domain="mesh", operation="analyze", params={},
                                               steps=["meshmill.mesh.analyze"], request_id="r"))
    with one_statement(engine) as conn:
        assert jobstore.claim(conn, job["id"], "meshmill.mesh.analyze", owner, lease_seconds=30,
                              event=Event("job.running", "started", with_attempt=True)) is not None
    return job["id"]


def test_held_progress_lands_before_the_outcome_event_in_report_order(engine):
    job_id = running_job(engine, "w1")
    t0 = jobstore.utcnow()
    held = [(40, "b", t0 + timedelta(milliseconds=2)), (10, "a", t0), (90, "c", t0 + timedelta(milliseconds=1))]
    with one_statement(engine) as conn:
        row = jobstore.transition(conn, job_id, State.SUCCEEDED, expect=[State.RUNNING], held_by="w1",
                                  event=Event("job.succeeded", "done", progress=held), result={"ok": 1},
                                  progress=100, message="done")
    assert row["state"] == "succeeded" and row["result"] == {"ok": 1}
    with engine.connect() as conn:
        events = jobstore.list_events(conn, job_id)
    assert [e["type"] for e in events] == ["job.queued", "job.running", *["job.progress"] * 3, "job.succeeded"]
    assert [e["message"] for e in events[2:5]] == ["b", "a", "c"]  # the order reported, not by time or value
    assert [e["progress"] for e in events[2:5]] == [40, 10, 90]
    assert [jobstore.as_utc(e["at"]) for e in events[2:5]] == [at for _, _, at in held]  # to the microsecond
    assert all(e["state"] == "running" and e["data"] is None for e in events[2:5])
    assert events[-1]["progress"] == 100 and events[-1]["state"] == "succeeded"


def test_a_refused_outcome_writes_none_of_its_held_progress(engine):
    job_id = running_job(engine, "w1")
    stale = Event("job.succeeded", "done", progress=[(50, "half", jobstore.utcnow())])
    with pytest.raises(IllegalTransition), one_statement(engine) as conn:
        jobstore.transition(conn, job_id, State.SUCCEEDED, expect=[State.RUNNING], held_by="someone-else",
                            event=stale, result={}, progress=100, message="done")
    with engine.connect() as conn:
        assert [e["type"] for e in jobstore.list_events(conn, job_id)] == ["job.queued", "job.running"]
        assert jobstore.get_job(conn, job_id)["state"] == "running"


def test_artifacts_of_a_page_come_back_per_job_and_by_name(engine):
    jobs = [running_job(engine, f"w{i}") for i in range(3)]
    with engine.begin() as conn:
        for name in ("b.json", "a.stl"):
            jobstore.add_artifact(conn, jobs[0], name, f"artifacts/{jobs[0]}/{name}", "x/y", 1, "0" * 64)
        jobstore.add_artifact(conn, jobs[2], "c.glb", f"artifacts/{jobs[2]}/c.glb", "x/y", 2, "1" * 64)
        found = jobstore.artifacts_of(conn, jobs)
        assert [a["name"] for a in found[jobs[0]]] == ["a.stl", "b.json"]
        assert jobs[1] not in found
        assert [a["size"] for a in found[jobs[2]]] == [2]
        assert jobstore.list_artifacts(conn, jobs[0]) == found[jobs[0]]
        assert jobstore.artifacts_of(conn, []) == {}
