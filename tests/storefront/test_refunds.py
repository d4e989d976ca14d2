"""A web order refunded in the shop: what is still reserved is released and the refunded
lines are listed for the returns desk (with how many units had shipped)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.sales import service as sales_service
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, staged_rows, web_orders

ORDER_727 = "order_727_processing_guest_docs_create_response.json"


async def _deliver(client: httpx.AsyncClient, shop: Shop, payload: Any, topic: str) -> None:
    body, headers = fakestore.delivery(payload, topic=topic)
    assert (await fakestore.send(client, shop.code, body, headers)).status_code == 200


async def _reserved(session: AsyncSession, shop: Shop, order_id: int) -> dict[int, int]:
    await session.rollback()  # a fresh snapshot: the worker committed in its own session
    order = await sales_service.get_order(session, order_id)
    parts = {line.part_id for line in order.lines}
    return await sales_service.reserved(session, part_ids=parts, warehouse_id=shop.warehouse_id)


async def test_refunded_before_shipping_releases_and_lists_the_lines(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    operator_headers: dict[str, str],
) -> None:
    # given a reserved web order
    payload = fakestore.load(ORDER_727)
    await _deliver(client, shop, payload, "order.created")
    await drain()
    [order] = await web_orders(session)
    assert sum((await _reserved(session, shop, order.id)).values()) > 0
    # when the shop refunds it in full
    await _deliver(
        client, shop, fakestore.version_of(payload, minutes=5, status="refunded"), "order.updated"
    )
    await drain()
    # then the reservation is released, the order cancelled and stamped refunded
    assert set((await _reserved(session, shop, order.id)).values()) == {0}
    [order] = await web_orders(session)
    assert (order.status, order.external_status) == ("cancelled", "refunded")
    # and every line is listed as refunded, nothing shipped
    listed = await client.get(
        f"/api/v1/sales-orders/{order.id}/refunded-lines", headers=operator_headers
    )
    assert listed.status_code == 200
    body = listed.json()
    lines = [(li.id, li.qty) for li in (await sales_service.get_order(session, order.id)).lines]
    assert body["total"] == len(lines)
    assert [(i["order_line_id"], i["qty"], i["qty_shipped"]) for i in body["items"]] == [
        (line_id, qty, 0) for line_id, qty in lines
    ]
    to_return = await client.get("/api/v1/sales/refunds-to-return", headers=operator_headers)
    assert to_return.json()["total"] == 0
    # a redelivery of the refund changes nothing
    await _deliver(
        client, shop, fakestore.version_of(payload, minutes=5, status="refunded"), "order.updated"
    )
    await drain()
    again = await client.get(
        f"/api/v1/sales-orders/{order.id}/refunded-lines", headers=operator_headers
    )
    assert again.json()["total"] == len(lines)


async def test_refunded_after_shipping_is_a_return_to_expect(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    operator_headers: dict[str, str],
) -> None:
    # given a web order whose first line shipped
    payload = fakestore.load(ORDER_727)
    await _deliver(client, shop, payload, "order.created")
    await drain()
    [order] = await web_orders(session)
    first = (await sales_service.get_order(session, order.id)).lines[0]
    first_id, first_qty = first.id, first.qty
    await sales_service.ship(session, order_id=order.id, quantities={first_id: first_qty})
    # when the shop refunds the whole order
    await _deliver(
        client, shop, fakestore.version_of(payload, minutes=5, status="refunded"), "order.updated"
    )
    await drain()
    # then the rest is released, the shipped units are a return to expect
    assert set((await _reserved(session, shop, order.id)).values()) == {0}
    [order] = await web_orders(session)
    assert order.status == "cancelled"
    to_return = await client.get("/api/v1/sales/refunds-to-return", headers=operator_headers)
    assert to_return.status_code == 200
    page = await client.get(
        f"/sales-orders/{order.id}", headers={**operator_headers, "accept": "text/html"}
    )
    assert 'data-testid="refunded"' in page.text
    [item] = to_return.json()["items"]
    assert (item["order_line_id"], item["qty"], item["qty_shipped"]) == (
        first_id,
        first_qty,
        first_qty,
    )


async def test_refunded_after_shipping_in_full_is_applied_not_reviewed(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    operator_headers: dict[str, str],
) -> None:
    payload = fakestore.load(ORDER_727)
    await _deliver(client, shop, payload, "order.created")
    await drain()
    [order] = await web_orders(session)
    await sales_service.ship(session, order_id=order.id)
    await _deliver(
        client, shop, fakestore.version_of(payload, minutes=5, status="refunded"), "order.updated"
    )
    await drain()
    rows = await staged_rows(session, "727")
    assert rows[-1].status == "applied"
    assert rows[-1].reasons[0]["code"] == "refunded_after_shipping"
    [order] = await web_orders(session)
    assert (order.status, order.external_status) == ("shipped", "refunded")
    qtys = [li.qty for li in (await sales_service.get_order(session, order.id)).lines]
    to_return = await client.get("/api/v1/sales/refunds-to-return", headers=operator_headers)
    assert sorted((i["qty"], i["qty_shipped"]) for i in to_return.json()["items"]) == sorted(
        (qty, qty) for qty in qtys
    )
    missing = await client.get(
        "/api/v1/sales-orders/999999/refunded-lines", headers=operator_headers
    )
    assert missing.status_code == 404
