"""JSON routes for parts: create, search, read, edit / deactivate, CSV export.

Anyone logged in reads; operators and above create and edit.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from kosh.auth.deps import CurrentPrincipal, Operator
from kosh.catalog import queries as part_queries
from kosh.catalog import service as part_service
from kosh.catalog.schemas import PartCreate, PartListItem, PartPage, PartRead, PartUpdate
from kosh.core.deps import SessionDep
from kosh.core.pagination import COUNT_CAP, PageDep, next_url_capped
from kosh.core.types import PathId, SearchText
from kosh.sales import service as sales_service

router = APIRouter(prefix="/api/v1", tags=["parts"])


@router.post("/parts", response_model=PartRead, status_code=201)
async def create_part(body: PartCreate, _: Operator, session: SessionDep) -> PartRead:
    part = await part_service.create_part(session, data=body)
    return PartRead.model_validate(part)


@router.get("/parts", response_model=PartPage)
async def list_parts(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    q: SearchText = None,
    active: bool | None = None,
) -> PartPage:
    parts, total = await part_queries.search_parts(
        session, q=q, active=active, limit=page.limit, offset=page.offset
    )
    stock = await sales_service.totals(session, part_ids=[p.id for p in parts])
    return PartPage(
        items=[
            PartListItem(
                **PartRead.model_validate(p).model_dump(),
                on_hand=stock[p.id][0],
                available=stock[p.id][1],
            )
            for p in parts
        ],
        total=total,
        total_capped=total >= COUNT_CAP,
        next=next_url_capped(request, page, total, len(parts)),
    )


# Declared before /parts/{part_id} so "export.csv" is not taken for an id.
@router.get("/parts/export.csv", response_class=StreamingResponse)
async def export_parts(
    request: Request, _: CurrentPrincipal, q: SearchText = None, active: bool | None = None
) -> StreamingResponse:
    return StreamingResponse(
        part_queries.export_csv(request.app.state.sessions, q=q, active=active),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="parts.csv"'},
    )


@router.get("/parts/{part_id}", response_model=PartRead)
async def get_part(part_id: PathId, _: CurrentPrincipal, session: SessionDep) -> PartRead:
    return PartRead.model_validate(await part_service.get_part_or_raise(session, part_id))


@router.patch("/parts/{part_id}", response_model=PartRead)
async def update_part(
    part_id: PathId, body: PartUpdate, _: Operator, session: SessionDep
) -> PartRead:
    part = await part_service.update_part(session, part_id, data=body)
    return PartRead.model_validate(part)
