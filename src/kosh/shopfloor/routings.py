"""Routings (how an assembly is built, step by step) and the job operations made from them.

A job's operations are copied from its routing when the job is released (the
`job.released` event, docs/adr/0002) or on request while it is planned: the routing for
the job's BOM revision if there is one, else the assembly's routing for any revision (the
newest active one). Planned minutes = setup + run per unit x job quantity, rounded up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import structlog
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom import service as bom_service
from kosh.catalog import service as part_service
from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import transactional
from kosh.core.errors import ConflictError, RuleViolationError, ValidationError, field_error
from kosh.core.types import MAX_QTY
from kosh.production import service as job_service
from kosh.shopfloor import metrics
from kosh.shopfloor.errors import not_found
from kosh.shopfloor.models import JobOperation, Routing, RoutingOperation, WorkCentre

log = structlog.get_logger(__name__)

OPEN_JOB_STATUSES = ("planned", "released", "in_progress")


@dataclass(frozen=True)
class OperationSpec:
    seq: int
    work_centre_code: str
    name: str = ""
    setup_minutes: int = 0
    run_minutes_per_unit: Decimal = Decimal(0)
    instructions: str = ""


async def get_routing_or_raise(session: AsyncSession, routing_id: int) -> Routing:
    routing = await session.get(Routing, routing_id)
    if routing is None:
        raise not_found("routing with id", routing_id, code="routing_not_found")
    return routing


async def routing_operations(session: AsyncSession, routing_id: int) -> list[RoutingOperation]:
    return list(
        await session.scalars(
            select(RoutingOperation)
            .where(RoutingOperation.routing_id == routing_id)
            .order_by(RoutingOperation.seq)
        )
    )


async def list_routings(
    session: AsyncSession, *, assembly_part_id: int | None = None
) -> list[Routing]:
    query = select(Routing)
    if assembly_part_id is not None:
        query = query.where(Routing.assembly_part_id == assembly_part_id)
    return list(await session.scalars(query.order_by(Routing.assembly_part_id, Routing.revision)))


async def job_operations(session: AsyncSession, job_id: int) -> list[JobOperation]:
    return list(
        await session.scalars(
            select(JobOperation).where(JobOperation.job_id == job_id).order_by(JobOperation.seq)
        )
    )


async def _resolve_centres(session: AsyncSession, specs: Sequence[OperationSpec]) -> dict[str, int]:
    codes = sorted({spec.work_centre_code for spec in specs})
    found = dict(
        (
            await session.execute(
                select(WorkCentre.code, WorkCentre.id).where(WorkCentre.code.in_(codes))
            )
        ).all()
    )
    for index, spec in enumerate(specs):
        if spec.work_centre_code not in found:
            raise not_found(
                "work centre",
                spec.work_centre_code,
                code="work_centre_not_found",
                loc=f"operations.{index}.work_centre_code",
            )
    return found


def _check_specs(specs: Sequence[OperationSpec]) -> None:
    if not specs:
        raise ValidationError(
            "A routing has at least one operation.",
            errors=[field_error(["operations"], "at least one")],
        )
    seqs = [spec.seq for spec in specs]
    if len(set(seqs)) != len(seqs):
        raise ValidationError(
            "Operation sequence numbers must be unique.",
            errors=[field_error(["operations"], "duplicate seq")],
        )


@transactional
async def create_routing(
    session: AsyncSession,
    *,
    assembly_part_number: str,
    revision: str,
    operations: Sequence[OperationSpec],
    bom_id: int | None = None,
    notes: str = "",
) -> Routing:
    """A routing for an assembly (for one BOM revision with `bom_id`, else for any).

    Rules: the assembly (404 part_not_found) and BOM (404; 422 bom_assembly_mismatch)
    exist; the revision is new for the assembly (409 routing_revision_taken); at least
    one operation, unique sequence numbers (422); work centres exist (404)."""
    part = await part_service.get_part_by_number_or_raise(
        session, assembly_part_number, loc="assembly_part_number"
    )
    if bom_id is not None:
        bom = await bom_service.get_bom_or_raise(session, bom_id)
        if bom.assembly_part_id != part.id:
            raise RuleViolationError(
                f"BOM {bom.id} is not a BOM of {part.number}.",
                code="bom_assembly_mismatch",
                errors=[field_error(["bom_id"], "is for another assembly")],
            )
    _check_specs(operations)
    centres = await _resolve_centres(session, operations)
    taken = await session.scalar(
        select(Routing.id).where(Routing.assembly_part_id == part.id, Routing.revision == revision)
    )
    if taken is not None:
        raise _revision_taken(revision)
    routing = Routing(
        assembly_part_id=part.id,
        bom_id=bom_id,
        revision=revision,
        active=True,
        notes=notes,
        version=1,
        created_by=current_actor().name,
    )
    session.add(routing)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _revision_taken(revision) from exc
    session.add_all(
        RoutingOperation(
            routing_id=routing.id,
            seq=spec.seq,
            work_centre_id=centres[spec.work_centre_code],
            name=spec.name or spec.work_centre_code,
            setup_minutes=spec.setup_minutes,
            run_minutes_per_unit=spec.run_minutes_per_unit,
            instructions=spec.instructions,
        )
        for spec in sorted(operations, key=lambda s: s.seq)
    )
    await session.flush()
    await audit.record(
        session,
        action="routing.create",
        entity_type="routing",
        entity_id=routing.id,
        after={
            "assembly_part_number": part.number,
            "revision": revision,
            "bom_id": bom_id,
            "operations": [
                {
                    "seq": spec.seq,
                    "work_centre": spec.work_centre_code,
                    "setup_minutes": spec.setup_minutes,
                    "run_minutes_per_unit": str(spec.run_minutes_per_unit),
                }
                for spec in operations
            ],
        },
    )
    return routing


def _revision_taken(revision: str) -> ConflictError:
    return ConflictError(
        f"The assembly has a routing revision {revision} already.",
        code="routing_revision_taken",
        errors=[field_error(["revision"], "exists already")],
    )


@transactional
async def copy_routing(session: AsyncSession, *, routing_id: int, revision: str) -> Routing:
    """A copy of a routing under a new revision (409 routing_revision_taken); the copy is
    active, the original stays as it is."""
    source = await get_routing_or_raise(session, routing_id)
    taken = await session.scalar(
        select(Routing.id).where(
            Routing.assembly_part_id == source.assembly_part_id, Routing.revision == revision
        )
    )
    if taken is not None:
        raise _revision_taken(revision)
    copy = Routing(
        assembly_part_id=source.assembly_part_id,
        bom_id=source.bom_id,
        revision=revision,
        active=True,
        notes=source.notes,
        version=1,
        created_by=current_actor().name,
    )
    session.add(copy)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _revision_taken(revision) from exc
    session.add_all(
        RoutingOperation(
            routing_id=copy.id,
            seq=op.seq,
            work_centre_id=op.work_centre_id,
            name=op.name,
            setup_minutes=op.setup_minutes,
            run_minutes_per_unit=op.run_minutes_per_unit,
            instructions=op.instructions,
        )
        for op in await routing_operations(session, source.id)
    )
    await session.flush()
    await audit.record(
        session,
        action="routing.copy",
        entity_type="routing",
        entity_id=copy.id,
        after={"copied_from": source.id, "revision": revision},
    )
    return copy


# --- job operations ---------------------------------------------------------------------


def planned_minutes(setup: int, run_per_unit: Decimal, qty: int) -> int:
    return setup + math.ceil(run_per_unit * qty)


async def routing_for(
    session: AsyncSession, *, assembly_part_id: int, bom_id: int
) -> Routing | None:
    """The routing a job uses: the newest active one for its BOM, else for any revision."""
    candidates = list(
        await session.scalars(
            select(Routing)
            .where(
                Routing.assembly_part_id == assembly_part_id,
                Routing.active.is_(True),
                or_(Routing.bom_id == bom_id, Routing.bom_id.is_(None)),
            )
            .order_by(Routing.bom_id.is_(None), Routing.id.desc())
        )
    )
    return candidates[0] if candidates else None


async def make_job_operations(session: AsyncSession, job_id: int) -> list[JobOperation]:
    """Copy the routing into the job's operations (joins the caller's transaction).

    Does nothing when the job has operations already or no routing exists. 422
    operation_too_long when one would plan more than 1,000,000,000 minutes."""
    if await job_operations(session, job_id):
        return []
    job = await job_service.get_job_or_raise(session, job_id)
    routing = await routing_for(session, assembly_part_id=job.assembly_part_id, bom_id=job.bom_id)
    if routing is None:
        log.info("job_without_routing", job_id=job_id, job_number=job.number)
        return []
    made = []
    for op in await routing_operations(session, routing.id):
        minutes = planned_minutes(op.setup_minutes, op.run_minutes_per_unit, job.qty)
        if minutes > MAX_QTY:
            raise RuleViolationError(
                f"Operation {op.seq} of job {job.number} would take more than {MAX_QTY:,} minutes.",
                code="operation_too_long",
            )
        made.append(
            JobOperation(
                job_id=job.id,
                seq=op.seq,
                work_centre_id=op.work_centre_id,
                name=op.name,
                setup_minutes=op.setup_minutes,
                run_minutes_per_unit=op.run_minutes_per_unit,
                planned_minutes=minutes,
                status="pending",
                version=1,
            )
        )
    session.add_all(made)
    await session.flush()
    metrics.OPERATIONS_GENERATED.inc(len(made))
    await audit.record(
        session,
        action="job.operations",
        entity_type="job",
        entity_id=job.id,
        after={
            "routing_id": routing.id,
            "operations": [{"seq": op.seq, "planned_minutes": op.planned_minutes} for op in made],
        },
    )
    return made


@transactional
async def generate_operations(session: AsyncSession, *, job_id: int) -> list[JobOperation]:
    """Create a job's operations from its routing now. Rules: the job exists (404) and is
    planned, released or in progress (409 invalid_status); it has a routing (422
    no_routing); it has no operations yet (409 operations_exist)."""
    job = await job_service.get_job_or_raise(session, job_id)
    if job.status not in OPEN_JOB_STATUSES:
        raise ConflictError(
            f"Job {job.number} is {job.status}.",
            code="invalid_status",
            details={"status": job.status},
        )
    if await job_operations(session, job_id):
        raise ConflictError(
            f"Job {job.number} has its operations already.", code="operations_exist"
        )
    made = await make_job_operations(session, job_id)
    if not made:
        raise RuleViolationError(
            f"There is no active routing for job {job.number}'s assembly.", code="no_routing"
        )
    return made
