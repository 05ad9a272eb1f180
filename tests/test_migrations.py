"""The migrations build exactly the schema the job store's tables declare, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tasks import jobstore, migrate


def schema_drift(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), jobstore.metadata)


def test_head_matches_the_tables_and_downgrades_to_nothing(blank_engine):
    engine = blank_engine
    migrate.upgrade(engine)
    assert schema_drift(engine) == []
    cfg = migrate.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert schema_drift(engine) == []
