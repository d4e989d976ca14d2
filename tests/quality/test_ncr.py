"""NCR containment and disposition: all-or-nothing stock movements referencing the ticket,
and quarantined stock that is never available (invariant 8): not to FIFO picks, not to a
pick of that very PCN, not to reservations, shipping or the web-store push's on-hand."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError, RuleViolationError, ValidationError
from kosh.quality import service as quality_service
from kosh.sales import service as sales_service
from kosh.stock import service as stock_service
from kosh.stock.errors import InsufficientStockError
from tests.quality.support import Shop, a_lot, a_shop
from tests.support.sales import a_customer, an_order
from tests.support.stock import a_location, all_balances, balances, ledger, replayed


async def _ncr(session: AsyncSession, shop: Shop, pcn: str) -> tuple[int, str]:
    ticket = await quality_service.create_ticket(
        session, kind="ncr", title="Wrong marking", links=quality_service.Links(pcn=pcn)
    )
    return ticket.id, ticket.number


async def test_contain_part_of_a_pcn_then_scrap_it(session: AsyncSession) -> None:
    # given 10 units of a PCN in storage and an NCR against it
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 10)
    lot = await stock_service.get_lot_by_pcn_or_raise(session, pcn)
    lot_id = lot.id
    ticket_id, number = await _ncr(session, shop, pcn)
    # when 4 are contained
    moved = await quality_service.contain(
        session, ticket_id=ticket_id, pcn=pcn, location_id=shop.quarantine_id, qty=4
    )
    # then 4 sit in quarantine, 6 in storage, and the ledger row names the ticket
    assert [(m.qty, m.from_location_id, m.to_location_id) for m in moved] == [
        (4, shop.storage_id, shop.quarantine_id)
    ]
    assert await balances(session, lot_id) == {shop.storage_id: 6, shop.quarantine_id: 4}
    last = (await ledger(session, lot_id))[-1]
    assert (last.kind, last.reference, last.reason) == ("transfer", number, "NCR containment")
    # when 3 of them are scrapped
    scrapped = await quality_service.disposition(
        session, ticket_id=ticket_id, action="scrap", pcn=pcn, qty=3
    )
    # then they left stock with the ticket as reference
    assert scrapped.to_location_id is None
    assert await balances(session, lot_id) == {shop.storage_id: 6, shop.quarantine_id: 1}
    last = (await ledger(session, lot_id))[-1]
    assert (last.kind, last.reference, last.to_location_id) == ("scrap", number, None)
    assert await replayed(session) == {k: v for k, v in (await all_balances(session)).items() if v}


async def test_contain_everything_from_several_locations_in_one_go(session: AsyncSession) -> None:
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 5)
    lot_id = (await stock_service.get_lot_by_pcn_or_raise(session, pcn)).id
    await stock_service.transfer(
        session, pcn=pcn, qty=2, from_location_id=shop.storage_id, to_location_id=shop.storage2_id
    )
    ticket_id, _ = await _ncr(session, shop, pcn)
    moved = await quality_service.contain(
        session, ticket_id=ticket_id, pcn=pcn, location_id=shop.quarantine_id
    )
    assert sum(m.qty for m in moved) == 5
    assert await balances(session, lot_id) == {
        shop.storage_id: 0,
        shop.storage2_id: 0,
        shop.quarantine_id: 5,
    }


async def test_containment_is_all_or_nothing(session: AsyncSession) -> None:
    # given 5 units and a ticket
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 5)
    lot_id = (await stock_service.get_lot_by_pcn_or_raise(session, pcn)).id
    ticket_id, _ = await _ncr(session, shop, pcn)
    before = await ledger(session, lot_id)
    # when more than there is is asked for: 409 with what is available, nothing moved
    with pytest.raises(InsufficientStockError) as caught:
        await quality_service.contain(
            session, ticket_id=ticket_id, pcn=pcn, location_id=shop.quarantine_id, qty=6
        )
    assert caught.value.available == 5
    # and a storage location is no quarantine (422)
    with pytest.raises(RuleViolationError) as wrong:
        await quality_service.contain(
            session, ticket_id=ticket_id, pcn=pcn, location_id=shop.storage2_id, qty=1
        )
    assert wrong.value.code == "location_unusable"
    assert len(await ledger(session, lot_id)) == len(before)
    assert await balances(session, lot_id) == {shop.storage_id: 5}


async def test_reserved_stock_cannot_be_contained_silently(session: AsyncSession) -> None:
    # given 5 units all reserved by a confirmed order
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 5)
    customer = await a_customer(session)
    await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[(shop.part_number, 5)],
        confirm=True,
    )
    ticket_id, _ = await _ncr(session, shop, pcn)
    # when one is contained: the sales guard refuses (reserved never exceeds on hand)
    with pytest.raises(ConflictError) as caught:
        await quality_service.contain(
            session, ticket_id=ticket_id, pcn=pcn, location_id=shop.quarantine_id, qty=1
        )
    assert caught.value.code == "reserved_stock"


async def test_quarantined_stock_is_never_available(session: AsyncSession) -> None:
    # given one PCN wholly in quarantine and nothing else
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 8)
    ticket_id, _ = await _ncr(session, shop, pcn)
    await quality_service.contain(
        session, ticket_id=ticket_id, pcn=pcn, location_id=shop.quarantine_id
    )
    part_ids = [shop.part_id]
    # then availability, on hand (what the web-store push sends) and FIFO picks see none
    assert await sales_service.available(
        session, part_ids=part_ids, warehouse_id=shop.warehouse_id
    ) == {shop.part_id: 0}
    assert await sales_service.on_hand(
        session, part_ids=part_ids, warehouse_id=shop.warehouse_id
    ) == {shop.part_id: 0}
    with pytest.raises(InsufficientStockError):
        await stock_service.pick(
            session,
            part_number=shop.part_number,
            qty=1,
            warehouse_id=shop.warehouse_id,
            reference="J1",
        )
    # and a pick of that very PCN is refused with 409 too
    with pytest.raises(InsufficientStockError) as caught:
        await stock_service.pick(
            session,
            part_number=shop.part_number,
            qty=1,
            warehouse_id=shop.warehouse_id,
            reference="J1",
            pcn=pcn,
        )
    assert caught.value.available == 0
    # and an order cannot reserve it
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[(shop.part_number, 1)],
    )
    with pytest.raises(InsufficientStockError):
        await sales_service.confirm(session, order_id=order_id)
    # nor ship it (a backorder confirmed short still finds nothing to ship)
    await sales_service.confirm(session, order_id=order_id, allow_backorder=True)
    with pytest.raises(InsufficientStockError):
        await sales_service.ship(session, order_id=order_id)


@pytest.mark.parametrize("action", ["rework", "use_as_is", "return_to_supplier"])
async def test_other_dispositions(session: AsyncSession, action: str) -> None:
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 4)
    lot_id = (await stock_service.get_lot_by_pcn_or_raise(session, pcn)).id
    ticket_id, number = await _ncr(session, shop, pcn)
    await quality_service.contain(
        session, ticket_id=ticket_id, pcn=pcn, location_id=shop.quarantine_id
    )
    moved = await quality_service.disposition(
        session,
        ticket_id=ticket_id,
        action=action,
        pcn=pcn,
        qty=4,
        from_location_id=shop.quarantine_id,
        location_id=shop.storage2_id if action == "use_as_is" else None,
    )
    expected = {"rework": shop.floor_id, "use_as_is": shop.storage2_id, "return_to_supplier": None}
    assert moved.to_location_id == expected[action]
    last = (await ledger(session, lot_id))[-1]
    assert last.reference == number
    assert (
        last.kind
        == {"rework": "transfer", "use_as_is": "transfer", "return_to_supplier": "consume"}[action]
    )
    assert (await balances(session, lot_id))[shop.quarantine_id] == 0


async def test_disposition_rules(session: AsyncSession) -> None:
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 4)
    ticket_id, _ = await _ncr(session, shop, pcn)
    with pytest.raises(ValidationError):
        await quality_service.disposition(
            session, ticket_id=ticket_id, action="burn", pcn=pcn, qty=1
        )
    # nothing in quarantine yet
    with pytest.raises(InsufficientStockError):
        await quality_service.disposition(
            session, ticket_id=ticket_id, action="scrap", pcn=pcn, qty=1
        )
    await quality_service.contain(
        session, ticket_id=ticket_id, pcn=pcn, location_id=shop.quarantine_id, qty=2
    )
    with pytest.raises(RuleViolationError) as missing:
        await quality_service.disposition(
            session, ticket_id=ticket_id, action="use_as_is", pcn=pcn, qty=1
        )
    assert missing.value.code == "location_required"
    other = await a_location(session, shop.warehouse_id, kind="quarantine")
    with pytest.raises(RuleViolationError):
        await quality_service.disposition(
            session, ticket_id=ticket_id, action="use_as_is", pcn=pcn, qty=1, location_id=other.id
        )
    # a done ticket moves nothing more
    await quality_service.transition(session, ticket_id=ticket_id, to="resolved")
    with pytest.raises(ConflictError) as done:
        await quality_service.disposition(
            session, ticket_id=ticket_id, action="scrap", pcn=pcn, qty=1
        )
    assert done.value.code == "ticket_done"
