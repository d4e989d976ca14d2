"""RMAs proposed by web store refunds: drafted for the shipped refunded units, counting
nowhere until the returns desk confirms them (then shipped minus returned holds), or
dismissed."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError, NotFoundError
from kosh.quality import returns as return_ops
from kosh.quality import service as quality_service
from kosh.quality import web_returns
from kosh.quality.models import Return
from kosh.sales import orders as order_ops
from kosh.sales import refunds as refund_ops
from kosh.sales import service as sales_service
from tests.quality.support import Shop, a_lot, a_shop
from tests.support.sales import a_customer, an_order


async def _refunded_after_shipping(session: AsyncSession, shop: Shop, qty: int) -> int:
    """An order of `qty` shipped in full and refunded in full; its RMA proposed."""
    await a_lot(session, shop, qty)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[(shop.part_number, qty)],
        confirm=True,
    )
    await sales_service.ship(session, order_id=order_id)
    order = await order_ops.load_order(session, order_id)
    rows = await refund_ops.record(session, order, refunded=(), modified_at=None)
    await web_returns.propose_for_refunds(session, [r.id for r in rows])
    await session.commit()
    return order_id


async def _proposed(session: AsyncSession, order_id: int) -> Return:
    return (
        await session.scalars(
            select(Return).where(Return.sales_order_id == order_id, Return.status == "proposed")
        )
    ).one()


async def test_a_proposed_rma_counts_only_once_confirmed(session: AsyncSession) -> None:
    # given an order of 4 shipped and refunded: an RMA proposed for the 4 units
    shop = await a_shop(session)
    order_id = await _refunded_after_shipping(session, shop, 4)
    rma = await _proposed(session, order_id)
    rma_id = rma.id
    assert rma.reason == "Refunded in full in the web store"
    assert [line.qty for line in await return_ops.lines_of(session, rma_id)] == [4]
    # when a clerk authorises a return of 1 meanwhile (the proposal does not count)
    await quality_service.create_return(
        session,
        sales_order_id=order_id,
        lines=[return_ops.LineIn(part_number=shop.part_number, qty=1)],
        reason="Came back by post",
    )
    # then confirming the 4 would return 5 of 4 shipped: 409 over_return, nothing changes
    with pytest.raises(ConflictError) as caught:
        await quality_service.confirm_proposed(session, return_id=rma_id)
    assert caught.value.code == "over_return"
    assert caught.value.details["returnable"] == 3
    assert (await quality_service.get_return_or_raise(session, rma_id)).status == "proposed"
    # and dismissing it deletes the draft; a second dismiss is 404
    await quality_service.dismiss_proposed(session, return_id=rma_id)
    with pytest.raises(NotFoundError):
        await quality_service.dismiss_proposed(session, return_id=rma_id)


async def test_confirming_authorises_it_once(session: AsyncSession) -> None:
    # given a proposed RMA for 2 shipped units
    shop = await a_shop(session)
    order_id = await _refunded_after_shipping(session, shop, 2)
    rma_id = (await _proposed(session, order_id)).id
    # when the desk confirms it
    rma = await quality_service.confirm_proposed(session, return_id=rma_id)
    # then it is authorised and counts against what shipped
    assert rma.status == "authorised"
    assert await return_ops.returned_by_line(session, order_id) == {
        (await sales_service.get_order(session, order_id)).lines[0].id: 2
    }
    # and a second confirm, or a dismiss, is 409 invalid_status
    for verb in (quality_service.confirm_proposed, quality_service.dismiss_proposed):
        with pytest.raises(ConflictError) as caught:
            await verb(session, return_id=rma_id)
        assert caught.value.code == "invalid_status"


async def test_nothing_shipped_proposes_nothing(session: AsyncSession) -> None:
    # given an order refunded before it shipped
    shop = await a_shop(session)
    await a_lot(session, shop, 3)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[(shop.part_number, 3)],
        confirm=True,
    )
    order = await order_ops.load_order(session, order_id)
    rows = await refund_ops.record(session, order, refunded=(), modified_at=None)
    # when the subscriber hears of it
    await web_returns.propose_for_refunds(session, [r.id for r in rows])
    # then no RMA is proposed
    assert await web_returns.count_proposed(session) == 0
    assert await sales_service.refunded_lines_by_ids(session, []) == []
