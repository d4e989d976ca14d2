"""FIFO on PostgreSQL reads the lots it locks in the locking statement, so what it read may
be stale when it waited for a lock; the guarded moves decide, and a take that finds less
than it planned re-reads under the locks and extends. These tests make a concurrent
transaction change the lots while the pick waits for them."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.db import create_engine, create_session_factory
from kosh.stock import fifo, movements
from kosh.stock import service as stock_service
from kosh.stock.errors import InsufficientStockError
from kosh.stock.metrics import FIFO_EXTENDED
from kosh.stock.models import StockBalance, StockTransaction
from tests.conftest import _empty_tables
from tests.support.stock import LotRef, Site, a_site, balances, stock_in

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def postgres_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent transactions are PostgreSQL's (SQLite serialises)")


async def _pick_while_held(
    sessions: Sessions, site: Site, qty: int, lowered: dict[int, int], *, to_floor: bool = True
) -> stock_service.Pick | list[movements.MovedLine] | InsufficientStockError:
    """Another transaction locks the lots in `lowered` and sets their balances to the given
    units; a pick of `qty` starts (and waits for those locks); then the other commits.
    `to_floor` False: a take to nowhere (consumption) instead of a pick to the floor."""
    async with sessions() as other:
        for lot_id, units in sorted(lowered.items()):
            await other.execute(
                text("SELECT id FROM lots WHERE id = :id FOR UPDATE"), {"id": lot_id}
            )
            await other.execute(
                update(StockBalance)
                .where(StockBalance.lot_id == lot_id, StockBalance.location_id != site.floor_id)
                .values(qty=units)
            )

        async def pick() -> stock_service.Pick | list[movements.MovedLine] | InsufficientStockError:
            async with sessions() as picker:
                try:
                    if not to_floor:
                        async with picker.begin():
                            return await fifo.take_fifo(
                                picker,
                                part_id=site.part_id,
                                warehouse_id=site.warehouse_id,
                                qty=qty,
                                to_location_id=None,
                                kind="consume",
                                reference="JOB-X",
                            )
                    return await stock_service.pick(
                        picker,
                        part_number=site.part_number,
                        qty=qty,
                        warehouse_id=site.warehouse_id,
                        reference="JOB-X",
                    )
                except InsufficientStockError as refused:
                    return refused

        task = asyncio.create_task(pick())
        await asyncio.sleep(0.3)
        await other.commit()
        return await task


async def _picked_rows(session: AsyncSession, kind: str = "pick") -> list[tuple[int, int]]:
    rows = await session.execute(
        select(StockTransaction.lot_id, StockTransaction.qty)
        .where(StockTransaction.kind == kind)
        .order_by(StockTransaction.id)
    )
    return [(int(lot), int(qty)) for lot, qty in rows.all()]


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_a_take_that_got_the_first_lot_extends_past_an_emptied_second(
    sessions: Sessions, session: AsyncSession
) -> None:
    # given three lots, and another transaction emptying the middle one while the take waits
    site = await a_site(session, bins=3)
    old = await stock_in(session, site.part_number, site.bin_ids[0], 5)
    middle = await stock_in(session, site.part_number, site.bin_ids[1], 5)
    new = await stock_in(session, site.part_number, site.bin_ids[2], 10)
    extended = FIFO_EXTENDED._value.get()

    # when a take of 8 planned 5 + 3 from the two older lots
    result = await _pick_while_held(sessions, site, 8, {middle.id: 0}, to_floor=False)

    # then it kept the 5 from the oldest and took the rest from the newest, one ledger row each
    assert isinstance(result, list)
    assert [(line.lot_id, line.qty) for line in result] == [(old.id, 5), (new.id, 3)]
    session.expire_all()
    assert await _picked_rows(session, "consume") == [(old.id, 5), (new.id, 3)]
    assert await balances(session, new.id) == {site.bin_ids[2]: 7}
    assert FIFO_EXTENDED._value.get() == extended + 1


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
@pytest.mark.parametrize(("left", "picked_from"), [(2, "old"), (0, "new")])
async def test_a_pick_that_waited_for_the_first_lot_takes_from_what_was_left(
    sessions: Sessions, session: AsyncSession, left: int, picked_from: str
) -> None:
    # given two lots, the older lowered by another transaction while a one-unit pick waits
    site = await a_site(session, bins=2)
    old = await stock_in(session, site.part_number, site.bin_ids[0], 5)
    new = await stock_in(session, site.part_number, site.bin_ids[1], 10)

    # when the pick (one statement when the first row still holds the unit) goes on
    result = await _pick_while_held(sessions, site, 1, {old.id: left})

    # then it took the unit from the oldest lot that still had one, and nothing was lost
    lot = {"old": old, "new": new}[picked_from]
    assert isinstance(result, stock_service.Pick)
    assert [(line.lot_id, line.qty) for line in result.lines] == [(lot.id, 1)]
    session.expire_all()
    assert await _picked_rows(session) == [(lot.id, 1)]
    assert await balances(session, old.id) == (
        {site.bin_ids[0]: 1, site.floor_id: 1} if left else {site.bin_ids[0]: 0}
    )
    assert await balances(session, new.id) == (
        {site.bin_ids[1]: 10} if left else {site.bin_ids[1]: 9, site.floor_id: 1}
    )


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_a_take_that_cannot_extend_is_refused_whole_with_what_there_was(
    sessions: Sessions, session: AsyncSession
) -> None:
    # given two lots, the second emptied by another transaction while the pick waits
    site = await a_site(session, bins=2)
    old = await stock_in(session, site.part_number, site.bin_ids[0], 5)
    middle = await stock_in(session, site.part_number, site.bin_ids[1], 5)

    # when a pick of 8 took the first lot's 5 and finds the second empty
    result = await _pick_while_held(sessions, site, 8, {middle.id: 0})

    # then it is 409 with the 5 there were, and nothing moved
    assert isinstance(result, InsufficientStockError)
    assert (result.details["available"], result.details["requested"]) == (5, 8)
    assert [(lot["lot_id"], lot["qty"]) for lot in result.details["lots"]] == [(old.id, 5)]
    session.expire_all()
    assert await balances(session, old.id) == {site.bin_ids[0]: 5}
    assert await _picked_rows(session) == []


def _fifo(stock: list[int], qty: int) -> list[tuple[int, int]] | None:
    """(index, units) a FIFO take of `qty` from `stock` (oldest first), None if short."""
    taken, remaining = [], qty
    for index, units in enumerate(stock):
        if remaining == 0:
            break
        if units:
            take = min(units, remaining)
            taken.append((index, take))
            remaining -= take
    return None if remaining else taken


@pytest.mark.postgres
@pytest.mark.slow
def test_fifo_with_concurrent_takes_matches_fifo_over_what_was_left(
    base_settings: Settings, engine: AsyncEngine
) -> None:
    # Hypothesis calls the property synchronously: it gets its own loop and engine.
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks and concurrent transactions are PostgreSQL's")
    with asyncio.Runner() as runner:
        own_engine = create_engine(base_settings)
        own_sessions = create_session_factory(own_engine)

        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        )
        @given(
            stock=st.lists(st.integers(1, 20), min_size=1, max_size=4),
            cuts=st.lists(st.integers(0, 20), min_size=4, max_size=4),
            lowered=st.sets(st.integers(0, 3), max_size=3),
            qty=st.integers(1, 60),
        )
        def prop(stock: list[int], cuts: list[int], lowered: set[int], qty: int) -> None:
            runner.run(_one_case(own_sessions, stock, cuts, lowered, qty))

        try:
            prop()
        finally:
            runner.run(_empty_tables(own_engine))  # as the `sessions` fixture leaves it
            runner.run(own_engine.dispose())


async def _one_case(
    sessions: Sessions, stock: list[int], cuts: list[int], lowered: set[int], qty: int
) -> None:
    # given lots (oldest first), some of which another transaction lowers while the pick waits
    async with sessions() as session:
        site = await a_site(session, bins=len(stock))
        lots: list[LotRef] = [
            await stock_in(session, site.part_number, site.bin_ids[i], units)
            for i, units in enumerate(stock)
        ]
    left = [min(units, cuts[i]) if i in lowered else units for i, units in enumerate(stock)]
    changes = {lots[i].id: left[i] for i in lowered if i < len(stock)}

    # when the pick runs
    result = await _pick_while_held(sessions, site, qty, changes)

    # then it took exactly what FIFO over what was left takes, or refused with what was left
    expected = _fifo(left, qty)
    async with sessions() as session:
        on_floor = await session.scalar(
            select(func.coalesce(func.sum(StockBalance.qty), 0)).where(
                StockBalance.location_id == site.floor_id
            )
        )
        in_bins = await session.scalar(
            select(func.coalesce(func.sum(StockBalance.qty), 0)).where(
                StockBalance.location_id.in_(site.bin_ids)
            )
        )
    if expected is None:
        assert isinstance(result, InsufficientStockError)
        assert result.details["available"] == sum(left) < qty
        assert (on_floor, in_bins) == (0, sum(left))
    else:
        assert isinstance(result, stock_service.Pick)
        taken: dict[int, int] = {}
        for line in result.lines:
            taken[line.lot_id] = taken.get(line.lot_id, 0) + line.qty
        assert taken == {lots[i].id: units for i, units in expected}
        assert (on_floor, in_bins) == (qty, sum(left) - qty)


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_a_take_to_nowhere_extends_past_a_lot_emptied_meanwhile(
    sessions: Sessions, session: AsyncSession
) -> None:
    # given two lots, the older emptied by another transaction while a consumption waits
    site = await a_site(session, bins=2)
    old = await stock_in(session, site.part_number, site.bin_ids[0], 5)
    new = await stock_in(session, site.part_number, site.bin_ids[1], 10)
    async with sessions() as other:
        await other.execute(text("SELECT id FROM lots WHERE id = :id FOR UPDATE"), {"id": old.id})
        await other.execute(update(StockBalance).where(StockBalance.lot_id == old.id).values(qty=0))

        async def consume() -> list[movements.MovedLine]:
            async with sessions() as taker, taker.begin():
                return await fifo.take_fifo(
                    taker,
                    part_id=site.part_id,
                    warehouse_id=site.warehouse_id,
                    qty=4,
                    to_location_id=None,
                    kind="consume",
                    reference="JOB-C",
                )

        # when a take of 4 to nowhere (consumption) planned on the older lot
        task = asyncio.create_task(consume())
        await asyncio.sleep(0.3)
        await other.commit()
        lines = await task

    # then it took the 4 from the newer lot, one ledger row
    assert [(line.lot_id, line.qty) for line in lines] == [(new.id, 4)]
    session.expire_all()
    assert await balances(session, new.id) == {site.bin_ids[1]: 6}
