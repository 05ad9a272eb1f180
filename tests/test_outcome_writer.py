"""The write-behind of successes: inline until enabled, then one outcome in flight, never raising."""

from __future__ import annotations

import threading
import time

import sqlalchemy.exc
import structlog

from tasks import outcome_writer
from tasks.jobstore import IllegalTransition
from tasks.outcome_writer import OutcomeWriter


def test_disabled_writes_inline():
    writer, seen = OutcomeWriter(), []
    writer.submit(seen.append, threading.current_thread().name)
    assert seen == [threading.current_thread().name]


def test_enabled_writes_in_the_background_one_at_a_time():
    writer, order, release = OutcomeWriter(), [], threading.Event()
    writer.enable()

    def slow(tag: str) -> None:
        release.wait(5)
        order.append((tag, threading.current_thread().name))

    started = time.monotonic()
    writer.submit(slow, "first")
    assert time.monotonic() - started < 0.5 and order == []  # the caller went on
    threading.Timer(0.2, release.set).start()
    writer.submit(slow, "second")  # waits for the first to land
    assert [tag for tag, _ in order] == ["first"]
    writer.wait()
    assert [tag for tag, _ in order] == ["first", "second"]
    assert all(name.startswith("outcome-writer") for _, name in order)


def test_job_log_bindings_follow_the_write():
    writer, bound = OutcomeWriter(), []
    writer.enable()
    structlog.contextvars.bind_contextvars(job_id="job-42")
    try:
        writer.submit(lambda: bound.append(structlog.contextvars.get_contextvars().get("job_id")))
    finally:
        structlog.contextvars.clear_contextvars()
    writer.wait()
    assert bound == ["job-42"]


def test_transient_errors_are_retried_then_left_to_the_sweeper(monkeypatch):
    monkeypatch.setattr(outcome_writer, "RETRY_DELAY_S", 0.0)
    writer, calls = OutcomeWriter(), []
    writer.enable()

    def flaky(fail_times: int) -> None:
        calls.append(1)
        if len(calls) <= fail_times:
            raise sqlalchemy.exc.OperationalError("UPDATE jobs", {}, ConnectionError("server closed"))

    writer.submit(flaky, 2)
    writer.wait()
    assert len(calls) == 3  # two failures, then written
    calls.clear()
    writer.submit(flaky, 99)
    writer.wait()  # gives up without raising: the job keeps its lease, which the sweeper will see expire
    assert len(calls) == outcome_writer.RETRIES


def test_a_refused_or_crashing_outcome_never_reaches_the_next_job():
    writer = OutcomeWriter()
    writer.enable()

    def refused() -> None:
        raise IllegalTransition("job j: canceled -> succeeded refused")

    def crashing() -> None:
        raise ValueError("bug")

    writer.submit(refused)
    writer.submit(crashing)
    writer.wait()  # neither raised here
