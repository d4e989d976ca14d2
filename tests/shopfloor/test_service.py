"""Shop-floor use cases: people (audited without personal values), capacity (calendar x
machines x efficiency), operations from routings on release, finite-capacity scheduling
that refuses to over-plan, machine states taking bookings off the plan, time logs."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, ValidationError
from kosh.core.models import AuditEvent
from kosh.production import service as job_service
from kosh.shopfloor import capacity, queries, routings, timelogs
from kosh.shopfloor import service as shopfloor_service
from kosh.shopfloor.errors import OverCapacityError
from kosh.shopfloor.models import Employee, JobOperation, TimeLog
from tests.shopfloor.support import (
    a_floor,
    a_released_job,
    assert_never_over_capacity,
    booked_minutes,
    future_day,
    load_rows,
    operation_ids,
)
from tests.support.stock import a_location

# --- people -----------------------------------------------------------------------------


async def test_employee_audit_names_fields_never_personal_values(session: AsyncSession) -> None:
    # given
    floor = await a_floor(session)
    # when
    employee = await shopfloor_service.create_employee(
        session,
        number="E-100",
        name="Ada Lovelace",
        department_code=floor.department,
        badge="BADGE-SECRET-1",
        work_centres=[floor.smt],
    )
    employee_id, version = employee.id, employee.version
    await shopfloor_service.update_employee(
        session, employee_id=employee_id, version=version, name="Ada King", badge="BADGE-SECRET-2"
    )
    # then: the trail says what changed, never to what
    events = list(
        await session.scalars(
            select(AuditEvent).where(AuditEvent.entity_type == "employee").order_by(AuditEvent.id)
        )
    )
    assert [e.action for e in events] == ["employee.create", "employee.update"]
    trail = json.dumps([[e.before, e.after] for e in events])
    for personal in ("Ada", "Lovelace", "King", "BADGE-SECRET"):
        assert personal not in trail
    assert events[1].after is not None
    assert events[1].after["changed"] == ["badge_code", "name"]
    # and the employee row holds the values
    await session.rollback()
    row = await session.get(Employee, employee_id)
    assert row is not None
    assert (row.name, row.badge_code, row.version) == ("Ada King", "BADGE-SECRET-2", 2)


async def test_badges_are_unique_and_unknown_badges_404(session: AsyncSession) -> None:
    floor = await a_floor(session)
    await shopfloor_service.create_employee(
        session, number="E-1", name="A", department_code=floor.department, badge="B-1"
    )
    with pytest.raises(ConflictError) as taken:
        await shopfloor_service.create_employee(
            session, number="E-2", name="B", department_code=floor.department, badge="B-1"
        )
    assert taken.value.code == "employee_badge_taken"
    assert "B-1" not in json.dumps(taken.value.details)
    with pytest.raises(NotFoundError) as unknown:
        await shopfloor_service.find_operator(session, badge="NOPE")
    assert unknown.value.code == "employee_not_found"
    assert "NOPE" not in unknown.value.message


async def test_stale_employee_version_is_refused(session: AsyncSession) -> None:
    floor = await a_floor(session)
    employee = await shopfloor_service.create_employee(
        session, number="E-1", name="A", department_code=floor.department
    )
    employee_id = employee.id
    await shopfloor_service.update_employee(session, employee_id=employee_id, version=1, name="B")
    with pytest.raises(ConflictError) as stale:
        await shopfloor_service.update_employee(
            session, employee_id=employee_id, version=1, name="C"
        )
    assert stale.value.code == "stale_version"


# --- capacity ---------------------------------------------------------------------------


async def test_capacity_is_calendar_times_machines_times_efficiency(session: AsyncSession) -> None:
    # given SMT: 8 h every day, two machines available, 100 %
    floor = await a_floor(session)
    day = future_day(10)
    centre = await shopfloor_service.get_work_centre_by_code_or_raise(session, floor.smt)
    assert (await capacity.capacities(session, centre, day, day))[day] == 960
    # when efficiency drops to 75 %, a holiday is set the next day, one machine goes down
    await shopfloor_service.set_efficiency(session, code=floor.smt, version=1, efficiency_pct=75)
    await shopfloor_service.set_calendar_day(
        session, code=floor.calendar, day=day + timedelta(1), minutes=0, reason="holiday"
    )
    await shopfloor_service.set_machine_status(
        session, machine_id=floor.machine_ids[1], status="down", reason="nozzle broken"
    )
    # then
    await session.rollback()
    centre = await shopfloor_service.get_work_centre_by_code_or_raise(session, floor.smt)
    caps = await capacity.capacities(session, centre, day, day + timedelta(1))
    assert caps == {day: 480 * 1 * 75 // 100, day + timedelta(1): 0}
    # and a manual station (no machines) counts as one
    test = await shopfloor_service.get_work_centre_by_code_or_raise(session, floor.test)
    assert (await capacity.capacities(session, test, day, day))[day] == 480


async def test_a_calendar_day_over_24_hours_is_refused(session: AsyncSession) -> None:
    floor = await a_floor(session)
    with pytest.raises(ValidationError):
        await shopfloor_service.set_calendar_day(
            session, code=floor.calendar, day=future_day(), minutes=25 * 60
        )
    with pytest.raises(ValidationError):
        await shopfloor_service.create_calendar(
            session, code="BAD", name="bad", minutes={"mon": 1500}
        )


# --- operations from routings -------------------------------------------------------------


async def test_release_creates_operations_from_the_routing(session: AsyncSession) -> None:
    # given a routing: SMT 30 + 1 min/unit, test 0 + 0.5 min/unit
    floor = await a_floor(session)
    # when a job for 101 is released
    job_id = await a_released_job(session, floor, 101)
    # then
    ops = await routings.job_operations(session, job_id)
    assert [(op.seq, op.planned_minutes, op.status) for op in ops] == [
        (10, 131, "pending"),
        (20, 51, "pending"),  # 50.5 rounds up
    ]
    actions = set(await session.scalars(select(AuditEvent.action)))
    assert {"job.release", "job.operations"} <= actions


async def test_release_fails_whole_when_an_operation_would_be_too_long(
    session: AsyncSession,
) -> None:
    # given 10,000 min per unit and a job for 1,000,000 units
    floor = await a_floor(session, smt_run="10000")
    job = await job_service.create_job(
        session,
        number="J-BIG",
        assembly_part_number=floor.assembly,
        qty=1_000_000,
        warehouse_id=floor.warehouse_id,
    )
    job_id = job.id
    # when / then: the release is refused as a whole
    with pytest.raises(RuleViolationError) as refused:
        await job_service.release_job(session, job_id=job_id, confirm=True, may_confirm=True)
    assert refused.value.code == "operation_too_long"
    await session.rollback()
    assert (await job_service.get_job_or_raise(session, job_id)).status == "planned"
    assert await routings.job_operations(session, job_id) == []


# --- scheduling -------------------------------------------------------------------------


async def test_schedule_books_within_capacity_and_refuses_over_planning(
    session: AsyncSession,
) -> None:
    # given SMT 960 min/day, test 480 min/day
    floor = await a_floor(session)
    day = future_day()
    first = await a_released_job(session, floor, 900)  # SMT 930, test 450
    second = await a_released_job(session, floor, 100)  # SMT 130, test 50
    # when the first is scheduled for one day
    plan = await shopfloor_service.schedule_job(session, job_id=first, start=day, finish_by=day)
    # then it is booked on that day, both operations
    assert plan.finish == day
    rows = await load_rows(session)
    assert rows[(floor.smt_id, day)] == (960, 930)
    assert rows[(floor.test_id, day)] == (480, 450)
    # when the second must also finish that day
    with pytest.raises(OverCapacityError) as refused:
        await shopfloor_service.schedule_job(session, job_id=second, start=day, finish_by=day)
    # then 409 over_capacity naming the work centre, what is free, and the earliest finish
    assert refused.value.status == 409
    assert refused.value.details == {
        "work_centre": floor.smt,
        "operation_seq": 10,
        "period": {"from": day.isoformat(), "to": day.isoformat()},
        "needed_minutes": 130,
        "free_minutes": 30,
        "overload_minutes": 100,
        "suggestion": {"start": day.isoformat(), "finish": (day + timedelta(1)).isoformat()},
        "earliest_feasible_finish": (day + timedelta(1)).isoformat(),
    }
    # and nothing of it was booked
    for op_id in await operation_ids(session, second):
        assert await booked_minutes(session, op_id) == 0
    # when it takes the suggestion
    plan = await shopfloor_service.schedule_job(
        session, job_id=second, start=day, finish_by=day + timedelta(1)
    )
    # then it spans the free 30 minutes and the next day, in sequence
    smt_days = plan.placements[0].days
    assert smt_days == [(day, 30), (day + timedelta(1), 100)]
    assert plan.placements[1].days == [(day + timedelta(1), 50)]
    await assert_never_over_capacity(session)


async def test_rescheduling_replaces_the_old_bookings(session: AsyncSession) -> None:
    floor = await a_floor(session)
    day = future_day()
    job_id = await a_released_job(session, floor, 100)
    await shopfloor_service.schedule_job(session, job_id=job_id, start=day)
    await shopfloor_service.schedule_job(session, job_id=job_id, start=day + timedelta(5))
    rows = await load_rows(session)
    assert rows[(floor.smt_id, day)] == (960, 0)
    assert rows[(floor.smt_id, day + timedelta(5))] == (960, 130)
    assert await booked_minutes(session) == 180
    await assert_never_over_capacity(session)


async def test_schedule_refuses_the_past_and_closed_jobs(session: AsyncSession) -> None:
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 10)
    with pytest.raises(ValidationError) as past:
        await shopfloor_service.schedule_job(
            session, job_id=job_id, start=capacity.today() - timedelta(1)
        )
    assert past.value.code == "start_in_past"
    with pytest.raises(ValidationError) as far:
        await shopfloor_service.schedule_job(session, job_id=job_id, start=date.max)
    assert far.value.code == "start_too_far"
    await job_service.cancel_job(session, job_id=job_id)
    with pytest.raises(ConflictError) as closed:
        await shopfloor_service.schedule_job(session, job_id=job_id, start=future_day())
    assert closed.value.code == "invalid_status"


async def test_cancelling_a_job_frees_its_capacity(session: AsyncSession) -> None:
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 100)
    await shopfloor_service.schedule_job(session, job_id=job_id, start=future_day())
    assert await booked_minutes(session) == 180
    await job_service.cancel_job(session, job_id=job_id)
    assert await booked_minutes(session) == 0
    assert all(planned == 0 for _, planned in (await load_rows(session)).values())


async def test_machine_down_takes_what_no_longer_fits_off_the_plan(session: AsyncSession) -> None:
    # given 930 minutes booked on SMT (960/day with two machines)
    floor = await a_floor(session)
    day = future_day()
    job_id = await a_released_job(session, floor, 900)
    await shopfloor_service.schedule_job(session, job_id=job_id, start=day, finish_by=day)
    smt_op, test_op = await operation_ids(session, job_id)
    # when one machine goes down
    change = await shopfloor_service.set_machine_status(
        session, machine_id=floor.machine_ids[0], status="down", reason="feeder jam"
    )
    # then the SMT operation is off the plan, the test one stays, nothing is over capacity
    assert change.displaced == [smt_op]
    assert await booked_minutes(session, smt_op) == 0
    assert await booked_minutes(session, test_op) == 450
    assert (await load_rows(session))[(floor.smt_id, day)] == (480, 0)
    await assert_never_over_capacity(session)
    events = list(
        await session.scalars(select(AuditEvent).where(AuditEvent.action == "machine.status"))
    )
    assert events[0].after == {
        "status": "down",
        "reason": "feeder jam",
        "displaced_operations": [smt_op],
    }
    # and a stale version is refused
    with pytest.raises(ConflictError) as stale:
        await shopfloor_service.set_machine_status(
            session, machine_id=floor.machine_ids[0], status="running", version=1
        )
    assert stale.value.code == "stale_version"


async def test_load_view_shows_capacity_and_planned_per_day(session: AsyncSession) -> None:
    floor = await a_floor(session)
    day = future_day()
    job_id = await a_released_job(session, floor, 100)
    await shopfloor_service.schedule_job(session, job_id=job_id, start=day)
    await session.rollback()
    centre = await shopfloor_service.get_work_centre_by_code_or_raise(session, floor.smt)
    periods = await queries.load(session, centre, day, day + timedelta(1))
    assert [(p.start, p.capacity_minutes, p.planned_minutes) for p in periods] == [
        (day, 960, 130),
        (day + timedelta(1), 960, 0),
    ]
    assert periods[0].utilisation == round(130 / 960, 4)


# --- time logs --------------------------------------------------------------------------


async def test_operator_start_pause_finish_and_the_rules(session: AsyncSession) -> None:
    # given a released job for 10 and two operators
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 10)
    smt_op, test_op = await operation_ids(session, job_id)
    for number, badge in (("E-1", "B-1"), ("E-2", "B-2")):
        await shopfloor_service.create_employee(
            session, number=number, name=number, department_code=floor.department, badge=badge
        )
    # when E-1 starts SMT
    start = await shopfloor_service.start_operation(session, operation_id=smt_op, badge="B-1")
    assert start.kind == "start"
    # then E-1 cannot start another operation at the same time
    with pytest.raises(ConflictError) as busy:
        await shopfloor_service.start_operation(session, operation_id=test_op, badge="B-1")
    assert busy.value.code == "already_running"
    assert busy.value.details == {"operation_id": smt_op}
    # when E-1 pauses with 4 good, 1 scrap
    stop = await shopfloor_service.stop_operation(
        session, operation_id=smt_op, badge="B-1", good_qty=4, scrap_qty=1, reason="break"
    )
    assert (stop.kind, stop.start_log_id, stop.good_qty, stop.scrap_qty) == ("stop", start.id, 4, 1)
    # then a second pause from a stale page finds nothing open
    with pytest.raises(ConflictError) as stale:
        await shopfloor_service.stop_operation(session, operation_id=smt_op, badge="B-1")
    assert stale.value.code == "not_running"
    # and the test step cannot pass more good units than SMT did
    await shopfloor_service.start_operation(session, operation_id=test_op, badge="B-2")
    with pytest.raises(RuleViolationError) as more:
        await shopfloor_service.stop_operation(
            session, operation_id=test_op, badge="B-2", good_qty=5, finish=True
        )
    assert more.value.code == "exceeds_previous_operation"
    await shopfloor_service.stop_operation(
        session, operation_id=test_op, badge="B-2", good_qty=4, finish=True
    )
    with pytest.raises(ConflictError) as done:
        await shopfloor_service.start_operation(session, operation_id=test_op, badge="B-2")
    assert done.value.code == "operation_done"
    # and the actuals are the sums of the rows
    await session.rollback()
    actual = await timelogs.actuals(session, [smt_op, test_op])
    assert (actual[smt_op].good_qty, actual[smt_op].scrap_qty) == (4, 1)
    assert actual[test_op].good_qty == 4
    op = await session.get(JobOperation, test_op)
    assert op is not None
    assert op.status == "done"


async def test_unknown_badge_and_unreleased_job_change_nothing(session: AsyncSession) -> None:
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 10)
    smt_op, _ = await operation_ids(session, job_id)
    with pytest.raises(NotFoundError):
        await shopfloor_service.start_operation(session, operation_id=smt_op, badge="NOPE")
    with pytest.raises(NotFoundError):
        await shopfloor_service.start_operation(session, operation_id=999_999, badge="NOPE")
    await session.rollback()
    assert list(await session.scalars(select(TimeLog))) == []


async def test_corrections_reverse_and_never_edit(session: AsyncSession) -> None:
    # given a stop row of 4 good
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 10)
    smt_op, _ = await operation_ids(session, job_id)
    await shopfloor_service.create_employee(
        session, number="E-1", name="E", department_code=floor.department, badge="B-1"
    )
    await shopfloor_service.start_operation(session, operation_id=smt_op, badge="B-1")
    stop = await shopfloor_service.stop_operation(
        session, operation_id=smt_op, badge="B-1", good_qty=4
    )
    original = (stop.id, stop.minutes, stop.good_qty)
    # when a manager corrects it to 45 minutes and 3 good
    rows = await shopfloor_service.correct_time_log(
        session, log_id=stop.id, reason="forgot to scan", minutes=45, good_qty=3
    )
    # then a reversal and a manual row were added; the original is unchanged
    assert [(r.kind, r.minutes, r.good_qty) for r in rows] == [
        ("reversal", -original[1], -4),
        ("manual", 45, 3),
    ]
    await session.rollback()
    again = await session.get(TimeLog, original[0])
    assert again is not None
    assert (again.id, again.minutes, again.good_qty) == original
    actual = (await timelogs.actuals(session, [smt_op]))[smt_op]
    assert (actual.minutes, actual.good_qty) == (45, 3)
    # and a second correction of the same row is refused
    with pytest.raises(ConflictError) as twice:
        await shopfloor_service.correct_time_log(session, log_id=original[0], reason="again")
    assert twice.value.code == "already_corrected"


async def test_completion_cannot_receive_more_than_the_last_operation_passed(
    session: AsyncSession,
) -> None:
    # given a job for 10 whose two operations passed 4 good units
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 10)
    ops = await operation_ids(session, job_id)
    await shopfloor_service.create_employee(
        session, number="E-1", name="E", department_code=floor.department, badge="B-1"
    )
    for op_id in ops:
        await shopfloor_service.start_operation(session, operation_id=op_id, badge="B-1")
        await shopfloor_service.stop_operation(
            session, operation_id=op_id, badge="B-1", good_qty=4, finish=True
        )
    await job_service.start_job(session, job_id=job_id)
    shelf = await a_location(session, floor.warehouse_id)
    shelf_id = shelf.id
    # when completion wants to receive 5, then 4
    with pytest.raises(RuleViolationError) as refused:
        await job_service.complete_job(session, job_id=job_id, produced_qty=5, location_id=shelf_id)
    # then 5 is refused as a whole (the job stays in progress), 4 goes through
    assert refused.value.code == "exceeds_last_operation"
    await session.rollback()
    assert (await job_service.get_job_or_raise(session, job_id)).status == "in_progress"
    done = await job_service.complete_job(
        session, job_id=job_id, produced_qty=4, location_id=shelf_id
    )
    assert done.job.status == "complete"


async def test_employees_run_only_their_work_centres(session: AsyncSession) -> None:
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 10)
    smt_op, test_op = await operation_ids(session, job_id)
    await shopfloor_service.create_employee(
        session,
        number="E-1",
        name="E",
        department_code=floor.department,
        badge="B-1",
        work_centres=[floor.test],
    )
    with pytest.raises(RuleViolationError) as refused:
        await shopfloor_service.start_operation(session, operation_id=smt_op, badge="B-1")
    assert refused.value.code == "not_qualified"
    started = await shopfloor_service.start_operation(session, operation_id=test_op, badge="B-1")
    assert started.kind == "start"


async def test_personal_data_is_found_in_one_place_and_erased_there(session: AsyncSession) -> None:
    # given an employee who logged time
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 10)
    smt_op, _ = await operation_ids(session, job_id)
    employee = await shopfloor_service.create_employee(
        session, number="E-1", name="Ada", department_code=floor.department, badge="BADGE-XYZ-1"
    )
    employee_id = employee.id
    start = await shopfloor_service.start_operation(
        session, operation_id=smt_op, badge="BADGE-XYZ-1"
    )
    start_id = start.id
    # when exported
    exported = await shopfloor_service.personal_data(session, employee_id)
    # then
    assert exported == {
        "employee_id": employee_id,
        "number": "E-1",
        "name": "Ada",
        "badge_code": "BADGE-XYZ-1",
        "user_id": None,
        "work_centre_ids": [],
        "time_log_ids": [start_id],
    }
    # when erased
    await shopfloor_service.erase_employee(session, employee_id=employee_id)
    # then the row is blank, the time log stays, and nothing anywhere holds the name
    erased = await shopfloor_service.personal_data(session, employee_id)
    assert (erased["name"], erased["badge_code"], erased["time_log_ids"]) == (
        "(erased)",
        None,
        [start_id],
    )
    trail = json.dumps([[e.before, e.after] for e in await session.scalars(select(AuditEvent))])
    assert "Ada" not in trail
    assert "BADGE-XYZ-1" not in trail
    with pytest.raises(NotFoundError):
        await shopfloor_service.find_operator(session, badge="BADGE-XYZ-1")


async def test_batch_scheduling_books_each_job_whole_or_reports_it(
    session: AsyncSession,
) -> None:
    # given three jobs of 400 (SMT 430 min, test 200 min) to finish on one day: two fit
    floor = await a_floor(session)
    day = future_day()
    jobs = [await a_released_job(session, floor, 400) for _ in range(3)]
    cancelled = await a_released_job(session, floor, 1)
    await job_service.cancel_job(session, job_id=cancelled)
    # when
    outcomes = await shopfloor_service.schedule_jobs(
        session, job_ids=[*jobs, cancelled], start=day, finish_by=day
    )
    # then
    assert [(o.scheduled, o.code) for o in outcomes] == [
        (True, None),
        (True, None),
        (False, "over_capacity"),
        (False, "invalid_status"),
    ]
    assert outcomes[2].detail == {
        "work_centre": floor.smt,
        "operation_seq": 10,
        "needed_minutes": 430,
        "missing_minutes": 330,
    }
    rows = await load_rows(session)
    assert rows[(floor.smt_id, day)] == (960, 860)
    assert rows[(floor.test_id, day)] == (480, 400)
    for op_id in await operation_ids(session, jobs[2]):
        assert await booked_minutes(session, op_id) == 0
    await assert_never_over_capacity(session)
