"""Alembic environment: runs against the engine mailhub hands over, never a second config."""

from alembic import context
from sqlmodel import SQLModel

from mailhub import models  # noqa: F401  (registers every table on the metadata)

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
