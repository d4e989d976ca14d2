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
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import transactional
from kosh.core.errors import (
    ConflictError,
    PermissionDeniedError,
    RuleViolationError,
    ValidationError,
    field_error,
)
from kosh.production import service as job_service
from kosh.production.models import Job
from kosh.shopfloor import capacity, metrics, timelogs
from kosh.shopfloor.errors import OverCapacityError
from kosh.shopfloor.models import (
    JobHold,
    JobOperation,
    OperationBooking,
    WorkCentre,
    WorkCentreDay,
)
from kosh.shopfloor.overrides import Override
from kosh.shopfloor.planner import (
    Board,
    Overload,
    Placement,
    Shortfall,
    finish_of,
    place_backward,
    place_forced,
    place_forward,
)
from kosh.shopfloor.routings import OPEN_JOB_STATUSES, job_operations, make_job_operations

log = structlog.get_logger(__name__)

HORIZON_DAYS = 366
MAX_START_DAYS = 5 * 366  # a start further ahead is a typo, not a plan


@dataclass
class JobSchedule:
    job_id: int
    start: date
    finish: date | None
    placements: list[Placement]
    direction: str = "forward"
    overloads: list[Overload] = field(default_factory=list)
    late: bool = False


async def _board(
    session: AsyncSession, centres: dict[int, WorkCentre], start: date, end: date
) -> Board:
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
    return Board(caps, {(wc, day): (cap, planned) for wc, day, cap, planned in rows})


async def _lock_job(
    session: AsyncSession, job_id: int
) -> tuple[list[JobOperation], dict[int, WorkCentre]]:
    """Lock the job's open operations and their work centres (in the global order)."""
    if capacity.is_postgres(session):  # (SQLite: the single writer, no row locks)
        await capacity.lock_operations(
            session, [op.id for op in await job_operations(session, job_id)]
        )
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
    shortfall: Shortfall,
    board: Board,
    centres: dict[int, WorkCentre],
    start: date,
    suggestion: date | None,
) -> OverCapacityError:
    placement = shortfall.placement
    centre = centres[placement.work_centre_id]
    window_from, window_to = shortfall.window_from, shortfall.window_to
    # free minutes of that work centre in the window, before this operation took any
    taken_here = sum(minutes for _, minutes in placement.days)
    free = taken_here + sum(
        board.free(centre.id, window_from + timedelta(n))
        for n in range((window_to - window_from).days + 1)
    )
    needed = placement.minutes
    return OverCapacityError(
        f"Work centre {centre.code} has {free} free minutes from "
        f"{window_from.isoformat()} to {window_to.isoformat()}; operation "
        f"{placement.seq} needs {needed}."
        + (
            f" The job can finish on {suggestion.isoformat()} from {start.isoformat()}."
            if suggestion
            else " Nothing fits within the planning horizon."
        )
        + " A manager may confirm the overload (confirm_over_capacity), or ask for the"
        " earliest feasible dates (propose_earliest).",
        details={
            "work_centre": centre.code,
            "operation_seq": placement.seq,
            "period": {"from": window_from.isoformat(), "to": window_to.isoformat()},
            "needed_minutes": needed,
            "free_minutes": free,
            "overload_minutes": needed - free,
            "suggestion": (
                {"start": start.isoformat(), "finish": suggestion.isoformat()}
                if suggestion
                else None
            ),
            "earliest_feasible_finish": suggestion.isoformat() if suggestion else None,
        },
    )


async def _check_dates(job: Job, start: date, finish_by: date | None, direction: str) -> None:
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
    if finish_by is not None and finish_by < start:
        raise ValidationError(
            "The finish date is before the start.",
            errors=[field_error(["finish_by"], "before start")],
        )
    if direction == "backward" and finish_by is None:
        raise ValidationError(
            f"Job {job.number} has no due date to schedule backward from.",
            code="no_due_date",
            errors=[field_error(["finish_by"], "required for backward scheduling")],
        )


async def _on_hold(session: AsyncSession, job_id: int) -> bool:
    held = await session.scalar(
        select(JobHold.id).where(JobHold.job_id == job_id, JobHold.released_at.is_(None))
    )
    return held is not None


