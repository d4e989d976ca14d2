"""Read-only job queries for the API and the pages (part numbers joined read-only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom.models import Bom
from kosh.catalog.models import Part
from kosh.core.pagination import sort_terms
from kosh.core.types import like_escape
from kosh.production import planning
from kosh.production.models import JOB_STATUSES, Job
from kosh.production.schemas import JobDetail, JobLineRead, JobRead, LotUseRead
from kosh.stock.models import Lot


async def _heads(session: AsyncSession, jobs: list[Job]) -> dict[int, tuple[str, str, str | None]]:
    """job id -> (assembly number, BOM revision, output PCN)."""
    if not jobs:
        return {}
    rows = await session.execute(
        select(Job.id, Part.number, Bom.revision, Lot.pcn)
        .join(Part, Part.id == Job.assembly_part_id)
        .join(Bom, Bom.id == Job.bom_id)
        .outerjoin(Lot, Lot.id == Job.output_lot_id)
        .where(Job.id.in_([job.id for job in jobs]))
    )
    return {job_id: (number, revision, pcn) for job_id, number, revision, pcn in rows}


def _read(job: Job, head: tuple[str, str, str | None], shortage_lines: int) -> JobRead:
    number, revision, pcn = head
    return JobRead(
        id=job.id,
        number=job.number,
        assembly_part_id=job.assembly_part_id,
        assembly_part_number=number,
        bom_id=job.bom_id,
        bom_revision=revision,
        qty=job.qty,
        warehouse_id=job.warehouse_id,
        due_date=job.due_date,
        priority=job.priority,
        status=job.status,
        notes=job.notes,
        version=job.version,
        produced_qty=job.produced_qty,
        output_pcn=pcn,
        created_by=job.created_by,
        created_at=job.created_at,
        released_at=job.released_at,
        released_by=job.released_by,
        over_planning_confirmed_by=job.over_planning_confirmed_by,
        started_at=job.started_at,
        completed_at=job.completed_at,
        cancelled_at=job.cancelled_at,
        shortage_lines=shortage_lines,
    )


def _line(line: planning.LinePlan) -> JobLineRead:
    return JobLineRead(
        id=line.line_id,
        line_no=line.line_no,
        part_id=line.part_id,
        part_number=line.part_number,
        description=line.description,
        unit=line.unit,
        qty_per=line.qty_per,
        required=line.required,
        kitted=line.kitted,
        consumed=line.consumed,
        outstanding=line.outstanding,
        on_hand=line.on_hand,
        committed=line.committed,
        available=line.available,
        shortage=line.shortage,
        pcns=[
            LotUseRead(pcn=use.pcn, lot_id=use.lot_id, picked=use.picked, consumed=use.consumed)
            for use in line.lots
        ],
    )


async def job_detail(session: AsyncSession, job: Job) -> JobDetail:
    plan = await planning.job_plan(session, job)
    head = (await _heads(session, [job]))[job.id]
    read = _read(job, head, len(plan.shortages))
    return JobDetail(**read.model_dump(), lines=[_line(line) for line in plan.lines])


JOB_SORTS = ("number", "assembly", "qty", "due", "status")


def _job_sorts() -> dict[str, Any]:
    assembly = select(Part.number).where(Part.id == Job.assembly_part_id).scalar_subquery()
    return {
        "number": Job.number,
        "assembly": assembly,
        "qty": Job.qty,
        "due": Job.due_date,
        "status": Job.status,
    }


async def list_jobs(
    session: AsyncSession,
    *,
    status: str | None = None,
    q: str | None = None,
    warehouse_id: int | None = None,
    sort: str = "due",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[JobRead], int]:
    """Jobs sorted over the whole list by one of JOB_SORTS (due date by default, undated
    last), newest first among equals."""
    query = select(Job)
    if status:
        query = query.where(Job.status == status)
    if warehouse_id is not None:
        query = query.where(Job.warehouse_id == warehouse_id)
    if q:
        pattern = "%" + like_escape(q) + "%"
        query = query.where(
            or_(
                Job.number.ilike(pattern, escape="\\"),
                Job.assembly_part_id.in_(
                    select(Part.id).where(Part.number.ilike(pattern, escape="\\"))
                ),
            )
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    jobs = list(
        await session.scalars(
            query.order_by(
                *sort_terms(_job_sorts()[sort], descending=descending, tiebreak=[Job.id.desc()])
            )
            .limit(limit)
            .offset(offset)
        )
    )
    heads = await _heads(session, jobs)
    shortages: dict[int, int] = {}
    for warehouse in {
        job.warehouse_id for job in jobs if job.status in ("released", "in_progress")
    }:
        for plan in await planning.warehouse_plans(session, warehouse):
            shortages[plan.job.id] = len(plan.shortages)
    items = [_read(job, heads[job.id], shortages.get(job.id, 0)) for job in jobs]
    return items, int(total or 0)


async def job_demand(session: AsyncSession, *, warehouse_id: int) -> dict[int, int]:
    """Units the warehouse's open (released, in progress) jobs still have to pick, per
    part (purchasing subtracts it when it suggests what to order)."""
    demand: dict[int, int] = {}
    for plan in await planning.warehouse_plans(session, warehouse_id):
        for line in plan.lines:
            if line.outstanding:
                demand[line.part_id] = demand.get(line.part_id, 0) + line.outstanding
    return demand


async def in_production(
    session: AsyncSession, *, warehouse_id: int, part_ids: list[int]
) -> dict[int, int]:
    """Units of these assemblies that the warehouse's planned, released and in-progress
    jobs will make, per part (purchasing counts them as coming, like what is on order)."""
    if not part_ids:
        return {}
    rows = await session.execute(
        select(Job.assembly_part_id, func.sum(Job.qty))
        .where(
            Job.warehouse_id == warehouse_id,
            Job.assembly_part_id.in_(part_ids),
            Job.status.in_(("planned", "released", "in_progress")),
        )
        .group_by(Job.assembly_part_id)
    )
    return {int(part_id): int(total or 0) for part_id, total in rows.all()}


async def jobs_by_status(session: AsyncSession) -> list[tuple[str, int]]:
    """How many jobs are in each status, in the order a job moves through them."""
    rows = await session.execute(select(Job.status, func.count()).group_by(Job.status))
    counts = {status: int(count) for status, count in rows}
    return [(status, counts.get(status, 0)) for status in JOB_STATUSES]
