"""Capacity primitives: what a work centre can do per day, the load rows, the lock helpers.
None of these commits; they join the caller's transaction.

Capacity of a work centre on a day, in whole minutes:

    calendar minutes (weekday hours, or the date's exception) x machines available
    x efficiency % / 100, rounded down.

Machines available are those `running` or `idle`, less those reserved for a planned
maintenance window on the day (`kosh.shopfloor.downtime`); a work centre without machines
counts as one station (hand soldering, packing). Machine states are current states: they apply
from today on (days before today are history and keep the capacity they had).

Invariant: on every `work_centre_days` row, planned minutes <= capacity minutes. Bookings
go through `book_days` (a guarded UPDATE, `... WHERE planned + n <= capacity`, backed by a CHECK
constraint); a capacity change goes through `refresh_capacity`, which first takes back the
bookings that no longer fit (newest first) and then lowers the capacity.

Lock order of the shop floor (after kosh.stock's lots; every helper here keeps it):
  1. job operations, by id (`lock_operations`);
  2. employees, by id (`lock_employee`);
  3. work centres, by id (`lock_work_centres`): every scheduling run and every capacity
     change holds its work centres' rows, so two planners on one work centre are checked
     one after the other (as the material guard locks the warehouse row);
  4. machines, by id; 5. work-centre day rows, changed only under their work centre's lock.
SQLite emits no FOR UPDATE: there BEGIN IMMEDIATE serialises writers and the guarded
UPDATE still refuses an over-booked day.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Table, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import utcnow
from kosh.core.errors import ConflictError
from kosh.shopfloor import downtime
from kosh.shopfloor import overrides as overrides_
from kosh.shopfloor.models import (
    AVAILABLE_STATUSES,
    WEEKDAYS,
    CalendarDay,
    Employee,
    JobOperation,
    Machine,
    OperationBooking,
    ShiftCalendar,
    WorkCentre,
    WorkCentreDay,
)


def today() -> date:
    """The planning day (UTC)."""
    return utcnow().date()


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


_is_postgres = is_postgres


# --- locks, in the global order ---------------------------------------------------------


async def lock_operations(session: AsyncSession, operation_ids: Iterable[int]) -> None:
    """1. Job operations by ascending id (FOR NO KEY UPDATE: bookings may still reference them)."""
    wanted = sorted(set(operation_ids))
    if wanted and _is_postgres(session):
        await session.execute(
            select(JobOperation.id)
            .where(JobOperation.id.in_(wanted))
            .order_by(JobOperation.id)
            .with_for_update(key_share=True)
        )


async def lock_employee(session: AsyncSession, employee_id: int) -> None:
    """2. One employee: serialises one operator's starts and stops."""
    if _is_postgres(session):
        await session.execute(
            select(Employee.id).where(Employee.id == employee_id).with_for_update(key_share=True)
        )


async def lock_work_centres(session: AsyncSession, work_centre_ids: Iterable[int]) -> None:
    """3. Work centres by ascending id: the planning lock."""
    wanted = sorted(set(work_centre_ids))
    if wanted and _is_postgres(session):
        await session.execute(
            select(WorkCentre.id)
            .where(WorkCentre.id.in_(wanted))
            .order_by(WorkCentre.id)
            .with_for_update(key_share=True)
        )


# --- capacity ---------------------------------------------------------------------------


def day_capacity(calendar_minutes: int, units: int, efficiency_pct: int) -> int:
    return calendar_minutes * units * efficiency_pct // 100


async def calendar_minutes(
    session: AsyncSession, calendar_id: int, start: date, end: date
) -> dict[date, int]:
    """Working minutes per date in [start, end] (weekday hours, exceptions override)."""
    calendar = await session.get(ShiftCalendar, calendar_id)
    if calendar is None or end < start:
        return {}
    weekly = [int(getattr(calendar, f"{day}_minutes")) for day in WEEKDAYS]
    days = (end - start).days + 1
    minutes = {start + timedelta(n): weekly[(start + timedelta(n)).weekday()] for n in range(days)}
    rows = await session.execute(
        select(CalendarDay.day, CalendarDay.minutes).where(
            CalendarDay.calendar_id == calendar_id,
            CalendarDay.day >= start,
            CalendarDay.day <= end,
        )
    )
    for day, value in rows:
        minutes[day] = value
    return minutes


