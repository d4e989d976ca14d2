"""Purchasing use cases. Each public coroutine is one transaction (`@transactional`): it
checks its rules through `suppliers`, `orders`, `receiving` and `reorder` (helpers that
never commit), records audit events and commits once; if it raises, nothing changed.

Placing, cancelling, closing short, receiving and reversing note `ON_ORDER_CHANGED` for
their parts (docs/adr/0002): the alerts subscriber re-checks job shortages, which quote
what is on order by the due date, in the same transaction (a failing subscriber rolls the
use case back).
Roles are checked by the routes: operators create and receive, managers allow an
over-receipt and reverse receipts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.core import events
from kosh.core.db import transactional, utcnow
from kosh.core.errors import RuleViolationError, field_error
from kosh.locations import service as location_service
from kosh.purchasing import metrics, orders, receiving, reorder, suppliers
from kosh.purchasing.models import (
    PurchaseOrder,
    PurchaseReceipt,
    ReorderRule,
    Supplier,
    SupplierPart,
)
from kosh.purchasing.receiving import Bag, Booked
from kosh.purchasing.schemas import (
    OrderLineIn,
    PriceBreak,
    SupplierCreate,
    SupplierPartCreate,
    SupplierPartUpdate,
    SupplierUpdate,
)
from kosh.purchasing.suppliers import get_supplier_by_code_or_raise

log = structlog.get_logger(__name__)

DEFAULT_PREFIX = "PO-"


# --- suppliers ------------------------------------------------------------------------


@transactional
async def create_supplier(session: AsyncSession, *, data: SupplierCreate) -> Supplier:
    """Create a supplier. Rule: the code is unique (409 supplier_code_taken)."""
    return await suppliers.add_supplier(session, **data.model_dump())


@transactional
async def update_supplier(
    session: AsyncSession, supplier_id: int, *, data: SupplierUpdate
) -> Supplier:
    """Change a supplier or deactivate it. Rules: 404 supplier_not_found; the version must
    be the one read (409 stale_version)."""
    supplier = await suppliers.get_supplier_or_raise(session, supplier_id)
    return await suppliers.change_supplier(
        session, supplier, version=data.version, changes=data.changes()
    )


@transactional
async def create_supplier_part(session: AsyncSession, *, data: SupplierPartCreate) -> SupplierPart:
    """Add a supplier's offer of a part. Rules: the supplier (404 supplier_not_found) and
    the part (404 part_not_found) exist; the SKU is new for the supplier (409
    supplier_sku_taken); `preferred` unmarks the part's other preferred offer."""
    supplier = await suppliers.get_supplier_by_code_or_raise(session, data.supplier_code)
    part = await part_service.get_part_by_number_or_raise(session, data.part_number)
    fields = data.model_dump(exclude={"supplier_code", "part_number", "sku", "prices"})
    return await suppliers.add_offer(
        session, supplier=supplier, part=part, sku=data.sku, prices=data.prices, **fields
    )


@transactional
async def update_supplier_part(
    session: AsyncSession, supplier_part_id: int, *, data: SupplierPartUpdate
) -> SupplierPart:
    """Change an offer (prices replace the old breaks). Rules: 404
    supplier_part_not_found; 409 stale_version."""
    offer = await suppliers.load_offer(session, supplier_part_id)
    return await suppliers.change_offer(
        session, offer.supplier_part, version=data.version, changes=data.changes()
    )


@transactional
async def import_supplier_parts(
    session: AsyncSession, *, rows: Sequence[SupplierPartCreate]
) -> tuple[int, int]:
    """Create or update supplier parts from an import, all rows or none. A row whose
    (supplier, SKU) exists updates that offer (its prices replaced when given); unknown
    suppliers or parts are 404 naming the row. Answers (created, updated)."""
    created = updated = 0
    for data in rows:
        supplier = await suppliers.get_supplier_by_code_or_raise(session, data.supplier_code)
        part = await part_service.get_part_by_number_or_raise(session, data.part_number)
        existing = await suppliers.find_offer(session, supplier_id=supplier.id, sku=data.sku)
        fields = data.model_dump(exclude={"supplier_code", "part_number", "sku", "prices"})
        if existing is None:
            await suppliers.add_offer(
                session, supplier=supplier, part=part, sku=data.sku, prices=data.prices, **fields
            )
            created += 1
            continue
        changes: dict[str, Any] = dict(fields)
        if data.prices:
            changes["prices"] = [p.model_dump() for p in data.prices]
        await suppliers.change_offer(session, existing, version=existing.version, changes=changes)
        updated += 1
    return created, updated


# --- purchase orders ------------------------------------------------------------------


