"""Goods in against a purchase order: receipts and their reversal, as helpers that join the
caller's transaction (never commit; `kosh.purchasing.service` wraps them).

Invariants kept here:
- a line's `qty_received` equals the sum of its receipts that are not reversed, and each
  receipt has exactly one `receive` ledger row (reference = the PO number) made through
  `kosh.stock.movements`; a reversal writes one reversing `receipt_reversal` ledger row and
  never deletes;
- a line never takes more than `qty + floor(qty * tolerance)` unless the receipt is
  explicitly allowed over (a manager's decision): the increment is a guarded UPDATE
  (`qty_received = qty_received + n WHERE qty_received + n <= limit`) whose row count is
  checked, so two clerks racing for the last units cannot both get them;
- one request books all its bags or none (one transaction).

Lock order: the purchase order row first (`orders.load_order(lock=True)`), then lots by
id (`kosh.stock.movements`). New lots are invisible to others until commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.catalog.models import Part
from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import utcnow
from kosh.core.errors import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    field_error,
)
from kosh.core.types import MAX_QTY
from kosh.locations import service as location_service
from kosh.purchasing import barcode, metrics, orders
from kosh.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReceipt,
    SupplierPart,
)
from kosh.purchasing.schemas import LabelRead
from kosh.purchasing.suppliers import get_supplier_or_raise, load_offer
from kosh.stock import movements
from kosh.stock import queries as stock_queries
from kosh.stock import service as stock_service
from kosh.stock.models import Lot

RECEIVABLE = ("placed", "partially_received")
CEILING = 2 * MAX_QTY  # most a line can ever take, allowed over or not


def _cut(text: str | None, size: int) -> str | None:
    """A label's value as its column can hold it (labels may carry longer ones)."""
    return text[:size] if text else None


@dataclass(frozen=True)
class Bag:
    """One bag to book: the line (or a label naming it), the qty (or the label's)."""

    line_id: int | None = None
    barcode: str | None = None
    qty: int | None = None
    lot_code: str | None = None
    date_code: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class Booked:
    receipt: PurchaseReceipt
    lot: Lot
    part: Part


def limit_for(qty: int, tolerance: Decimal) -> int:
    """The most a line of `qty` may take in all: qty + floor(qty x tolerance)."""
    extra = (Decimal(qty) * tolerance).to_integral_value(rounding=ROUND_FLOOR)
    return qty + int(extra)


def _matches(label: barcode.Label, sp: SupplierPart, part: Part) -> bool:
    known = {k.casefold() for k in (sp.sku, sp.mpn, part.number, part.mpn) if k}
    return any(key.casefold() in known for key in label.part_keys())


async def match_line(
    session: AsyncSession,
    order: PurchaseOrder,
    label: barcode.Label,
    *,
    line_id: int | None = None,
    loc: Sequence[str | int] = ("barcode",),
) -> PurchaseOrderLine:
    """The order's line a label is for. With `line_id`, the label must name that line's
    part (422 barcode_part_mismatch); else the open line whose SKU, MPN or part number the
    label names (422 barcode_no_line when none). A label naming another PO (`K`) is
    refused (422 barcode_other_po)."""
    if label.po and label.po.strip().casefold() != order.number.casefold():
        raise RuleViolationError(
            f"The label is for order {label.po}, not {order.number}.",
            code="barcode_other_po",
            errors=[field_error(list(loc), f"names order {label.po}")],
            details={"label_po": label.po},
        )
    candidates: list[PurchaseOrderLine] = []
    for line in order.lines:
        if line_id is not None and line.id != line_id:
            continue
        offer = await load_offer(session, line.supplier_part_id)
        if _matches(label, offer.supplier_part, offer.part):
            candidates.append(line)
    if line_id is not None and not candidates:
        raise RuleViolationError(
            "The label is for a different part than this line.",
            code="barcode_part_mismatch",
            errors=[field_error(list(loc), "names another part")],
            details={"label_parts": label.part_keys()},
        )
    if not candidates:
        raise RuleViolationError(
            f"No line of {order.number} is for {', '.join(label.part_keys()) or 'this label'}.",
            code="barcode_no_line",
            errors=[field_error(list(loc), "matches no line of this order")],
            details={"label_parts": label.part_keys()},
        )
    open_first = sorted(candidates, key=lambda c: (c.open_qty == 0, c.line_no))
    return open_first[0]


async def preview(session: AsyncSession, text: str, *, order_id: int | None) -> LabelRead:
    """What a label says and, with an order, the line it matches (nothing is booked)."""
    label = read_label(text, ["barcode"])
    metrics.BARCODES.labels(outcome=label.format).inc()
    line_id = None
    if order_id is not None:
        order = await orders.load_order(session, order_id)
        line_id = (await match_line(session, order, label)).id
    return LabelRead(
        format=label.format,
        qty=label.qty,
        customer_part=label.customer_part,
        supplier_sku=label.supplier_sku,
        mpn=label.mpn,
        manufacturer=label.manufacturer,
        po=label.po,
        lot=label.lot,
        date_code=label.date_code,
        country=label.country,
        line_id=line_id,
    )


