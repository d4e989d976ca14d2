"""Concurrent pickers and restockers on real commits (one session per task), on SQLite and
PostgreSQL: nothing goes negative, nothing is lost, every refusal is a clean 409, and
the ledger replays to the balances."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.stock import service as stock_service
from kosh.stock import verify as stock_verify
from kosh.stock.errors import InsufficientStockError
from kosh.stock.models import Lot, StockBalance
from tests.support.stock import Site, a_site, all_balances, non_zero, replayed, stock_in

Sessions = async_sessionmaker[AsyncSession]


async def _units_at(session: AsyncSession, location_ids: list[int]) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(StockBalance.qty), 0)).where(
            StockBalance.location_id.in_(location_ids)
        )
    )
    return int(total or 0)


async def _assert_ledger_matches(session: AsyncSession) -> None:
    balances = await all_balances(session)
    assert min(balances.values(), default=0) >= 0
    assert await replayed(session) == non_zero(balances)
    report = await stock_verify.verify(session)
    assert report.ok, report.differences


async def _run_all(
    sessions: Sessions, jobs: list[Callable[[AsyncSession], Awaitable[Any]]]
) -> list[Any]:
    """Run each job in its own session at once; answer its result or the 409 it raised.
    Any other exception fails the test (gather re-raises it)."""

    async def one(job: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        async with sessions() as session:
            try:
                return await job(session)
            except InsufficientStockError as refused:
                return refused

    outcomes = await asyncio.gather(*(one(job) for job in jobs))
    for outcome in outcomes:
        if isinstance(outcome, InsufficientStockError):
            assert outcome.status == 409
            assert outcome.details["available"] < outcome.details["requested"]
    return outcomes


async def test_fifty_concurrent_picks_on_one_part(sessions: Sessions) -> None:
    # given one part spread over six PCNs in four bins, 600 units in all
    rng = random.Random(1042)
    async with sessions() as session:
        site = await a_site(session, bins=4)
        for index, qty in enumerate((150, 40, 120, 90, 75, 125)):
            await stock_in(session, site.part_number, site.bin_ids[index % 4], qty)
        before = await _units_at(session, site.bin_ids)
    assert before == 600
    sizes = [rng.randint(1, 30) for _ in range(50)]

    def picker(qty: int) -> Callable[[AsyncSession], Awaitable[Any]]:
        async def job(session: AsyncSession) -> Any:
            return await stock_service.pick(
                session,
                part_number=site.part_number,
                qty=qty,
                warehouse_id=site.warehouse_id,
                reference=f"J-{qty}",
            )

        return job

    # when fifty pickers go at once
    outcomes = await _run_all(sessions, [picker(qty) for qty in sizes])

    # then the stock went down by exactly what was picked, onto the floor
    picked = sum(
        size for size, o in zip(sizes, outcomes, strict=True) if o.__class__.__name__ == "Pick"
    )
    refused = [o for o in outcomes if isinstance(o, InsufficientStockError)]
    assert (
        len(refused) + sum(1 for o in outcomes if not isinstance(o, InsufficientStockError)) == 50
    )
    for size, outcome in zip(sizes, outcomes, strict=True):
        if not isinstance(outcome, InsufficientStockError):
            assert sum(line.qty for line in outcome.lines) == size
    async with sessions() as session:
        after = await _units_at(session, site.bin_ids)
        assert before - after == picked
        assert await _units_at(session, [site.floor_id]) == picked
        await _assert_ledger_matches(session)
    assert picked > 0
    # every refusal came when less than asked was left
    assert all(r.details["available"] < r.details["requested"] for r in refused)


async def test_concurrent_restock_and_pick_on_one_pcn(sessions: Sessions) -> None:
    # given one PCN: 40 in its bin and 60 on the floor
    rng = random.Random(7)
    async with sessions() as session:
        site = await a_site(session, bins=1)
        lot = await stock_in(session, site.part_number, site.bin_ids[0], 100)
        await stock_service.pick(
            session,
            part_number=site.part_number,
            qty=60,
            warehouse_id=site.warehouse_id,
            reference="J-0",
        )

    def picker(qty: int) -> Callable[[AsyncSession], Awaitable[Any]]:
        async def job(session: AsyncSession) -> Any:
            return await stock_service.pick(
                session,
                part_number=site.part_number,
                qty=qty,
                warehouse_id=site.warehouse_id,
                reference="J-1",
                pcn=lot.pcn,
            )

        return job

    def restocker(qty: int) -> Callable[[AsyncSession], Awaitable[Any]]:
        async def job(session: AsyncSession) -> Any:
            return await stock_service.restock(session, pcn=lot.pcn, qty=qty)

        return job

    jobs = [picker(rng.randint(1, 8)) if i % 2 else restocker(rng.randint(1, 8)) for i in range(40)]

    # when pickers and restockers work the same PCN at once
    await _run_all(sessions, jobs)

    # then no unit was made or lost and the ledger agrees
    async with sessions() as session:
        in_bin = await _units_at(session, site.bin_ids)
        on_floor = await _units_at(session, [site.floor_id])
        assert in_bin + on_floor == 100
        await _assert_ledger_matches(session)


async def test_concurrent_receipts_get_distinct_sequential_pcns(sessions: Sessions) -> None:
    async with sessions() as session:
        site: Site = await a_site(session, bins=1)

    def receiver(session: AsyncSession) -> Awaitable[Any]:
        return stock_in(session, site.part_number, site.bin_ids[0], 1)

    lots = await _run_all(sessions, [receiver] * 20)
    assert sorted(lot.pcn for lot in lots) == [f"PCN{n:06d}" for n in range(1, 21)]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Lot)) == 20


async def test_concurrent_picks_through_the_api(
    client: httpx.AsyncClient, sessions: Sessions, operator_headers: dict[str, str]
) -> None:
    # given 50 units in one bin
    async with sessions() as session:
        site = await a_site(session, bins=1)
        await stock_in(session, site.part_number, site.bin_ids[0], 50)

    async def pick(index: int) -> httpx.Response:
        return await client.post(
            "/api/v1/stock/pick",
            json={
                "part_number": site.part_number,
                "qty": 3,
                "warehouse_id": site.warehouse_id,
                "reference": f"J-{index}",
            },
            headers={**operator_headers, "idempotency-key": f"concurrent-{index}"},
        )

    # when 20 requests of 3 arrive at once (60 asked, 50 there)
    responses = await asyncio.gather(*(pick(i) for i in range(20)))

    # then 16 succeed, 4 are clean 409s, and the books balance
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 16 + [409] * 4, [
        r.text for r in responses if r.status_code not in (200, 409)
    ]
    async with sessions() as session:
        assert await _units_at(session, [site.floor_id]) == 48
        await _assert_ledger_matches(session)


@pytest.mark.parametrize("seed", [3])
async def test_many_parts_picked_concurrently(sessions: Sessions, seed: int) -> None:
    """Spread load: pickers on different parts do not block or disturb each other."""
    rng = random.Random(seed)
    async with sessions() as session:
        site = await a_site(session, bins=2)
        parts = [site.part_number]
        from tests.support.stock import a_part

        for _ in range(5):
            parts.append((await a_part(session)).number)
        for number in parts:
            await stock_in(session, number, site.bin_ids[rng.randint(0, 1)], 20)

    def picker(number: str) -> Callable[[AsyncSession], Awaitable[Any]]:
        async def job(session: AsyncSession) -> Any:
            return await stock_service.pick(
                session,
                part_number=number,
                qty=2,
                warehouse_id=site.warehouse_id,
                reference="J",
            )

        return job

    outcomes = await _run_all(sessions, [picker(parts[i % 6]) for i in range(48)])
    assert not any(isinstance(o, InsufficientStockError) for o in outcomes)
    async with sessions() as session:
        assert await _units_at(session, [site.floor_id]) == 96
        await _assert_ledger_matches(session)
