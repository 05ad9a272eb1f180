"""The job store's connection pool against a real PostgreSQL whose backends get killed."""

from __future__ import annotations

import uuid

import psycopg
import pytest
import sqlalchemy as sa

from tasks import baked, jobstore
from tests.conftest import require_services
from tests.stack import PG_ADMIN_DSN, create_database, drop_database


@pytest.fixture
def pg_engine():
    require_services()
    name = f"meshmill_pool_{uuid.uuid4().hex[:8]}"
    engine = jobstore.make_engine(create_database(name))
    yield engine, name
    engine.dispose()
    drop_database(name)


def kill_backends(name: str) -> int:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        return len(admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                                 (name,)).fetchall())


def test_an_idle_connection_killed_by_the_server_is_replaced_on_checkout(pg_engine, monkeypatch):
    engine, name = pg_engine
    with engine.begin() as conn:
        first = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    assert kill_backends(name) == 1
    monkeypatch.setattr(jobstore, "PING_IDLE_SECONDS", 0.0)  # the connection counts as idle
    with engine.begin() as conn:
        second = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
    assert second != first


def test_a_connection_reused_at_once_is_not_pinged(pg_engine, monkeypatch):
    engine, _ = pg_engine
    pings = []
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(conn) or True)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT 1"))
    with engine.begin() as conn:  # checked in a moment ago: no round trip spent on a ping
        conn.execute(sa.text("SELECT 1"))
    assert len(pings) == 1  # only the brand-new connection was checked


def test_a_baked_statement_on_a_dead_connection_raises_operational_error_and_the_pool_recovers(pg_engine):
    engine, name = pg_engine
    one = sa.select(sa.literal(1).label("x"))
    with engine.connect() as conn:
        assert baked.fetch_one(conn, one, {}) == {"x": 1}
        assert kill_backends(name) == 1
        with pytest.raises(sa.exc.OperationalError):  # what the worker retries and the API answers 503 to
            baked.fetch_one(conn, one, {})
        assert conn.invalidated
    with engine.connect() as conn:
        assert baked.fetch_one(conn, one, {}) == {"x": 1}
