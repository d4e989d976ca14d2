"""Finite-capacity scheduling of a job's operations onto work-centre days.

Forward from a start date, in sequence: each operation fills the free minutes of its
work centre day by day (an operation may span days), and starts no earlier than the day
the operation before it ends (days are the planning grain). The job must finish by
`finish_by` (default: its due date; none: within the planning horizon of 366 days).
When it cannot, nothing is booked and the answer is 409 over_capacity naming the work
centre, the period, the minutes needed and free, and a suggestion: the earliest finish
from that start.

Concurrency: the job's operations and then its work centres are locked (in id order,
kosh.shopfloor.capacity), so two planners booking the same work centre are checked one
after the other; every day is booked by a guarded UPDATE behind a CHECK constraint.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import transactional
from kosh.core.errors import ConflictError, RuleViolationError, ValidationError, field_error
from kosh.production import service as job_service
from kosh.shopfloor import capacity, metrics, timelogs
from kosh.shopfloor.errors import OverCapacityError
from kosh.shopfloor.models import JobOperation, OperationBooking, WorkCentre, WorkCentreDay
from kosh.shopfloor.routings import OPEN_JOB_STATUSES, job_operations

log = structlog.get_logger(__name__)

HORIZON_DAYS = 366
MAX_START_DAYS = 5 * 366  # a start further ahead is a typo, not a plan


@dataclass
class Placement:
    operation_id: int
    seq: int
    work_centre_id: int
    minutes: int
    days: list[tuple[date, int]] = field(default_factory=list)

    @property
    def first_day(self) -> date | None:
        return self.days[0][0] if self.days else None

    @property
    def last_day(self) -> date | None:
        return self.days[-1][0] if self.days else None


@dataclass
class JobSchedule:
    job_id: int
    start: date
    finish: date | None
    placements: list[Placement]


@dataclass
class _Shortfall:
    placement: Placement
    earliest: date
    remaining: int


class _Board:
    """Free minutes per (work centre, day) over the horizon, updated as the plan fills."""

    def __init__(
        self, caps: dict[int, dict[date, int]], rows: dict[tuple[int, date], tuple[int, int]]
    ):
        self.caps = caps
        self.rows = rows  # (wc, day) -> (capacity, planned) of existing load rows
        self.taken: dict[tuple[int, date], int] = {}

    def capacity(self, wc: int, day: date) -> int:
        row = self.rows.get((wc, day))
        return row[0] if row else self.caps[wc].get(day, 0)

    def free(self, wc: int, day: date) -> int:
        planned = self.rows.get((wc, day), (0, 0))[1] + self.taken.get((wc, day), 0)
        return max(self.capacity(wc, day) - planned, 0)

    def take(self, wc: int, day: date, minutes: int) -> None:
        self.taken[(wc, day)] = self.taken.get((wc, day), 0) + minutes


def _place(
    board: _Board, ops: list[JobOperation], start: date, end: date
) -> tuple[list[Placement], _Shortfall | None]:
    placements: list[Placement] = []
    cursor = start
    for op in ops:
        placement = Placement(op.id, op.seq, op.work_centre_id, op.planned_minutes)
        placements.append(placement)
        remaining, day = op.planned_minutes, cursor
        while remaining and day <= end:
            free = board.free(op.work_centre_id, day)
            if free:
                take = min(free, remaining)
                board.take(op.work_centre_id, day, take)
                placement.days.append((day, take))
                remaining -= take
            if remaining:
                day += timedelta(days=1)
        if remaining:
            return placements, _Shortfall(placement, cursor, remaining)
        cursor = placement.last_day or cursor
    return placements, None


async def _board(
    session: AsyncSession, centres: dict[int, WorkCentre], start: date, end: date
) -> _Board:
    caps = await capacity.capacities_of(session, list(centres.values()), start, end)
    rows = await session.execute(
        select(
            WorkCentreDay.work_centre_id,
            WorkCentreDay.day,
            WorkCentreDay.capacity_minutes,
            WorkCentreDay.planned_minutes,
        ).where(
            WorkCentreDay.work_centre_id.in_(list(centres)),
            WorkCentreDay.day >= start,
            WorkCentreDay.day <= end,
        )
    )
    return _Board(caps, {(wc, day): (cap, planned) for wc, day, cap, planned in rows})


async def _lock_job(
    session: AsyncSession, job_id: int
) -> tuple[list[JobOperation], dict[int, WorkCentre]]:
    """Lock the job's open operations and their work centres (in the global order)."""
    await capacity.lock_operations(session, [op.id for op in await job_operations(session, job_id)])
    # read again under the locks: an operation may have finished meanwhile
    ops = [
        op
        for op in await session.scalars(
            select(JobOperation)
            .where(JobOperation.job_id == job_id)
            .order_by(JobOperation.seq)
            .execution_options(populate_existing=True)
        )
        if op.status != "done"
    ]
    wc_ids = sorted({op.work_centre_id for op in ops})
    await capacity.lock_work_centres(session, wc_ids)
    centres = {
        wc.id: wc
        for wc in await session.scalars(
            select(WorkCentre)
            .where(WorkCentre.id.in_(wc_ids))
            .execution_options(populate_existing=True)
        )
    }
    return ops, centres


