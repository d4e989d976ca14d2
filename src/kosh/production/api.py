"""JSON routes for production jobs. Anyone logged in reads; operators plan, release,
start and complete; releasing despite shortages and cancelling need a manager."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from kosh.auth.deps import CurrentPrincipal, Manager, Operator
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import PathId, QueryId, SearchText
from kosh.production import kitting, picklist
from kosh.production import queries as job_queries
from kosh.production import service as job_service
from kosh.production.schemas import (
    JobComplete,
    JobCreate,
    JobDetail,
    JobLineKit,
    JobPage,
    JobRelease,
    JobStatus,
    KitPickRead,
    KitResult,
    PickListLineRead,
    PickListRead,
    PickScan,
    PickScanRead,
    PickSuggestionRead,
)

router = APIRouter(prefix="/api/v1", tags=["jobs"])


class CompletionRead(JobDetail):
    consumed_lots: list[dict[str, Any]]


@router.post("/jobs", response_model=JobDetail, status_code=201)
async def create_job(body: JobCreate, _: Operator, session: SessionDep) -> JobDetail:
    job = await job_service.create_job(
        session,
        number=body.number,
        assembly_part_number=body.assembly_part_number,
        qty=body.qty,
        warehouse_id=body.warehouse_id,
        bom_id=body.bom_id,
        bom_revision=body.bom_revision,
        due_date=body.due_date,
        priority=body.priority,
        notes=body.notes,
    )
    return await job_queries.job_detail(session, job)


@router.get("/jobs", response_model=JobPage)
async def list_jobs(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    status: JobStatus | None = None,
    q: SearchText = None,
    warehouse_id: QueryId = None,
) -> JobPage:
    items, total = await job_queries.list_jobs(
        session, status=status, q=q, warehouse_id=warehouse_id, limit=page.limit, offset=page.offset
    )
    return JobPage(items=items, total=total, next=next_url(request, page, total))


@router.get("/jobs/{job_id}", response_model=JobDetail)
async def get_job(job_id: PathId, _: CurrentPrincipal, session: SessionDep) -> JobDetail:
    job = await job_service.get_job_or_raise(session, job_id)
    return await job_queries.job_detail(session, job)


@router.post("/jobs/{job_id}/release", response_model=JobDetail)
async def release_job(
    job_id: PathId, principal: Operator, session: SessionDep, body: JobRelease | None = None
) -> JobDetail:
    """Release for kitting; 409 over_planning with the shortage list unless a manager
    sends `confirm: true`; the operations are scheduled (409 over_capacity unless a
    manager sends `confirm_over_capacity: true` or `propose_earliest: true` is sent)."""
    plan = await job_service.release_job(
        session,
        job_id=job_id,
        confirm=bool(body and body.confirm),
        may_confirm=principal.has_role("manager"),
        capacity=job_service.CapacityRequest(
            scheduling=body.scheduling,
            start=body.start,
            confirm_over_capacity=body.confirm_over_capacity,
            propose_earliest=body.propose_earliest,
        )
        if body
        else None,
    )
    return await job_queries.job_detail(session, plan.job)


@router.post("/jobs/{job_id}/start", response_model=JobDetail)
async def start_job(job_id: PathId, _: Operator, session: SessionDep) -> JobDetail:
    job = await job_service.start_job(session, job_id=job_id)
    return await job_queries.job_detail(session, job)


@router.post("/jobs/{job_id}/complete", response_model=CompletionRead)
async def complete_job(
    job_id: PathId, _: Operator, session: SessionDep, body: JobComplete | None = None
) -> CompletionRead:
    body = body or JobComplete()
    done = await job_service.complete_job(
        session,
        job_id=job_id,
        produced_qty=body.produced_qty,
        location_id=body.location_id,
        pcn=body.pcn,
    )
    detail = await job_queries.job_detail(session, done.job)
    return CompletionRead(**detail.model_dump(), consumed_lots=done.consumed)


@router.post("/jobs/{job_id}/cancel", response_model=JobDetail)
async def cancel_job(job_id: PathId, _: Manager, session: SessionDep) -> JobDetail:
    job = await job_service.cancel_job(session, job_id=job_id)
    return await job_queries.job_detail(session, job)


async def _kit_result(session: SessionDep, done: kitting.Kitting) -> KitResult:
    detail = await job_queries.job_detail(session, done.job)
    return KitResult(
        **detail.model_dump(),
        picked=[KitPickRead(part_number=p.part_number, qty=p.qty, pcns=p.pcns) for p in done.picks],
    )


@router.post("/jobs/{job_id}/kit", response_model=KitResult)
async def kit_all(
    job_id: PathId, _: Operator, session: SessionDep, settings: SettingsDep
) -> KitResult:
    """Pick what every line still lacks onto the MFG floor, oldest lots first, all or
    nothing: 409 kit_short lists each part that cannot be picked in full (`short`). With
    KOSH_KIT_SCAN_CONFIRM on it is 409 scan_confirm_required: use the pick list."""
    done = await kitting.kit_all(session, job_id=job_id, scan_confirm=settings.kit_scan_confirm)
    return await _kit_result(session, done)


@router.post("/jobs/{job_id}/lines/{line_id}/kit", response_model=KitResult)
async def kit_line(
    job_id: PathId, line_id: PathId, body: JobLineKit, _: Operator, session: SessionDep
) -> KitResult:
    """Pick for one line (default: what it still lacks); more than it needs is 409
    over_kit (with `required`, `kitted`, `over`) unless `allow_over_kit: true`."""
    done = await kitting.kit_line(
        session,
        job_id=job_id,
        line_id=line_id,
        qty=body.qty,
        pcn=body.pcn,
        allow_over_kit=body.allow_over_kit,
    )
    return await _kit_result(session, done)


def _pick_list_line(line: picklist.PickListLine) -> PickListLineRead:
    return PickListLineRead(
        line_id=line.line_id,
        line_no=line.line_no,
        part_number=line.part_number,
        description=line.description,
        outstanding=line.outstanding,
        short=line.short,
        suggestions=[
            PickSuggestionRead(pcn=s.pcn, location_code=s.location_code, qty=s.qty)
            for s in line.suggestions
        ],
    )


@router.get("/jobs/{job_id}/pick-list", response_model=PickListRead)
async def pick_list(
    job_id: PathId, _: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> PickListRead:
    """Per line what it still lacks and the FIFO suggestion: which PCN from which bin,
    how many (`short`: what storage cannot give now)."""
    found = await picklist.pick_list(session, job_id=job_id)
    return PickListRead(
        job_id=found.job.id,
        job_number=found.job.number,
        scan_confirm=settings.kit_scan_confirm,
        lines=[_pick_list_line(line) for line in found.lines],
    )


@router.post("/jobs/{job_id}/lines/{line_id}/scan", response_model=PickScanRead)
async def scan_line(
    job_id: PathId, line_id: PathId, body: PickScan, _: Operator, session: SessionDep
) -> PickScanRead:
    """Confirm a pick-list line by its scanned PCN and pick it: another part's or an
    unknown PCN is 409 wrong_pcn (`expected_pcn`, `expected_location`); a younger lot of
    the part is 409 not_fifo unless `reason` is given (then audited)."""
    done = await picklist.confirm_line(
        session, job_id=job_id, line_id=line_id, scanned=body.scanned, reason=body.reason
    )
    return PickScanRead(
        message=picklist.confirmation_message(done),
        pcn=done.pcn,
        qty=done.qty,
        from_bins=done.from_bins,
        overridden=done.overridden,
        line=_pick_list_line(done.line),
    )
