"""Read-only purchasing queries shared by pages, the API and other features.

"On order" is what placed purchase orders (placed or partially received) still expect:
the sum of `qty - qty_received` of their lines, per part and warehouse. Other features
read it only through `on_order` / `incoming`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.purchasing.models import (
    OPEN_STATUSES,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReceipt,
    Supplier,
)

_CHUNK = 500


@dataclass(frozen=True)
class Incoming:
    """Units of a part a placed PO still expects, and when."""

    part_id: int
    warehouse_id: int
    order_id: int
    order_number: str
    supplier_code: str
    qty: int
    expected_date: date | None


def _chunks(ids: Collection[int]) -> list[list[int]]:
    wanted = sorted(set(ids))
    return [wanted[i : i + _CHUNK] for i in range(0, len(wanted), _CHUNK)]


async def on_order(
    session: AsyncSession, *, part_ids: Collection[int], warehouse_id: int
) -> dict[int, int]:
    """Units on placed, not yet received purchase orders per part for the warehouse
    (every requested part is in the answer, 0 when none)."""
    answer = dict.fromkeys(part_ids, 0)
    for chunk in _chunks(answer):
        rows = await session.execute(
            select(
                PurchaseOrderLine.part_id,
                func.sum(PurchaseOrderLine.qty - PurchaseOrderLine.qty_received),
            )
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
            .where(
                PurchaseOrder.warehouse_id == warehouse_id,
                PurchaseOrder.status.in_(OPEN_STATUSES),
                PurchaseOrderLine.part_id.in_(chunk),
                PurchaseOrderLine.qty > PurchaseOrderLine.qty_received,
            )
            .group_by(PurchaseOrderLine.part_id)
        )
        for part_id, qty in rows:
            answer[part_id] = int(qty or 0)
    return answer


async def incoming(
    session: AsyncSession,
    *,
    part_ids: Collection[int],
    warehouse_id: int | None = None,
    due_by: date | None = None,
) -> list[Incoming]:
    """The open PO lines of these parts, earliest expected first (lines without a date
    last). With `due_by`, only those expected on or before it (an undated line counts as
    not due, since nobody can promise it)."""
    expected = func.coalesce(PurchaseOrderLine.expected_date, PurchaseOrder.expected_date)
    found: list[Incoming] = []
    for chunk in _chunks(part_ids):
        query = (
            select(
                PurchaseOrderLine.part_id,
                PurchaseOrder.warehouse_id,
                PurchaseOrder.id,
                PurchaseOrder.number,
                Supplier.code,
                PurchaseOrderLine.qty - PurchaseOrderLine.qty_received,
                expected,
            )
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.order_id)
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .where(
                PurchaseOrder.status.in_(OPEN_STATUSES),
                PurchaseOrderLine.part_id.in_(chunk),
                PurchaseOrderLine.qty > PurchaseOrderLine.qty_received,
            )
        )
        if warehouse_id is not None:
            query = query.where(PurchaseOrder.warehouse_id == warehouse_id)
        if due_by is not None:
            query = query.where(expected.is_not(None), expected <= due_by)
        for row in await session.execute(query):
            found.append(
                Incoming(
                    part_id=row[0],
                    warehouse_id=row[1],
                    order_id=row[2],
                    order_number=row[3],
                    supplier_code=row[4],
                    qty=int(row[5]),
                    expected_date=row[6],
                )
            )
    found.sort(key=lambda i: (i.expected_date is None, i.expected_date or date.max, i.order_id))
    return found


async def received_totals(session: AsyncSession, order_id: int) -> dict[int, int]:
    """Per line of the order: units received by receipts that are not reversed."""
    rows = await session.execute(
        select(PurchaseReceipt.line_id, func.sum(PurchaseReceipt.qty))
        .where(PurchaseReceipt.order_id == order_id, PurchaseReceipt.reversed_at.is_(None))
        .group_by(PurchaseReceipt.line_id)
    )
    return {line_id: int(qty or 0) for line_id, qty in rows}


async def receipts_of(session: AsyncSession, order_id: int) -> list[PurchaseReceipt]:
    rows = await session.scalars(
        select(PurchaseReceipt)
        .where(PurchaseReceipt.order_id == order_id)
        .order_by(PurchaseReceipt.id)
    )
    return list(rows)


async def count_open_orders(session: AsyncSession) -> int:
    """Placed purchase orders still expecting goods (for the dashboard and health)."""
    count = await session.scalar(
        select(func.count())
        .select_from(PurchaseOrder)
        .where(PurchaseOrder.status.in_(OPEN_STATUSES))
    )
    return int(count or 0)


async def overdue_orders(session: AsyncSession, *, today: date) -> int:
    """Placed purchase orders with an open line whose expected date (the line's, else the
    order's) has passed (shown in health)."""
    expected = func.coalesce(PurchaseOrderLine.expected_date, PurchaseOrder.expected_date)
    count = await session.scalar(
        select(func.count(func.distinct(PurchaseOrder.id)))
        .select_from(PurchaseOrder)
        .join(PurchaseOrderLine, PurchaseOrderLine.order_id == PurchaseOrder.id)
        .where(
            PurchaseOrder.status.in_(OPEN_STATUSES),
            PurchaseOrderLine.qty > PurchaseOrderLine.qty_received,
            expected.is_not(None),
            expected < today,
        )
    )
    return int(count or 0)
