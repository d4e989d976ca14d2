"""Shipments with tracking reach the shop: a note naming carrier and tracking number (a
customer note), and with Shipment Tracking the `_wc_shipment_tracking_items` meta listing
every tracked parcel; cancellations still say so. All through the sales events."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.sales import service as sales_service
from kosh.storefront.sync_back import TRACKING_META_KEY
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, outbox_events, web_orders

ORDER_727 = "order_727_processing_guest_docs_create_response.json"


async def _web_order(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession, drain: Any
) -> int:
    body, headers = fakestore.delivery(fakestore.load(ORDER_727), topic="order.created")
    assert (await fakestore.send(client, shop.code, body, headers)).status_code == 200
    await drain()
    [order] = await web_orders(session)
    return order.id


async def _use_tracking(client: httpx.AsyncClient, admin_headers: dict[str, str]) -> None:
    [store] = (await client.get("/api/v1/storefront/stores", headers=admin_headers)).json()
    assert store["shipment_tracking"] is False
    changed = await client.patch(
        f"/api/v1/storefront/stores/{store['code']}",
        json={"version": store["version"], "shipment_tracking": True},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["shipment_tracking"] is True


async def test_tracking_goes_into_a_customer_note_without_the_extension(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
) -> None:
    # given a web order; the store does not run Shipment Tracking
    order_id = await _web_order(client, shop, session, drain)
    # when it ships in full with DHL
    await sales_service.ship(
        session, order_id=order_id, carrier="DHL", tracking_number="JD014600001234"
    )
    await drain()
    # then the order is completed and the buyer gets a note with carrier and number
    assert fake_store.status_updates == [("727", "completed")]
    [(order, note)] = fake_store.note_bodies
    assert order == "727"
    assert note == {
        "note": "Shipped by KOSH (SHOP-727). Sent with DHL, tracking number JD014600001234.",
        "customer_note": True,
    }
    # and no tracking meta was sent
    assert fake_store.order_meta == {"727": {}}
    [event] = await outbox_events(session)
    assert "meta_data" not in event.payload


async def test_shipment_tracking_meta_lists_every_tracked_parcel(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    admin_headers: dict[str, str],
) -> None:
    # given a web order of a store that runs Shipment Tracking
    await _use_tracking(client, admin_headers)
    order_id = await _web_order(client, shop, session, drain)
    order = await sales_service.get_order(session, order_id)
    first = order.lines[0]
    assert len(order.lines) > 1
    # when one line ships with UPS, then the rest with DHL
    await sales_service.ship(
        session,
        order_id=order_id,
        quantities={first.id: first.qty},
        carrier="UPS",
        tracking_number="1Z999",
    )
    await drain()
    # then the first parcel is in the meta; the order is not completed yet
    assert fake_store.status_updates == []
    items = fake_store.order_meta["727"][TRACKING_META_KEY]
    assert [(i["custom_tracking_provider"], i["tracking_number"]) for i in items] == [
        ("UPS", "1Z999")
    ]
    assert items[0]["date_shipped"].isdigit()
    assert items[0]["tracking_id"]
    assert fake_store.notes == [
        (
            "727",
            f"Partly shipped by KOSH: {first.qty} x line 1. Sent with UPS, tracking number 1Z999.",
        )
    ]
    await sales_service.ship(session, order_id=order_id, carrier="DHL", tracking_number="JD01")
    await drain()
    # then the meta lists both parcels (the value is replaced whole) and the order completes
    items = fake_store.order_meta["727"][TRACKING_META_KEY]
    assert [(i["custom_tracking_provider"], i["tracking_number"]) for i in items] == [
        ("UPS", "1Z999"),
        ("DHL", "JD01"),
    ]
    assert fake_store.status_updates == [("727", "completed")]
    assert len({i["tracking_id"] for i in items}) == 2


async def test_cancelled_in_kosh_still_reaches_the_store(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
) -> None:
    order_id = await _web_order(client, shop, session, drain)
    await sales_service.cancel(session, order_id=order_id, reason="customer asked")
    await drain()
    assert fake_store.status_updates == [("727", "cancelled")]
    assert fake_store.notes == [("727", "Cancelled in KOSH. customer asked")]


async def test_a_manual_order_ships_without_an_outbox_event(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    operator_headers: dict[str, str],
) -> None:
    customer = await sales_service.create_customer(session, name="Walk-in")
    order = await sales_service.create_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[sales_service.LineRequest(part_number="Bar3", qty=1)],
        confirm=True,
    )
    await sales_service.ship(session, order_id=order.id, carrier="DHL", tracking_number="X1")
    assert await outbox_events(session) == []
