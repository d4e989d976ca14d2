"""Planned maintenance windows: reserving the machine's capacity lowers the shop floor's
capacity on exactly those days (the load view shows it, the planner refuses to plan into
it, bookings that no longer fit come off the plan), cancelling gives it back; the
maintenance calendar lays out windows and due dates per day; the pages and the API."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import utcnow
from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, ValidationError
from kosh.quality import service as quality_service
from kosh.quality import windows
from kosh.quality.models import MaintenancePlan
from kosh.shopfloor import downtime
from kosh.shopfloor import queries as shopfloor_queries
from kosh.shopfloor import service as shopfloor_service
from kosh.shopfloor.models import WorkCentre
from tests.quality.test_pages import HTML, Login, unlabelled_inputs
from tests.shopfloor.support import Floor, a_floor, a_released_job, future_day
from tests.support.fixtures import MakeUser
from tests.web.test_no_inline_code import inline_code


async def _plan(session: AsyncSession, floor: Floor, *, every_days: int = 30) -> tuple[int, str]:
    machine = await shopfloor_service.get_machine_or_raise(session, floor.machine_ids[0])
    code = machine.asset_number
    plan = await quality_service.create_plan(
        session, machine_code=code, every_days=every_days, title="Nozzle service"
    )
    return plan.id, code


async def _capacity(session: AsyncSession, floor: Floor, start: date, days: int) -> list[int]:
    await session.rollback()
    centre = await session.get_one(WorkCentre, floor.smt_id)
    periods = await shopfloor_queries.load(session, centre, start, start + timedelta(days - 1))
    return [p.capacity_minutes for p in periods]


async def test_a_reserved_window_lowers_capacity_on_its_days_only(session: AsyncSession) -> None:
    # given an SMT line of two machines (960 min a day) and a plan for one of them
    floor = await a_floor(session)
    plan_id, _ = await _plan(session, floor)
    day = future_day(3)
    assert await _capacity(session, floor, day, 3) == [960, 960, 960]
    # when a two-day window is planned with its capacity reserved
    planned = await quality_service.plan_window(
        session, plan_id=plan_id, first_day=day, last_day=day + timedelta(days=1)
    )
    window_id = planned.window.id
    assert planned.window.reference == f"PMW-{window_id:06d}"
    assert planned.displaced == []
    # then the load view shows one machine fewer on those days, and only those
    assert await _capacity(session, floor, day, 3) == [480, 480, 960]
    # and the planner refuses a job that needs more than what is left on the day
    job_id = await a_released_job(session, floor, 600)  # 630 min on the SMT line
    with pytest.raises(ConflictError) as caught:
        await shopfloor_service.schedule_job(session, job_id=job_id, start=day, finish_by=day)
    assert caught.value.code == "over_capacity"
    # when the window is cancelled, the capacity comes back and the job fits
    cancelled = await quality_service.cancel_window(session, window_id=window_id)
    assert cancelled.cancelled_at is not None
    assert await _capacity(session, floor, day, 3) == [960, 960, 960]
    await shopfloor_service.schedule_job(session, job_id=job_id, start=day, finish_by=day)
    with pytest.raises(ConflictError) as again:
        await quality_service.cancel_window(session, window_id=window_id)
    assert again.value.code == "window_cancelled"


async def test_reserving_takes_off_the_plan_what_no_longer_fits(session: AsyncSession) -> None:
    # given a job booked on a day with 630 of the SMT line's 960 minutes
    floor = await a_floor(session)
    plan_id, _ = await _plan(session, floor)
    day = future_day(4)
    job_id = await a_released_job(session, floor, 600)
    await shopfloor_service.schedule_job(session, job_id=job_id, start=day, finish_by=day)
    smt_op = (await shopfloor_service.job_operations(session, job_id))[0].id
    # when a window reserves one machine that day
    planned = await quality_service.plan_window(
        session, plan_id=plan_id, first_day=day, last_day=day
    )
    # then the booking no longer fits and comes off the plan
    assert planned.displaced == [smt_op]
    periods = await _capacity(session, floor, day, 1)
    assert periods == [480]


async def test_a_window_without_reservation_and_a_machine_already_down(
    session: AsyncSession,
) -> None:
    floor = await a_floor(session)
    plan_id, code = await _plan(session, floor)
    day = future_day(2)
    # a window kept only on the calendar does not touch capacity
    await quality_service.plan_window(
        session, plan_id=plan_id, first_day=day, last_day=day, reserve=False
    )
    assert await _capacity(session, floor, day, 1) == [960]
    # a reserved window on a machine that is down already does not count it twice
    await shopfloor_service.set_machine_status(
        session, machine_id=floor.machine_ids[0], status="down", reason="broken belt"
    )
    await quality_service.plan_window(session, plan_id=plan_id, first_day=day, last_day=day)
    assert await _capacity(session, floor, day, 1) == [480]
    days = await quality_service.maintenance_calendar(session, start=day, end=day)
    assert [(e.kind, e.machine_code, e.reserved) for e in days[0].entries] == [
        ("window", code, False),
        ("window", code, True),
    ]


async def test_window_rules(session: AsyncSession) -> None:
    floor = await a_floor(session)
    plan_id, _ = await _plan(session, floor)
    today = utcnow().date()
    for first, last in (
        (today - timedelta(days=1), today),
        (today + timedelta(days=2), today + timedelta(days=1)),
        (today, today + timedelta(days=31)),
    ):
        with pytest.raises(ValidationError):
            await quality_service.plan_window(
                session, plan_id=plan_id, first_day=first, last_day=last
            )
    with pytest.raises(NotFoundError) as missing:
        await quality_service.plan_window(session, plan_id=999_999, first_day=today, last_day=today)
    assert missing.value.code == "plan_not_found"
    with pytest.raises(NotFoundError):
        await quality_service.cancel_window(session, window_id=999_999)
    await session.execute(
        update(MaintenancePlan).where(MaintenancePlan.id == plan_id).values(active=False)
    )
    await session.commit()
    with pytest.raises(RuleViolationError) as inactive:
        await quality_service.plan_window(session, plan_id=plan_id, first_day=today, last_day=today)
    assert inactive.value.code == "plan_inactive"


async def test_the_shop_floor_checks_its_own_window_rules(session: AsyncSession) -> None:
    floor = await a_floor(session)
    today = utcnow().date()
    for first, last in ((today - timedelta(days=1), today), (today, today - timedelta(days=1))):
        with pytest.raises(ValidationError):
            await shopfloor_service.reserve_machine(
                session,
                machine_id=floor.machine_ids[0],
                first_day=first,
                last_day=last,
                reference="X",
            )
    assert await shopfloor_service.release_machine(session, reference="NOTHING") == 0
    assert await downtime.reserved_units(session, [], today, today) == {}
    assert await downtime.reserved_units(session, [floor.smt_id], today, today - timedelta(1)) == {}


async def test_the_calendar_shows_due_dates_overdue_and_windows(session: AsyncSession) -> None:
    # given a plan due every 7 days (first due in 7) and a window in 3 days
    floor = await a_floor(session)
    plan_id, code = await _plan(session, floor, every_days=7)
    today = utcnow().date()
    await quality_service.plan_window(
        session,
        plan_id=plan_id,
        first_day=today + timedelta(days=3),
        last_day=today + timedelta(days=4),
    )
    # and a run-hour plan, which has no dates to show
    await quality_service.create_plan(session, machine_code=code, every_run_hours=50)
    # when three weeks are laid out
    days = await quality_service.maintenance_calendar(
        session, start=today, end=today + timedelta(days=20)
    )
    by_day = {d.day: [(e.kind, e.machine_code) for e in d.entries] for d in days}
    # then the due dates repeat and the window covers its two days
    assert len(days) == 21
    assert by_day[today + timedelta(days=7)] == [("due", code)]
    assert by_day[today + timedelta(days=14)] == [("due", code)]
    assert by_day[today + timedelta(days=3)] == [("window", code)]
    assert by_day[today + timedelta(days=4)] == [("window", code)]
    assert [e.first for e in days[3].entries + days[4].entries] == [True, False]
    assert by_day[today] == []
    # when the plan's due date has passed, today shows it overdue
    await session.execute(
        update(MaintenancePlan)
        .where(MaintenancePlan.id == plan_id)
        .values(next_due_on=today - timedelta(days=2))
    )
    await session.commit()
    days = await quality_service.maintenance_calendar(
        session, start=today, end=today + timedelta(days=6)
    )
    assert [e.kind for e in days[0].entries] == ["overdue"]
    assert [e.kind for e in days[5].entries] == ["due"]
    # a calendar never spans more than six weeks
    long = await quality_service.maintenance_calendar(
        session, start=today, end=today + timedelta(days=400)
    )
    assert len(long) == windows.MAX_CALENDAR_DAYS


def test_calendar_spans() -> None:
    assert windows.calendar_span("week", date(2026, 12, 3)) == (
        date(2026, 11, 30),
        date(2026, 12, 6),
    )
    assert windows.calendar_span("month", date(2026, 12, 15)) == (
        date(2026, 11, 30),
        date(2027, 1, 3),
    )
    assert windows.calendar_span("month", date(2027, 2, 1)) == (
        date(2027, 2, 1),
        date(2027, 2, 28),
    )


async def test_windows_over_the_api_and_the_calendar_page(
    client: httpx.AsyncClient,
    session: AsyncSession,
    make_user: MakeUser,
    login: Login,
    operator_headers: dict[str, str],
    manager_headers: dict[str, str],
) -> None:
    floor = await a_floor(session)
    plan_id, code = await _plan(session, floor)
    day = future_day(1)
    body = {"plan_id": plan_id, "first_day": day.isoformat(), "last_day": day.isoformat()}
    refused = await client.post("/api/v1/maintenance-windows", json=body, headers=operator_headers)
    assert refused.status_code == 403
    created = await client.post("/api/v1/maintenance-windows", json=body, headers=manager_headers)
    assert created.status_code == 201, created.text
    window = created.json()
    assert (window["reserved"], window["displaced_operations"]) == (True, [])
    past = {**body, "first_day": "2000-01-01"}
    bad = await client.post("/api/v1/maintenance-windows", json=past, headers=manager_headers)
    assert bad.status_code == 422
    listed = await client.get(
        f"/api/v1/maintenance-calendar?view=week&date={day}", headers=operator_headers
    )
    assert listed.status_code == 200
    entries = [e for d in listed.json() for e in d["entries"]]
    assert [(e["kind"], e["machine_code"]) for e in entries] == [("window", code)]
    far = await client.get("/api/v1/maintenance-calendar?date=9999-12-31", headers=operator_headers)
    assert far.status_code == 422
    # the page, as a manager, in month and week view
    await login(client, await make_user("manager"))
    for url in (
        "/quality/maintenance/calendar",
        f"/quality/maintenance/calendar?view=week&date={day}",
        "/quality/maintenance/calendar?view=bogus&date=9999-12-31",
    ):
        page = await client.get(url, headers=HTML)
        assert page.status_code == 200, url
        assert 'data-testid="maintenance-calendar"' in page.text
        assert inline_code(page.text) == [], url
        assert unlabelled_inputs(page.text) == [], url
    week = (await client.get(f"/quality/maintenance/calendar?view=week&date={day}")).text
    assert f"/api/v1/maintenance-windows/{window['id']}/cancel" in week
    assert 'data-testid="window-form"' in week
    cancelled = await client.post(
        f"/api/v1/maintenance-windows/{window['id']}/cancel", headers=manager_headers
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["cancelled_at"] is not None
