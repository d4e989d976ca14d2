"""JSON routes for customers, sales orders and availability."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pydantic import AfterValidator, Field

from kosh.auth.deps import CurrentPrincipal, Operator
from kosh.core import idempotency
from kosh.core.deps import SessionDep
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import MAX_ID, PathId, QueryId, RequiredQueryId, SearchText, clean_query
from kosh.purchasing import queries as purchasing_queries
from kosh.sales import service as sales_service
from kosh.sales.schemas import (
    Availability,
    CustomerCreate,
    CustomerPage,
    CustomerRead,
    HoldRequest,
    LineAdd,
    LinePatch,
    LineRemove,
    OrderCreate,
    OrderPage,
    OrderRead,
    OrderStatus,
    RefundedLinePage,
    RefundedLineRead,
    ShipmentList,
    ShipmentRead,
    ShipRequest,
    Transition,
)

router = APIRouter(prefix="/api/v1", tags=["sales"])


@router.post("/customers", response_model=CustomerRead, status_code=201)
async def create_customer(body: CustomerCreate, _: Operator, session: SessionDep) -> CustomerRead:
    customer = await sales_service.create_customer(session, **body.model_dump())
    return CustomerRead.model_validate(customer)


@router.get("/customers", response_model=CustomerPage)
async def list_customers(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    q: SearchText = None,
) -> CustomerPage:
    rows, total = await sales_service.list_customers(
        session, q=q, limit=page.limit, offset=page.offset
    )
    return CustomerPage(
        items=[CustomerRead.model_validate(c) for c in rows],
        total=total,
        next=next_url(request, page, total),
    )


@router.get("/customers/{customer_id}", response_model=CustomerRead)
async def get_customer(
    customer_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> CustomerRead:
    return CustomerRead.model_validate(await sales_service.get_customer(session, customer_id))


@router.post("/sales-orders", response_model=OrderRead, status_code=201)
async def create_order(body: OrderCreate, _: Operator, session: SessionDep) -> OrderRead:
    order = await sales_service.create_order(
        session,
        customer_id=body.customer_id,
        warehouse_id=body.warehouse_id,
        lines=[sales_service.LineRequest(**line.model_dump()) for line in body.lines],
        currency=body.currency,
        notes=body.notes,
        backorder=body.backorder,
        confirm=body.confirm,
    )
    return OrderRead.model_validate(order)


@router.get("/sales-orders", response_model=OrderPage)
async def list_orders(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    status: OrderStatus | None = None,
    external_id: Annotated[str | None, Query(max_length=64), AfterValidator(clean_query)] = None,
    external_store: Annotated[str | None, Query(max_length=32), AfterValidator(clean_query)] = None,
    customer_id: QueryId = None,
) -> OrderPage:
    rows, total = await sales_service.list_orders(
        session,
        status=status,
        external_id=external_id,
        external_store=external_store,
        customer_id=customer_id,
        limit=page.limit,
        offset=page.offset,
    )
    return OrderPage(
        items=[OrderRead.model_validate(o) for o in rows],
        total=total,
        next=next_url(request, page, total),
    )


@router.get("/sales-orders/{order_id}", response_model=OrderRead)
async def get_order(order_id: PathId, _: CurrentPrincipal, session: SessionDep) -> OrderRead:
    return OrderRead.model_validate(await sales_service.get_order(session, order_id))


@router.post("/sales-orders/{order_id}/lines", response_model=OrderRead, status_code=201)
async def add_line(order_id: PathId, body: LineAdd, _: Operator, session: SessionDep) -> OrderRead:
    line = sales_service.LineRequest(**body.model_dump(exclude={"version"}))
    order = await sales_service.add_line(
        session, order_id=order_id, line=line, version=body.version
    )
    return OrderRead.model_validate(order)


@router.patch("/sales-orders/{order_id}/lines/{line_id}", response_model=OrderRead)
async def update_line(
    order_id: PathId, line_id: PathId, body: LinePatch, _: Operator, session: SessionDep
) -> OrderRead:
    """Change a draft line's quantity or price; a confirmed order answers 409 invalid_status."""
    order = await sales_service.update_line(
        session,
        order_id=order_id,
        line_id=line_id,
        version=body.version,
        qty=body.qty,
        unit_price=body.unit_price,
    )
    return OrderRead.model_validate(order)


@router.delete("/sales-orders/{order_id}/lines/{line_id}", response_model=OrderRead)
async def remove_line(
    order_id: PathId,
    line_id: PathId,
    _: Operator,
    session: SessionDep,
    body: LineRemove | None = None,
) -> OrderRead:
    """Remove a draft line; a confirmed order answers 409 invalid_status."""
    order = await sales_service.remove_line(
        session, order_id=order_id, line_id=line_id, version=body.version if body else None
    )
    return OrderRead.model_validate(order)


