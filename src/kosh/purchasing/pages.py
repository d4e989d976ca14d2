"""Purchasing pages: purchase orders (list, detail with place / cancel / close short,
printable PO), goods in against a PO for a scanner (390 x 844) or a desktop, suppliers with
their offers, and the suggested purchases. Every change goes through the JSON API
(forms.js, `po-receive.js`, `suggestions.js`), so pages hold no rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal, Operator
from kosh.core.deps import SessionDep
from kosh.core.types import PathId, QueryId
from kosh.locations import service as location_service
from kosh.purchasing import orders, reorder, suppliers
from kosh.purchasing import queries as purchasing_queries
from kosh.purchasing.models import PO_STATUSES, PurchaseOrder
from kosh.stock import service as stock_service
from kosh.web import nav
from kosh.web.pages import DASHBOARD_TILES, Tile
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
PAGE_SIZE = 50
Offset = Annotated[int, Query(ge=0, le=10_000_000)]
MAX_LOCATIONS = 50  # looked through for the goods-in area; the field searches the API


@dataclass(frozen=True)
class Place:
    """A location as the receiving form offers it (codes are unique in a warehouse)."""

    id: int
    code: str
    warehouse_id: int
    kind: str
    where: str

    @property
    def value(self) -> str:
        return self.code

    @property
    def label(self) -> str:
        return f"{self.where} {self.code} ({self.kind.replace('_', ' ')})"


nav.register(nav.NavItem("Goods in", "/goods-in", "operator"))
nav.register(nav.NavItem("Purchase orders", "/purchase-orders", "viewer"))
nav.register(nav.NavItem("Suppliers", "/suppliers", "viewer"))
nav.register(nav.NavItem("Suggested purchases", "/purchasing/suggestions", "operator"))


def _pager(offset: int, total: int, **params: object) -> dict[str, str | None]:
    def query(at: int) -> str:
        return urlencode({k: v for k, v in {**params, "offset": at or None}.items() if v})

    return {
        "older": query(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
        "newer": query(max(offset - PAGE_SIZE, 0)) if offset else None,
    }


async def _order_context(session: AsyncSession, order: PurchaseOrder) -> dict[str, Any]:
    supplier = await suppliers.get_supplier_or_raise(session, order.supplier_id)
    warehouse = await location_service.get_warehouse_or_raise(session, order.warehouse_id)
    offers = {
        line.id: await suppliers.load_offer(session, line.supplier_part_id) for line in order.lines
    }
    total = sum((line.unit_price * line.qty for line in order.lines), start=0)
    return {
        "order": order,
        "supplier": supplier,
        "warehouse": warehouse,
        "offers": offers,
        "total": total,
        "receipts": await purchasing_queries.receipts_of(session, order.id),
    }


@router.get("/purchase-orders")
async def order_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=20)] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
) -> Response:
    status = status if status in PO_STATUSES else None
    q = (q or "").strip() or None
    if q and any(ord(c) < 32 for c in q):
        q = None
    rows, total = await orders.search_orders(
        session, status=status, q=q, limit=PAGE_SIZE, offset=offset
    )
    found, _ = await suppliers.search_suppliers(session, active=True, limit=200)
    codes = {s.id: s.code for s in found}
    for row in rows:
        if row.supplier_id not in codes:
            codes[row.supplier_id] = (
                await suppliers.get_supplier_or_raise(session, row.supplier_id)
            ).code
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=200)
    return pages.render(
        request,
        "purchasing/order_list.html",
        {
            "orders": rows,
            "total": total,
            "codes": codes,
            "suppliers": found,
            "warehouses": warehouses,
            "status": status or "",
            "q": q or "",
            "statuses": PO_STATUSES,
            "can_edit": principal.has_role("operator"),
            **_pager(offset, total, status=status, q=q),
        },
    )


@router.get("/purchase-orders/{order_id}")
async def order_detail(
    request: Request,
    order_id: PathId,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
) -> Response:
    order = await orders.load_order(session, order_id)
    context = await _order_context(session, order)
    context["can_edit"] = principal.has_role("operator")
    context["can_reverse"] = principal.has_role("manager")
    return pages.render(request, "purchasing/order_detail.html", context)


@router.get("/purchase-orders/{order_id}/print")
async def order_print(
    request: Request, order_id: PathId, _: CurrentPrincipal, pages: PagesDep, session: SessionDep
) -> Response:
    order = await orders.load_order(session, order_id)
    context = await _order_context(session, order)
    return pages.render(request, "purchasing/order_print.html", context)


@router.get("/purchase-orders/{order_id}/receive")
async def receive_page(
    request: Request, order_id: PathId, principal: Operator, pages: PagesDep, session: SessionDep
) -> Response:
    """The goods-in scanner page: scan a label (or pick the line and type the quantity),
    see what was read, book it; the PCN label follows."""
    order = await orders.load_order(session, order_id)
    context = await _order_context(session, order)
    listed, _total = await location_service.list_locations(
        session, warehouse_id=order.warehouse_id, active=True, limit=MAX_LOCATIONS
    )
    code = context["warehouse"].code
    choices = [
        Place(id=loc.id, code=loc.code, warehouse_id=loc.warehouse_id, kind=loc.kind, where=code)
        for loc in listed
    ]
    context.update(
        {
            "locations": choices,
            "stockable": [c for c in choices if c.kind in stock_service.STOCKABLE_KINDS],
            "stockable_kinds": stock_service.STOCKABLE_KINDS,
            "receiving": next((c for c in choices if c.kind == "receiving"), None),
            "can_allow_over": principal.has_role("manager"),
        }
    )
    return pages.render(request, "purchasing/receive.html", context)


@router.get("/goods-in")
async def goods_in(
    request: Request,
    _: Operator,
    pages: PagesDep,
    session: SessionDep,
    po: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Scan or type a PO number; an open order goes straight to its receiving page."""
    wanted = (po or "").strip()
    error = None
    if wanted and not any(ord(c) < 32 for c in wanted):
        order = await orders.find_by_number(session, wanted)
        if order is not None:
            return pages.redirect(f"/purchase-orders/{order.id}/receive")
        error = f"No purchase order {wanted}."
    open_orders, _count = await orders.search_orders(session, status="placed", limit=20)
    partial, _count = await orders.search_orders(session, status="partially_received", limit=20)
    return pages.render(
        request,
        "purchasing/goods_in.html",
        {"po": wanted, "error": error, "open_orders": partial + open_orders},
        status=404 if error else 200,
    )


