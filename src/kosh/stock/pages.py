"""Stock pages for scanners and phones: receive, pick, restock, transfer, adjust, consume,
PCN lookup with history, and the printable PCN label.

The forms submit JSON to the /api/v1/stock endpoints (forms.js `data-api`, with CSRF and
an Idempotency-Key); `movement-result.js` announces what moved where, and
`scan-fields.js` turns a scanner's Enter into "next field" until the form is complete.
Operators see the operations, managers also the count adjustment; viewers read.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal, Manager, Operator
from kosh.catalog import queries as part_queries
from kosh.core.db import utcnow
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.types import QueryId, clean_query
from kosh.locations import queries as location_queries
from kosh.locations import service as location_service
from kosh.stock import lot_list
from kosh.stock import queries as stock_queries
from kosh.stock import service as stock_service
from kosh.stock import trends as stock_trends
from kosh.stock.label_api import label_facts
from kosh.stock.models import MOVEMENT_KINDS
from kosh.stock.pcn import PCN_PATTERN
from kosh.stock.service import STOCKABLE_KINDS
from kosh.web import nav
from kosh.web.chart import LineChart, line_chart
from kosh.web.pages import DASHBOARD_CHARTS, DASHBOARD_TILES, Tile
from kosh.web.sorting import SortParam, parse_sort
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
PcnPath = Annotated[str, Path(max_length=64, pattern=PCN_PATTERN)]
PrefillText = Annotated[str | None, Query(max_length=100), AfterValidator(clean_query)]
PrefillId = QueryId

HISTORY_PAGE = 50
LOT_PAGE = 50

nav.register(nav.NavItem("Stock operations", "/stock", "operator"))
nav.register(nav.NavItem("PCNs", "/pcns", "viewer"))


async def _form_page(
    request: Request,
    pages: Pages,
    session: AsyncSession,
    template: str,
    prefill: dict[str, Any],
) -> Response:
    """A stock form. Its location fields ship no list of bins: location-combobox.js asks
    /api/v1/locations/search as a person types, so the page stays small on any site;
    only prefilled locations come with the page."""
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=1000)
    wanted = {
        name: value for name, value in prefill.items() if name.endswith("location_id") and value
    }
    chosen, _more = (
        await location_queries.search_locations(session, ids=set(wanted.values()))
        if wanted
        else ([], False)
    )
    by_id = {c.id: c for c in chosen}
    context = {
        "locations": chosen,
        "stockable": [c for c in chosen if c.kind in STOCKABLE_KINDS],
        "stockable_kinds": STOCKABLE_KINDS,
        "warehouses": warehouses,
        "prefill": prefill,
        "prefill_location": {name: by_id.get(value) for name, value in wanted.items()},
    }
    return pages.render(request, template, context)


# --- operations -----------------------------------------------------------------------


@router.get("/stock")
async def stock_home(request: Request, principal: Operator, pages: PagesDep) -> Response:
    return pages.render(request, "stock/home.html", {"can_adjust": principal.has_role("manager")})


@router.get("/stock/receive")
async def receive_page(
    request: Request,
    _: Operator,
    pages: PagesDep,
    session: SessionDep,
    part_number: PrefillText = None,
    location_id: PrefillId = None,
) -> Response:
    prefill = {"part_number": part_number, "location_id": location_id}
    return await _form_page(request, pages, session, "stock/receive.html", prefill)


@router.get("/stock/pick")
async def pick_page(
    request: Request,
    _: Operator,
    pages: PagesDep,
    session: SessionDep,
    part_number: PrefillText = None,
    pcn: PrefillText = None,
    reference: PrefillText = None,
) -> Response:
    prefill = {"part_number": part_number, "pcn": pcn, "reference": reference}
    return await _form_page(request, pages, session, "stock/pick.html", prefill)


@router.get("/stock/restock")
async def restock_page(
    request: Request,
    _: Operator,
    pages: PagesDep,
    session: SessionDep,
    pcn: PrefillText = None,
) -> Response:
    return await _form_page(request, pages, session, "stock/restock.html", {"pcn": pcn})


@router.get("/stock/transfer")
async def transfer_page(
    request: Request,
    _: Operator,
    pages: PagesDep,
    session: SessionDep,
    pcn: PrefillText = None,
    from_location_id: PrefillId = None,
) -> Response:
    prefill = {"pcn": pcn, "from_location_id": from_location_id}
    return await _form_page(request, pages, session, "stock/transfer.html", prefill)


@router.get("/stock/adjust")
async def adjust_page(
    request: Request,
    _: Manager,
    pages: PagesDep,
    session: SessionDep,
    pcn: PrefillText = None,
    location_id: PrefillId = None,
) -> Response:
    prefill = {"pcn": pcn, "location_id": location_id}
    return await _form_page(request, pages, session, "stock/adjust.html", prefill)


@router.get("/stock/consume")
async def consume_page(
    request: Request,
    _: Operator,
    pages: PagesDep,
    session: SessionDep,
    pcn: PrefillText = None,
    location_id: PrefillId = None,
) -> Response:
    if location_id is None:
        # Parts are usually consumed on the floor: offer the MFG location of a one-warehouse
        # site.
        warehouses, count = await location_service.list_warehouses(session, active=True, limit=2)
        if count == 1:
            floors = await location_service.mfg_location_ids(session, [warehouses[0].id])
            location_id = floors.get(warehouses[0].id)
    prefill = {"pcn": pcn, "location_id": location_id}
    return await _form_page(request, pages, session, "stock/consume.html", prefill)


# --- PCN lookup, detail, label --------------------------------------------------------


@router.get("/pcns")
async def pcn_lookup(
    request: Request,
    _: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    pcn: Annotated[str | None, Query(max_length=200), AfterValidator(clean_query)] = None,
    part: Annotated[str | None, Query(max_length=64), AfterValidator(clean_query)] = None,
    location: Annotated[str | None, Query(max_length=100), AfterValidator(clean_query)] = None,
    older_than: Annotated[int | None, Query(ge=0, le=36_500)] = None,
    date_code: Annotated[str | None, Query(max_length=32), AfterValidator(clean_query)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    sort: SortParam = None,
) -> Response:
    """The lookup form (a scanned PCN that exists goes straight to its page) over the list
    of lots with stock, filtered by part, location, age and date code, sorted by a column."""
    wanted = (pcn or "").strip()
    if wanted:
        lot = await stock_service.get_lot_by_pcn(session, wanted)
        if lot is not None:
            return pages.redirect(f"/pcns/{quote(lot.pcn)}")
    filters = lot_list.LotFilters(
        part=part, location=location, older_than_days=older_than, date_code=date_code
    )
    params = {"part": part, "location": location, "older_than": older_than, "date_code": date_code}
    order = parse_sort(sort, keys=lot_list.LOT_SORTS, default="received", params=params)
    rows, total = await lot_list.lots(
        session,
        filters,
        sort=order.key,
        descending=order.descending,
        limit=LOT_PAGE,
        offset=offset,
    )
    return pages.render(
        request,
        "stock/pcn_lookup.html",
        {
            "pcn": wanted,
            "error": f"No PCN {wanted}." if wanted else None,
            "filters": params,
            "filtered": filters.active,
            "lots": rows,
            "total": total,
            "sort": order,
            "older": _page_query(**params, **order.query(), offset=offset + LOT_PAGE)
            if offset + LOT_PAGE < total
            else None,
            "newer": _page_query(**params, **order.query(), offset=max(offset - LOT_PAGE, 0))
            if offset
            else None,
        },
        status=404 if wanted else 200,
    )


@router.get("/pcns/{pcn}")
async def pcn_detail(
    request: Request,
    pcn: PcnPath,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    kind: Annotated[str | None, Query(max_length=16), AfterValidator(clean_query)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    lot = await stock_service.get_lot_by_pcn_or_raise(session, pcn)
    detail = await stock_queries.lot_detail(session, lot)
    kind = kind if kind in MOVEMENT_KINDS else None
    entries, total = await stock_queries.history(
        session, lot_id=lot.id, kind=kind, limit=HISTORY_PAGE, offset=offset
    )
    return pages.render(
        request,
        "stock/pcn_detail.html",
        {
            "detail": detail,
            "lot": lot,
            "received_qty": await stock_queries.received_qty(session, lot.id),
            "entries": entries,
            "total": total,
            "kinds": MOVEMENT_KINDS,
            "kind": kind,
            "older": _page_query(kind=kind, offset=offset + HISTORY_PAGE)
            if offset + HISTORY_PAGE < total
            else None,
            "newer": _page_query(kind=kind, offset=max(offset - HISTORY_PAGE, 0))
            if offset
            else None,
            "can_move": principal.has_role("operator"),
            "can_adjust": principal.has_role("manager"),
        },
    )


def _page_query(**params: object) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "", 0)})


@router.get("/pcns/{pcn}/label")
async def pcn_label(
    request: Request,
    pcn: PcnPath,
    _: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    facts = await label_facts(session, pcn, settings.site_timezone)
    return pages.render(request, "stock/label.html", {"facts": facts})


# --- dashboard ------------------------------------------------------------------------


async def stock_tiles(session: AsyncSession) -> list[Tile]:
    parts = await part_queries.count_parts(session)
    counts = await stock_queries.stock_counts(session, since=utcnow() - timedelta(hours=24))
    recent = f"{counts.recent_movements:,}" + ("+" if counts.recent_capped else "")
    return [
        Tile("Active parts", f"{parts:,}", "/parts"),
        Tile("PCNs", f"{counts.lots:,}", "/pcns"),
        Tile("Movements, last 24 h", recent, "/pcns"),
    ]


if stock_tiles not in DASHBOARD_TILES:
    DASHBOARD_TILES.append(stock_tiles)


async def movements_chart(session: AsyncSession) -> list[LineChart]:
    """Ledger movements per day over the last 30 days, once there are any."""
    days = await stock_trends.movements_per_day(session, days=30)
    if not any(count for _, count in days):
        return []
    return [
        line_chart(
            "movements",
            title="Movements per day",
            description="Stock movements written to the ledger on each of the last 30 days (UTC).",
            column="Day",
            value_column="Movements",
            rows=[(day.strftime("%d %b"), count) for day, count in days],
            empty="No stock movements in the last 30 days.",
        )
    ]


if movements_chart not in DASHBOARD_CHARTS:
    DASHBOARD_CHARTS.append(movements_chart)
