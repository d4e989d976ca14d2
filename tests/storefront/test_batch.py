"""The worker's fast path (kosh.storefront.batch): the new, paid orders of a claimed batch are
applied together; what the batch does not take goes one by one with its reasons; a fault
applies none of the batch."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.models import AuditEvent
from kosh.sales import order_batch
from kosh.sales import orders as order_ops
from kosh.sales.models import Customer, SalesOrder
from kosh.sales.order_lines import NewLine
from kosh.storefront import batch, intake, processing
from kosh.storefront import woocommerce as wc
from kosh.storefront.metrics import BATCHES
from kosh.storefront.models import StagedOrder, Store
from tests.storefront import fakestore
from tests.storefront.conftest import Shop
from tests.support.sales import reserved_total

WORKER = "batch-worker"


def _order(number: int, *, email: str, bar3: int = 1, sku: str = "Bar3") -> dict[str, Any]:
    order: dict[str, Any] = copy.deepcopy(
        fakestore.load("order_727_processing_guest_docs_create_response.json")
    )
    order["id"] = order["number"] = number
    order["billing"]["email"] = email
    line = order["line_items"][1]
    line["sku"], line["quantity"] = sku, bar3
    line["subtotal"] = line["total"] = f"{12 * bar3}.00"
    order["total"] = f"{Decimal(order['total']) + 12 * (bar3 - 1):.2f}"
    return order


async def _stage(sessions: async_sessionmaker[AsyncSession], shop: Shop, *orders: Any) -> None:
    deliveries = []
    for order in orders:
        body = fakestore.wc_json(order)
        key = wc.delivery_key(order, topic="order.created", delivery_id=None, body=body)
        assert key is not None
        deliveries.append((key, body))
    async with sessions() as session:
        store_id = await session.scalar(select(Store.id).where(Store.code == shop.code))
        assert store_id is not None
        await intake.stage_many(
            session, store_id=store_id, deliveries=deliveries, source="backfill"
        )


async def _claim(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as session:
        return await processing.claim(session, worker_id=WORKER, limit=100, lease_seconds=60)


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, StagedOrder]:
    async with sessions() as session:
        rows = await session.scalars(select(StagedOrder).order_by(StagedOrder.id))
        return {row.external_id or "": row for row in rows}


async def _count(sessions: async_sessionmaker[AsyncSession], query: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(query) or 0)


async def test_new_paid_orders_go_together_and_the_rest_one_by_one_with_reasons(
    shop: Shop, sessions: async_sessionmaker[AsyncSession], worker_settings: Settings
) -> None:
    # given: two new paid orders (one buyer twice), one short of stock, one unknown SKU
    await _stage(
        sessions,
        shop,
        _order(501, email="twice@example.com"),
        _order(502, email="twice@example.com"),
        _order(503, email="short@example.com", bar3=500),
        _order(504, email="odd@example.com", sku="NO-SUCH-PART"),
    )
    settings = worker_settings.model_copy(update={"storefront_backorders": False})
    ids = await _claim(sessions)
    applied = BATCHES.labels("applied")._value.get()

    # when: the fast path works the claimed batch
    async with sessions() as session:
        done, rest = await batch.apply_together(
            session, staged_ids=ids, worker_id=WORKER, settings=settings
        )

    # then: the two that fit are applied, in one batch, the other two are left
    assert BATCHES.labels("applied")._value.get() == applied + 1
    rows = await _rows(sessions)
    assert sorted(done) == [rows["501"].id, rows["502"].id]
    assert rest == [rows["503"].id, rows["504"].id]
    assert {k: r.status for k, r in rows.items()} == {
        "501": "applied",
        "502": "applied",
        "503": "pending",
        "504": "pending",
    }
    async with sessions() as session:
        orders = list(await session.scalars(select(SalesOrder).order_by(SalesOrder.id)))
        assert [(o.external_id, o.status) for o in orders] == [
            ("501", "confirmed"),
            ("502", "confirmed"),
        ]
        assert orders[0].customer_id == orders[1].customer_id
        assert [rows["501"].sales_order_id, rows["502"].sales_order_id] == [o.id for o in orders]
        assert await reserved_total(session, shop.parts["Bar3"], shop.warehouse_id) == 2
        assert await reserved_total(session, shop.parts["PART-93"], shop.warehouse_id) == 4
        actions = dict(
            (
                await session.execute(
                    select(AuditEvent.action, func.count()).group_by(AuditEvent.action)
                )
            ).all()
        )
    # the same events as one by one: each order created then confirmed, its row applied,
    # the one new customer once
    assert {
        a: n
        for a, n in actions.items()
        if a.startswith(("sales_order.", "storefront.applied", "customer."))
    } == {
        "sales_order.create": 2,
        "sales_order.confirm": 2,
        "storefront.applied": 2,
        "customer.create": 1,
    }

    # and when: one by one takes the rest
    async with sessions() as session:
        for staged_id in rest:
            await processing.process(
                session, staged_id=staged_id, worker_id=WORKER, settings=settings
            )

    # then: both in review, each with its reasons
    rows = await _rows(sessions)
    assert (rows["503"].status, rows["503"].reasons[0]["code"]) == ("review", "insufficient_stock")
    assert (rows["504"].status, [r["code"] for r in rows["504"].reasons]) == (
        "review",
        ["unknown_sku"],
    )
    assert await _count(sessions, select(func.count()).select_from(SalesOrder)) == 2


async def test_a_known_order_or_a_second_version_is_left_to_one_by_one(
    shop: Shop, sessions: async_sessionmaker[AsyncSession], worker_settings: Settings, drain: Any
) -> None:
    # given: order 601 applied before; 602 staged twice (two versions)
    await _stage(sessions, shop, _order(601, email="a@example.com"))
    await drain()
    first = _order(602, email="b@example.com")
    newer = copy.deepcopy(first)
    newer["date_modified_gmt"] = "2031-01-01T00:00:00"
    again = _order(601, email="a@example.com")
    again["date_modified_gmt"] = "2031-01-01T00:00:00"
    await _stage(sessions, shop, first, newer, again)
    ids = await _claim(sessions)

    # when
    async with sessions() as session:
        done, rest = await batch.apply_together(
            session, staged_ids=ids, worker_id=WORKER, settings=worker_settings
        )

    # then: nothing for the batch; one by one decides (newest wins, the update applies)
    assert (done, rest) == ({}, ids)
    async with sessions() as session:
        outcomes = [
            (
                await processing.process(
                    session, staged_id=staged_id, worker_id=WORKER, settings=worker_settings
                )
            ).outcome
            for staged_id in rest
        ]
    assert outcomes == ["ignored", "applied", "applied"]
    assert await _count(sessions, select(func.count()).select_from(SalesOrder)) == 2


async def test_a_fault_in_the_batch_applies_none_of_it(
    shop: Shop,
    sessions: async_sessionmaker[AsyncSession],
    worker_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: two paid orders; the batch fails after writing its orders and lines
    await _stage(
        sessions, shop, _order(701, email="x@example.com"), _order(702, email="y@example.com")
    )
    ids = await _claim(sessions)
    real = order_batch._insert

    async def insert_then_fail(*args: Any, **kwargs: Any) -> None:
        await real(*args, **kwargs)
        raise ConnectionError("the server went away")

    monkeypatch.setattr(order_batch, "_insert", insert_then_fail)
    rolled_back = BATCHES.labels("rolled_back")._value.get()

    # when
    async with sessions() as session:
        done, rest = await batch.apply_together(
            session, staged_ids=ids, worker_id=WORKER, settings=worker_settings
        )

    # then: nothing of it stayed; the rows are still this worker's, for one by one
    assert (done, rest) == ({}, ids)
    assert BATCHES.labels("rolled_back")._value.get() == rolled_back + 1
    rows = await _rows(sessions)
    assert [(r.status, r.claimed_by) for r in rows.values()] == [("pending", WORKER)] * 2
    assert await _count(sessions, select(func.count()).select_from(SalesOrder)) == 0
    assert await _count(sessions, select(func.count()).select_from(Customer)) == 0
    assert (
        await _count(
            sessions,
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action.like("sales_order.%")),
        )
        == 0
    )
    async with sessions() as session:
        assert await reserved_total(session, shop.parts["Bar3"], shop.warehouse_id) == 0

    # and when: one by one takes them (the fault is only in the batch)
    async with sessions() as session:
        for staged_id in rest:
            result = await processing.process(
                session, staged_id=staged_id, worker_id=WORKER, settings=worker_settings
            )
            assert result.outcome == "applied"
    async with sessions() as session:
        assert await reserved_total(session, shop.parts["Bar3"], shop.warehouse_id) == 2


async def test_rows_no_longer_this_workers_are_not_touched(
    shop: Shop, sessions: async_sessionmaker[AsyncSession], worker_settings: Settings
) -> None:
    # given: a row claimed by another worker
    await _stage(sessions, shop, _order(801, email="z@example.com"))
    ids = await _claim(sessions)

    # when: a worker that does not hold the lease runs the batch
    async with sessions() as session:
        done, rest = await batch.apply_together(
            session, staged_ids=ids, worker_id="someone-else", settings=worker_settings
        )

    # then
    assert (done, rest) == ({}, ids)
    assert (await _rows(sessions))["801"].status == "pending"
    assert await _count(sessions, select(func.count()).select_from(SalesOrder)) == 0


async def test_stock_that_moved_before_the_locks_refuses_the_whole_batch(
    shop: Shop, session: AsyncSession
) -> None:
    # given: two drafts that need more Bar3 together than there is (100)
    customer = Customer(name="C", email="c@example.com", email_key="c@example.com", notes="")
    session.add(customer)
    await session.flush()
    drafts = [
        order_ops.new_order(
            customer_id=customer.id,
            warehouse_id=shop.warehouse_id,
            lines=[NewLine(part_id=shop.parts["Bar3"], qty=60, unit_price=12)],  # type: ignore[arg-type]
            number=f"B-{n}",
            currency=None,
            notes="",
            backorder=False,
            external=None,
        )
        for n in (1, 2)
    ]

    # when / then: the batch refuses (the caller rolls it back)
    with pytest.raises(order_batch.BatchRefusedError):
        await order_batch.add_confirmed(session, warehouse_id=shop.warehouse_id, orders=drafts)
    assert await order_batch.fitting(session, warehouse_id=shop.warehouse_id, needs=[]) == []
