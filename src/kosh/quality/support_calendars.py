"""Support calendars: the business hours of the support desk, apart from the shop floor's
shift calendars (a desk that answers Monday to Friday 9-17 while the floor runs three
shifts). An SLA policy chooses one kind or the other (`calendar_kind`); both end up as the
same pure `BusinessCalendar`, so the clocks are computed the same way."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import transactional
from kosh.core.errors import ConflictError, NotFoundError, ValidationError, field_error
from kosh.quality.models import WEEKDAY_COLUMNS, SupportCalendar, SupportCalendarDay

WEEKDAYS = tuple(column.removesuffix("_minutes") for column in WEEKDAY_COLUMNS)
MINUTES_PER_DAY = 1440


async def get_support_calendar_by_code(session: AsyncSession, code: str) -> SupportCalendar | None:
    found = await session.scalar(select(SupportCalendar).where(SupportCalendar.code == code))
    return found


async def get_support_calendar_by_code_or_raise(
    session: AsyncSession, code: str, *, loc: str = "calendar_code"
) -> SupportCalendar:
    calendar = await get_support_calendar_by_code(session, code)
    if calendar is None:
        raise NotFoundError(
            f"No support calendar {code}.",
            code="calendar_not_found",
            errors=[field_error(loc.split("."), "no such support calendar")],
        )
    return calendar


async def support_calendar_days(
    session: AsyncSession, calendar_id: int
) -> list[SupportCalendarDay]:
    return list(
        await session.scalars(
            select(SupportCalendarDay)
            .where(SupportCalendarDay.calendar_id == calendar_id)
            .order_by(SupportCalendarDay.day)
        )
    )


async def list_support_calendars(session: AsyncSession) -> list[SupportCalendar]:
    return list(await session.scalars(select(SupportCalendar).order_by(SupportCalendar.code)))


def _weekly(minutes: Mapping[str, int]) -> dict[str, int]:
    unknown = sorted(set(minutes) - set(WEEKDAYS))
    if unknown:
        raise ValidationError(
            f"Unknown weekday {unknown[0]}.",
            errors=[field_error(["minutes", unknown[0]], "mon ... sun")],
        )
    for day, value in minutes.items():
        if not 0 <= value <= MINUTES_PER_DAY:
            raise ValidationError(
                "A day has 0 to 1440 minutes.",
                errors=[field_error(["minutes", day], "0 to 1440")],
            )
    return {day: int(minutes.get(day, 0)) for day in WEEKDAYS}


def _taken(code: str) -> ConflictError:
    return ConflictError(
        f"Support calendar {code} exists already.",
        code="calendar_code_taken",
        errors=[field_error(["code"], "exists already")],
    )


@transactional
async def create_support_calendar(
    session: AsyncSession, *, code: str, name: str, minutes: Mapping[str, int]
) -> SupportCalendar:
    """A support calendar: working minutes per weekday (0 to 1440, 422 otherwise;
    weekdays left out are closed); the code is new (409 calendar_code_taken). Audited."""
    weekly = _weekly(minutes)
    if await get_support_calendar_by_code(session, code) is not None:
        raise _taken(code)
    calendar = SupportCalendar(code=code, name=name, version=1)
    for day, value in weekly.items():
        setattr(calendar, f"{day}_minutes", value)
    session.add(calendar)
    try:
        await session.flush()
    except IntegrityError as exc:  # a racing insert of the same code
        raise _taken(code) from exc
    await audit.record(
        session,
        action="quality.support_calendar.create",
        entity_type="support_calendar",
        entity_id=code,
        after={"name": name, **weekly},
    )
    return calendar


@transactional
async def set_support_calendar_day(
    session: AsyncSession, *, code: str, day: date, minutes: int | None, reason: str = ""
) -> SupportCalendar:
    """A holiday (`minutes=0`) or another exception for one date; `minutes=None` removes
    it. Rules: the calendar exists (404 calendar_not_found); 0 to 1440 minutes (422).
    The SLA clocks follow at once (they are computed). Audited."""
    calendar = await get_support_calendar_by_code_or_raise(session, code, loc="code")
    if minutes is not None and not 0 <= minutes <= MINUTES_PER_DAY:
        raise ValidationError(
            "A day has 0 to 1440 minutes.", errors=[field_error(["minutes"], "0 to 1440")]
        )
    existing = await session.scalar(
        select(SupportCalendarDay).where(
            SupportCalendarDay.calendar_id == calendar.id, SupportCalendarDay.day == day
        )
    )
    before = None if existing is None else {"minutes": existing.minutes, "reason": existing.reason}
    if minutes is None:
        if existing is not None:
            await session.delete(existing)
    elif existing is None:
        session.add(
            SupportCalendarDay(calendar_id=calendar.id, day=day, minutes=minutes, reason=reason)
        )
    else:
        existing.minutes, existing.reason = minutes, reason
    calendar.version += 1
    await session.flush()
    await audit.record(
        session,
        action="quality.support_calendar.day",
        entity_type="support_calendar",
        entity_id=code,
        before=before,
        after=None if minutes is None else {"day": day.isoformat(), "minutes": minutes},
    )
    return calendar
