"""JSON routes for warehouse documents under /api/v1/documents.

Operators draft and post transfers, issues and receipts and count stocktakes; managers open,
review and post stocktakes, reverse posted documents and import opening stock; anyone logged
in reads. Every POST honours `Idempotency-Key` (platform middleware).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, Body, File, Form, Path, Query, Request, UploadFile
from starlette.responses import JSONResponse

from kosh.auth.deps import CurrentPrincipal, Manager, Operator
from kosh.bom import service as bom_service
from kosh.bom.filetype import check_file
from kosh.bom.upload import save_upload
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.errors import PermissionDeniedError, ValidationError, field_error
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import MAX_ID, PathId, QueryId, SearchText
from kosh.documents import cycle_count, opening, stocktake
from kosh.documents import health as document_health
from kosh.documents import imports as document_imports
from kosh.documents import queries as document_queries
from kosh.documents import service as document_service
from kosh.documents.cycle_count import CountPolicy
from kosh.documents.import_runner import ImportRequest, get_runner
from kosh.documents.models import Document
from kosh.documents.opening_file import parse_mapping
from kosh.documents.schemas import (
    CountCreate,
    CountPolicyRead,
    CountRead,
    CycleCountPlan,
    DocumentCreate,
    DocumentDetail,
    DocumentHeader,
    DocumentPage,
    DocumentStatus,
    DocumentSummary,
    DocumentType,
    DocumentUpdate,
    ImportAccepted,
    ImportProblem,
    ImportReportRead,
    ImportStatusRead,
    LineAdd,
    LinePage,
    LineRead,
    MovementPage,
    MovementRead,
    PartClassPage,
    PartClassRead,
    PartVarianceRead,
    PlanEntryRead,
    RecountRequest,
    Transition,
    VarianceLineRead,
    VarianceRead,
)
from kosh.documents.service import LineRequest
from kosh.documents.stocktake import Scope

router = APIRouter(prefix="/api/v1", tags=["documents"])
document_health.register()
_EMPTY = Body(default=None)


DETAIL_LINES = 200


async def _detail(session: SessionDep, document: Document) -> DocumentDetail:
    lines, line_count = await document_queries.lines_page(session, document.id, limit=DETAIL_LINES)
    movements, movement_count = await document_queries.movements_page(
        session, document.id, limit=DETAIL_LINES
    )
    reversal = await document_queries.reversal_of(session, document.id)
    base = f"/api/v1/documents/{document.id}"
    more = f"?limit={DETAIL_LINES}&offset={DETAIL_LINES}"
    return DocumentDetail(
        **DocumentHeader.model_validate(document).model_dump(),
        lines=[LineRead.model_validate(x) for x in lines],
        line_count=line_count,
        lines_next=f"{base}/lines{more}" if line_count > DETAIL_LINES else None,
        movements=[MovementRead.model_validate(m) for m in movements],
        movement_count=movement_count,
        movements_next=f"{base}/movements{more}" if movement_count > DETAIL_LINES else None,
        reversed_by=reversal.number if reversal else None,
    )


@router.post("/documents", response_model=DocumentDetail, status_code=201)
async def create_document(
    body: DocumentCreate, principal: Operator, session: SessionDep
) -> DocumentDetail:
    """Open a draft. A stocktake (managers) snapshots its scope; other types take lines."""
    if body.type == "stocktake" and not principal.has_role("manager"):
        raise PermissionDeniedError("Opening a stocktake needs the manager role.")
    scope = body.scope
    document = await document_service.create_document(
        session,
        type=body.type,
        warehouse_id=body.warehouse_id,
        lines=[LineRequest(**line.model_dump()) for line in body.lines],
        notes=body.notes,
        issue_kind=body.issue_kind,
        reason=body.reason,
        scope=Scope(
            zone=scope.zone or None,
            location_ids=tuple(scope.location_ids),
            part_ids=tuple(scope.part_ids),
        )
        if scope
        else None,
        blind=body.blind,
    )
    return await _detail(session, document)


@router.get("/documents", response_model=DocumentPage)
async def list_documents(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    type: DocumentType | None = None,
    status: DocumentStatus | None = None,
    warehouse_id: QueryId = None,
    q: SearchText = None,
) -> DocumentPage:
    rows, total = await document_queries.list_documents(
        session,
        type=type,
        status=status,
        warehouse_id=warehouse_id,
        q=q,
        limit=page.limit,
        offset=page.offset,
    )
    counts = await document_queries.line_counts(session, [d.id for d in rows])
    return DocumentPage(
        items=[
            DocumentSummary(
                id=d.id,
                number=d.number,
                type=d.type,
                status=d.status,
                warehouse_id=d.warehouse_id,
                notes=d.notes,
                reverses_id=d.reverses_id,
                author_name=d.author_name,
                version=d.version,
                created_at=d.created_at,
                posted_at=d.posted_at,
                line_count=counts.get(d.id, 0),
            )
            for d in rows
        ],
        total=total,
        next=next_url(request, page, total),
    )


@router.get("/documents/cycle-count-plan", response_model=CycleCountPlan)
async def cycle_count_plan(
    _: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    warehouse_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> CycleCountPlan:
    """The warehouse's stock locations in the order to count them: never counted first,
    then by due date (last counted + the interval of its ABC class), A before B before C."""
    policy = CountPolicy.from_settings(settings)
    entries = await cycle_count.plan(session, warehouse_id=warehouse_id, limit=limit, policy=policy)
    return CycleCountPlan(
        warehouse_id=warehouse_id,
        policy=CountPolicyRead.model_validate(policy),
        items=[PlanEntryRead.model_validate(e) for e in entries],
    )


@router.get("/documents/abc-classes", response_model=PartClassPage)
async def abc_classes(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    page: PageDep,
    warehouse_id: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> PartClassPage:
    """The parts used up in the warehouse, most valuable first, with their ABC class."""
    classes = await cycle_count.part_classes(
        session, warehouse_id=warehouse_id, policy=CountPolicy.from_settings(settings)
    )
    return PartClassPage(
        items=[
            PartClassRead.model_validate(c) for c in classes[page.offset : page.offset + page.limit]
        ],
        total=len(classes),
        next=next_url(request, page, len(classes)),
    )


@router.post(
    "/documents/imports",
    response_model=ImportReportRead,
    responses={
        201: {"model": ImportReportRead, "description": "received"},
        202: {"model": ImportAccepted, "description": "a large file: running in the background"},
    },
)
async def import_opening_stock(
    request: Request,
    _: Manager,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="xlsx, xlsm, xls, ods or csv")],
    warehouse_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    dry_run: Annotated[bool, Form()] = True,
    create_parts: Annotated[bool, Form()] = False,
    sheet: Annotated[str | None, Form(max_length=200)] = None,
    mapping: Annotated[
        str | None, Form(max_length=2000, description="field=Header, ... for unknown headers")
    ] = None,
) -> JSONResponse:
    """Opening stock from a spreadsheet: a dry run (the default) reports what would be
    received and every row problem; `dry_run=false` receives all rows as one posted receipt
    document (201), or nothing (422 import_rejected). A file larger than
    KOSH_OPENING_IMPORT_INLINE_BYTES is checked (type, size, zip bomb) now and then read
    and imported in the background: 202 with the import's URL, whose status shows the
    progress and, at the end, this same report or problem."""
    try:
        columns = parse_mapping(mapping)
    except ValueError as exc:
        raise ValidationError(
            "The column mapping is not valid.", errors=[field_error(["mapping"], str(exc))]
        ) from None
    name = PurePath((file.filename or "upload").replace("\\", "/")).name[:255] or "upload"
    limits = bom_service.file_limits(settings)
    path = await save_upload(file, settings, max_bytes=limits.max_bytes)
    job = ImportRequest(
        path=path,
        file_name=name,
        warehouse_id=warehouse_id,
        dry_run=dry_run,
        create_parts=create_parts,
        sheet=(sheet or "").strip() or None,
        mapping=columns,
    )
    try:
        checked = await asyncio.to_thread(check_file, path, limits)
        row = await document_imports.queue_import(
            session,
            warehouse_id=warehouse_id,
            file_name=name,
            dry_run=dry_run,
            options={"create_parts": create_parts, "sheet": job.sheet, "mapping": columns},
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    runner = get_runner(request.app)
    if checked.size > settings.opening_import_inline_bytes:
        runner.start(row.id, job)
        url = f"/api/v1/documents/imports/{row.id}"
        accepted = ImportAccepted(id=row.id, status=row.status, url=url)
        return JSONResponse(accepted.model_dump(), status_code=202, headers={"location": url})
    report = await runner.run(row.id, job)
    body = ImportReportRead.model_validate({**opening.report_json(report), "import_id": row.id})
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if report.dry_run else 201)


@router.get("/documents/imports/{import_id}", response_model=ImportStatusRead)
async def get_import(
    import_id: PathId, request: Request, _: Manager, session: SessionDep, settings: SettingsDep
) -> ImportStatusRead:
    """An import's status and progress (rows done / total); its report or problem at the
    end."""
    row = await document_imports.get_import(
        session,
        import_id=import_id,
        stale_after=timedelta(seconds=settings.opening_import_stale_seconds),
    )
    live = get_runner(request.app).live.get(row.id) if row.status == "running" else None
    return ImportStatusRead(
        id=row.id,
        warehouse_id=row.warehouse_id,
        file_name=row.file_name,
        dry_run=row.dry_run,
        status=row.status,
        phase=live.phase if live else row.phase,
        rows_done=live.rows_done if live else row.rows_done,
        rows_total=live.rows_total if live else row.rows_total,
        message=row.message,
        created_by=row.created_by,
        created_at=row.created_at,
        finished_at=row.finished_at,
        document_id=row.document_id,
        report=ImportReportRead.model_validate({**row.result, "import_id": row.id})
        if row.status == "succeeded" and row.result
        else None,
        problem=ImportProblem.model_validate(row.result)
        if row.status == "failed" and row.result
        else None,
    )


@router.get("/documents/{document_id}", response_model=DocumentDetail)
async def get_document(
    document_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> DocumentDetail:
    """The document with its first 200 lines and movements (page the rest)."""
    return await _detail(session, await document_queries.load_header(session, document_id))


@router.get("/documents/{document_id}/lines", response_model=LinePage)
async def list_lines(
    request: Request, document_id: PathId, _: CurrentPrincipal, session: SessionDep, page: PageDep
) -> LinePage:
    """A document's lines in line order, a page at a time."""
    document = await document_queries.load_header(session, document_id)
    rows, total = await document_queries.lines_page(
        session, document.id, limit=page.limit, offset=page.offset
    )
    return LinePage(
        items=[LineRead.model_validate(x) for x in rows],
        total=total,
        next=next_url(request, page, total),
    )


