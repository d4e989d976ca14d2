"""Read-only shop-floor queries shared by the API and the pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ValidationError, field_error
from kosh.core.types import MAX_ID, is_digits
from kosh.production import service as job_service
from kosh.shopfloor import capacity, routings, scheduling, timelogs
from kosh.shopfloor.models import JobOperation, TimeLog, WorkCentre, WorkCentreDay
from kosh.shopfloor.workcentres import list_work_centres

MAX_LOAD_DAYS = 366


@dataclass(frozen=True)
class LoadPeriod:
    start: date
    capacity_minutes: int
    planned_minutes: int

    @property
    def capacity_hours(self) -> float:
        return round(self.capacity_minutes / 60, 2)

    @property
    def planned_hours(self) -> float:
        return round(self.planned_minutes / 60, 2)

    @property
    def utilisation(self) -> float | None:
        if not self.capacity_minutes:
            return None
        return round(self.planned_minutes / self.capacity_minutes, 4)


def load_window(start: date | None, end: date | None) -> tuple[date, date]:
    """The days asked for: default today + 13 days; at most 366 days (422)."""
    start = start or capacity.today()
    if start > date.max - timedelta(days=MAX_LOAD_DAYS):
        raise ValidationError("`from` is too far ahead.", errors=[field_error(["from"], "too far")])
    end = end or start + timedelta(days=13)
    if end < start:
        raise ValidationError("`to` is before `from`.", errors=[field_error(["to"], "before from")])
    if (end - start).days + 1 > MAX_LOAD_DAYS:
        raise ValidationError(
            f"Ask for at most {MAX_LOAD_DAYS} days.",
            errors=[field_error(["to"], f"at most {MAX_LOAD_DAYS} days after from")],
        )
    return start, end


async def load(
    session: AsyncSession, work_centre: WorkCentre, start: date, end: date
) -> list[LoadPeriod]:
    """Capacity and planned minutes per day: the load rows where a day has bookings, the
    calendar and today's machines elsewhere."""
    caps = await capacity.capacities(session, work_centre, start, end)
    rows = await capacity.planned_minutes(session, [work_centre.id], start, end)
    stored = await _stored_capacity(session, work_centre.id, start, end)
    periods = []
    day = start
    while day <= end:
        periods.append(
            LoadPeriod(
                start=day,
                capacity_minutes=stored.get(day, caps.get(day, 0)),
                planned_minutes=rows.get((work_centre.id, day), 0),
            )
        )
        day += timedelta(days=1)
    return periods


async def _stored_capacity(
    session: AsyncSession, wc_id: int, start: date, end: date
) -> dict[date, int]:
    rows = await session.execute(
        select(WorkCentreDay.day, WorkCentreDay.capacity_minutes).where(
            WorkCentreDay.work_centre_id == wc_id,
            WorkCentreDay.day >= start,
            WorkCentreDay.day <= end,
        )
    )
    return dict(rows.all())


@dataclass(frozen=True)
class OperationView:
    op: JobOperation
    work_centre_code: str
    bookings: list[tuple[date, int]]
    actual: timelogs.Actuals

    @property
    def barcode(self) -> str:
        return f"OP-{self.op.id}"


async def job_operations_view(session: AsyncSession, job_id: int) -> list[OperationView]:
    """The job's operations with their bookings and actuals (404 for an unknown job)."""
    await job_service.get_job_or_raise(session, job_id)
    ops = await routings.job_operations(session, job_id)
    ids = [op.id for op in ops]
    booked = await scheduling.bookings_of(session, ids)
    done = await timelogs.actuals(session, ids)
    codes = {wc.id: wc.code for wc in await _centres(session)}
    return [
        OperationView(op, codes.get(op.work_centre_id, "?"), booked[op.id], done[op.id])
        for op in ops
    ]


async def _centres(session: AsyncSession) -> list[WorkCentre]:
    return await list_work_centres(session)


def parse_operation_code(code: str) -> int | None:
    """`OP-123` (as printed on a traveller) or `123` -> 123; anything else None."""
    text = code.strip().upper().removeprefix("OP-")
    if not is_digits(text) or len(text) > 10:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ID else None


async def run_minutes_since(session: AsyncSession, work_centre_id: int, since: datetime) -> int:
    """Minutes operators logged on the work centre's operations since `since` (stops,
    manual rows and their reversals): what preventive maintenance by run hours counts."""
    total = await session.scalar(
        select(func.coalesce(func.sum(TimeLog.minutes), 0))
        .join(JobOperation, JobOperation.id == TimeLog.operation_id)
        .where(JobOperation.work_centre_id == work_centre_id, TimeLog.at >= since)
    )
    return int(total or 0)
