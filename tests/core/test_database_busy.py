"""A request that waits longer than KOSH_DB_LOCK_TIMEOUT_MS for a row lock (many scanners on
one hot lot) is answered 503 problem+json with Retry-After, applies nothing, and the same
request with the same Idempotency-Key succeeds once the lock is free."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.metrics import DATABASE_BUSY
from tests.support.stock import a_site, balances, stock_in


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings.model_copy(update={"db_lock_timeout_ms": 300})


@pytest.fixture
def postgres_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("lock_timeout is PostgreSQL's (SQLite waits on its busy timeout)")


@pytest.mark.usefixtures("postgres_only")
async def test_a_pick_that_waits_too_long_for_a_lock_is_503_and_changes_nothing(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    operator_headers: dict[str, str],
) -> None:
    # given: a part with 10 units in a bin, and another transaction holding its rows
    async with sessions() as session:
        site = await a_site(session)
        lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
        await session.commit()
        before = await balances(session, lot.id)
    request = {
        "part_number": site.part_number,
        "qty": 3,
        "warehouse_id": site.warehouse_id,
        "reference": "J-1",
    }
    headers = {**operator_headers, "idempotency-key": "busy-pick-1"}
    busy_before = DATABASE_BUSY._value.get()
    async with engine.connect() as holder:
        await holder.execute(
            text("SELECT id FROM lots WHERE id = :lot FOR UPDATE"), {"lot": lot.id}
        )
        await holder.execute(
            text("SELECT qty FROM stock_balances WHERE lot_id = :lot FOR UPDATE"),
            {"lot": lot.id},
        )

        # when: a clerk picks meanwhile
        refused = await client.post("/api/v1/stock/pick", json=request, headers=headers)
        await holder.rollback()

    # then: 503, a problem+json that says to send it again, nothing moved
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["code"] == "database_busy"
    assert "Traceback" not in refused.text
    assert DATABASE_BUSY._value.get() == busy_before + 1
    async with sessions() as session:
        assert await balances(session, lot.id) == before

    # and the same request with the same key goes through once the lock is free
    picked = await client.post("/api/v1/stock/pick", json=request, headers=headers)
    assert picked.status_code == 200, picked.text
    async with sessions() as session:
        after = await balances(session, lot.id)
    assert sum(after.values()) == sum(before.values())  # moved to the floor, none lost
    assert after.get(site.bin_ids[0]) == 7
