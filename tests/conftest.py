"""Test fixtures: a real database (SQLite file or a fresh PostgreSQL database per run),
migrated once by Alembic, emptied after every test; an app and an HTTP client per test.

KOSH_TEST_DB=postgres runs everything on PostgreSQL (KOSH_TEST_PG_URL, default the local
server). Without a reachable server those tests skip, unless KOSH_TEST_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from kosh.core.config import Settings
from kosh.core.db import Base, create_engine, create_session_factory
from kosh.core.migrate import upgrade
from tests.support import platform, services

ENGINE = os.environ.get("KOSH_TEST_DB", "sqlite")
# a test that uses none of these never reaches the test database
_DATABASE_FIXTURES = frozenset({"database_url", "base_settings", "engine"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that touches no test database (file parsing, configuration, pure rules, page
    markup) does the same on either engine: the PostgreSQL pass leaves it out, the SQLite
    pass runs it (and coverage combines both passes)."""
    if ENGINE != "postgres":
        return
    engine_free = {
        item
        for item in items
        if not _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        and item.get_closest_marker("postgres") is None  # these talk to a server of their own
    }
    if engine_free:
        config.hook.pytest_deselected(items=[item for item in items if item in engine_free])
        items[:] = [item for item in items if item not in engine_free]


@pytest.fixture(scope="session", autouse=True)
def _plain_tracebacks() -> None:
    """structlog's default console output renders tracebacks with rich, about a second each."""
    import structlog

    processors = structlog.get_config()["processors"][:-1]
    renderer = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    structlog.configure(processors=[*processors, renderer])


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """argon2id at its lowest cost: tests check behaviour, not cost (the real parameters are
    checked in tests/auth/test_login.py); the real ones take ~0.15 s per hash or login."""
    from argon2 import PasswordHasher

    from kosh.auth import service as auth_service

    real = auth_service._hasher
    auth_service._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    auth_service._hasher = real


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if ENGINE == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'kosh-test.db'}"
        return
    server = services.postgres_url()
    name = f"kosh_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(services.create_database(server, name))
    try:
        yield services.with_database(server, name)
    finally:
        asyncio.run(services.drop_database(server, name))


@pytest.fixture(scope="session")
def base_settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        env="development",
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-secret-key-that-is-long-enough-0123456789",  # type: ignore[arg-type]
        migrate_on_start=False,
        rate_limit="100000/minute",
        user_rate_limit="100000/minute",
        login_rate_limit="1000/minute",
        login_account_rate_limit="100000/minute",
        db_pool_size=20,
        db_max_overflow=20,
    )


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings.model_copy()


@pytest.fixture(scope="session")
async def engine(base_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(base_settings)
    await upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    factory = create_session_factory(engine)
    yield factory
    await _empty_tables(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


async def _empty_tables(engine: AsyncEngine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as conn:
        # DELETE, not TRUNCATE: TRUNCATE of every table costs ~0.25 s per test on PostgreSQL,
        # DELETE of a few rows almost nothing.
        for table in tables:
            await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our table names
        if engine.dialect.name == "postgresql":
            # ids start at 1 again, as on SQLite (the test database holds only our sequences)
            await conn.execute(
                text(
                    "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c WHERE c.relkind = 'S'"
                )
            )


@pytest.fixture
async def app(settings: Settings, sessions: async_sessionmaker[AsyncSession]):  # type: ignore[no-untyped-def]
    # reused across tests with equal settings (see tests/support/platform.py)
    async with platform.reusable_app(settings) as application:
        yield application


@pytest.fixture(autouse=True)
def _parts_unknown_to_the_process() -> None:
    """Every test's database is new and its ids repeat: a part number this process picked
    in an earlier test says nothing about this one's parts (a first pick of a part goes
    the use case's transaction; tests/stock/test_pick_alone.py warms its parts up)."""
    from kosh.stock import floor_picks

    floor_picks.forget_known_parts()


@pytest.fixture(scope="session", autouse=True)
async def _dispose_cached_apps() -> AsyncIterator[None]:
    yield
    await platform.dispose_cached_apps()


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture
def data_dir() -> Path:
    from tests.support.shared_data import SHARED_DATA

    assert SHARED_DATA.is_dir(), f"{SHARED_DATA} is missing; set KOSH_TEST_SHARED_DATA"
    return SHARED_DATA


pytest_plugins = [
    "tests.support.fixtures",
    "tests.support.live_server",  # live_server: the real server in a subprocess
    "tests.support.browser",  # browser, page: Playwright on Debian's chromium
]
