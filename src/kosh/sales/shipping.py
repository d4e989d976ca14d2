"""Shipping a sales order: FIFO out of storage, through the warehouse's shipping location and
out of the building, releasing the reservation of what shipped. Joins the caller's
transaction (it never commits); `kosh.sales.service.ship` is the use case.

Locks, per warehouse a line draws on (id order): its reservation rows in part-id order, then
the lots FIFO takes (the stock primitives' order). Records one shipment and notes
`events.SALES_SHIPPED`, so whoever the order came from hears of it (a web store's outbox).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit, events
from kosh.core.db import utcnow
from kosh.core.errors import RuleViolationError, field_error
from kosh.locations import service as location_service
from kosh.sales import orders as order_ops
from kosh.sales import reservations, shipments
from kosh.sales.models import SalesOrder, SalesOrderLine
from kosh.stock import fifo as stock_fifo
from kosh.stock import movements as stock_movements
from kosh.stock.errors import InsufficientStockError

SHIP_LOCATION_CODE = "SHIP"


@dataclass(frozen=True)
class ShippedLine:
    line_id: int
    part_id: int
    qty: int
    lots: list[dict[str, int]]


async def ship_order(
    session: AsyncSession,
    order: SalesOrder,
    *,
    quantities: Mapping[int, int] | None = None,
    carrier: str | None = None,
    tracking_number: str | None = None,
) -> list[ShippedLine]:
    """Ship lines FIFO from storage to the warehouse's shipping location and out of the
    building (ledger rows of kind 'ship'), releasing the reservation for what shipped.

    `quantities` maps line id -> units; None ships everything still open. A line may ship
    more than it has reserved only from stock nobody else has reserved (409 otherwise).
    Records one shipment (with `carrier` and `tracking_number`) and notes SALES_SHIPPED.
    """
    if order.status not in order_ops.SHIPPABLE_STATUSES:
        raise order_ops.refusal(order, "shipped")
    by_id = {line.id: line for line in order.lines}
    wanted = _shipment(order, by_id, quantities)
    ship_to: dict[int, int] = {}
    # Per warehouse the line draws on (id order), its reservation rows in part-id order.
    for warehouse_id in sorted({order_ops.warehouse_of(order, by_id[lid]) for lid in wanted}):
        here = {
            lid: q
            for lid, q in wanted.items()
            if order_ops.warehouse_of(order, by_id[lid]) == warehouse_id
        }
        await _check_free_to_ship(session, order, by_id, here, warehouse_id)
        ship_to[warehouse_id] = await _ship_location(session, warehouse_id)
    shipped: list[ShippedLine] = []
    for line_id in sorted(
        wanted, key=lambda lid: (order_ops.warehouse_of(order, by_id[lid]), by_id[lid].part_id, lid)
    ):
        line, qty = by_id[line_id], wanted[line_id]
        warehouse_id = order_ops.warehouse_of(order, line)
        release = min(qty, line.qty_reserved)
        await reservations.remove(
            session, part_id=line.part_id, warehouse_id=warehouse_id, qty=release
        )
        line.qty_reserved -= release
        moved = await stock_fifo.take_fifo(
            session,
            part_id=line.part_id,
            warehouse_id=warehouse_id,
            qty=qty,
            to_location_id=ship_to[warehouse_id],
            kind="ship",
            reference=order.number,
        )
        lots = []
        for piece in moved:
            await stock_movements.move(
                session,
                lot_id=piece.lot_id,
                from_location_id=ship_to[warehouse_id],
                to_location_id=None,
                qty=piece.qty,
                kind="ship",
                reference=order.number,
            )
            lots.append({"lot_id": piece.lot_id, "qty": piece.qty})
        line.qty_shipped += qty
        shipped.append(ShippedLine(line_id=line.id, part_id=line.part_id, qty=qty, lots=lots))
    before = order.status
    done = all(line.qty_open == 0 for line in order.lines)
    order.status = "shipped" if done else "partially_shipped"
    if done:
        order.shipped_at = utcnow()
    order.updated_at = utcnow()
    await session.flush()
    shipment = await shipments.record(
        session,
        order,
        shipped=[shipments.ShippedUnits(s.line_id, s.part_id, s.qty) for s in shipped],
        carrier=carrier,
        tracking_number=tracking_number,
    )
    await audit.record(
        session,
        action="sales_order.ship",
        entity_type="sales_order",
        entity_id=order.id,
        before={"status": before},
        after={
            "status": order.status,
            "shipment": shipment.number,
            "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number,
            "shipped": [{"line_id": s.line_id, "qty": s.qty, "lots": s.lots} for s in shipped],
        },
    )
    # Whoever the order came from hears of it (a web store through its outbox).
    events.note(session, events.SALES_SHIPPED, [shipment.id])
    return shipped


async def _check_free_to_ship(
    session: AsyncSession,
    order: SalesOrder,
    by_id: dict[int, SalesOrderLine],
    wanted: Mapping[int, int],
    warehouse_id: int,
) -> None:
    """Lock the warehouse's reservation rows of the parts; units beyond a line's own
    reservation must come out of what is free there (409 insufficient_stock)."""
    parts = {by_id[line_id].part_id for line_id in wanted}
    held = await reservations.lock(session, part_ids=parts, warehouse_id=warehouse_id)
    stock = await reservations.on_hand(session, part_ids=parts, warehouse_id=warehouse_id)
    extra: dict[int, int] = defaultdict(int)
    for line_id, qty in wanted.items():
        line = by_id[line_id]
        extra[line.part_id] += max(0, qty - line.qty_reserved)
    for part_id, qty in extra.items():
        free = stock[part_id] - held.get(part_id, 0)
        if qty > max(0, free):
            raise InsufficientStockError(
                f"Not enough free stock to ship sales order {order.number}.",
                available=max(0, free),
                requested=qty,
                extra={"part_id": part_id},
            )


def _shipment(
    order: SalesOrder, by_id: dict[int, SalesOrderLine], quantities: Mapping[int, int] | None
) -> dict[int, int]:
    if quantities is None:
        wanted = {line.id: line.qty_open for line in order.lines if line.qty_open > 0}
    else:
        wanted = {}
        for index, (line_id, qty) in enumerate(quantities.items()):
            line = by_id.get(line_id)
            if line is None:
                raise RuleViolationError(
                    f"Line {line_id} is not on sales order {order.number}.",
                    code="line_not_on_order",
                    errors=[field_error(["lines", index, "line_id"], "not on this order")],
                )
            if qty > line.qty_open:
                raise RuleViolationError(
                    f"Line {line.line_no} has only {line.qty_open} left to ship.",
                    code="over_shipment",
                    errors=[field_error(["lines", index, "qty"], f"at most {line.qty_open}")],
                    details={"line_id": line_id, "open": line.qty_open},
                )
            wanted[line_id] = qty
    if not wanted:
        raise RuleViolationError(
            f"Sales order {order.number} has nothing left to ship.", code="nothing_to_ship"
        )
    return wanted


async def _ship_location(session: AsyncSession, warehouse_id: int) -> int:
    location = await location_service.location_of_kind(session, warehouse_id, "shipping")
    if location is None:
        location = await location_service.ensure_location(
            session, warehouse_id, SHIP_LOCATION_CODE, "shipping"
        )
    return location.id
