"""The storefront's store use cases called directly: warehouses in priority order, stock
rules, reconcile requests, and a SKU mapping that pushes the part's level."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.core.errors import ConflictError, NotFoundError, ValidationError
from kosh.storefront import service as storefront_service
from kosh.storefront.models import OutboxEvent
from tests.storefront import fakestore
from tests.storefront.conftest import Shop
from tests.support.stock import a_warehouse


async def _kinds(session: AsyncSession) -> list[tuple[str, object]]:
    await session.rollback()
    rows = await session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
    return [(e.kind, e.payload.get("reason") or e.payload.get("part_ids")) for e in rows]


async def test_warehouses_rules_and_reconcile_requests(
    session: AsyncSession, shop: Shop, settings: Settings
) -> None:
    second = await a_warehouse(session)
    second_id = second.id
    await session.commit()
    # a store drawing on two warehouses, pushing stock: its first full push is queued
    store = await storefront_service.create_store(
        session,
        settings=settings,
        code="TWO",
        kind="woocommerce",
        base_url="https://two.example.com",
        webhook_secret=fakestore.WEBHOOK_SECRET,
        warehouse_ids=[second_id, shop.warehouse_id],
        stock_push=True,
    )
    assert (store.warehouse_id, store.warehouse_ids) == (second_id, [second_id, shop.warehouse_id])
    assert ("reconcile", "initial") in await _kinds(session)
    with pytest.raises(ValidationError):
        await storefront_service.create_store(
            session,
            settings=settings,
            code="BAD",
            kind="woocommerce",
            base_url="https://bad.example.com",
            webhook_secret=fakestore.WEBHOOK_SECRET,
            warehouse_id=shop.warehouse_id,
            warehouse_ids=[second_id],
        )
    # reorder the warehouses
    await session.rollback()
    store = await storefront_service.get_store_by_code_or_raise(session, "TWO")
    store = await storefront_service.update_store(
        session,
        settings=settings,
        code="TWO",
        version=store.version,
        warehouse_ids=[shop.warehouse_id, second_id],
    )
    assert (store.warehouse_id, store.warehouse_ids) == (
        shop.warehouse_id,
        [shop.warehouse_id, second_id],
    )
    # a rule for a part queues its push; an exclusion does not
    await storefront_service.set_stock_rule(session, store_code="TWO", part_number="Bar3", buffer=3)
    rule = await storefront_service.set_stock_rule(
        session, store_code="TWO", part_number="Bar3", buffer=None, excluded=True
    )
    assert (rule.buffer, rule.excluded) == (None, True)
    rules = await storefront_service.list_stock_rules(session, store_code="TWO")
    assert [(r.part_id, r.excluded) for r in rules] == [(shop.parts["Bar3"], True)]
    assert ("stock", [shop.parts["Bar3"]]) in await _kinds(session)
    with pytest.raises(NotFoundError):
        await storefront_service.set_stock_rule(session, store_code="TWO", part_number="NOPE")
    # a reconcile is asked for once while one waits; not for a store that does not push
    await storefront_service.request_reconcile(session, code="TWO")
    assert [k for k in await _kinds(session) if k[0] == "reconcile"] == [("reconcile", "initial")]
    with pytest.raises(ConflictError) as off:
        await storefront_service.request_reconcile(session, code=shop.code)
    assert off.value.code == "stock_push_off"


async def test_mapping_a_sku_queues_the_part_for_a_pushing_store(
    session: AsyncSession, shop: Shop, settings: Settings
) -> None:
    store = await storefront_service.get_store_by_code_or_raise(session, shop.code)
    await storefront_service.update_store(
        session, settings=settings, code=shop.code, version=store.version, stock_push=True
    )
    await storefront_service.map_sku(
        session, store_code=shop.code, sku="SHOP-BAR", part_number="Bar3"
    )
    assert ("stock", [shop.parts["Bar3"]]) in await _kinds(session)
