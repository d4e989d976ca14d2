"""Health endpoints: live, ready (database migrated, Redis when configured), detailed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh import __version__
from kosh.core.config import Settings
from kosh.core.db import create_engine, utcnow
from kosh.core.migrate import downgrade, upgrade
from kosh.core.models import WorkerHeartbeat
from tests.support import services
from tests.support.platform import app_client


async def test_live_and_ready_on_a_migrated_database(client: httpx.AsyncClient) -> None:
    live = await client.get("/health/live")
    assert live.status_code == 200
    assert live.json() == {"status": "ok"}

    ready = await client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["missing"] == []
    assert "redis" not in body["checks"]

    summary = await client.get("/health")
    assert summary.status_code == 200
    assert summary.json()["version"] == __version__


async def test_ready_fails_when_schema_is_behind(
    settings: Settings, scratch_database_url: str
) -> None:
    # given a database migrated to head and then downgraded by one feature
    engine = create_engine(settings, url=scratch_database_url)
    try:
        await upgrade(engine)
        await downgrade(engine, "0001")
    finally:
        await engine.dispose()

    async with app_client(settings, database_url=scratch_database_url) as (app, client):
        # when the load balancer asks
        ready = await client.get("/health/ready")
        summary = await client.get("/health")

        # then the node is not ready
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["ok"] is False
        assert ready.json()["checks"]["database"]["revision"] == ["0001"]
        assert "0002" in ready.json()["checks"]["database"]["missing"]
        assert summary.status_code == 503
        assert summary.json()["status"] == "degraded"
        assert (await client.get("/health/live")).status_code == 200

        # and once migrated it is
        await upgrade(app.state.engine)
        assert (await client.get("/health/ready")).status_code == 200


async def test_ready_fails_on_an_empty_database(
    settings: Settings, scratch_database_url: str
) -> None:
    async with app_client(settings, database_url=scratch_database_url) as (_, client):
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["revision"] == []


async def test_ready_fails_when_the_database_server_is_unreachable(settings: Settings) -> None:
    closed_port = "postgresql+asyncpg://kosh:pw@127.0.0.1:9/kosh"
    async with app_client(settings, database_url=closed_port, db_connect_timeout=1.0) as (_, c):
        ready = await c.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["status"] == "unavailable"
        assert ready.json()["checks"]["database"]["ok"] is False
        assert "pw" not in ready.text
        assert (await c.get("/health/live")).status_code == 200


@pytest.mark.postgres
async def test_ready_fails_when_the_database_does_not_exist(settings: Settings) -> None:
    server = services.postgres_url()
    missing = services.with_database(server, "kosh_does_not_exist_4711")
    async with app_client(settings, database_url=missing) as (_, client):
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["ok"] is False
        assert ready.json()["checks"]["database"]["error"]


async def test_ready_fails_when_the_sqlite_file_is_not_a_database(
    settings: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not a database file" * 100)
    async with app_client(settings, database_url=f"sqlite+aiosqlite:///{broken}") as (_, client):
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"]["ok"] is False


async def test_ready_fails_when_configured_redis_is_unreachable(settings: Settings) -> None:
    async with app_client(settings, redis_url="redis://127.0.0.1:9/0") as (_, client):
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"]["ok"] is False
        assert ready.json()["checks"]["database"]["ok"] is True
        # the rate limiter fails open: the API still answers (here: not logged in)
        me = await client.get("/api/v1/auth/me")
        assert me.status_code == 401


@pytest.mark.redis
async def test_ready_with_reachable_redis(settings: Settings) -> None:
    async with app_client(settings, redis_url=services.redis_url()) as (_, client):
        ready = await client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["redis"]["ok"] is True


# --- /health/detailed -------------------------------------------------------------------


async def test_detailed_needs_an_admin(
    client: httpx.AsyncClient, operator_headers: dict[str, str], make_user, token_for
) -> None:
    assert (await client.get("/health/detailed")).status_code == 401
    assert (await client.get("/health/detailed", headers=operator_headers)).status_code == 403
    admin = await make_user("admin")
    read_only = {"authorization": f"Bearer {await token_for(admin, ['read'])}"}
    refused = await client.get("/health/detailed", headers=read_only)
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"


async def test_detailed_reports_pool_disk_version_uptime_workers(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    now = utcnow()
    session.add_all(
        [
            WorkerHeartbeat(worker_id="w-live", hostname="h", pid=1, last_seen_at=now),
            WorkerHeartbeat(
                worker_id="w-dead", hostname="h", pid=2, last_seen_at=now - timedelta(hours=1)
            ),
        ]
    )
    await session.commit()

    response = await client.get("/health/detailed", headers=admin_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == __version__
    assert body["uptime_seconds"] >= 0
    assert body["database_engine"] in ("sqlite", "postgresql")
    assert {"size", "checkedin", "checkedout", "overflow"} <= set(body["pool"])
    assert body["checks"]["database"]["ok"] is True
    disk = body["checks"]["disk"]
    assert disk["ok"] is True
    assert disk["free_bytes"] > 0
    assert 0 < disk["free_ratio"] <= 1
    workers = {w["worker_id"]: w["alive"] for w in body["checks"]["workers"]["workers"]}
    assert workers == {"w-live": True, "w-dead": False}


async def test_detailed_is_503_when_every_worker_is_stale(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    session.add(
        WorkerHeartbeat(
            worker_id="w-old", hostname="h", pid=3, last_seen_at=utcnow() - timedelta(hours=2)
        )
    )
    await session.commit()
    response = await client.get("/health/detailed", headers=admin_headers)
    assert response.status_code == 503
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["workers"]["ok"] is False


async def test_detailed_reports_an_unusable_data_dir(
    settings: Settings, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    async with app_client(settings, data_dir=blocker / "data") as (_, client):
        response = await client.get("/health/detailed", headers=admin_headers)
    assert response.status_code == 503
    assert response.json()["checks"]["disk"] == {"ok": False, "error": "NotADirectoryError"}
