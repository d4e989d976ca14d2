"""A job on hold frees its capacity and KOSH suggests what to run instead (same work
centres or department, fits the freed hours, material available now, by due date); one
call schedules the chosen job into the slot."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError, NotFoundError, ValidationError
from kosh.production import service as job_service
from kosh.shopfloor import capacity, holds
from kosh.shopfloor import service as shopfloor_service
from tests.shopfloor.support import (
    a_floor,
    a_released_job,
    assert_never_over_capacity,
    booked_minutes,
    future_day,
    load_rows,
    operation_ids,
)

Request = job_service.CapacityRequest


@pytest.fixture
async def viewer_headers(make_user: Any, token_for: Any) -> dict[str, str]:
    viewer = await make_user("viewer")
    return {"authorization": f"Bearer {await token_for(viewer)}"}


async def test_hold_frees_capacity_and_suggests_jobs_that_fit_by_due_date(
    session: AsyncSession,
) -> None:
    # given job A (SMT 530, test 250) booked on `day`, and four jobs waiting
    floor = await a_floor(session)
    day = future_day()
    held = await a_released_job(session, floor, 500, capacity_request=Request(start=day))
    later = await a_released_job(session, floor, 200, due=day + timedelta(5))
    sooner = await a_released_job(session, floor, 100, due=day + timedelta(2))
    undated = await a_released_job(session, floor, 100)
    too_big = await a_released_job(session, floor, 2000)  # SMT 2030 > the 530 freed

    # when A is put on hold
    view = await shopfloor_service.hold_job(session, job_id=held, reason="customer paused")

    # then its capacity is free and the jobs that fit are suggested by due date
    assert view.freed_minutes == 780
    assert view.slot_start == day
    assert await booked_minutes(session) == 0
    assert [s.job_id for s in view.suggestions] == [sooner, later, undated]
    assert all(s.same_work_centre for s in view.suggestions)
    assert too_big not in [s.job_id for s in view.suggestions]

    # when the second suggestion is taken: it is scheduled into the slot
    plan = await shopfloor_service.take_suggestion(session, held_job_id=held, job_id=later)
    assert plan.start == day
    assert plan.finish == day
    rows = await load_rows(session)
    assert rows[(floor.smt_id, day)] == (960, 230)
    await assert_never_over_capacity(session)

    # a job that is no suggestion is refused, and so is a second hold or scheduling A
    with pytest.raises(ConflictError) as refused:
        await shopfloor_service.take_suggestion(session, held_job_id=held, job_id=too_big)
    assert refused.value.code == "not_a_suggestion"
    with pytest.raises(ConflictError) as twice:
        await shopfloor_service.hold_job(session, job_id=held, reason="again")
    assert twice.value.code == "already_on_hold"
    with pytest.raises(ConflictError) as on_hold:
        await shopfloor_service.schedule_job(session, job_id=held, start=day)
    assert on_hold.value.code == "job_on_hold"
    assert [h.job_id for h in await holds.active_holds(session)] == [held]

    # when A resumes it can be scheduled again (the slot it had is partly taken)
    resumed = await shopfloor_service.resume_job(session, job_id=held)
    assert resumed.released_at is not None
    with pytest.raises(NotFoundError):
        await shopfloor_service.resume_job(session, job_id=held)
    plan = await shopfloor_service.schedule_job(session, job_id=held, start=day)
    assert plan.finish == day
    await assert_never_over_capacity(session)


async def test_equally_due_jobs_are_suggested_by_priority_then_age(
    session: AsyncSession,
) -> None:
    # given a held job and four waiting jobs due the same day, of different priorities
    floor = await a_floor(session, smt_run="0", test_run="0")
    day = future_day()
    held = await a_released_job(session, floor, 10, capacity_request=Request(start=day))
    due = day + timedelta(3)
    low = await a_released_job(session, floor, 10, due=due, priority="low")
    normal = await a_released_job(session, floor, 10, due=due)
    urgent = await a_released_job(session, floor, 10, due=due, priority="urgent")
    high = await a_released_job(session, floor, 10, due=due, priority="high")
    sooner_low = await a_released_job(session, floor, 10, due=day + timedelta(1), priority="low")

    view = await shopfloor_service.hold_job(session, job_id=held, reason="waiting for parts")

    # then the due date comes first, then urgent > high > normal > low
    assert [s.job_id for s in view.suggestions] == [sooner_low, urgent, high, normal, low]
    assert [s.priority for s in view.suggestions] == ["low", "urgent", "high", "normal", "low"]


async def test_a_job_takes_a_known_priority_only(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    floor = await a_floor(session)
    body = {
        "number": "J-PRIO-1",
        "assembly_part_number": floor.assembly,
        "qty": 1,
        "warehouse_id": floor.warehouse_id,
    }
    refused = await client.post(
        "/api/v1/jobs", json=body | {"priority": "asap"}, headers=admin_headers
    )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"][-1] == "priority"
    assert (await client.get("/api/v1/jobs?q=J-PRIO-1", headers=admin_headers)).json()["total"] == 0
    made = await client.post(
        "/api/v1/jobs", json=body | {"priority": "high"}, headers=admin_headers
    )
    assert made.status_code == 201, made.text
    assert made.json()["priority"] == "high"
    default = await client.post(
        "/api/v1/jobs", json=body | {"number": "J-PRIO-2"}, headers=admin_headers
    )
    assert default.json()["priority"] == "normal"


async def test_jobs_short_of_material_are_not_suggested(session: AsyncSession) -> None:
    # given a routing of setups only (30 min SMT, whatever the quantity)
    floor = await a_floor(session, smt_run="0", test_run="0")
    day = future_day()
    held = await a_released_job(session, floor, 10, capacity_request=Request(start=day))
    ready = await a_released_job(session, floor, 10)
    short = await a_released_job(session, floor, 60_000)  # needs 120,000 of 100,000 resistors
    view = await shopfloor_service.hold_job(session, job_id=held, reason="rework")
    assert [s.job_id for s in view.suggestions] == [ready]
    assert short not in [s.job_id for s in view.suggestions]


async def test_hold_rules(session: AsyncSession) -> None:
    floor = await a_floor(session)
    job = await a_released_job(session, floor, 10)
    with pytest.raises(ValidationError) as blank:
        await shopfloor_service.hold_job(session, job_id=job, reason="  ")
    assert blank.value.code == "reason_required"
    # unscheduled: nothing freed, nothing suggested
    view = await shopfloor_service.hold_job(session, job_id=job, reason="waiting")
    assert view.freed_minutes == 0
    assert view.slot_start is None
    assert view.suggestions == []
    await shopfloor_service.resume_job(session, job_id=job)
    await job_service.cancel_job(session, job_id=job)
    with pytest.raises(ConflictError) as closed:
        await shopfloor_service.hold_job(session, job_id=job, reason="too late")
    assert closed.value.code == "invalid_status"
    with pytest.raises(NotFoundError):
        await shopfloor_service.take_suggestion(session, held_job_id=job, job_id=job)
    assert len(await operation_ids(session, job)) == 2


async def test_hold_routes(
    client: httpx.AsyncClient,
    session: AsyncSession,
    operator_headers: dict[str, str],
    viewer_headers: dict[str, str],
) -> None:
    floor = await a_floor(session)
    day = capacity.today() + timedelta(3)
    held = await a_released_job(session, floor, 500, capacity_request=Request(start=day))
    other = await a_released_job(session, floor, 100)
    h = operator_headers
    bad = await client.post(f"/api/v1/jobs/{held}/hold", json={"reason": "\x00"}, headers=h)
    assert bad.status_code == 422
    denied = await client.post(
        f"/api/v1/jobs/{held}/hold", json={"reason": "x"}, headers=viewer_headers
    )
    assert denied.status_code == 403
    made = await client.post(f"/api/v1/jobs/{held}/hold", json={"reason": "paused"}, headers=h)
    assert made.status_code == 200, made.text
    assert [s["job_id"] for s in made.json()["suggestions"]] == [other]
    read = await client.get(f"/api/v1/jobs/{held}/hold", headers=viewer_headers)
    assert read.json()["freed_minutes"] == 780
    listed = await client.get("/api/v1/holds", headers=viewer_headers)
    assert [h["job_id"] for h in listed.json()] == [held]
    taken = await client.post(
        f"/api/v1/jobs/{held}/hold/suggestions/{other}/take", headers=operator_headers
    )
    assert taken.status_code == 200, taken.text
    assert taken.json()["start"] == day.isoformat()
    resumed = await client.post(f"/api/v1/jobs/{held}/resume", headers=operator_headers)
    assert resumed.status_code == 200
    assert resumed.json()["released_at"] is not None
    gone = await client.get(f"/api/v1/jobs/{held}/hold", headers=viewer_headers)
    assert gone.status_code == 404


async def test_a_batch_leaves_held_jobs_alone(session: AsyncSession) -> None:
    floor = await a_floor(session)
    day = future_day()
    held = await a_released_job(session, floor, 50)
    other = await a_released_job(session, floor, 50)
    await shopfloor_service.hold_job(session, job_id=held, reason="waiting for the customer")
    outcomes = await shopfloor_service.schedule_jobs(
        session, job_ids=[held, other], start=day, finish_by=day
    )
    assert [(o.job_id, o.scheduled, o.code) for o in outcomes] == [
        (held, False, "job_on_hold"),
        (other, True, None),
    ]


async def test_a_job_at_a_later_stage_counts_its_open_steps_only(session: AsyncSession) -> None:
    # given a job whose SMT step is done: its next step (its stage) is on the test bench
    floor = await a_floor(session)
    day = future_day()
    held = await a_released_job(session, floor, 200, capacity_request=Request(start=day))
    later_stage = await a_released_job(session, floor, 10)
    smt_op, _ = await operation_ids(session, later_stage)
    await shopfloor_service.create_employee(
        session, number="E-8", name="Kim", department_code=floor.department, badge="B-8"
    )
    await shopfloor_service.start_operation(session, operation_id=smt_op, badge="B-8")
    await shopfloor_service.stop_operation(
        session, operation_id=smt_op, badge="B-8", good_qty=10, finish=True
    )
    # when the held job frees SMT and the test bench (the later job's stage)
    view = await shopfloor_service.hold_job(session, job_id=held, reason="paused")
    assert [s.job_id for s in view.suggestions] == [later_stage]
    assert view.suggestions[0].minutes == 5  # only its open test step counts
