"""Scheduling many jobs at once (a planner's week, or a benchmark): one transaction, one
read of the board, the jobs placed in the order given, each one all or nothing.

The same rules as `scheduling.schedule_job` (forward, in sequence, never over capacity),
with one planning lock for all their work centres. A job that does not fit by
`finish_by` is left unscheduled and reported with what it needed (`over_capacity`); the
others are booked.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import transactional
from kosh.core.errors import ValidationError, field_error
from kosh.production import service as job_service
from kosh.production.models import Job
from kosh.shopfloor import capacity, metrics
from kosh.shopfloor.models import JobHold, JobOperation, WorkCentre
from kosh.shopfloor.planner import place_forward as _place
from kosh.shopfloor.routings import OPEN_JOB_STATUSES
from kosh.shopfloor.scheduling import HORIZON_DAYS, _board

MAX_BATCH = 2000
_CHUNK = 400  # bookings per statement


@dataclass(frozen=True)
class BatchOutcome:
    job_id: int
    scheduled: bool
    finish: date | None = None
    code: str | None = None
    detail: dict[str, Any] | None = None


@transactional
async def schedule_jobs(
    session: AsyncSession, *, job_ids: Sequence[int], start: date, finish_by: date
) -> list[BatchOutcome]:
    """Schedule (or reschedule) several jobs forward from `start`, to finish by
    `finish_by`, in the order given.

    Rules: at most 2,000 distinct jobs (422); `start` is today or later (422
    start_in_past) and `finish_by` within 366 days of it and not before it (422); unknown
    jobs 404 (nothing changes). Per job: not open (invalid_status), on hold
    (job_on_hold), no operations
    (no_operations) or no room (over_capacity, with needed and placed minutes) leaves it
    unscheduled and is reported; its earlier bookings are kept only if it is not open."""
    began = time.perf_counter()
    wanted = list(dict.fromkeys(job_ids))
    if not wanted or len(wanted) > MAX_BATCH:
        raise ValidationError(
            f"Give 1 to {MAX_BATCH} jobs.", errors=[field_error(["job_ids"], "1 to 2000 jobs")]
        )
    if start < capacity.today():
        raise ValidationError(
            "Scheduling starts today or later.",
            code="start_in_past",
            errors=[field_error(["start"], "is in the past")],
        )
    if not start <= finish_by < start + timedelta(days=HORIZON_DAYS):
        raise ValidationError(
            f"finish_by is on or after start and within {HORIZON_DAYS} days of it.",
            errors=[field_error(["finish_by"], "out of range")],
        )
    jobs = {job.id: job for job in await session.scalars(select(Job).where(Job.id.in_(wanted)))}
    for job_id in wanted:
        if job_id not in jobs:
            await job_service.get_job_or_raise(session, job_id)  # 404 job_not_found
    held = set(
        await session.scalars(
            select(JobHold.job_id).where(JobHold.released_at.is_(None), JobHold.job_id.in_(wanted))
        )
    )
    open_ids = [j for j in wanted if jobs[j].status in OPEN_JOB_STATUSES and j not in held]
    all_ops = list(
        await session.scalars(select(JobOperation).where(JobOperation.job_id.in_(open_ids)))
    )
    await capacity.lock_operations(session, [op.id for op in all_ops])
    ops_by_job: dict[int, list[JobOperation]] = {j: [] for j in open_ids}
    for op in await session.scalars(
        select(JobOperation)
        .where(JobOperation.job_id.in_(open_ids))
        .order_by(JobOperation.job_id, JobOperation.seq)
        .execution_options(populate_existing=True)
    ):
        if op.status != "done":
            ops_by_job[op.job_id].append(op)
    wc_ids = sorted({op.work_centre_id for ops in ops_by_job.values() for op in ops})
    await capacity.lock_work_centres(session, wc_ids)
    centres = {
        wc.id: wc
        for wc in await session.scalars(
            select(WorkCentre)
            .where(WorkCentre.id.in_(wc_ids))
            .execution_options(populate_existing=True)
        )
    }
    await capacity.release_bookings(session, [op.id for ops in ops_by_job.values() for op in ops])
    board = await _board(session, centres, start, finish_by)
    outcomes: list[BatchOutcome] = []
    bookings: list[capacity.Booking] = []
    for job_id in wanted:
        ops = ops_by_job.get(job_id)
        if ops is None:
            code = "job_on_hold" if job_id in held else "invalid_status"
            outcomes.append(BatchOutcome(job_id, False, code=code))
            continue
        if not ops:
            outcomes.append(BatchOutcome(job_id, False, code="no_operations"))
            continue
        placements, shortfall = _place(board, ops, start, finish_by)
        if shortfall is not None:
            for p in placements:  # give back what this job took
                for day, minutes in p.days:
                    board.taken[(p.work_centre_id, day)] -= minutes
            outcomes.append(
                BatchOutcome(
                    job_id,
                    False,
                    code="over_capacity",
                    detail={
                        "work_centre": centres[shortfall.placement.work_centre_id].code,
                        "operation_seq": shortfall.placement.seq,
                        "needed_minutes": shortfall.placement.minutes,
                        "missing_minutes": shortfall.remaining,
                    },
                )
            )
            continue
        finish = max((p.last_day for p in placements if p.last_day), default=start)
        outcomes.append(BatchOutcome(job_id, True, finish=finish))
        bookings += [
            capacity.Booking(
                p.operation_id,
                p.work_centre_id,
                day,
                minutes,
                board.capacity(p.work_centre_id, day),
            )
            for p in placements
            for day, minutes in p.days
        ]
    for first in range(0, len(bookings), _CHUNK):
        await capacity.book_days(session, bookings[first : first + _CHUNK])
    for outcome in outcomes:
        await audit.record(
            session,
            action="job.schedule" if outcome.scheduled else "job.schedule_refused",
            entity_type="job",
            entity_id=outcome.job_id,
            after={
                "start": start.isoformat(),
                "finish_by": finish_by.isoformat(),
                "finish": outcome.finish.isoformat() if outcome.finish else None,
                "code": outcome.code,
                "batch": True,
            },
        )
    done = sum(o.scheduled for o in outcomes)
    metrics.SCHEDULES.labels(outcome="scheduled").inc(done)
    metrics.SCHEDULES.labels(outcome="over_capacity").inc(
        sum(o.code == "over_capacity" for o in outcomes)
    )
    metrics.SCHEDULE_SECONDS.observe(time.perf_counter() - began)
    return outcomes
