"""Fixtures for the storefront tests: the fake WooCommerce, a connected shop with parts and
stock for the SKUs of the real payloads, and a worker to drain the queue."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.sales.models import SalesOrder
from kosh.storefront import service as storefront_service
from kosh.storefront.models import OutboxEvent, StagedOrder
from kosh.worker import Stats, Worker
from tests.storefront import fakestore
from tests.support.stock import a_part, a_site, stock_in

STORE = "SHOP"
# SKUs of the real payloads and the list prices we give their parts.
PRICED = {
    "Bar3": "12.00",
    "PART-93": "3.00",
    "POSTER-SHIP-YOUR-IDEA": "13.50",
    "POSTER-WOO-LOGO": "13.50",
    "POSTER-PREMIUM-QUALITY": "12.00",
    "POSTER-WOO-NINJA": "13.50",
    "WOO-ALBUM-1": "9.00",
    "WOO-ALBUM-3": "9.00",
    "WOO-SINGLE-2": "2.00",
    "WOO-SINGLE-1": "3.00",
    "woo-beanie": "18.00",
}


@pytest.fixture(scope="session")
def _fake_store_server() -> Iterator[fakestore.FakeStore]:
    yield from fakestore.serve()


@pytest.fixture
def fake_store(_fake_store_server: fakestore.FakeStore) -> Iterator[fakestore.FakeStore]:
    store = _fake_store_server
    store.recover()
    store.orders.clear()
    store.received.clear()
    store.products.clear()
    store.order_meta.clear()
    store.refunds.clear()
    yield store
    store.recover()


@pytest.fixture
def worker_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "storefront_retry_base_seconds": 0.01,
            "storefront_retry_max_seconds": 0.05,
            "storefront_max_attempts": 4,
            "storefront_http_timeout": 1.0,
            "storefront_price_tolerance": 0.25,
            "storefront_stock_push_seconds": 0.0,
            # no nightly reconcile unless a test asks for one (tests/storefront/test_reconcile)
            "storefront_reconcile_hours": 0.0,
        }
    )


@dataclass(frozen=True)
class Shop:
    code: str
    warehouse_id: int
    bin_id: int
    parts: dict[str, int]  # part number -> id


@pytest.fixture
async def shop(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    fake_store: fakestore.FakeStore,
) -> Shop:
    """Store SHOP (webhook secret, REST key) on the fake store's URL; parts for the SKUs
    of the payloads with 100 of each in storage; the SKU-less line of order 727
    (product 93) mapped to part PART-93."""
    async with sessions() as session:
        site = await a_site(session, bins=1)
        parts: dict[str, int] = {}
        for number, price in PRICED.items():
            # a real cost well below the list price: the web check uses the list price
            part = await a_part(
                session, number, list_price=Decimal(price), unit_cost=Decimal(price) / 4
            )
            parts[number] = part.id
            await stock_in(session, number, site.bin_ids[0], 100)
        await storefront_service.create_store(
            session,
            settings=settings,
            code=STORE,
            kind="woocommerce",
            base_url=fake_store.url,
            webhook_secret=fakestore.WEBHOOK_SECRET,
            warehouse_id=site.warehouse_id,
            consumer_key=fakestore.CONSUMER_KEY,
            consumer_secret=fakestore.CONSUMER_SECRET,
        )
        await storefront_service.map_sku(
            session, store_code=STORE, sku="product:93", part_number="PART-93"
        )
    return Shop(STORE, site.warehouse_id, site.bin_ids[0], parts)


@pytest.fixture
def drain(sessions: async_sessionmaker[AsyncSession], worker_settings: Settings) -> Any:
    """`await drain()` runs a worker until nothing is due (repeats while retries are
    scheduled within `patience` seconds)."""

    async def run(settings: Settings | None = None, *, worker_id: str = "test-worker") -> Stats:
        worker = Worker(settings or worker_settings, sessions, worker_id=worker_id)
        return await worker.run(once=True)

    return run


async def _snapshot(session: AsyncSession, query: Any) -> list[Any]:
    """Rows read in a fresh transaction (SQLite keeps one snapshot per read transaction),
    detached, so later reads and rollbacks do not expire them."""
    await session.rollback()
    session.expunge_all()
    rows = list(await session.scalars(query))
    session.expunge_all()
    await session.rollback()
    return rows


async def staged_rows(session: AsyncSession, external_id: str | None = None) -> list[StagedOrder]:
    query = select(StagedOrder).order_by(StagedOrder.id)
    if external_id is not None:
        query = query.where(StagedOrder.external_id == external_id)
    return await _snapshot(session, query)


async def web_orders(session: AsyncSession) -> list[SalesOrder]:
    return await _snapshot(
        session,
        select(SalesOrder).where(SalesOrder.external_store.is_not(None)).order_by(SalesOrder.id),
    )


async def outbox_events(session: AsyncSession) -> list[OutboxEvent]:
    return await _snapshot(session, select(OutboxEvent).order_by(OutboxEvent.id))


async def count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)
