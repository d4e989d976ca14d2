"""Purchase orders: lines, numbering and the state machine, as helpers that join the
caller's transaction (never commit; `kosh.purchasing.service` wraps them).

    draft --place--> placed --receipt--> partially_received --receipt--> received
      |                |                        |
      +--cancel--------+--cancel                +--close_short--> closed_short

Lines change only while the order is a draft; the received quantities move only through
receipts and reversals (`kosh.purchasing.receiving`). An order is numbered
``<prefix><id, six digits>`` when it is created (PO-000123). Every step is audited.

Lock order: the purchase order row (`lock_order`, SELECT ... FOR UPDATE on PostgreSQL)
before any lot (`kosh.stock.movements.lock_lots`); on SQLite the write transaction
(BEGIN IMMEDIATE) serialises writers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from kosh.catalog import service as part_service
from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import utcnow
from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, field_error
from kosh.core.types import MAX_QTY, like_escape
from kosh.purchasing import suppliers
from kosh.purchasing.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierPart
from kosh.purchasing.schemas import OrderLineIn


@dataclass(frozen=True)
class NewLine:
    """A resolved line: which offer, how many base units (and packs), at what price."""

    supplier_part: SupplierPart
    qty: int
    packs: int | None
    unit_price: Decimal
    expected_date: date | None = None


def order_snapshot(order: PurchaseOrder) -> dict[str, Any]:
    return {
        "number": order.number,
        "status": order.status,
        "supplier_id": order.supplier_id,
        "warehouse_id": order.warehouse_id,
        "currency": order.currency,
        "expected_date": order.expected_date.isoformat() if order.expected_date else None,
        "lines": [
            {
                "line_no": line.line_no,
                "supplier_part_id": line.supplier_part_id,
                "qty": line.qty,
                "qty_received": line.qty_received,
                "unit_price": str(line.unit_price),
            }
            for line in order.lines
        ],
    }


async def load_order(session: AsyncSession, order_id: int, *, lock: bool = False) -> PurchaseOrder:
    """The order with its lines, fresh from the database; 404 purchase_order_not_found.
    `lock` takes the order's row lock first (the first lock of every receipt)."""
    query = (
        select(PurchaseOrder)
        .where(PurchaseOrder.id == order_id)
        .options(selectinload(PurchaseOrder.lines))
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(of=PurchaseOrder)
    order = await session.scalar(query)
    if order is None:
        raise NotFoundError(
            f"No purchase order with id {order_id}.", code="purchase_order_not_found"
        )
    return order


async def find_by_number(session: AsyncSession, number: str) -> PurchaseOrder | None:
    found = await session.scalar(select(PurchaseOrder).where(PurchaseOrder.number == number))
    return found


def check_version(order: PurchaseOrder, version: int | None) -> None:
    if version is not None and version != order.version:
        raise ConflictError(
            f"Purchase order {order.number} was changed meanwhile; reload and try again.",
            code="stale_version",
            details={"current_version": order.version},
        )


def refuse(order: PurchaseOrder, action: str) -> ConflictError:
    return ConflictError(
        f"Purchase order {order.number} is {order.status.replace('_', ' ')}; "
        f"it cannot be {action}.",
        code="invalid_transition",
        details={"status": order.status},
    )


async def resolve_lines(
    session: AsyncSession, supplier: Supplier, lines: Sequence[OrderLineIn]
) -> list[NewLine]:
    """Each requested line as a supplier part, base units and price.

    Rules (each names the line's field): a SKU must be the supplier's (404
    supplier_part_not_found); a part number must exist (404 part_not_found) and the
    supplier must offer it (422 no_supplier_part); base units must be whole packs (422
    not_whole_packs); the price is the given one, else the supplier's price break, else
    the part's unit cost (422 price_unknown without any).
    """
    resolved: list[NewLine] = []
    for index, line in enumerate(lines):
        loc: list[str | int] = ["lines", index]
        if line.supplier_sku:
            sp = await suppliers.find_offer(session, supplier_id=supplier.id, sku=line.supplier_sku)
            if sp is None:
                raise NotFoundError(
                    f"Supplier {supplier.code} has no active SKU {line.supplier_sku!r}.",
                    code="supplier_part_not_found",
                    errors=[field_error([*loc, "supplier_sku"], "no such SKU at this supplier")],
                )
        else:
            part = await part_service.get_part_by_number_or_raise(
                session, line.part_number or "", loc="part_number"
            )
            sp = await suppliers.find_offer(session, supplier_id=supplier.id, part_id=part.id)
            if sp is None:
                raise RuleViolationError(
                    f"Supplier {supplier.code} does not offer {part.number}.",
                    code="no_supplier_part",
                    errors=[field_error([*loc, "part_number"], "not offered by this supplier")],
                )
        if line.packs is not None:
            qty = line.packs * sp.pack_size
            packs: int | None = line.packs
        else:
            qty = int(line.qty or 0)
            if qty % sp.pack_size:
                raise RuleViolationError(
                    f"{sp.sku} comes in packs of {sp.pack_size}; {qty} is not whole packs.",
                    code="not_whole_packs",
                    errors=[field_error([*loc, "qty"], f"must be a multiple of {sp.pack_size}")],
                    details={"pack_size": sp.pack_size},
                )
            packs = qty // sp.pack_size if sp.pack_size > 1 else None
        if qty > MAX_QTY:
            raise RuleViolationError(
                f"{qty} units is more than one line may order.",
                code="qty_too_large",
                errors=[field_error([*loc, "packs"], f"at most {MAX_QTY} base units")],
            )
        price = line.unit_price
        if price is None:
            price = suppliers.price_for(sp, qty)
        if price is None:
            part = await part_service.get_part_or_raise(session, sp.part_id)
            price = part.unit_cost
        if price is None:
            raise RuleViolationError(
                f"No price known for {sp.sku}; give unit_price.",
                code="price_unknown",
                errors=[field_error([*loc, "unit_price"], "required: no price break or cost")],
            )
        resolved.append(
            NewLine(
                supplier_part=sp,
                qty=qty,
                packs=packs,
                unit_price=Decimal(price),
                expected_date=line.expected_date,
            )
        )
    return resolved


def _make_lines(lines: Sequence[NewLine], *, start: int = 1) -> list[PurchaseOrderLine]:
    return [
        PurchaseOrderLine(
            line_no=start + n,
            supplier_part_id=line.supplier_part.id,
            part_id=line.supplier_part.part_id,
            qty=line.qty,
            packs=line.packs,
            qty_received=0,
            unit_price=line.unit_price,
            expected_date=line.expected_date,
        )
        for n, line in enumerate(lines)
    ]


async def add_order(
    session: AsyncSession,
    *,
    supplier: Supplier,
    warehouse_id: int,
    lines: Sequence[NewLine],
    prefix: str,
    expected_date: date | None = None,
    notes: str = "",
) -> PurchaseOrder:
    """Insert a draft order with its lines, numbered <prefix><id:06d> (flushed, audited)."""
    order = PurchaseOrder(
        number=f"tmp-{uuid.uuid4().hex}",
        supplier_id=supplier.id,
        warehouse_id=warehouse_id,
        status="draft",
        currency=supplier.currency,
        expected_date=expected_date,
        notes=notes,
        created_by=current_actor().name,
    )
    order.lines = _make_lines(lines)
    session.add(order)
    await session.flush()
    order.number = f"{prefix}{order.id:06d}"
    await session.flush()
    await audit.record(
        session,
        action="purchase_order.create",
        entity_type="purchase_order",
        entity_id=order.number,
        after=order_snapshot(order),
    )
    return order


async def _save(session: AsyncSession, order: PurchaseOrder) -> None:
    order.updated_at = utcnow()  # bumps the version even when only lines changed
    try:
        await session.flush()
    except StaleDataError as exc:
        raise ConflictError(
            f"Purchase order {order.number} was changed meanwhile; reload and try again.",
            code="stale_version",
        ) from exc


async def edit_order(
    session: AsyncSession,
    order: PurchaseOrder,
    *,
    changes: dict[str, Any],
    lines: Sequence[NewLine] | None,
) -> PurchaseOrder:
    """Change notes / expected date (open orders) and replace the lines (drafts only)."""
    if order.status not in ("draft", "placed", "partially_received"):
        raise refuse(order, "edited")
    if lines is not None and order.status != "draft":
        raise RuleViolationError(
            f"Purchase order {order.number} is placed; its lines cannot change.",
            code="lines_locked",
            errors=[field_error(["lines"], "only a draft's lines can change")],
        )
    before = order_snapshot(order)
    if lines is not None:
        # The old lines go before the new ones take their numbers. A bulk DELETE (not a
        # flush of the emptied collection) leaves the order row clean, so the one flush
        # in `_save` bumps its version exactly once.
        await session.execute(
            delete(PurchaseOrderLine)
            .where(PurchaseOrderLine.order_id == order.id)
            .execution_options(synchronize_session=False)
        )
        for old in order.lines:
            session.expunge(old)
        set_committed_value(order, "lines", [])
        order.lines.extend(_make_lines(lines))
    for name, value in changes.items():
        setattr(order, name, value)
    await _save(session, order)
    await audit.record(
        session,
        action="purchase_order.update",
        entity_type="purchase_order",
        entity_id=order.number,
        before=before,
        after=order_snapshot(order),
    )
    return order


async def append_lines(
    session: AsyncSession, order: PurchaseOrder, lines: Sequence[NewLine]
) -> PurchaseOrder:
    """Add lines to a draft (422 lines_locked otherwise), numbered after the last one."""
    if order.status != "draft":
        raise RuleViolationError(
            f"Purchase order {order.number} is {order.status.replace('_', ' ')}; "
            "only a draft takes new lines.",
            code="lines_locked",
        )
    start = max((line.line_no for line in order.lines), default=0) + 1
    order.lines.extend(_make_lines(lines, start=start))
    await _save(session, order)
    await audit.record(
        session,
        action="purchase_order.add_lines",
        entity_type="purchase_order",
        entity_id=order.number,
        after=order_snapshot(order),
    )
    return order


async def transition(
    session: AsyncSession, order: PurchaseOrder, *, to: str, reason: str = ""
) -> PurchaseOrder:
    """place / cancel / close short, with the rules of the state machine above."""
    allowed = {
        "placed": ("draft",),
        "cancelled": ("draft", "placed"),
        "closed_short": ("partially_received",),
    }[to]
    verb = {"placed": "placed", "cancelled": "cancelled", "closed_short": "closed short"}[to]
    if order.status not in allowed:
        raise refuse(order, verb)
    if to == "placed":
        if not order.lines:
            raise RuleViolationError(
                f"Purchase order {order.number} has no lines.", code="no_lines"
            )
        supplier = await suppliers.get_supplier_or_raise(session, order.supplier_id)
        suppliers.require_active(supplier, loc="supplier_id")
        order.placed_at = utcnow()
    if to == "cancelled" and any(line.qty_received for line in order.lines):
        raise refuse(order, "cancelled (goods were received; close it short)")
    before = order.status
    order.status = to
    if to != "placed":
        order.finished_at = utcnow()
    await _save(session, order)
    await audit.record(
        session,
        action={"placed": "purchase_order.place", "cancelled": "purchase_order.cancel"}.get(
            to, "purchase_order.close_short"
        ),
        entity_type="purchase_order",
        entity_id=order.number,
        before={"status": before},
        after={"status": to, "reason": reason or None},
    )
    return order


def settle_status(order: PurchaseOrder) -> None:
    """The status receipts and reversals leave an open order in."""
    if order.status not in ("placed", "partially_received", "received"):
        return
    if all(line.qty_received >= line.qty for line in order.lines):
        order.status = "received"
        order.finished_at = order.finished_at or utcnow()
    elif any(line.qty_received for line in order.lines):
        order.status = "partially_received"
        order.finished_at = None
    else:
        order.status = "placed"
        order.finished_at = None


async def search_orders(
    session: AsyncSession,
    *,
    status: str | None = None,
    supplier_id: int | None = None,
    warehouse_id: int | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[PurchaseOrder], int]:
    query = select(PurchaseOrder)
    if status:
        query = query.where(PurchaseOrder.status == status)
    if supplier_id is not None:
        query = query.where(PurchaseOrder.supplier_id == supplier_id)
    if warehouse_id is not None:
        query = query.where(PurchaseOrder.warehouse_id == warehouse_id)
    if q:
        query = query.where(PurchaseOrder.number.ilike(f"%{like_escape(q)}%", escape="\\"))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(PurchaseOrder.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)