async def units_available(session: AsyncSession, work_centre_id: int) -> tuple[int, int]:
    """(units counted for capacity, machines registered)."""
    rows = await session.execute(
        select(Machine.status, func.count())
        .where(Machine.work_centre_id == work_centre_id)
        .group_by(Machine.status)
    )
    counts = dict(rows.all())
    total = sum(counts.values())
    if total == 0:
        return 1, 0
    return sum(counts.get(status, 0) for status in AVAILABLE_STATUSES), total


async def capacities(
    session: AsyncSession, work_centre: WorkCentre, start: date, end: date
) -> dict[date, int]:
    """Capacity minutes of a work centre per date in [start, end] with today's machines."""
    minutes = await calendar_minutes(session, work_centre.calendar_id, start, end)
    units, _ = await units_available(session, work_centre.id)
    reserved = await downtime.reserved_units(session, [work_centre.id], start, end)
    return {
        day: day_capacity(
            value,
            max(units - reserved.get((work_centre.id, day), 0), 0),
            work_centre.efficiency_pct,
        )
        for day, value in minutes.items()
    }


async def capacities_of(
    session: AsyncSession, centres: Sequence[WorkCentre], start: date, end: date
) -> dict[int, dict[date, int]]:
    """`capacities` for several work centres at once (each calendar read once, machines
    counted in one query)."""
    calendars: dict[int, dict[date, int]] = {}
    for calendar_id in sorted({wc.calendar_id for wc in centres}):
        calendars[calendar_id] = await calendar_minutes(session, calendar_id, start, end)
    rows = await session.execute(
        select(Machine.work_centre_id, Machine.status, func.count())
        .where(Machine.work_centre_id.in_([wc.id for wc in centres]))
        .group_by(Machine.work_centre_id, Machine.status)
    )
    total: dict[int, int] = {}
    available: dict[int, int] = {}
    for wc_id, status, count in rows:
        total[wc_id] = total.get(wc_id, 0) + count
        if status in AVAILABLE_STATUSES:
            available[wc_id] = available.get(wc_id, 0) + count
    reserved = await downtime.reserved_units(session, [wc.id for wc in centres], start, end)
    result = {}
    for wc in centres:
        units = available.get(wc.id, 0) if total.get(wc.id) else 1
        result[wc.id] = {
            day: day_capacity(
                value, max(units - reserved.get((wc.id, day), 0), 0), wc.efficiency_pct
            )
            for day, value in calendars[wc.calendar_id].items()
        }
    return result


async def planned_minutes(
    session: AsyncSession, work_centre_ids: Collection[int], start: date, end: date
) -> dict[tuple[int, date], int]:
    """(work centre id, day) -> planned minutes, from the load rows."""
    if not work_centre_ids:
        return {}
    rows = await session.execute(
        select(
            WorkCentreDay.work_centre_id, WorkCentreDay.day, WorkCentreDay.planned_minutes
        ).where(
            WorkCentreDay.work_centre_id.in_(list(work_centre_ids)),
            WorkCentreDay.day >= start,
            WorkCentreDay.day <= end,
        )
    )
    return {(wc, day): planned for wc, day, planned in rows}


# --- bookings ---------------------------------------------------------------------------


class CapacityRaceError(ConflictError):
    """A guarded booking found the day full: only possible when a caller skipped the lock."""

    code = "over_capacity"


@dataclass(frozen=True)
class Booking:
    operation_id: int
    work_centre_id: int
    day: date
    minutes: int
    capacity: int


