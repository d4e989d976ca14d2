"""Location and warehouse pages: the location list (filter by warehouse, kind, code), a
location's contents and recent movements, and the warehouse list with its create form.
Anyone logged in reads; managers and above create warehouses and locations."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.core.deps import SessionDep
from kosh.core.types import PathId, QueryId, SearchText, clean_query
from kosh.locations import bin_pages
from kosh.locations import service as location_service
from kosh.locations.models import LOCATION_KINDS
from kosh.stock import lot_list
from kosh.stock import queries as stock_queries
from kosh.web import nav
from kosh.web.pages import SETUP_STEPS, SetupStep
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
router.include_router(bin_pages.router)  # before /locations/{location_id}
PagesDep = Annotated[Pages, Depends(get_pages)]
PAGE_SIZE = 100
RECENT_HISTORY = 20
Offset = Annotated[int, Query(ge=0, le=10_000_000)]

nav.register(nav.NavItem("Locations", "/locations", "viewer"))


def _pager(offset: int, shown: int, total: int, **params: object) -> dict[str, str | None]:
    def query(at: int) -> str:
        return urlencode({k: v for k, v in {**params, "offset": at}.items() if v})

    return {
        "older": query(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
        "newer": query(max(offset - PAGE_SIZE, 0)) if offset else None,
        "range": f"{offset + 1}\u2013{offset + shown}" if shown else "0",
    }


@router.get("/locations")
async def location_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    warehouse_id: QueryId = None,
    kind: Annotated[str | None, Query(max_length=16), AfterValidator(clean_query)] = None,
    q: SearchText = None,
    offset: Offset = 0,
) -> Response:
    kind = kind if kind in LOCATION_KINDS else None
    q = (q or "").strip() or None
    warehouses, _ = await location_service.list_warehouses(session, limit=1000)
    locations, total = await location_service.list_locations(
        session, warehouse_id=warehouse_id, kind=kind, q=q, limit=PAGE_SIZE, offset=offset
    )
    return pages.render(
        request,
        "locations/location_list.html",
        {
            "locations": locations,
            "held": await lot_list.location_totals(session, [loc.id for loc in locations]),
            "parts": await lot_list.location_parts(session, [loc.id for loc in locations]),
            "total": total,
            "warehouses": warehouses,
            "warehouse_codes": {w.id: w.code for w in warehouses},
            "kinds": LOCATION_KINDS,
            "filters": {"warehouse_id": warehouse_id, "kind": kind, "q": q or ""},
            "pager": _pager(
                offset, len(locations), total, warehouse_id=warehouse_id, kind=kind, q=q
            ),
            "can_create": principal.has_role("manager"),
        },
    )


@router.get("/locations/{location_id}")
async def location_detail(
    request: Request,
    location_id: PathId,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    offset: Offset = 0,
) -> Response:
    location = await location_service.get_location_or_raise(session, location_id)
    warehouse = await location_service.get_warehouse_or_raise(session, location.warehouse_id)
    contents, count, units = await stock_queries.location_contents(
        session, location.id, limit=PAGE_SIZE, offset=offset
    )
    entries, history_total = await stock_queries.history(
        session, location_id=location.id, limit=RECENT_HISTORY
    )
    return pages.render(
        request,
        "locations/location_detail.html",
        {
            "location": location,
            "warehouse": warehouse,
            "contents": contents,
            "count": count,
            "units": units,
            "pager": _pager(offset, len(contents), count),
            "entries": entries,
            "history_total": history_total,
            "can_move": principal.has_role("operator"),
            "can_adjust": principal.has_role("manager"),
        },
    )


@router.get("/warehouses")
async def warehouse_list(
    request: Request, principal: CurrentPrincipal, pages: PagesDep, session: SessionDep
) -> Response:
    warehouses, total = await location_service.list_warehouses(session, limit=1000)
    floors = await location_service.mfg_location_ids(session, [w.id for w in warehouses])
    return pages.render(
        request,
        "locations/warehouse_list.html",
        {
            "warehouses": warehouses,
            "total": total,
            "floors": floors,
            "can_create": principal.has_role("manager"),
        },
    )


async def setup_steps(session: AsyncSession) -> list[SetupStep]:
    """First run: a warehouse, then its bins (storage locations)."""
    _, warehouses = await location_service.list_warehouses(session, limit=1)
    _, bins = await location_service.list_locations(session, kind="storage", limit=1)
    return [
        SetupStep(10, "Create a warehouse", "/warehouses", warehouses > 0),
        SetupStep(20, "Add its bins", "/locations", bins > 0),
    ]


if setup_steps not in SETUP_STEPS:
    SETUP_STEPS.append(setup_steps)
