"""Sales use cases: each public coroutine is one transaction (see kosh.sales.orders for the
rules of every transition) plus the read-only lookups pages, the API and other features use.

`available()` is the function other features call to show availability (on hand - reserved).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from kosh.catalog import service as catalog_service
from kosh.core.db import idempotent_transaction, transactional
from kosh.core.errors import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    field_error,
)
from kosh.core.pagination import sort_terms
from kosh.locations import service as location_service
from kosh.sales import customers as customer_ops
from kosh.sales import order_lines, reservations
from kosh.sales import orders as order_ops
from kosh.sales import refunds as refund_ops
from kosh.sales import shipments as shipment_ops
from kosh.sales import shipping as shipping_ops
from kosh.sales.models import (
    Customer,
    RefundedLine,
    SalesOrder,
    SalesOrderLine,
    Shipment,
    StockReservation,
)

__all__ = [
    "LineRequest",
    "add_replacement_order",
    "available",
    "cancel",
    "confirm",
    "create_customer",
    "create_order",
    "hold",
    "list_orders",
    "ship",
    "totals",
]


@dataclass(frozen=True)
class LineRequest:
    part_number: str
    qty: int
    unit_price: Decimal | None = None
    description: str = ""


# --- reads ----------------------------------------------------------------------------


async def available(
    session: AsyncSession, *, part_ids: Collection[int], warehouse_id: int
) -> dict[int, int]:
    """Availability per part in a warehouse = on hand in storage - reserved."""
    return await reservations.available(session, part_ids=part_ids, warehouse_id=warehouse_id)


async def on_hand(
    session: AsyncSession, *, part_ids: Collection[int], warehouse_id: int
) -> dict[int, int]:
    """Units in storage locations of the warehouse, per part."""
    return await reservations.on_hand(session, part_ids=part_ids, warehouse_id=warehouse_id)


async def totals(session: AsyncSession, *, part_ids: Collection[int]) -> dict[int, tuple[int, int]]:
    """(on hand, available) per part over every active warehouse: the per-warehouse
    definitions of `on_hand` and `available` above, added up (stock in inactive warehouses
    and in quarantine, receiving or on the floor is in neither)."""
    found = dict.fromkeys(part_ids, (0, 0))
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=10_000)
    for warehouse in warehouses if found else []:
        held = await reservations.on_hand(session, part_ids=found, warehouse_id=warehouse.id)
        free = await reservations.available(session, part_ids=found, warehouse_id=warehouse.id)
        for part_id, (on_hand_so_far, available_so_far) in found.items():
            found[part_id] = (on_hand_so_far + held[part_id], available_so_far + free[part_id])
    return found


async def reserved(
    session: AsyncSession, *, part_ids: Collection[int], warehouse_id: int
) -> dict[int, int]:
    """Units reserved by sales orders ("quantity on sales order") per part."""
    return await reservations.reserved(session, part_ids=part_ids, warehouse_id=warehouse_id)


async def get_order(session: AsyncSession, order_id: int) -> SalesOrder:
    return await order_ops.load_order(session, order_id)


ORDER_SORTS = ("number", "customer", "status", "web", "created")


def _order_sorts() -> dict[str, Any]:
    customer = select(Customer.name).where(Customer.id == SalesOrder.customer_id)
    return {
        "number": SalesOrder.number,
        "customer": customer.scalar_subquery(),
        "status": SalesOrder.status,
        "web": SalesOrder.external_id,
        "created": SalesOrder.created_at,
    }


async def list_orders(
    session: AsyncSession,
    *,
    status: str | None = None,
    external_id: str | None = None,
    external_store: str | None = None,
    customer_id: int | None = None,
    sort: str = "created",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[SalesOrder], int]:
    """Orders with their lines, newest first (or by another of ORDER_SORTS over the whole
    list, the newest first among equals)."""
    query = select(SalesOrder)
    if status:
        query = query.where(SalesOrder.status == status)
    if external_id:
        query = query.where(SalesOrder.external_id == external_id)
    if external_store:
        query = query.where(SalesOrder.external_store == external_store)
    if customer_id is not None:
        query = query.where(SalesOrder.customer_id == customer_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.options(selectinload(SalesOrder.lines))
        .order_by(
            *sort_terms(
                _order_sorts()[sort], descending=descending, tiebreak=[SalesOrder.id.desc()]
            )
        )
        .limit(limit)
        .offset(offset)
    )
    return list(rows), int(total or 0)


async def list_shipments(session: AsyncSession, *, order_id: int) -> list[Shipment]:
    """The order's shipments (404 sales_order_not_found for no order), oldest first."""
    await order_ops.load_order(session, order_id)
    return await shipment_ops.list_for_order(session, order_id)


