"""Read-only sales figures for charts (the dashboard's web orders per day)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import utcnow
from kosh.sales.models import SalesOrder


async def web_orders_per_day(
    session: AsyncSession, *, days: int = 7, now: datetime | None = None
) -> list[tuple[date, int]]:
    """Orders that came from a web store per UTC day, oldest first, the last `days` days
    including today (days without orders count 0). One statement on both engines: a
    conditional count per day rather than an engine-specific date function."""
    today = (now or utcnow()).date()
    starts = [
        datetime.combine(today - timedelta(days=back), time.min, tzinfo=UTC)
        for back in range(days - 1, -1, -1)
    ]
    ends = [*starts[1:], starts[-1] + timedelta(days=1)]
    columns = [
        func.count(SalesOrder.id).filter(
            and_(SalesOrder.created_at >= start, SalesOrder.created_at < end)
        )
        for start, end in zip(starts, ends, strict=True)
    ]
    row = (
        await session.execute(
            select(*columns).where(
                SalesOrder.external_store.is_not(None), SalesOrder.created_at >= starts[0]
            )
        )
    ).one()
    return [(start.date(), int(count)) for start, count in zip(starts, row, strict=True)]
