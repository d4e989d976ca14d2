"""Read-only figures for the manager and operator dashboards.

Manager: utilisation of every work centre this week (Monday to Sunday: planned over
capacity), open jobs that are late (due before today) or at risk (their booked finish is
after the due date, or they are due within `AT_RISK_DAYS` with operations not booked),
operations in progress with who is on them, jobs on hold with their suggestions.
Operator (the employee linked to the user): my queue (open operations on the work
centres I may run, in schedule order), what I am running, my minutes today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import utcnow
from kosh.production import service as job_service
from kosh.production.models import Job
from kosh.shopfloor import capacity, holds, people, queries, timelogs
from kosh.shopfloor.models import (
    Employee,
    JobOperation,
    OperationBooking,
    TimeLog,
    WorkCentre,
)
from kosh.shopfloor.workcentres import list_work_centres

AT_RISK_DAYS = 3
OPEN_JOBS = ("planned", "released", "in_progress")


@dataclass(frozen=True)
class Utilisation:
    code: str
    name: str
    capacity_minutes: int
    planned_minutes: int

    @property
    def pct(self) -> float | None:
        if not self.capacity_minutes:
            return None
        return round(self.planned_minutes * 100 / self.capacity_minutes, 1)


@dataclass(frozen=True)
class JobRisk:
    job_id: int
    number: str
    due_date: date
    status: str
    finish: date | None
    late: bool


@dataclass(frozen=True)
class Running:
    operation_id: int
    job_id: int
    job_number: str
    operation: str
    work_centre: str
    employee: str
    since: datetime
    employee_number: str


def week_of(day: date) -> tuple[date, date]:
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


async def utilisation(session: AsyncSession, day: date | None = None) -> list[Utilisation]:
    first, last = week_of(day or capacity.today())
    found = []
    for centre in await list_work_centres(session):
        periods = await queries.load(session, centre, first, last)
        found.append(
            Utilisation(
                code=centre.code,
                name=centre.name,
                capacity_minutes=sum(p.capacity_minutes for p in periods),
                planned_minutes=sum(p.planned_minutes for p in periods),
            )
        )
    return found


async def jobs_at_risk(session: AsyncSession) -> list[JobRisk]:
    today = capacity.today()
    jobs = list(
        await session.scalars(
            select(Job)
            .where(Job.status.in_(OPEN_JOBS), Job.due_date.is_not(None))
            .order_by(Job.due_date, Job.id)
            .limit(500)
        )
    )
    ids = [job.id for job in jobs]
    finishes = dict(
        (
            await session.execute(
                select(JobOperation.job_id, func.max(OperationBooking.day))
                .join(OperationBooking, OperationBooking.operation_id == JobOperation.id)
                .where(JobOperation.job_id.in_(ids))
                .group_by(JobOperation.job_id)
            )
        ).all()
    )
    unbooked = set(
        await session.scalars(
            select(JobOperation.job_id)
            .outerjoin(OperationBooking, OperationBooking.operation_id == JobOperation.id)
            .where(
                JobOperation.job_id.in_(ids),
                JobOperation.status != "done",
                JobOperation.planned_minutes > 0,
                OperationBooking.id.is_(None),
            )
        )
    )
    found = []
    for job in jobs:
        due = job.due_date or today  # (the query asks for dated jobs only)
        finish = finishes.get(job.id)
        late = due < today
        at_risk = (finish is not None and finish > due) or (
            due <= today + timedelta(days=AT_RISK_DAYS) and job.id in unbooked
        )
        if late or at_risk:
            found.append(JobRisk(job.id, job.number, due, job.status, finish, late))
    return found


async def running(session: AsyncSession, employee_id: int | None = None) -> list[Running]:
    """Open intervals (started, not stopped), oldest first; one employee's when given."""
    query = (
        timelogs.open_starts()
        .join(JobOperation, JobOperation.id == TimeLog.operation_id)
        .join(Job, Job.id == JobOperation.job_id)
        .join(WorkCentre, WorkCentre.id == JobOperation.work_centre_id)
        .join(Employee, Employee.id == TimeLog.employee_id)
        .with_only_columns(
            TimeLog.operation_id,
            Job.id,
            Job.number,
            JobOperation.name,
            WorkCentre.code,
            Employee.name,
            TimeLog.at,
            Employee.number,
        )
        .order_by(TimeLog.at, TimeLog.id)
    )
    if employee_id is not None:
        query = query.where(TimeLog.employee_id == employee_id)
    return [Running(*list(row)) for row in await session.execute(query)]


@dataclass(frozen=True)
class QueueItem:
    operation_id: int
    job_number: str
    seq: int
    operation: str
    work_centre: str
    status: str
    planned_minutes: int
    first_day: date | None


@dataclass(frozen=True)
class OperatorBoard:
    employee: Employee | None
    queue: list[QueueItem]
    running: list[Running]
    minutes_today: int


async def operator_board(session: AsyncSession, user_id: int) -> OperatorBoard:
    employee = await session.scalar(
        select(Employee).where(Employee.user_id == user_id, Employee.active.is_(True))
    )
    if employee is None:
        return OperatorBoard(None, [], [], 0)
    allowed = await people.skills(session, employee.id)
    first_day = (
        select(func.min(OperationBooking.day))
        .where(OperationBooking.operation_id == JobOperation.id)
        .scalar_subquery()
    )
    query = (
        select(JobOperation, Job.number, WorkCentre.code, first_day)
        .join(Job, Job.id == JobOperation.job_id)
        .join(WorkCentre, WorkCentre.id == JobOperation.work_centre_id)
        .where(JobOperation.status.in_(("pending", "paused")), Job.status.in_(OPEN_JOBS))
    )
    if allowed:
        query = query.where(JobOperation.work_centre_id.in_(allowed))
    rows = await session.execute(query.limit(500))
    queue = [
        QueueItem(op.id, number, op.seq, op.name, code, op.status, op.planned_minutes, first)
        for op, number, code, first in rows
    ]
    queue.sort(key=lambda q: (q.first_day is None, q.first_day or date.max, q.job_number, q.seq))
    mine = await running(session, employee.id)
    start_of_day = datetime.combine(capacity.today(), datetime.min.time(), tzinfo=utcnow().tzinfo)
    logged = await session.scalar(
        select(func.coalesce(func.sum(TimeLog.minutes), 0)).where(
            TimeLog.employee_id == employee.id,
            TimeLog.kind.in_(("stop", "manual", "reversal")),
            TimeLog.at >= start_of_day,
        )
    )
    now = utcnow()
    open_minutes = sum(int((now - r.since).total_seconds() // 60) for r in mine)
    return OperatorBoard(employee, queue[:50], mine, int(logged or 0) + open_minutes)


async def held_jobs(session: AsyncSession) -> list[tuple[Job, holds.HoldView]]:
    found = []
    for hold in await holds.active_holds(session):
        job = await job_service.get_job_or_raise(session, hold.job_id)
        found.append((job, await holds.hold_view(session, hold)))
    return found