@transactional
async def create_order(
    session: AsyncSession,
    *,
    supplier_code: str,
    warehouse_id: int,
    lines: Sequence[OrderLineIn] = (),
    currency: str | None = None,
    expected_date: date | None = None,
    notes: str = "",
    prefix: str = DEFAULT_PREFIX,
) -> PurchaseOrder:
    """Create a draft purchase order numbered <prefix><id:06d>.

    Rules: the supplier exists (404 supplier_not_found) and is active (422
    supplier_inactive); the currency, when given, is the supplier's (422
    currency_mismatch); the warehouse exists (404) and is active (422 warehouse_inactive);
    every line resolves (see `orders.resolve_lines`: 404 supplier_part_not_found /
    part_not_found, 422 no_supplier_part / not_whole_packs / price_unknown).
    """
    supplier = await suppliers.get_supplier_by_code_or_raise(session, supplier_code)
    suppliers.require_active(supplier)
    if currency is not None and currency != supplier.currency:
        raise RuleViolationError(
            f"Supplier {supplier.code} invoices in {supplier.currency}, not {currency}.",
            code="currency_mismatch",
            errors=[field_error(["currency"], f"must be {supplier.currency}")],
        )
    await _active_warehouse(session, warehouse_id)
    resolved = await orders.resolve_lines(session, supplier, lines)
    order = await orders.add_order(
        session,
        supplier=supplier,
        warehouse_id=warehouse_id,
        lines=resolved,
        prefix=prefix,
        expected_date=expected_date,
        notes=notes,
    )
    metrics.ORDERS.labels(action="create").inc()
    return order


async def _active_warehouse(session: AsyncSession, warehouse_id: int) -> None:
    warehouse = await location_service.get_warehouse_or_raise(session, warehouse_id)
    if not warehouse.active:
        raise RuleViolationError(
            f"Warehouse {warehouse.code} is inactive.",
            code="warehouse_inactive",
            errors=[field_error(["warehouse_id"], "is inactive")],
        )


@transactional
async def update_order(
    session: AsyncSession,
    order_id: int,
    *,
    version: int,
    changes: dict[str, Any],
    lines: Sequence[OrderLineIn] | None = None,
) -> PurchaseOrder:
    """Change notes / expected date of an open order, and the lines of a draft. Rules:
    404; 409 stale_version; 409 invalid_transition for a finished order; 422 lines_locked
    for lines of a placed order; lines resolve as on creation."""
    order = await orders.load_order(session, order_id, lock=True)
    orders.check_version(order, version)
    resolved = None
    if lines is not None:
        supplier = await suppliers.get_supplier_or_raise(session, order.supplier_id)
        resolved = await orders.resolve_lines(session, supplier, lines)
    return await orders.edit_order(session, order, changes=changes, lines=resolved)


@transactional
async def add_lines(
    session: AsyncSession, order_id: int, *, version: int | None, lines: Sequence[OrderLineIn]
) -> PurchaseOrder:
    """Add lines to a draft. Rules: 404; 409 stale_version; 422 lines_locked unless a
    draft; lines resolve as on creation."""
    order = await orders.load_order(session, order_id, lock=True)
    orders.check_version(order, version)
    supplier = await suppliers.get_supplier_or_raise(session, order.supplier_id)
    resolved = await orders.resolve_lines(session, supplier, lines)
    return await orders.append_lines(session, order, resolved)


async def _transition(
    session: AsyncSession, order_id: int, to: str, version: int | None, reason: str
) -> PurchaseOrder:
    order = await orders.load_order(session, order_id, lock=True)
    orders.check_version(order, version)
    order = await orders.transition(session, order, to=to, reason=reason)
    events.note(session, events.ON_ORDER_CHANGED, {line.part_id for line in order.lines})
    metrics.ORDERS.labels(action=to).inc()
    log.info("purchase_order_transition", number=order.number, status=to)
    return order


@transactional
async def place(
    session: AsyncSession, *, order_id: int, version: int | None = None, reason: str = ""
) -> PurchaseOrder:
    """draft -> placed; its lines then count as on order. Rules: 404; 409 stale_version;
    409 invalid_transition unless a draft; 422 no_lines; 422 supplier_inactive."""
    return await _transition(session, order_id, "placed", version, reason)


@transactional
async def cancel(
    session: AsyncSession, *, order_id: int, version: int | None = None, reason: str = ""
) -> PurchaseOrder:
    """draft or placed (nothing received) -> cancelled. Rules: 404; 409 stale_version;
    409 invalid_transition otherwise (a partly received order is closed short)."""
    return await _transition(session, order_id, "cancelled", version, reason)


