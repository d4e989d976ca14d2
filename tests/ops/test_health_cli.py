"""`kosh health`: the readiness and detailed checks from the command line, with an exit code."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.core.models import WorkerHeartbeat
from tests.support.platform import run_cli


def _env(settings: Settings, tmp_path: Path) -> dict[str, str | None]:
    return {
        "KOSH_DATABASE_URL": settings.database_url,
        "KOSH_DATA_DIR": str(tmp_path),
        "KOSH_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KOSH_REDIS_URL": None,
    }


def _json(output: str) -> dict[str, object]:
    body = output[output.index("{") : output.rindex("}") + 1]
    loaded: dict[str, object] = json.loads(body)
    return loaded


async def test_ready_database_exits_zero(
    settings: Settings, tmp_path: Path, session: AsyncSession
) -> None:
    result = await run_cli(["health"], _env(settings, tmp_path))
    assert result.exit_code == 0, result.output
    body = _json(result.output)
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True  # type: ignore[index]


async def test_unreachable_database_exits_one(settings: Settings, tmp_path: Path) -> None:
    env = {
        **_env(settings, tmp_path),
        "KOSH_DATABASE_URL": "postgresql+asyncpg://kosh@127.0.0.1:1/nowhere",
        "KOSH_DB_CONNECT_TIMEOUT": "1",
    }
    result = await run_cli(["health"], env)
    assert result.exit_code == 1
    assert "NOT OK: database" in result.output
    assert _json(result.output)["status"] == "unavailable"


async def test_detailed_exits_one_when_a_section_fails(
    settings: Settings, tmp_path: Path, session: AsyncSession
) -> None:
    # given: the only worker stopped writing heartbeats an hour ago
    ok = await run_cli(["health", "--detailed"], _env(settings, tmp_path))
    assert ok.exit_code == 0, ok.output
    assert {"database", "disk", "workers", "stock_ledger", "backups"} <= set(
        _json(ok.output)["checks"]  # type: ignore[arg-type]
    )
    session.add(
        WorkerHeartbeat(
            worker_id="w-old", hostname="h", pid=1, last_seen_at=utcnow() - timedelta(hours=1)
        )
    )
    await session.commit()
    # when
    result = await run_cli(["health", "--detailed"], _env(settings, tmp_path))
    # then
    assert result.exit_code == 1
    assert "NOT OK" in result.output
    assert "workers" in result.output.splitlines()[-1]
