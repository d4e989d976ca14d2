"""Repair of returned units: an RMA inspection outcome `repair` plans a production job
(through production's service) for the returned PCN's part, linked to the return line.
The units stay where receipt put them, in quarantine, kept for that job: quarantine stock
is never available (invariant 8), so no pick, reservation or web shop can take them, and
the line's `repair_qty` says how many wait for the job. A line gets one repair job."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.core.errors import ConflictError, field_error
from kosh.locations import service as location_service
from kosh.production import service as job_service
from kosh.quality import metrics
from kosh.quality.models import Return, ReturnLine


def repair_job_number(rma: Return, line: ReturnLine) -> str:
    return f"{rma.number}-R{line.id}"


async def plan_repair(
    session: AsyncSession, rma: Return, line: ReturnLine, *, qty: int, pcn: str, index: int
) -> int:
    """Plan the repair job of `qty` units of the line inside the caller's transaction and
    keep them for it; answers the job id. Rules: one repair job per line (409
    repair_already_planned); the part has an active BOM to repair by (422 no_active_bom,
    from production)."""
    if line.repair_job_id is not None:
        raise ConflictError(
            f"PCN {pcn} of {rma.number} has a repair job already.",
            code="repair_already_planned",
            errors=[field_error(["lines", index, "outcome"], "a repair job exists")],
            details={"job_id": line.repair_job_id},
        )
    assert rma.location_id is not None  # noqa: S101 - received returns have one
    part = await part_service.get_part_or_raise(session, line.part_id)
    location = await location_service.get_location_or_raise(session, rma.location_id)
    job = await job_service.add_job(
        session,
        number=repair_job_number(rma, line),
        assembly_part_number=part.number,
        qty=qty,
        warehouse_id=location.warehouse_id,
        notes=f"Repair of {qty} x PCN {pcn} returned on {rma.number}",
    )
    line.repair_qty += qty
    line.repair_job_id = job.id
    metrics.REPAIR_JOBS.inc()
    return job.id
