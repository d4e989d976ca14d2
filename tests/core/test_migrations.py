"""Alembic: every head upgrades and downgrades cleanly, and the models match the migrations."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect

import kosh.models  # noqa: F401 - registers every table on Base.metadata
from kosh.core.config import Settings
from kosh.core.db import Base, create_engine
from kosh.core.migrate import current_revisions, downgrade, missing_revisions, upgrade


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "render_as_batch": connection.dialect.name == "sqlite"},
    )
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_to_heads_then_downgrade_to_base_and_back(
    settings: Settings, scratch_database_url: str
) -> None:
    engine = create_engine(settings, url=scratch_database_url)
    try:
        # given an empty database
        assert await current_revisions(engine) == set()

        # when it is upgraded to every head
        await upgrade(engine)

        # then it is at head and holds every table the models declare
        assert missing_revisions(await current_revisions(engine)) == set()
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set(Base.metadata.tables)
            assert await conn.run_sync(_diff) == []

        # and downgrading to base removes every table
        await downgrade(engine, "base")
        assert await current_revisions(engine) == set()
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()

        # and it upgrades again (downgrades left nothing behind)
        await upgrade(engine)
        assert missing_revisions(await current_revisions(engine)) == set()
    finally:
        await engine.dispose()


async def test_upgrade_twice_is_a_no_op(settings: Settings, scratch_database_url: str) -> None:
    engine = create_engine(settings, url=scratch_database_url)
    try:
        await upgrade(engine)
        await upgrade(engine)
        assert missing_revisions(await current_revisions(engine)) == set()
    finally:
        await engine.dispose()
