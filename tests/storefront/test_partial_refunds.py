"""A web order refunded in part in the shop (its status unchanged): the refunded lines are
read from the shop's refunds endpoint, what is still reserved for the refunded units is
released, the lines are listed for the returns desk, and each refund counts exactly once
however often, late or out of order its webhook arrives."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.quality import returns as return_ops
from kosh.quality import service as quality_service
from kosh.sales import service as sales_service
from kosh.sales import web_refunds
from kosh.sales.models import SalesOrder
from kosh.storefront import refunds as store_refunds
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, outbox_events, web_orders
from tests.support.stock import a_location

ORDER_324 = "order_324_completed_partially_refunded_8_items.json"


async def _deliver(client: httpx.AsyncClient, shop: Shop, payload: Any) -> None:
    body, headers = fakestore.delivery(payload, topic="order.updated")
    assert (await fakestore.send(client, shop.code, body, headers)).status_code == 200


async def _order(session: AsyncSession) -> SalesOrder:
    [order] = await web_orders(session)
    await session.rollback()
    return await sales_service.get_order(session, order.id)


async def _reserved(session: AsyncSession, shop: Shop) -> dict[int, int]:
    await session.rollback()
    return await sales_service.reserved(
        session, part_ids=shop.parts.values(), warehouse_id=shop.warehouse_id
    )


async def _placed(client: httpx.AsyncClient, shop: Shop, drain: Any) -> dict[str, Any]:
    """Order 324 (8 lines of 1..8 units, line ids 38..45) placed and reserved."""
    payload = fakestore.version_of(
        fakestore.load(ORDER_324), minutes=0, status="processing", refunds=[]
    )
    await _deliver(client, shop, payload)
    await drain()
    return payload


async def test_a_partial_refund_releases_its_units_and_lists_them(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    operator_headers: dict[str, str],
) -> None:
    # given order 324 reserved in full (line 41: 4 x POSTER-WOO-NINJA, line 45: 8 x WOO-SINGLE-1)
    payload = await _placed(client, shop, drain)
    order = await _order(session)
    assert order.status == "confirmed"
    ninja, single = shop.parts["POSTER-WOO-NINJA"], shop.parts["WOO-SINGLE-1"]
    assert [(await _reserved(session, shop))[p] for p in (ninja, single)] == [4, 8]
    # when the shop refunds 3 of line 41 and 2 of line 45, the order staying "processing"
    summary = fake_store.refund("324", 549, {41: 3, 45: 2}, reason="Sold out")
    await _deliver(client, shop, fakestore.version_of(payload, minutes=5, refunds=[summary]))
    await drain()
    # then the refunds endpoint was read and exactly the refunded units were released
    assert any(r.path.endswith("/orders/324/refunds") for r in fake_store.received)
    assert [(await _reserved(session, shop))[p] for p in (ninja, single)] == [1, 6]
    order = await _order(session)
    by_ext = {line.external_line_id: line for line in order.lines}
    assert (by_ext["41"].qty_cancelled, by_ext["41"].qty_open, by_ext["41"].qty_short) == (3, 1, 0)
    assert order.status == "confirmed"
    # and the lines are listed for the returns desk, none of them shipped
    listed = await client.get(
        f"/api/v1/sales-orders/{order.id}/refunded-lines", headers=operator_headers
    )
    assert [(i["order_line_id"], i["qty"], i["qty_shipped"]) for i in listed.json()["items"]] == [
        (by_ext["41"].id, 3, 0),
        (by_ext["45"].id, 2, 0),
    ]
    # and shipping the order ships what is left, and it is done
    await sales_service.ship(session, order_id=order.id)
    order = await _order(session)
    assert order.status == "shipped"
    assert by_ext["41"].qty_shipped == 1


async def test_redelivered_reordered_and_later_versions_release_once(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
) -> None:
    # given two refunds of line 44 (7 x WOO-SINGLE-2): 2 units, then 3 units
    payload = await _placed(client, shop, drain)
    single2 = shop.parts["WOO-SINGLE-2"]
    first = fake_store.refund("324", 547, {44: 2})
    v1 = fakestore.version_of(payload, minutes=5, refunds=[first])
    second = fake_store.refund("324", 549, {44: 3})
    v2 = fakestore.version_of(payload, minutes=9, refunds=[second, first])
    # when the newer webhook arrives first, then the older, then the newer again
    await _deliver(client, shop, v2)
    await drain()
    await _deliver(client, shop, v1)
    await _deliver(client, shop, v2)
    await drain()
    # and a later version with the same refunds (e.g. a note added in the shop) comes too
    await _deliver(client, shop, fakestore.version_of(payload, minutes=20, refunds=[second, first]))
    await drain()
    # then 5 units were released once, and the order still holds the other 2
    assert (await _reserved(session, shop))[single2] == 2
    order = await _order(session)
    [line] = [li for li in order.lines if li.external_line_id == "44"]
    assert (line.qty_cancelled, line.qty_reserved) == (5, 2)
    refunded = await sales_service.refunded_lines(session, order_id=order.id)
    assert sorted((r.external_refund_id, r.qty) for r in refunded) == [("547", 2), ("549", 3)]
    # and the refunds endpoint was read once: later versions name no new refund
    reads = [r for r in fake_store.received if r.path.endswith("/orders/324/refunds")]
    assert len(reads) == 1
    kinds = [e.kind for e in await outbox_events(session) if e.kind == store_refunds.KIND]
    assert kinds == [store_refunds.KIND]


async def test_a_refund_read_twice_takes_nothing_the_second_time(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
) -> None:
    # given a refund taken
    payload = await _placed(client, shop, drain)
    summary = fake_store.refund("324", 600, {38: 1, 39: 2})
    await _deliver(client, shop, fakestore.version_of(payload, minutes=5, refunds=[summary]))
    await drain()
    order = await _order(session)
    # when sales is handed the same refunds again (a duplicated read)
    parsed = store_refunds.parse_refunds(fake_store.refunds["324"])
    again = await web_refunds.take_refunds(
        session, store=shop.code, external_id="324", refunds=parsed
    )
    await session.commit()
    # then nothing is recorded or released
    assert (again.recorded, again.released, again.refunds) == ([], 0, [])
    assert len(await sales_service.refunded_lines(session, order_id=order.id)) == 2


async def test_refunding_every_open_unit_cancels_the_order(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
) -> None:
    # given order 324 reserved
    payload = await _placed(client, shop, drain)
    # when every unit of every line is refunded while the shop still says "processing"
    summary = fake_store.refund("324", 700, {38 + i: i + 1 for i in range(8)})
    await _deliver(client, shop, fakestore.version_of(payload, minutes=5, refunds=[summary]))
    await drain()
    # then the order is cancelled with nothing reserved, and the shop is not told to cancel
    order = await _order(session)
    assert order.status == "cancelled"
    assert set((await _reserved(session, shop)).values()) == {0}
    assert ("324", "cancelled") not in fake_store.status_updates


async def test_a_shipped_unit_refunded_is_a_return_to_expect(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    operator_headers: dict[str, str],
) -> None:
    # given line 40 (3 x POSTER-PREMIUM-QUALITY) shipped in full, the rest open
    payload = await _placed(client, shop, drain)
    order = await _order(session)
    line = next(li for li in order.lines if li.external_line_id == "40")
    await sales_service.ship(session, order_id=order.id, quantities={line.id: 3})
    # when 2 of its units are refunded
    summary = fake_store.refund("324", 800, {40: 2})
    await _deliver(client, shop, fakestore.version_of(payload, minutes=5, refunds=[summary]))
    await drain()
    # then nothing is released, and the 2 units are on the returns desk's list
    to_return = await client.get("/api/v1/sales/refunds-to-return", headers=operator_headers)
    [item] = to_return.json()["items"]
    assert (item["order_line_id"], item["qty"], item["qty_shipped"]) == (line.id, 2, 2)
    order = await _order(session)
    assert order.status == "partially_shipped"


async def test_the_shop_down_is_retried_with_backoff(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
) -> None:
    # given a refund while the shop's REST API fails twice
    payload = await _placed(client, shop, drain)
    summary = fake_store.refund("324", 900, {42: 5})
    await _deliver(client, shop, fakestore.version_of(payload, minutes=5, refunds=[summary]))
    fake_store.fail(500, times=2)
    # when the worker runs until nothing is due
    for _ in range(20):
        await drain()
        if all(e.status != "pending" for e in await outbox_events(session)):
            break
    # then the refund was taken in the end
    assert (await _reserved(session, shop))[shop.parts["WOO-ALBUM-1"]] == 0
    [event] = [e for e in await outbox_events(session) if e.kind == store_refunds.KIND]
    assert (event.status, event.attempts) == ("sent", 3)


def test_parse_refunds_reads_units_and_leaves_out_what_names_no_line() -> None:
    parsed = store_refunds.parse_refunds(
        [
            {
                "id": 5,
                "reason": "damaged",
                "line_items": [
                    {
                        "quantity": -2,
                        "total": "-20.00",
                        "meta_data": [{"key": "_refunded_item_id", "value": "38"}],
                    },
                    {"quantity": -1, "total": "-1.00", "meta_data": []},
                    {"quantity": 0, "meta_data": [{"key": "_refunded_item_id", "value": "39"}]},
                    {"quantity": -1, "total": "x", "meta_data": [{"key": "_refunded_item_id"}]},
                    "junk",
                ],
            },
            {"id": "6"},
            {"id": True},
            {"id": 7, "line_items": None},
        ]
    )
    assert [(r.refund_id, r.reason) for r in parsed] == [("5", "damaged"), ("7", "")]
    [units] = parsed[0].lines
    assert (units.external_line_id, units.qty, str(units.amount)) == ("38", 2, "20.00")
    assert store_refunds.refund_ids_of({"refunds": [{"id": 3}, {"id": 0}, "x", {"id": "4"}]}) == [
        "3"
    ]
    assert store_refunds.refund_ids_of({"refunds": "nope"}) == []


async def test_a_refund_after_shipping_proposes_an_rma_whose_outcome_reaches_the_shop(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    operator_headers: dict[str, str],
) -> None:
    # given line 40 (3 x POSTER-PREMIUM-QUALITY) shipped, and a quarantine location
    payload = await _placed(client, shop, drain)
    order = await _order(session)
    order_id = order.id
    line = next(li for li in order.lines if li.external_line_id == "40")
    line_id = line.id
    await sales_service.ship(session, order_id=order_id, quantities={line_id: 3})
    quarantine = await a_location(session, shop.warehouse_id, code="RQ-1", kind="quarantine")
    quarantine_id = quarantine.id
    await session.commit()
    # when the shop refunds 2 of them
    summary = fake_store.refund("324", 810, {40: 2}, reason="Damaged")
    await _deliver(client, shop, fakestore.version_of(payload, minutes=5, refunds=[summary]))
    await drain()
    # then an RMA is proposed for the 2 shipped units, waiting on the returns desk
    await session.rollback()
    proposed, total = await quality_service.list_returns(session, status="proposed")
    assert total == 1
    [rma] = proposed
    rma_id, number = rma.id, rma.number
    assert (rma.sales_order_id, rma.outcome) == (order_id, "refund")
    assert "810" in rma.reason
    desk = await client.get("/quality/returns", headers={**operator_headers, "accept": "text/html"})
    assert number in desk.text
    assert 'data-testid="refunded-lines"' in desk.text
    # and a redelivery proposes nothing more
    await _deliver(client, shop, fakestore.version_of(payload, minutes=5, refunds=[summary]))
    await drain()
    await session.rollback()
    assert (await quality_service.list_returns(session, status="proposed"))[1] == 1
    # when the desk confirms it, receives and inspects the units
    confirmed = await client.post(f"/api/v1/returns/{rma_id}/confirm", headers=operator_headers)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "authorised"
    received = await client.post(
        f"/api/v1/returns/{rma_id}/receive",
        json={"location_id": quarantine_id},
        headers=operator_headers,
    )
    assert received.status_code == 200, received.text
    await session.rollback()
    pcn = await return_ops.pcns_of(
        session, await quality_service.get_return_or_raise(session, rma_id)
    )
    [pcn_code] = pcn.values()
    inspected = await client.post(
        f"/api/v1/returns/{rma_id}/inspect",
        json={
            "lines": [
                {"pcn": pcn_code, "qty": 1, "outcome": "restock", "location_id": shop.bin_id},
                {"pcn": pcn_code, "qty": 1, "outcome": "scrap"},
            ]
        },
        headers=operator_headers,
    )
    assert inspected.status_code == 200, inspected.text
    assert inspected.json()["status"] == "closed"
    await drain()
    # then the shop has the outcome as an order note, its status untouched
    assert (
        "324",
        f"Return {number} received and inspected: 1 unit restocked, 1 scrapped.",
    ) in fake_store.notes
    assert not [s for s in fake_store.status_updates if s[0] == "324"]
