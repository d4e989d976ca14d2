"""Stock reconcile: turning the push on sends every product the shop has (the first full
push); a product changed by hand in the shop is found and fixed, reported in stock-sync;
variations count; the nightly schedule; a shop that fails is retried."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.sales import service as sales_service
from kosh.storefront import reconcile
from kosh.storefront import service as storefront_service
from kosh.storefront.models import OutboxEvent
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, outbox_events

SIMPLE = ("Bar3", "WOO-ALBUM-1", "WOO-SINGLE-1")
VARIATIONS = ("POSTER-WOO-LOGO", "POSTER-WOO-NINJA")


def _catalogue(fake_store: fakestore.FakeStore) -> None:
    for sku in SIMPLE:
        fake_store.add_product(sku, stock=5)
    for sku in VARIATIONS:
        fake_store.add_product(sku, parent_id=900)
    fake_store.add_product("NOT-A-PART", stock=7)  # a product KOSH knows nothing of


async def _push_on(
    client: httpx.AsyncClient, shop: Shop, admin_headers: dict[str, str]
) -> dict[str, Any]:
    [store] = (await client.get("/api/v1/storefront/stores", headers=admin_headers)).json()
    changed = await client.patch(
        f"/api/v1/storefront/stores/{shop.code}",
        json={"version": store["version"], "stock_push": True},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    return changed.json()


async def _levels(session: AsyncSession, shop: Shop, numbers: tuple[str, ...]) -> dict[str, int]:
    await session.rollback()
    ids = {shop.parts[n]: n for n in numbers}
    found = await sales_service.available(
        session, part_ids=list(ids), warehouse_id=shop.warehouse_id
    )
    return {ids[p]: level for p, level in found.items()}


async def test_turning_the_push_on_sends_every_product_and_reports(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    admin_headers: dict[str, str],
) -> None:
    # given a shop selling three products and two variations at 5 (or unmanaged)
    _catalogue(fake_store)
    # when the store turns the stock push on
    await _push_on(client, shop, admin_headers)
    sync = await client.get(
        f"/api/v1/storefront/stores/{shop.code}/stock-sync", headers=admin_headers
    )
    assert sync.json()["reconcile_pending"] is True
    await drain()
    # then every product and variation the shop has shows KOSH's level
    numbers = (*SIMPLE, *VARIATIONS)
    expected = await _levels(session, shop, numbers)
    assert {n: fake_store.stock_of(n) for n in numbers} == expected
    assert fake_store.stock_of("NOT-A-PART") == 7  # not KOSH's: left alone
    # and stock-sync reports what it found
    sync = await client.get(
        f"/api/v1/storefront/stores/{shop.code}/stock-sync", headers=admin_headers
    )
    body = sync.json()
    assert body["reconcile_pending"] is False
    report = body["last_reconcile"]
    assert (report["reason"], report["checked"], report["drift_found"], report["fixed"]) == (
        "initial",
        5,
        5,
        5,
    )
    assert {d["sku"] for d in report["drift"]} == set(numbers)
    # one batch of products, one of variations
    assert sorted(r.path for r in fake_store.batches) == [
        "/wp-json/wc/v3/products/900/variations/batch",
        "/wp-json/wc/v3/products/batch",
    ]


async def test_a_product_changed_by_hand_is_fixed_on_request(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    admin_headers: dict[str, str],
    manager_headers: dict[str, str],
) -> None:
    _catalogue(fake_store)
    await _push_on(client, shop, admin_headers)
    await drain()
    fake_store.received.clear()
    # when someone sets a variation's stock by hand in the shop, and a reconcile runs
    fake_store.set_stock_by_hand("POSTER-WOO-NINJA", 999)
    asked = await client.post(
        f"/api/v1/storefront/stores/{shop.code}/reconcile", headers=manager_headers
    )
    assert asked.status_code == 202, asked.text
    assert asked.json()["reconcile_pending"] is True
    await drain()
    # then exactly that one is fixed, and reported as drift
    expected = await _levels(session, shop, ("POSTER-WOO-NINJA",))
    assert fake_store.stock_of("POSTER-WOO-NINJA") == expected["POSTER-WOO-NINJA"]
    [batch] = fake_store.batches
    assert batch.path == "/wp-json/wc/v3/products/900/variations/batch"
    assert len(batch.body["update"]) == 1
    report = (
        await client.get(f"/api/v1/storefront/stores/{shop.code}/stock-sync", headers=admin_headers)
    ).json()["last_reconcile"]
    assert report["reason"] == "manual"
    assert report["drift"] == [
        {"sku": "POSTER-WOO-NINJA", "shop": 999, "kosh": expected["POSTER-WOO-NINJA"]}
    ]


async def test_reconcile_refused_without_stock_push_and_for_unknown_stores(
    client: httpx.AsyncClient, shop: Shop, manager_headers: dict[str, str]
) -> None:
    off = await client.post(
        f"/api/v1/storefront/stores/{shop.code}/reconcile", headers=manager_headers
    )
    assert off.status_code == 409
    assert off.json()["code"] == "stock_push_off"
    missing = await client.post("/api/v1/storefront/stores/NOPE/reconcile", headers=manager_headers)
    assert missing.status_code == 404


async def test_a_failing_shop_is_retried_then_the_reconcile_completes(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    admin_headers: dict[str, str],
    worker_settings: Settings,
) -> None:
    _catalogue(fake_store)
    await _push_on(client, shop, admin_headers)
    patient = worker_settings.model_copy(
        update={"storefront_retry_base_seconds": 60.0, "storefront_retry_max_seconds": 600.0}
    )
    fake_store.fail(500)
    await drain(patient)
    [event] = [e for e in await outbox_events(session) if e.kind == "reconcile"]
    assert (event.status, event.attempts) == ("pending", 1)
    assert "HTTP 500" in (event.last_error or "")
    fake_store.recover()
    await session.execute(update(OutboxEvent).values(next_attempt_at=utcnow()))
    await session.commit()
    await drain(patient)
    [event] = [e for e in await outbox_events(session) if e.kind == "reconcile"]
    assert event.status == "sent"
    assert fake_store.stock_of("Bar3") == (await _levels(session, shop, ("Bar3",)))["Bar3"]


async def test_nightly_schedule(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    fake_store: fakestore.FakeStore,
    admin_headers: dict[str, str],
    settings: Settings,
) -> None:
    daily = settings.model_copy(update={"storefront_reconcile_hours": 24.0})
    never = settings.model_copy(update={"storefront_reconcile_hours": 0.0})
    # a store without stock push gets none
    async with sessions() as fresh:
        assert await reconcile.schedule_due(fresh, settings=daily) == 0
    await _push_on(client, shop, admin_headers)  # queues the initial one
    async with sessions() as fresh:
        assert await reconcile.schedule_due(fresh, settings=daily) == 0  # one is recent
    # a day later (the last one done long ago) the nightly one is queued, once
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.kind == "reconcile")
        .values(status="sent", created_at=utcnow() - timedelta(hours=25))
    )
    await session.commit()
    async with sessions() as fresh:
        assert await reconcile.schedule_due(fresh, settings=never) == 0
        assert await reconcile.schedule_due(fresh, settings=daily) == 1
        assert await reconcile.schedule_due(fresh, settings=daily) == 0
    kinds = [(e.kind, e.payload.get("reason"), e.status) for e in await outbox_events(session)]
    assert ("reconcile", "nightly", "pending") in kinds
    # turning the push on when it is on queues nothing more
    store = await storefront_service.get_store_by_code_or_raise(session, shop.code)
    await storefront_service.update_store(
        session, settings=settings, code=shop.code, version=store.version, stock_push=True
    )
    assert len([e for e in await outbox_events(session) if e.kind == "reconcile"]) == 2


async def test_a_store_connected_with_stock_push_gets_its_first_full_push(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    fake_store: fakestore.FakeStore,
    admin_headers: dict[str, str],
) -> None:
    made = await client.post(
        "/api/v1/storefront/stores",
        json={
            "code": "SHOP2",
            "base_url": fake_store.url,
            "webhook_secret": "s3cret-s3cret",
            "warehouse_id": shop.warehouse_id,
            "stock_push": True,
        },
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    sync = await client.get("/api/v1/storefront/stores/SHOP2/stock-sync", headers=admin_headers)
    assert sync.json()["reconcile_pending"] is True
    assert sync.json()["last_reconcile"] is None
