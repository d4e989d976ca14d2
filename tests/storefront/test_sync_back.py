"""Sync back through the outbox: shipping and cancelling in KOSH reach the store, signed
as WooCommerce requires, with retries while the store is down."""

from __future__ import annotations

import base64
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.sales import service as sales_service
from kosh.storefront import woocommerce as wc
from kosh.storefront.models import OutboxEvent
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


async def _make_due(session: AsyncSession) -> None:
    await session.execute(update(OutboxEvent).values(next_attempt_at=utcnow()))
    await session.commit()


async def test_shipping_completes_the_order_in_the_store(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
) -> None:
    # given
    order_id = await _web_order(client, shop, session, drain)
    # when: shipped in KOSH (the outbox row is written in the same transaction)
    await sales_service.ship(session, order_id=order_id)
    [event] = await outbox_events(session)
    assert (event.status, event.payload["status"]) == ("pending", "completed")
    stats = await drain()
    # then: one signed PUT with the new status, and the note
    assert stats.synced == 1
    assert fake_store.status_updates == [("727", "completed")]
    assert fake_store.notes == [("727", "Shipped by KOSH (SHOP-727).")]
    [event] = await outbox_events(session)
    assert (event.status, event.attempts) == ("sent", 1)
    assert event.sent_at is not None


async def test_store_down_then_recovering(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    worker_settings: Settings,
) -> None:
    order_id = await _web_order(client, shop, session, drain)
    await sales_service.cancel(session, order_id=order_id, reason="out of stock")
    patient = worker_settings.model_copy(
        update={"storefront_retry_base_seconds": 60.0, "storefront_retry_max_seconds": 600.0}
    )
    # the store answers 500: the event waits for its next attempt
    fake_store.fail(500)
    await drain(patient)
    [event] = await outbox_events(session)
    assert (event.status, event.attempts) == ("pending", 1)
    assert "HTTP 500" in (event.last_error or "")
    assert event.next_attempt_at > utcnow()
    # the store is slower than KOSH's timeout: another failed attempt
    fake_store.recover()
    fake_store.delay = 1.5
    await _make_due(session)
    await drain(patient)
    [event] = await outbox_events(session)
    assert (event.status, event.attempts) == ("pending", 2)
    assert "did not answer in time" in (event.last_error or "")
    # slow but in time, then back to normal: sent once
    fake_store.delay = 0.2
    fake_store.received.clear()
    await _make_due(session)
    await drain(patient)
    [event] = await outbox_events(session)
    assert (event.status, event.attempts) == ("sent", 3)
    assert fake_store.status_updates == [("727", "cancelled")]


async def test_exhausted_sync_is_failed_visible_and_retryable(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    worker_settings: Settings,
    manager_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    order_id = await _web_order(client, shop, session, drain)
    await sales_service.ship(session, order_id=order_id)
    fake_store.fail(503)
    for _ in range(worker_settings.storefront_max_attempts):
        await _make_due(session)
        await drain()
    [event] = await outbox_events(session)
    assert (event.status, event.attempts) == ("failed", worker_settings.storefront_max_attempts)
    health = await client.get("/health/detailed", headers=admin_headers)
    section = health.json()["checks"]["storefront"]
    assert (section["ok"], section["outbox_failed"]) == (False, 1)
    # a person retries once the store is back
    fake_store.recover()
    retried = await client.post(
        f"/api/v1/storefront/outbox/{event.id}/retry", headers=manager_headers
    )
    assert retried.status_code == 200, retried.text
    await drain()
    [event] = await outbox_events(session)
    assert event.status == "sent"
    assert fake_store.status_updates == [("727", "completed")]


async def test_refused_credentials_fail_without_retrying(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
) -> None:
    order_id = await _web_order(client, shop, session, drain)
    await sales_service.ship(session, order_id=order_id)
    fake_store.fail(401)
    await drain()
    [event] = await outbox_events(session)
    assert (event.status, event.attempts) == ("failed", 1)


async def test_partial_shipment_sends_a_note_only(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
) -> None:
    order_id = await _web_order(client, shop, session, drain)
    order = await sales_service.get_order(session, order_id)
    await sales_service.ship(session, order_id=order_id, quantities={order.lines[0].id: 1})
    await drain()
    assert fake_store.status_updates == []
    assert fake_store.notes == [("727", "Partly shipped by KOSH: 1 x line 1.")]


async def test_basic_auth_over_https_oauth_over_http() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        for base in ("https://shop.example.com", "http://shop.example.com"):
            await wc.update_order_status(
                http,
                wc.Credentials(base, fakestore.CONSUMER_KEY, fakestore.CONSUMER_SECRET),
                order_id="727",
                status="completed",
                note=None,
            )
    https, http_request = seen
    expected = base64.b64encode(
        f"{fakestore.CONSUMER_KEY}:{fakestore.CONSUMER_SECRET}".encode()
    ).decode()
    assert https.headers["authorization"] == f"Basic {expected}"
    assert "oauth_signature" not in str(https.url)
    assert "authorization" not in http_request.headers
    params = list(http_request.url.params.multi_items())
    assert dict(params)["oauth_signature_method"] == "HMAC-SHA1"
    assert fakestore.oauth_valid(
        "PUT", "http://shop.example.com/wp-json/wc/v3/orders/727", params, fakestore.CONSUMER_SECRET
    )
    assert http_request.read() == b'{"status":"completed"}'