@router.get("/suppliers")
async def supplier_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=100)] = None,
    offset: Offset = 0,
) -> Response:
    q = (q or "").strip() or None
    if q and any(ord(c) < 32 for c in q):
        q = None
    rows, total = await suppliers.search_suppliers(session, q=q, limit=PAGE_SIZE, offset=offset)
    return pages.render(
        request,
        "purchasing/supplier_list.html",
        {
            "suppliers": rows,
            "total": total,
            "q": q or "",
            "can_edit": principal.has_role("operator"),
            **_pager(offset, total, q=q),
        },
    )


@router.get("/suppliers/{supplier_id}")
async def supplier_detail(
    request: Request,
    supplier_id: PathId,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    offset: Offset = 0,
) -> Response:
    supplier = await suppliers.get_supplier_or_raise(session, supplier_id)
    offers, total = await suppliers.search_offers(
        session, supplier_id=supplier.id, limit=PAGE_SIZE, offset=offset
    )
    return pages.render(
        request,
        "purchasing/supplier_detail.html",
        {
            "supplier": supplier,
            "offers": offers,
            "total": total,
            "can_edit": principal.has_role("operator"),
            **_pager(offset, total),
        },
    )


@router.get("/purchasing/suggestions")
async def suggestions_page(
    request: Request,
    _: Operator,
    pages: PagesDep,
    session: SessionDep,
    warehouse_id: QueryId = None,
) -> Response:
    warehouses, _count = await location_service.list_warehouses(session, active=True, limit=200)
    if warehouse_id is None and warehouses:
        warehouse_id = warehouses[0].id
    found = await reorder.suggestions(session, warehouse_id=warehouse_id) if warehouse_id else []
    return pages.render(
        request,
        "purchasing/suggestions.html",
        {"warehouses": warehouses, "warehouse_id": warehouse_id, "suggestions": found},
    )


# --- dashboard ------------------------------------------------------------------------


async def purchasing_tiles(session: AsyncSession) -> list[Tile]:
    count = await purchasing_queries.count_open_orders(session)
    return [Tile("Open purchase orders", f"{count:,}", "/purchase-orders?status=placed")]


if purchasing_tiles not in DASHBOARD_TILES:
    DASHBOARD_TILES.append(purchasing_tiles)
