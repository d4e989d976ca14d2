"""Factories for shop-floor tests: a department, a calendar, work centres with machines, an
assembly with a routing, released jobs with operations. They go through the real services
(each commits; the database is emptied after every test) and answer plain values."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.production import service as job_service
from kosh.shopfloor import capacity, routings
from kosh.shopfloor import service as shopfloor_service
from kosh.shopfloor.models import Machine, OperationBooking, WorkCentreDay
from tests.production.test_jobs import a_plant

_serial = itertools.count(1)
EVERY_DAY_8H = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), 480)


@dataclass(frozen=True)
class Floor:
    department: str
    calendar: str
    smt: str  # two machines, 8 h every day, 100 %: 960 min/day
    test: str  # no machines (a manual station), 8 h every day: 480 min/day
    smt_id: int
    test_id: int
    machine_ids: list[int]
    warehouse_id: int
    assembly: str
    routing_id: int


def future_day(offset: int = 7) -> date:
    return capacity.today() + timedelta(days=offset)


async def a_floor(
    session: AsyncSession,
    *,
    smt_setup: int = 30,
    smt_run: str = "1",
    test_setup: int = 0,
    test_run: str = "0.5",
) -> Floor:
    n = next(_serial)
    plant = await a_plant(session, res_stock=100_000, cap_stock=100_000)
    department = await shopfloor_service.create_department(
        session, code=f"D{n}", name=f"Assembly {n}"
    )
    calendar = await shopfloor_service.create_calendar(
        session, code=f"CAL{n}", name="Every day, one shift", minutes=EVERY_DAY_8H
    )
    smt = await shopfloor_service.create_work_centre(
        session,
        code=f"SMT{n}",
        name="SMT line",
        department_code=department.code,
        calendar_code=calendar.code,
        machines=[
            shopfloor_service.MachineSpec(asset_number=f"M{n}-1", status="running"),
            shopfloor_service.MachineSpec(asset_number=f"M{n}-2", status="idle"),
        ],
    )
    test = await shopfloor_service.create_work_centre(
        session,
        code=f"TEST{n}",
        name="Test bench",
        department_code=department.code,
        calendar_code=calendar.code,
    )
    routing = await shopfloor_service.create_routing(
        session,
        assembly_part_number=plant.assembly,
        revision="A",
        operations=[
            shopfloor_service.OperationSpec(
                seq=10,
                work_centre_code=smt.code,
                name="Place and reflow",
                setup_minutes=smt_setup,
                run_minutes_per_unit=Decimal(smt_run),
            ),
            shopfloor_service.OperationSpec(
                seq=20,
                work_centre_code=test.code,
                name="Functional test",
                setup_minutes=test_setup,
                run_minutes_per_unit=Decimal(test_run),
            ),
        ],
    )
    machines = await session.scalars(
        select(Machine.id).where(Machine.work_centre_id == smt.id).order_by(Machine.id)
    )
    return Floor(
        department=department.code,
        calendar=calendar.code,
        smt=smt.code,
        test=test.code,
        smt_id=smt.id,
        test_id=test.id,
        machine_ids=list(machines),
        warehouse_id=plant.warehouse_id,
        assembly=plant.assembly,
        routing_id=routing.id,
    )


async def a_released_job(
    session: AsyncSession,
    floor: Floor,
    qty: int,
    *,
    due: date | None = None,
    priority: str = "normal",
    capacity_request: job_service.CapacityRequest | None = None,
) -> int:
    """A released job; unscheduled unless `capacity_request` asks for it."""
    job = await job_service.create_job(
        session,
        number=f"J-{next(_serial)}",
        assembly_part_number=floor.assembly,
        qty=qty,
        warehouse_id=floor.warehouse_id,
        due_date=due,
        priority=priority,
    )
    job_id = job.id
    await job_service.release_job(
        session,
        job_id=job_id,
        confirm=True,
        may_confirm=True,
        capacity=capacity_request or job_service.CapacityRequest(scheduling="none"),
    )
    return job_id


async def operation_ids(session: AsyncSession, job_id: int) -> list[int]:
    await session.rollback()
    return [op.id for op in await routings.job_operations(session, job_id)]


async def load_rows(session: AsyncSession) -> dict[tuple[int, date], tuple[int, int]]:
    """(work centre id, day) -> (capacity, planned), read fresh."""
    await session.rollback()
    rows = await session.execute(
        select(
            WorkCentreDay.work_centre_id,
            WorkCentreDay.day,
            WorkCentreDay.capacity_minutes,
            WorkCentreDay.planned_minutes,
        )
    )
    return {(wc, day): (cap, planned) for wc, day, cap, planned in rows}


async def booked_minutes(session: AsyncSession, operation_id: int | None = None) -> int:
    await session.rollback()
    query = select(func.coalesce(func.sum(OperationBooking.minutes), 0))
    if operation_id is not None:
        query = query.where(OperationBooking.operation_id == operation_id)
    return int(await session.scalar(query) or 0)


async def assert_never_over_capacity(session: AsyncSession) -> None:
    """No day planned beyond its capacity plus what a manager confirmed over it."""
    await session.rollback()
    rows = list(
        await session.execute(
            select(
                WorkCentreDay.capacity_minutes,
                WorkCentreDay.planned_minutes,
                WorkCentreDay.override_minutes,
            )
        )
    )
    assert all(0 <= planned <= cap + extra for cap, planned, extra in rows), rows
    assert await capacity.drift(session) == []
