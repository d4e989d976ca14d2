"""Which order states take which steps: a refused step answers 409 invalid_status with the
status, and changes neither the lines nor the reservations."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError
from kosh.sales import service as sales_service
from tests.support.sales import a_customer, an_order, order_state, reserved_total
from tests.support.stock import a_site, stock_in


async def _confirmed_order(session: AsyncSession) -> tuple[int, int, int, str]:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 4)],
        confirm=True,
    )
    return order_id, site.part_id, site.warehouse_id, site.part_number


async def test_only_drafts_take_new_lines(session: AsyncSession) -> None:
    # given: a confirmed order of one line
    order_id, _, _, part_number = await _confirmed_order(session)
    # when
    with pytest.raises(ConflictError) as refused:
        await sales_service.add_line(
            session,
            order_id=order_id,
            line=sales_service.LineRequest(
                part_number=part_number, qty=1, unit_price=Decimal("10.00")
            ),
        )
    # then
    assert refused.value.code == "invalid_status"
    assert refused.value.details["status"] == "confirmed"
    order = await order_state(session, order_id)
    assert [(line.line_no, line.qty) for line in order.lines] == [(1, 4)]


async def test_confirming_a_fully_reserved_order_again_is_refused(session: AsyncSession) -> None:
    # given: everything on the order is reserved
    order_id, part_id, warehouse_id, _ = await _confirmed_order(session)
    # when
    with pytest.raises(ConflictError) as refused:
        await sales_service.confirm(session, order_id=order_id)
    # then: nothing is reserved twice
    assert refused.value.code == "invalid_status"
    assert await reserved_total(session, part_id, warehouse_id) == 4


async def test_a_cancelled_order_can_be_neither_confirmed_nor_held(session: AsyncSession) -> None:
    # given
    order_id, part_id, warehouse_id, _ = await _confirmed_order(session)
    await sales_service.cancel(session, order_id=order_id, reason="customer changed mind")
    # when / then
    with pytest.raises(ConflictError) as confirm_refused:
        await sales_service.confirm(session, order_id=order_id)
    with pytest.raises(ConflictError) as hold_refused:
        await sales_service.hold(session, order_id=order_id, reason="check")
    assert confirm_refused.value.code == hold_refused.value.code == "invalid_status"
    assert confirm_refused.value.details["status"] == "cancelled"
    assert (await order_state(session, order_id)).status == "cancelled"
    assert await reserved_total(session, part_id, warehouse_id) == 0
