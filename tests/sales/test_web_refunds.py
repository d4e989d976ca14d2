"""Refunds of web orders taken on the sales side: what an order that is missing, cancelled
or done makes of them, store lines it does not have, and a refund spread over what shipped."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.db import utcnow
from kosh.sales import orders as order_ops
from kosh.sales import service as sales_service
from kosh.sales import web_refunds
from kosh.sales.refunds import RefundedUnits
from tests.conftest import ENGINE
from tests.support.sales import a_customer, order_state, reserved_total
from tests.support.stock import a_site, stock_in


async def _web_order(session: AsyncSession, qty: int, external_id: str) -> tuple[int, int, int]:
    """A confirmed web order of `qty` units of one part (store line id "7"): (order id,
    part id, warehouse id)."""
    site = await a_site(session, bins=1)
    await stock_in(session, site.part_number, site.bin_ids[0], qty)
    customer = await a_customer(session)
    order = await order_ops.add_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[
            order_ops.NewLine(
                part_id=site.part_id, qty=qty, unit_price=Decimal(5), external_line_id="7"
            )
        ],
        external=order_ops.ExternalRef(store="WEB", order_id=external_id, modified_at=utcnow()),
    )
    await order_ops.confirm_order(session, order)
    await session.commit()
    return order.id, site.part_id, site.warehouse_id


def _refund(refund_id: str, qty: int, line: str = "7") -> web_refunds.WebRefund:
    return web_refunds.WebRefund(
        refund_id=refund_id,
        lines=[RefundedUnits(external_line_id=line, qty=qty, amount=Decimal(-qty * 5))],
    )


async def test_a_refund_before_kosh_has_the_order_takes_nothing(session: AsyncSession) -> None:
    taken = await web_refunds.take_refunds(
        session, store="WEB", external_id="no-such", refunds=[_refund("1", 1)]
    )
    assert (taken.order_id, [r["code"] for r in taken.reasons]) == (None, ["refund_before_kosh"])


async def test_an_unknown_line_is_a_reason_and_the_rest_is_taken(session: AsyncSession) -> None:
    # given a web order of 4 reserved
    order_id, part_id, warehouse_id = await _web_order(session, 4, "r-1")
    # when a refund names a line the order does not have, beside 1 unit of its own line
    refund = web_refunds.WebRefund(
        refund_id="10",
        lines=[
            RefundedUnits(external_line_id="99", qty=2),
            RefundedUnits(external_line_id="7", qty=1, amount=Decimal("-5.00")),
        ],
    )
    taken = await web_refunds.take_refunds(
        session, store="WEB", external_id="r-1", refunds=[refund]
    )
    await session.commit()
    # then the unknown line is reported and 1 unit released
    assert [r["code"] for r in taken.reasons] == ["refunded_line_unknown"]
    assert taken.released == 1
    assert await reserved_total(session, part_id, warehouse_id) == 3
    [row] = await sales_service.refunded_lines(session, order_id=order_id)
    assert (row.qty, row.qty_shipped, row.amount) == (1, 0, Decimal("5.0000"))


async def test_refunding_the_rest_after_part_shipped_closes_it_shipped(
    session: AsyncSession,
) -> None:
    # given 5 ordered, 2 shipped
    order_id, part_id, warehouse_id = await _web_order(session, 5, "r-2")
    order = await sales_service.get_order(session, order_id)
    await sales_service.ship(session, order_id=order_id, quantities={order.lines[0].id: 2})
    # when the store refunds 4: the 3 open ones and 1 that shipped (a store over-refunding
    # the line is capped at what it has)
    taken = await web_refunds.take_refunds(
        session, store="WEB", external_id="r-2", refunds=[_refund("20", 4), _refund("x21", 9)]
    )
    await session.commit()
    # then the order is done: shipped, nothing reserved; the shipped units are to return
    state = await order_state(session, order_id)
    assert state.status == "shipped"
    assert taken.released == 3
    assert await reserved_total(session, part_id, warehouse_id) == 0
    rows = await sales_service.refunded_lines(session, order_id=order_id)
    assert [(r.external_refund_id, r.qty, r.qty_shipped) for r in rows] == [
        ("20", 4, 1),
        ("x21", 1, 1),
    ]


async def test_a_refund_of_a_cancelled_order_records_its_units_as_they_are(
    session: AsyncSession,
) -> None:
    # given a web order cancelled in KOSH (nothing reserved any more)
    order_id, _, _ = await _web_order(session, 3, "r-3")
    await sales_service.cancel(session, order_id=order_id)
    # when the store refunds 2 of it
    taken = await web_refunds.take_refunds(
        session, store="WEB", external_id="r-3", refunds=[_refund("30", 2)]
    )
    await session.commit()
    # then the units are listed, nothing released, the order stays cancelled
    assert taken.released == 0
    state = await order_state(session, order_id)
    assert (state.status, state.lines[0].qty_cancelled) == ("cancelled", 0)
    [row] = await sales_service.refunded_lines(session, order_id=order_id)
    assert (row.qty, row.qty_shipped) == (2, 0)
    # and a refund of no units records nothing
    empty = await web_refunds.take_refunds(
        session, store="WEB", external_id="r-3", refunds=[_refund("31", 0)]
    )
    assert empty.recorded == []


@pytest.mark.skipif(ENGINE != "postgres", reason="real concurrency needs PostgreSQL")
async def test_two_workers_taking_the_same_refunds_release_once(
    session: AsyncSession, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # given a web order of 6 reserved
    order_id, part_id, warehouse_id = await _web_order(session, 6, "r-4")

    async def worker() -> int:
        async with sessions() as own:
            taken = await web_refunds.take_refunds(
                own, store="WEB", external_id="r-4", refunds=[_refund("40", 2), _refund("41", 1)]
            )
            await own.commit()
            return taken.released

    # when six workers take the same two refunds at the same moment
    released = await asyncio.gather(*(worker() for _ in range(6)))
    # then they were taken once: 3 released in all, each refund recorded once
    assert sorted(released) == [0] * 5 + [3]
    assert await reserved_total(session, part_id, warehouse_id) == 3
    rows = await sales_service.refunded_lines(session, order_id=order_id)
    assert sorted((r.external_refund_id, r.qty) for r in rows) == [("40", 2), ("41", 1)]
    assert await sales_service.reservation_drift(session) == []
