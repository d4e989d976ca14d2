"""Production jobs: planned -> released -> in_progress -> complete (or cancelled).

Every transition is a conditional UPDATE on the job's status (`... WHERE status = :from`)
whose row count is checked, so two people completing (or releasing) the same job at
once cannot both succeed: the second waits for the first (row lock on PostgreSQL, the
single writer on SQLite), finds the status changed and gets 409.

Release runs the over-planning guard under a per-warehouse planning lock (the warehouse
row, FOR UPDATE), so two releases competing for the same stock are checked one after the
other. Completion consumes exactly what was kitted (picked with the job's number and not
consumed yet) from the MFG floor, lot by lot in id order, writing `consume` ledger rows
with the job number as reference, and can receive the finished assemblies as a new PCN.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts import service as alert_service
from kosh.bom.models import BomLine
from kosh.catalog import service as part_service
from kosh.core import audit, events
from kosh.core.actor import current_actor
from kosh.core.db import transactional, utcnow
from kosh.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RuleViolationError,
    ValidationError,
    field_error,
)
from kosh.core.types import MAX_QTY
from kosh.locations import service as location_service
from kosh.locations.models import Warehouse
from kosh.production import job_bom, planning
from kosh.production.models import Job, JobLine
from kosh.stock import movements
from kosh.stock import queries as stock_queries
from kosh.stock.errors import InsufficientStockError
from kosh.stock.models import Lot

STOCKABLE_KINDS = ("storage", "receiving", "quarantine")


class OverPlanningError(ConflictError):
    """Releasing the job would need material that is missing or promised to earlier jobs."""

    code = "over_planning"


@dataclass(frozen=True)
class CapacityRequest:
    """What a release asks of capacity planning (the shop floor, subscribed to
    `job.released`, schedules the job's operations with it): `scheduling` forward (from
    `start`, default today), backward (from the due date) or none; a manager's
    `confirm_over_capacity`; or `propose_earliest` dates instead of a refusal."""

    scheduling: str = "forward"
    start: date | None = None
    confirm_over_capacity: bool = False
    propose_earliest: bool = False
    may_confirm: bool = False


_CAPACITY_REQUESTS = "production.capacity_requests"


def capacity_request(session: AsyncSession, job_id: int) -> CapacityRequest:
    """The capacity request of a job released in this transaction (default otherwise)."""
    requests: dict[int, CapacityRequest] = session.info.get(_CAPACITY_REQUESTS, {})
    return requests.get(job_id, CapacityRequest())


async def get_job_or_raise(session: AsyncSession, job_id: int) -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFoundError(f"No job with id {job_id}.", code="job_not_found")
    return job


def _snapshot(job: Job) -> dict[str, Any]:
    return {
        "number": job.number,
        "status": job.status,
        "qty": job.qty,
        "bom_id": job.bom_id,
        "warehouse_id": job.warehouse_id,
        "due_date": job.due_date.isoformat() if job.due_date else None,
        "priority": job.priority,
    }


async def _job_part_ids(session: AsyncSession, job_id: int) -> list[int]:
    return list(await session.scalars(select(JobLine.part_id).where(JobLine.job_id == job_id)))


async def _transition(
    session: AsyncSession, job: Job, *, allowed: tuple[str, ...], to: str, **values: Any
) -> None:
    """Move the job to `to` if (and only if) it is in one of `allowed` right now."""
    result = await session.execute(
        update(Job)
        .where(Job.id == job.id, Job.status.in_(allowed))
        .values(status=to, version=Job.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(job)
        raise ConflictError(
            f"Job {job.number} is {job.status.replace('_', ' ')}; it cannot become "
            f"{to.replace('_', ' ')}.",
            code="invalid_transition",
            details={"status": job.status},
        )
    await session.refresh(job)


@transactional
async def create_job(
    session: AsyncSession,
    *,
    number: str,
    assembly_part_number: str,
    qty: int,
    warehouse_id: int,
    bom_id: int | None = None,
    bom_revision: str | None = None,
    due_date: date | None = None,
    priority: str = "normal",
    notes: str = "",
) -> Job:
    """Plan a job and fix its material lines (BOM quantity x job quantity).

    Rules: the number is new (409 job_number_taken); the assembly exists (404); the
    warehouse exists and is active (404 / 422); the BOM, named by id or by revision, is an
    active BOM of that assembly (`job_bom.choose_bom`: 422 bom_draft says to activate it),
    else the assembly's active BOM is used (422 no_active_bom);
    the BOM has lines (422 bom_empty); no requirement exceeds 1,000,000,000 (422)."""
    return await add_job(
        session,
        number=number,
        assembly_part_number=assembly_part_number,
        qty=qty,
        warehouse_id=warehouse_id,
        bom_id=bom_id,
        bom_revision=bom_revision,
        due_date=due_date,
        priority=priority,
        notes=notes,
    )


async def job_number_taken(session: AsyncSession, number: str) -> bool:
    """Whether a job has this number already (job numbers are unique)."""
    return await session.scalar(select(Job.id).where(Job.number == number)) is not None


async def add_job(
    session: AsyncSession,
    *,
    number: str,
    assembly_part_number: str,
    qty: int,
    warehouse_id: int,
    bom_id: int | None = None,
    bom_revision: str | None = None,
    due_date: date | None = None,
    priority: str = "normal",
    notes: str = "",
) -> Job:
    """`create_job`'s rules as a primitive that joins the caller's transaction (flushed,
    audited, never committed): purchasing plans suggested builds next to its draft POs."""
    assembly = await part_service.get_part_by_number_or_raise(
        session, assembly_part_number, loc="assembly_part_number"
    )
    warehouse = await location_service.get_warehouse_or_raise(session, warehouse_id)
    if not warehouse.active:
        raise RuleViolationError(
            f"Warehouse {warehouse.code} is inactive.",
            code="warehouse_inactive",
            errors=[field_error(["warehouse_id"], "is inactive")],
        )
    bom = await job_bom.choose_bom(
        session, assembly.id, assembly.number, bom_id=bom_id, bom_revision=bom_revision
    )
    lines = list(
        await session.execute(
            select(BomLine.part_id, BomLine.qty)
            .where(BomLine.bom_id == bom.id)
            .order_by(BomLine.line_no)
        )
    )
    if not lines:
        raise RuleViolationError(f"BOM revision {bom.revision} has no lines.", code="bom_empty")
    too_big = [part_id for part_id, per in lines if per * qty > MAX_QTY]
    if too_big:
        raise ValidationError(
            "The job quantity makes a requirement larger than 1,000,000,000.",
            errors=[field_error(["qty"], "too large for this BOM")],
        )
    taken = await session.scalar(select(Job.id).where(Job.number == number))
    if taken is not None:
        raise _number_taken(number)
    job = Job(
        number=number,
        assembly_part_id=assembly.id,
        bom_id=bom.id,
        qty=qty,
        warehouse_id=warehouse.id,
        due_date=due_date,
        priority=priority,
        status="planned",
        notes=notes,
        version=1,
        created_by=current_actor().name,
    )
    session.add(job)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _number_taken(number) from exc
    session.add_all(
        JobLine(
            job_id=job.id,
            line_no=line_no,
            part_id=part_id,
            qty_per=per,
            required=per * qty,
            consumed=0,
        )
        for line_no, (part_id, per) in enumerate(lines, start=1)
    )
    await session.flush()
    await audit.record(
        session, action="job.create", entity_type="job", entity_id=job.id, after=_snapshot(job)
    )
    return job


def _number_taken(number: str) -> ConflictError:
    return ConflictError(
        f"Job number {number} exists already.",
        code="job_number_taken",
        errors=[field_error(["number"], "exists already")],
    )


async def _lock_planning(session: AsyncSession, warehouse_id: int) -> None:
    """Serialise over-planning checks per warehouse (the warehouse row, FOR UPDATE).
    SQLite needs nothing: its single writer already serialises releases."""
    if movements.is_postgres(session):
        await session.execute(
            select(Warehouse.id).where(Warehouse.id == warehouse_id).with_for_update()
        )


@transactional
async def release_job(
    session: AsyncSession,
    *,
    job_id: int,
    confirm: bool = False,
    may_confirm: bool = False,
    capacity: CapacityRequest | None = None,
) -> planning.JobPlan:
    """Release a planned job for kitting.

    Rule (over-planning guard): when a line's outstanding quantity exceeds what the
    warehouse holds after the needs of jobs released earlier, the release is refused
    with 409 over_planning listing every short line, unless `confirm` is sent by someone
    who `may_confirm` (a manager; 403 otherwise). The job must be planned (409
    invalid_transition). Shortage alerts are raised for the lines still short. The
    shop floor then schedules the job's operations as `capacity` asks (409
    over_capacity refuses the release as a whole)."""
    job = await get_job_or_raise(session, job_id)
    await _lock_planning(session, job.warehouse_id)
    if job.status != "planned":
        raise ConflictError(
            f"Job {job.number} is {job.status.replace('_', ' ')}, not planned.",
            code="invalid_transition",
            details={"status": job.status},
        )
    plan = await planning.job_plan(session, job)
    shortages = plan.shortages
    if shortages and not confirm:
        raise OverPlanningError(
            f"Releasing job {job.number} would over-plan {len(shortages)} part(s): there is "
            "not enough stock after the jobs released earlier. A manager can release it "
            "anyway with confirm.",
            details={"shortages": [line.as_shortage() for line in shortages]},
        )
    if shortages and not may_confirm:
        raise PermissionDeniedError(
            "Releasing a job despite shortages needs the manager role.",
            code="role_required",
            details={"required_role": "manager"},
        )
    who = current_actor().name
    await _transition(
        session,
        job,
        allowed=("planned",),
        to="released",
        released_at=utcnow(),
        released_by=who,
        over_planning_confirmed_by=who if shortages else None,
    )
    await audit.record(
        session,
        action="job.release",
        entity_type="job",
        entity_id=job.id,
        after={
            "status": "released",
            "shortages": [line.as_shortage() for line in shortages],
            "confirmed_by": who if shortages else None,
        },
    )
    await alert_service.reevaluate_part_alerts(session, [line.part_id for line in plan.lines])
    session.info.setdefault(_CAPACITY_REQUESTS, {})[job.id] = replace(
        capacity or CapacityRequest(), may_confirm=may_confirm
    )
    events.note(session, events.JOB_RELEASED, [job.id])  # shop floor: operations, schedule
    return await planning.job_plan(session, job)


@transactional
async def start_job(session: AsyncSession, *, job_id: int) -> Job:
    """released -> in progress (409 invalid_transition otherwise)."""
    job = await get_job_or_raise(session, job_id)
    await _transition(session, job, allowed=("released",), to="in_progress", started_at=utcnow())
    await audit.record(
        session, action="job.start", entity_type="job", entity_id=job.id, after=_snapshot(job)
    )
    return job


@dataclass(frozen=True)
class Completion:
    job: Job
    consumed: list[dict[str, Any]]
    output_pcn: str | None


@transactional
async def complete_job(
    session: AsyncSession,
    *,
    job_id: int,
    produced_qty: int | None = None,
    location_id: int | None = None,
    pcn: str | None = None,
) -> Completion:
    """Finish an in-progress job: consume its kitted material, optionally receive output.

    Rules: the job is in progress (409 invalid_transition; of two concurrent completions
    exactly one succeeds); every unit picked for the job and not consumed yet is consumed
    from the warehouse's MFG floor (409 kitted_material_missing when some of it is no
    longer there, e.g. restocked); `produced_qty` finished assemblies are received as a
    new PCN at `location_id`, a storage/receiving/quarantine location of the job's
    warehouse (422 otherwise). All or nothing."""
    job = await get_job_or_raise(session, job_id)
    await _transition(
        session,
        job,
        allowed=("in_progress",),
        to="complete",
        completed_at=utcnow(),
        completed_by=current_actor().name,
    )
    consumed = await _consume_kitted(session, job)
    output_pcn = None
    if produced_qty is not None:
        output_pcn = await _receive_output(session, job, produced_qty, location_id, pcn)
    elif location_id is not None:
        raise ValidationError(
            "Say how many assemblies were made.",
            errors=[field_error(["produced_qty"], "required with location_id")],
        )
    await audit.record(
        session,
        action="job.complete",
        entity_type="job",
        entity_id=job.id,
        after={"consumed": consumed, "output_pcn": output_pcn, "produced_qty": produced_qty},
    )
    parts = set(await _job_part_ids(session, job.id)) | {item["part_id"] for item in consumed}
    parts.add(job.assembly_part_id)
    await alert_service.reevaluate_part_alerts(session, parts)
    events.note(session, events.JOB_CLOSED, [job.id])  # shop floor: frees booked capacity
    return Completion(job=job, consumed=consumed, output_pcn=output_pcn)


async def _consume_kitted(session: AsyncSession, job: Job) -> list[dict[str, Any]]:
    floor = await location_service.mfg_location(session, job.warehouse_id)
    totals = await stock_queries.lot_totals_for_references(
        session, references=[job.number], kinds=("pick", "consume")
    )
    remaining: dict[int, dict[str, Any]] = {}
    for total in totals:
        entry = remaining.setdefault(
            total.lot_id,
            {"lot_id": total.lot_id, "pcn": total.pcn, "part_id": total.part_id, "qty": 0},
        )
        entry["qty"] += total.qty if total.kind == "pick" else -total.qty
    todo = [entry for _, entry in sorted(remaining.items()) if entry["qty"] > 0]
    await movements.lock_lots(session, [entry["lot_id"] for entry in todo])
    missing = []
    for entry in todo:
        try:
            await movements.move(
                session,
                lot_id=entry["lot_id"],
                from_location_id=floor.id,
                to_location_id=None,
                qty=entry["qty"],
                kind="consume",
                reference=job.number,
                reason=f"job {job.number} complete",
                part_id=entry["part_id"],
            )
        except InsufficientStockError as exc:
            missing.append({**entry, "on_floor": exc.details.get("available", 0)})
    if missing:
        raise ConflictError(
            f"Some material kitted for job {job.number} is no longer on the MFG floor "
            "(restocked or used elsewhere); put it back or adjust the count first.",
            code="kitted_material_missing",
            details={"lots": missing},
        )
    by_part: dict[int, int] = {}
    for entry in todo:
        by_part[entry["part_id"]] = by_part.get(entry["part_id"], 0) + entry["qty"]
    for line in await session.scalars(select(JobLine).where(JobLine.job_id == job.id)):
        if line.part_id in by_part:
            line.consumed += by_part[line.part_id]
    await session.flush()
    return todo


async def _receive_output(
    session: AsyncSession, job: Job, qty: int, location_id: int | None, pcn: str | None
) -> str:
    if location_id is None:
        raise ValidationError(
            "Say where the finished assemblies go.",
            errors=[field_error(["location_id"], "required with produced_qty")],
        )
    location = await location_service.usable_location(
        session, location_id, warehouse_id=job.warehouse_id, kinds=STOCKABLE_KINDS
    )
    lot: Lot = await movements.receive_lot(
        session,
        part_id=job.assembly_part_id,
        qty=qty,
        location_id=location.id,
        pcn=pcn.strip() if pcn else None,
        reference=job.number,
        kind="produce",
        reason=f"output of job {job.number}",
    )
    await session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(produced_qty=qty, output_lot_id=lot.id)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(job)
    return lot.pcn


@transactional
async def cancel_job(session: AsyncSession, *, job_id: int) -> Job:
    """Cancel a job that is not complete (409 invalid_transition). Kitted material stays
    on the MFG floor for the operators to restock; its shortage alerts resolve."""
    job = await get_job_or_raise(session, job_id)
    before = _snapshot(job)
    await _transition(
        session,
        job,
        allowed=("planned", "released", "in_progress"),
        to="cancelled",
        cancelled_at=utcnow(),
    )
    await audit.record(
        session,
        action="job.cancel",
        entity_type="job",
        entity_id=job.id,
        before=before,
        after=_snapshot(job),
    )
    await alert_service.reevaluate_part_alerts(session, await _job_part_ids(session, job.id))
    events.note(session, events.JOB_CLOSED, [job.id])  # shop floor: frees booked capacity
    return job
