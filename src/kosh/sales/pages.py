"""Sales pages: orders (list, new draft, detail with confirm / hold / ship / cancel) and
customers. Every change goes through the JSON API (forms.js), so pages hold no rules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.catalog import service as part_service
from kosh.core.deps import SessionDep
from kosh.core.types import PathId, SearchText, clean_query
from kosh.locations import service as location_service
from kosh.sales import service as sales_service
from kosh.sales.models import ORDER_STATUSES, SalesOrder
from kosh.web import nav
from kosh.web.sorting import SortParam, parse_sort
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
PAGE_SIZE = 50

nav.register(nav.NavItem("Sales orders", "/sales-orders", "viewer"))
nav.register(nav.NavItem("Customers", "/customers", "viewer"))

# Features built on sales add to the order page (the storefront: where a web order came from,
# what was sent back) without sales importing them: each panel returns template context.
OrderPanel = Callable[[AsyncSession, SalesOrder], Awaitable[dict[str, Any]]]
_ORDER_PANELS: list[OrderPanel] = []


def add_order_panel(panel: OrderPanel) -> None:
    if panel not in _ORDER_PANELS:
        _ORDER_PANELS.append(panel)


@router.get("/sales-orders")
async def order_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=20), AfterValidator(clean_query)] = None,
    external_id: Annotated[str | None, Query(max_length=64), AfterValidator(clean_query)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    sort: SortParam = None,
) -> Response:
    status = status if status in ORDER_STATUSES else None
    external_id = (external_id or "").strip() or None
    filters = {"status": status, "external_id": external_id}
    ordering = parse_sort(sort, keys=sales_service.ORDER_SORTS, default="-created", params=filters)
    orders, total = await sales_service.list_orders(
        session,
        status=status,
        external_id=external_id,
        sort=ordering.key,
        descending=ordering.descending,
        limit=PAGE_SIZE,
        offset=offset,
    )
    customers, _ = await sales_service.list_customers(session, limit=200)
    names = {c.id: c.name for c in customers}
    for order in orders:
        if order.customer_id not in names:
            names[order.customer_id] = (
                await sales_service.get_customer(session, order.customer_id)
            ).name
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=200)

    def page_query(at: int) -> str:
        params = {**filters, **ordering.query(), "offset": at or None}
        return urlencode({k: v for k, v in params.items() if v})

    return pages.render(
        request,
        "sales/order_list.html",
        {
            "orders": orders,
            "sort": ordering,
            "status_options": [(s, s.replace("_", " ")) for s in ORDER_STATUSES],
            "total": total,
            "names": names,
            "status": status or "",
            "external_id": external_id or "",
            "statuses": ORDER_STATUSES,
            "customers": customers,
            "warehouses": warehouses,
            "older": page_query(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
            "newer": page_query(max(offset - PAGE_SIZE, 0)) if offset else None,
            "can_edit": principal.has_role("operator"),
        },
    )


@router.get("/sales-orders/{order_id}")
async def order_detail(
    request: Request,
    order_id: PathId,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
) -> Response:
    order = await sales_service.get_order(session, order_id)
    customer = await sales_service.get_customer(session, order.customer_id)
    warehouse = await location_service.get_warehouse_or_raise(session, order.warehouse_id)
    part_ids = {line.part_id for line in order.lines}
    parts = {pid: await part_service.get_part_or_raise(session, pid) for pid in part_ids}
    available = await sales_service.available(
        session, part_ids=part_ids, warehouse_id=order.warehouse_id
    )
    context: dict[str, Any] = {
        "order": order,
        "customer": customer,
        "warehouse": warehouse,
        "parts": parts,
        "available": available,
        "total": sum((line.unit_price * line.qty for line in order.lines), start=0),
        "can_edit": principal.has_role("operator"),
        "staged": [],
        "outbox": [],
        "shipments": await sales_service.list_shipments(session, order_id=order.id),
        "refunded": await sales_service.refunded_lines(session, order_id=order.id),
    }
    for panel in _ORDER_PANELS:
        context.update(await panel(session, order))
    return pages.render(request, "sales/order_detail.html", context)


@router.get("/sales-orders/{order_id}/shipments/{shipment_id}/packing-slip")
async def packing_slip(
    request: Request,
    order_id: PathId,
    shipment_id: PathId,
    _: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
) -> Response:
    """One shipment's packing slip: ship-to address, lines with units, carrier, tracking.
    Prints on its own (print.css hides the navigation)."""
    order, shipment = await sales_service.get_shipment(
        session, order_id=order_id, shipment_id=shipment_id
    )
    customer = await sales_service.get_customer(session, order.customer_id)
    warehouse = await location_service.get_warehouse_or_raise(session, order.warehouse_id)
    lines = {line.id: line for line in order.lines}
    parts = {
        pid: await part_service.get_part_or_raise(session, pid)
        for pid in {line.part_id for line in shipment.lines}
    }
    address = customer.shipping_address or customer.billing_address or {}
    return pages.render(
        request,
        "sales/packing_slip.html",
        {
            "order": order,
            "shipment": shipment,
            "customer": customer,
            "warehouse": warehouse,
            "lines": lines,
            "parts": parts,
            "address": _address_lines(address),
        },
    )


def _address_lines(address: dict[str, Any]) -> list[str]:
    """A WooCommerce-shaped address as the lines of a label."""

    def joined(*keys: str) -> str:
        return " ".join(str(address.get(key) or "").strip() for key in keys).strip()

    rows = [
        joined("first_name", "last_name"),
        joined("company"),
        joined("address_1"),
        joined("address_2"),
        joined("postcode", "city"),
        joined("state"),
        joined("country"),
    ]
    return [row for row in rows if row]


@router.get("/customers")
async def customer_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    q: SearchText = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    q = (q or "").strip() or None
    customers, total = await sales_service.list_customers(
        session, q=q, limit=PAGE_SIZE, offset=offset
    )

    def page_query(at: int) -> str:
        return urlencode({k: v for k, v in {"q": q, "offset": at or None}.items() if v})

    return pages.render(
        request,
        "sales/customer_list.html",
        {
            "customers": customers,
            "total": total,
            "q": q or "",
            "older": page_query(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
            "newer": page_query(max(offset - PAGE_SIZE, 0)) if offset else None,
            "can_edit": principal.has_role("operator"),
        },
    )
