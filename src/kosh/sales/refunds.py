"""Refunds of web orders, the sales side: which units of which lines the store refunded,
kept for the returns desk (kosh.quality builds returns on `list_for_order`). Joins the
caller's transaction; never commits.

A refund releases nothing by itself: the web order's version that brings it also closes
the order (a full refund: `kosh.sales.web_orders`), which releases what is still reserved.
Here the refunded units are recorded with how many of them had shipped (a return to expect).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit, events
from kosh.sales.models import RefundedLine, SalesOrder


@dataclass(frozen=True)
class RefundedUnits:
    """Units of a web order line the store refunded (matched by the store's line id)."""

    external_line_id: str
    qty: int
    amount: Decimal = Decimal(0)


async def record(
    session: AsyncSession,
    order: SalesOrder,
    *,
    refunded: Sequence[RefundedUnits],
    modified_at: datetime | None,
) -> list[RefundedLine]:
    """Record the refunded units of `order` (flushed, audited). No `refunded` means the
    whole order. An order's refund is recorded once: a later version adds nothing."""
    if await session.scalar(select(RefundedLine.id).where(RefundedLine.order_id == order.id)):
        return []
    by_external = {line.external_line_id: line for line in order.lines if line.external_line_id}
    wanted: list[tuple[int, int, Decimal]] = []  # (line index, qty, amount)
    if refunded:
        for units in refunded:
            line = by_external.get(units.external_line_id)
            if line is not None and units.qty > 0:
                wanted.append((order.lines.index(line), min(units.qty, line.qty), units.amount))
    else:
        wanted = [
            (index, line.qty, line.unit_price * line.qty) for index, line in enumerate(order.lines)
        ]
    rows = []
    for index, qty, amount in wanted:
        line = order.lines[index]
        rows.append(
            RefundedLine(
                order_id=order.id,
                order_line_id=line.id,
                part_id=line.part_id,
                qty=qty,
                qty_shipped=min(qty, line.qty_shipped),
                amount=amount,
                external_modified_at=modified_at,
            )
        )
    session.add_all(rows)
    await session.flush()
    if rows:
        await audit.record(
            session,
            action="sales_order.refund",
            entity_type="sales_order",
            entity_id=order.id,
            after={
                "lines": [
                    {"order_line_id": r.order_line_id, "qty": r.qty, "qty_shipped": r.qty_shipped}
                    for r in rows
                ]
            },
        )
    returning = [r.id for r in rows if r.qty_shipped > 0]
    if returning:  # a return to expect (kosh.quality proposes an RMA)
        events.note(session, events.SALES_REFUNDED, returning)
    return rows


async def list_for_order(session: AsyncSession, order_id: int) -> list[RefundedLine]:
    """The refunded lines of an order, in the order they were recorded."""
    rows = await session.scalars(
        select(RefundedLine).where(RefundedLine.order_id == order_id).order_by(RefundedLine.id)
    )
    return list(rows)


async def list_by_ids(session: AsyncSession, ids: Collection[int]) -> list[RefundedLine]:
    if not ids:
        return []
    rows = await session.scalars(
        select(RefundedLine).where(RefundedLine.id.in_(sorted(set(ids)))).order_by(RefundedLine.id)
    )
    return list(rows)


async def list_to_return(
    session: AsyncSession, *, limit: int = 50, offset: int = 0
) -> tuple[list[RefundedLine], int]:
    """Refunded lines whose units had shipped (a return is to be expected), newest first."""
    query = select(RefundedLine).where(RefundedLine.qty_shipped > 0)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(RefundedLine.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)
