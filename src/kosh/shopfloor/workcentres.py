"""Shift calendars, work centres and machines. Every change that alters capacity (weekday
hours, a date exception, efficiency, a machine's status, a new machine) runs under the
work centres' planning locks and calls `capacity.refresh_capacity`, which takes back the
bookings that no longer fit (they are returned as `displaced` and need planning again)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import transactional, utcnow
from kosh.core.errors import ConflictError, RuleViolationError, ValidationError, field_error
from kosh.shopfloor import capacity, metrics
from kosh.shopfloor.errors import not_found
from kosh.shopfloor.models import (
    MACHINE_STATUSES,
    MINUTES_PER_DAY,
    WEEKDAYS,
    CalendarDay,
    Machine,
    ShiftCalendar,
    WorkCentre,
)
from kosh.shopfloor.people import get_department_by_code_or_raise


@dataclass(frozen=True)
class MachineSpec:
    asset_number: str
    model: str = ""
    serial: str = ""
    status: str = "idle"


@dataclass
class CapacityChange:
    """The outcome of a capacity change: the operations it took off the plan."""

    displaced: list[int] = field(default_factory=list)


def _stale(what: str, current: int) -> ConflictError:
    return ConflictError(
        f"The {what} was changed meanwhile; reload and try again.",
        code="stale_version",
        details={"version": current},
    )


def _check_minutes(weekday_minutes: Mapping[str, int]) -> dict[str, int]:
    unknown = sorted(set(weekday_minutes) - set(WEEKDAYS))
    if unknown:
        raise ValidationError(
            "Unknown weekday.", errors=[field_error(["hours", unknown[0]], "unknown weekday")]
        )
    for day, minutes in weekday_minutes.items():
        if not 0 <= minutes <= MINUTES_PER_DAY:
            raise ValidationError(
                "A day has 0 to 24 hours.", errors=[field_error(["hours", day], "0 to 24 hours")]
            )
    return {day: int(weekday_minutes.get(day, 0)) for day in WEEKDAYS}


# --- lookups ----------------------------------------------------------------------------


async def get_calendar_by_code_or_raise(
    session: AsyncSession, code: str, *, loc: str = "calendar_code"
) -> ShiftCalendar:
    found = await session.scalar(select(ShiftCalendar).where(ShiftCalendar.code == code))
    if found is None:
        raise not_found("calendar", code, code="calendar_not_found", loc=loc)
    return found


async def get_work_centre_by_code_or_raise(
    session: AsyncSession, code: str, *, loc: str | None = None
) -> WorkCentre:
    found = await session.scalar(select(WorkCentre).where(WorkCentre.code == code))
    if found is None:
        raise not_found("work centre", code, code="work_centre_not_found", loc=loc)
    return found


async def get_machine_or_raise(session: AsyncSession, machine_id: int) -> Machine:
    machine = await session.get(Machine, machine_id)
    if machine is None:
        raise not_found("machine with id", machine_id, code="machine_not_found")
    return machine


async def get_machine_by_asset_or_raise(
    session: AsyncSession, asset_number: str, *, loc: str = "machine_code"
) -> Machine:
    """The machine with this asset number (its label); 404 machine_not_found otherwise."""
    machine = await session.scalar(select(Machine).where(Machine.asset_number == asset_number))
    if machine is None:
        raise not_found("machine", asset_number, code="machine_not_found", loc=loc)
    return machine


async def machines_of(session: AsyncSession, work_centre_id: int) -> list[Machine]:
    return list(
        await session.scalars(
            select(Machine).where(Machine.work_centre_id == work_centre_id).order_by(Machine.id)
        )
    )


async def list_work_centres(session: AsyncSession) -> list[WorkCentre]:
    return list(await session.scalars(select(WorkCentre).order_by(WorkCentre.code)))


async def calendar_exceptions(session: AsyncSession, calendar_id: int) -> list[CalendarDay]:
    return list(
        await session.scalars(
            select(CalendarDay)
            .where(CalendarDay.calendar_id == calendar_id)
            .order_by(CalendarDay.day)
        )
    )


async def _centres_on_calendar(session: AsyncSession, calendar_id: int) -> list[int]:
    rows = await session.scalars(
        select(WorkCentre.id).where(WorkCentre.calendar_id == calendar_id).order_by(WorkCentre.id)
    )
    return list(rows)


# --- calendars --------------------------------------------------------------------------


async def _new_calendar(
    session: AsyncSession, *, code: str, name: str, minutes: Mapping[str, int]
) -> ShiftCalendar:
    weekly = _check_minutes(minutes)
    if await session.scalar(select(ShiftCalendar.id).where(ShiftCalendar.code == code)):
        raise ConflictError(
            f"Calendar {code} exists already.",
            code="calendar_code_taken",
            errors=[field_error(["code"], "exists already")],
        )
    calendar = ShiftCalendar(
        code=code, name=name, version=1, **{f"{day}_minutes": weekly[day] for day in WEEKDAYS}
    )
    session.add(calendar)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"Calendar {code} exists already.", code="calendar_code_taken") from exc
    await audit.record(
        session,
        action="calendar.create",
        entity_type="shift_calendar",
        entity_id=calendar.id,
        after={"code": code, "name": name, "minutes": weekly},
    )
    return calendar


@transactional
async def create_calendar(
    session: AsyncSession, *, code: str, name: str, minutes: Mapping[str, int]
) -> ShiftCalendar:
    """A shift calendar: working minutes per weekday (0 to 1440; 422 otherwise); the code
    is new (409 calendar_code_taken)."""
    return await _new_calendar(session, code=code, name=name, minutes=minutes)


@transactional
async def update_calendar_hours(
    session: AsyncSession, *, code: str, version: int, minutes: Mapping[str, int]
) -> CapacityChange:
    """New weekday hours (weekdays left out keep theirs). Stale `version`: 409. Capacity
    of every work centre on the calendar is recomputed from today on."""
    calendar = await get_calendar_by_code_or_raise(session, code, loc="code")
    centres = await _centres_on_calendar(session, calendar.id)
    await capacity.lock_work_centres(session, centres)
    await session.refresh(calendar)
    if calendar.version != version:
        raise _stale("calendar", calendar.version)
    current = {day: int(getattr(calendar, f"{day}_minutes")) for day in WEEKDAYS}
    weekly = _check_minutes({**current, **minutes})
    for day in WEEKDAYS:
        setattr(calendar, f"{day}_minutes", weekly[day])
    calendar.version += 1
    calendar.updated_at = utcnow()
    await session.flush()
    displaced = await capacity.refresh_capacity(session, centres)
    await audit.record(
        session,
        action="calendar.update",
        entity_type="shift_calendar",
        entity_id=calendar.id,
        before={"minutes": current},
        after={"minutes": weekly, "displaced_operations": displaced},
    )
    metrics.DISPLACED.inc(len(displaced))
    return CapacityChange(displaced=displaced)


@transactional
async def set_calendar_day(
    session: AsyncSession, *, code: str, day: date, minutes: int | None, reason: str = ""
) -> CapacityChange:
    """A holiday (`minutes=0`) or another exception for one date; `minutes=None` removes
    the exception. Minutes 0 to 1440 (422). Capacity is recomputed (bookings that no
    longer fit are taken off the plan)."""
    calendar = await get_calendar_by_code_or_raise(session, code, loc="code")
    if minutes is not None and not 0 <= minutes <= MINUTES_PER_DAY:
        raise ValidationError(
            "A day has 0 to 24 hours.", errors=[field_error(["hours"], "0 to 24 hours")]
        )
    centres = await _centres_on_calendar(session, calendar.id)
    await capacity.lock_work_centres(session, centres)
    existing = await session.scalar(
        select(CalendarDay).where(CalendarDay.calendar_id == calendar.id, CalendarDay.day == day)
    )
    before = None if existing is None else {"minutes": existing.minutes, "reason": existing.reason}
    if minutes is None:
        if existing is not None:
            await session.delete(existing)
    elif existing is None:
        session.add(CalendarDay(calendar_id=calendar.id, day=day, minutes=minutes, reason=reason))
    else:
        existing.minutes, existing.reason = minutes, reason
    await session.flush()
    displaced = await capacity.refresh_capacity(session, centres)
    await audit.record(
        session,
        action="calendar.day",
        entity_type="shift_calendar",
        entity_id=calendar.id,
        before=before,
        after={
            "day": day.isoformat(),
            "minutes": minutes,
            "reason": reason,
            "displaced_operations": displaced,
        },
    )
    metrics.DISPLACED.inc(len(displaced))
    return CapacityChange(displaced=displaced)


# --- work centres -----------------------------------------------------------------------


@transactional
async def create_work_centre(
    session: AsyncSession,
    *,
    code: str,
    name: str,
    department_code: str,
    calendar_code: str | None = None,
    hours_per_day: Mapping[str, int] | None = None,
    efficiency_pct: int = 100,
    machines: Sequence[MachineSpec] = (),
) -> WorkCentre:
    """A work centre of a department, on a shift calendar, with its machines.

    Rules: the code is new (409 work_centre_code_taken); the department exists (404);
    exactly one of `calendar_code` (404 calendar_not_found) or `hours_per_day` (a calendar
    of the work centre's own, coded like it) is given (422); efficiency 1 to 200 % (422);
    asset numbers are new (409 machine_asset_taken) and statuses known (422)."""
    department = await get_department_by_code_or_raise(session, department_code)
    if (calendar_code is None) == (hours_per_day is None):
        raise ValidationError(
            "Give either calendar_code or hours_per_day.",
            errors=[field_error(["calendar_code"], "give calendar_code or hours_per_day")],
        )
    if not 1 <= efficiency_pct <= 200:
        raise ValidationError(
            "Efficiency is 1 to 200 %.", errors=[field_error(["efficiency_pct"], "1 to 200")]
        )
    if await session.scalar(select(WorkCentre.id).where(WorkCentre.code == code)):
        raise ConflictError(
            f"Work centre {code} exists already.",
            code="work_centre_code_taken",
            errors=[field_error(["code"], "exists already")],
        )
    if calendar_code is not None:
        calendar = await get_calendar_by_code_or_raise(session, calendar_code)
    else:
        calendar = await _new_calendar(
            session, code=code, name=f"{name} shifts", minutes=hours_per_day or {}
        )
    centre = WorkCentre(
        code=code,
        name=name,
        department_id=department.id,
        calendar_id=calendar.id,
        efficiency_pct=efficiency_pct,
        version=1,
    )
    session.add(centre)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            f"Work centre {code} exists already.", code="work_centre_code_taken"
        ) from exc
    for spec in machines:
        await _add_machine(session, centre, spec)
    await audit.record(
        session,
        action="work_centre.create",
        entity_type="work_centre",
        entity_id=centre.id,
        after={
            "code": code,
            "department": department.code,
            "calendar": calendar.code,
            "efficiency_pct": efficiency_pct,
            "machines": [spec.asset_number for spec in machines],
        },
    )
    return centre


async def _add_machine(session: AsyncSession, centre: WorkCentre, spec: MachineSpec) -> Machine:
    if spec.status not in MACHINE_STATUSES:
        raise ValidationError(
            f"Unknown machine status {spec.status}.",
            errors=[field_error(["status"], f"one of {', '.join(MACHINE_STATUSES)}")],
        )
    if await session.scalar(select(Machine.id).where(Machine.asset_number == spec.asset_number)):
        raise ConflictError(
            f"Asset number {spec.asset_number} exists already.",
            code="machine_asset_taken",
            errors=[field_error(["asset_number"], "exists already")],
        )
    machine = Machine(
        work_centre_id=centre.id,
        asset_number=spec.asset_number,
        model=spec.model,
        serial=spec.serial,
        status=spec.status,
        version=1,
    )
    session.add(machine)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError("Asset number taken.", code="machine_asset_taken") from exc
    return machine


@transactional
async def add_machine(
    session: AsyncSession, *, work_centre_code: str, spec: MachineSpec
) -> Machine:
    """A new machine on a work centre (409 machine_asset_taken, 422 unknown status). A
    machine counts for capacity while running or idle; capacity is recomputed."""
    centre = await get_work_centre_by_code_or_raise(session, work_centre_code)
    await capacity.lock_work_centres(session, [centre.id])
    machine = await _add_machine(session, centre, spec)
    displaced = await capacity.refresh_capacity(session, [centre.id])
    metrics.DISPLACED.inc(len(displaced))
    await audit.record(
        session,
        action="machine.create",
        entity_type="machine",
        entity_id=machine.id,
        after={
            "work_centre": centre.code,
            "asset_number": spec.asset_number,
            "status": spec.status,
        },
    )
    return machine


@transactional
async def set_efficiency(
    session: AsyncSession, *, code: str, version: int, efficiency_pct: int
) -> CapacityChange:
    """A work centre's efficiency (1 to 200 %, 422; stale version 409); capacity is
    recomputed and bookings that no longer fit are taken off the plan."""
    centre = await get_work_centre_by_code_or_raise(session, code)
    await capacity.lock_work_centres(session, [centre.id])
    await session.refresh(centre)
    if centre.version != version:
        raise _stale("work centre", centre.version)
    if not 1 <= efficiency_pct <= 200:
        raise ValidationError(
            "Efficiency is 1 to 200 %.", errors=[field_error(["efficiency_pct"], "1 to 200")]
        )
    before = centre.efficiency_pct
    centre.efficiency_pct = efficiency_pct
    centre.version += 1
    centre.updated_at = utcnow()
    await session.flush()
    displaced = await capacity.refresh_capacity(session, [centre.id])
    metrics.DISPLACED.inc(len(displaced))
    await audit.record(
        session,
        action="work_centre.efficiency",
        entity_type="work_centre",
        entity_id=centre.id,
        before={"efficiency_pct": before},
        after={"efficiency_pct": efficiency_pct, "displaced_operations": displaced},
    )
    return CapacityChange(displaced=displaced)


# --- machine status: the function other features call -----------------------------------


async def change_machine_status(
    session: AsyncSession,
    *,
    machine_id: int,
    status: str,
    reason: str = "",
    version: int | None = None,
) -> CapacityChange:
    """Set a machine running, idle, down or in maintenance, inside the caller's
    transaction (it never commits: a maintenance ticket calls it from its own use case).

    Rules: the machine exists (404 machine_not_found); the status is known (422);
    `version`, when given, is current (409 stale_version). Down or maintenance lowers the
    work centre's capacity from today on; operations that no longer fit are taken off the
    plan (newest booking first) and answered as `displaced`. Audited."""
    if status not in MACHINE_STATUSES:
        raise ValidationError(
            f"Unknown machine status {status}.",
            errors=[field_error(["status"], f"one of {', '.join(MACHINE_STATUSES)}")],
        )
    machine = await get_machine_or_raise(session, machine_id)
    await capacity.lock_work_centres(session, [machine.work_centre_id])
    await session.refresh(machine)
    if version is not None and machine.version != version:
        raise _stale("machine", machine.version)
    before = machine.status
    if before == status and machine.status_reason == reason:
        return CapacityChange()
    machine.status = status
    machine.status_reason = reason
    machine.status_changed_at = utcnow()
    machine.version += 1
    await session.flush()
    displaced = await capacity.refresh_capacity(session, [machine.work_centre_id])
    metrics.MACHINE_STATUS.labels(status=status).inc()
    metrics.DISPLACED.inc(len(displaced))
    await audit.record(
        session,
        action="machine.status",
        entity_type="machine",
        entity_id=machine.id,
        before={"status": before},
        after={"status": status, "reason": reason, "displaced_operations": displaced},
    )
    return CapacityChange(displaced=displaced)


@transactional
async def set_machine_status(
    session: AsyncSession,
    *,
    machine_id: int,
    status: str,
    reason: str = "",
    version: int | None = None,
) -> CapacityChange:
    """`change_machine_status` as a use case of its own (one transaction)."""
    if status in ("down", "maintenance") and not reason:
        raise RuleViolationError(
            "Say why the machine is down or in maintenance.",
            code="reason_required",
            errors=[field_error(["reason"], "required for down or maintenance")],
        )
    return await change_machine_status(
        session, machine_id=machine_id, status=status, reason=reason, version=version
    )
