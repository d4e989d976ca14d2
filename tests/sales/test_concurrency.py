"""Reserved never exceeds on hand, however many confirmations race (real commits, one
session per task)."""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.errors import ConflictError
from kosh.sales import service as sales_service
from tests.support.sales import a_customer, an_order, reserved_total
from tests.support.stock import a_part, a_site, stock_in

TASKS = 40


async def test_concurrent_confirmations_never_over_reserve(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given: 50 of part A and 30 of part B; 40 orders want 3 A + 2 B, lines in either order
    async with sessions() as session:
        site = await a_site(session)
        other = await a_part(session)
        await stock_in(session, site.part_number, site.bin_ids[0], 20)
        await stock_in(session, site.part_number, site.bin_ids[1], 30)
        await stock_in(session, other.number, site.bin_ids[0], 30)
        customer = await a_customer(session)
        order_ids = []
        for n in range(TASKS):
            lines = [(site.part_number, 3), (other.number, 2)]
            order_ids.append(
                await an_order(
                    session,
                    customer_id=customer.id,
                    warehouse_id=site.warehouse_id,
                    lines=lines if n % 2 else lines[::-1],
                )
            )
        other_id = other.id

    async def confirm(order_id: int) -> bool | str:
        async with sessions() as session:
            try:
                await sales_service.confirm(session, order_id=order_id)
            except ConflictError as exc:
                return exc.code  # the caller checks that only shortages were refused
            return True

    # when
    results = await asyncio.gather(*(confirm(order_id) for order_id in order_ids))

    # then: B (30 / 2 = 15 orders) is the bottleneck; exactly that many went through
    assert set(results) <= {True, "insufficient_stock"}
    confirmed = results.count(True)
    assert confirmed == 15
    async with sessions() as session:
        assert await reserved_total(session, site.part_id, site.warehouse_id) == 3 * confirmed
        assert await reserved_total(session, other_id, site.warehouse_id) == 2 * confirmed
        assert await sales_service.reservation_drift(session) == []
        available = await sales_service.available(
            session, part_ids=[site.part_id, other_id], warehouse_id=site.warehouse_id
        )
        assert available == {site.part_id: 50 - 3 * confirmed, other_id: 0}
