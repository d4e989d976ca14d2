"""Reserved never exceeds on hand: stock reserved for sales orders cannot be picked,
transferred out, consumed or scrapped from storage; counts and shipments still work."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.errors import ConflictError
from kosh.locations import service as location_service
from kosh.sales import service as sales_service
from kosh.stock import service as stock_service
from tests.support.sales import a_customer, an_order, reserved_total
from tests.support.stock import a_location, a_site, all_balances, ledger, stock_in


async def reserved_site(session: AsyncSession, *, stock: int = 10, reserve: int = 7):  # type: ignore[no-untyped-def]
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], stock)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, reserve)],
        confirm=True,
    )
    return site, order_id


async def test_pick_may_take_only_the_unreserved_stock(session: AsyncSession) -> None:
    # given 10 in storage, 7 reserved by a confirmed sales order
    site, _ = await reserved_site(session)
    before_balances, before_ledger = await all_balances(session), len(await ledger(session))

    # when a kitter picks 4 (one more than is free)
    with pytest.raises(ConflictError) as refused:
        await stock_service.pick(
            session,
            part_number=site.part_number,
            qty=4,
            warehouse_id=site.warehouse_id,
            reference="J-1",
        )

    # then it is refused with what is reserved, and nothing moved
    assert refused.value.code == "reserved_stock"
    assert refused.value.details["parts"] == [
        {"part_id": site.part_id, "on_hand": 6, "reserved": 7}
    ]
    assert await all_balances(session) == before_balances
    assert len(await ledger(session)) == before_ledger

    # and picking the 3 that are free works
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=3,
        warehouse_id=site.warehouse_id,
        reference="J-1",
    )
    assert await sales_service.available(
        session, part_ids=[site.part_id], warehouse_id=site.warehouse_id
    ) == {site.part_id: 0}


async def test_consume_scrap_and_transfer_out_of_storage_are_guarded(
    session: AsyncSession,
) -> None:
    site, _ = await reserved_site(session, stock=10, reserve=10)
    [receipt] = await ledger(session)
    lot_pcn = await _pcn_of(session, receipt.lot_id)
    quarantine = await a_location(session, site.warehouse_id, kind="quarantine")
    other_bin = site.bin_ids[1]

    for attempt in (
        stock_service.consume(
            session, pcn=lot_pcn, qty=1, location_id=site.bin_ids[0], reason="test"
        ),
        stock_service.consume(
            session, pcn=lot_pcn, qty=1, location_id=site.bin_ids[0], reason="broken", scrap=True
        ),
        stock_service.transfer(
            session,
            pcn=lot_pcn,
            qty=1,
            from_location_id=site.bin_ids[0],
            to_location_id=quarantine.id,
        ),
    ):
        with pytest.raises(ConflictError) as refused:
            await attempt
        assert refused.value.code == "reserved_stock"

    # a move between storage bins keeps the stock available, so it is allowed
    await stock_service.transfer(
        session, pcn=lot_pcn, qty=4, from_location_id=site.bin_ids[0], to_location_id=other_bin
    )
    # a count records reality even below the reservation (the drift shows on availability)
    await stock_service.adjust_count(
        session, pcn=lot_pcn, location_id=other_bin, counted_qty=2, reason="cycle count"
    )
    assert await sales_service.available(
        session, part_ids=[site.part_id], warehouse_id=site.warehouse_id
    ) == {site.part_id: -2}


async def _pcn_of(session: AsyncSession, lot_id: int) -> str:
    from kosh.stock.models import Lot

    lot = await session.get(Lot, lot_id)
    assert lot is not None
    return lot.pcn


async def test_shipping_the_reserved_order_still_works(session: AsyncSession) -> None:
    site, order_id = await reserved_site(session, stock=10, reserve=10)
    await sales_service.ship(session, order_id=order_id)
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 0
    assert await location_service.location_of_kind(session, site.warehouse_id, "shipping")


async def test_racing_picks_and_confirmations_never_over_reserve(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given 60 in storage and 30 draft orders of 2 each, while kitters pick 1 at a time
    async with sessions() as session:
        site = await a_site(session)
        await stock_in(session, site.part_number, site.bin_ids[0], 60)
        customer = await a_customer(session)
        order_ids = [
            await an_order(
                session,
                customer_id=customer.id,
                warehouse_id=site.warehouse_id,
                lines=[(site.part_number, 2)],
            )
            for _ in range(30)
        ]

    async def confirm(order_id: int) -> str:
        async with sessions() as session:
            try:
                await sales_service.confirm(session, order_id=order_id)
            except ConflictError as exc:
                return exc.code
            return "ok"

    async def pick() -> str:
        async with sessions() as session:
            try:
                await stock_service.pick(
                    session,
                    part_number=site.part_number,
                    qty=1,
                    warehouse_id=site.warehouse_id,
                    reference="J-7",
                )
            except ConflictError as exc:
                return exc.code
            return "ok"

    # when they all run at once
    results = await asyncio.gather(*(confirm(o) for o in order_ids), *(pick() for _ in range(30)))

    # then every refusal is a clean conflict and reserved never exceeds what is left
    assert set(results) <= {"ok", "insufficient_stock", "reserved_stock"}
    async with sessions() as session:
        reserved = await reserved_total(session, site.part_id, site.warehouse_id)
        left = (
            await sales_service.on_hand(
                session, part_ids=[site.part_id], warehouse_id=site.warehouse_id
            )
        )[site.part_id]
        picked = results[30:].count("ok")
        assert reserved == 2 * results[:30].count("ok")
        assert left == 60 - picked
        assert reserved <= left
        assert await sales_service.reservation_drift(session) == []
