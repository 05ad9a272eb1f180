"""Process-wide handles on the database engine and the storage, made on first use.

A forked worker child must not share its parent's connections: ``after_fork()`` is
called from Celery's ``worker_process_init`` signal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy.exc
from sqlalchemy.engine import Connection, Engine

from tasks.jobstore import make_engine
from tasks.settings import get_settings
from tasks.storage import Storage, open_storage

# the database errors that pass (a restart, a dropped or closed connection): retried, never final
TRANSIENT_DB_ERRORS: tuple[type[Exception], ...] = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError)

_engines: dict[tuple[bool, bool], Engine] = {}
_storage: Storage | None = None


def engine(*, durable: bool = True, autocommit: bool = False) -> Engine:
    """The durable engine, or (PostgreSQL) one whose commits skip the WAL-flush wait;
    ``autocommit`` (PostgreSQL): one whose connections are in autocommit for good."""
    key = (durable, autocommit)
    if key not in _engines:
        url = get_settings().database
        if (not durable or autocommit) and not url.startswith("postgresql"):
            return engine()
        _engines[key] = make_engine(url, durable=durable, autocommit=autocommit)
    return _engines[key]


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
    with engine(durable=durable).begin() as conn:
        yield conn


@contextmanager
def single_statement(*, durable: bool = True) -> Iterator[Connection]:
    """For a change that is one statement on PostgreSQL: run it in autocommit.

    The statement is its own transaction there, so this saves the ``BEGIN`` and ``COMMIT``
    round trips of ``transaction()``. Other databases take some of these changes in two
    statements, so they get a transaction.
    """
    made = engine(durable=durable, autocommit=True)
    if made.dialect.name != "postgresql":
        with made.begin() as conn:
            yield conn
        return
    with made.connect() as conn:  # a pool of its own: switching a pooled connection to
        yield conn                # autocommit and back costs ~0.1 ms of CPU per checkout


def warm() -> None:
    """Build the engines (importing the driver) before a prefork pool forks its children.

    Each child then starts with them (see ``after_fork``).
    """
    for durable in (True, False):
        engine(durable=durable)
        engine(durable=durable, autocommit=True)
    storage()  # imports boto3 for S3; after_fork makes each child build its own client


def after_fork() -> None:
    """Drop inherited connections in a forked child so it opens its own.

    ``dispose(close=False)`` gives each engine a new, empty pool without closing the
    parent's sockets (SQLAlchemy's recipe for engines that cross a fork); the engines
    keep their dialect and compiled-statement cache.
    """
    global _storage
    for made in _engines.values():
        made.dispose(close=False)
    _storage = None


def reset() -> None:
    """Forget the engines and storage (after the settings changed)."""
    after_fork()
    _engines.clear()
