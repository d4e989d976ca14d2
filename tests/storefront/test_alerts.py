"""Storefront alerts through the alerts feature: raised while a condition holds, resolved
when it clears."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts import queries as alert_queries
from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.storefront import alerting
from kosh.storefront import service as storefront_service
from kosh.storefront.models import StagedOrder
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, staged_rows


async def _alerts(session: AsyncSession) -> dict[str, str]:
    await session.rollback()
    rows, _ = await alert_queries.list_alerts(session, limit=200)
    return {row.kind: row.state for row in rows}


async def test_review_stale_and_worker_down_alerts_come_and_go(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    settings: Settings,
) -> None:
    # given: an order in review, and another pending for an hour with no worker around
    payload = fakestore.load("order_727_processing_guest_docs_create_response.json")
    payload["line_items"][1]["sku"] = "NOPE"
    body, headers = fakestore.delivery(payload, topic="order.created")
    await fakestore.send(client, shop.code, body, headers)
    await drain()
    body, headers = fakestore.delivery(
        fakestore.load("order_211_processing_guest_prices_incl_tax.json")
    )
    await fakestore.send(client, shop.code, body, headers)
    await session.execute(
        update(StagedOrder)
        .where(StagedOrder.status == "pending")
        .values(received_at=utcnow() - timedelta(hours=1))
    )
    from kosh.core.models import WorkerHeartbeat

    await session.execute(
        update(WorkerHeartbeat).values(last_seen_at=utcnow() - timedelta(minutes=10))
    )
    await session.commit()

    # when
    found = await alerting.check(session, settings=settings)

    # then
    assert {f.kind for f in found} == {"web_order_failed", "stale_web_order", "worker_down"}
    assert await _alerts(session) == {
        "web_order_failed": "open",
        "stale_web_order": "open",
        "worker_down": "open",
    }

    # when the worker runs and the review row is cancelled, everything clears
    await drain()
    [review] = [r for r in await staged_rows(session) if r.status == "review"]
    await storefront_service.cancel_staged(session, staged_id=review.id, reason="test")
    assert await alerting.check(session, settings=settings) == []
    assert set((await _alerts(session)).values()) == {"resolved"}
