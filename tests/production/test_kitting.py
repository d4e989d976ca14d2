"""Kitting a job: per line, "kit all" (every line's shortfall, all or nothing), the
over-kitting guard on every pick with a job's number, and planning by BOM revision
(a draft BOM is refused with what to do)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom.models import Bom, BomLine
from kosh.catalog.models import Part
from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError
from kosh.core.models import AuditEvent
from kosh.production import kitting
from kosh.production import service as job_service
from kosh.production.models import JobLine
from kosh.stock import service as stock_service
from kosh.stock.models import StockTransaction
from tests.production.test_jobs import Plant, a_job, a_plant
from tests.support.stock import a_part, all_balances, non_zero, replayed

PROBLEM = "application/problem+json"


async def picks_for(session: AsyncSession, reference: str) -> dict[int, int]:
    rows = await session.execute(
        select(StockTransaction.part_id, func.sum(StockTransaction.qty))
        .where(StockTransaction.reference == reference, StockTransaction.kind == "pick")
        .group_by(StockTransaction.part_id)
    )
    return {part_id: int(qty) for part_id, qty in rows}


async def line_ids(session: AsyncSession, job_id: int) -> list[int]:
    return list(
        await session.scalars(
            select(JobLine.id).where(JobLine.job_id == job_id).order_by(JobLine.line_no)
        )
    )


async def audited(session: AsyncSession, action: str) -> list[AuditEvent]:
    return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def test_kit_all_picks_every_shortfall_fifo(session: AsyncSession) -> None:
    # given a job for 5 (10 resistors, 5 capacitors) with 3 resistors picked already
    plant = await a_plant(session)
    job_id = await a_job(session, plant, "J-1", 5)
    await stock_service.pick(
        session, part_number="RES-10K", qty=3, warehouse_id=plant.warehouse_id, reference="J-1"
    )

    # when everything is kitted at once
    done = await kitting.kit_all(session, job_id=job_id)

    # then each line got what it lacked, onto the floor, with the job's number
    assert [(p.part_number, p.qty) for p in done.picks] == [("RES-10K", 7), ("CAP-100N", 5)]
    assert sorted((await picks_for(session, "J-1")).values()) == [5, 10]
    balances = non_zero(await all_balances(session))
    assert sum(q for (_, loc), q in balances.items() if loc == plant.floor_id) == 15
    assert non_zero(await replayed(session)) == non_zero(await all_balances(session))
    [event] = await audited(session, "job.kit_all")
    assert event.after["picks"] == [
        {"part_number": "RES-10K", "qty": 7},
        {"part_number": "CAP-100N", "qty": 5},
    ]

    # and kitting again has nothing left to do
    with pytest.raises(ConflictError) as again:
        await kitting.kit_all(session, job_id=job_id)
    assert again.value.code == "already_kitted"


async def test_kit_all_is_all_or_nothing_and_names_what_is_short(session: AsyncSession) -> None:
    # given a job for 25: 50 resistors (100 there), 25 capacitors (10 there)
    plant = await a_plant(session, cap_stock=10)
    job_id = await a_job(session, plant, "J-1", 25)
    before = await all_balances(session)

    # when everything is to be kitted
    with pytest.raises(kitting.KitShortError) as caught:
        await kitting.kit_all(session, job_id=job_id)

    # then nothing was picked, not even the resistors that were there
    assert caught.value.status == 409
    assert caught.value.details["short"] == [
        {
            "part_id": caught.value.details["short"][0]["part_id"],
            "part_number": "CAP-100N",
            "needed": 25,
            "available": 10,
        }
    ]
    assert "CAP-100N needs 25, 10 available" in caught.value.message
    assert await all_balances(session) == before
    assert await picks_for(session, "J-1") == {}


async def test_kitting_needs_an_open_job_and_its_own_line(session: AsyncSession) -> None:
    plant = await a_plant(session)
    job_id = await a_job(session, plant, "J-1", 5)
    other_id = await a_job(session, plant, "J-2", 5)
    foreign_line = (await line_ids(session, other_id))[0]
    await job_service.cancel_job(session, job_id=other_id)

    with pytest.raises(NotFoundError) as unknown_job:
        await kitting.kit_all(session, job_id=999_999)
    with pytest.raises(ConflictError) as cancelled:
        await kitting.kit_all(session, job_id=other_id)
    with pytest.raises(NotFoundError) as foreign:
        await kitting.kit_line(session, job_id=job_id, line_id=foreign_line)

    assert unknown_job.value.code == "job_not_found"
    assert (cancelled.value.code, cancelled.value.details) == (
        "invalid_transition",
        {"status": "cancelled"},
    )
    assert foreign.value.code == "job_line_not_found"


async def test_kit_line_picks_what_the_line_lacks_and_refuses_over_kitting(
    session: AsyncSession,
) -> None:
    # given a job for 5: line 1 needs 10 resistors
    plant = await a_plant(session)
    job_id = await a_job(session, plant, "J-1", 5)
    res_line, _ = await line_ids(session, job_id)

    # when line 1 is kitted by default, then asked for once more
    done = await kitting.kit_line(session, job_id=job_id, line_id=res_line)
    with pytest.raises(ConflictError) as kitted:
        await kitting.kit_line(session, job_id=job_id, line_id=res_line)
    with pytest.raises(kitting.OverKitError) as over:
        await kitting.kit_line(session, job_id=job_id, line_id=res_line, qty=4)

    # then 10 were picked, and a further 4 are refused as 4 over
    assert [(p.part_number, p.qty) for p in done.picks] == [("RES-10K", 10)]
    assert kitted.value.code == "already_kitted"
    assert over.value.details | {"part_id": 0} == {
        "job_number": "J-1",
        "part_id": 0,
        "part_number": "RES-10K",
        "required": 10,
        "kitted": 14,
        "over": 4,
    }
    assert sorted((await picks_for(session, "J-1")).values()) == [10]

    # when the over-kit is confirmed, it is picked and audited with how much over
    await kitting.kit_line(session, job_id=job_id, line_id=res_line, qty=4, allow_over_kit=True)
    assert sorted((await picks_for(session, "J-1")).values()) == [14]
    [event] = await audited(session, "job.over_kit")
    assert (event.after["over"], event.after["required"]) == (4, 10)


async def test_every_pick_with_a_job_number_is_guarded(session: AsyncSession) -> None:
    # given a job for 25 that needs 50 resistors and no LED at all
    plant = await a_plant(session)
    job_id = await a_job(session, plant, "J-1", 25)
    await a_part(session, "LED-RED")
    led_bin = plant.bins[0]
    await stock_service.receive(session, part_number="LED-RED", qty=5, location_id=led_bin)
    before = await all_balances(session)

    # when 60 resistors or an LED are picked for it, or 40 for a reference that is no job
    with pytest.raises(kitting.OverKitError) as over:
        await stock_service.pick(
            session, part_number="RES-10K", qty=60, warehouse_id=plant.warehouse_id, reference="J-1"
        )
    with pytest.raises(kitting.OverKitError) as unused:
        await stock_service.pick(
            session, part_number="LED-RED", qty=1, warehouse_id=plant.warehouse_id, reference="J-1"
        )
    assert await all_balances(session) == before
    await stock_service.pick(
        session, part_number="RES-10K", qty=40, warehouse_id=plant.warehouse_id, reference="X-1"
    )

    # then the job's picks are refused with how much over; the other pick is not a job's
    assert over.value.status == 409
    assert "needs 50 of RES-10K" in over.value.message
    assert "10 more than it needs" in over.value.message
    assert (unused.value.details["required"], unused.value.details["over"]) == (0, 1)
    assert await picks_for(session, "J-1") == {}
    assert sum((await picks_for(session, "X-1")).values()) == 40
    assert (
        await kitting.kit_line(session, job_id=job_id, line_id=(await line_ids(session, job_id))[0])
    ).picks[0].qty == 50


async def test_kit_all_reports_stock_promised_elsewhere_as_available(
    session: AsyncSession,
) -> None:
    # given two jobs each needing 10 capacitors, with 10 in stock
    plant = await a_plant(session, cap_stock=10)
    first = await a_job(session, plant, "J-1", 10)
    second = await a_job(session, plant, "J-2", 10)

    # when the first is kitted, the second finds no capacitors left
    await kitting.kit_all(session, job_id=first)
    with pytest.raises(kitting.KitShortError) as caught:
        await kitting.kit_all(session, job_id=second)

    # then
    short = {s["part_number"]: (s["needed"], s["available"]) for s in caught.value.details["short"]}
    assert short == {"CAP-100N": (10, 0)}


async def test_plan_by_revision_and_a_draft_bom_says_what_to_do(session: AsyncSession) -> None:
    # given the active rev C and a draft rev D of PB-100, and an assembly with only a draft
    plant = await a_plant(session)
    await _draft(session, "PB-100", "D")
    lonely = await _draft(session, "LONELY-1", "A")

    # when jobs are planned by revision
    by_rev = await job_service.create_job(
        session,
        number="J-1",
        assembly_part_number="PB-100",
        bom_revision="C",
        qty=1,
        warehouse_id=plant.warehouse_id,
    )
    by_rev_bom = by_rev.bom_id  # a rollback below expires loaded objects
    with pytest.raises(RuleViolationError) as draft:
        await job_service.create_job(
            session,
            number="J-2",
            assembly_part_number="PB-100",
            bom_revision="D",
            qty=1,
            warehouse_id=plant.warehouse_id,
        )
    with pytest.raises(NotFoundError) as missing:
        await job_service.create_job(
            session,
            number="J-3",
            assembly_part_number="PB-100",
            bom_revision="Z",
            qty=1,
            warehouse_id=plant.warehouse_id,
        )
    with pytest.raises(RuleViolationError) as no_active:
        await job_service.create_job(
            session,
            number="J-4",
            assembly_part_number="LONELY-1",
            qty=1,
            warehouse_id=plant.warehouse_id,
        )
    with pytest.raises(RuleViolationError) as draft_by_id:
        await job_service.create_job(
            session,
            number="J-5",
            assembly_part_number="LONELY-1",
            bom_id=lonely,
            qty=1,
            warehouse_id=plant.warehouse_id,
        )

    with pytest.raises(RuleViolationError) as mismatch:
        await job_service.create_job(
            session,
            number="J-6",
            assembly_part_number="PB-100",
            bom_id=lonely,
            qty=1,
            warehouse_id=plant.warehouse_id,
        )
    await session.execute(update(Bom).where(Bom.id == lonely).values(status="obsolete"))
    await session.commit()
    with pytest.raises(RuleViolationError) as obsolete:
        await job_service.create_job(
            session,
            number="J-7",
            assembly_part_number="LONELY-1",
            bom_revision="A",
            qty=1,
            warehouse_id=plant.warehouse_id,
        )

    # then
    assert mismatch.value.code == "bom_assembly_mismatch"
    assert (obsolete.value.code, obsolete.value.errors[0]["loc"][-1]) == (
        "bom_obsolete",
        "bom_revision",
    )
    assert by_rev_bom == plant.bom_id
    assert draft.value.code == "bom_draft"
    assert "still a draft" in draft.value.message
    assert "activate it" in draft.value.message
    assert draft.value.errors[0]["loc"][-1] == "bom_revision"
    assert missing.value.code == "bom_not_found"
    assert no_active.value.code == "no_active_bom"
    assert f"/boms/{lonely}" in no_active.value.message
    assert no_active.value.details["draft_bom_ids"] == [lonely]
    assert (draft_by_id.value.code, draft_by_id.value.details["bom_id"]) == ("bom_draft", lonely)


async def _draft(session: AsyncSession, assembly: str, revision: str) -> int:
    assembly_id = await session.scalar(select(Part.id).where(Part.number == assembly))
    if assembly_id is None:
        assembly_id = (await a_part(session, assembly)).id
    line_part = await a_part(session)
    bom = Bom(assembly_part_id=assembly_id, revision=revision, status="draft", created_by="t")
    session.add(bom)
    await session.flush()
    session.add(BomLine(bom_id=bom.id, line_no=1, part_id=line_part.id, qty=1))
    await session.commit()
    return bom.id


async def test_kitting_api_and_the_pick_flag(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    plant: Plant = await a_plant(session, cap_stock=10)
    job_id = await a_job(session, plant, "J-1", 25)
    res_line, cap_line = await line_ids(session, job_id)

    short = await client.post(f"/api/v1/jobs/{job_id}/kit", headers=operator_headers)
    line = await client.post(
        f"/api/v1/jobs/{job_id}/lines/{res_line}/kit", json={}, headers=operator_headers
    )
    over = await client.post(
        "/api/v1/stock/pick",
        json={
            "part_number": "RES-10K",
            "qty": 1,
            "warehouse_id": plant.warehouse_id,
            "reference": "J-1",
        },
        headers=operator_headers,
    )
    allowed = await client.post(
        "/api/v1/stock/pick",
        json={
            "part_number": "RES-10K",
            "qty": 1,
            "warehouse_id": plant.warehouse_id,
            "reference": "J-1",
            "allow_over_kit": True,
        },
        headers=operator_headers,
    )
    bad_qty = await client.post(
        f"/api/v1/jobs/{job_id}/lines/{cap_line}/kit", json={"qty": 0}, headers=operator_headers
    )
    foreign = await client.post(
        f"/api/v1/jobs/{job_id}/lines/999999/kit", json={}, headers=operator_headers
    )

    assert (short.status_code, short.headers["content-type"]) == (409, PROBLEM)
    assert short.json()["code"] == "kit_short"
    assert short.json()["short"][0]["part_number"] == "CAP-100N"
    assert line.status_code == 200
    body = line.json()
    assert body["picked"][0]["part_number"] == "RES-10K"
    assert body["picked"][0]["qty"] == 50
    assert {ln["part_number"]: ln["kitted"] for ln in body["lines"]}["RES-10K"] == 50
    assert (over.status_code, over.json()["code"], over.json()["over"]) == (409, "over_kit", 1)
    assert allowed.status_code == 200
    assert bad_qty.status_code == 422
    assert (foreign.status_code, foreign.json()["code"]) == (404, "job_line_not_found")
