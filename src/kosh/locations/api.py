"""JSON routes for warehouses and locations. Managers and above create them; anyone
logged in reads (a location's detail lists the PCNs it holds)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from kosh.auth.deps import CurrentPrincipal, Manager
from kosh.core.deps import SessionDep
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import MAX_ID, PathId, QueryId, SearchText
from kosh.locations import bins as location_bins
from kosh.locations import queries as location_queries
from kosh.locations import service as location_service
from kosh.locations.models import Warehouse
from kosh.locations.schemas import (
    BinRangeCreate,
    BinRangeCreated,
    BinRangePreview,
    LocationContent,
    LocationContentPage,
    LocationCreate,
    LocationDetail,
    LocationKind,
    LocationOptionRead,
    LocationOptions,
    LocationPage,
    LocationRead,
    WarehouseCreate,
    WarehousePage,
    WarehouseRead,
)
from kosh.stock import queries as stock_queries

router = APIRouter(prefix="/api/v1", tags=["locations"])

DETAIL_CONTENTS = 200


def _warehouse(warehouse: Warehouse, mfg_location_id: int | None) -> WarehouseRead:
    return WarehouseRead(
        id=warehouse.id,
        code=warehouse.code,
        name=warehouse.name,
        active=warehouse.active,
        created_at=warehouse.created_at,
        mfg_location_id=mfg_location_id,
    )


@router.post("/warehouses", response_model=WarehouseRead, status_code=201)
async def create_warehouse(body: WarehouseCreate, _: Manager, session: SessionDep) -> WarehouseRead:
    warehouse = await location_service.create_warehouse(session, code=body.code, name=body.name)
    floor = await location_service.mfg_location(session, warehouse.id)
    return _warehouse(warehouse, floor.id)


@router.get("/warehouses", response_model=WarehousePage)
async def list_warehouses(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    active: bool | None = None,
) -> WarehousePage:
    warehouses, total = await location_service.list_warehouses(
        session, active=active, limit=page.limit, offset=page.offset
    )
    floors = await location_service.mfg_location_ids(session, [w.id for w in warehouses])
    return WarehousePage(
        items=[_warehouse(w, floors.get(w.id)) for w in warehouses],
        total=total,
        next=next_url(request, page, total),
    )


@router.get("/warehouses/{warehouse_id}", response_model=WarehouseRead)
async def get_warehouse(
    warehouse_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> WarehouseRead:
    warehouse = await location_service.get_warehouse_or_raise(session, warehouse_id)
    floors = await location_service.mfg_location_ids(session, [warehouse.id])
    return _warehouse(warehouse, floors.get(warehouse.id))


@router.post("/locations", response_model=LocationRead, status_code=201)
async def create_location(body: LocationCreate, _: Manager, session: SessionDep) -> LocationRead:
    location = await location_service.create_location(session, **body.model_dump())
    return LocationRead.model_validate(location)


@router.get("/locations", response_model=LocationPage)
async def list_locations(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    warehouse_id: QueryId = None,
    kind: LocationKind | None = None,
    active: bool | None = None,
    q: SearchText = None,
) -> LocationPage:
    locations, total = await location_service.list_locations(
        session,
        warehouse_id=warehouse_id,
        kind=kind,
        active=active,
        q=q,
        limit=page.limit,
        offset=page.offset,
    )
    return LocationPage(
        items=[LocationRead.model_validate(loc) for loc in locations],
        total=total,
        next=next_url(request, page, total),
    )


@router.get("/locations/search", response_model=LocationOptions)
async def search_locations(
    _: CurrentPrincipal,
    session: SessionDep,
    q: SearchText = None,
    kind: Annotated[list[LocationKind] | None, Query(max_length=5)] = None,
    location_id: Annotated[
        list[Annotated[int, Query(ge=1, le=MAX_ID)]] | None,
        Query(max_length=location_queries.MAX_SEARCH, alias="id"),
    ] = None,
    warehouse: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=location_queries.MAX_SEARCH)] = 20,
) -> LocationOptions:
    """Active locations for a form field as a person types or scans: code prefix `q`
    (any case; `WAREHOUSE/CODE` or the warehouse id `warehouse` narrows to one warehouse;
    a scanned full code comes first), optionally of the kinds given,
    or the locations with the ids given (`id`, repeated); exact codes first, at most
    `limit` (50)."""
    options, more = await location_queries.search_locations(
        session, q=q, kinds=kind, ids=location_id, warehouse_id=warehouse, limit=limit
    )
    return LocationOptions(
        items=[
            LocationOptionRead(
                id=o.id,
                code=o.code,
                warehouse_id=o.warehouse_id,
                warehouse_code=o.warehouse_code,
                kind=o.kind,
                value=o.value,
                label=o.label,
            )
            for o in options
        ],
        more=more,
    )


def _contents(lines: list[stock_queries.ContentLine]) -> list[LocationContent]:
    return [
        LocationContent(
            lot_id=c.lot_id,
            pcn=c.pcn,
            part_id=c.part_id,
            part_number=c.part_number,
            description=c.description,
            qty=c.qty,
        )
        for c in lines
    ]


@router.get("/locations/{location_id}", response_model=LocationDetail)
async def get_location(
    location_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> LocationDetail:
    """The location and what it holds (the first 200 PCNs; page through the rest with
    /locations/{id}/contents)."""
    location = await location_service.get_location_or_raise(session, location_id)
    warehouse = await location_service.get_warehouse_or_raise(session, location.warehouse_id)
    lines, count, units = await stock_queries.location_contents(
        session, location.id, limit=DETAIL_CONTENTS
    )
    return LocationDetail(
        **LocationRead.model_validate(location).model_dump(),
        warehouse_code=warehouse.code,
        contents=_contents(lines),
        contents_total=count,
        total_qty=units,
    )


@router.get("/locations/{location_id}/contents", response_model=LocationContentPage)
async def location_contents(
    location_id: PathId,
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
) -> LocationContentPage:
    location = await location_service.get_location_or_raise(session, location_id)
    lines, count, _units = await stock_queries.location_contents(
        session, location.id, limit=page.limit, offset=page.offset
    )
    return LocationContentPage(
        items=_contents(lines), total=count, next=next_url(request, page, count)
    )


def _bin_range(body: BinRangeCreate) -> location_bins.BinRange:
    return location_bins.BinRange(
        **body.model_dump(exclude={"warehouse_id", "description"}),
    )


@router.post("/locations/bulk/preview", response_model=BinRangePreview)
async def preview_bins(body: BinRangeCreate, _: Manager, session: SessionDep) -> BinRangePreview:
    """What `POST /locations/bulk` would create (count, first and last code, the codes
    that exist already); changes nothing."""
    found = await location_bins.preview_bins(
        session, warehouse_id=body.warehouse_id, pattern=_bin_range(body)
    )
    return BinRangePreview(
        count=found.count,
        first=found.first,
        last=found.last,
        sample=found.sample,
        taken=found.taken,
        taken_count=found.taken_count,
    )


@router.post("/locations/bulk", response_model=BinRangeCreated, status_code=201)
async def create_bins(body: BinRangeCreate, _: Manager, session: SessionDep) -> BinRangeCreated:
    """Create every bin of the range, all or nothing: 409 location_codes_taken lists the
    codes that exist already; 422 too_many_bins past 5,000."""
    codes = await location_bins.create_bins(
        session,
        warehouse_id=body.warehouse_id,
        pattern=_bin_range(body),
        description=body.description,
    )
    return BinRangeCreated(
        warehouse_id=body.warehouse_id,
        count=len(codes),
        first=codes[0],
        last=codes[-1],
        codes=codes,
    )