@router.get("/documents/{document_id}/movements", response_model=MovementPage)
async def list_movements(
    request: Request, document_id: PathId, _: CurrentPrincipal, session: SessionDep, page: PageDep
) -> MovementPage:
    """The ledger rows a posting wrote, a page at a time."""
    document = await document_queries.load_header(session, document_id)
    rows, total = await document_queries.movements_page(
        session, document.id, limit=page.limit, offset=page.offset
    )
    return MovementPage(
        items=[MovementRead.model_validate(x) for x in rows],
        total=total,
        next=next_url(request, page, total),
    )


@router.patch("/documents/{document_id}", response_model=DocumentDetail)
async def update_document(
    document_id: PathId, body: DocumentUpdate, _: Operator, session: SessionDep
) -> DocumentDetail:
    document = await document_service.update_document(
        session, document_id=document_id, version=body.version, notes=body.notes, reason=body.reason
    )
    return await _detail(session, document)


@router.post("/documents/{document_id}/lines", response_model=DocumentDetail, status_code=201)
async def add_line(
    document_id: PathId, body: LineAdd, _: Operator, session: SessionDep
) -> DocumentDetail:
    line = LineRequest(**body.model_dump(exclude={"version"}))
    document = await document_service.add_line(
        session, document_id=document_id, line=line, version=body.version
    )
    return await _detail(session, document)