@transactional
async def close_short(
    session: AsyncSession, *, order_id: int, version: int | None = None, reason: str = ""
) -> PurchaseOrder:
    """partially received -> closed short: the rest is no longer expected (not on order).
    Rules: 404; 409 stale_version; 409 invalid_transition otherwise."""
    return await _transition(session, order_id, "closed_short", version, reason)


# --- receiving ------------------------------------------------------------------------


@transactional
async def receive(
    session: AsyncSession,
    *,
    order_id: int,
    location_id: int,
    bags: Sequence[Bag],
    tolerance: Decimal = Decimal(0),
    allow_over_receipt: bool = False,
) -> tuple[PurchaseOrder, list[Booked]]:
    """Receive bags against a placed order, all or none: a new PCN per bag with the
    label's date code, a `receive` ledger row referencing the PO, the line's received
    qty, the order's status and the part's last purchase cost. Errors: see
    `kosh.purchasing.receiving.receive` (409 po_not_receivable, 409 over_receipt, 422
    barcode_*, ...)."""
    order, booked = await receiving.receive(
        session,
        order_id=order_id,
        location_id=location_id,
        bags=bags,
        tolerance=tolerance,
        allow_over_receipt=allow_over_receipt,
    )
    events.note(session, events.ON_ORDER_CHANGED, {b.receipt.part_id for b in booked})
    units = sum(b.receipt.qty for b in booked)
    metrics.RECEIPTS.labels(kind="barcode" if any(b.barcode for b in bags) else "typed").inc(
        len(booked)
    )
    metrics.RECEIVED_UNITS.inc(units)
    log.info(
        "purchase_order_received",
        number=order.number,
        bags=len(booked),
        units=units,
        status=order.status,
    )
    return order, booked


@transactional
async def reverse_receipt(
    session: AsyncSession, *, order_id: int, receipt_id: int, reason: str
) -> tuple[PurchaseOrder, PurchaseReceipt]:
    """Reverse a receipt whose stock has not moved (see `receiving.reverse`): 404
    receipt_not_found, 409 already_reversed / stock_moved / po_not_reversible."""
    order, receipt = await receiving.reverse(
        session, order_id=order_id, receipt_id=receipt_id, reason=reason
    )
    events.note(session, events.ON_ORDER_CHANGED, [receipt.part_id])
    metrics.REVERSALS.inc()
    log.info("purchase_receipt_reversed", number=order.number, receipt_id=receipt.id)
    return order, receipt


# --- reorder --------------------------------------------------------------------------


@transactional
async def set_reorder_rule(
    session: AsyncSession,
    *,
    part_number: str,
    warehouse_id: int,
    min_qty: int,
    max_qty: int,
    order_multiple: int | None = None,
    lead_time_days: int | None = None,
) -> ReorderRule:
    """Create or replace a part's reorder rule in a warehouse. Rules: 404 part_not_found /
    warehouse_not_found; max >= min, order multiple >= 1, lead time 0..3650 days (422 at
    the edge)."""
    return await reorder.put_rule(
        session,
        part_number=part_number,
        warehouse_id=warehouse_id,
        min_qty=min_qty,
        max_qty=max_qty,
        order_multiple=order_multiple,
        lead_time_days=lead_time_days,
    )


@transactional
async def order_suggestions(
    session: AsyncSession,
    *,
    warehouse_id: int,
    part_ids: Sequence[int] | None = None,
    prefix: str = DEFAULT_PREFIX,
    today: date | None = None,
) -> reorder.Planned:
    """Act on reorder suggestions in one step (all or none): draft purchase orders, one
    per supplier, and a planned production job per assembly suggested as a build.
    Purchases without a supplier are left out. 404 for an unknown warehouse; a build
    whose job cannot be planned refuses the whole step (see
    `kosh.production.service.create_job`)."""
    made = await reorder.act(
        session,
        warehouse_id=warehouse_id,
        part_ids=part_ids,
        prefix=prefix,
        today=today or utcnow().date(),
    )
    metrics.SUGGESTED_ORDERS.inc(len(made.orders))
    metrics.SUGGESTED_JOBS.inc(len(made.jobs))
    log.info(
        "purchase_orders_suggested",
        warehouse_id=warehouse_id,
        orders=len(made.orders),
        jobs=len(made.jobs),
    )
    return made


__all__ = [
    "Bag",
    "PriceBreak",
    "add_lines",
    "cancel",
    "close_short",
    "create_order",
    "create_supplier",
    "create_supplier_part",
    "get_supplier_by_code_or_raise",
    "import_supplier_parts",
    "order_suggestions",
    "place",
    "receive",
    "reverse_receipt",
    "set_reorder_rule",
    "update_order",
    "update_supplier",
    "update_supplier_part",
]
