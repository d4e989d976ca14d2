"""Real PostgreSQL and Redis for tests: found on their standard local ports, or skipped
(or failed, when KOSH_TEST_REQUIRE_SERVICES=1 as in CI)."""

from __future__ import annotations

import os
import socket

import asyncpg
import pytest

PG_URL = os.environ.get("KOSH_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("KOSH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRED = os.environ.get("KOSH_TEST_REQUIRE_SERVICES") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _unavailable(what: str) -> None:
    message = f"{what} is not reachable on its standard local port"
    if REQUIRED:
        pytest.fail(message + " (KOSH_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


def postgres_url() -> str:
    if not _reachable("127.0.0.1", 5432):
        _unavailable("PostgreSQL")
    return PG_URL


def redis_url() -> str:
    if not _reachable("127.0.0.1", 6379):
        _unavailable("Redis")
    return REDIS_URL


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


def with_database(server_url: str, name: str) -> str:
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


async def create_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(_plain(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(_plain(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