async def book_days(
    session: AsyncSession,
    bookings: Sequence[Booking],
    overrides: Sequence[overrides_.Override] = (),
) -> None:
    """Book many days at once (caller holds the work centres): missing load rows in one
    statement, the confirmed overrides raise their days' allowance, then one guarded
    increment per day, in (work centre, day) order."""
    if not bookings:
        return
    dialect = postgresql if _is_postgres(session) else sqlite
    # executemany forms: one compiled statement whatever the number of rows (a multi-row
    # VALUES clause is compiled afresh for every size, which dominated large batches)
    await session.execute(
        dialect.insert(WorkCentreDay.__table__).on_conflict_do_nothing(
            index_elements=["work_centre_id", "day"]
        ),
        [
            {
                "work_centre_id": wc_id,
                "day": day,
                "capacity_minutes": cap,
                "planned_minutes": 0,
                "override_minutes": 0,
            }
            for (wc_id, day), cap in sorted(
                {(b.work_centre_id, b.day): b.capacity for b in bookings}.items()
            )
        ],
    )
    await overrides_.raise_overrides(session, overrides)
    per_day: dict[tuple[int, date], int] = {}
    for b in bookings:
        per_day[(b.work_centre_id, b.day)] = per_day.get((b.work_centre_id, b.day), 0) + b.minutes
    # one guarded UPDATE for every day: each row gets its own increment, and every row must
    # stay within its capacity (a day that does not is not updated, and the count shows it)
    increment = case(
        *(
            ((WorkCentreDay.work_centre_id == wc_id) & (WorkCentreDay.day == day), minutes)
            for (wc_id, day), minutes in sorted(per_day.items())
        ),
        else_=0,
    )
    result = await session.execute(
        update(WorkCentreDay)
        .where(
            or_(
                *(
                    (WorkCentreDay.work_centre_id == wc_id) & (WorkCentreDay.day == day)
                    for wc_id, day in sorted(per_day)
                )
            ),
            WorkCentreDay.planned_minutes + increment
            <= WorkCentreDay.capacity_minutes + WorkCentreDay.override_minutes,
        )
        .values(planned_minutes=WorkCentreDay.planned_minutes + increment)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != len(per_day):  # type: ignore[attr-defined]
        raise CapacityRaceError(
            "A work-centre day filled up meanwhile; plan again.",
            details={"days": sorted({day.isoformat() for _, day in per_day})},
        )
    await session.execute(
        insert(OperationBooking.__table__),  # type: ignore[arg-type]
        [
            {
                "operation_id": b.operation_id,
                "work_centre_id": b.work_centre_id,
                "day": b.day,
                "minutes": b.minutes,
            }
            for b in bookings
        ],
    )


async def release_bookings(session: AsyncSession, operation_ids: Collection[int]) -> int:
    """Take every booking of these operations back off their days (caller holds the work
    centres). Answers the minutes released."""
    if not operation_ids:
        return 0
    rows = list(
        await session.execute(
            select(OperationBooking.work_centre_id, OperationBooking.day, OperationBooking.minutes)
            .where(OperationBooking.operation_id.in_(list(operation_ids)))
            .order_by(OperationBooking.work_centre_id, OperationBooking.day)
        )
    )
    if not rows:
        return 0  # nothing booked: no overrides either (they come with bookings)
    per_day: dict[tuple[int, date], int] = {}
    for wc, day, minutes in rows:
        per_day[(wc, day)] = per_day.get((wc, day), 0) + minutes
    overridden = await overrides_.release_overrides(session, operation_ids)
    # planned and allowance drop together (the CHECK holds before and after), every day
    # by one executemany statement, in (work centre, day) order
    table: Table = WorkCentreDay.__table__  # type: ignore[assignment]
    await session.execute(
        update(table)
        .where(table.c.work_centre_id == bindparam("b_wc"), table.c.day == bindparam("b_day"))
        .values(
            planned_minutes=table.c.planned_minutes - bindparam("b_minutes"),
            override_minutes=table.c.override_minutes - bindparam("b_override"),
        ),
        [
            {
                "b_wc": wc,
                "b_day": day,
                "b_minutes": minutes,
                "b_override": overridden.get((wc, day), 0),
            }
            for (wc, day), minutes in sorted(per_day.items())
        ],
    )
    await session.execute(
        delete(OperationBooking)
        .where(OperationBooking.operation_id.in_(list(operation_ids)))
        .execution_options(synchronize_session=False)
    )
    return sum(per_day.values())


async def refresh_capacity(session: AsyncSession, work_centre_ids: Collection[int]) -> list[int]:
    """Recompute the capacity of the load rows from today on after a calendar, machine or
    efficiency change (caller holds the work centres). Where the planned minutes no longer
    fit, whole operations are taken off the plan, newest booking first, until they do.
    Answers the ids of the operations taken off (they need planning again)."""
    displaced: list[int] = []
    start = today()
    for wc_id in sorted(set(work_centre_ids)):
        work_centre = await session.get(WorkCentre, wc_id, populate_existing=True)
        if work_centre is None:
            continue
        rows = list(
            await session.execute(
                select(WorkCentreDay.day, WorkCentreDay.planned_minutes)
                .where(WorkCentreDay.work_centre_id == wc_id, WorkCentreDay.day >= start)
                .order_by(WorkCentreDay.day)
            )
        )
        if not rows:
            continue
        caps = await capacities(session, work_centre, rows[0][0], rows[-1][0])
        for day, _ in rows:
            planned = await _planned_on(session, wc_id, day)
            while planned > caps[day] + await _override_on(session, wc_id, day):
                victim = await session.scalar(
                    select(OperationBooking.operation_id)
                    .where(OperationBooking.work_centre_id == wc_id, OperationBooking.day == day)
                    .order_by(OperationBooking.id.desc())
                    .limit(1)
                )
                if victim is None:  # pragma: no cover - load rows always match bookings
                    break
                await release_bookings(session, [victim])
                displaced.append(victim)
                planned = await _planned_on(session, wc_id, day)
            await session.execute(
                update(WorkCentreDay)
                .where(WorkCentreDay.work_centre_id == wc_id, WorkCentreDay.day == day)
                .values(capacity_minutes=caps[day])
                .execution_options(synchronize_session=False)
            )
    return displaced


async def _planned_on(session: AsyncSession, wc_id: int, day: date) -> int:
    value = await session.scalar(
        select(WorkCentreDay.planned_minutes).where(
            WorkCentreDay.work_centre_id == wc_id, WorkCentreDay.day == day
        )
    )
    return int(value or 0)


async def _override_on(session: AsyncSession, wc_id: int, day: date) -> int:
    value = await session.scalar(
        select(WorkCentreDay.override_minutes).where(
            WorkCentreDay.work_centre_id == wc_id, WorkCentreDay.day == day
        )
    )
    return int(value or 0)


# --- verification -----------------------------------------------------------------------


async def drift(
    session: AsyncSession, *, since: date | None = None, limit: int = 20
) -> list[dict[str, object]]:
    """Load rows (from `since` on) whose planned minutes differ from their bookings, or
    exceed their capacity. Must be empty."""
    booked = (
        select(
            OperationBooking.work_centre_id.label("wc"),
            OperationBooking.day.label("day"),
            func.sum(OperationBooking.minutes).label("minutes"),
        )
        .group_by(OperationBooking.work_centre_id, OperationBooking.day)
        .subquery()
    )
    rows = await session.execute(
        select(
            WorkCentreDay.work_centre_id,
            WorkCentreDay.day,
            WorkCentreDay.planned_minutes,
            WorkCentreDay.capacity_minutes,
            func.coalesce(booked.c.minutes, 0),
        )
        .outerjoin(
            booked,
            (booked.c.wc == WorkCentreDay.work_centre_id) & (booked.c.day == WorkCentreDay.day),
        )
        .where(
            (WorkCentreDay.planned_minutes != func.coalesce(booked.c.minutes, 0))
            | (
                WorkCentreDay.planned_minutes
                > WorkCentreDay.capacity_minutes + WorkCentreDay.override_minutes
            ),
            WorkCentreDay.day >= (since or date.min),
        )
        .order_by(WorkCentreDay.work_centre_id, WorkCentreDay.day)
        .limit(limit)
    )
    return [
        {
            "work_centre_id": wc,
            "day": day.isoformat(),
            "planned_minutes": planned,
            "capacity_minutes": cap,
            "booked_minutes": int(minutes),
        }
        for wc, day, planned, cap, minutes in rows
    ]
