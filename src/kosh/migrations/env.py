"""Alembic environment: always handed a connection by kosh.core.migrate."""

from __future__ import annotations

from alembic import context

import kosh.models  # noqa: F401 - registers every table on Base.metadata
from kosh.core.db import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