async def get_shipment(
    session: AsyncSession, *, order_id: int, shipment_id: int
) -> tuple[SalesOrder, Shipment]:
    """A shipment of the order with the order (404 shipment_not_found otherwise)."""
    order = await order_ops.load_order(session, order_id)
    shipment = await shipment_ops.get_or_raise(session, shipment_id)
    if shipment.order_id != order.id:
        raise NotFoundError(
            f"Shipment {shipment_id} is not on sales order {order.number}.",
            code="shipment_not_found",
        )
    return order, shipment


async def shipment_notice(
    session: AsyncSession, shipment_id: int
) -> shipment_ops.ShipmentNotice | None:
    """What the order's origin (a web store) hears of a shipment."""
    return await shipment_ops.notice(session, shipment_id)


async def refunded_lines(session: AsyncSession, *, order_id: int) -> list[RefundedLine]:
    """What the store refunded of a web order (404 sales_order_not_found for no order)."""
    await order_ops.load_order(session, order_id)
    return await refund_ops.list_for_order(session, order_id)


async def refunded_lines_by_ids(session: AsyncSession, ids: Collection[int]) -> list[RefundedLine]:
    """Refunded web order lines by id, in id order (for kosh.quality's proposed returns)."""
    return await refund_ops.list_by_ids(session, ids)


async def refunds_to_return(
    session: AsyncSession, *, limit: int = 50, offset: int = 0
) -> tuple[list[RefundedLine], int]:
    """Refunded lines whose units had shipped: the returns desk's worklist, newest first."""
    return await refund_ops.list_to_return(session, limit=limit, offset=offset)


async def list_customers(
    session: AsyncSession, *, q: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Customer], int]:
    return await customer_ops.list_customers(session, q=q, limit=limit, offset=offset)


async def get_customer(session: AsyncSession, customer_id: int) -> Customer:
    return await customer_ops.get_customer_or_raise(session, customer_id)


async def open_demand(
    session: AsyncSession, *, part_ids: Collection[int], warehouse_id: int
) -> dict[int, int]:
    """Units ordered and not yet shipped on open orders, per part (reserved or not)."""
    wanted = sorted(set(part_ids))
    if not wanted:
        return {}
    rows = await session.execute(
        select(
            SalesOrderLine.part_id,
            func.sum(
                SalesOrderLine.qty - SalesOrderLine.qty_shipped - SalesOrderLine.qty_cancelled
            ),
        )
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
        .where(
            func.coalesce(SalesOrderLine.warehouse_id, SalesOrder.warehouse_id) == warehouse_id,
            SalesOrder.status.in_(order_ops.OPEN_STATUSES),
            SalesOrderLine.part_id.in_(wanted),
        )
        .group_by(SalesOrderLine.part_id)
    )
    found = dict.fromkeys(wanted, 0)
    found.update({part_id: int(qty or 0) for part_id, qty in rows})
    return found


async def reservation_drift(session: AsyncSession) -> list[dict[str, Any]]:
    """(part, warehouse) pairs whose aggregate differs from the sum of the open lines'
    reservations. Must be empty; reported by /health/detailed."""
    lines = (
        select(
            SalesOrderLine.part_id.label("part_id"),
            func.coalesce(SalesOrderLine.warehouse_id, SalesOrder.warehouse_id).label(
                "warehouse_id"
            ),
            func.sum(SalesOrderLine.qty_reserved).label("qty"),
        )
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.order_id)
        .group_by(
            SalesOrderLine.part_id,
            func.coalesce(SalesOrderLine.warehouse_id, SalesOrder.warehouse_id),
        )
        .subquery()
    )
    rows = await session.execute(
        select(
            StockReservation.part_id,
            StockReservation.warehouse_id,
            StockReservation.qty_reserved,
            func.coalesce(lines.c.qty, 0),
        )
        .outerjoin(
            lines,
            (lines.c.part_id == StockReservation.part_id)
            & (lines.c.warehouse_id == StockReservation.warehouse_id),
        )
        .where(StockReservation.qty_reserved != func.coalesce(lines.c.qty, 0))
    )
    return [
        {"part_id": p, "warehouse_id": w, "aggregate": int(a), "lines": int(n)}
        for p, w, a, n in rows
    ]


