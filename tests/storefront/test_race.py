"""Two workers racing over 1,000 staged orders on one PostgreSQL: each applied exactly once."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.models import AuditEvent
from kosh.sales import service as sales_service
from kosh.sales.models import Customer, SalesOrder
from kosh.storefront import intake
from kosh.storefront import woocommerce as wc
from kosh.storefront.models import StagedOrder, Store
from kosh.worker import Worker
from tests.storefront import fakestore
from tests.storefront.conftest import Shop
from tests.support.stock import stock_in

ORDERS = 1000


@pytest.fixture
def postgres_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED races need PostgreSQL (SQLite has one writer)")


def many_orders(count: int) -> list[tuple[wc.DeliveryKey, bytes]]:
    template = fakestore.load("order_727_processing_guest_docs_create_response.json")
    deliveries = []
    for n in range(count):
        order: dict[str, Any] = copy.deepcopy(template)
        order["id"] = order["number"] = 100_000 + n
        # half the customers are new, half share one address (concurrent upserts)
        order["billing"]["email"] = f"buyer{n}@example.com" if n % 2 else "same@example.com"
        body = fakestore.wc_json(order)
        key = wc.delivery_key(order, topic="order.created", delivery_id=None, body=body)
        assert key is not None
        deliveries.append((key, body))
    return deliveries


@pytest.mark.usefixtures("postgres_only")
@pytest.mark.slow
async def test_two_workers_apply_each_order_exactly_once(
    shop: Shop,
    sessions: async_sessionmaker[AsyncSession],
    worker_settings: Settings,
) -> None:
    # given: 1,000 pending web orders and stock for all of them
    async with sessions() as session:
        await stock_in(session, "PART-93", shop.bin_id, 2 * ORDERS)
        await stock_in(session, "Bar3", shop.bin_id, ORDERS)
        store_id = await session.scalar(select(Store.id).where(Store.code == shop.code))
        assert store_id is not None
        staged = await intake.stage_many(
            session, store_id=store_id, deliveries=many_orders(ORDERS), source="backfill"
        )
        assert staged == ORDERS
    settings = worker_settings.model_copy(update={"storefront_batch_size": 20})

    # when: two workers drain the queue at the same time
    first, second = await asyncio.gather(
        Worker(settings, sessions, worker_id="worker-a").run(once=True),
        Worker(settings, sessions, worker_id="worker-b").run(once=True),
    )

    # then: every order applied once, by one of them; both did work
    assert first.applied + second.applied == ORDERS
    assert first.applied > 0
    assert second.applied > 0
    assert first.lost + second.lost == 0
    async with sessions() as session:
        statuses = dict(
            (
                await session.execute(
                    select(StagedOrder.status, func.count()).group_by(StagedOrder.status)
                )
            ).all()
        )
        assert statuses == {"applied": ORDERS}
        orders = await session.scalar(
            select(func.count(func.distinct(SalesOrder.external_id))).where(
                SalesOrder.external_store == shop.code
            )
        )
        assert orders == ORDERS
        assert await session.scalar(select(func.count()).select_from(SalesOrder)) == ORDERS
        linked = await session.scalar(select(func.count(func.distinct(StagedOrder.sales_order_id))))
        assert linked == ORDERS
        # one customer per address, even when created concurrently
        assert await session.scalar(select(func.count()).select_from(Customer)) == ORDERS // 2 + 1
        applied_events = await session.scalar(
            select(func.count()).where(AuditEvent.action == "storefront.applied")
        )
        assert applied_events == ORDERS
        assert await sales_service.reservation_drift(session) == []
        part_ids = [shop.parts["PART-93"], shop.parts["Bar3"]]
        reserved = await sales_service.reserved(
            session, part_ids=part_ids, warehouse_id=shop.warehouse_id
        )
        assert reserved == {shop.parts["PART-93"]: 2 * ORDERS, shop.parts["Bar3"]: ORDERS}
