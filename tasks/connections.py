"""Process-wide handles on the database engine and the storage, made on first use.

A forked worker child must not share its parent's connections: ``reset()`` is
called from Celery's ``worker_process_init`` signal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine

from tasks.jobstore import make_engine
from tasks.settings import get_settings
from tasks.storage import Storage, open_storage

_engine: Engine | None = None
_storage: Storage | None = None


def engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = make_engine(get_settings().database)
    return _engine


def storage() -> Storage:
    global _storage
    if _storage is None:
        s = get_settings()
        _storage = open_storage(s.storage, endpoint_url=s.s3_endpoint_url, region=s.s3_region)
    return _storage


@contextmanager
def transaction(*, durable: bool = True) -> Iterator[Connection]:
    """One database transaction, committed on exit.

    ``durable=False`` (PostgreSQL): the commit does not wait for the WAL flush. For
    writes a crash may lose harmlessly: a claim (the sweeper re-sends the step), a
    lease renewal, progress. Job creation and outcomes stay durable.
    """
    with engine().begin() as conn:
        if not durable and conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        yield conn


def reset() -> None:
    """Drop inherited handles (after fork) so each process opens its own."""
    global _engine, _storage
    if _engine is not None:
        _engine.dispose(close=False)
    _engine = None
    _storage = None