# --- writes ---------------------------------------------------------------------------


@transactional
async def create_customer(
    session: AsyncSession,
    *,
    name: str,
    email: str | None = None,
    phone: str | None = None,
    company: str | None = None,
    billing_address: dict[str, Any] | None = None,
    shipping_address: dict[str, Any] | None = None,
    notes: str = "",
) -> Customer:
    """Create a customer. Rule: one customer per e-mail address (409 customer_email_taken)."""
    return await customer_ops.add_customer(
        session,
        name=name,
        email=email,
        phone=phone,
        company=company,
        billing_address=billing_address,
        shipping_address=shipping_address,
        notes=notes,
    )


async def _resolve_lines(
    session: AsyncSession, lines: Sequence[LineRequest]
) -> list[order_lines.NewLine]:
    parts = await catalog_service.parts_by_numbers(session, [line.part_number for line in lines])
    resolved: list[order_lines.NewLine] = []
    errors = []
    for index, line in enumerate(lines):
        part = parts.get(line.part_number.strip())
        if part is None:
            errors.append(field_error(["lines", index, "part_number"], "no such part"))
            continue
        if not part.active:
            errors.append(field_error(["lines", index, "part_number"], "part is inactive"))
            continue
        # The list price, not the cost: selling at cost is never a sensible default.
        price = line.unit_price if line.unit_price is not None else part.list_price
        if price is None:
            errors.append(
                field_error(["lines", index, "unit_price"], "required (the part has no price)")
            )
            continue
        resolved.append(
            order_lines.NewLine(
                part_id=part.id,
                qty=line.qty,
                unit_price=Decimal(price),
                description=line.description or part.description,
            )
        )
    if errors:
        raise ValidationError("Some lines cannot be ordered; see errors.", errors=errors)
    return resolved


@transactional
async def create_order(
    session: AsyncSession,
    *,
    customer_id: int,
    warehouse_id: int,
    lines: Sequence[LineRequest] = (),
    currency: str | None = None,
    notes: str = "",
    backorder: bool = False,
    confirm: bool = False,
) -> SalesOrder:
    """Create a manual order as a draft (or confirmed and reserved with `confirm`). Rules:
    the customer (404) and warehouse (404, active 422) exist; every part exists and is
    active (422 with one error per line); a line without a price takes the part's list
    price (422 when it has none); with `confirm`, as in `confirm`."""
    customer = await customer_ops.get_customer_or_raise(session, customer_id)
    warehouse = await location_service.get_warehouse_or_raise(session, warehouse_id)
    if not warehouse.active:
        raise RuleViolationError(
            f"Warehouse {warehouse.code} is inactive.",
            code="warehouse_inactive",
            errors=[field_error(["warehouse_id"], "is inactive")],
        )
    new_lines = await _resolve_lines(session, lines)
    order = await order_ops.add_order(
        session,
        customer_id=customer.id,
        warehouse_id=warehouse_id,
        lines=new_lines,
        currency=currency,
        notes=notes,
        backorder=backorder,
    )
    if confirm:
        await order_ops.confirm_order(session, order)
    return order


@transactional
async def add_line(
    session: AsyncSession, *, order_id: int, line: LineRequest, version: int | None = None
) -> SalesOrder:
    """Add a line to a draft order (409 invalid_status otherwise)."""
    order = await order_ops.load_order(session, order_id, for_update=True)
    order_ops.check_version(order, version)
    [new_line] = await _resolve_lines(session, [line])
    await order_lines.add_line(session, order, new_line)
    return order


@transactional
async def update_line(
    session: AsyncSession,
    *,
    order_id: int,
    line_id: int,
    version: int | None = None,
    qty: int | None = None,
    unit_price: Decimal | None = None,
) -> SalesOrder:
    """Change a draft line's quantity or price: 409 invalid_status once confirmed, 409
    stale_version, 404 for an unknown order or line."""
    order = await order_ops.load_order(session, order_id, for_update=True)
    order_ops.check_version(order, version)
    await order_lines.update_line(session, order, line_id=line_id, qty=qty, unit_price=unit_price)
    return await _flushed(session, order)


