"""Document pages: the list with filters and a new-document form, a document's detail
(lines, add / remove line, post, cancel, reverse, movements; for a stocktake the counts
and, for managers, the variance), and the scanner-first count page of a stocktake.

Every change goes through the JSON API (forms.js), so pages hold no rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal, Operator
from kosh.bom import service as bom_service
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.types import MAX_ID, PathId
from kosh.documents import cycle_count, stocktake
from kosh.documents import queries as document_queries
from kosh.documents import service as document_service
from kosh.documents.cycle_count import CountPolicy
from kosh.documents.models import DOCUMENT_STATUSES, DOCUMENT_TYPES
from kosh.locations import service as location_service
from kosh.web import nav
from kosh.web.templating import Pages, get_pages

if TYPE_CHECKING:
    from kosh.locations.models import Location

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
PAGE_SIZE = 50
LINES_PER_PAGE = 100
PLAN_SHOWN = 100
MAX_LOCATIONS_SHOWN = 2000

nav.register(nav.NavItem("Documents", "/documents", "viewer"))


@router.get("/documents")
async def document_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    type: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    warehouse_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    type = type if type in DOCUMENT_TYPES else None
    status = status if status in DOCUMENT_STATUSES else None
    documents, total = await document_queries.list_documents(
        session,
        type=type,
        status=status,
        warehouse_id=warehouse_id,
        limit=PAGE_SIZE,
        offset=offset,
    )
    warehouses, _ = await location_service.list_warehouses(session, limit=1000)

    def page_query(at: int) -> str:
        params = {"type": type, "status": status, "warehouse_id": warehouse_id, "offset": at}
        return urlencode({k: v for k, v in params.items() if v})

    return pages.render(
        request,
        "documents/list.html",
        {
            "documents": documents,
            "line_counts": await document_queries.line_counts(session, [d.id for d in documents]),
            "total": total,
            "types": DOCUMENT_TYPES,
            "statuses": DOCUMENT_STATUSES,
            "type": type or "",
            "status": status or "",
            "warehouse_id": warehouse_id,
            "warehouses": warehouses,
            "codes": {w.id: w.code for w in warehouses},
            "older": page_query(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
            "newer": page_query(max(offset - PAGE_SIZE, 0)) if offset else None,
            "can_edit": principal.has_role("operator"),
            "can_manage": principal.has_role("manager"),
        },
    )


@router.get("/documents/import")
async def opening_import_page(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """Opening stock from a spreadsheet: check, follow the progress, receive."""
    warehouses, _ = await location_service.list_warehouses(session, limit=1000)
    return pages.render(
        request,
        "documents/import.html",
        {
            "warehouses": [w for w in warehouses if w.active],
            "can_manage": principal.has_role("manager"),
            "max_mb": bom_service.file_limits(settings).max_bytes // 1_048_576,
        },
    )


@router.get("/documents/cycle-count")
async def cycle_count_page(
    request: Request,
    _: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
    warehouse_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The cycle-count plan of a warehouse (what to count next, ABC class, due date) and
    its parts by consumption value."""
    warehouses, _count = await location_service.list_warehouses(session, limit=1000)
    chosen = next((w for w in warehouses if w.id == warehouse_id), None)
    if chosen is None and warehouses:
        chosen = warehouses[0]
    policy = CountPolicy.from_settings(settings)
    entries: list[cycle_count.PlanEntry] = []
    classes: list[cycle_count.PartClass] = []
    if chosen is not None:
        entries = await cycle_count.plan(
            session, warehouse_id=chosen.id, limit=PLAN_SHOWN, policy=policy
        )
        classes = await cycle_count.part_classes(session, warehouse_id=chosen.id, policy=policy)
    return pages.render(
        request,
        "documents/cycle_count.html",
        {
            "warehouses": warehouses,
            "chosen": chosen,
            "entries": entries,
            "classes": classes[:PLAN_SHOWN],
            "class_total": len(classes),
            "policy": policy,
        },
    )


async def _location_codes(session: SessionDep, warehouse_id: int) -> dict[int, str]:
    listed, _ = await location_service.list_locations(
        session, warehouse_id=warehouse_id, limit=MAX_LOCATIONS_SHOWN
    )
    return {loc.id: loc.code for loc in listed}


