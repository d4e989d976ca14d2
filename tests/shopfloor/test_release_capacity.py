"""A release schedules the job's operations: forward from a start or backward from the due
date; over capacity it is refused as a whole (409 over_capacity with the work centre,
period, overload and the earliest feasible finish) unless a manager confirms the overload
(booked as audited capacity_overrides the CHECK allows) or the earliest feasible dates
are asked for."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import PermissionDeniedError, RuleViolationError, ValidationError
from kosh.core.models import AuditEvent
from kosh.production import service as job_service
from kosh.production.models import Job
from kosh.shopfloor import capacity
from kosh.shopfloor import service as shopfloor_service
from kosh.shopfloor.errors import OverCapacityError
from kosh.shopfloor.models import CapacityOverride, Routing, WorkCentreDay
from kosh.shopfloor.routings import job_operations
from tests.shopfloor.support import (
    Floor,
    _serial,
    a_floor,
    a_released_job,
    assert_never_over_capacity,
    booked_minutes,
    future_day,
    load_rows,
    operation_ids,
)

Request = job_service.CapacityRequest


async def a_planned_job(session: AsyncSession, floor: Floor, qty: int, due: object = None) -> int:
    job = await job_service.create_job(
        session,
        number=f"J-{next(_serial)}",
        assembly_part_number=floor.assembly,
        qty=qty,
        warehouse_id=floor.warehouse_id,
        due_date=due,  # type: ignore[arg-type]
    )
    return job.id


async def status_of(session: AsyncSession, job_id: int) -> str:
    await session.rollback()
    job = await session.get(Job, job_id, populate_existing=True)
    assert job is not None
    return job.status


async def overrides(session: AsyncSession) -> list[tuple[int, object, int, bool]]:
    await session.rollback()
    rows = await session.execute(
        select(
            CapacityOverride.work_centre_id,
            CapacityOverride.day,
            CapacityOverride.minutes,
            CapacityOverride.released_at,
        ).order_by(CapacityOverride.id)
    )
    return [(wc, day, minutes, released is None) for wc, day, minutes, released in rows]


async def allowance(session: AsyncSession, wc: int, day: object) -> int:
    await session.rollback()
    value = await session.scalar(
        select(WorkCentreDay.override_minutes).where(
            WorkCentreDay.work_centre_id == wc, WorkCentreDay.day == day
        )
    )
    return int(value or 0)


async def release(session: AsyncSession, job_id: int, request: Request, manager: bool) -> None:
    await job_service.release_job(
        session, job_id=job_id, confirm=True, may_confirm=manager, capacity=request
    )


async def test_release_schedules_forward_from_today_by_default(session: AsyncSession) -> None:
    floor = await a_floor(session)
    job = await a_planned_job(session, floor, 200)  # SMT 230, test 100
    await release(session, job, Request(), manager=False)
    rows = await load_rows(session)
    assert rows[(floor.smt_id, capacity.today())] == (960, 230)
    assert rows[(floor.test_id, capacity.today())] == (480, 100)
    assert await status_of(session, job) == "released"


async def test_release_without_scheduling_books_nothing(session: AsyncSession) -> None:
    floor = await a_floor(session)
    job = await a_released_job(session, floor, 200)  # scheduling="none"
    assert await booked_minutes(session) == 0
    assert len(await operation_ids(session, job)) == 2


async def test_release_over_capacity_is_refused_whole_unless_a_manager_confirms(
    session: AsyncSession,
) -> None:
    # given SMT 960 and test 480 minutes on `day`, and a first job filling 930 and 450
    floor = await a_floor(session)
    day = future_day()
    first = await a_planned_job(session, floor, 900, due=day)
    await release(session, first, Request(start=day), manager=False)
    second = await a_planned_job(session, floor, 100, due=day)  # SMT 130, test 50

    # when the second is released for the same day: 409 naming the overload and the
    # earliest feasible finish, the job stays planned, nothing is booked
    with pytest.raises(OverCapacityError) as refused:
        await release(session, second, Request(start=day), manager=False)
    details = refused.value.details
    assert details["work_centre"] == floor.smt
    assert details["period"] == {"from": day.isoformat(), "to": day.isoformat()}
    assert details["overload_minutes"] == 100
    assert details["earliest_feasible_finish"] == (day + timedelta(1)).isoformat()
    assert await status_of(session, second) == "planned"
    assert await job_operations(session, second) == []

    # when someone without the manager role confirms: 403, nothing changes
    with pytest.raises(PermissionDeniedError) as denied:
        await release(session, second, Request(start=day, confirm_over_capacity=True), False)
    assert denied.value.code == "role_required"
    assert await status_of(session, second) == "planned"

    # when a manager confirms: released, the overload booked on the due day as overrides
    await release(session, second, Request(start=day, confirm_over_capacity=True), True)
    assert await status_of(session, second) == "released"
    rows = await load_rows(session)
    assert rows[(floor.smt_id, day)] == (960, 1060)
    assert rows[(floor.test_id, day)] == (480, 500)
    assert await allowance(session, floor.smt_id, day) == 100
    assert await overrides(session) == [
        (floor.smt_id, day, 100, True),
        (floor.test_id, day, 20, True),
    ]
    assert await capacity.drift(session) == []
    events = list(
        await session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "job.capacity_override", AuditEvent.entity_id == str(second)
            )
        )
    )
    assert len(events) == 1
    after = events[0].after
    assert after is not None
    assert after["overloads"][0] == {
        "work_centre": floor.smt,
        "day": day.isoformat(),
        "minutes": 100,
    }
    assert after["refusal"]["overload_minutes"] == 100

    # when the job is taken off the plan: its bookings and its allowance go together
    await shopfloor_service.unschedule_job(session, job_id=second)
    rows = await load_rows(session)
    assert rows[(floor.smt_id, day)] == (960, 930)
    assert await allowance(session, floor.smt_id, day) == 0
    assert [active for *_, active in await overrides(session)] == [False, False]
    await assert_never_over_capacity(session)


async def test_the_database_refuses_planned_beyond_capacity_and_allowance(
    session: AsyncSession,
) -> None:
    floor = await a_floor(session)
    day = future_day()
    job = await a_planned_job(session, floor, 900, due=day)
    await release(session, job, Request(start=day), manager=False)
    await session.rollback()
    with pytest.raises(IntegrityError):
        async with session.begin():
            await session.execute(
                WorkCentreDay.__table__.update()
                .where(WorkCentreDay.work_centre_id == floor.smt_id)
                .values(planned_minutes=961)
            )
    await session.rollback()


async def test_propose_earliest_books_the_earliest_feasible_dates(session: AsyncSession) -> None:
    floor = await a_floor(session)
    day = future_day()
    first = await a_planned_job(session, floor, 900, due=day)
    await release(session, first, Request(start=day), manager=False)
    second = await a_planned_job(session, floor, 100, due=day)
    await release(session, second, Request(start=day, propose_earliest=True), manager=False)
    plan_days = {d for (wc, d), (_, planned) in (await load_rows(session)).items() if planned}
    assert max(plan_days) == day + timedelta(1)
    await assert_never_over_capacity(session)
    # rescheduling the same way answers the late finish
    plan = await shopfloor_service.schedule_job(
        session, job_id=second, start=day, propose_earliest=True
    )
    assert plan.finish == day + timedelta(1)
    assert plan.late is True


async def test_backward_from_the_due_date_respects_sequence(session: AsyncSession) -> None:
    floor = await a_floor(session)
    due = future_day(10)
    job = await a_planned_job(session, floor, 1500, due=due)  # SMT 1530, test 750
    await release(session, job, Request(scheduling="backward"), manager=False)
    rows = await load_rows(session)
    # test (480/day) ends on the due day; SMT (960/day) ends no later than test starts
    assert rows[(floor.test_id, due)] == (480, 480)
    assert rows[(floor.test_id, due - timedelta(1))] == (480, 270)
    assert rows[(floor.smt_id, due - timedelta(1))] == (960, 960)
    assert rows[(floor.smt_id, due - timedelta(2))] == (960, 570)
    assert (floor.smt_id, due) not in rows
    plan = await shopfloor_service.schedule_job(
        session, job_id=job, start=capacity.today(), direction="backward"
    )
    assert plan.finish == due
    assert plan.direction == "backward"
    await assert_never_over_capacity(session)


async def test_backward_needs_a_due_date_and_refuses_what_does_not_fit(
    session: AsyncSession,
) -> None:
    floor = await a_floor(session)
    undated = await a_planned_job(session, floor, 10)
    with pytest.raises(ValidationError) as no_due:
        await release(session, undated, Request(scheduling="backward"), manager=False)
    assert no_due.value.code == "no_due_date"
    tomorrow = future_day(1)
    tight = await a_planned_job(session, floor, 3000, due=tomorrow)  # test 1500 > 2 x 480
    with pytest.raises(OverCapacityError) as refused:
        await release(session, tight, Request(scheduling="backward"), manager=False)
    assert refused.value.details["work_centre"] == floor.test  # the last step, placed first
    assert refused.value.details["earliest_feasible_finish"] is not None
    assert await status_of(session, tight) == "planned"


async def test_a_machine_down_takes_overridden_bookings_off_first(session: AsyncSession) -> None:
    floor = await a_floor(session)
    day = capacity.today()
    first = await a_planned_job(session, floor, 900, due=day)
    await release(session, first, Request(start=day), manager=False)
    second = await a_planned_job(session, floor, 100, due=day)
    await release(session, second, Request(start=day, confirm_over_capacity=True), True)
    # when one of the two SMT machines goes down, capacity halves to 480 today
    change = await shopfloor_service.set_machine_status(
        session, machine_id=floor.machine_ids[0], status="down", reason="nozzle"
    )
    # then the newest bookings went first, with their allowance, until the day fits
    assert change.displaced
    assert await allowance(session, floor.smt_id, day) == 0
    rows = await load_rows(session)
    assert rows[(floor.smt_id, day)][1] <= 480
    assert rows[(floor.test_id, day)] == (480, 500)  # the confirmed test overload stands
    assert await allowance(session, floor.test_id, day) == 20
    await assert_never_over_capacity(session)


async def test_release_and_schedule_routes(
    client: httpx.AsyncClient,
    session: AsyncSession,
    manager_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    floor = await a_floor(session)
    day = future_day()
    first = await a_planned_job(session, floor, 900, due=day)
    second = await a_planned_job(session, floor, 100, due=day)
    body = {"confirm": True, "start": day.isoformat()}
    ok = await client.post(f"/api/v1/jobs/{first}/release", json=body, headers=manager_headers)
    assert ok.status_code == 200, ok.text
    over = await client.post(f"/api/v1/jobs/{second}/release", json=body, headers=manager_headers)
    assert over.status_code == 409
    assert over.headers["content-type"].startswith("application/problem+json")
    assert over.json()["code"] == "over_capacity"
    denied = await client.post(
        f"/api/v1/jobs/{second}/release",
        json={**body, "confirm_over_capacity": True},
        headers=operator_headers,
    )
    assert denied.status_code == 403
    confirmed = await client.post(
        f"/api/v1/jobs/{second}/release",
        json={**body, "confirm_over_capacity": True},
        headers=manager_headers,
    )
    assert confirmed.status_code == 200, confirmed.text
    # the schedule route: backward, then a manager's override answered with the overloads
    back = await client.post(
        f"/api/v1/jobs/{first}/schedule",
        json={"start": capacity.today().isoformat(), "direction": "backward"},
        headers=operator_headers,
    )
    assert back.status_code == 200, back.text  # what misses on the due day goes the day before
    assert back.json()["finish"] == day.isoformat()
    assert back.json()["direction"] == "backward"
    forced = await client.post(
        f"/api/v1/jobs/{first}/schedule",
        json={"start": day.isoformat(), "confirm_over_capacity": True},
        headers=manager_headers,
    )
    assert forced.status_code == 200, forced.text
    assert forced.json()["overloads"]
    bad = await client.post(
        f"/api/v1/jobs/{first}/schedule",
        json={"start": day.isoformat(), "direction": "sideways"},
        headers=manager_headers,
    )
    assert bad.status_code == 422


async def test_refusals_without_a_feasible_finish_and_without_operations(
    session: AsyncSession,
) -> None:
    floor = await a_floor(session)
    # SMT needs 400,030 minutes: more than a year of 960 a day, even without the due date
    huge = await a_planned_job(session, floor, 400_000, due=future_day(2))
    with pytest.raises(OverCapacityError) as refused:
        await release(session, huge, Request(), manager=True)  # (short of material too)
    assert refused.value.details["earliest_feasible_finish"] is None
    assert "Nothing fits" in str(refused.value)
    # a manager's confirmation books it anyway, the overload on the due day
    await release(session, huge, Request(confirm_over_capacity=True), manager=True)
    assert await allowance(session, floor.smt_id, future_day(2)) > 0
    await assert_never_over_capacity(session)
    # without a routing there is nothing to schedule: released unscheduled
    await session.execute(
        Routing.__table__.update().where(Routing.id == floor.routing_id).values(active=False)
    )
    await session.commit()
    plain = await a_planned_job(session, floor, 5)
    await release(session, plain, Request(), manager=True)
    assert await job_operations(session, plain) == []
    with pytest.raises(RuleViolationError) as none:
        await shopfloor_service.schedule_job(session, job_id=plain, start=capacity.today())
    assert none.value.code == "no_operations"
    with pytest.raises(ValidationError) as far:
        await shopfloor_service.schedule_job(
            session, job_id=huge, start=capacity.today() + timedelta(days=3000)
        )
    assert far.value.code == "start_too_far"


async def test_propose_earliest_books_a_job_already_past_its_due_date(
    session: AsyncSession,
) -> None:
    floor = await a_floor(session)
    overdue = await a_planned_job(session, floor, 10, due=capacity.today() - timedelta(1))
    await release(session, overdue, Request(propose_earliest=True), manager=False)
    plan = await shopfloor_service.schedule_job(
        session, job_id=overdue, start=capacity.today(), propose_earliest=True
    )
    assert plan.finish == capacity.today()
    assert plan.late is True
