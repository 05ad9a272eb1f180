"""The migrations build exactly the schema the job store's tables declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tasks import jobstore, migrate
from tests.conftest import require_services
from tests.stack import create_database, drop_database


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        made = jobstore.make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
        yield made
        made.dispose()
        return
    require_services()
    name = f"meshmill_mig_{uuid.uuid4().hex[:8]}"
    made = jobstore.make_engine(create_database(name))
    yield made
    made.dispose()
    drop_database(name)


def schema_drift(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), jobstore.metadata)


def test_head_matches_the_tables_and_downgrades_to_nothing(engine):
    migrate.upgrade(engine)
    assert schema_drift(engine) == []
    cfg = migrate.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert schema_drift(engine) == []