def read_label(text: str, loc: Sequence[str | int]) -> barcode.Label:
    try:
        return barcode.decode(text)
    except barcode.BarcodeError as exc:
        metrics.BARCODES.labels(outcome="unreadable").inc()
        raise ValidationError(
            f"Cannot read the label: {exc.reason}. Type the quantity instead.",
            code="barcode_unreadable",
            errors=[field_error(list(loc), exc.reason)],
        ) from exc


async def receive(
    session: AsyncSession,
    *,
    order_id: int,
    location_id: int,
    bags: Sequence[Bag],
    tolerance: Decimal,
    allow_over_receipt: bool = False,
) -> tuple[PurchaseOrder, list[Booked]]:
    """Book bags against a placed order into a location of its warehouse (see the module
    docstring). Errors: 404 purchase_order_not_found; 409 po_not_receivable (draft,
    cancelled, closed short, or received and not allowed over); 404/422 location_unusable;
    422 line_not_on_order, barcode_unreadable / barcode_other_po / barcode_part_mismatch /
    barcode_no_line, qty_required; 409 over_receipt with ordered / received / allowed.
    Nothing changes then.
    """
    if not bags:
        raise ValidationError(
            "Nothing to receive.", code="no_bags", errors=[field_error(["lines"], "empty")]
        )
    order = await orders.load_order(session, order_id, lock=True)
    if order.status not in RECEIVABLE and not (order.status == "received" and allow_over_receipt):
        raise ConflictError(
            f"Purchase order {order.number} is {order.status.replace('_', ' ')}; "
            "nothing can be received against it.",
            code="po_not_receivable",
            details={"status": order.status},
        )
    location = await location_service.usable_location(
        session, location_id, warehouse_id=order.warehouse_id, kinds=stock_service.STOCKABLE_KINDS
    )
    supplier = await get_supplier_or_raise(session, order.supplier_id)
    lines = {line.id: line for line in order.lines}
    plan: list[tuple[PurchaseOrderLine, int, Bag, barcode.Label | None]] = []
    for index, bag in enumerate(bags):
        loc: list[str | int] = ["lines", index] if len(bags) > 1 else []
        label = read_label(bag.barcode, [*loc, "barcode"]) if bag.barcode else None
        if bag.line_id is not None and bag.line_id not in lines:
            raise RuleViolationError(
                f"Line {bag.line_id} is not on {order.number}.",
                code="line_not_on_order",
                errors=[field_error([*loc, "line_id"], "not a line of this order")],
            )
        if label is not None:
            line = await match_line(
                session, order, label, line_id=bag.line_id, loc=[*loc, "barcode"]
            )
        else:
            line = lines[int(bag.line_id or 0)]
        qty = bag.qty if bag.qty is not None else (label.qty if label else None)
        if qty is None:
            raise ValidationError(
                "How many? The label has no quantity; type it.",
                code="qty_required",
                errors=[field_error([*loc, "qty"], "required")],
            )
        movements.check_qty(qty, "qty")
        plan.append((line, qty, bag, label))

    booked: list[Booked] = []
    for line, qty, bag, label in plan:
        limit = limit_for(line.qty, tolerance)
        over = line.qty_received + qty > limit
        if over and not allow_over_receipt:
            raise _over_receipt(order, line, qty, limit)
        # Allowed over, a line still stops at CEILING (the column is a 32-bit integer).
        await _add_received(
            session, order, line, qty, limit=CEILING if allow_over_receipt else limit
        )
        offer = await load_offer(session, line.supplier_part_id)
        date_code = _cut(bag.date_code or (label.date_code if label else None), 32)
        lot_code = _cut(bag.lot_code or (label.lot if label else None), 64)
        country = _cut(bag.country or (label.country if label else None), 8)
        lot = await movements.new_lot(
            session,
            part_id=line.part_id,
            date_code=date_code,
            supplier=supplier.name[:200],
            reference=order.number,
            lot_code=lot_code,
            country_of_origin=country,
        )
        entry = await movements.move(
            session,
            lot_id=lot.id,
            from_location_id=None,
            to_location_id=location.id,
            qty=qty,
            kind="receive",
            reference=order.number,
            part_id=line.part_id,
        )
        await session.flush()
        receipt = PurchaseReceipt(
            order_id=order.id,
            line_id=line.id,
            lot_id=lot.id,
            pcn=lot.pcn,
            part_id=line.part_id,
            location_id=location.id,
            qty=qty,
            transaction_id=entry.id,
            lot_code=lot_code,
            date_code=date_code,
            country=country,
            label_format=label.format if label else None,
            over_receipt=over,
            actor_name=current_actor().name,
        )
        session.add(receipt)
        await session.flush()
        await part_service.record_purchase_cost(
            session, part_id=line.part_id, unit_cost=line.unit_price
        )
        booked.append(Booked(receipt=receipt, lot=lot, part=offer.part))
        await audit.record(
            session,
            action="purchase_order.receive",
            entity_type="purchase_order",
            entity_id=order.number,
            after={
                "line_no": line.line_no,
                "pcn": lot.pcn,
                "qty": qty,
                "location_id": location.id,
                "over_receipt": over,
                "label_format": receipt.label_format,
            },
        )
    orders.settle_status(order)
    order.updated_at = utcnow()
    await session.flush()
    return order, booked


