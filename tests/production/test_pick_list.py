"""A job's pick list confirmed by scanning: the FIFO suggestion per line, the expected PCN
picks, a wrong PCN is refused naming the expected one with nothing moved, a younger lot
only with a reason (audited), and the usual kitting rules (open job, own line, over-kit)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.catalog.models import Part
from kosh.core.errors import ConflictError, NotFoundError
from kosh.production import kitting, picklist
from kosh.production import service as job_service
from kosh.stock import service as stock_service
from kosh.stock.models import StockTransaction
from tests.production.test_jobs import Plant, a_job, a_plant
from tests.production.test_kitting import audited, line_ids, picks_for
from tests.support.stock import all_balances, non_zero, replayed


@dataclass(frozen=True)
class Lots:
    plant: Plant
    job_id: int
    res_line: int
    cap_line: int
    old_res: str  # 40 in BIN-1, received first
    new_res: str  # 100 in BIN-2
    cap: str  # 10 in BIN-2


async def lots_and_job(session: AsyncSession) -> Lots:
    """Job J-1 for 30: 60 resistors (40 of the oldest lot, then 20 of the next, a third
    lot untouched), 30 capacitors of which storage holds 10."""
    plant = await a_plant(session, res_stock=40, cap_stock=10)
    newer = await stock_service.receive(
        session, part_number="RES-10K", qty=100, location_id=plant.bins[1]
    )
    await stock_service.receive(  # youngest: never suggested while older lots cover the line
        session, part_number="RES-10K", qty=5, location_id=plant.bins[0]
    )
    job_id = await a_job(session, plant, "J-1", 30)
    res_line, cap_line = await line_ids(session, job_id)
    found = await picklist.pick_list(session, job_id=job_id)
    old_res = found.lines[0].suggestions[0].pcn
    cap = found.lines[1].suggestions[0].pcn
    return Lots(plant, job_id, res_line, cap_line, old_res, newer.lot.pcn, cap)


async def pick_rows(session: AsyncSession) -> int:
    return len(
        list(await session.scalars(select(StockTransaction).where(StockTransaction.kind == "pick")))
    )


async def test_pick_list_names_the_oldest_pcns_and_bins_per_line(session: AsyncSession) -> None:
    # given two resistor lots (the older one short of the line) and too few capacitors
    lots = await lots_and_job(session)

    # when the pick list is read
    found = await picklist.pick_list(session, job_id=lots.job_id)

    # then each line names which PCN from which bin and how many, oldest first
    res, cap = found.lines
    assert (res.part_number, res.outstanding, res.short) == ("RES-10K", 60, 0)
    assert [(s.pcn, s.location_code, s.qty) for s in res.suggestions] == [
        (lots.old_res, "BIN-1", 40),
        (lots.new_res, "BIN-2", 20),
    ]
    assert (cap.part_number, cap.outstanding, cap.short) == ("CAP-100N", 30, 20)
    assert [(s.pcn, s.location_code, s.qty) for s in cap.suggestions] == [(lots.cap, "BIN-2", 10)]
    # and reading it moved nothing
    assert await pick_rows(session) == 0


async def test_the_expected_pcn_picks_and_the_line_moves_on_to_the_next_lot(
    session: AsyncSession,
) -> None:
    lots = await lots_and_job(session)

    # when the clerk scans the oldest lot's label (in lower case, with spaces)
    first = await picklist.confirm_line(
        session, job_id=lots.job_id, line_id=lots.res_line, scanned=f" {lots.old_res.lower()} "
    )

    # then all of that lot came to the floor and the line names the next lot
    assert (first.pcn, first.qty, first.from_bins, first.overridden) == (
        lots.old_res,
        40,
        ["BIN-1"],
        False,
    )
    assert first.line.outstanding == 20
    assert [(s.pcn, s.qty) for s in first.line.suggestions] == [(lots.new_res, 20)]
    assert "Still 20 to pick: scan PCN " + lots.new_res in picklist.confirmation_message(first)

    # when the next lot is scanned
    second = await picklist.confirm_line(
        session, job_id=lots.job_id, line_id=lots.res_line, scanned=lots.new_res
    )

    # then the line is kitted exactly, through the job's pick reference, ledger consistent
    assert (second.qty, second.line.outstanding, second.line.suggestions) == (20, 0, [])
    assert picklist.confirmation_message(second).endswith("Line done.")
    assert (await picks_for(session, "J-1"))[await _part_id(session, "RES-10K")] == 60
    assert non_zero(await replayed(session)) == non_zero(await all_balances(session))
    assert await audited(session, "job.fifo_override") == []

    # and the capacitor line takes what storage has, then says none is left in storage
    cap = await picklist.confirm_line(
        session, job_id=lots.job_id, line_id=lots.cap_line, scanned=lots.cap
    )
    assert (cap.qty, cap.line.outstanding, cap.line.suggestions) == (10, 20, [])
    assert "none in storage" in picklist.confirmation_message(cap)
    with pytest.raises(ConflictError) as empty:
        await picklist.confirm_line(
            session, job_id=lots.job_id, line_id=lots.cap_line, scanned=lots.cap
        )
    assert empty.value.code == "insufficient_stock"
    with pytest.raises(ConflictError) as again:
        await picklist.confirm_line(
            session, job_id=lots.job_id, line_id=lots.res_line, scanned=lots.new_res
        )
    assert again.value.code == "already_kitted"


async def _part_id(session: AsyncSession, number: str) -> int:
    part_id = await session.scalar(select(Part.id).where(Part.number == number))
    assert part_id is not None
    return part_id


async def test_a_wrong_pcn_is_refused_naming_the_expected_one_and_nothing_moves(
    session: AsyncSession,
) -> None:
    lots = await lots_and_job(session)
    before = non_zero(await all_balances(session))

    # when the capacitor label is scanned for the resistor line, or a label KOSH never made
    with pytest.raises(picklist.WrongPcnError) as other_part:
        await picklist.confirm_line(
            session, job_id=lots.job_id, line_id=lots.res_line, scanned=lots.cap
        )
    with pytest.raises(picklist.WrongPcnError) as unknown:
        await picklist.confirm_line(
            session, job_id=lots.job_id, line_id=lots.res_line, scanned="NOPE-1"
        )

    # then both are refused with the PCN and bin to take instead, and nothing moved
    assert other_part.value.code == "wrong_pcn"
    assert str(other_part.value) == (
        f"PCN {lots.cap} is not RES-10K: scan PCN {lots.old_res} from BIN-1 for line 1."
    )
    assert other_part.value.details["expected_pcn"] == lots.old_res
    assert other_part.value.details["expected_location"] == "BIN-1"
    assert other_part.value.errors[0]["loc"] == ["scanned"]
    assert str(unknown.value).startswith(f"No PCN NOPE-1: scan PCN {lots.old_res} from BIN-1")
    assert non_zero(await all_balances(session)) == before
    assert await pick_rows(session) == 0


async def test_a_younger_lot_needs_a_reason_and_the_override_is_audited(
    session: AsyncSession,
) -> None:
    lots = await lots_and_job(session)
    before = non_zero(await all_balances(session))

    # when the newer lot is scanned without a reason
    with pytest.raises(picklist.NotFifoError) as refused:
        await picklist.confirm_line(
            session, job_id=lots.job_id, line_id=lots.res_line, scanned=lots.new_res
        )

    # then it is refused naming the oldest lot, and nothing moved
    assert refused.value.code == "not_fifo"
    assert f"scan PCN {lots.old_res} from BIN-1, or give a reason" in str(refused.value)
    assert non_zero(await all_balances(session)) == before

    # when it is scanned again with a reason
    done = await picklist.confirm_line(
        session,
        job_id=lots.job_id,
        line_id=lots.res_line,
        scanned=lots.new_res,
        reason="bag of the old lot torn",
    )

    # then the whole line came from the newer lot, the older one untouched, and audited
    assert (done.pcn, done.qty, done.overridden, done.line.outstanding) == (
        lots.new_res,
        60,
        True,
        0,
    )
    old_lot = await stock_service.get_lot_by_pcn(session, lots.old_res)
    assert old_lot is not None
    after = non_zero(await all_balances(session))
    assert after[(old_lot.id, lots.plant.bins[0])] == 40
    [event] = await audited(session, "job.fifo_override")
    assert event.entity_id == str(lots.job_id)
    assert event.after["expected_pcn"] == lots.old_res
    assert event.after["picked_pcn"] == lots.new_res
    assert event.after["qty"] == 60
    assert event.after["reason"] == "bag of the old lot torn"
    assert non_zero(await replayed(session)) == after


async def test_an_override_lot_with_nothing_in_storage_is_refused(session: AsyncSession) -> None:
    # given the newer lot moved entirely to the floor for another job
    lots = await lots_and_job(session)
    await stock_service.pick(
        session,
        part_number="RES-10K",
        qty=100,
        warehouse_id=lots.plant.warehouse_id,
        reference="OTHER",
        pcn=lots.new_res,
    )

    with pytest.raises(ConflictError) as empty:
        await picklist.confirm_line(
            session,
            job_id=lots.job_id,
            line_id=lots.res_line,
            scanned=lots.new_res,
            reason="closer",
        )
    assert empty.value.code == "insufficient_stock"
    assert lots.old_res in str(empty.value)


async def test_scanning_needs_an_open_job_and_its_own_line(session: AsyncSession) -> None:
    lots = await lots_and_job(session)
    with pytest.raises(NotFoundError) as foreign:
        await picklist.confirm_line(session, job_id=lots.job_id, line_id=999_999, scanned="X")
    assert foreign.value.code == "job_line_not_found"
    with pytest.raises(NotFoundError):
        await picklist.pick_list(session, job_id=999_999)

    await job_service.cancel_job(session, job_id=lots.job_id)
    with pytest.raises(ConflictError) as closed:
        await picklist.confirm_line(
            session, job_id=lots.job_id, line_id=lots.res_line, scanned=lots.old_res
        )
    assert closed.value.code == "invalid_transition"


async def test_with_scan_confirmation_kit_all_picks_nothing_blind(session: AsyncSession) -> None:
    lots = await lots_and_job(session)
    with pytest.raises(ConflictError) as refused:
        await kitting.kit_all(session, job_id=lots.job_id, scan_confirm=True)
    assert refused.value.code == "scan_confirm_required"
    assert refused.value.details["pick_list"] == f"/jobs/{lots.job_id}/pick-list"
    assert await pick_rows(session) == 0


async def test_two_clerks_scanning_one_line_at_once_never_over_kit(
    sessions: async_sessionmaker[AsyncSession], session: AsyncSession
) -> None:
    """On PostgreSQL the scans really overlap; the over-kit guard refuses the second."""
    lots = await lots_and_job(session)
    await session.commit()  # end this session's read snapshot

    async def scan() -> str:
        async with sessions() as own:
            try:
                done = await picklist.confirm_line(
                    own, job_id=lots.job_id, line_id=lots.cap_line, scanned=lots.cap
                )
            except ConflictError as exc:
                return exc.code
            return f"picked {done.qty}"

    results = sorted(await asyncio.gather(scan(), scan()))
    await session.rollback()

    # one took the 10 capacitors; the other found them gone, nothing picked twice
    assert results == ["insufficient_stock", "picked 10"]
    assert (await picks_for(session, "J-1"))[await _part_id(session, "CAP-100N")] == 10
    assert non_zero(await replayed(session)) == non_zero(await all_balances(session))