def _refusal(
    shortfall: _Shortfall,
    board: _Board,
    centres: dict[int, WorkCentre],
    start: date,
    finish_by: date,
    suggestion: date | None,
) -> OverCapacityError:
    placement = shortfall.placement
    centre = centres[placement.work_centre_id]
    # free minutes of that work centre in the window, before this operation took any
    taken_here = sum(minutes for _, minutes in placement.days)
    free = taken_here + sum(
        board.free(centre.id, shortfall.earliest + timedelta(n))
        for n in range((finish_by - shortfall.earliest).days + 1)
    )
    needed = placement.minutes
    return OverCapacityError(
        f"Work centre {centre.code} has {free} free minutes from "
        f"{shortfall.earliest.isoformat()} to {finish_by.isoformat()}; operation "
        f"{placement.seq} needs {needed}."
        + (
            f" The job can finish on {suggestion.isoformat()} from this start."
            if suggestion
            else " Nothing fits within the planning horizon."
        ),
        details={
            "work_centre": centre.code,
            "operation_seq": placement.seq,
            "period": {"from": shortfall.earliest.isoformat(), "to": finish_by.isoformat()},
            "needed_minutes": needed,
            "free_minutes": free,
            "overload_minutes": needed - free,
            "suggestion": (
                {"start": start.isoformat(), "finish": suggestion.isoformat()}
                if suggestion
                else None
            ),
        },
    )


@transactional
async def schedule_job(
    session: AsyncSession, *, job_id: int, start: date, finish_by: date | None = None
) -> JobSchedule:
    """Schedule (or reschedule) a job's open operations forward from `start`.

    Rules: the job exists (404) and is planned, released or in progress (409
    invalid_status); it has operations (422 no_operations); `start` is today or later
    (422 start_in_past), at most five years ahead (422 start_too_far), and not after
    `finish_by` (422). The operations' earlier bookings are replaced. If they cannot all
    be booked by `finish_by` (default the due date, else the 366-day horizon) within free
    capacity: 409 over_capacity (see the module docstring); nothing changes. Capacity is
    never exceeded."""
    began = time.perf_counter()
    job = await job_service.get_job_or_raise(session, job_id)
    if job.status not in OPEN_JOB_STATUSES:
        raise ConflictError(
            f"Job {job.number} is {job.status}.",
            code="invalid_status",
            details={"status": job.status},
        )
    if start < capacity.today():
        raise ValidationError(
            "Scheduling starts today or later.",
            code="start_in_past",
            errors=[field_error(["start"], "is in the past")],
        )
    if start > capacity.today() + timedelta(days=MAX_START_DAYS):
        raise ValidationError(
            f"Scheduling starts within {MAX_START_DAYS} days from today.",
            code="start_too_far",
            errors=[field_error(["start"], "too far ahead")],
        )
    finish_by = finish_by or job.due_date
    if finish_by is not None and finish_by < start:
        raise ValidationError(
            "The finish date is before the start.",
            errors=[field_error(["finish_by"], "before start")],
        )
    ops, centres = await _lock_job(session, job.id)
    if not ops:
        raise RuleViolationError(
            f"Job {job.number} has no open operations to schedule (is there a routing?).",
            code="no_operations",
        )
    await capacity.release_bookings(session, [op.id for op in ops])
    horizon = start + timedelta(days=HORIZON_DAYS - 1)
    bound = min(finish_by, horizon) if finish_by is not None else horizon
    board = await _board(session, centres, start, bound)
    placements, shortfall = _place(board, ops, start, bound)
    if shortfall is not None:
        suggestion = None
        if bound < horizon:
            # the earliest finish from this start, without the bound
            wide = await _board(session, centres, start, horizon)
            wide_plan, wide_short = _place(wide, ops, start, horizon)
            if wide_short is None:
                suggestion = max((p.last_day for p in wide_plan if p.last_day), default=start)
        metrics.SCHEDULES.labels(outcome="over_capacity").inc()
        log.info("schedule_refused", job_id=job.id, operation_seq=shortfall.placement.seq)
        raise _refusal(shortfall, board, centres, start, bound, suggestion)
    finish = max((p.last_day for p in placements if p.last_day), default=start)
    await capacity.book_days(
        session,
        [
            capacity.Booking(
                operation_id=p.operation_id,
                work_centre_id=p.work_centre_id,
                day=day,
                minutes=minutes,
                capacity=board.capacity(p.work_centre_id, day),
            )
            for p in placements
            for day, minutes in p.days
        ],
    )
    await audit.record(
        session,
        action="job.schedule",
        entity_type="job",
        entity_id=job.id,
        after={
            "start": start.isoformat(),
            "finish": finish.isoformat(),
            "finish_by": finish_by.isoformat() if finish_by else None,
            "operations": [
                {"seq": p.seq, "days": [[d.isoformat(), m] for d, m in p.days]} for p in placements
            ],
        },
    )
    metrics.SCHEDULES.labels(outcome="scheduled").inc()
    metrics.SCHEDULE_SECONDS.observe(time.perf_counter() - began)
    return JobSchedule(job_id=job.id, start=start, finish=finish, placements=placements)


