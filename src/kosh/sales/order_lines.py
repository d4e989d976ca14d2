"""Lines of a sales order that join the caller's transaction (they never commit): made
for a new order, added to, changed on or removed from a draft. Only a draft's lines
change this way; a confirmed order holds reservations for them and refuses (409
invalid_status). Every change is audited with the line before and after."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import utcnow
from kosh.core.errors import ConflictError, NotFoundError
from kosh.sales.models import SalesOrder, SalesOrderLine


@dataclass(frozen=True)
class NewLine:
    part_id: int
    qty: int
    unit_price: Decimal
    description: str = ""
    external_line_id: str | None = None
    # drawn from another warehouse than the order's (a web order split over its store's)
    warehouse_id: int | None = None


def make_lines(lines: Sequence[NewLine], *, start: int) -> list[SalesOrderLine]:
    return [
        SalesOrderLine(
            line_no=start + index,
            part_id=line.part_id,
            description=line.description[:300],
            qty=line.qty,
            unit_price=line.unit_price,
            qty_reserved=0,
            qty_shipped=0,
            qty_cancelled=0,
            external_line_id=line.external_line_id,
            warehouse_id=line.warehouse_id,
        )
        for index, line in enumerate(lines)
    ]


def _line_view(line: SalesOrderLine) -> dict[str, Any]:
    return {
        "line_no": line.line_no,
        "part_id": line.part_id,
        "qty": line.qty,
        "unit_price": str(line.unit_price),
    }


def _require_draft(order: SalesOrder, action: str) -> None:
    if order.status != "draft":
        raise ConflictError(
            f"Sales order {order.number} is {order.status.replace('_', ' ')}; its lines "
            f"cannot be {action} (only a draft's lines change).",
            code="invalid_status",
            details={"status": order.status},
        )


def _line_of(order: SalesOrder, line_id: int) -> SalesOrderLine:
    line = next((line for line in order.lines if line.id == line_id), None)
    if line is None:
        raise NotFoundError(
            f"Sales order {order.number} has no line with id {line_id}.",
            code="sales_order_line_not_found",
        )
    return line


async def add_line(session: AsyncSession, order: SalesOrder, line: NewLine) -> SalesOrderLine:
    """Append a line to a draft order (409 invalid_status otherwise)."""
    _require_draft(order, "added to")
    next_no = max((existing.line_no for existing in order.lines), default=0) + 1
    [new] = make_lines([line], start=next_no)
    order.lines.append(new)
    order.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="sales_order.add_line",
        entity_type="sales_order",
        entity_id=order.id,
        after={"line_no": new.line_no, "part_id": new.part_id, "qty": new.qty},
    )
    return new


async def update_line(
    session: AsyncSession,
    order: SalesOrder,
    *,
    line_id: int,
    qty: int | None = None,
    unit_price: Decimal | None = None,
) -> SalesOrderLine:
    """Change a draft line's quantity or price (409 invalid_status when not a draft; 404
    sales_order_line_not_found)."""
    _require_draft(order, "changed")
    line = _line_of(order, line_id)
    before = _line_view(line)
    if qty is not None:
        line.qty = qty
    if unit_price is not None:
        line.unit_price = unit_price
    if _line_view(line) == before:
        return line
    order.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="sales_order.update_line",
        entity_type="sales_order",
        entity_id=order.id,
        before=before,
        after=_line_view(line),
    )
    return line


async def remove_line(session: AsyncSession, order: SalesOrder, *, line_id: int) -> None:
    """Remove a draft line (409 invalid_status when not a draft; 404 otherwise)."""
    _require_draft(order, "removed")
    line = _line_of(order, line_id)
    before = _line_view(line)
    order.lines.remove(line)
    order.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="sales_order.remove_line",
        entity_type="sales_order",
        entity_id=order.id,
        before=before,
    )
