"""The Celery app. Every module in ``tasks/`` is imported, so a domain's tasks register
themselves by living in ``tasks/<domain>.py``."""

from __future__ import annotations

import gc
import pkgutil
from functools import lru_cache
from typing import Any

import structlog
from celery import Celery, signals

import tasks
from tasks import connections, memory
from tasks.logs import configure_logging
from tasks.outcome_writer import writer as outcome_writer
from tasks.settings import get_settings

_NOT_TASK_MODULES = {"app", "cli", "migrations"}

app = Celery("meshmill")
app.config_from_object("celeryconfig")
app.conf.include = [f"tasks.{m.name}" for m in pkgutil.iter_modules(tasks.__path__)
                    if not m.name.startswith("_") and m.name not in _NOT_TASK_MODULES]


def send(name: str, args: tuple, **options: Any) -> None:
    """Publish the task ``name`` with ``args``: ``app.send_task`` minus what a job message
    does not need, a quarter to a third of a publish's CPU (each job pays it in the API):

    - no result: the job row is the result (Celery would still look up the backend);
    - ``argsrepr`` made with ``repr`` (Celery's ``saferepr`` walks the args to bound them);
    - no queue declare on each publish where queues need none (see ``_declare_options``).
    """
    app.send_task(name, args=args, ignore_result=True, argsrepr=repr(args), kwargsrepr="{}",
                  **_declare_options(), **options)


@lru_cache(maxsize=1)
def _declare_options() -> dict[str, Any]:
    """``declare=[]`` off AMQP. Every route is a direct exchange with the queue's name as key,
    so Celery publishes to the default exchange: Redis and the folder broker put the message
    on the queue's own list or folder, with no binding to look up. AMQP needs the queue to
    exist, so kombu's declare stays there (done once per connection; its check costs
    ~0.1 ms on every publish)."""
    scheme = str(app.conf.broker_url).partition("://")[0]
    return {} if scheme in ("amqp", "pyamqp", "librabbitmq") else {"declare": []}


@signals.setup_logging.connect
def _setup_logging(**_kwargs) -> None:
    configure_logging(get_settings().log_level)


@signals.worker_init.connect
def _warm_connections(**_kwargs) -> None:
    connections.warm()


@signals.worker_init.connect
def _keep_heap(**_kwargs) -> None:
    """The allocator keeps the pages of a job's large arrays for the next one (``tasks.memory``);
    set in the parent, so every pool child inherits it."""
    memory.keep_heap()


@signals.worker_init.connect
@signals.worker_before_create_process.connect
def _freeze_startup_objects(**_kwargs) -> None:
    """Put every object made at start-up (modules, the app, task classes: ~137k) out of the
    collector's reach, in the parent before the pool forks, as the ``gc.freeze`` docs advise.
    Full collections then scan only what steps make: a contour corpus pass in a process with the
    worker's imports spent 225-290 ms of 1.8-1.9 s in the collector, 12 ms frozen. Again before
    each fork (cheap: it moves lists), so what later ``worker_init`` handlers made is frozen too
    (compiling the contour kernels: ~61k objects)."""
    gc.freeze()


@signals.worker_process_init.connect
def _fresh_connections(**_kwargs) -> None:
    connections.after_fork()
    outcome_writer.enable()  # a prefork child: write successes behind (tasks/outcome_writer.py)


SHUTDOWN_WAIT_S = 30.0


@signals.worker_process_shutdown.connect
def _last_outcome(**_kwargs) -> None:
    """Let the last success land before the child exits; if the database stays away, exit
    anyway: the job keeps this (then dead) child's lease, and the sweeper re-sends it."""
    if not outcome_writer.wait(timeout=SHUTDOWN_WAIT_S):
        structlog.get_logger(__name__).error("outcome.unwritten_at_exit", recovery="lease sweep")


@signals.task_prerun.connect
def _bind_task(task_id=None, task=None, args=None, **_kwargs) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task=getattr(task, "name", None))


@signals.task_postrun.connect
def _unbind_task(**_kwargs) -> None:
    structlog.contextvars.clear_contextvars()