_EMPTY = Body(default=None)


@router.post("/sales-orders/{order_id}/confirm", response_model=OrderRead)
async def confirm(
    order_id: PathId, _: Operator, session: SessionDep, body: Transition | None = _EMPTY
) -> OrderRead:
    body = body or Transition()
    order = await sales_service.confirm(
        session, order_id=order_id, version=body.version, allow_backorder=body.allow_backorder
    )
    return OrderRead.model_validate(order)


@router.post("/sales-orders/{order_id}/hold", response_model=OrderRead)
async def hold(
    order_id: PathId, _: Operator, session: SessionDep, body: HoldRequest | None = _EMPTY
) -> OrderRead:
    """Hold the order: it cannot ship until confirmed again. Reservations are kept unless
    `release_reservations` is true."""
    body = body or HoldRequest()
    order = await sales_service.hold(
        session,
        order_id=order_id,
        version=body.version,
        reason=body.reason,
        release_reservations=body.release_reservations,
    )
    return OrderRead.model_validate(order)


# The ship route runs one use case that claims the Idempotency-Key in its own transaction.
idempotency.claimed_in_use_case(r"/api/v1/sales-orders/[0-9]+/ship")


@router.post("/sales-orders/{order_id}/ship", response_model=OrderRead)
async def ship(
    order_id: PathId, _: Operator, session: SessionDep, body: ShipRequest | None = _EMPTY
) -> OrderRead:
    body = body or ShipRequest()
    quantities: dict[int, int] | None = None
    if body.lines:
        quantities = {}
        for line in body.lines:
            quantities[line.line_id] = quantities.get(line.line_id, 0) + line.qty
    order = await sales_service.ship(
        session,
        order_id=order_id,
        quantities=quantities,
        version=body.version,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
    )
    return OrderRead.model_validate(order)


@router.get("/sales-orders/{order_id}/shipments", response_model=ShipmentList)
async def shipments(order_id: PathId, _: CurrentPrincipal, session: SessionDep) -> ShipmentList:
    """Every shipment of the order (lines, carrier, tracking number, when), oldest first."""
    rows = await sales_service.list_shipments(session, order_id=order_id)
    return ShipmentList(items=[ShipmentRead.model_validate(s) for s in rows], total=len(rows))


@router.get("/sales-orders/{order_id}/refunded-lines", response_model=RefundedLinePage)
async def refunded_lines(
    order_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> RefundedLinePage:
    """What the web store refunded of this order, line by line."""
    rows = await sales_service.refunded_lines(session, order_id=order_id)
    return RefundedLinePage(
        items=[RefundedLineRead.model_validate(r) for r in rows], total=len(rows), next=None
    )


@router.get("/sales/refunds-to-return", response_model=RefundedLinePage)
async def refunds_to_return(
    request: Request, _: CurrentPrincipal, session: SessionDep, page: PageDep
) -> RefundedLinePage:
    """Refunded web order lines whose units had shipped (the returns desk's worklist)."""
    rows, total = await sales_service.refunds_to_return(
        session, limit=page.limit, offset=page.offset
    )
    return RefundedLinePage(
        items=[RefundedLineRead.model_validate(r) for r in rows],
        total=total,
        next=next_url(request, page, total),
    )


@router.post("/sales-orders/{order_id}/cancel", response_model=OrderRead)
async def cancel(
    order_id: PathId, _: Operator, session: SessionDep, body: Transition | None = _EMPTY
) -> OrderRead:
    body = body or Transition()
    order = await sales_service.cancel(
        session, order_id=order_id, version=body.version, reason=body.reason
    )
    return OrderRead.model_validate(order)


@router.get("/availability", response_model=Availability)
async def availability(
    _: CurrentPrincipal,
    session: SessionDep,
    warehouse_id: RequiredQueryId,
    part_id: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_ID)]], Query(min_length=1, max_length=200)
    ],
) -> Availability:
    """On hand in storage, reserved by sales orders, and available (= on hand - reserved);
    `on_order`: units on placed purchase orders not yet received."""
    held = await sales_service.on_hand(session, part_ids=part_id, warehouse_id=warehouse_id)
    taken = await sales_service.reserved(session, part_ids=part_id, warehouse_id=warehouse_id)
    coming = await purchasing_queries.on_order(session, part_ids=part_id, warehouse_id=warehouse_id)
    return Availability(
        warehouse_id=warehouse_id,
        items=[
            {
                "part_id": pid,
                "on_hand": held[pid],
                "reserved": taken[pid],
                "available": held[pid] - taken[pid],
                "on_order": coming[pid],
            }
            for pid in sorted(held)
        ],
    )
