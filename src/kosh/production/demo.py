"""Production demo data for `kosh demo-data`: jobs for the demo BOMs in every state a
planner sees (planned; released and kitted by picks referencing the job; in progress;
complete with its output received as a new PCN; cancelled; released short, which raises
its shortage alerts).

Kitting goes through the stock feature's pick (FIFO, onto the MFG floor, ledger rows);
transitions through the production use cases. A re-run changes nothing: a job whose
number exists is left as it is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import utcnow
from kosh.core.errors import DomainError
from kosh.locations import service as location_service
from kosh.production import queries as job_queries
from kosh.production import service as job_service
from kosh.stock import service as stock_service


@dataclass(frozen=True)
class DemoJob:
    number: str
    assembly: str
    qty: int
    state: str  # planned, released (kitted), in_progress, complete, cancelled, short
    due_in_days: int


JOBS = (
    DemoJob("J-DEMO-1001", "ASM-CTRL-V3", 20, "planned", 21),
    DemoJob("J-DEMO-1002", "ASM-TIMER-V1", 25, "released", 7),
    DemoJob("J-DEMO-1003", "ASM-TIMER-V1", 10, "in_progress", 3),
    DemoJob("J-DEMO-1004", "ASM-CTRL-V3", 5, "complete", -2),
    DemoJob("J-DEMO-1005", "ASM-TIMER-V1", 50, "cancelled", 30),
    # released short on purpose (a manager's confirmed over-planning): its shortage alerts
    DemoJob("J-DEMO-1006", "ASM-CTRL-V3", 400, "short", 2),
)
_ORDER = ("planned", "released", "in_progress", "complete")


async def _kit(session: AsyncSession, job_id: int, warehouse_id: int) -> None:
    """Pick every line's outstanding quantity for the job (what a clerk does line by line)."""
    job = await job_service.get_job_or_raise(session, job_id)
    detail = await job_queries.job_detail(session, job)
    for line in detail.lines:
        if line.outstanding:
            await stock_service.pick(
                session,
                part_number=line.part_number,
                qty=line.outstanding,
                warehouse_id=warehouse_id,
                reference=detail.number,
            )


async def load_production_demo(session: AsyncSession, *, warehouse_id: int) -> list[str]:
    """Plan the demo jobs that do not exist yet and take each to its state; answers the
    numbers made. A job whose material is short stays where the shortage stopped it."""
    made: list[str] = []
    output = await location_service.location_of_kind(session, warehouse_id, "storage")
    for demo in JOBS:
        if await job_service.job_number_taken(session, demo.number):
            continue
        job = await job_service.create_job(
            session,
            number=demo.number,
            assembly_part_number=demo.assembly,
            qty=demo.qty,
            warehouse_id=warehouse_id,
            due_date=(utcnow() + timedelta(days=demo.due_in_days)).date(),
            notes="Demo job (kosh demo-data).",
        )
        job_id = job.id
        made.append(demo.number)
        if demo.state == "cancelled":
            await job_service.cancel_job(session, job_id=job_id)
            continue
        if demo.state == "short":
            await job_service.release_job(session, job_id=job_id, confirm=True, may_confirm=True)
            continue
        steps = _ORDER[1 : _ORDER.index(demo.state) + 1]
        try:
            for step in steps:
                if step == "released":
                    await job_service.release_job(session, job_id=job_id)
                    await _kit(session, job_id, warehouse_id)
                elif step == "in_progress":
                    await job_service.start_job(session, job_id=job_id)
                else:
                    await job_service.complete_job(
                        session,
                        job_id=job_id,
                        produced_qty=demo.qty if output else None,
                        location_id=output.id if output else None,
                    )
        except DomainError:
            continue
    return made