@transactional
async def remove_line(
    session: AsyncSession, *, order_id: int, line_id: int, version: int | None = None
) -> SalesOrder:
    """Remove a draft line: 409 invalid_status once confirmed, 409 stale_version, 404."""
    order = await order_ops.load_order(session, order_id, for_update=True)
    order_ops.check_version(order, version)
    await order_lines.remove_line(session, order, line_id=line_id)
    return await _flushed(session, order)


async def _transition(session: AsyncSession, order_id: int, version: int | None) -> SalesOrder:
    order = await order_ops.load_order(session, order_id, for_update=True)
    order_ops.check_version(order, version)
    return order


@transactional
async def confirm(
    session: AsyncSession,
    *,
    order_id: int,
    version: int | None = None,
    allow_backorder: bool | None = None,
) -> SalesOrder:
    """Confirm and reserve: reserved never exceeds on hand; a shortage is 409
    insufficient_stock listing every short part, unless backorders are allowed."""
    order = await _transition(session, order_id, version)
    await order_ops.confirm_order(session, order, allow_short=allow_backorder)
    return await _flushed(session, order)


@transactional
async def hold(
    session: AsyncSession,
    *,
    order_id: int,
    version: int | None = None,
    reason: str = "",
    release_reservations: bool = False,
) -> SalesOrder:
    """Put an order on hold: shipping is refused (409 invalid_status) until it is confirmed
    again. Its reservations are kept, unless `release_reservations` frees them (confirming
    then reserves again, 409 insufficient_stock when the stock went meanwhile)."""
    order = await _transition(session, order_id, version)
    await order_ops.hold_order(session, order, reason=reason, release=release_reservations)
    return await _flushed(session, order)


@idempotent_transaction
async def ship(
    session: AsyncSession,
    *,
    order_id: int,
    quantities: Mapping[int, int] | None = None,
    version: int | None = None,
    carrier: str | None = None,
    tracking_number: str | None = None,
) -> SalesOrder:
    """Ship (partially or everything open): FIFO from storage, out through the shipping
    location, recorded as one shipment with its carrier and tracking number; 409
    insufficient_stock when the stock is not there, 422 for bad lines. A web order's store
    hears of it through the SALES_SHIPPED subscribers (in this transaction)."""
    order = await _transition(session, order_id, version)
    await shipping_ops.ship_order(
        session, order, quantities=quantities, carrier=carrier, tracking_number=tracking_number
    )
    return await _flushed(session, order)


@transactional
async def cancel(
    session: AsyncSession, *, order_id: int, version: int | None = None, reason: str = ""
) -> SalesOrder:
    """Cancel an open order, releasing its reservations (409 when already shipped)."""
    order = await _transition(session, order_id, version)
    await order_ops.cancel_order(session, order, reason=reason)
    return await _flushed(session, order)


async def _flushed(session: AsyncSession, order: SalesOrder) -> SalesOrder:
    try:
        await session.flush()
    except StaleDataError as exc:
        raise ConflictError(
            f"Sales order {order.number} was changed meanwhile; reload and try again.",
            code="stale_version",
        ) from exc
    except IntegrityError as exc:  # pragma: no cover - guarded by the rules above
        raise ConflictError("The order could not be saved; try again.") from exc
    return order


async def add_replacement_order(
    session: AsyncSession,
    *,
    customer_id: int,
    warehouse_id: int,
    lines: Sequence[LineRequest],
    notes: str = "",
) -> SalesOrder:
    """A draft order at zero price, inside the caller's transaction (a quality
    replacement ticket makes it from its own use case; it is confirmed, reserved and
    shipped as usual). Rules: the customer (404) and warehouse (404) exist; every part
    exists and is active (422 per line)."""
    customer = await customer_ops.get_customer_or_raise(session, customer_id)
    warehouse = await location_service.get_warehouse_or_raise(session, warehouse_id)
    free = [
        LineRequest(part_number=line.part_number, qty=line.qty, unit_price=Decimal(0))
        for line in lines
    ]
    return await order_ops.add_order(
        session,
        customer_id=customer.id,
        warehouse_id=warehouse.id,
        lines=await _resolve_lines(session, free),
        notes=notes,
    )
