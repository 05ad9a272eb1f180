"""The write-behind of successes: inline until enabled, then one outcome in flight, retried
until it lands, never raising into the next job."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy.exc
import structlog

from tasks import outcome_writer
from tasks.jobstore import IllegalTransition
from tasks.outcome_writer import OutcomeWriter


@pytest.fixture
def writer(monkeypatch):
    monkeypatch.setattr(outcome_writer, "RETRY_DELAY_S", 0.001)
    made = OutcomeWriter()
    made.enable()
    return made


def db_down() -> sqlalchemy.exc.OperationalError:
    return sqlalchemy.exc.OperationalError("UPDATE jobs", {}, ConnectionError("server closed the connection"))


def test_disabled_writes_inline_and_errors_reach_the_caller():
    inline, seen = OutcomeWriter(), []
    inline.submit(lambda: seen.append(threading.current_thread().name))
    assert seen == [threading.current_thread().name]
    with pytest.raises(sqlalchemy.exc.OperationalError):  # the step's own retry handles it
        inline.submit(lambda: (_ for _ in ()).throw(db_down()))


def test_enabled_writes_in_the_background_one_at_a_time(writer):
    order, release = [], threading.Event()

    def slow(tag: str) -> None:
        release.wait(5)
        order.append((tag, threading.current_thread().name))

    started = time.monotonic()
    writer.submit(lambda: slow("first"))
    assert time.monotonic() - started < 0.5 and order == []  # the caller went on
    assert writer.wait(timeout=0.05) is False
    threading.Timer(0.2, release.set).start()
    writer.submit(lambda: slow("second"))  # waits for the first to land
    assert [tag for tag, _ in order] == ["first"]
    assert writer.wait() is True
    assert [tag for tag, _ in order] == ["first", "second"]
    assert all(name.startswith("outcome-writer") for _, name in order)


def test_job_log_bindings_follow_the_write(writer):
    bound = []
    structlog.contextvars.bind_contextvars(job_id="job-42")
    try:
        writer.submit(lambda: bound.append(structlog.contextvars.get_contextvars().get("job_id")))
    finally:
        structlog.contextvars.clear_contextvars()
    writer.wait()
    assert bound == ["job-42"]


def test_a_database_outage_is_waited_out_not_given_up(writer):
    calls = []

    def flaky() -> None:
        calls.append(1)
        if len(calls) <= 6:
            raise db_down()

    writer.submit(flaky)
    assert writer.wait(timeout=10)
    assert len(calls) == 7  # six failures, then written


def test_refused_outcomes_are_dropped_and_crashes_handed_to_on_crash(writer):
    crashed = []

    def refused() -> None:
        raise IllegalTransition("job j: canceled -> succeeded refused")

    def buggy() -> None:
        raise ValueError("bug")

    writer.submit(refused, on_crash=crashed.append)
    writer.submit(buggy, on_crash=crashed.append)
    writer.submit(buggy, on_crash=lambda exc: (_ for _ in ()).throw(RuntimeError("bury failed too")))
    assert writer.wait(timeout=5)
    assert [type(exc) for exc in crashed] == [ValueError]