@router.delete("/documents/{document_id}/lines/{line_no}", response_model=DocumentDetail)
async def remove_line(
    document_id: PathId,
    line_no: Annotated[int, Path(ge=1, le=MAX_ID)],
    _: Operator,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> DocumentDetail:
    document = await document_service.remove_line(
        session, document_id=document_id, line_no=line_no, version=version
    )
    return await _detail(session, document)


@router.post("/documents/{document_id}/post", response_model=DocumentDetail)
async def post_document(
    document_id: PathId,
    principal: Operator,
    session: SessionDep,
    body: Transition | None = _EMPTY,
) -> DocumentDetail:
    """Post all lines in one transaction or none (409 naming the line that failed)."""
    body = body or Transition()
    if not principal.has_role("manager"):
        document = await document_service.get_document(session, document_id)
        if document.type == "stocktake":
            raise PermissionDeniedError("Posting a stocktake needs the manager role.")
    posted = await document_service.post_document(
        session, document_id=document_id, version=body.version
    )
    return await _detail(session, posted.document)


@router.post("/documents/{document_id}/cancel", response_model=DocumentDetail)
async def cancel_document(
    document_id: PathId,
    _: Operator,
    session: SessionDep,
    body: Transition | None = _EMPTY,
) -> DocumentDetail:
    body = body or Transition()
    document = await document_service.cancel_document(
        session, document_id=document_id, version=body.version, reason=body.reason
    )
    return await _detail(session, document)


@router.post("/documents/{document_id}/reverse", response_model=DocumentDetail, status_code=201)
async def reverse_document(
    document_id: PathId,
    _: Manager,
    session: SessionDep,
    body: Transition | None = _EMPTY,
) -> DocumentDetail:
    """Post a new document that undoes a posted one (the original stays unchanged)."""
    body = body or Transition()
    posted = await document_service.reverse_document(
        session, document_id=document_id, reason=body.reason
    )
    return await _detail(session, posted.document)


@router.post("/documents/{document_id}/counts", response_model=CountRead)
async def record_count(
    document_id: PathId, body: CountCreate, _: Operator, session: SessionDep
) -> CountRead:
    """Record a stocktake count of a PCN at a location (blind mode hides the expected)."""
    count = await stocktake.record_count(
        session,
        document_id=document_id,
        location_id=body.location_id,
        pcn=body.pcn,
        counted_qty=body.counted_qty,
    )
    return CountRead(**stocktake.count_view(count))


@router.post("/documents/{document_id}/recounts", response_model=DocumentDetail)
async def request_recount(
    document_id: PathId, body: RecountRequest, _: Manager, session: SessionDep
) -> DocumentDetail:
    document = await stocktake.request_recount(
        session, document_id=document_id, line_ids=body.line_ids, version=body.version
    )
    return await _detail(session, document)


@router.get("/documents/{document_id}/variance", response_model=VarianceRead)
async def variance(document_id: PathId, _: Manager, session: SessionDep) -> VarianceRead:
    """Per line, per part and in value: what posting the stocktake adjusts."""
    report = await stocktake.variance(session, document_id=document_id)
    return VarianceRead(
        document_id=report.document.id,
        number=report.document.number,
        status=report.document.status,
        lines=[VarianceLineRead.model_validate(x) for x in report.lines],
        parts=[PartVarianceRead.model_validate(x) for x in report.parts],
        units_gained=report.units_gained,
        units_lost=report.units_lost,
        value=report.value,
        by_status=report.by_status,
    )
