"""A web order no single warehouse of its store can fill: a line none can cover alone draws
on several in priority order (one order line per warehouse, the store's one line id), the
rest of the lines go to the first warehouse that has them whole; the pushed level stays
right, shipping takes each part from its own warehouse, and a later version of the same
order or a refund treats the split line as the one line it is."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.sales import service as sales_service
from kosh.storefront.models import OutboxEvent
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, web_orders
from tests.support.sales import a_customer, an_order
from tests.support.stock import a_location, a_warehouse, stock_in

ORDER_324 = "order_324_completed_partially_refunded_8_items.json"


async def _deliver(client: httpx.AsyncClient, shop: Shop, payload: Any) -> None:
    body, headers = fakestore.delivery(payload, topic="order.updated")
    assert (await fakestore.send(client, shop.code, body, headers)).status_code == 200


async def _reserved(session: AsyncSession, part_id: int, warehouse_id: int) -> int:
    await session.rollback()
    return (await sales_service.reserved(session, part_ids=[part_id], warehouse_id=warehouse_id))[
        part_id
    ]


async def test_a_line_no_warehouse_covers_is_split_in_priority_order(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    drain: Any,
    fake_store: fakestore.FakeStore,
    admin_headers: dict[str, str],
) -> None:
    # given a second warehouse, first in priority, with 3 of WOO-SINGLE-1 and nothing else
    single = shop.parts["WOO-SINGLE-1"]
    async with sessions() as fresh:
        second = await a_warehouse(fresh)
        bin_two = await a_location(fresh, second, code="BIN-2")
        second_id, bin_two_id = second.id, bin_two.id
        await fresh.commit()
    await stock_in(session, "WOO-SINGLE-1", bin_two_id, 3)
    # and the main warehouse with only 5 of it free (95 of its 100 reserved by another order)
    customer = await a_customer(session)
    await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[("WOO-SINGLE-1", 95)],
        confirm=True,
    )
    [store] = (await client.get("/api/v1/storefront/stores", headers=admin_headers)).json()
    fake_store.add_product("WOO-SINGLE-1", stock=99)
    changed = await client.patch(
        f"/api/v1/storefront/stores/{shop.code}",
        json={
            "version": store["version"],
            "warehouse_ids": [second_id, shop.warehouse_id],
            "stock_push": True,
        },
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    await session.execute(delete(OutboxEvent).where(OutboxEvent.kind == "reconcile"))
    await session.commit()
    # when order 324 arrives: line 45 wants 8 x WOO-SINGLE-1, no warehouse has 8
    payload = fakestore.version_of(
        fakestore.load(ORDER_324), minutes=0, status="processing", refunds=[]
    )
    await _deliver(client, shop, payload)
    await drain()
    # then it is confirmed in full: 3 from the second warehouse, 5 from the main one
    [order] = await web_orders(session)
    order_id = order.id
    order = await sales_service.get_order(session, order_id)
    line_ids = [li.id for li in order.lines]
    assert (order.status, order.warehouse_id) == ("confirmed", second_id)
    split = [
        (li.warehouse_id, li.qty, li.qty_reserved)
        for li in order.lines
        if li.external_line_id == "45"
    ]
    assert sorted(split, key=str) == sorted([(None, 3, 3), (shop.warehouse_id, 5, 5)], key=str)
    others = {li.warehouse_id for li in order.lines if li.external_line_id != "45"}
    assert others == {shop.warehouse_id}
    assert await _reserved(session, single, second_id) == 3
    assert await _reserved(session, single, shop.warehouse_id) == 100
    assert await sales_service.reservation_drift(session) == []
    # and the shop is told nothing is left of it
    assert fake_store.stock_of("WOO-SINGLE-1") == 0
    # when a later version with the same lines comes (a note added in the shop)
    await _deliver(client, shop, fakestore.version_of(payload, minutes=3))
    await drain()
    # then the split line is the same line: nothing re-lined
    await session.rollback()
    again = await sales_service.get_order(session, order_id)
    assert [li.id for li in again.lines] == line_ids
    # when 4 units of line 45 are refunded
    summary = fake_store.refund("324", 901, {45: 4})
    await _deliver(client, shop, fakestore.version_of(payload, minutes=6, refunds=[summary]))
    await drain()
    # then 4 are released over the split lines, the pushed level follows
    released = (
        3
        + 100
        - (
            await _reserved(session, single, second_id)
            + await _reserved(session, single, shop.warehouse_id)
        )
    )
    assert released == 4
    assert await sales_service.reservation_drift(session) == []
    free_two = (await sales_service.available(session, part_ids=[single], warehouse_id=second_id))[
        single
    ]
    free_main = (
        await sales_service.available(session, part_ids=[single], warehouse_id=shop.warehouse_id)
    )[single]
    assert fake_store.stock_of("WOO-SINGLE-1") == free_two + free_main == 4
    # when the order ships, each unit leaves from its own warehouse
    await sales_service.ship(session, order_id=order_id)
    shipped = await sales_service.get_order(session, order_id)
    assert shipped.status == "shipped"
    assert await sales_service.reservation_drift(session) == []
    from_two = sum(li.qty_shipped for li in shipped.lines if li.warehouse_id is None)
    from_main = sum(
        li.qty_shipped
        for li in shipped.lines
        if li.external_line_id == "45" and li.warehouse_id == shop.warehouse_id
    )
    assert from_two + from_main == 4  # 8 ordered, 4 refunded
    on_hand_two = await sales_service.on_hand(session, part_ids=[single], warehouse_id=second_id)
    assert on_hand_two[single] == 3 - from_two
