"""Production jobs: requirements, kitting via picks, the over-planning guard, completion
consuming exactly what was kitted (ledger rows), concurrency, transitions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.alerts.models import Alert
from kosh.bom.models import Bom, BomLine
from kosh.core.errors import ConflictError
from kosh.locations import service as location_service
from kosh.production import service as job_service
from kosh.production.models import Job, JobLine
from kosh.stock import service as stock_service
from kosh.stock.models import StockTransaction
from tests.support.stock import a_location, a_part, a_warehouse, all_balances, non_zero, replayed


@dataclass(frozen=True)
class Plant:
    warehouse_id: int
    floor_id: int
    bins: list[int]
    assembly: str
    bom_id: int


async def a_plant(session: AsyncSession, *, res_stock: int = 100, cap_stock: int = 10) -> Plant:
    """Assembly PB-100 (rev C, active) = 2 x RES-10K + 1 x CAP-100N; stock in two bins."""
    warehouse = await a_warehouse(session)
    bins = [await a_location(session, warehouse.id, code=f"BIN-{n}") for n in (1, 2)]
    floor = await location_service.mfg_location(session, warehouse.id)
    assembly = await a_part(session, "PB-100")
    res = await a_part(session, "RES-10K")
    cap = await a_part(session, "CAP-100N")
    bom = Bom(assembly_part_id=assembly.id, revision="C", status="active", created_by="t")
    session.add(bom)
    await session.flush()
    session.add_all(
        [
            BomLine(bom_id=bom.id, line_no=1, part_id=res.id, qty=2, refdes="R1 R2"),
            BomLine(bom_id=bom.id, line_no=2, part_id=cap.id, qty=1, refdes="C1"),
        ]
    )
    await session.commit()
    if res_stock:
        await stock_service.receive(
            session, part_number="RES-10K", qty=res_stock, location_id=bins[0].id
        )
    if cap_stock:
        await stock_service.receive(
            session, part_number="CAP-100N", qty=cap_stock, location_id=bins[1].id
        )
    return Plant(warehouse.id, floor.id, [b.id for b in bins], "PB-100", bom.id)


async def a_job(session: AsyncSession, plant: Plant, number: str, qty: int) -> int:
    job = await job_service.create_job(
        session,
        number=number,
        assembly_part_number=plant.assembly,
        qty=qty,
        warehouse_id=plant.warehouse_id,
    )
    return job.id


def lines_of(body: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {line["part_number"]: line for line in body["lines"]}


async def test_requirements_and_kitting_via_picks(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    # given a plant and a job for 25 assemblies
    plant = await a_plant(session)
    created = await client.post(
        "/api/v1/jobs",
        json={
            "number": "J-1",
            "assembly_part_number": "PB-100",
            "qty": 25,
            "warehouse_id": plant.warehouse_id,
            "due_date": "2030-01-31",
        },
        headers=operator_headers,
    )
    job_id = created.json()["id"]

    # when 30 resistors are picked for it and 5 for another job
    await stock_service.pick(
        session, part_number="RES-10K", qty=30, warehouse_id=plant.warehouse_id, reference="J-1"
    )
    await stock_service.pick(
        session, part_number="RES-10K", qty=5, warehouse_id=plant.warehouse_id, reference="J-9"
    )
    body = (await client.get(f"/api/v1/jobs/{job_id}", headers=operator_headers)).json()

    # then requirement = BOM x qty, kitted = this job's picks, shortage = what stock lacks
    assert created.status_code == 201
    assert (body["status"], body["bom_revision"], body["due_date"]) == (
        "planned",
        "C",
        "2030-01-31",
    )
    res, cap = lines_of(body)["RES-10K"], lines_of(body)["CAP-100N"]
    assert (res["qty_per"], res["required"], res["kitted"], res["outstanding"]) == (2, 50, 30, 20)
    assert (res["on_hand"], res["shortage"]) == (65, 0)
    assert [(p["picked"], p["consumed"]) for p in res["pcns"]] == [(30, 0)]
    assert (cap["required"], cap["kitted"], cap["on_hand"], cap["shortage"]) == (25, 0, 10, 15)
    assert body["shortage_lines"] == 1


async def test_over_planning_guard(
    client: httpx.AsyncClient,
    session: AsyncSession,
    operator_headers: dict[str, str],
    manager_headers: dict[str, str],
) -> None:
    plant = await a_plant(session, cap_stock=10)
    job_id = await a_job(session, plant, "J-1", 25)
    url = f"/api/v1/jobs/{job_id}/release"

    refused = await client.post(url, headers=operator_headers)
    operator_confirm = await client.post(url, json={"confirm": True}, headers=operator_headers)
    confirmed = await client.post(url, json={"confirm": True}, headers=manager_headers)

    assert refused.status_code == 409
    assert refused.json()["code"] == "over_planning"
    (short,) = refused.json()["shortages"]
    assert (short["part_number"], short["outstanding"], short["available"], short["shortage"]) == (
        "CAP-100N",
        25,
        10,
        15,
    )
    assert short["reason"] == "not enough stock in the warehouse"
    assert operator_confirm.status_code == 403
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "released"
    assert confirmed.json()["over_planning_confirmed_by"].startswith("manager")
    alert = await session.scalar(select(Alert).where(Alert.kind == "job_shortage"))
    assert alert is not None
    assert (alert.state, alert.job_id, alert.details["shortage"]) == ("open", job_id, 15)  # type: ignore[index]


async def test_material_promised_to_earlier_jobs_is_not_available(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    plant = await a_plant(session, res_stock=100, cap_stock=100)
    first = await a_job(session, plant, "J-1", 30)  # 60 resistors
    second = await a_job(session, plant, "J-2", 30)

    ok = await client.post(f"/api/v1/jobs/{first}/release", headers=operator_headers)
    over = await client.post(f"/api/v1/jobs/{second}/release", headers=operator_headers)

    assert ok.status_code == 200
    assert over.status_code == 409
    (short,) = over.json()["shortages"]
    assert (short["on_hand"], short["committed_to_earlier_jobs"], short["available"]) == (
        100,
        60,
        40,
    )
    assert short["shortage"] == 20
    assert short["reason"] == "needed by jobs released earlier"
    # picking for the first job does not change what the second may count on
    await stock_service.pick(
        session, part_number="RES-10K", qty=60, warehouse_id=plant.warehouse_id, reference="J-1"
    )
    again = await client.post(f"/api/v1/jobs/{second}/release", headers=operator_headers)
    assert again.json()["shortages"][0]["available"] == 40


async def test_completion_consumes_exactly_the_kitted_material(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    # given a released job for 10, kitted from two resistor PCNs and one capacitor PCN
    plant = await a_plant(session, res_stock=12, cap_stock=10)
    await stock_service.receive(session, part_number="RES-10K", qty=50, location_id=plant.bins[1])
    job_id = await a_job(session, plant, "J-1", 10)
    await client.post(f"/api/v1/jobs/{job_id}/release", headers=operator_headers)
    await stock_service.pick(
        session, part_number="RES-10K", qty=20, warehouse_id=plant.warehouse_id, reference="J-1"
    )
    await stock_service.pick(
        session, part_number="CAP-100N", qty=9, warehouse_id=plant.warehouse_id, reference="J-1"
    )
    await client.post(f"/api/v1/jobs/{job_id}/start", headers=operator_headers)

    # when it is completed, receiving 10 finished assemblies
    done = await client.post(
        f"/api/v1/jobs/{job_id}/complete",
        json={"produced_qty": 10, "location_id": plant.bins[0]},
        headers=operator_headers,
    )

    # then every kitted unit left the floor through consume rows referencing the job
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "complete"
    consumed = list(
        await session.scalars(
            select(StockTransaction)
            .where(StockTransaction.kind == "consume")
            .order_by(StockTransaction.lot_id)
        )
    )
    assert [(t.qty, t.reference, t.from_location_id, t.to_location_id) for t in consumed] == [
        (12, "J-1", plant.floor_id, None),  # the oldest resistor PCN, all of it
        (9, "J-1", plant.floor_id, None),  # the capacitors
        (8, "J-1", plant.floor_id, None),  # the rest of the resistors from the second PCN
    ]
    floor = {
        loc: qty
        for (lot, loc), qty in (await all_balances(session)).items()
        if loc == plant.floor_id
    }
    assert set(floor.values()) == {0}
    assert {line["part_number"]: line["consumed"] for line in body["lines"]} == {
        "RES-10K": 20,
        "CAP-100N": 9,
    }
    assert body["produced_qty"] == 10
    output = await session.scalar(
        select(StockTransaction).where(StockTransaction.kind == "produce")
    )
    assert output is not None
    assert (output.qty, output.to_location_id, output.reference) == (10, plant.bins[0], "J-1")
    assert body["output_pcn"]
    # and the ledger still reproduces every balance
    assert await replayed(session) == non_zero(await all_balances(session))


async def test_concurrent_completion_of_one_job_succeeds_once(
    session: AsyncSession, sessions: async_sessionmaker[AsyncSession]
) -> None:
    plant = await a_plant(session)
    job_id = await a_job(session, plant, "J-1", 5)
    await job_service.release_job(session, job_id=job_id)
    await stock_service.pick(
        session, part_number="RES-10K", qty=10, warehouse_id=plant.warehouse_id, reference="J-1"
    )
    await job_service.start_job(session, job_id=job_id)

    async def complete() -> str:
        async with sessions() as own:
            try:
                await job_service.complete_job(own, job_id=job_id)
            except ConflictError as exc:
                return exc.code
            return "ok"

    outcomes = await asyncio.gather(complete(), complete(), complete())

    assert sorted(outcomes) == ["invalid_transition", "invalid_transition", "ok"]
    consumed = list(
        await session.scalars(
            select(StockTransaction.qty).where(StockTransaction.kind == "consume")
        )
    )
    assert consumed == [10]
    line = await session.scalar(
        select(JobLine).join(Job, Job.id == JobLine.job_id).where(JobLine.line_no == 1)
    )
    assert line is not None
    assert line.consumed == 10


async def test_restocked_kit_blocks_completion(session: AsyncSession) -> None:
    plant = await a_plant(session)
    job_id = await a_job(session, plant, "J-1", 5)
    await job_service.release_job(session, job_id=job_id)
    picked = await stock_service.pick(
        session, part_number="RES-10K", qty=10, warehouse_id=plant.warehouse_id, reference="J-1"
    )
    await stock_service.restock(session, pcn=picked.lines[0].pcn, qty=4)
    await job_service.start_job(session, job_id=job_id)

    with pytest.raises(ConflictError) as caught:
        await job_service.complete_job(session, job_id=job_id)

    assert caught.value.code == "kitted_material_missing"
    assert caught.value.details["lots"][0]["on_floor"] == 6
    job = await session.get(Job, job_id, populate_existing=True)
    assert job is not None
    assert job.status == "in_progress"


async def test_transitions_and_roles(
    client: httpx.AsyncClient,
    session: AsyncSession,
    operator_headers: dict[str, str],
    manager_headers: dict[str, str],
) -> None:
    plant = await a_plant(session, cap_stock=100)
    job_id = await a_job(session, plant, "J-1", 5)
    url = f"/api/v1/jobs/{job_id}"

    start_planned = await client.post(f"{url}/start", headers=operator_headers)
    await client.post(f"{url}/release", headers=operator_headers)
    complete_released = await client.post(f"{url}/complete", headers=operator_headers)
    cancel_operator = await client.post(f"{url}/cancel", headers=operator_headers)
    cancel = await client.post(f"{url}/cancel", headers=manager_headers)
    release_again = await client.post(f"{url}/release", headers=operator_headers)

    assert (start_planned.status_code, start_planned.json()["code"]) == (409, "invalid_transition")
    assert complete_released.status_code == 409
    assert cancel_operator.status_code == 403
    assert cancel.json()["status"] == "cancelled"
    assert release_again.status_code == 409


async def test_create_rules(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    plant = await a_plant(session)
    await a_part(session, "NO-BOM")
    base = {"qty": 1, "warehouse_id": plant.warehouse_id}

    first = await client.post(
        "/api/v1/jobs",
        json={"number": "J-1", "assembly_part_number": "PB-100", **base},
        headers=operator_headers,
    )
    again = await client.post(
        "/api/v1/jobs",
        json={"number": "J-1", "assembly_part_number": "PB-100", **base},
        headers=operator_headers,
    )
    no_bom = await client.post(
        "/api/v1/jobs",
        json={"number": "J-2", "assembly_part_number": "NO-BOM", **base},
        headers=operator_headers,
    )
    unknown = await client.post(
        "/api/v1/jobs",
        json={"number": "J-3", "assembly_part_number": "NOPE", **base},
        headers=operator_headers,
    )
    text_qty = await client.post(
        "/api/v1/jobs",
        json={
            "number": "J-4",
            "assembly_part_number": "PB-100",
            "qty": "12abc",
            "warehouse_id": plant.warehouse_id,
        },
        headers=operator_headers,
    )

    assert first.status_code == 201
    assert (again.status_code, again.json()["code"]) == (409, "job_number_taken")
    assert (no_bom.status_code, no_bom.json()["code"]) == (422, "no_active_bom")
    assert unknown.status_code == 404
    assert text_qty.status_code == 422
    listed = await client.get("/api/v1/jobs?status=planned", headers=operator_headers)
    assert [item["number"] for item in listed.json()["items"]] == ["J-1"]


async def test_shortage_alerts_follow_the_stock_and_the_job(session: AsyncSession) -> None:
    # given a job released despite a capacitor shortage of 15
    plant = await a_plant(session, cap_stock=10)
    job_id = await a_job(session, plant, "J-1", 25)
    await job_service.release_job(session, job_id=job_id, confirm=True, may_confirm=True)
    alert = await session.scalar(select(Alert).where(Alert.kind == "job_shortage"))
    assert alert is not None
    alert_id = alert.id
    assert alert.severity == "warning"  # 15 of 25 missing, no due date

    # when the missing capacitors arrive (the receipt itself re-checks the part's alerts)
    await stock_service.receive(session, part_number="CAP-100N", qty=15, location_id=plant.bins[1])
    from kosh.alerts import service as alert_service

    # then the alert resolves by itself, without a separate evaluation
    resolved = await session.get(Alert, alert_id, populate_existing=True)
    assert resolved is not None
    assert resolved.state == "resolved"

    # when the stock leaves again for another reference, the shortage returns at once
    await stock_service.pick(
        session, part_number="CAP-100N", qty=20, warehouse_id=plant.warehouse_id, reference="X"
    )
    reopened = await session.get(Alert, alert_id, populate_existing=True)
    assert reopened is not None
    assert (reopened.state, reopened.reopened_count) == ("open", 1)

    # and a cancelled job's shortage resolves and never comes back
    await job_service.cancel_job(session, job_id=job_id)
    await alert_service.evaluate_alerts(session)
    again = await session.get(Alert, alert_id, populate_existing=True)
    assert again is not None
    assert (again.state, again.reopened_count) == ("resolved", 1)
