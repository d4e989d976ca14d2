"""Clerks receiving the same PO line at once (real commits, one session per task): the line
never takes more than allowed, no unit is lost, and received totals equal the ledger."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.core.errors import ConflictError
from kosh.purchasing import service as purchasing_service
from kosh.purchasing.receiving import Bag
from kosh.stock import verify as stock_verify
from tests.purchasing.factories import (
    a_po,
    buying,
    ledger_units,
    line_state,
    order_status,
    receipt_units,
)

Sessions = async_sessionmaker[AsyncSession]


async def _receive(
    sessions: Sessions, order_id: int, line_id: int, location_id: int, qty: int
) -> str:
    async with sessions() as session:
        try:
            await purchasing_service.receive(
                session,
                order_id=order_id,
                location_id=location_id,
                bags=[Bag(line_id=line_id, qty=qty)],
            )
        except ConflictError as exc:
            return exc.code
        return "ok"


async def test_racing_receipts_never_over_receive(sessions: Sessions) -> None:
    # given: 100 ordered
    async with sessions() as session:
        b = await buying(session)
        order_id, number, line_id = await a_po(session, b, 100)
    # when: 8 bags of 15 arrive at once (few tasks: each holds a connection)
    results = await asyncio.gather(
        *(_receive(sessions, order_id, line_id, b.receiving_id, 15) for _ in range(8))
    )
    # then: exactly six fit (90); the other two are clean over_receipt refusals
    assert sorted(results) == ["ok"] * 6 + ["over_receipt"] * 2
    async with sessions() as session:
        assert (await line_state(session, line_id)).qty_received == 90
        assert await ledger_units(session, number) == 90 == await receipt_units(session, order_id)
        assert await order_status(session, order_id) == "partially_received"
        assert (await stock_verify.verify(session)).ok


@pytest.fixture
def postgres_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks and READ COMMITTED re-reads are PostgreSQL's")


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_only")
async def test_two_clerks_race_for_the_last_units(sessions: Sessions) -> None:
    # given: lines of 7 units, two clerks each scanning a bag of 4 at the same moment
    for _ in range(5):
        async with sessions() as session:
            b = await buying(session)
            order_id, number, line_id = await a_po(session, b, 7)
        # when
        results = await asyncio.gather(
            _receive(sessions, order_id, line_id, b.receiving_id, 4),
            _receive(sessions, order_id, line_id, b.site.bin_ids[0], 4),
        )
        # then: one bag is booked, the other refused; nothing is lost or doubled
        assert sorted(results) == ["ok", "over_receipt"]
        async with sessions() as session:
            assert (await line_state(session, line_id)).qty_received == 4
            assert (
                await ledger_units(session, number) == 4 == await receipt_units(session, order_id)
            )
