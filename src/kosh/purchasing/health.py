"""The `purchasing` section of /health/detailed: open and overdue purchase orders, and
receipt drift (a PO line whose received qty is not the sum of its receipts, which must
never happen; `kosh verify` covers the ledger itself)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import utcnow
from kosh.ops.health import DETAILED_SECTIONS, Check
from kosh.purchasing import queries as purchasing_queries
from kosh.purchasing.models import PurchaseOrderLine, PurchaseReceipt

_MAX_LISTED = 20


async def receipt_drift(session: AsyncSession) -> list[int]:
    """Ids of PO lines whose qty_received differs from their unreversed receipts."""
    booked = (
        select(PurchaseReceipt.line_id, func.sum(PurchaseReceipt.qty).label("qty"))
        .where(PurchaseReceipt.reversed_at.is_(None))
        .group_by(PurchaseReceipt.line_id)
        .subquery()
    )
    rows = await session.scalars(
        select(PurchaseOrderLine.id)
        .outerjoin(booked, booked.c.line_id == PurchaseOrderLine.id)
        .where(PurchaseOrderLine.qty_received != func.coalesce(booked.c.qty, 0))
        .order_by(PurchaseOrderLine.id)
        .limit(_MAX_LISTED)
    )
    return list(rows)


async def purchasing_section(session: AsyncSession) -> Check:
    """Not ok when any PO line drifts from its receipts; overdue orders are reported."""
    drift = await receipt_drift(session)
    return Check(
        not drift,
        {
            "open_orders": await purchasing_queries.count_open_orders(session),
            "overdue_orders": await purchasing_queries.overdue_orders(
                session, today=utcnow().date()
            ),
            "drifting_lines": drift,
        },
    )


def register() -> None:
    DETAILED_SECTIONS["purchasing"] = purchasing_section
