"""Bulk receipts (`kosh.stock.bulk.receive_many`) and the set-based insert under them
(`kosh.core.bulk.insert_many`: COPY on PostgreSQL, executemany on SQLite): ids in row
order, the database's constraints still hold, generated PCNs skip hand-supplied ones."""

from __future__ import annotations

from typing import cast

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.bulk import insert_many
from kosh.core.db import utcnow
from kosh.core.errors import ConflictError
from kosh.stock import bulk
from kosh.stock.models import Lot, StockBalance
from kosh.stock.pcn import next_pcns
from tests.support.stock import Site, a_site, all_balances, non_zero, replayed, stock_in

_LOTS = cast(Table, Lot.__table__)
_BALANCES = cast(Table, StockBalance.__table__)


@pytest.fixture
async def site(session: AsyncSession) -> Site:
    return await a_site(session, bins=2)


def _lot(pcn: str, part_id: int) -> dict[str, object]:
    now = utcnow()
    return {
        "pcn": pcn,
        "part_id": part_id,
        "received_at": now,
        "date_code": None,
        "supplier": None,
        "reference": "T",
        "created_by": "test",
        "created_at": now,
    }


async def test_insert_many_answers_ids_in_row_order(session: AsyncSession, site: Site) -> None:
    # given rows whose PCNs do not sort like their order
    pcns = ["ZZ-3", "AA-1", "MM-2"]
    # when
    ids = await insert_many(session, _LOTS, [_lot(p, site.part_id) for p in pcns], ids=True)
    # then each id is the row's own
    by_id = dict((await session.execute(select(Lot.id, Lot.pcn).where(Lot.id.in_(ids)))).all())
    assert [by_id[i] for i in ids] == pcns
    assert await insert_many(session, _LOTS, []) == []
    await session.rollback()


async def test_insert_many_keeps_the_database_constraints(
    session: AsyncSession, site: Site
) -> None:
    # given a lot
    [lot_id] = await insert_many(session, _LOTS, [_lot("DUP-1", site.part_id)], ids=True)
    await session.commit()
    # when a balance below zero is inserted, then the CHECK refuses it
    with pytest.raises(IntegrityError):
        await insert_many(
            session, _BALANCES, [{"lot_id": lot_id, "location_id": site.bin_ids[0], "qty": -1}]
        )
    await session.rollback()
    # and a PCN given twice is refused by the unique index; nothing was written
    with pytest.raises(IntegrityError):
        await insert_many(session, _LOTS, [_lot("DUP-1", site.part_id)])
    await session.rollback()
    assert await session.scalar(select(func.count()).select_from(Lot)) == 1


async def test_generated_pcns_skip_numbers_supplied_by_hand(
    session: AsyncSession, site: Site
) -> None:
    # given a PCN that the next generated number would be
    first = await next_pcns(session, 1)
    await session.commit()
    prefix = first[0][: -len("000001")]
    taken = f"{prefix}{int(first[0][len(prefix) :]) + 2:06d}"
    await stock_in(session, site.part_number, site.bin_ids[0], 5, pcn=taken)
    # when three lots are received with generated PCNs
    received = await bulk.receive_many(
        session,
        [
            bulk.NewStock(part_id=site.part_id, qty=n, location_id=site.bin_ids[1])
            for n in (1, 2, 3)
        ],
        reference="RC-TEST",
    )
    await session.commit()
    # then they are new, distinct, and the ledger replays the balances
    names = [r.pcn for r in received]
    assert len(set(names)) == 3
    assert taken not in names
    assert non_zero(await all_balances(session)) == await replayed(session)


async def test_receive_many_reports_progress_and_refuses_a_taken_pcn(
    session: AsyncSession, site: Site
) -> None:
    # given a progress callback
    seen: list[int] = []

    async def progress(done: int) -> None:
        seen.append(done)

    # when
    await bulk.receive_many(
        session,
        [bulk.NewStock(part_id=site.part_id, qty=1, location_id=site.bin_ids[0], pcn="P-1")],
        reference="RC-1",
        progress=progress,
    )
    await session.commit()
    # then it heard of every item
    assert seen == [1]
    # and receiving the same PCN again is 409 pcn_taken naming the item
    with pytest.raises(ConflictError) as caught:
        await bulk.receive_many(
            session,
            [bulk.NewStock(part_id=site.part_id, qty=1, location_id=site.bin_ids[0], pcn="P-1")],
            reference="RC-2",
        )
    assert caught.value.code == "pcn_taken"
    assert caught.value.details["index"] == 0
    await session.rollback()


async def test_a_pcn_taken_meanwhile_is_409_and_nothing_is_received(
    session: AsyncSession, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a PCN that another receipt committed after the check (the check is bypassed)
    await stock_in(session, site.part_number, site.bin_ids[0], 5, pcn="RACE-1")

    async def nothing_taken(_session: AsyncSession, _pcns: object) -> set[str]:
        return set()

    monkeypatch.setattr(bulk, "existing_pcns", nothing_taken)
    before = await all_balances(session)
    # when
    with pytest.raises(ConflictError) as caught:
        await bulk.receive_many(
            session,
            [
                bulk.NewStock(part_id=site.part_id, qty=1, location_id=site.bin_ids[1], pcn=p)
                for p in ("RACE-0", "RACE-1")
            ],
            reference="RC-RACE",
        )
    await session.rollback()
    # then
    assert caught.value.code == "pcn_taken"
    assert await all_balances(session) == before