def _over_receipt(
    order: PurchaseOrder, line: PurchaseOrderLine, qty: int, limit: int
) -> ConflictError:
    return ConflictError(
        f"Line {line.line_no} of {order.number}: {line.qty} ordered, {line.qty_received} "
        f"received; {qty} more would exceed the {limit} allowed. A manager can allow it.",
        code="over_receipt",
        errors=[field_error(["qty"], f"at most {max(limit - line.qty_received, 0)} more")],
        details={
            "line_id": line.id,
            "ordered": line.qty,
            "received": line.qty_received,
            "requested": qty,
            "allowed": max(limit - line.qty_received, 0),
        },
    )


async def _add_received(
    session: AsyncSession,
    order: PurchaseOrder,
    line: PurchaseOrderLine,
    qty: int,
    *,
    limit: int,
) -> None:
    """qty_received += qty, guarded by the limit; 409 over_receipt when it would pass it."""
    guard = [PurchaseOrderLine.id == line.id, PurchaseOrderLine.qty_received + qty <= limit]
    result = await session.execute(
        update(PurchaseOrderLine)
        .where(*guard)
        .values(qty_received=PurchaseOrderLine.qty_received + qty)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        await session.refresh(line)
        raise _over_receipt(order, line, qty, limit)
    await session.refresh(line, ["qty_received"])


async def reverse(
    session: AsyncSession, *, order_id: int, receipt_id: int, reason: str
) -> tuple[PurchaseOrder, PurchaseReceipt]:
    """Undo a receipt whose stock is untouched: one reversing ledger row takes the units
    back out (kind receipt_reversal, reference = the PO number), the line's received qty goes down
    and the order's status follows. Errors: 404 receipt_not_found; 409 already_reversed;
    409 stock_moved when the lot has moved since (reverse by hand with a count instead);
    409 po_not_reversible for a cancelled or closed order."""
    order = await orders.load_order(session, order_id, lock=True)
    receipt = await session.get(PurchaseReceipt, receipt_id, populate_existing=True)
    if receipt is None or receipt.order_id != order.id:
        raise NotFoundError(f"No receipt {receipt_id} on {order.number}.", code="receipt_not_found")
    if receipt.reversed_at is not None:
        raise ConflictError("This receipt is reversed already.", code="already_reversed")
    if order.status not in ("placed", "partially_received", "received"):
        raise ConflictError(
            f"Purchase order {order.number} is {order.status.replace('_', ' ')}.",
            code="po_not_reversible",
        )
    await movements.lock_lots(session, [receipt.lot_id])
    _, moves = await stock_queries.history(session, lot_id=receipt.lot_id, limit=1)
    if moves != 1:
        raise ConflictError(
            "The received stock has moved since; reverse it with a stock count instead.",
            code="stock_moved",
        )
    entry = await movements.move(
        session,
        lot_id=receipt.lot_id,
        from_location_id=receipt.location_id,
        to_location_id=None,
        qty=receipt.qty,
        kind="receipt_reversal",
        reference=order.number,
        reason=f"reversal of receipt {receipt.id}: {reason}"[:500],
    )
    await session.flush()
    line = next(line for line in order.lines if line.id == receipt.line_id)
    result = await session.execute(
        update(PurchaseOrderLine)
        .where(PurchaseOrderLine.id == line.id, PurchaseOrderLine.qty_received >= receipt.qty)
        .values(qty_received=PurchaseOrderLine.qty_received - receipt.qty)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError("The line's received quantity is inconsistent.", code="drift")
    await session.refresh(line, ["qty_received"])
    receipt.reversed_at = utcnow()
    receipt.reversed_by = current_actor().name
    receipt.reversal_transaction_id = entry.id
    orders.settle_status(order)
    order.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="purchase_order.reverse_receipt",
        entity_type="purchase_order",
        entity_id=order.number,
        after={"receipt_id": receipt.id, "qty": receipt.qty, "reason": reason},
    )
    return order, receipt
