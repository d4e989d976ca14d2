"""A real `kosh worker` killed with SIGKILL mid-batch, then restarted: nothing lost, nothing
applied twice (its leased rows become claimable when the lease runs out)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.sales import service as sales_service
from kosh.sales.models import SalesOrder
from kosh.storefront import intake
from kosh.storefront.models import StagedOrder, Store
from tests.storefront.conftest import Shop
from tests.storefront.test_race import many_orders
from tests.support.live_server import kosh_command, server_env
from tests.support.stock import stock_in

ORDERS = 600
LEASE_SECONDS = 3
KILL_ATTEMPTS = 5


async def _applied(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        found = await session.scalar(select(func.count()).where(StagedOrder.status == "applied"))
    return int(found or 0)


async def _leased(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).where(
                StagedOrder.status == "pending", StagedOrder.claimed_by.is_not(None)
            )
        )
    return int(found or 0)


def _worker(env: dict[str, str], workdir: Path, *args: str) -> subprocess.Popen[bytes]:
    log = (workdir / f"worker-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(  # noqa: S603 - our own command line
        [*kosh_command(), "worker", *args], cwd=workdir, env=env, stdout=log, stderr=log
    )


@pytest.mark.slow
async def test_sigkill_mid_batch_then_restart(
    shop: Shop,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    database_url: str,
    tmp_path: Path,
) -> None:
    # given: 600 pending web orders
    async with sessions() as session:
        await stock_in(session, "PART-93", shop.bin_id, 2 * ORDERS)
        await stock_in(session, "Bar3", shop.bin_id, ORDERS)
        store_id = await session.scalar(select(Store.id).where(Store.code == shop.code))
        assert store_id is not None
        await intake.stage_many(
            session, store_id=store_id, deliveries=many_orders(ORDERS), source="backfill"
        )
    env = server_env(
        database_url,
        tmp_path / "data",
        KOSH_SECRET_KEY=settings.secret_key.get_secret_value(),
        KOSH_MIGRATE_ON_START="false",
        KOSH_STOREFRONT_LEASE_SECONDS=str(LEASE_SECONDS),
        KOSH_STOREFRONT_BATCH_SIZE="40",
        KOSH_LOG_LEVEL="WARNING",
    )

    # when: a worker runs and is killed while working through its second batch or later;
    # a batch of new paid orders commits all its rows at once, so a kill can land between
    # two batches (no lease held): then another worker runs and is killed, until one is
    # killed mid-batch
    killed_mid_batch = False
    for _ in range(KILL_ATTEMPTS):
        before = await _applied(sessions)
        worker = _worker(env, tmp_path)
        try:
            deadline = time.monotonic() + 120
            # mid-batch: more orders applied and some still leased to the worker
            while await _applied(sessions) < before + 50 or not await _leased(sessions):
                assert worker.poll() is None, "the worker exited early"
                assert time.monotonic() < deadline, "the worker applied nothing"
                await asyncio.sleep(0.05)
            os.kill(worker.pid, signal.SIGKILL)
        finally:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=10)
        if await _leased(sessions):
            killed_mid_batch = True
            break
    assert killed_mid_batch, "no killed worker held a lease: none was killed mid-batch"
    assert await _applied(sessions) < ORDERS

    # then: after the lease runs out a new worker takes everything over
    await asyncio.sleep(LEASE_SECONDS + 0.5)
    restarted = _worker(env, tmp_path, "--once")
    assert await asyncio.to_thread(restarted.wait, 180) == 0
    async with sessions() as session:
        statuses = dict(
            (
                await session.execute(
                    select(StagedOrder.status, func.count()).group_by(StagedOrder.status)
                )
            ).all()
        )
        assert statuses == {"applied": ORDERS}
        assert await session.scalar(select(func.count()).select_from(SalesOrder)) == ORDERS
        distinct = await session.scalar(select(func.count(func.distinct(SalesOrder.external_id))))
        assert distinct == ORDERS
        assert await sales_service.reservation_drift(session) == []
        reserved = await sales_service.reserved(
            session, part_ids=[shop.parts["Bar3"]], warehouse_id=shop.warehouse_id
        )
        assert reserved == {shop.parts["Bar3"]: ORDERS}
