"""Stock use cases, written given / when / then, asserting ledger rows AND balances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.catalog.schemas import PartUpdate
from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, ValidationError
from kosh.core.models import AuditEvent
from kosh.locations import service as location_service
from kosh.stock import service as stock_service
from kosh.stock.errors import InsufficientStockError
from kosh.stock.models import Lot, StockTransaction
from tests.support.stock import (
    LotRef,
    Site,
    a_location,
    a_part,
    a_site,
    a_warehouse,
    all_balances,
    balances,
    ledger,
    non_zero,
    replayed,
    stock_in,
)


@pytest.fixture
async def site(session: AsyncSession) -> Site:
    return await a_site(session, bins=3)


async def _age(session: AsyncSession, lot: LotRef, days: int) -> None:
    """Make a lot look received `days` ago (FIFO is by received_at)."""
    await session.execute(
        update(Lot)
        .where(Lot.id == lot.id)
        .values(received_at=datetime.now(UTC) - timedelta(days=days))
    )
    await session.commit()


# --- receive --------------------------------------------------------------------------


async def test_receive_creates_a_lot_a_balance_and_one_ledger_row(
    session: AsyncSession, site: Site
) -> None:
    # when
    receipt = await stock_service.receive(
        session,
        part_number=site.part_number,
        qty=250,
        location_id=site.bin_ids[0],
        date_code="2431",
        supplier="Mouser",
        reference="PO-77",
    )
    # then
    lot = receipt.lot
    assert lot.pcn == "PCN000001"
    assert (lot.date_code, lot.supplier, lot.reference) == ("2431", "Mouser", "PO-77")
    assert await balances(session, lot.id) == {site.bin_ids[0]: 250}
    [entry] = await ledger(session, lot.id)
    assert (entry.kind, entry.qty, entry.from_location_id, entry.to_location_id) == (
        "receive",
        250,
        None,
        site.bin_ids[0],
    )
    assert entry.part_id == site.part_id
    assert entry.reference == "PO-77"
    event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "stock.receive"))
    assert event is not None
    assert event.entity_id == lot.pcn


async def test_generated_pcns_are_sequential_and_skip_supplied_ones(
    session: AsyncSession, site: Site
) -> None:
    # given a PCN supplied by hand that the sequence will reach
    await stock_in(session, site.part_number, site.bin_ids[0], 1, pcn="PCN000002")
    # when three PCNs are generated
    pcns = [(await stock_in(session, site.part_number, site.bin_ids[0], 1)).pcn for _ in range(3)]
    # then the supplied number is skipped
    assert pcns == ["PCN000001", "PCN000003", "PCN000004"]


async def test_pcn_prefix_comes_from_the_session(sessions, site: Site) -> None:  # type: ignore[no-untyped-def]
    async with sessions(info={"pcn_prefix": "KX-"}) as session:
        lot = await stock_in(session, site.part_number, site.bin_ids[0], 5)
    assert lot.pcn == "KX-000001"


async def test_receive_rules(session: AsyncSession, site: Site) -> None:
    # given
    part_number, bin_id, floor_id = site.part_number, site.bin_ids[0], site.floor_id
    await stock_in(session, site.part_number, site.bin_ids[0], 5, pcn="TAKEN-1")
    # unknown part
    with pytest.raises(NotFoundError) as unknown:
        await stock_service.receive(session, part_number="NOPE", qty=1, location_id=bin_id)
    assert unknown.value.code == "part_not_found"
    # unknown location
    with pytest.raises(NotFoundError):
        await stock_service.receive(session, part_number=part_number, qty=1, location_id=999_999)
    # not into the MFG floor
    with pytest.raises(RuleViolationError) as floor:
        await stock_service.receive(session, part_number=part_number, qty=1, location_id=floor_id)
    assert floor.value.code == "location_unusable"
    # a supplied PCN that exists
    with pytest.raises(ConflictError) as taken:
        await stock_service.receive(
            session, part_number=part_number, qty=1, location_id=bin_id, pcn="TAKEN-1"
        )
    assert taken.value.code == "pcn_taken"
    # a malformed PCN
    with pytest.raises(ValidationError):
        await stock_service.receive(
            session, part_number=part_number, qty=1, location_id=bin_id, pcn="bad pcn"
        )
    # a zero quantity
    with pytest.raises(ValidationError):
        await stock_service.receive(session, part_number=part_number, qty=0, location_id=bin_id)
    # then only the first receipt exists
    assert len(await ledger(session)) == 1


async def test_receive_refuses_inactive_part_and_location(
    session: AsyncSession, site: Site
) -> None:
    # given an inactive part and an inactive bin
    part_number, bin_id = site.part_number, site.bin_ids[1]
    other = (await a_part(session)).number
    await part_service.update_part(session, site.part_id, data=PartUpdate(version=1, active=False))
    location = await location_service.get_location_or_raise(session, bin_id)
    location.active = False
    await session.commit()
    # then
    with pytest.raises(RuleViolationError) as part_inactive:
        await stock_service.receive(
            session, part_number=part_number, qty=1, location_id=site.bin_ids[0]
        )
    assert part_inactive.value.code == "part_inactive"
    with pytest.raises(RuleViolationError) as location_inactive:
        await stock_service.receive(session, part_number=other, qty=1, location_id=bin_id)
    assert location_inactive.value.code == "location_unusable"
    assert await ledger(session) == []


# --- pick -----------------------------------------------------------------------------


async def test_pick_takes_oldest_lots_first_across_bins(session: AsyncSession, site: Site) -> None:
    # given three lots, the newest received first
    newest = await stock_in(session, site.part_number, site.bin_ids[0], 100)
    oldest = await stock_in(session, site.part_number, site.bin_ids[1], 50)
    middle = await stock_in(session, site.part_number, site.bin_ids[2], 80)
    await _age(session, oldest, 3)
    await _age(session, middle, 2)
    # when 150 are picked
    result = await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=150,
        warehouse_id=site.warehouse_id,
        reference="J-1042",
    )
    # then oldest (50) and middle (80) are emptied, 20 come from the newest
    assert [(line.pcn, line.qty, line.from_location_id) for line in result.lines] == [
        (oldest.pcn, 50, site.bin_ids[1]),
        (middle.pcn, 80, site.bin_ids[2]),
        (newest.pcn, 20, site.bin_ids[0]),
    ]
    assert result.to_location_id == site.floor_id
    assert await balances(session, oldest.id) == {site.bin_ids[1]: 0, site.floor_id: 50}
    assert await balances(session, middle.id) == {site.bin_ids[2]: 0, site.floor_id: 80}
    assert await balances(session, newest.id) == {site.bin_ids[0]: 80, site.floor_id: 20}
    picks = [e for e in await ledger(session) if e.kind == "pick"]
    assert [
        (e.lot_id, e.qty, e.from_location_id, e.to_location_id, e.reference) for e in picks
    ] == [
        (oldest.id, 50, site.bin_ids[1], site.floor_id, "J-1042"),
        (middle.id, 80, site.bin_ids[2], site.floor_id, "J-1042"),
        (newest.id, 20, site.bin_ids[0], site.floor_id, "J-1042"),
    ]


async def test_pick_one_lot_split_over_two_bins_and_named_pcn(
    session: AsyncSession, site: Site
) -> None:
    # given one lot in two bins and an older lot elsewhere
    older = await stock_in(session, site.part_number, site.bin_ids[2], 500)
    await _age(session, older, 5)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 30)
    await stock_service.transfer(
        session,
        pcn=lot.pcn,
        qty=10,
        from_location_id=site.bin_ids[0],
        to_location_id=site.bin_ids[1],
    )
    # when 25 of the named PCN are picked
    result = await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=25,
        warehouse_id=site.warehouse_id,
        reference="J-1",
        pcn=lot.pcn,
    )
    # then only that PCN is used, bins in id order
    assert [(line.pcn, line.qty) for line in result.lines] == [(lot.pcn, 20), (lot.pcn, 5)]
    assert await balances(session, older.id) == {site.bin_ids[2]: 500}
    assert await balances(session, lot.id) == {
        site.bin_ids[0]: 0,
        site.bin_ids[1]: 5,
        site.floor_id: 25,
    }


async def test_pick_not_enough_changes_nothing(session: AsyncSession, site: Site) -> None:
    # given 40 in stock over two lots
    first = await stock_in(session, site.part_number, site.bin_ids[0], 30)
    second = await stock_in(session, site.part_number, site.bin_ids[1], 10)
    before = await all_balances(session)
    # when 41 are asked for
    with pytest.raises(InsufficientStockError) as caught:
        await stock_service.pick(
            session,
            part_number=site.part_number,
            qty=41,
            warehouse_id=site.warehouse_id,
            reference="J-2",
        )
    # then it is a 409 listing what is available, and nothing moved
    error = caught.value
    assert (error.status, error.code) == (409, "insufficient_stock")
    assert error.details["available"] == 40
    assert error.details["requested"] == 41
    assert {(lot["pcn"], lot["qty"]) for lot in error.details["lots"]} == {
        (first.pcn, 30),
        (second.pcn, 10),
    }
    assert await all_balances(session) == before
    assert [e.kind for e in await ledger(session)] == ["receive", "receive"]


async def test_pick_ignores_other_warehouses_floor_and_inactive_bins(
    session: AsyncSession, site: Site
) -> None:
    # given stock in another warehouse, on the floor and in an inactive bin
    other = await a_warehouse(session)
    other_bin = await a_location(session, other)
    await stock_in(session, site.part_number, other_bin.id, 100)
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=10,
        warehouse_id=site.warehouse_id,
        reference="J-3",
    )
    await stock_in(session, site.part_number, site.bin_ids[1], 7)
    quarantine = await a_location(session, site.warehouse_id, kind="quarantine")
    await stock_in(session, site.part_number, quarantine.id, 9)
    location = await location_service.get_location_or_raise(session, site.bin_ids[1])
    location.active = False
    await session.commit()
    # when / then nothing is pickable in this warehouse
    with pytest.raises(InsufficientStockError) as caught:
        await stock_service.pick(
            session,
            part_number=site.part_number,
            qty=1,
            warehouse_id=site.warehouse_id,
            reference="J-3",
        )
    assert caught.value.details["available"] == 0


async def test_pick_rules(session: AsyncSession, site: Site) -> None:
    # given a lot of another part
    other = await a_part(session)
    foreign = await stock_in(session, other.number, site.bin_ids[0], 5)
    number, warehouse_id = site.part_number, site.warehouse_id
    with pytest.raises(NotFoundError):
        await stock_service.pick(
            session, part_number="NOPE", qty=1, warehouse_id=warehouse_id, reference="J"
        )
    with pytest.raises(NotFoundError) as warehouse:
        await stock_service.pick(
            session, part_number=number, qty=1, warehouse_id=999, reference="J"
        )
    assert warehouse.value.code == "warehouse_not_found"
    with pytest.raises(NotFoundError) as pcn:
        await stock_service.pick(
            session,
            part_number=number,
            qty=1,
            warehouse_id=warehouse_id,
            reference="J",
            pcn="NOPE-1",
        )
    assert pcn.value.code == "pcn_not_found"
    with pytest.raises(RuleViolationError) as mismatch:
        await stock_service.pick(
            session,
            part_number=number,
            qty=1,
            warehouse_id=warehouse_id,
            reference="J",
            pcn=foreign.pcn,
        )
    assert mismatch.value.code == "pcn_part_mismatch"
    with pytest.raises(ValidationError):
        await stock_service.pick(
            session, part_number=number, qty=1, warehouse_id=warehouse_id, reference="  "
        )
    warehouse_row = await location_service.get_warehouse_or_raise(session, warehouse_id)
    warehouse_row.active = False
    await session.commit()
    with pytest.raises(RuleViolationError):
        await stock_service.pick(
            session, part_number=number, qty=1, warehouse_id=warehouse_id, reference="J"
        )


# --- restock --------------------------------------------------------------------------


async def test_restock_returns_to_where_it_was_picked_from(
    session: AsyncSession, site: Site
) -> None:
    # given a PCN picked from bin 2 onto the floor
    lot = await stock_in(session, site.part_number, site.bin_ids[1], 100)
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=60,
        warehouse_id=site.warehouse_id,
        reference="J-5",
    )
    # when 15 unused come back without a destination
    movement = await stock_service.restock(session, pcn=lot.pcn, qty=15)
    # then they go back to bin 2
    assert (movement.from_location_id, movement.to_location_id) == (site.floor_id, site.bin_ids[1])
    assert await balances(session, lot.id) == {site.bin_ids[1]: 55, site.floor_id: 45}
    last = (await ledger(session, lot.id))[-1]
    assert (last.kind, last.qty, last.from_location_id, last.to_location_id) == (
        "restock",
        15,
        site.floor_id,
        site.bin_ids[1],
    )


async def test_restock_default_is_the_latest_pick_source(session: AsyncSession, site: Site) -> None:
    # given a PCN picked from bin 1, then moved to bin 3 and picked from there
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 20)
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=5,
        warehouse_id=site.warehouse_id,
        reference="J-1",
    )
    await stock_service.transfer(
        session,
        pcn=lot.pcn,
        qty=15,
        from_location_id=site.bin_ids[0],
        to_location_id=site.bin_ids[2],
    )
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=5,
        warehouse_id=site.warehouse_id,
        reference="J-2",
    )
    # when some come back without a destination
    movement = await stock_service.restock(session, pcn=lot.pcn, qty=2)
    # then they go where the latest pick took them from
    assert movement.to_location_id == site.bin_ids[2]
    assert await balances(session, lot.id) == {
        site.bin_ids[0]: 0,
        site.floor_id: 8,
        site.bin_ids[2]: 12,
    }


async def test_restock_to_a_named_bin_and_too_much(session: AsyncSession, site: Site) -> None:
    # given 10 of a PCN on the floor
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=10,
        warehouse_id=site.warehouse_id,
        reference="J-6",
    )
    # when 4 go to bin 3
    await stock_service.restock(session, pcn=lot.pcn, qty=4, to_location_id=site.bin_ids[2])
    # and 7 more are asked for (only 6 on the floor)
    with pytest.raises(InsufficientStockError) as caught:
        await stock_service.restock(session, pcn=lot.pcn, qty=7)
    # then
    assert caught.value.details["available"] == 6
    assert await balances(session, lot.id) == {
        site.bin_ids[0]: 0,
        site.floor_id: 6,
        site.bin_ids[2]: 4,
    }


async def test_restock_rules(session: AsyncSession, site: Site) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    with pytest.raises(ValidationError) as never_picked:
        await stock_service.restock(session, pcn=lot.pcn, qty=1)
    assert never_picked.value.code == "restock_destination_required"
    with pytest.raises(RuleViolationError):
        await stock_service.restock(session, pcn=lot.pcn, qty=1, to_location_id=site.floor_id)
    with pytest.raises(NotFoundError):
        await stock_service.restock(session, pcn="NOPE", qty=1, to_location_id=site.bin_ids[0])
    with pytest.raises(InsufficientStockError):
        await stock_service.restock(session, pcn=lot.pcn, qty=1, to_location_id=site.bin_ids[0])


# --- transfer -------------------------------------------------------------------------


async def test_transfer_moves_between_bins_and_warehouses(
    session: AsyncSession, site: Site
) -> None:
    # given
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 40)
    far = await a_location(session, await a_warehouse(session))
    # when
    await stock_service.transfer(
        session,
        pcn=lot.pcn,
        qty=15,
        from_location_id=site.bin_ids[0],
        to_location_id=site.bin_ids[1],
    )
    await stock_service.transfer(
        session, pcn=lot.pcn, qty=5, from_location_id=site.bin_ids[1], to_location_id=far.id
    )
    # then
    assert await balances(session, lot.id) == {site.bin_ids[0]: 25, site.bin_ids[1]: 10, far.id: 5}
    kinds = [(e.kind, e.qty) for e in await ledger(session, lot.id)]
    assert kinds == [("receive", 40), ("transfer", 15), ("transfer", 5)]


async def test_transfer_rules(session: AsyncSession, site: Site) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    bin_a, bin_b = site.bin_ids[0], site.bin_ids[1]
    with pytest.raises(ValidationError) as same:
        await stock_service.transfer(
            session, pcn=lot.pcn, qty=1, from_location_id=bin_a, to_location_id=bin_a
        )
    assert same.value.code == "same_location"
    with pytest.raises(InsufficientStockError) as short:
        await stock_service.transfer(
            session, pcn=lot.pcn, qty=11, from_location_id=bin_a, to_location_id=bin_b
        )
    assert short.value.details["available"] == 10
    with pytest.raises(NotFoundError):
        await stock_service.transfer(
            session, pcn=lot.pcn, qty=1, from_location_id=999_999, to_location_id=bin_b
        )
    location = await location_service.get_location_or_raise(session, bin_b)
    location.active = False
    await session.commit()
    with pytest.raises(RuleViolationError):
        await stock_service.transfer(
            session, pcn=lot.pcn, qty=1, from_location_id=bin_a, to_location_id=bin_b
        )
    assert await balances(session, lot.id) == {bin_a: 10}


# --- adjust ---------------------------------------------------------------------------


async def test_adjust_writes_the_difference(session: AsyncSession, site: Site) -> None:
    # given 100 on the books
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 100)
    # when 97 are counted
    loss = await stock_service.adjust_count(
        session, pcn=lot.pcn, location_id=site.bin_ids[0], counted_qty=97, reason="cycle count"
    )
    # and then 105, and then 105 again, and 3 in a bin it was never in
    gain = await stock_service.adjust_count(
        session, pcn=lot.pcn, location_id=site.bin_ids[0], counted_qty=105, reason="found"
    )
    same = await stock_service.adjust_count(
        session, pcn=lot.pcn, location_id=site.bin_ids[0], counted_qty=105, reason="recount"
    )
    found = await stock_service.adjust_count(
        session, pcn=lot.pcn, location_id=site.bin_ids[1], counted_qty=3, reason="stray reel"
    )
    # then
    assert (loss.previous_qty, loss.difference) == (100, -3)
    assert (gain.previous_qty, gain.difference) == (97, 8)
    assert same.difference == 0
    assert same.entry is None
    assert found.difference == 3
    assert await balances(session, lot.id) == {site.bin_ids[0]: 105, site.bin_ids[1]: 3}
    adjustments = [
        (e.qty, e.from_location_id, e.to_location_id, e.reason)
        for e in await ledger(session, lot.id)
        if e.kind == "adjust"
    ]
    assert adjustments == [
        (3, site.bin_ids[0], None, "cycle count"),
        (8, None, site.bin_ids[0], "found"),
        (3, None, site.bin_ids[1], "stray reel"),
    ]
    events = list(
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "stock.adjust"))
    )
    assert len(events) == 4


async def test_adjust_rules(session: AsyncSession, site: Site) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    bin_a, bin_b = site.bin_ids[0], site.bin_ids[1]
    with pytest.raises(ValidationError):
        await stock_service.adjust_count(
            session, pcn=lot.pcn, location_id=bin_a, counted_qty=5, reason=" "
        )
    with pytest.raises(ValidationError):
        await stock_service.adjust_count(
            session, pcn=lot.pcn, location_id=bin_a, counted_qty=-1, reason="x"
        )
    with pytest.raises(NotFoundError):
        await stock_service.adjust_count(
            session, pcn=lot.pcn, location_id=999_999, counted_qty=1, reason="x"
        )
    location = await location_service.get_location_or_raise(session, bin_b)
    location.active = False
    await session.commit()
    with pytest.raises(RuleViolationError):
        await stock_service.adjust_count(
            session, pcn=lot.pcn, location_id=bin_b, counted_qty=1, reason="x"
        )
    # counting an active location down to zero is fine
    result = await stock_service.adjust_count(
        session, pcn=lot.pcn, location_id=bin_a, counted_qty=0, reason="empty"
    )
    assert result.difference == -10
    assert await balances(session, lot.id) == {bin_a: 0}


# --- consume / scrap ------------------------------------------------------------------


async def test_consume_and_scrap_leave_to_nowhere(session: AsyncSession, site: Site) -> None:
    # given 20 on the floor
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 20)
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=20,
        warehouse_id=site.warehouse_id,
        reference="J-9",
    )
    # when 12 are consumed by the job and 3 scrapped
    await stock_service.consume(
        session, pcn=lot.pcn, qty=12, location_id=site.floor_id, reason="built", reference="J-9"
    )
    await stock_service.consume(
        session, pcn=lot.pcn, qty=3, location_id=site.floor_id, reason="damaged", scrap=True
    )
    # then
    assert await balances(session, lot.id) == {site.bin_ids[0]: 0, site.floor_id: 5}
    tail = [
        (e.kind, e.qty, e.from_location_id, e.to_location_id, e.reason, e.reference)
        for e in (await ledger(session, lot.id))[-2:]
    ]
    assert tail == [
        ("consume", 12, site.floor_id, None, "built", "J-9"),
        ("scrap", 3, site.floor_id, None, "damaged", None),
    ]


async def test_consume_rules(session: AsyncSession, site: Site) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 5)
    with pytest.raises(ValidationError):
        await stock_service.consume(
            session, pcn=lot.pcn, qty=1, location_id=site.bin_ids[0], reason=""
        )
    with pytest.raises(InsufficientStockError) as short:
        await stock_service.consume(
            session, pcn=lot.pcn, qty=6, location_id=site.bin_ids[0], reason="x"
        )
    assert short.value.details["available"] == 5
    with pytest.raises(NotFoundError):
        await stock_service.consume(session, pcn="NOPE", qty=1, location_id=1, reason="x")


# --- the ledger -----------------------------------------------------------------------


async def test_every_operation_is_replayable_from_the_ledger(
    session: AsyncSession, site: Site
) -> None:
    # given a day of work
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 100)
    await stock_in(session, site.part_number, site.bin_ids[1], 50)
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=120,
        warehouse_id=site.warehouse_id,
        reference="J",
    )
    await stock_service.restock(session, pcn=lot.pcn, qty=30)
    await stock_service.transfer(
        session,
        pcn=lot.pcn,
        qty=10,
        from_location_id=site.bin_ids[0],
        to_location_id=site.bin_ids[2],
    )
    await stock_service.adjust_count(
        session, pcn=lot.pcn, location_id=site.bin_ids[2], counted_qty=12, reason="count"
    )
    await stock_service.consume(
        session, pcn=lot.pcn, qty=5, location_id=site.floor_id, reason="used"
    )
    # then the ledger replays to the balances exactly
    assert await replayed(session) == non_zero(await all_balances(session))
    # and every row carries its actor
    entries = list(await session.scalars(select(StockTransaction)))
    assert all(e.actor_name == "system" for e in entries)
