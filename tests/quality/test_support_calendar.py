"""SLA clocks on a support calendar (the desk's business hours) versus the shop floor's
shift calendar, chosen per policy: the same ticket across a weekend and a holiday counts
different business minutes on each, and each calendar's holiday counts only on it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError, NotFoundError, ValidationError
from kosh.quality import service as quality_service
from kosh.quality.models import TicketEvent
from kosh.shopfloor import service as shopfloor_service
from tests.quality.support import a_shop

WEEKDAYS_8H = dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), 480)
FRIDAY_16H = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)  # a Friday
TUESDAY_10H = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
HOLIDAY_MONDAY = date(2026, 12, 7)


async def _ticket_opened_at(session: AsyncSession, at: datetime) -> int:
    ticket = await quality_service.create_ticket(
        session, kind="maintenance", title="Hinge", priority="high"
    )
    await session.execute(
        update(TicketEvent).where(TicketEvent.ticket_id == ticket.id).values(at=at)
    )
    await session.commit()
    return ticket.id


async def _policy(session: AsyncSession, *, calendar_code: str, calendar_kind: str) -> None:
    await quality_service.set_policy(
        session,
        kind="maintenance",
        priority="high",
        response_minutes=120,
        resolution_minutes=240,
        calendar_code=calendar_code,
        calendar_kind=calendar_kind,
        day_start="09:00",
        timezone="UTC",
    )


async def _resolution(session: AsyncSession, ticket_id: int) -> tuple[float, datetime | None]:
    ticket = await quality_service.get_ticket_or_raise(session, ticket_id)
    clocks = await quality_service.ticket_sla(session, ticket, now=TUESDAY_10H)
    assert clocks is not None
    return clocks.resolution.elapsed_minutes, clocks.resolution.due_at


async def test_each_calendar_counts_its_own_weekend_and_holiday(session: AsyncSession) -> None:
    # given the desk works Mon-Fri 09-17 with Monday a holiday, the floor every day 8 h
    # from 09:00 with no holiday
    shop = await a_shop(session)
    desk = await quality_service.create_support_calendar(
        session, code="DESK", name="Support desk", minutes=WEEKDAYS_8H
    )
    await quality_service.set_support_calendar_day(
        session, code="DESK", day=HOLIDAY_MONDAY, minutes=0, reason="bank holiday"
    )
    ticket_id = await _ticket_opened_at(session, FRIDAY_16H)
    # when the policy uses the support calendar: Fri 16-17 and Tue 09-10 count
    await _policy(session, calendar_code=desk.code, calendar_kind="support")
    elapsed, due = await _resolution(session, ticket_id)
    assert elapsed == pytest.approx(120)
    assert due == datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    # when the same policy uses the shift calendar: Sat, Sun and Mon count as well
    await _policy(session, calendar_code=shop.calendar, calendar_kind="shift")
    elapsed, due = await _resolution(session, ticket_id)
    assert elapsed == pytest.approx(60 + 3 * 480 + 60)
    assert due is None  # breached: no time left
    # when the floor has the holiday instead, only the shift clock loses Monday
    await shopfloor_service.set_calendar_day(
        session, code=shop.calendar, day=HOLIDAY_MONDAY, minutes=0, reason="stock take"
    )
    await quality_service.set_support_calendar_day(
        session, code="DESK", day=HOLIDAY_MONDAY, minutes=None
    )
    elapsed, _ = await _resolution(session, ticket_id)
    assert elapsed == pytest.approx(60 + 2 * 480 + 60)
    await _policy(session, calendar_code=desk.code, calendar_kind="support")
    elapsed, _ = await _resolution(session, ticket_id)
    assert elapsed == pytest.approx(60 + 480 + 60)


async def test_a_short_holiday_changes_an_exception_in_place(session: AsyncSession) -> None:
    # given a desk with a half day on the Monday
    await quality_service.create_support_calendar(
        session, code="HALF", name="Desk", minutes=WEEKDAYS_8H
    )
    await quality_service.set_support_calendar_day(
        session, code="HALF", day=HOLIDAY_MONDAY, minutes=0
    )
    calendar = await quality_service.set_support_calendar_day(
        session, code="HALF", day=HOLIDAY_MONDAY, minutes=240, reason="half day"
    )
    assert calendar.version == 3
    ticket_id = await _ticket_opened_at(session, FRIDAY_16H)
    await _policy(session, calendar_code="HALF", calendar_kind="support")
    elapsed, _ = await _resolution(session, ticket_id)
    assert elapsed == pytest.approx(60 + 240 + 60)
    # removing an exception that is not there changes nothing
    await quality_service.set_support_calendar_day(
        session, code="HALF", day=date(2026, 12, 25), minutes=None
    )
    assert [c.code for c in await quality_service.list_support_calendars(session)] == ["HALF"]


async def test_support_calendar_rules(session: AsyncSession) -> None:
    await quality_service.create_support_calendar(session, code="D1", name="Desk", minutes={})
    with pytest.raises(ConflictError) as taken:
        await quality_service.create_support_calendar(session, code="D1", name="x", minutes={})
    assert taken.value.code == "calendar_code_taken"
    for minutes in ({"mon": 1441}, {"mon": -1}, {"funday": 60}):
        with pytest.raises(ValidationError):
            await quality_service.create_support_calendar(
                session, code="D2", name="x", minutes=minutes
            )
    with pytest.raises(ValidationError):
        await quality_service.set_support_calendar_day(
            session, code="D1", day=HOLIDAY_MONDAY, minutes=2000
        )
    with pytest.raises(NotFoundError) as missing:
        await quality_service.set_support_calendar_day(
            session, code="NOPE", day=HOLIDAY_MONDAY, minutes=0
        )
    assert missing.value.code == "calendar_not_found"
    # a policy names a calendar of its kind: a shift calendar code is no support calendar
    shop = await a_shop(session)
    with pytest.raises(NotFoundError):
        await _policy(session, calendar_code=shop.calendar, calendar_kind="support")
    with pytest.raises(NotFoundError):
        await _policy(session, calendar_code="D1", calendar_kind="shift")
    with pytest.raises(ValidationError):
        await _policy(session, calendar_code="D1", calendar_kind="moon")
    await _policy(session, calendar_code="D1", calendar_kind="support")
    (policy,) = await quality_service.list_policies(session)
    assert (policy.calendar_kind, policy.calendar_code) == ("support", "D1")


async def test_support_calendars_over_the_api(
    client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    manager_headers: dict[str, str],
) -> None:
    body = {"code": "WEB", "name": "Web desk", "minutes": {"mon": 480, "fri": 240}}
    refused = await client.post("/api/v1/support-calendars", json=body, headers=operator_headers)
    assert refused.status_code == 403
    created = await client.post("/api/v1/support-calendars", json=body, headers=manager_headers)
    assert created.status_code == 201, created.text
    assert (created.json()["mon_minutes"], created.json()["tue_minutes"]) == (480, 0)
    again = await client.post("/api/v1/support-calendars", json=body, headers=manager_headers)
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    day = await client.put(
        "/api/v1/support-calendars/WEB/days",
        json={"day": "2026-12-25", "minutes": 0, "reason": "Christmas"},
        headers=manager_headers,
    )
    assert day.status_code == 200, day.text
    assert day.json()["version"] == 2
    missing = await client.put(
        "/api/v1/support-calendars/NOPE/days",
        json={"day": "2026-12-25", "minutes": 0},
        headers=manager_headers,
    )
    assert missing.status_code == 404
    bad = await client.post(
        "/api/v1/support-calendars",
        json={"code": "X", "name": "x", "minutes": {"mon": 2000}},
        headers=manager_headers,
    )
    assert bad.status_code == 422
    policy = await client.post(
        "/api/v1/sla-policies",
        json={
            "kind": "ncr",
            "priority": "low",
            "response_minutes": 60,
            "resolution_minutes": 120,
            "calendar_code": "WEB",
            "calendar_kind": "support",
        },
        headers=manager_headers,
    )
    assert policy.status_code == 201, policy.text
    assert policy.json()["calendar_kind"] == "support"
    listed = await client.get("/api/v1/support-calendars", headers=operator_headers)
    assert [c["code"] for c in listed.json()] == ["WEB"]
