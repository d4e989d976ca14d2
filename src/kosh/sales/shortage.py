"""What a sales order lacks when it cannot be reserved in full, named part by part."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import queries as catalog_queries
from kosh.core.messages import format_number
from kosh.sales.models import SalesOrder
from kosh.stock.errors import InsufficientStockError


@dataclass
class Shortage:
    part_id: int
    requested: int
    available: int


async def short_error(
    session: AsyncSession, order: SalesOrder, shortages: Sequence[Shortage]
) -> InsufficientStockError:
    """409 insufficient_stock naming every short part (number, needed, available) in the
    message and in `shortages`, with the way out: confirm with a backorder."""
    parts = await catalog_queries.parts_by_ids(session, [s.part_id for s in shortages])
    listed = [
        {
            "part_id": s.part_id,
            "part_number": parts[s.part_id].number if s.part_id in parts else str(s.part_id),
            "requested": s.requested,
            "needed": s.requested,
            "available": s.available,
        }
        for s in shortages
    ]
    named = "; ".join(
        f"{item['part_number']} needs {format_number(item['needed'])}, "
        f"{format_number(item['available'])} available"
        for item in listed
    )
    first = shortages[0]
    return InsufficientStockError(
        f"Not enough stock to reserve sales order {order.number}: {named}. Confirm with a "
        "backorder to reserve what is there and keep the rest open.",
        available=first.available,
        requested=first.requested,
        extra={"shortages": listed},
    )
