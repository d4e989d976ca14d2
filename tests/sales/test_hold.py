"""Holding an order, as the runbook and the 409 messages say: a plain hold keeps the
reservation (the goods stay set aside) and refuses shipping until confirmed again; a hold
with `release_reservations` frees the stock for others, and confirming reserves again."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError
from kosh.sales import service as sales_service
from kosh.stock import service as stock_service
from tests.support.sales import a_customer, an_order, reserved_total
from tests.support.stock import a_site, stock_in


async def test_plain_hold_keeps_the_reservation_and_blocks_picking_it(
    session: AsyncSession,
) -> None:
    # given 10 in storage, 7 reserved by an order put on hold
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 7)],
        confirm=True,
    )
    await sales_service.hold(session, order_id=order_id, reason="payment check")
    # then the 7 stay reserved, a pick of them is refused naming the way out
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 7
    with pytest.raises(ConflictError) as refused:
        await stock_service.pick(
            session,
            part_number=site.part_number,
            qty=5,
            warehouse_id=site.warehouse_id,
            reference="J-1",
        )
    assert refused.value.code == "reserved_stock"
    assert "release_reservations" in refused.value.message
    assert "a plain hold keeps it" in refused.value.message
    # and shipping says how to go on
    with pytest.raises(ConflictError) as held:
        await sales_service.ship(session, order_id=order_id)
    assert held.value.code == "invalid_status"
    assert "Confirm it again first" in held.value.message


async def test_hold_releasing_frees_the_stock_and_confirm_reserves_again(
    client: httpx.AsyncClient, operator_headers: dict[str, str], session: AsyncSession
) -> None:
    # given a confirmed order reserving 7 of 10
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 7)],
        confirm=True,
    )
    # when it is held with release_reservations
    held = await client.post(
        f"/api/v1/sales-orders/{order_id}/hold",
        json={"reason": "customer on holiday", "release_reservations": True},
        headers=operator_headers,
    )
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "on_hold"
    assert held.json()["lines"][0]["qty_reserved"] == 0
    # then the stock is free: a pick of 5 works
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 0
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=5,
        warehouse_id=site.warehouse_id,
        reference="J-2",
    )
    # and confirming again reserves what is there: 5 left, 7 wanted, no backorder -> 409
    refused = await client.post(
        f"/api/v1/sales-orders/{order_id}/confirm", headers=operator_headers
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_stock"
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    confirmed = await client.post(
        f"/api/v1/sales-orders/{order_id}/confirm", headers=operator_headers
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["lines"][0]["qty_reserved"] == 7
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 7


async def test_hold_body_is_strict(
    client: httpx.AsyncClient, operator_headers: dict[str, str], session: AsyncSession
) -> None:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 1)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 1)],
        confirm=True,
    )
    bad = await client.post(
        f"/api/v1/sales-orders/{order_id}/hold",
        json={"release_reservations": "yes"},
        headers=operator_headers,
    )
    assert bad.status_code == 422
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 1
