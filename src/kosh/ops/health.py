"""Health checks for load balancers and people: live, ready, summary, detailed."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kosh import __version__
from kosh.core.config import Settings
from kosh.core.db import ping, utcnow
from kosh.core.migrate import current_revisions, head_revisions, missing_revisions
from kosh.core.models import WorkerHeartbeat

STARTED_AT = time.time()
WORKER_STALE_AFTER = timedelta(minutes=2)


@dataclass
class Check:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)


async def check_database(engine: AsyncEngine) -> Check:
    try:
        await ping(engine)
        current = await current_revisions(engine)
        missing = missing_revisions(current)
    except Exception as exc:  # any failure means "not ready", reported by type
        return Check(False, {"error": type(exc).__name__})
    return Check(
        not missing,
        {
            "revision": sorted(current),
            "head": sorted(head_revisions()),
            "missing": sorted(missing),
        },
    )


async def check_redis(settings: Settings) -> Check | None:
    if not settings.redis_url:
        return None
    client = Redis.from_url(settings.redis_url, socket_timeout=1, socket_connect_timeout=1)
    try:
        await client.ping()
        return Check(True)
    except Exception as exc:
        return Check(False, {"error": type(exc).__name__})
    finally:
        await client.aclose()


def pool_stats(engine: AsyncEngine) -> dict[str, Any]:
    pool: Any = engine.sync_engine.pool
    stats: dict[str, Any] = {"class": type(pool).__name__}
    for name in ("size", "checkedin", "checkedout", "overflow"):
        method = getattr(pool, name, None)
        if callable(method):
            stats[name] = method()
    return stats


def disk_space(settings: Settings) -> Check:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        usage = shutil.disk_usage(settings.data_dir)
    except OSError as exc:  # unreadable or uncreatable: report it, do not fail the endpoint
        return Check(False, {"error": type(exc).__name__})
    free_ratio = usage.free / usage.total if usage.total else 0
    return Check(
        free_ratio > 0.05 and usage.free > 500_000_000,
        {"free_bytes": usage.free, "total_bytes": usage.total, "free_ratio": round(free_ratio, 3)},
    )


async def worker_heartbeats(session: AsyncSession) -> Check:
    rows = list(await session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.worker_id)))
    now = utcnow()
    workers = [
        {
            "worker_id": row.worker_id,
            "last_seen_at": row.last_seen_at.isoformat(),
            "alive": now - row.last_seen_at < WORKER_STALE_AFTER,
        }
        for row in rows
    ]
    # No worker has run yet on a fresh install: report it, but do not fail the health on it.
    return Check(not workers or any(w["alive"] for w in workers), {"workers": workers})


async def readiness(engine: AsyncEngine, settings: Settings) -> dict[str, Check]:
    checks = {"database": await check_database(engine)}
    redis = await check_redis(settings)
    if redis is not None:
        checks["redis"] = redis
    return checks


DetailedSection = Any  # a coroutine function (session) -> Check, registered by features
DETAILED_SECTIONS: dict[str, DetailedSection] = {"workers": worker_heartbeats}


async def detailed(
    engine: AsyncEngine, session: AsyncSession, settings: Settings
) -> dict[str, Any]:
    checks = await readiness(engine, settings)
    checks["disk"] = disk_space(settings)
    for name, section in DETAILED_SECTIONS.items():
        try:
            checks[name] = await section(session)
        except Exception as exc:  # a broken section is reported, not raised
            checks[name] = Check(False, {"error": type(exc).__name__})
    return {
        "status": "ok" if all(c.ok for c in checks.values()) else "degraded",
        "version": __version__,
        "uptime_seconds": round(time.time() - STARTED_AT, 1),
        "database_engine": engine.dialect.name,
        "pool": pool_stats(engine),
        "checks": {name: {"ok": c.ok, **c.detail} for name, c in checks.items()},
    }
