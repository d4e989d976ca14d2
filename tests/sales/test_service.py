"""Sales orders: reservations, availability, shipping FIFO, cancelling, optimistic locks."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, ValidationError
from kosh.core.models import AuditEvent
from kosh.locations.models import Location
from kosh.sales import service as sales_service
from kosh.stock.errors import InsufficientStockError
from tests.support.sales import (
    a_customer,
    an_order,
    line_reservations,
    order_state,
    reserved_total,
    ship_ledger,
)
from tests.support.stock import a_part, a_site, all_balances, non_zero, replayed, stock_in


async def test_customer_email_is_unique_case_insensitively(session: AsyncSession) -> None:
    # given
    await a_customer(session, email="Ann@Example.com")
    # when / then
    with pytest.raises(ConflictError) as caught:
        await a_customer(session, email="ann@example.COM")
    assert caught.value.code == "customer_email_taken"


async def test_confirm_reserves_and_availability_drops(session: AsyncSession) -> None:
    # given: 10 in storage
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 4), (site.part_number, 3)],
    )
    # when
    await sales_service.confirm(session, order_id=order_id)
    # then
    order = await order_state(session, order_id)
    assert order.status == "confirmed"
    assert [line.qty_reserved for line in order.lines] == [4, 3]
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 7
    available = await sales_service.available(
        session, part_ids=[site.part_id], warehouse_id=site.warehouse_id
    )
    assert available == {site.part_id: 3}
    actions = set(await session.scalars(select(AuditEvent.action)))
    assert {"sales_order.create", "sales_order.confirm"} <= actions


async def test_confirm_short_is_refused_and_reserves_nothing(session: AsyncSession) -> None:
    # given: 5 on hand, one part fully available, the other short
    site = await a_site(session)
    other = await a_part(session)
    other_id, other_number = other.id, other.number  # a rollback expires loaded objects
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    await stock_in(session, other_number, site.bin_ids[0], 1)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(other_number, 1), (site.part_number, 6)],
    )
    # when
    with pytest.raises(InsufficientStockError) as caught:
        await sales_service.confirm(session, order_id=order_id)
    # then: 409 naming the short part; the other part's reservation rolled back too
    assert caught.value.code == "insufficient_stock"
    assert caught.value.details["shortages"] == [
        {
            "part_id": site.part_id,
            "part_number": site.part_number,
            "requested": 6,
            "needed": 6,
            "available": 5,
        }
    ]
    assert f"{site.part_number} needs 6, 5 available" in caught.value.message
    assert "backorder" in caught.value.message
    assert await reserved_total(session, other_id, site.warehouse_id) == 0
    assert (await order_state(session, order_id)).status == "draft"


async def test_backorder_reserves_what_there_is(session: AsyncSession) -> None:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 8)],
        backorder=True,
    )
    await sales_service.confirm(session, order_id=order_id)
    order = await order_state(session, order_id)
    assert order.status == "confirmed"
    assert (order.lines[0].qty_reserved, order.lines[0].qty_short) == (5, 3)
    # more stock arrives: confirming again tops the reservation up
    await stock_in(session, site.part_number, site.bin_ids[1], 10)
    await sales_service.confirm(session, order_id=order_id)
    order = await order_state(session, order_id)
    assert (order.lines[0].qty_reserved, order.lines[0].qty_short) == (8, 0)
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 8


async def test_a_second_order_cannot_take_reserved_stock(session: AsyncSession) -> None:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    customer = await a_customer(session)
    first = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 8)],
        confirm=True,
    )
    second = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 3)],
    )
    with pytest.raises(InsufficientStockError) as caught:
        await sales_service.confirm(session, order_id=second)
    assert caught.value.details["shortages"][0]["available"] == 2
    # cancelling the first frees its units
    await sales_service.cancel(session, order_id=first, reason="customer changed mind")
    await sales_service.confirm(session, order_id=second)
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 3
    assert (await order_state(session, first)).status == "cancelled"


async def test_ship_partially_fifo_then_the_rest(session: AsyncSession) -> None:
    # given: two lots, the older one in bin 2
    site = await a_site(session)
    older = await stock_in(session, site.part_number, site.bin_ids[1], 3)
    newer = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 5)],
        confirm=True,
    )
    line_id = (await order_state(session, order_id)).lines[0].id
    # when: ship 4 of 5
    await sales_service.ship(session, order_id=order_id, quantities={line_id: 4})
    # then: the older lot went first, through the shipping location and out
    order = await order_state(session, order_id)
    assert order.status == "partially_shipped"
    assert (order.lines[0].qty_shipped, order.lines[0].qty_reserved) == (4, 1)
    rows = await ship_ledger(session, order.number)
    ship_location = await session.scalar(
        select(Location).where(
            Location.warehouse_id == site.warehouse_id, Location.kind == "shipping"
        )
    )
    assert ship_location is not None
    moved = [(r.lot_id, r.from_location_id, r.to_location_id, r.qty) for r in rows]
    assert sorted(moved, key=str) == sorted(
        [
            (older.id, site.bin_ids[1], ship_location.id, 3),
            (older.id, ship_location.id, None, 3),
            (newer.id, site.bin_ids[0], ship_location.id, 1),
            (newer.id, ship_location.id, None, 1),
        ],
        key=str,
    )
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 1
    # when: ship what is left (no quantities = everything open)
    await sales_service.ship(session, order_id=order_id)
    order = await order_state(session, order_id)
    assert order.status == "shipped"
    assert order.shipped_at is not None
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 0
    held = await sales_service.on_hand(
        session, part_ids=[site.part_id], warehouse_id=site.warehouse_id
    )
    assert held == {site.part_id: 8}
    # the ledger still explains every balance
    assert non_zero(await all_balances(session)) == await replayed(session)


async def test_ship_refuses_on_hold_over_shipment_and_foreign_lines(session: AsyncSession) -> None:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 2)],
        confirm=True,
    )
    line_id = (await order_state(session, order_id)).lines[0].id
    with pytest.raises(RuleViolationError) as over:
        await sales_service.ship(session, order_id=order_id, quantities={line_id: 3})
    assert over.value.code == "over_shipment"
    with pytest.raises(RuleViolationError) as foreign:
        await sales_service.ship(session, order_id=order_id, quantities={line_id + 99: 1})
    assert foreign.value.code == "line_not_on_order"
    await sales_service.hold(session, order_id=order_id, reason="payment check")
    with pytest.raises(ConflictError) as held:
        await sales_service.ship(session, order_id=order_id)
    assert held.value.code == "invalid_status"
    # on hold keeps the reservation; confirming again lets it ship
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 2
    await sales_service.confirm(session, order_id=order_id)
    await sales_service.ship(session, order_id=order_id)
    assert (await order_state(session, order_id)).status == "shipped"
    with pytest.raises(ConflictError):
        await sales_service.cancel(session, order_id=order_id)


async def test_shipping_beyond_the_reservation_only_from_free_stock(
    session: AsyncSession,
) -> None:
    # given: 5 on hand; order A reserves 2 (backorder for 2 more), order B reserves 3
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    customer = await a_customer(session)
    a = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 2)],
        confirm=True,
    )
    b = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 3)],
        confirm=True,
    )
    # when: A's line is 2, so A can only ship 2; a draft C of 1 cannot be shipped
    c = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 1)],
        backorder=True,
    )
    await sales_service.confirm(session, order_id=c)  # nothing free: reserves 0
    assert (await order_state(session, c)).lines[0].qty_reserved == 0
    with pytest.raises(InsufficientStockError):
        await sales_service.ship(session, order_id=c)
    # then B still ships in full and A too
    await sales_service.ship(session, order_id=b)
    await sales_service.ship(session, order_id=a)
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 0


async def test_stale_version_is_refused(session: AsyncSession) -> None:
    site = await a_site(session)
    customer = await a_customer(session)
    order_id = await an_order(
        session, customer_id=customer.id, warehouse_id=site.warehouse_id, lines=[]
    )
    read_version = (await order_state(session, order_id)).version
    await sales_service.hold(session, order_id=order_id, version=read_version)
    with pytest.raises(ConflictError) as caught:
        await sales_service.cancel(session, order_id=order_id, version=read_version)
    assert caught.value.code == "stale_version"


async def test_lines_must_name_active_parts_and_orders_need_lines(
    session: AsyncSession,
) -> None:
    site = await a_site(session)
    customer_id = (await a_customer(session)).id  # a rollback expires loaded objects
    with pytest.raises(ValidationError) as caught:
        await sales_service.create_order(
            session,
            customer_id=customer_id,
            warehouse_id=site.warehouse_id,
            lines=[sales_service.LineRequest(part_number="NOPE", qty=1, unit_price=Decimal(1))],
        )
    assert caught.value.errors[0]["loc"] == ["lines", 0, "part_number"]
    empty = await an_order(
        session, customer_id=customer_id, warehouse_id=site.warehouse_id, lines=[]
    )
    with pytest.raises(RuleViolationError) as no_lines:
        await sales_service.confirm(session, order_id=empty)
    assert no_lines.value.code == "order_empty"
    with pytest.raises(NotFoundError):
        await sales_service.confirm(session, order_id=empty + 1000)


async def test_default_price_is_the_part_price(session: AsyncSession) -> None:
    site = await a_site(session)
    # the list price, not the cost, is the default
    priced = await a_part(session, list_price=Decimal("12.50"), unit_cost=Decimal("4.10"))
    customer = await a_customer(session)
    order = await sales_service.create_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[sales_service.LineRequest(part_number=priced.number, qty=2)],
    )
    assert order.lines[0].unit_price == Decimal("12.50")
    # reservations always equal the sum of the lines
    assert await line_reservations(session, priced.id) == 0
    assert await sales_service.reservation_drift(session) == []
