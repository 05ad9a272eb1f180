"""Alembic environment: runs against the connection handed in by tasks.migrate."""

from alembic import context

from tasks.jobstore import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