async def plan_job(
    session: AsyncSession,
    *,
    job_id: int,
    start: date,
    finish_by: date | None = None,
    direction: str = "forward",
    confirm_over_capacity: bool = False,
    may_confirm: bool = False,
    propose_earliest: bool = False,
) -> JobSchedule:
    """`schedule_job` inside the caller's transaction (a release schedules this way)."""
    began = time.perf_counter()
    job = await job_service.get_job_or_raise(session, job_id)
    finish_by = finish_by or job.due_date
    if propose_earliest:  # the earliest feasible dates, however late: no bound to check
        direction, finish_by = "forward", None
    await _check_dates(job, start, finish_by, direction)
    if await _on_hold(session, job.id):
        raise ConflictError(f"Job {job.number} is on hold.", code="job_on_hold")
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
    place = place_backward if direction == "backward" else place_forward
    placements, shortfall = place(board, ops, start, bound)
    overloads: list[Overload] = []
    if shortfall is not None:
        suggestion = None
        if bound < horizon:
            # the earliest finish from this start, without the bound
            wide = await _board(session, centres, start, horizon)
            wide_plan, wide_short = place_forward(wide, ops, start, horizon)
            if wide_short is None:
                suggestion = finish_of(wide_plan, start)
        refusal = _refusal(shortfall, board, centres, start, suggestion)
        if not confirm_over_capacity:
            metrics.SCHEDULES.labels(outcome="over_capacity").inc()
            log.info("schedule_refused", job_id=job.id, operation_seq=shortfall.placement.seq)
            raise refusal
        if not may_confirm:
            raise PermissionDeniedError(
                "Planning a work centre over its capacity needs the manager role.",
                code="role_required",
                details={"required_role": "manager", **refusal.details},
            )
        board = await _board(session, centres, start, bound)
        placements, overloads = place_forced(board, ops, start, bound)
        await _audit_override(session, job.id, overloads, centres, refusal.details)
    finish = finish_of(placements, start)
    who = current_actor().name
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
        [Override(o.operation_id, o.work_centre_id, o.day, o.minutes, who) for o in overloads],
    )
    late = job.due_date is not None and finish > job.due_date
    await audit.record(
        session,
        action="job.schedule",
        entity_type="job",
        entity_id=job.id,
        after={
            "direction": direction,
            "start": start.isoformat(),
            "finish": finish.isoformat(),
            "finish_by": finish_by.isoformat() if finish_by else None,
            "late": late,
            "operations": [
                {"seq": p.seq, "days": [[d.isoformat(), m] for d, m in p.days]} for p in placements
            ],
        },
    )
    metrics.SCHEDULES.labels(outcome="overridden" if overloads else "scheduled").inc()
    metrics.SCHEDULE_SECONDS.observe(time.perf_counter() - began)
    return JobSchedule(
        job_id=job.id,
        start=start,
        finish=finish,
        placements=placements,
        direction=direction,
        overloads=overloads,
        late=late,
    )


async def _audit_override(
    session: AsyncSession,
    job_id: int,
    overloads: list[Overload],
    centres: dict[int, WorkCentre],
    refused: dict[str, Any],
) -> None:
    who = current_actor().name
    await audit.record(
        session,
        action="job.capacity_override",
        entity_type="job",
        entity_id=job_id,
        after={
            "confirmed_by": who,
            "overloads": [
                {
                    "work_centre": centres[o.work_centre_id].code,
                    "day": o.day.isoformat(),
                    "minutes": o.minutes,
                }
                for o in overloads
            ],
            "refusal": refused,
        },
    )
    metrics.CAPACITY_OVERRIDES.inc()
    log.warning(
        "capacity_override",
        job_id=job_id,
        confirmed_by=who,
        overload_minutes=sum(o.minutes for o in overloads),
    )


@transactional
async def schedule_job(
    session: AsyncSession,
    *,
    job_id: int,
    start: date,
    finish_by: date | None = None,
    direction: str = "forward",
    confirm_over_capacity: bool = False,
    may_confirm: bool = False,
    propose_earliest: bool = False,
) -> JobSchedule:
    """Schedule (or reschedule) a job's open operations from `start`.

    Rules: the job exists (404) and is planned, released or in progress (409
    invalid_status), not on hold (409 job_on_hold); it has operations (422
    no_operations); `start` is today or later (422 start_in_past), at most five years
    ahead (422 start_too_far), and not after `finish_by` (422). `direction` forward
    books each operation as early as it fits from `start`; backward as late as it fits
    by `finish_by` (default the due date; 422 no_due_date without one). The operations'
    earlier bookings are replaced. If they cannot all be booked by `finish_by` (default
    the due date, else the 366-day horizon) within free capacity: 409 over_capacity
    (work centre, period, overload, earliest feasible finish) and nothing changes,
    unless
    - `propose_earliest`: booked forward at the earliest feasible dates (may finish
      after the due date: `late`), or
    - `confirm_over_capacity` by someone who `may_confirm` (a manager; 403 otherwise):
      booked forward with what does not fit on the finish-by day beyond capacity, as
      audited `capacity_overrides` (the only way a day holds more than its capacity)."""
    return await plan_job(
        session,
        job_id=job_id,
        start=start,
        finish_by=finish_by,
        direction=direction,
        confirm_over_capacity=confirm_over_capacity,
        may_confirm=may_confirm,
        propose_earliest=propose_earliest,
    )


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


async def on_jobs_released(session: AsyncSession, job_ids: list[int]) -> None:
    """Subscriber of `job.released`: released jobs get their operations from the routing
    and are scheduled as the release asked (production's CapacityRequest: forward from
    today by default; 409 over_capacity refuses the release). A job without a routing
    is released unscheduled."""
    for job_id in job_ids:
        await make_job_operations(session, job_id)
        request = job_service.capacity_request(session, job_id)
        if request.scheduling == "none" or not await job_operations(session, job_id):
            continue
        await plan_job(
            session,
            job_id=job_id,
            start=request.start or capacity.today(),
            direction=request.scheduling,
            confirm_over_capacity=request.confirm_over_capacity,
            may_confirm=request.may_confirm,
            propose_earliest=request.propose_earliest,
        )


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
