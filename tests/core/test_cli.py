"""The `kosh` command: migrate, first-start bootstrap, migrate-on-start."""

from __future__ import annotations

import asyncio
import re

from pydantic import SecretStr
from sqlalchemy import func, select

from kosh import cli
from kosh.auth.models import User
from kosh.core.config import Settings
from kosh.core.db import create_engine, create_session_factory
from kosh.core.migrate import current_revisions, missing_revisions
from kosh.core.models import AuditEvent
from tests.support.platform import app_client, run_cli


def _env(settings: Settings, url: str) -> dict[str, str]:
    return {"KOSH_DATABASE_URL": url, "KOSH_DATA_DIR": str(settings.data_dir)}


async def _revisions(settings: Settings, url: str) -> set[str]:
    engine = create_engine(settings, url=url)
    try:
        return await current_revisions(engine)
    finally:
        await engine.dispose()


async def test_migrate_up_and_down(settings: Settings, scratch_database_url: str) -> None:
    up = await run_cli(["migrate"], _env(settings, scratch_database_url))
    assert up.exit_code == 0, up.output
    assert "database at revision" in up.stdout
    assert missing_revisions(await _revisions(settings, scratch_database_url)) == set()

    down = await run_cli(["migrate", "base", "--down"], _env(settings, scratch_database_url))
    assert down.exit_code == 0, down.output
    assert "database at revision []" in down.stdout
    assert await _revisions(settings, scratch_database_url) == set()


async def test_first_start_creates_admin_once(
    settings: Settings, scratch_database_url: str, capsys
) -> None:
    fresh = settings.model_copy(
        update={"database_url": scratch_database_url, "migrate_on_start": True}
    )

    await asyncio.to_thread(cli._bootstrap, fresh)
    printed = capsys.readouterr().out
    match = re.search(r"Password, shown only once:\s+(\S+)", printed)
    assert match is not None, printed
    password = match.group(1)

    await asyncio.to_thread(cli._bootstrap, fresh)
    assert "Password" not in capsys.readouterr().out  # the second start says nothing

    async with app_client(fresh, migrate_on_start=False) as (_, client):
        response = await client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": password}
        )
        assert response.status_code == 200
        assert response.json()["user"]["role"] == "admin"

    engine = create_engine(fresh)
    try:
        async with create_session_factory(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(User)) == 1
            event = await session.scalar(
                select(AuditEvent).where(AuditEvent.action == "user.create")
            )
            assert event is not None
            assert event.entity_id == "1"
    finally:
        await engine.dispose()


async def test_first_start_with_admin_password_from_environment(
    settings: Settings, scratch_database_url: str, capsys
) -> None:
    fresh = settings.model_copy(
        update={
            "database_url": scratch_database_url,
            "migrate_on_start": True,
            "admin_password": SecretStr("chosen-admin-password"),
        }
    )
    await asyncio.to_thread(cli._bootstrap, fresh)
    printed = capsys.readouterr().out
    assert "(from KOSH_ADMIN_PASSWORD)" in printed
    assert "chosen-admin-password" not in printed
    async with app_client(fresh, migrate_on_start=False) as (_, client):
        response = await client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": "chosen-admin-password"}
        )
        assert response.status_code == 200


async def test_app_migrates_on_start_when_configured(
    settings: Settings, scratch_database_url: str
) -> None:
    async with app_client(settings, database_url=scratch_database_url, migrate_on_start=True) as (
        app,
        client,
    ):
        assert (await client.get("/health/ready")).status_code == 503
        async with app.router.lifespan_context(app):
            ready = await client.get("/health/ready")
            assert ready.status_code == 200, ready.text


async def test_app_does_not_migrate_when_told_not_to(
    settings: Settings, scratch_database_url: str
) -> None:
    changed = {"database_url": scratch_database_url, "migrate_on_start": False}
    async with app_client(settings, **changed) as (app, client):
        lifespan = app.router.lifespan_context(app)
        async with lifespan:
            assert (await client.get("/health/ready")).status_code == 503


async def test_create_user_refuses_a_weak_password(settings: Settings) -> None:
    result = await run_cli(
        ["create-user", "--username", "weak", "--password", "short", "--role", "viewer"],
        _env(settings, settings.effective_database_url),
    )
    assert result.exit_code == 1
    assert "password" in result.stderr


def test_help_lists_the_contract_commands() -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(cli.app, ["--help"])
    for command in ("serve", "migrate", "create-user", "create-token", "check-config"):
        assert command in result.stdout
