"""Storefront and sales pages, the health section and the metrics."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.sales import service as sales_service
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, staged_rows, web_orders

ORDER_727 = "order_727_processing_guest_docs_create_response.json"
HTML = {"accept": "text/html"}


async def test_dashboard_review_and_detail_pages(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    manager_headers: dict[str, str],
) -> None:
    payload = fakestore.load(ORDER_727)
    payload["line_items"][1]["sku"] = "NO-SUCH-SKU"
    body, headers = fakestore.delivery(payload, topic="order.created")
    await fakestore.send(client, shop.code, body, headers)
    await drain()
    [row] = await staged_rows(session)
    headers = {**manager_headers, **HTML}

    board = await client.get("/storefront", headers=headers)
    assert board.status_code == 200
    assert 'data-testid="review">1<' in board.text
    assert "/api/v1/storefront/woocommerce/SHOP/webhook" in board.text
    assert fakestore.CONSUMER_SECRET not in board.text

    queue = await client.get("/storefront/review", headers=headers)
    assert queue.status_code == 200
    assert f"/storefront/staged/{row.id}" in queue.text
    assert "NO-SUCH-SKU" in queue.text

    detail = await client.get(f"/storefront/staged/{row.id}", headers=headers)
    assert detail.status_code == 200
    assert 'name="sku" value="NO-SUCH-SKU"' in detail.text
    assert f'data-api="/api/v1/storefront/staged/{row.id}/retry"' in detail.text
    assert "&#34;id&#34;: 727" in detail.text  # the payload, escaped


async def test_sales_pages(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    operator_headers: dict[str, str],
) -> None:
    body, headers = fakestore.delivery(fakestore.load(ORDER_727), topic="order.created")
    await fakestore.send(client, shop.code, body, headers)
    await drain()
    [order] = await web_orders(session)
    headers = {**operator_headers, **HTML}
    listing = await client.get("/sales-orders?status=confirmed", headers=headers)
    assert listing.status_code == 200
    assert "SHOP-727" in listing.text
    detail = await client.get(f"/sales-orders/{order.id}", headers=headers)
    assert detail.status_code == 200
    assert 'data-testid="ship-all"' in detail.text
    assert "Bar3" in detail.text
    customers = await client.get("/customers?q=john", headers=headers)
    assert "john.doe@example.com" in customers.text
    await sales_service.ship(session, order_id=order.id)
    shipped = await client.get(f"/sales-orders/{order.id}", headers=headers)
    assert 'data-testid="ship-all"' not in shipped.text
    assert "Sent back to the store" in shipped.text


async def test_viewer_cannot_open_the_storefront_dashboard(
    client: httpx.AsyncClient, make_user: Any, token_for: Any
) -> None:
    viewer = await make_user("viewer")
    headers = {"authorization": f"Bearer {await token_for(viewer)}"}
    assert (await client.get("/storefront", headers=headers)).status_code == 403
    assert (await client.get("/sales-orders", headers=headers)).status_code == 200


async def test_health_section_and_metrics(
    client: httpx.AsyncClient, shop: Shop, admin_headers: dict[str, str], drain: Any
) -> None:
    body, headers = fakestore.delivery(fakestore.load(ORDER_727), topic="order.created")
    await fakestore.send(client, shop.code, body, headers)
    waiting = await client.get("/health/detailed", headers=admin_headers)
    section = waiting.json()["checks"]["storefront"]
    assert section["pending"] == 1
    assert section["oldest_pending_age_seconds"] >= 0
    assert section["worker_heartbeat_age_seconds"] is None
    await drain()
    done = await client.get("/health/detailed", headers=admin_headers)
    checks = done.json()["checks"]
    assert checks["storefront"]["pending"] == 0
    assert checks["storefront"]["last_applied_at"] is not None
    assert checks["storefront"]["worker_heartbeat_age_seconds"] is not None
    assert checks["sales"] == {"ok": True, "reservation_drift": 0, "examples": []}
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'kosh_storefront_webhooks_total{outcome="accepted"}' in metrics.text
    assert 'kosh_storefront_orders_total{outcome="applied"}' in metrics.text
    assert "kosh_storefront_queue_depth" in metrics.text
