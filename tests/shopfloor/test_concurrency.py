"""Planners at once (real commits, one session per task): two planners booking the same
work centre never over-book a day, and a machine going down while they plan leaves no day
over capacity. On PostgreSQL this exercises the row locks (operations, then work centres
in id order); on SQLite the single writer."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.errors import ConflictError
from kosh.shopfloor import service as shopfloor_service
from kosh.shopfloor.models import TimeLog
from tests.shopfloor.support import (
    a_floor,
    a_released_job,
    assert_never_over_capacity,
    future_day,
    load_rows,
    operation_ids,
)

PLANNERS = 10

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def test_concurrent_planners_never_over_book_a_day(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given 10 jobs of 200 (SMT 230 min, test 100 min) that must finish within two days,
    # with SMT 960 and test 480 minutes a day: eight fit (the fifth spans both days)
    async with sessions() as session:
        floor = await a_floor(session)
        jobs = [await a_released_job(session, floor, 200) for _ in range(PLANNERS)]
    day = future_day()
    last = day + timedelta(days=1)

    async def plan(job_id: int) -> bool | str:
        async with sessions() as session:
            try:
                await shopfloor_service.schedule_job(
                    session, job_id=job_id, start=day, finish_by=last
                )
            except ConflictError as exc:
                return exc.code
            return True

    # when all planners go at once
    results = await asyncio.wait_for(asyncio.gather(*(plan(j) for j in jobs)), timeout=60)

    # then exactly eight were booked (each planner saw the others' bookings: none was
    # refused for a day that filled up under it), the others refused with over_capacity
    assert sorted(map(str, results)) == ["True"] * 8 + ["over_capacity"] * (PLANNERS - 8)
    async with sessions() as session:
        rows = await load_rows(session)
        assert rows[(floor.smt_id, day)][1] + rows[(floor.smt_id, last)][1] == 8 * 230
        assert rows[(floor.test_id, day)][1] + rows[(floor.test_id, last)][1] == 8 * 100
        await assert_never_over_capacity(session)


async def test_machine_down_while_planning_leaves_no_day_over_capacity(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given jobs planned over a few days and two machines
    async with sessions() as session:
        floor = await a_floor(session)
        jobs = [await a_released_job(session, floor, 300) for _ in range(PLANNERS)]
    day = future_day()
    rng = random.Random(7)

    refusals: list[str] = []

    async def plan(job_id: int) -> None:
        async with sessions() as session:
            try:
                await shopfloor_service.schedule_job(
                    session, job_id=job_id, start=day, finish_by=day + timedelta(days=2)
                )
            except ConflictError as exc:
                refusals.append(exc.code)

    async def flip(machine_id: int) -> None:
        for status in ("down", "running", "maintenance", "idle"):
            await asyncio.sleep(rng.random() / 50)
            async with sessions() as session:
                await shopfloor_service.set_machine_status(
                    session, machine_id=machine_id, status=status, reason="race"
                )

    # when planners and machine changes race
    await asyncio.wait_for(
        asyncio.gather(*(plan(j) for j in jobs), *(flip(m) for m in floor.machine_ids)),
        timeout=60,
    )

    # then no day is over its capacity and the load rows match the bookings
    assert set(refusals) <= {"over_capacity"}
    async with sessions() as session:
        await assert_never_over_capacity(session)


async def test_one_operator_scanning_twice_at_once_opens_one_interval(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given one operator and eight operations of released jobs
    async with sessions() as session:
        floor = await a_floor(session)
        ops = []
        for _ in range(4):
            ops += await operation_ids(session, await a_released_job(session, floor, 5))
        await shopfloor_service.create_employee(
            session, number="E-1", name="E", department_code=floor.department, badge="B-1"
        )

    async def start(op_id: int) -> bool | str:
        async with sessions() as session:
            try:
                await shopfloor_service.start_operation(session, operation_id=op_id, badge="B-1")
            except ConflictError as exc:
                return exc.code
            return True

    # when the badge is scanned on all of them at once
    results = await asyncio.wait_for(asyncio.gather(*(start(op) for op in ops)), timeout=60)

    # then exactly one interval is open
    assert sorted(map(str, results)) == ["True"] + ["already_running"] * (len(ops) - 1)
    async with sessions() as session:
        open_now = await session.scalar(
            select(func.count()).select_from(TimeLog).where(TimeLog.kind == "start")
        )
        assert open_now == 1


async def test_two_planners_releasing_onto_one_work_centre_cannot_both_pass(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given two planned jobs of 500 (SMT 530 min each) due the same day: one fits in 960
    from kosh.production import service as job_service
    from tests.shopfloor.test_release_capacity import a_planned_job, status_of

    day = future_day()
    async with sessions() as session:
        floor = await a_floor(session)
        jobs = [await a_planned_job(session, floor, 500, due=day) for _ in range(2)]

    async def release(job_id: int) -> str:
        async with sessions() as session:
            try:
                await job_service.release_job(
                    session,
                    job_id=job_id,
                    confirm=True,
                    may_confirm=True,
                    capacity=job_service.CapacityRequest(start=day),
                )
            except ConflictError as exc:
                return exc.code
            return "released"

    # when both planners release at once
    results = await asyncio.wait_for(asyncio.gather(*(release(j) for j in jobs)), timeout=60)

    # then one is released and booked, the other refused whole with over_capacity
    assert sorted(results) == ["over_capacity", "released"]
    async with sessions() as session:
        rows = await load_rows(session)
        assert rows[(floor.smt_id, day)] == (960, 530)
        statuses = sorted([await status_of(session, j) for j in jobs])
        assert statuses == ["planned", "released"]
        await assert_never_over_capacity(session)
