"""Helpers for the platform tests: apps with changed settings, the CLI, database rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from kosh.core.config import Settings, get_settings
from tests.support import services


@asynccontextmanager
async def app_client(
    settings: Settings,
    *,
    client_ip: str = "127.0.0.1",
    build: Any = None,
    **overrides: Any,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A fresh app on `settings` with some values changed, and a client talking to it.

    `build(app)` may add test-only routes before the first request."""
    from kosh.app import create_app

    app = create_app(settings.model_copy(update=overrides))
    if build is not None:
        build(app)
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, http
    finally:
        await app.state.engine.dispose()


def client_for(app: FastAPI, client_ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def run_cli(args: list[str], env: Mapping[str, str | None]) -> Any:
    """Invoke the `kosh` command in a thread (it runs its own event loop) with `env` set."""
    from kosh.cli import app as cli_app

    def invoke() -> Any:
        get_settings.cache_clear()
        try:
            return CliRunner().invoke(cli_app, args, env=dict(env), catch_exceptions=False)
        finally:
            get_settings.cache_clear()

    return await asyncio.to_thread(invoke)


@pytest.fixture
async def scratch_database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the engine under test, separate from the shared test database."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}"
        return
    server = services.postgres_url()
    name = f"kosh_scratch_{uuid.uuid4().hex[:10]}"
    await services.create_database(server, name)
    try:
        yield services.with_database(server, name)
    finally:
        await services.drop_database(server, name)
