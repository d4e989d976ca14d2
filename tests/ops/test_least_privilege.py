"""Least privilege on PostgreSQL, as docs/runbook.md sets it up: migrations run as the owner
role (`kosh migrate --url`), the app connects as a role that reads and writes but cannot
change the schema. Both roles and their database are made here and removed afterwards."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from click.testing import Result
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from kosh.cli import app as cli
from kosh.core.config import Settings, get_settings
from kosh.stock.models import StockTransaction
from tests.support import services
from tests.support.platform import app_client
from tests.support.stock import a_location, a_part, a_warehouse

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class Roles:
    owner_url: str
    app_url: str
    database: str


async def kosh(args: list[str], **env: str) -> Result:
    """`kosh ARGS` in a thread (it runs its own event loop), no KOSH_* of the machine."""

    def invoke() -> Result:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli, args, env={"KOSH_MIGRATE_DATABASE_URL": "", **env})
        finally:
            get_settings.cache_clear()

    return await asyncio.to_thread(invoke)


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def _as(server: str, role: str, password: str, database: str) -> str:
    """`server` (postgresql+asyncpg://user@host:port/db) as `role` on `database`."""
    rest = server.split("://", 1)[1].split("@", 1)[-1].rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{role}:{password}@{rest}/{database}"


# The runbook's setup ("Least privilege on PostgreSQL"), with this test's names.
SETUP = """
CREATE ROLE {owner} LOGIN PASSWORD '{pw}';
CREATE ROLE {app} LOGIN PASSWORD '{pw}';
CREATE DATABASE {db} OWNER {owner};
REVOKE ALL ON DATABASE {db} FROM PUBLIC;
GRANT CONNECT ON DATABASE {db} TO {app};
"""
IN_DATABASE = """
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public
    GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {app};
"""


@pytest.fixture
async def roles() -> AsyncIterator[Roles]:
    if os.environ.get("KOSH_TEST_DB") != "postgres":
        pytest.skip("runs in the PostgreSQL pass")
    server = services.postgres_url()
    suffix = uuid.uuid4().hex[:8]
    names = {
        "owner": f"kosh_owner_{suffix}",
        "app": f"kosh_app_{suffix}",
        "db": f"kosh_lp_{suffix}",
        "pw": f"pw-{suffix}",
    }
    admin = await asyncpg.connect(_plain(server))
    try:
        for statement in SETUP.format(**names).strip().split(";\n"):
            await admin.execute(statement)
        inside = await asyncpg.connect(_plain(services.with_database(server, names["db"])))
        try:
            await inside.execute(IN_DATABASE.format(**names))
        finally:
            await inside.close()
        yield Roles(
            owner_url=_as(server, names["owner"], names["pw"], names["db"]),
            app_url=_as(server, names["app"], names["pw"], names["db"]),
            database=names["db"],
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{names["db"]}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{names["app"]}"')
        await admin.execute(f'DROP ROLE IF EXISTS "{names["owner"]}"')
        left = await admin.fetchval(
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY($1::text[])",
            [names["app"], names["owner"]],
        )
        await admin.close()
        assert left == 0


async def test_app_role_reads_and_writes_but_cannot_change_the_schema(
    roles: Roles, settings: Settings
) -> None:
    # the app role cannot migrate: it has no right to create the tables
    refused = await kosh(["migrate", "--url", roles.app_url])
    assert refused.exit_code != 0

    # given the schema migrated by its owner (the URL from the command line)
    migrated = await kosh(["migrate", "--url", roles.owner_url])
    assert migrated.exit_code == 0, migrated.output
    assert "database at revision" in migrated.output

    # when the app runs as the restricted role
    async with app_client(settings, database_url=roles.app_url) as (app, client):
        assert (await client.get("/health/ready")).status_code == 200
        async with app.state.sessions() as session:
            from kosh.stock import service as stock_service

            # then reads and writes work: a receipt and a pick
            warehouse = await a_warehouse(session)
            bin_ = await a_location(session, warehouse.id)
            part = await a_part(session, "LP-1")
            await stock_service.receive(session, part_number="LP-1", qty=10, location_id=bin_.id)
            await stock_service.pick(
                session, part_number=part.number, qty=4, warehouse_id=warehouse.id, reference="J-1"
            )
            kinds = sorted(await session.scalars(select(StockTransaction.kind)))
            assert kinds == ["pick", "receive"]

            # and no statement that changes the schema is allowed
            for ddl in (
                "CREATE TABLE intruder (id integer)",
                "DROP TABLE stock_transactions",
                "ALTER TABLE parts ADD COLUMN intruder integer",
                "TRUNCATE stock_transactions",
                "CREATE SCHEMA intruder",
            ):
                with pytest.raises(DBAPIError, match=r"permission denied|must be owner"):
                    await session.execute(text(ddl))
                await session.rollback()
            rows = await session.scalar(select(func.count()).select_from(StockTransaction))
            assert rows == 2

    # and the owner's migrate with KOSH_MIGRATE_DATABASE_URL is a no-op at head
    again = await kosh(["migrate"], KOSH_MIGRATE_DATABASE_URL=roles.owner_url)
    assert again.exit_code == 0, again.output


def test_migrate_refuses_a_url_of_another_kind() -> None:
    result = CliRunner().invoke(cli, ["migrate", "--url", "mysql://x@y/z"])
    assert result.exit_code == 2
    assert "--url" in result.output
