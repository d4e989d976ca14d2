"""Bin pages: bulk creation from a range pattern (preview on the page, then create all or
nothing through POST /api/v1/locations/bulk) and the printable label sheet of selected
bins or a code range, each label a QR code of the bin code with the code in large print.

Registered ahead of /locations/{location_id} (kosh.locations.pages includes this router
first), so /locations/bins and /locations/labels are not read as location ids."""

from __future__ import annotations

from typing import Annotated
from xml.sax.saxutils import escape

from fastapi import APIRouter, Depends, Query, Request
from markupsafe import Markup
from pydantic import AfterValidator
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal, Manager
from kosh.core.deps import SessionDep
from kosh.core.errors import DomainError
from kosh.core.qr import svg_symbol
from kosh.core.types import MAX_ID, QueryId, SearchText, clean_query
from kosh.locations import bins as location_bins
from kosh.locations import metrics
from kosh.locations import queries as location_queries
from kosh.locations import service as location_service
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
QR_MM = 24.0  # the symbol with its quiet zone, on a 63.5 x 38.1 mm label
Letter = Annotated[str | None, Query(max_length=1), AfterValidator(clean_query)]
Number = Annotated[int | None, Query(ge=0, le=9999)]


def qr_svg(code: str) -> Markup:
    """An inline SVG of the bin code's QR symbol (4-module quiet zone), QR_MM square."""
    path, _module = svg_symbol(code, size=QR_MM)
    return Markup(  # noqa: S704 - built here from escaped text and numbers only
        f'<svg class="bin-qr" xmlns="http://www.w3.org/2000/svg" width="{QR_MM:g}mm" '
        f'height="{QR_MM:g}mm" viewBox="0 0 {QR_MM:g} {QR_MM:g}" aria-hidden="true">'
        f'<rect width="{QR_MM:g}" height="{QR_MM:g}" fill="#fff"/>'
        f'<path fill="#000" data-code="{escape(code, {chr(34): "&quot;"})}" d="{path}"/></svg>'
    )


@router.get("/locations/bins")
async def bin_range_page(
    request: Request,
    _: Manager,
    pages: PagesDep,
    session: SessionDep,
    warehouse_id: QueryId = None,
    aisle_from: Letter = None,
    aisle_to: Letter = None,
    rack_from: Number = None,
    rack_to: Number = None,
    level_from: Number = None,
    level_to: Number = None,
    digits: Annotated[int, Query(ge=1, le=4)] = 2,
) -> Response:
    """The range form; with a complete range it shows the preview (count, first and last
    code, the codes that exist already) and the button that creates them."""
    warehouses, _total = await location_service.list_warehouses(session, active=True, limit=1000)
    form = {
        "warehouse_id": warehouse_id,
        "aisle_from": (aisle_from or "").upper(),
        "aisle_to": (aisle_to or "").upper(),
        "rack_from": rack_from,
        "rack_to": rack_to,
        "level_from": level_from,
        "level_to": level_to,
        "digits": digits,
    }
    preview, problem = None, None
    asked = [warehouse_id, aisle_from, aisle_to, rack_from, rack_to, level_from, level_to]
    if all(value not in (None, "") for value in asked):
        pattern = location_bins.BinRange(
            aisle_from=aisle_from or "",
            aisle_to=aisle_to or "",
            rack_from=rack_from or 0,
            rack_to=rack_to or 0,
            level_from=level_from or 0,
            level_to=level_to or 0,
            digits=digits,
        )
        try:
            preview = await location_bins.preview_bins(
                session, warehouse_id=warehouse_id or 0, pattern=pattern
            )
        except DomainError as exc:
            problem = exc.message
    return pages.render(
        request,
        "locations/bin_range.html",
        {
            "warehouses": warehouses,
            "form": form,
            "preview": preview,
            "problem": problem,
            "limit": location_bins.MAX_BINS,
        },
    )


@router.get("/locations/labels")
async def bin_labels_page(
    request: Request,
    _: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    warehouse_id: QueryId = None,
    first: SearchText = None,
    last: SearchText = None,
    location_id: Annotated[
        list[Annotated[int, Query(ge=1, le=MAX_ID)]] | None,
        Query(max_length=location_queries.MAX_LABELS, alias="id"),
    ] = None,
) -> Response:
    """The label sheet of the bins chosen by id (`id`, repeated) or by warehouse and code
    range (`first` .. `last`); at most 500 labels a sheet."""
    warehouses, _total = await location_service.list_warehouses(session, limit=1000)
    chosen, total = await location_queries.label_bins(
        session, ids=location_id, warehouse_id=warehouse_id, first=first, last=last
    )
    metrics.BIN_LABELS.inc(len(chosen))
    return pages.render(
        request,
        "locations/bin_labels.html",
        {
            "bins": [(b, qr_svg(b.code)) for b in chosen],
            "total": total,
            "limit": location_queries.MAX_LABELS,
            "warehouses": warehouses,
            "filters": {"warehouse_id": warehouse_id, "first": first or "", "last": last or ""},
        },
    )
