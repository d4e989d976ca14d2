"""Stocktakes: scope and snapshot, counts, unexpected and missing PCNs, movements during the
count (docs/adr/0003), recounts, the variance report and posting as adjust rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.catalog.schemas import PartUpdate
from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError
from kosh.documents import cycle_count, stocktake
from kosh.documents import queries as document_queries
from kosh.documents import service as document_service
from kosh.documents.stocktake import Scope
from kosh.stock import service as stock_service
from kosh.stock import verify as stock_verify
from tests.support.stock import (
    Site,
    a_location,
    a_part,
    a_site,
    balances,
    ledger,
    stock_in,
)


@pytest.fixture
async def site(session: AsyncSession) -> Site:
    return await a_site(session, bins=3)


async def test_zone_stocktake_posts_variances_as_adjust_rows(
    session: AsyncSession, site: Site
) -> None:
    # given a zone A- with two bins (and a bin outside it), stock in all of them
    a1 = (await a_location(session, site.warehouse_id, code="A-01")).id
    a2 = (await a_location(session, site.warehouse_id, code="A-02")).id
    part = await part_service.get_part_or_raise(session, site.part_id)
    await part_service.update_part(
        session, site.part_id, data=PartUpdate(unit_cost=Decimal("0.25"), version=part.version)
    )
    ok = await stock_in(session, site.part_number, a1, 100)
    short = await stock_in(session, site.part_number, a1, 50)
    gone = await stock_in(session, site.part_number, a1, 7)
    stray = await stock_in(session, site.part_number, site.bin_ids[0], 5)  # outside the zone
    untouched = await stock_in(session, site.part_number, a2, 30)
    elsewhere = await stock_in(session, site.part_number, site.bin_ids[1], 9)

    # when a manager opens the stocktake, the snapshot holds the zone's balances only
    document = await document_service.create_document(
        session,
        type="stocktake",
        warehouse_id=site.warehouse_id,
        scope=Scope(zone="a-"),
        blind=True,
    )
    document_id, number = document.id, document.number
    assert number.startswith("ST-")
    lines = await document_queries.stocktake_lines(session, document_id)
    assert {(x.pcn, x.location_id, x.expected_qty) for x in lines} == {
        (ok.pcn, a1, 100),
        (short.pcn, a1, 50),
        (gone.pcn, a1, 7),
        (untouched.pcn, a2, 30),
    }

    # and clerks count A-01: one right, one short, one PCN that should not be there;
    # the PCN `gone` is not found; A-02 is never visited
    first = await stocktake.record_count(
        session, document_id=document_id, location_id=a1, pcn=ok.pcn, counted_qty=100
    )
    assert stocktake.count_view(first)["expected_qty"] is None  # blind
    await stocktake.record_count(
        session, document_id=document_id, location_id=a1, pcn=short.pcn, counted_qty=45
    )
    surprise = await stocktake.record_count(
        session, document_id=document_id, location_id=a1, pcn=stray.pcn, counted_qty=5
    )
    assert surprise.line.unexpected

    # then the variance report shows every line's fate before posting
    report = await stocktake.variance(session, document_id=document_id)
    status = {x.pcn: (x.status, x.variance) for x in report.lines}
    assert status == {
        ok.pcn: ("counted", 0),
        short.pcn: ("counted", -5),
        stray.pcn: ("unexpected", 5),
        gone.pcn: ("missing", -7),
        untouched.pcn: ("not_counted", 0),
    }
    assert (report.units_gained, report.units_lost) == (5, 12)
    assert report.value == Decimal("0.25") * -7
    [part_line] = report.parts
    assert part_line.variance == -7

    # when the manager posts
    posted = await document_service.post_document(session, document_id=document_id)

    # then each counted balance equals its count, the missing PCN is zeroed, the uncounted
    # location is left, and the ledger holds one adjust row per variance
    assert posted.movements == 3
    assert await balances(session, ok.id) == {a1: 100}
    assert await balances(session, short.id) == {a1: 45}
    assert await balances(session, gone.id) == {a1: 0}
    assert await balances(session, stray.id) == {site.bin_ids[0]: 5, a1: 5}
    assert await balances(session, untouched.id) == {a2: 30}
    assert await balances(session, elsewhere.id) == {site.bin_ids[1]: 9}
    adjusts = [e for e in await ledger(session) if e.kind == "adjust"]
    assert sorted(
        (e.lot_id, e.qty, e.from_location_id, e.to_location_id) for e in adjusts
    ) == sorted([(short.id, 5, a1, None), (stray.id, 5, None, a1), (gone.id, 7, a1, None)])
    assert {e.reference for e in adjusts} == {number}
    assert (await stock_verify.verify(session)).ok
    # and A-01 was counted now, A-02 never
    last = await document_queries.last_counted(session, [a1, a2])
    assert set(last) == {a1}
    plan = await cycle_count.plan(session, warehouse_id=site.warehouse_id)
    assert plan[-1].location_id == a1


async def test_movements_during_the_count_are_not_variances(
    session: AsyncSession, site: Site
) -> None:
    # given a PCN of 100 counted as 100, then 30 picked before posting
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 100)
    other = await stock_in(session, site.part_number, site.bin_ids[0], 20)
    document = await document_service.create_document(
        session, type="stocktake", warehouse_id=site.warehouse_id
    )
    document_id = document.id
    await stocktake.record_count(
        session, document_id=document_id, location_id=site.bin_ids[0], pcn=lot.pcn, counted_qty=100
    )
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=30,
        warehouse_id=site.warehouse_id,
        reference="JOB-1",
        pcn=lot.pcn,
    )
    # and the other PCN is picked from before it is counted, then counted 2 short
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=5,
        warehouse_id=site.warehouse_id,
        reference="JOB-2",
        pcn=other.pcn,
    )
    await stocktake.record_count(
        session,
        document_id=document_id,
        location_id=site.bin_ids[0],
        pcn=other.pcn,
        counted_qty=13,
    )
    # when posted
    await document_service.post_document(session, document_id=document_id)
    # then the pick is no variance; the other PCN loses exactly the 2 it was short
    assert await balances(session, lot.id) == {site.bin_ids[0]: 70, site.floor_id: 30}
    assert await balances(session, other.id) == {site.bin_ids[0]: 13, site.floor_id: 5}
    adjusts = [e for e in await ledger(session) if e.kind == "adjust"]
    assert [(e.lot_id, e.qty) for e in adjusts] == [(other.id, 2)]


async def test_recount_blocks_posting_until_counted_again(
    session: AsyncSession, site: Site
) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    document = await document_service.create_document(
        session,
        type="stocktake",
        warehouse_id=site.warehouse_id,
        scope=Scope(location_ids=(site.bin_ids[0],)),
    )
    document_id = document.id
    count = await stocktake.record_count(
        session, document_id=document_id, location_id=site.bin_ids[0], pcn=lot.pcn, counted_qty=1
    )
    line_id = count.line.id
    await stocktake.request_recount(session, document_id=document_id, line_ids=[line_id])
    with pytest.raises(ConflictError) as refused:
        await document_service.post_document(session, document_id=document_id)
    assert refused.value.code == "recount_pending"
    with pytest.raises(NotFoundError):
        await stocktake.request_recount(session, document_id=document_id, line_ids=[999_999])
    await stocktake.record_count(
        session, document_id=document_id, location_id=site.bin_ids[0], pcn=lot.pcn, counted_qty=10
    )
    posted = await document_service.post_document(session, document_id=document_id)
    assert posted.movements == 0
    assert await balances(session, lot.id) == {site.bin_ids[0]: 10}


async def test_counts_outside_the_scope_are_refused(session: AsyncSession, site: Site) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    other = await a_part(session)
    foreign = await stock_in(session, other.number, site.bin_ids[0], 3)
    document = await document_service.create_document(
        session,
        type="stocktake",
        warehouse_id=site.warehouse_id,
        scope=Scope(location_ids=(site.bin_ids[0],), part_ids=(site.part_id,)),
    )
    document_id = document.id
    lines = await document_queries.stocktake_lines(session, document_id)
    assert [x.pcn for x in lines] == [lot.pcn]
    cases = [
        (site.bin_ids[1], lot.pcn, "location_out_of_scope"),
        (site.bin_ids[0], foreign.pcn, "part_out_of_scope"),
    ]
    for location_id, pcn, code in cases:
        with pytest.raises(RuleViolationError) as refused:
            await stocktake.record_count(
                session, document_id=document_id, location_id=location_id, pcn=pcn, counted_qty=1
            )
        assert refused.value.code == code
    with pytest.raises(NotFoundError):
        await stocktake.record_count(
            session, document_id=document_id, location_id=site.bin_ids[0], pcn="NOPE", counted_qty=1
        )
    with pytest.raises(RuleViolationError) as empty:
        await document_service.create_document(
            session, type="stocktake", warehouse_id=site.warehouse_id, scope=Scope(zone="ZZZ")
        )
    assert empty.value.code == "empty_scope"


async def test_a_loss_larger_than_what_is_left_refuses_the_posting(
    session: AsyncSession, site: Site
) -> None:
    # given a PCN counted 4 short while 10 were booked, then 8 of them were picked
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    document = await document_service.create_document(
        session, type="stocktake", warehouse_id=site.warehouse_id
    )
    document_id = document.id
    await stocktake.record_count(
        session, document_id=document_id, location_id=site.bin_ids[0], pcn=lot.pcn, counted_qty=6
    )
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=8,
        warehouse_id=site.warehouse_id,
        reference="JOB-3",
    )
    rows = len(await ledger(session))
    # when posted: the loss of 4 exceeds the 2 left
    with pytest.raises(ConflictError) as refused:
        await document_service.post_document(session, document_id=document_id)
    # then nothing is adjusted; the line is named so it can be recounted
    assert refused.value.code == "insufficient_stock"
    assert "line_no" in refused.value.details
    assert len(await ledger(session)) == rows