async def release_job_capacity(session: AsyncSession, job_id: int) -> int:
    """Take every booking of the job's operations off the plan (joins the caller's
    transaction). Answers the minutes freed."""
    ops = await job_operations(session, job_id)
    await capacity.lock_operations(session, [op.id for op in ops])
    await capacity.lock_work_centres(session, {op.work_centre_id for op in ops})
    return await capacity.release_bookings(session, [op.id for op in ops])


@transactional
async def unschedule_job(session: AsyncSession, *, job_id: int) -> int:
    """Free the capacity a job holds (404 for an unknown job). Answers the minutes freed."""
    job = await job_service.get_job_or_raise(session, job_id)
    freed = await release_job_capacity(session, job.id)
    await audit.record(
        session,
        action="job.unschedule",
        entity_type="job",
        entity_id=job.id,
        after={"freed_minutes": freed},
    )
    metrics.SCHEDULES.labels(outcome="unscheduled").inc()
    return freed


async def on_jobs_closed(session: AsyncSession, job_ids: list[int]) -> None:
    """Subscriber of `job.closed` (completed or cancelled): their capacity is freed, and a
    completion may not receive more assemblies than the job's last operation passed as
    good (422 exceeds_last_operation; the completion is refused as a whole). Jobs without
    operations are not checked."""
    for job_id in job_ids:
        await _check_completion(session, job_id)
        await release_job_capacity(session, job_id)


async def _check_completion(session: AsyncSession, job_id: int) -> None:
    job = await job_service.get_job_or_raise(session, job_id)
    if job.status != "complete" or not job.produced_qty:
        return
    ops = await job_operations(session, job_id)
    if not ops:
        return
    last = ops[-1]
    good = (await timelogs.actuals(session, [last.id]))[last.id].good_qty
    if job.produced_qty > good:
        raise RuleViolationError(
            f"Job {job.number}'s last operation ({last.name}) passed {good} good units; "
            f"{job.produced_qty} cannot be received.",
            code="exceeds_last_operation",
            errors=[field_error(["produced_qty"], f"at most {good}")],
            details={"last_operation_good": good},
        )


async def bookings_of(
    session: AsyncSession, operation_ids: list[int]
) -> dict[int, list[tuple[date, int]]]:
    result: dict[int, list[tuple[date, int]]] = {op: [] for op in operation_ids}
    if not operation_ids:
        return result
    rows = await session.execute(
        select(OperationBooking.operation_id, OperationBooking.day, OperationBooking.minutes)
        .where(OperationBooking.operation_id.in_(operation_ids))
        .order_by(OperationBooking.operation_id, OperationBooking.day)
    )
    for op, day, minutes in rows:
        result[op].append((day, minutes))
    return result
