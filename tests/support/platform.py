"""Helpers for the platform tests: apps with changed settings, the CLI, database rows."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from typer.testing import CliRunner

from kosh.core.config import Settings, get_settings
from tests.support import services

# --- apps, built once per distinct settings -------------------------------------------
#
# FastAPI prepares every route of an app on its first request (~0.3 s with all features'
# routers); one app per test made that most of the suite's time. An app is reused by later
# tests with equal settings once its memory rate-limit counters are cleared, unless the test
# changed it (routes, dependency overrides, state): then it is thrown away.

_APPS: dict[str, FastAPI] = {}


def _settings_key(settings: Settings) -> str:
    values = {
        name: value.get_secret_value() if isinstance(value, SecretStr) else value
        for name, value in settings
    }
    return repr(sorted(values.items()))


def _shape(app: FastAPI) -> tuple[object, ...]:
    state = app.state._state
    return (
        len(app.router.routes),
        len(app.dependency_overrides),
        tuple(sorted((name, id(value)) for name, value in state.items())),
    )


@asynccontextmanager
async def reusable_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app on `settings`: a cached one with cleared rate-limit counters, or a new one."""
    from kosh.app import create_app

    key = _settings_key(settings)
    app = None if settings.redis_url else _APPS.pop(key, None)
    if app is None:
        app = create_app(settings)
    else:
        await app.state.limiter.storage.reset()
    shape = _shape(app)
    try:
        yield app
    finally:
        if settings.redis_url or key in _APPS or _shape(app) != shape:
            await app.state.engine.dispose()
        else:
            _APPS[key] = app


async def dispose_cached_apps() -> None:
    while _APPS:
        await _APPS.popitem()[1].state.engine.dispose()


@asynccontextmanager
async def app_client(
    settings: Settings,
    *,
    client_ip: str = "127.0.0.1",
    build: Any = None,
    **overrides: Any,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app on `settings` with some values changed, and a client talking to it.

    `build(app)` may add test-only routes before the first request (that app is new and
    used once)."""
    from kosh.app import create_app

    changed = settings.model_copy(update=overrides)
    async with AsyncExitStack() as stack:
        if build is None:
            app = await stack.enter_async_context(reusable_app(changed))
        else:
            app = create_app(changed)
            stack.push_async_callback(app.state.engine.dispose)
            build(app)
        transport = httpx.ASGITransport(app=app, client=(client_ip, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, http


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