@router.get("/documents/{document_id}")
async def document_detail(
    request: Request,
    document_id: PathId,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """A document, LINES_PER_PAGE lines (and movements, variance lines) at a time: an
    opening-stock receipt of 100,000 lines renders as fast as one of ten."""
    document = await document_queries.load_header(session, document_id)
    warehouse = await location_service.get_warehouse_or_raise(session, document.warehouse_id)
    lines, line_count = await document_queries.lines_page(
        session, document.id, limit=LINES_PER_PAGE, offset=offset
    )
    movements, movement_count = await document_queries.movements_page(
        session, document.id, limit=LINES_PER_PAGE, offset=offset
    )
    reversal = await document_queries.reversal_of(session, document.id)
    codes = await _location_codes(session, document.warehouse_id)
    variance = None
    variance_lines: list[stocktake.VarianceLine] = []
    places = []
    if document.type == "stocktake":
        places = await document_queries.stocktake_locations(session, document.id)
        if principal.has_role("manager"):
            variance = await stocktake.variance(session, document_id=document.id)
            variance_lines = variance.lines[offset : offset + LINES_PER_PAGE]
    locations: Sequence[Location] = []
    if document.status == "draft" and principal.has_role("operator"):
        locations, _ = await location_service.list_locations(
            session, active=True, limit=MAX_LOCATIONS_SHOWN
        )
    longest = max(line_count, movement_count, len(variance.lines) if variance else 0)
    return pages.render(
        request,
        "documents/detail.html",
        {
            "document": document,
            "warehouse": warehouse,
            "lines": lines,
            "line_count": line_count,
            "movements": movements,
            "movement_count": movement_count,
            "variance_lines": variance_lines,
            "reversed_by": reversal,
            "codes": codes,
            "variance": variance,
            "places": places,
            "locations": locations,
            "offset": offset,
            "page_size": LINES_PER_PAGE,
            "older": offset + LINES_PER_PAGE if offset + LINES_PER_PAGE < longest else None,
            "newer": max(offset - LINES_PER_PAGE, 0) if offset else None,
            "can_edit": principal.has_role("operator"),
            "can_manage": principal.has_role("manager"),
        },
    )


@router.get("/documents/{document_id}/count")
async def count_page(
    request: Request,
    document_id: PathId,
    _: Operator,
    pages: PagesDep,
    session: SessionDep,
    location: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Scanner-first: scan a location, then each PCN and its count."""
    document = await document_service.get_document(session, document_id)
    places = await document_queries.stocktake_locations(session, document.id)
    chosen = None
    problem = None
    wanted = (location or "").strip().upper()
    if wanted:
        chosen = next((p for p in places if p.code.upper() == wanted), None)
        if chosen is None:
            problem = f"Location {wanted} is not in this stocktake."
    expected = []
    if chosen is not None:
        lines = await document_queries.stocktake_lines(session, document.id)
        expected = [x for x in lines if x.location_id == chosen.location_id]
    return pages.render(
        request,
        "documents/count.html",
        {
            "document": document,
            "places": places,
            "chosen": chosen,
            "problem": problem,
            "expected": expected,
            "blind": document.blind,
        },
    )


@router.get("/documents/{document_id}/sheet")
async def print_sheet(
    request: Request,
    document_id: PathId,
    _: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
) -> Response:
    """A printable sheet: the count sheet of a stocktake (every expected PCN by location,
    a blank to write the count in; no expected quantities when blind), or the pick list of
    a transfer or issue (what to take from where, where it goes)."""
    document = await document_service.get_document(session, document_id)
    warehouse = await location_service.get_warehouse_or_raise(session, document.warehouse_id)
    codes = await _location_codes(session, document.warehouse_id)
    lines = []
    if document.type == "stocktake":
        places = await document_queries.stocktake_locations(session, document.id)
        codes.update({p.location_id: p.code for p in places})
        lines = await document_queries.stocktake_lines(session, document.id)
    return pages.render(
        request,
        "documents/sheet.html",
        {"document": document, "warehouse": warehouse, "codes": codes, "count_lines": lines},
    )
