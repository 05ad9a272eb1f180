"""The bare Celery baseline for bench.platform: one no-op task, Redis broker and results."""

import os

from celery import Celery

app = Celery("noop", broker=os.environ.get("NOOP_BROKER", "redis://127.0.0.1:6379/14"),
             backend=os.environ.get("NOOP_BROKER", "redis://127.0.0.1:6379/14"))
app.conf.worker_prefetch_multiplier = 1
app.conf.task_acks_late = True


@app.task(name="noop")
def noop() -> None:
    """Does nothing: the round trip is all there is."""
