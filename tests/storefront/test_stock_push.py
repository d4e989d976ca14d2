"""Stock levels pushed to the shop: movements and reservations in KOSH reach the fake
WooCommerce as `stock_quantity`, coalesced into few batches, and the shop ends with KOSH's
availability (on hand in storage - reserved) for every product it has."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.sales import service as sales_service
from kosh.sales.service import LineRequest
from kosh.stock import service as stock_service
from kosh.storefront import service as storefront_service
from kosh.storefront.models import OutboxEvent
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, outbox_events
from tests.support.stock import stock_in

SIMPLE = ("Bar3", "PART-93", "WOO-ALBUM-1", "WOO-ALBUM-3", "WOO-SINGLE-1")
VARIATIONS = ("POSTER-WOO-LOGO", "POSTER-WOO-NINJA")  # variations of product 900
NOT_IN_SHOP = "WOO-SINGLE-2"


async def _push_on(session: AsyncSession, shop: Shop, settings: Settings) -> None:
    store = await storefront_service.get_store_by_code_or_raise(session, shop.code)
    await storefront_service.update_store(
        session, settings=settings, code=shop.code, version=store.version, stock_push=True
    )
    # Turning the push on queues the first full push (a reconcile, tests/storefront/
    # test_reconcile.py); set aside here, so the batches counted below are the pushes'.
    await session.execute(delete(OutboxEvent).where(OutboxEvent.kind == "reconcile"))
    await session.commit()


def _catalogue(fake_store: fakestore.FakeStore) -> None:
    for sku in SIMPLE:
        fake_store.add_product(sku, stock=5)
    for sku in VARIATIONS:
        fake_store.add_product(sku, parent_id=900)


async def _available(session: AsyncSession, shop: Shop, numbers: tuple[str, ...]) -> dict[str, int]:
    await session.rollback()
    ids = {shop.parts[n]: n for n in numbers}
    levels = await sales_service.available(
        session, part_ids=list(ids), warehouse_id=shop.warehouse_id
    )
    return {ids[part_id]: max(0, level) for part_id, level in levels.items()}


def _shop_levels(fake_store: fakestore.FakeStore, numbers: tuple[str, ...]) -> dict[str, Any]:
    return {n: fake_store.stock_of(n) for n in numbers}


async def test_many_movements_give_few_batches_and_the_shop_matches_kosh(
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    settings: Settings,
) -> None:
    # given a shop with five products, two variations, and a part it does not sell
    _catalogue(fake_store)
    await _push_on(session, shop, settings)
    # when many movements touch several parts: receipts, picks, a count, a consumption
    for round_ in range(4):
        for number in (*SIMPLE, *VARIATIONS, NOT_IN_SHOP):
            await stock_in(session, number, shop.bin_id, 3 + round_)
        await stock_service.pick(
            session, part_number="Bar3", qty=7, warehouse_id=shop.warehouse_id, reference="WO-1"
        )
    lot = await stock_in(session, "WOO-ALBUM-1", shop.bin_id, 10)
    await stock_service.adjust_count(
        session, pcn=lot.pcn, location_id=shop.bin_id, counted_qty=4, reason="cycle count"
    )
    # then they all wait in one stock push
    [event] = [e for e in await outbox_events(session) if e.kind == "stock"]
    assert (event.status, event.sales_order_id, event.external_id) == ("pending", None, "stock")
    assert len(event.payload["part_ids"]) == 8
    # when the worker runs
    stats = await drain()
    # then one batch of products and one of variations (plus the SKU lookup) was sent
    assert stats.stock_pushed == 1
    paths = [r.path for r in fake_store.batches]
    assert paths == [
        "/wp-json/wc/v3/products/batch",
        "/wp-json/wc/v3/products/900/variations/batch",
    ]
    assert all(u["manage_stock"] is True for r in fake_store.batches for u in r.body["update"])
    # and the shop shows exactly KOSH's availability for every product it has
    numbers = (*SIMPLE, *VARIATIONS)
    expected = await _available(session, shop, numbers)
    assert expected["Bar3"] == 100 + 3 + 4 + 5 + 6 - 28
    assert expected["WOO-ALBUM-1"] == 100 + 18 + 4  # the lot of 10 counted at 4
    assert _shop_levels(fake_store, numbers) == expected
    [event] = [e for e in await outbox_events(session) if e.kind == "stock"]
    assert (event.status, event.attempts) == ("sent", 1)


async def test_a_reservation_lowers_the_pushed_level_and_a_cancellation_raises_it(
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    settings: Settings,
) -> None:
    _catalogue(fake_store)
    await _push_on(session, shop, settings)
    customer = await sales_service.create_customer(session, name="Ada")
    # when 30 of Bar3 are reserved by a confirmed order
    order = await sales_service.create_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[LineRequest("Bar3", 30)],
        confirm=True,
    )
    await drain()
    # then the shop sells 70, not 100
    assert fake_store.stock_of("Bar3") == 70
    assert fake_store.stock_of("WOO-ALBUM-1") == 5  # untouched: nothing changed for it
    # when the order is cancelled, the reservation is freed and the shop shows 100 again
    await sales_service.cancel(session, order_id=order.id, reason="changed mind")
    await drain()
    assert fake_store.stock_of("Bar3") == 100


async def test_the_buffer_is_kept_back_and_levels_never_go_negative(
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    settings: Settings,
    worker_settings: Settings,
) -> None:
    _catalogue(fake_store)
    await _push_on(session, shop, settings)
    await stock_in(session, "Bar3", shop.bin_id, 1)  # 101
    await stock_in(session, "PART-93", shop.bin_id, 1)  # 101
    await drain(worker_settings.model_copy(update={"storefront_stock_buffer": 101}))
    assert fake_store.stock_of("Bar3") == 0
    await stock_in(session, "Bar3", shop.bin_id, 1)  # 102
    await drain(worker_settings.model_copy(update={"storefront_stock_buffer": 100}))
    assert fake_store.stock_of("Bar3") == 2


async def test_shop_down_then_back_converges_to_the_latest_level(
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    settings: Settings,
    worker_settings: Settings,
) -> None:
    _catalogue(fake_store)
    await _push_on(session, shop, settings)
    patient = worker_settings.model_copy(
        update={"storefront_retry_base_seconds": 60.0, "storefront_retry_max_seconds": 600.0}
    )
    await stock_in(session, "Bar3", shop.bin_id, 5)
    # the shop answers 500, then 429: the push waits with backoff
    fake_store.fail(500)
    await drain(patient)
    [event] = await outbox_events(session)
    assert (event.status, event.attempts) == ("pending", 1)
    assert "HTTP 500" in (event.last_error or "")
    assert event.next_attempt_at > utcnow()
    # meanwhile more stock moves: it joins the waiting push (nothing is sent twice)
    await stock_in(session, "Bar3", shop.bin_id, 5)
    await stock_in(session, "WOO-SINGLE-1", shop.bin_id, 2)
    [event] = await outbox_events(session)
    assert len(event.payload["part_ids"]) == 2
    fake_store.fail(429)
    await _make_due(session)
    await drain(patient)
    [event] = await outbox_events(session)
    assert (event.status, event.attempts) == ("pending", 2)
    assert "HTTP 429" in (event.last_error or "")
    assert fake_store.stock_of("Bar3") == 5  # the shop still has its old value
    # when the shop is back, the push sends what is true now
    fake_store.recover()
    await _make_due(session)
    await drain(patient)
    assert fake_store.stock_of("Bar3") == 110
    assert fake_store.stock_of("WOO-SINGLE-1") == 102
    [event] = await outbox_events(session)
    assert (event.status, event.attempts) == ("sent", 3)


async def test_a_push_taken_by_the_worker_is_not_extended_and_later_changes_follow_it(
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    settings: Settings,
) -> None:
    """A change after the worker took a push opens a new one, sent after the first, so the
    shop ends with the later level."""
    _catalogue(fake_store)
    await _push_on(session, shop, settings)
    await stock_in(session, "Bar3", shop.bin_id, 1)
    await session.execute(update(OutboxEvent).values(claimed_by="elsewhere", claimed_at=utcnow()))
    await session.commit()
    await stock_in(session, "Bar3", shop.bin_id, 1)
    first, second = await outbox_events(session)
    assert (first.payload, second.payload) == (
        {"part_ids": [shop.parts["Bar3"]]},
        {"part_ids": [shop.parts["Bar3"]]},
    )
    # the second waits for the first (the outbox's order per store)
    stats = await drain()
    assert stats.stock_pushed == 0
    await session.execute(
        update(OutboxEvent).where(OutboxEvent.id == first.id).values(claimed_at=None)
    )
    await session.commit()
    # a different worker id: the lease of "elsewhere" ran out
    stats = await drain()
    assert stats.stock_pushed == 2
    assert fake_store.stock_of("Bar3") == 102


async def test_stores_that_do_not_push_queue_nothing(
    shop: Shop, session: AsyncSession, fake_store: fakestore.FakeStore
) -> None:
    await stock_in(session, "Bar3", shop.bin_id, 1)
    assert await outbox_events(session) == []


async def test_changes_wait_the_interval_then_go_out_together(
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    settings: Settings,
    worker_settings: Settings,
) -> None:
    _catalogue(fake_store)
    await _push_on(session, shop, settings)
    await stock_in(session, "Bar3", shop.bin_id, 1)
    waiting = worker_settings.model_copy(update={"storefront_stock_push_seconds": 60.0})
    # within the interval the push is not sent
    assert (await drain(waiting)).stock_pushed == 0
    assert fake_store.batches == []
    # once it has gathered long enough, it is
    await session.execute(update(OutboxEvent).values(created_at=utcnow() - timedelta(seconds=61)))
    await session.commit()
    assert (await drain(waiting)).stock_pushed == 1
    assert fake_store.stock_of("Bar3") == 101


async def test_stock_sync_shows_what_waits_and_the_last_push(
    client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    settings: Settings,
) -> None:
    _catalogue(fake_store)
    url = f"/api/v1/storefront/stores/{shop.code}/stock-sync"
    off = await client.get(url, headers=operator_headers)
    assert off.status_code == 200, off.text
    assert off.json()["stock_push"] is False
    await _push_on(session, shop, settings)
    await stock_in(session, "Bar3", shop.bin_id, 1)
    await stock_in(session, "WOO-SINGLE-1", shop.bin_id, 1)
    waiting = (await client.get(url, headers=operator_headers)).json()
    assert waiting["stock_push"] is True
    assert (waiting["pending_pushes"], waiting["pending_parts"]) == (1, 2)
    assert waiting["last_sent_at"] is None
    await drain()
    done = (await client.get(url, headers=operator_headers)).json()
    assert (done["pending_pushes"], done["pending_parts"], done["failed_pushes"]) == (0, 0, 0)
    assert done["last_sent_at"] is not None
    missing = await client.get(
        "/api/v1/storefront/stores/NOPE/stock-sync", headers=operator_headers
    )
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_a_refused_push_fails_for_good_and_a_retry_sends_todays_level(
    client: httpx.AsyncClient,
    manager_headers: dict[str, str],
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    settings: Settings,
) -> None:
    _catalogue(fake_store)
    await _push_on(session, shop, settings)
    await stock_in(session, "Bar3", shop.bin_id, 1)
    # the shop answers 404 (wrong address): no use retrying, the push fails at once
    fake_store.fail(404)
    await drain()
    [event] = await outbox_events(session)
    assert (event.status, event.attempts) == ("failed", 1)
    url = f"/api/v1/storefront/stores/{shop.code}/stock-sync"
    assert (await client.get(url, headers=manager_headers)).json()["failed_pushes"] == 1
    # a failed push is not extended: the next change opens a new one
    await stock_in(session, "Bar3", shop.bin_id, 1)
    events = await outbox_events(session)
    assert [e.status for e in events] == ["failed", "pending"]
    # when the shop is fixed and a person retries the failed push, it sends today's level
    fake_store.recover()
    retried = await client.post(
        f"/api/v1/storefront/outbox/{event.id}/retry", headers=manager_headers
    )
    assert retried.status_code == 200, retried.text
    assert (await drain()).stock_pushed == 2
    assert fake_store.stock_of("Bar3") == 102


@pytest.mark.postgres
async def test_concurrent_movements_never_lose_a_part_from_the_open_push(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    shop: Shop,
    session: AsyncSession,
    settings: Settings,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite has one writer)")
    await _push_on(session, shop, settings)
    numbers = list(shop.parts)

    async def receive(number: str) -> None:
        async with sessions() as own:
            await stock_in(own, number, shop.bin_id, 1)

    await asyncio.gather(*(receive(n) for n in numbers))
    events = await outbox_events(session)
    queued = {p for e in events if e.status == "pending" for p in e.payload["part_ids"]}
    assert queued == set(shop.parts.values())


async def _make_due(session: AsyncSession) -> None:
    await session.execute(update(OutboxEvent).values(next_attempt_at=utcnow()))
    await session.commit()
