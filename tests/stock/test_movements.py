"""The non-committing primitives other features build on: move, take_fifo, receive_lot,
on_hand. They join the caller's transaction, so a failure later rolls them back too."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.db import transactional
from kosh.core.errors import ConflictError, NotFoundError, ValidationError
from kosh.locations import service as location_service
from kosh.stock import fifo, movements
from kosh.stock.errors import InsufficientStockError
from kosh.stock.movements import MovedLine
from tests.support.stock import (
    Site,
    a_location,
    a_part,
    a_site,
    all_balances,
    balances,
    ledger,
    stock_in,
)


@pytest.fixture
async def site(session: AsyncSession) -> Site:
    return await a_site(session, bins=2)


async def test_take_fifo_to_shipping_inside_a_callers_transaction(
    session: AsyncSession, site: Site
) -> None:
    # given 8 + 5 in storage
    first = await stock_in(session, site.part_number, site.bin_ids[0], 8)
    second = await stock_in(session, site.part_number, site.bin_ids[1], 5)

    @transactional
    async def ship(session: AsyncSession) -> list[MovedLine]:
        dock = await location_service.ensure_location(
            session, site.warehouse_id, "SHIP", "shipping"
        )
        lines = await fifo.take_fifo(
            session,
            part_id=site.part_id,
            warehouse_id=site.warehouse_id,
            qty=10,
            to_location_id=dock.id,
            kind="ship",
            reference="SO-1",
        )
        return lines

    # when
    lines = await ship(session)
    # then
    dock = await location_service.find_location(session, site.warehouse_id, "SHIP")
    assert dock is not None
    assert lines == [
        MovedLine(pcn=first.pcn, lot_id=first.id, qty=8, from_location_id=site.bin_ids[0]),
        MovedLine(pcn=second.pcn, lot_id=second.id, qty=2, from_location_id=site.bin_ids[1]),
    ]
    assert await balances(session, second.id) == {site.bin_ids[1]: 3, dock.id: 2}
    assert [e.kind for e in await ledger(session)][-2:] == ["ship", "ship"]


async def test_a_failure_later_in_the_unit_of_work_undoes_the_take(
    session: AsyncSession, site: Site
) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 8)
    before = await all_balances(session)

    @transactional
    async def take_then_fail(session: AsyncSession) -> None:
        await fifo.take_fifo(
            session,
            part_id=site.part_id,
            warehouse_id=site.warehouse_id,
            qty=3,
            to_location_id=None,
            kind="consume",
            reference="J",
        )
        raise NotFoundError("a later step failed")

    with pytest.raises(NotFoundError):
        await take_then_fail(session)
    assert await all_balances(session) == before
    assert len(await ledger(session, lot.id)) == 1


async def test_take_fifo_from_other_kinds_and_to_nowhere(session: AsyncSession, site: Site) -> None:
    # given stock in quarantine and in storage
    quarantine = await a_location(session, site.warehouse_id, kind="quarantine")
    held = await stock_in(session, site.part_number, quarantine.id, 4)
    await stock_in(session, site.part_number, site.bin_ids[0], 4)

    @transactional
    async def scrap_quarantined(session: AsyncSession) -> list[MovedLine]:
        return await fifo.take_fifo(
            session,
            part_id=site.part_id,
            warehouse_id=site.warehouse_id,
            qty=4,
            to_location_id=None,
            kind="scrap",
            reference=None,
            from_kinds=("quarantine",),
        )

    lines = await scrap_quarantined(session)
    assert [(line.pcn, line.qty) for line in lines] == [(held.pcn, 4)]
    assert await balances(session, held.id) == {quarantine.id: 0}


async def test_move_refuses_to_go_below_zero(session: AsyncSession, site: Site) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 3)

    @transactional
    async def overdraw(session: AsyncSession) -> None:
        await movements.move(
            session,
            lot_id=lot.id,
            from_location_id=site.bin_ids[0],
            to_location_id=site.bin_ids[1],
            qty=4,
            kind="transfer",
        )

    with pytest.raises(InsufficientStockError) as caught:
        await overdraw(session)
    assert caught.value.details["available"] == 3
    assert await balances(session, lot.id) == {site.bin_ids[0]: 3}


@pytest.mark.parametrize(
    ("kind", "source", "destination", "lot_id", "message"),
    [
        ("teleport", 0, 1, None, "unknown movement kind"),
        ("adjust", None, None, None, "needs a source or a destination"),
        ("adjust", None, 1, 999_999, "no lot with id 999999"),
    ],
    ids=["unknown-kind", "nowhere-to-nowhere", "unknown-lot"],
)
async def test_move_refuses_what_no_caller_may_ask(
    session: AsyncSession,
    site: Site,
    kind: str,
    source: int | None,
    destination: int | None,
    lot_id: int | None,
    message: str,
) -> None:
    # (programming errors of a calling feature, not user input: ValueError, nothing moved)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 3)
    with pytest.raises(ValueError, match=message):
        await movements.move(
            session,
            lot_id=lot_id or lot.id,
            from_location_id=None if source is None else site.bin_ids[source],
            to_location_id=None if destination is None else site.bin_ids[destination],
            qty=1,
            kind=kind,
        )
    await session.rollback()
    assert await balances(session, lot.id) == {site.bin_ids[0]: 3}


async def test_two_clerks_typing_the_same_new_pcn_at_once_one_gets_a_clean_409(
    sessions: async_sessionmaker[AsyncSession], site: Site
) -> None:
    async with sessions() as probe:
        if probe.get_bind().dialect.name != "postgresql":
            pytest.skip("concurrent writers need PostgreSQL (SQLite has one writer)")
    async with sessions() as first, sessions() as second:
        # given one clerk's new lot REEL-7, flushed and not yet committed
        await movements.new_lot(first, part_id=site.part_id, pcn="REEL-7")

        # when the other types REEL-7 too (it is not visible yet), then the first commits
        racing = asyncio.create_task(movements.new_lot(second, part_id=site.part_id, pcn="REEL-7"))
        await asyncio.sleep(0.3)  # the second insert now waits on the unique index
        await first.commit()

        # then the second gets the same 409 as if it had seen the lot
        with pytest.raises(ConflictError) as caught:
            await racing
        assert caught.value.code == "pcn_taken"
        await second.rollback()


@pytest.mark.parametrize("qty", [0, -5, 1.5, True, 1_000_000_001, "12"])
async def test_move_checks_the_quantity(session: AsyncSession, site: Site, qty: object) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 3)
    with pytest.raises(ValidationError):
        await movements.move(
            session,
            lot_id=lot.id,
            from_location_id=None,
            to_location_id=site.bin_ids[1],
            qty=qty,
            kind="adjust",  # type: ignore[arg-type]
        )
    await session.rollback()


async def test_receive_lot_for_a_finished_assembly(session: AsyncSession, site: Site) -> None:
    assembly = await a_part(session, "ASSY-1")

    @transactional
    async def complete_job(session: AsyncSession) -> int:
        lot = await movements.receive_lot(
            session,
            part_id=assembly.id,
            qty=10,
            location_id=site.bin_ids[0],
            pcn=None,
            kind="produce",
            reference="J-77",
        )
        return lot.id

    lot_id = await complete_job(session)
    [entry] = await ledger(session, lot_id)
    assert (entry.kind, entry.qty, entry.reference, entry.from_location_id) == (
        "produce",
        10,
        "J-77",
        None,
    )


async def test_on_hand_counts_active_storage_of_one_warehouse(
    session: AsyncSession, site: Site
) -> None:
    # given
    other_part = await a_part(session)
    other_id = other_part.id
    await stock_in(session, site.part_number, site.bin_ids[0], 7)
    await stock_in(session, site.part_number, site.bin_ids[1], 5)
    quarantine = await a_location(session, site.warehouse_id, kind="quarantine")
    await stock_in(session, site.part_number, quarantine.id, 100)
    # when
    counts = await movements.on_hand(
        session, part_ids=[site.part_id, other_id], warehouse_id=site.warehouse_id
    )
    both = await movements.on_hand(
        session,
        part_ids=[site.part_id],
        warehouse_id=site.warehouse_id,
        kinds=("storage", "quarantine"),
    )
    # then
    assert counts == {site.part_id: 12, other_id: 0}
    assert both == {site.part_id: 112}
    assert await movements.on_hand(session, part_ids=[], warehouse_id=site.warehouse_id) == {}
