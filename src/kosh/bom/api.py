"""JSON routes for BOMs and their spreadsheet imports.

Anyone logged in reads; operators and above import and edit.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import timedelta
from pathlib import PurePath
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import AfterValidator
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

from kosh.auth.deps import CurrentPrincipal, Operator
from kosh.bom import health as bom_health
from kosh.bom import queries as bom_queries
from kosh.bom import service as bom_service
from kosh.bom.runner import get_runner
from kosh.bom.schemas import (
    BomComparison,
    BomCopy,
    BomDetail,
    BomLineAdd,
    BomLineDelete,
    BomLineIn,
    BomLinePatch,
    BomLinesPut,
    BomPage,
    BomRead,
    BomUpdate,
    ImportAccepted,
    ImportRead,
    parse_mapping,
)
from kosh.bom.upload import save_upload
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.download import content_disposition
from kosh.core.errors import ValidationError, field_error
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import PathId, QueryId, RequiredQueryId, SearchText, clean_query, has_control

router = APIRouter(prefix="/api/v1", tags=["boms"])
bom_health.register()

Text = Annotated[str | None, Form(max_length=200), AfterValidator(clean_query)]


def _file_name(upload: UploadFile) -> str:
    name = PurePath((upload.filename or "upload").replace("\\", "/")).name
    if has_control(name):
        raise ValidationError(
            "The file name holds control characters.",
            errors=[field_error(["file"], "the file name must not contain control characters")],
        )
    return name[:255] or "upload"


@router.post("/boms/imports", status_code=202, response_model=ImportAccepted)
async def create_import(
    request: Request,
    principal: Operator,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="xlsx, xlsm, xls, ods or csv")],
    sheet: Text = None,
    assembly_part_number: Annotated[
        str | None, Form(max_length=64), AfterValidator(clean_query)
    ] = None,
    revision: Annotated[str | None, Form(max_length=32), AfterValidator(clean_query)] = None,
    mapping: Annotated[str | None, Form(max_length=10_000)] = None,
    header_row: Annotated[int | None, Form(ge=1, le=10_000)] = None,
    dry_run: Annotated[bool, Form()] = False,
    create_missing_parts: Annotated[bool, Form()] = False,
    duplicates: Annotated[Literal["merge", "flag"], Form()] = "merge",
) -> Response:
    """Upload a BOM spreadsheet; the import runs in the background (poll its URL)."""
    try:
        columns = parse_mapping(mapping)
    except ValueError as exc:
        raise ValidationError(
            "The column mapping is not valid.", errors=[field_error(["mapping"], str(exc))]
        ) from None
    wanted = bom_service.ImportRequest(
        file_name=_file_name(file),
        dry_run=dry_run,
        sheet=(sheet or "").strip() or None,
        header_row=header_row,
        mapping=columns,
        assembly_part_number=(assembly_part_number or "").strip() or None,
        revision=(revision or "").strip() or None,
        create_missing_parts=create_missing_parts,
        duplicates=duplicates,
    )
    limits = bom_service.file_limits(settings)
    path = await save_upload(file, settings, max_bytes=limits.max_bytes)
    try:
        row = await bom_service.start_import(
            session,
            path=path,
            request=wanted,
            settings=settings,
            start=get_runner(request.app).start,
            user_id=principal.user.id,
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    url = f"/api/v1/boms/imports/{row.id}"
    body = ImportAccepted(id=row.id, status=row.status, url=url)
    return JSONResponse(body.model_dump(), status_code=202, headers={"location": url})


@router.get("/boms/imports/{import_id}", response_model=ImportRead)
async def get_import(
    import_id: PathId, _: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> ImportRead:
    row = await bom_service.get_import(
        session,
        import_id=import_id,
        stale_after=timedelta(seconds=settings.bom_import_stale_seconds),
    )
    return await bom_queries.import_read(session, row)


@router.get("/boms/imports/{import_id}/errors.csv", response_class=StreamingResponse)
async def import_errors_csv(
    request: Request, import_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> StreamingResponse:
    await bom_queries.get_import_or_raise(session, import_id)
    return StreamingResponse(
        bom_queries.problems_csv(request.app.state.sessions, import_id),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": content_disposition(f"bom-import-{import_id}-problems.csv")
        },
    )


@router.get("/boms", response_model=BomPage)
async def list_boms(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    q: SearchText = None,
    status: Literal["draft", "active", "obsolete"] | None = None,
    assembly_part_id: QueryId = None,
) -> BomPage:
    items, total = await bom_queries.list_boms(
        session,
        q=q,
        status=status,
        assembly_part_id=assembly_part_id,
        limit=page.limit,
        offset=page.offset,
    )
    return BomPage(items=items, total=total, next=next_url(request, page, total))


@router.get("/boms/compare", response_model=BomComparison)
async def compare_boms(
    base: RequiredQueryId, other: RequiredQueryId, _: CurrentPrincipal, session: SessionDep
) -> BomComparison:
    """Lines added, removed and changed from revision `base` to revision `other`."""
    return await bom_queries.compare(session, base, other)


@router.get("/boms/{bom_id}", response_model=BomDetail)
async def get_bom(bom_id: PathId, _: CurrentPrincipal, session: SessionDep) -> BomDetail:
    return await bom_queries.bom_detail(session, bom_id)


@router.patch("/boms/{bom_id}", response_model=BomRead)
async def update_bom(bom_id: PathId, body: BomUpdate, _: Operator, session: SessionDep) -> BomRead:
    bom = await bom_service.update_bom(
        session, bom_id=bom_id, version=body.version, status=body.status, notes=body.notes
    )
    return await bom_queries.bom_read(session, bom)


@router.put("/boms/{bom_id}/lines", response_model=BomDetail)
async def put_lines(
    bom_id: PathId, body: BomLinesPut, _: Operator, session: SessionDep
) -> BomDetail:
    await bom_service.put_lines(session, bom_id=bom_id, version=body.version, lines=body.lines)
    return await bom_queries.bom_detail(session, bom_id)


@router.post("/boms/{bom_id}/lines", response_model=BomDetail, status_code=201)
async def add_line(bom_id: PathId, body: BomLineAdd, _: Operator, session: SessionDep) -> BomDetail:
    line = BomLineIn(
        part_number=body.part_number, qty=body.qty, refdes=body.refdes, notes=body.notes
    )
    await bom_service.add_line(session, bom_id=bom_id, version=body.version, line=line)
    return await bom_queries.bom_detail(session, bom_id)


@router.patch("/boms/{bom_id}/lines/{line_id}", response_model=BomDetail)
async def update_line(
    bom_id: PathId, line_id: PathId, body: BomLinePatch, _: Operator, session: SessionDep
) -> BomDetail:
    await bom_service.update_line(
        session,
        bom_id=bom_id,
        line_id=line_id,
        version=body.version,
        qty=body.qty,
        refdes=body.refdes,
        notes=body.notes,
    )
    return await bom_queries.bom_detail(session, bom_id)


@router.delete("/boms/{bom_id}/lines/{line_id}", response_model=BomDetail)
async def delete_line(
    bom_id: PathId, line_id: PathId, body: BomLineDelete, _: Operator, session: SessionDep
) -> BomDetail:
    await bom_service.delete_line(session, bom_id=bom_id, line_id=line_id, version=body.version)
    return await bom_queries.bom_detail(session, bom_id)


@router.post("/boms/{bom_id}/copy", response_model=BomRead, status_code=201)
async def copy_bom(bom_id: PathId, body: BomCopy, _: Operator, session: SessionDep) -> BomRead:
    bom = await bom_service.copy_bom(
        session, bom_id=bom_id, revision=body.revision, notes=body.notes
    )
    return await bom_queries.bom_read(session, bom)


def _export_name(bom: BomRead, suffix: str) -> str:
    """`<assembly>-rev<revision>.<suffix>`, letters of any script kept (see core.download)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in bom.assembly_part_number)
    return f"{safe}-rev{''.join(c for c in bom.revision if c.isalnum())}.{suffix}"


@router.get("/boms/{bom_id}/export.csv", response_class=StreamingResponse)
async def export_csv(
    request: Request, bom_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> StreamingResponse:
    bom = await bom_queries.bom_read(session, await bom_service.get_bom_or_raise(session, bom_id))
    return StreamingResponse(
        bom_queries.lines_csv(request.app.state.sessions, bom_id),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": content_disposition(_export_name(bom, "csv"))},
    )


@router.get("/boms/{bom_id}/export.xlsx", response_class=FileResponse)
async def export_xlsx(
    request: Request, bom_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> FileResponse:
    bom = await bom_queries.bom_read(session, await bom_service.get_bom_or_raise(session, bom_id))
    fd, name = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)

    def remove() -> None:
        with contextlib.suppress(OSError):
            os.unlink(name)

    try:
        await bom_queries.lines_xlsx(request.app.state.sessions, bom_id, PurePath(name))  # type: ignore[arg-type]
    except BaseException:
        remove()
        raise
    return FileResponse(
        name,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": content_disposition(_export_name(bom, "xlsx"))},
        background=BackgroundTask(remove),
    )
