"""The Celery app. Every module in ``tasks/`` is imported, so a domain's tasks register
themselves by living in ``tasks/<domain>.py``."""

from __future__ import annotations

import pkgutil

import structlog
from celery import Celery, signals

import tasks
from tasks import connections
from tasks.logs import configure_logging
from tasks.settings import get_settings

_NOT_TASK_MODULES = {"app", "cli", "migrations"}

app = Celery("meshmill")
app.config_from_object("celeryconfig")
app.conf.include = [f"tasks.{m.name}" for m in pkgutil.iter_modules(tasks.__path__)
                    if not m.name.startswith("_") and m.name not in _NOT_TASK_MODULES]


@signals.setup_logging.connect
def _setup_logging(**_kwargs) -> None:
    configure_logging(get_settings().log_level)


@signals.worker_init.connect
def _warm_connections(**_kwargs) -> None:
    connections.warm()


@signals.worker_process_init.connect
def _fresh_connections(**_kwargs) -> None:
    connections.after_fork()


@signals.task_prerun.connect
def _bind_task(task_id=None, task=None, args=None, **_kwargs) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task_id=task_id, task=getattr(task, "name", None))


@signals.task_postrun.connect
def _unbind_task(**_kwargs) -> None:
    structlog.contextvars.clear_contextvars()
