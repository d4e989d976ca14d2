"""Stock pages for scanners and phones: receive, pick, restock, transfer, adjust, consume,
PCN lookup with history, and the printable PCN label.

The forms submit JSON to the /api/v1/stock endpoints (forms.js `data-api`, with CSRF and
an Idempotency-Key); `movement-result.js` announces what moved where, and
`scan-fields.js` turns a scanner's Enter into "next field" until the form is complete.
Operators see the operations, managers also the count adjustment; viewers read.
"""

from __future__ import annotations

from dataclasses import dataclass
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
from kosh.core.errors import NotFoundError
from kosh.core.types import QueryId, clean_query
from kosh.locations import service as location_service
from kosh.stock import queries as stock_queries
from kosh.stock import service as stock_service
from kosh.stock.label_api import label_facts
from kosh.stock.models import MOVEMENT_KINDS
from kosh.stock.pcn import PCN_PATTERN
from kosh.stock.service import STOCKABLE_KINDS
from kosh.web import nav
from kosh.web.pages import DASHBOARD_TILES, Tile
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
PcnPath = Annotated[str, Path(max_length=64, pattern=PCN_PATTERN)]
PrefillText = Annotated[str | None, Query(max_length=100), AfterValidator(clean_query)]
PrefillId = QueryId

HISTORY_PAGE = 50
# Locations offered in a page's datalist (typed or scanned codes resolve against it); a
# larger site's pages mark the list truncated and location-field.js asks the API for the rest.
MAX_LOCATION_CHOICES = 1500

nav.register(nav.NavItem("Stock operations", "/stock", "operator"))
nav.register(nav.NavItem("PCNs", "/pcns", "viewer"))


@dataclass(frozen=True)
class LocationChoice:
    """A location as a form offers it: `value` is what a person types or scans (the bare
    code when it is unique across warehouses, else WAREHOUSE/CODE)."""

    id: int
    code: str
    warehouse_id: int
    warehouse_code: str
    kind: str
    value: str

    @property
    def label(self) -> str:
        return f"{self.warehouse_code} {self.code} ({self.kind.replace('_', ' ')})"


async def location_choices(session: AsyncSession) -> tuple[list[LocationChoice], bool]:
    """The active locations a form offers, and whether there were more than it shows."""
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=1000)
    codes = {w.id: w.code for w in warehouses}
    listed, total = await location_service.list_locations(
        session, active=True, limit=MAX_LOCATION_CHOICES
    )
    locations = [loc for loc in listed if loc.warehouse_id in codes]
    seen: dict[str, int] = {}
    for loc in locations:
        seen[loc.code.upper()] = seen.get(loc.code.upper(), 0) + 1
    choices = [
        LocationChoice(
            id=loc.id,
            code=loc.code,
            warehouse_id=loc.warehouse_id,
            warehouse_code=codes[loc.warehouse_id],
            kind=loc.kind,
            value=loc.code
            if seen[loc.code.upper()] == 1
            else f"{codes[loc.warehouse_id]}/{loc.code}",
        )
        for loc in locations
    ]
    return choices, total > len(listed)


async def _form_page(
    request: Request,
    pages: Pages,
    session: AsyncSession,
    template: str,
    prefill: dict[str, Any],
) -> Response:
    choices, truncated = await location_choices(session)
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=1000)
    codes = {w.id: w.code for w in warehouses}
    by_id = {c.id: c for c in choices}
    for name, value in prefill.items():
        if name.endswith("location_id") and value and value not in by_id:
            # A location beyond the listed ones (a large site): offer it too.
            try:
                location = await location_service.get_location_or_raise(session, value)
            except NotFoundError:
                continue
            if location.active and location.warehouse_id in codes:
                extra = LocationChoice(
                    id=location.id,
                    code=location.code,
                    warehouse_id=location.warehouse_id,
                    warehouse_code=codes[location.warehouse_id],
                    kind=location.kind,
                    value=f"{codes[location.warehouse_id]}/{location.code}",
                )
                choices.append(extra)
                by_id[extra.id] = extra
    context = {
        "locations": choices,
        "locations_truncated": truncated,
        "stockable": [c for c in choices if c.kind in STOCKABLE_KINDS],
        "warehouses": warehouses,
        "prefill": prefill,
        "prefill_location": {
            name: by_id.get(value)
            for name, value in prefill.items()
            if name.endswith("location_id") and value
        },
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
) -> Response:
    """The lookup form; a scanned PCN that exists goes straight to its page."""
    wanted = (pcn or "").strip()
    if wanted:
        lot = await stock_service.get_lot_by_pcn(session, wanted)
        if lot is not None:
            return pages.redirect(f"/pcns/{quote(lot.pcn)}")
        return pages.render(
            request,
            "stock/pcn_lookup.html",
            {"pcn": wanted, "error": f"No PCN {wanted}."},
            status=404,
        )
    return pages.render(request, "stock/pcn_lookup.html", {"pcn": "", "error": None})


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
