"""A job on hold and what to run instead.

Putting a job on hold (with a reason) takes its bookings off the plan and remembers the
capacity it gave back, per work centre and day (the slot). Suggestions for the slot are
other open jobs (planned or released, not on hold, with open operations) that
- are at the same stage: their next open operation runs on a freed work centre or on one
  of the same departments,
- fit: their open minutes on each freed work centre are at most what was freed there,
- have their material available now (production's shortage planning shows no short line),
- are not already booked to finish before the slot starts,
ranked by due date (undated last), then the job's priority (urgent first), then its age
(its id), at most ten. Taking a suggestion schedules that job forward from the slot's
first day at the earliest feasible dates, in one transaction. Resuming a held job ends
the hold; the job is then scheduled like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import transactional, utcnow
from kosh.core.errors import ConflictError, NotFoundError, ValidationError, field_error
from kosh.production import queries as job_queries
from kosh.production import service as job_service
from kosh.production.models import JOB_PRIORITIES, Job
from kosh.shopfloor import capacity, metrics
from kosh.shopfloor.models import JobHold, JobOperation, OperationBooking, WorkCentre
from kosh.shopfloor.routings import OPEN_JOB_STATUSES
from kosh.shopfloor.scheduling import JobSchedule, plan_job, release_job_capacity

log = structlog.get_logger(__name__)

MAX_SUGGESTIONS = 10
CANDIDATE_STATUSES = ("planned", "released")


@dataclass(frozen=True)
class Suggestion:
    job_id: int
    number: str
    status: str
    qty: int
    due_date: date | None
    priority: str
    minutes: int  # open minutes on the freed work centres
    same_work_centre: bool


@dataclass(frozen=True)
class HoldView:
    hold: JobHold
    freed_minutes: int
    slot_start: date | None
    suggestions: list[Suggestion]


async def active_hold(session: AsyncSession, job_id: int) -> JobHold | None:
    return await session.scalar(
        select(JobHold).where(JobHold.job_id == job_id, JobHold.released_at.is_(None))
    )


async def active_hold_or_raise(session: AsyncSession, job_id: int) -> JobHold:
    hold = await active_hold(session, job_id)
    if hold is None:
        raise NotFoundError(f"Job {job_id} is not on hold.", code="hold_not_found")
    return hold


def _freed(hold: JobHold) -> dict[int, int]:
    per_wc: dict[int, int] = {}
    for wc, _, minutes in hold.freed:
        per_wc[int(str(wc))] = per_wc.get(int(str(wc)), 0) + int(str(minutes))
    return per_wc


def _slot_start(hold: JobHold) -> date | None:
    days = [date.fromisoformat(str(day)) for _, day, _ in hold.freed]
    return max(min(days), capacity.today()) if days else None


async def suggestions(session: AsyncSession, hold: JobHold) -> list[Suggestion]:
    """What to run in the slot a hold freed (rules in the module docstring)."""
    freed = _freed(hold)
    start = _slot_start(hold)
    if not freed or start is None:
        return []
    departments = set(
        await session.scalars(
            select(WorkCentre.department_id).where(WorkCentre.id.in_(list(freed)))
        )
    )
    department_centres = set(
        await session.scalars(
            select(WorkCentre.id).where(WorkCentre.department_id.in_(departments))
        )
    )
    held = select(JobHold.job_id).where(JobHold.released_at.is_(None))
    rows = await session.execute(
        select(Job, JobOperation.work_centre_id, func.sum(JobOperation.planned_minutes))
        .join(JobOperation, JobOperation.job_id == Job.id)
        .where(
            Job.status.in_(CANDIDATE_STATUSES),
            Job.id != hold.job_id,
            Job.id.not_in(held),
            JobOperation.status != "done",
        )
        .group_by(Job.id, JobOperation.work_centre_id)
        .order_by(Job.id)
    )
    per_job: dict[int, tuple[Job, dict[int, int]]] = {}
    for job, wc, total in rows:
        per_job.setdefault(job.id, (job, {}))[1][wc] = int(total)
    # the work centre of each candidate's next open operation (its stage)
    next_centre: dict[int, int] = {}
    for job_id, wc in await session.execute(
        select(JobOperation.job_id, JobOperation.work_centre_id)
        .where(JobOperation.job_id.in_(list(per_job)), JobOperation.status != "done")
        .order_by(JobOperation.job_id, JobOperation.seq.desc())
    ):
        next_centre[job_id] = wc  # the last row per job is its lowest open seq
    finishes = dict(
        (
            await session.execute(
                select(JobOperation.job_id, func.max(OperationBooking.day))
                .join(OperationBooking, OperationBooking.operation_id == JobOperation.id)
                .where(JobOperation.job_id.in_(list(per_job)))
                .group_by(JobOperation.job_id)
            )
        ).all()
    )
    found: list[Suggestion] = []
    for job, minutes in per_job.values():
        if next_centre.get(job.id) not in department_centres:
            continue  # not at the stage the slot is for (same work centres / department)
        if any(minutes.get(wc, 0) > free for wc, free in freed.items()):
            continue  # does not fit the freed hours
        finish = finishes.get(job.id)
        if finish is not None and finish < start:
            continue  # already done before the slot
        if (await job_queries.job_detail(session, job)).shortage_lines:
            continue  # material not available now
        found.append(
            Suggestion(
                job_id=job.id,
                number=job.number,
                status=job.status,
                qty=job.qty,
                due_date=job.due_date,
                priority=job.priority,
                minutes=sum(minutes.get(wc, 0) for wc in freed),
                same_work_centre=bool(set(minutes) & set(freed)),
            )
        )
    found.sort(
        key=lambda s: (
            s.due_date is None,
            s.due_date or date.max,
            JOB_PRIORITIES.index(s.priority),
            s.job_id,
        )
    )
    return found[:MAX_SUGGESTIONS]


async def hold_view(session: AsyncSession, hold: JobHold) -> HoldView:
    return HoldView(
        hold=hold,
        freed_minutes=sum(_freed(hold).values()),
        slot_start=_slot_start(hold),
        suggestions=await suggestions(session, hold),
    )


@transactional
async def hold_job(session: AsyncSession, *, job_id: int, reason: str) -> HoldView:
    """Put a job on hold: its capacity is freed and suggestions for the slot answered.

    Rules: the job exists (404) and is planned, released or in progress (409
    invalid_status); it is not on hold already (409 already_on_hold); a reason is given
    (422 reason_required)."""
    job = await job_service.get_job_or_raise(session, job_id)
    if job.status not in OPEN_JOB_STATUSES:
        raise ConflictError(
            f"Job {job.number} is {job.status}.",
            code="invalid_status",
            details={"status": job.status},
        )
    if not reason.strip():
        raise ValidationError(
            "Say why the job is on hold.",
            code="reason_required",
            errors=[field_error(["reason"], "required")],
        )
    booked = await session.execute(
        select(OperationBooking.work_centre_id, OperationBooking.day, OperationBooking.minutes)
        .join(JobOperation, JobOperation.id == OperationBooking.operation_id)
        .where(JobOperation.job_id == job.id, OperationBooking.day >= capacity.today())
        .order_by(OperationBooking.work_centre_id, OperationBooking.day)
    )
    freed = [[wc, day.isoformat(), minutes] for wc, day, minutes in booked]
    minutes = await release_job_capacity(session, job.id)  # locks the job's operations
    if await active_hold(session, job.id) is not None:  # (the change above rolls back)
        raise ConflictError(f"Job {job.number} is on hold already.", code="already_on_hold")
    hold = JobHold(
        job_id=job.id,
        reason=reason.strip(),
        freed=freed,
        held_by=current_actor().name,
        held_at=utcnow(),
    )
    session.add(hold)
    await session.flush()
    await audit.record(
        session,
        action="job.hold",
        entity_type="job",
        entity_id=job.id,
        after={"reason": hold.reason, "freed_minutes": minutes, "freed": freed},
    )
    metrics.HOLDS.labels(action="hold").inc()
    log.info("job_held", job_id=job.id, freed_minutes=minutes)
    return await hold_view(session, hold)


@transactional
async def take_suggestion(session: AsyncSession, *, held_job_id: int, job_id: int) -> JobSchedule:
    """Schedule a suggested job into the slot a held job freed: forward from the slot's
    first day, at the earliest feasible dates. Rules: the held job is on hold (404
    hold_not_found); the job is among its suggestions now (409 not_a_suggestion)."""
    hold = await active_hold_or_raise(session, held_job_id)
    offered = {s.job_id for s in await suggestions(session, hold)}
    if job_id not in offered:
        raise ConflictError(
            f"Job {job_id} is not a suggestion for the slot job {held_job_id} freed.",
            code="not_a_suggestion",
            details={"suggestions": sorted(offered)},
        )
    start = _slot_start(hold) or capacity.today()
    plan = await plan_job(session, job_id=job_id, start=start, propose_earliest=True)
    await audit.record(
        session,
        action="job.take_slot",
        entity_type="job",
        entity_id=job_id,
        after={"held_job_id": held_job_id, "start": start.isoformat()},
    )
    metrics.HOLDS.labels(action="suggestion_taken").inc()
    return plan


@transactional
async def resume_job(session: AsyncSession, *, job_id: int) -> JobHold:
    """End a job's hold (404 hold_not_found when it is not on hold). The job is then
    scheduled like any other (its old slot may be taken)."""
    hold = await active_hold_or_raise(session, job_id)
    await session.execute(
        update(JobHold)
        .where(JobHold.id == hold.id)
        .values(released_at=utcnow(), released_by=current_actor().name)
    )
    await session.refresh(hold)
    await audit.record(
        session, action="job.resume", entity_type="job", entity_id=job_id, after={"hold": hold.id}
    )
    metrics.HOLDS.labels(action="resume").inc()
    return hold


async def active_holds(session: AsyncSession) -> list[JobHold]:
    return list(
        await session.scalars(
            select(JobHold).where(JobHold.released_at.is_(None)).order_by(JobHold.held_at)
        )
    )
