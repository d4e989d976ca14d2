"""Customer returns: never more than shipped minus returned (also with two clerks at once
on PostgreSQL), receipt into quarantine as new PCNs, inspection to restock or scrap, and
zero-price replacement orders made from a replacement ticket."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, ValidationError
from kosh.quality import returns as return_ops
from kosh.quality import service as quality_service
from kosh.sales import service as sales_service
from kosh.stock import service as stock_service
from kosh.stock.models import Lot
from tests.conftest import ENGINE
from tests.quality.support import Shop, a_lot, a_shop
from tests.support.sales import a_customer, an_order
from tests.support.stock import balances, ledger


async def _shipped_order(session: AsyncSession, shop: Shop, qty: int, shipped: int) -> int:
    await a_lot(session, shop, qty)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[(shop.part_number, qty)],
        confirm=True,
    )
    order = await sales_service.get_order(session, order_id)
    line_id = order.lines[0].id
    await sales_service.ship(session, order_id=order_id, quantities={line_id: shipped})
    return order_id


def _line(shop: Shop, qty: int) -> list[return_ops.LineIn]:
    return [return_ops.LineIn(part_number=shop.part_number, qty=qty)]


async def test_return_receive_inspect_restock_and_scrap(session: AsyncSession) -> None:
    # given an order that shipped 5 of 6
    shop = await a_shop(session)
    order_id = await _shipped_order(session, shop, 6, 5)
    # when 3 are returned
    rma = await quality_service.create_return(
        session, sales_order_id=order_id, lines=_line(shop, 3), reason="Broken in transit"
    )
    rma_id, number = rma.id, rma.number
    assert number == "RMA-000001"
    assert rma.status == "authorised"
    # then 2 more are fine, a third more is 409 with what is returnable
    with pytest.raises(ConflictError) as caught:
        await quality_service.create_return(
            session, sales_order_id=order_id, lines=_line(shop, 3), reason="again"
        )
    assert caught.value.code == "over_return"
    assert caught.value.details["returnable"] == 2
    # when the return is received into quarantine
    lines = await quality_service.receive(session, return_id=rma_id, location_id=shop.quarantine_id)
    lot_id = lines[0].lot_id
    assert lot_id is not None
    assert await balances(session, lot_id) == {shop.quarantine_id: 3}
    entry = (await ledger(session, lot_id))[0]
    assert (entry.kind, entry.reference) == ("receive", number)
    # and is not on hand for sales (only the unshipped unit in storage is)
    assert (
        await sales_service.on_hand(
            session, part_ids=[shop.part_id], warehouse_id=shop.warehouse_id
        )
    )[shop.part_id] == 1
    # a second receipt is refused
    with pytest.raises(ConflictError):
        await quality_service.receive(session, return_id=rma_id, location_id=shop.quarantine_id)
    pcn = (await session.get_one(Lot, lot_id)).pcn
    # when inspection restocks 2 and scraps 1
    closed = await quality_service.inspect(
        session,
        return_id=rma_id,
        lines=[
            return_ops.InspectionIn(
                pcn=pcn, qty=2, outcome="restock", location_id=shop.storage2_id
            ),
            return_ops.InspectionIn(pcn=pcn, qty=1, outcome="scrap"),
        ],
    )
    # then the units moved and the return is closed
    assert closed.status == "closed"
    assert await balances(session, lot_id) == {shop.quarantine_id: 0, shop.storage2_id: 2}
    assert [e.kind for e in await ledger(session, lot_id)] == ["receive", "transfer", "scrap"]


async def test_inspection_rules(session: AsyncSession) -> None:
    shop = await a_shop(session)
    order_id = await _shipped_order(session, shop, 4, 4)
    rma = await quality_service.create_return(
        session, sales_order_id=order_id, lines=_line(shop, 2), reason="x", outcome="repair"
    )
    rma_id = rma.id
    with pytest.raises(ConflictError):  # not received yet
        await quality_service.inspect(
            session, return_id=rma_id, lines=[return_ops.InspectionIn("X", 1, "scrap")]
        )
    lines = await quality_service.receive(session, return_id=rma_id, location_id=shop.quarantine_id)
    pcn = (await session.get_one(Lot, lines[0].lot_id)).pcn
    other = await a_lot(session, shop, 1)
    cases: list[tuple[list[return_ops.InspectionIn], type[Exception]]] = [
        ([], ValidationError),
        ([return_ops.InspectionIn(pcn, 1, "resell")], ValidationError),
        ([return_ops.InspectionIn(other, 1, "scrap")], RuleViolationError),
        ([return_ops.InspectionIn("NOPE", 1, "scrap")], RuleViolationError),
        ([return_ops.InspectionIn(pcn, 3, "scrap")], ConflictError),
        ([return_ops.InspectionIn(pcn, 1, "restock")], RuleViolationError),
        ([return_ops.InspectionIn(pcn, 1, "restock", shop.quarantine_id)], RuleViolationError),
    ]
    for items, error in cases:
        with pytest.raises(error):
            await quality_service.inspect(session, return_id=rma_id, lines=items)
    partial = await quality_service.inspect(
        session, return_id=rma_id, lines=[return_ops.InspectionIn(pcn, 1, "scrap")]
    )
    assert partial.status == "received"
    with pytest.raises(NotFoundError):
        await quality_service.inspect(session, return_id=999, lines=[])
    rows, total = await quality_service.list_returns(session, status="received")
    assert total == 1
    assert rows[0].id == rma_id


async def test_return_rules(session: AsyncSession) -> None:
    shop = await a_shop(session)
    order_id = await _shipped_order(session, shop, 2, 2)
    other = await a_shop(session)
    cases: list[tuple[dict[str, object], type[Exception]]] = [
        ({"lines": _line(shop, 1), "reason": " "}, ValidationError),
        ({"lines": [], "reason": "x"}, ValidationError),
        ({"lines": _line(shop, 1), "reason": "x", "outcome": "keep"}, ValidationError),
        ({"lines": _line(other, 1), "reason": "x"}, RuleViolationError),
        ({"lines": [return_ops.LineIn("NOPE", 1)], "reason": "x"}, NotFoundError),
    ]
    for fields, error in cases:
        with pytest.raises(error):
            await quality_service.create_return(session, sales_order_id=order_id, **fields)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        await quality_service.create_return(
            session, sales_order_id=999, lines=_line(shop, 1), reason="x"
        )
    with pytest.raises(NotFoundError):
        await quality_service.get_return_or_raise(session, 999)
    with pytest.raises(NotFoundError):
        await quality_service.receive(session, return_id=999, location_id=shop.quarantine_id)
    rma = await quality_service.create_return(
        session, sales_order_id=order_id, lines=_line(shop, 1), reason="x"
    )
    with pytest.raises(RuleViolationError):  # storage is not quarantine
        await quality_service.receive(session, return_id=rma.id, location_id=shop.storage_id)


@pytest.mark.skipif(ENGINE != "postgres", reason="real concurrency needs PostgreSQL")
async def test_two_clerks_never_return_more_than_shipped(
    session: AsyncSession, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # given an order that shipped 5
    shop = await a_shop(session)
    order_id = await _shipped_order(session, shop, 5, 5)

    async def clerk(qty: int) -> str:
        async with sessions() as own:
            try:
                await quality_service.create_return(
                    own, sales_order_id=order_id, lines=_line(shop, qty), reason="clerk"
                )
            except ConflictError as exc:
                return str(exc.code)
            return "ok"

    # when two clerks return 3 each at the same moment, several times over
    outcomes = await asyncio.gather(*(clerk(3) for _ in range(6)))
    # then exactly one succeeded and the total never exceeds what shipped
    assert sorted(outcomes) == ["ok"] + ["over_return"] * 5
    returned = await return_ops.returned_by_line(session, order_id)
    assert sum(returned.values()) == 3


async def test_replacement_ticket_makes_a_zero_price_order(session: AsyncSession) -> None:
    # given a received return and a replacement ticket for the order linked to it
    shop = await a_shop(session)
    order_id = await _shipped_order(session, shop, 3, 3)
    rma = await quality_service.create_return(
        session, sales_order_id=order_id, lines=_line(shop, 2), reason="dead", outcome="replacement"
    )
    rma_id = rma.id
    ticket = await quality_service.create_ticket(
        session,
        kind="replacement",
        title="Replace 2",
        links=quality_service.Links(sales_order_id=order_id),
    )
    ticket_id = ticket.id
    ticket.return_id = rma_id
    await session.commit()
    # when the replacement order is made
    done = await quality_service.create_replacement_order(session, ticket_id=ticket_id)
    # then it is a draft for the same customer at zero price with the return's lines
    order = await sales_service.get_order(session, done.replacement_order_id)  # type: ignore[arg-type]
    original = await sales_service.get_order(session, order_id)
    assert order.status == "draft"
    assert order.customer_id == original.customer_id
    assert [(line.qty, line.unit_price) for line in order.lines] == [(2, Decimal(0))]
    # and a second one is refused
    with pytest.raises(ConflictError):
        await quality_service.create_replacement_order(session, ticket_id=ticket_id)


async def test_replacement_order_rules(session: AsyncSession) -> None:
    shop = await a_shop(session)
    order_id = await _shipped_order(session, shop, 1, 1)
    ncr = await quality_service.create_ticket(session, kind="ncr", title="x")
    with pytest.raises(RuleViolationError):
        await quality_service.create_replacement_order(session, ticket_id=ncr.id)
    bare = await quality_service.create_ticket(session, kind="replacement", title="x")
    with pytest.raises(RuleViolationError):
        await quality_service.create_replacement_order(session, ticket_id=bare.id)
    linked = await quality_service.create_ticket(
        session, kind="replacement", title="y", links=quality_service.Links(sales_order_id=order_id)
    )
    linked_id = linked.id
    with pytest.raises(RuleViolationError) as missing:
        await quality_service.create_replacement_order(session, ticket_id=linked_id)
    assert missing.value.code == "lines_required"
    done = await quality_service.create_replacement_order(
        session, ticket_id=linked_id, lines=_line(shop, 1), warehouse_id=shop.warehouse_id
    )
    assert done.replacement_order_id is not None
    assert (await stock_service.get_lot_by_pcn(session, "NOPE")) is None
