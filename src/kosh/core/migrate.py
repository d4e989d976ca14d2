"""Alembic, driven from code: `kosh migrate`, migrate-on-start, and the readiness check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent.parent / "migrations"
_LOCK_ID = 7_251_034  # any constant; serialises migrations of several app nodes starting at once


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config()).get_heads())


def missing_revisions(current: set[str]) -> set[str]:
    """Revisions not yet applied to a database at `current`.

    Not `current == head_revisions()`: a revision that another one `depends_on` is applied
    but no longer listed in alembic_version, so the stored heads can be fewer than the
    script's heads while nothing is missing."""
    script = ScriptDirectory.from_config(alembic_config())
    every = {rev.revision for rev in script.walk_revisions()}
    if not current:
        return every
    applied = {rev.revision for rev in script.iterate_revisions(tuple(current), "base")}
    return every - applied


def _upgrade(connection: Connection, target: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, target)


def _downgrade(connection: Connection, target: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, target)


async def upgrade(engine: AsyncEngine, target: str = "heads") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, target)


async def downgrade(engine: AsyncEngine, target: str) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_downgrade, target)


async def current_revisions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    return set(heads)
