"""Read-only sales figures for charts (web orders per day and per hour)."""

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


async def web_orders_per_hour(
    session: AsyncSession, *, hours: int = 48, now: datetime | None = None
) -> list[tuple[datetime, int]]:
    """Orders that came from a web store in each whole UTC hour of the last `hours` hours
    including the current one, oldest first (hours without orders count 0)."""
    current = (now or utcnow()).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    starts = [current - timedelta(hours=back) for back in range(hours - 1, -1, -1)]
    columns = [
        func.count(SalesOrder.id).filter(
            and_(SalesOrder.created_at >= start, SalesOrder.created_at < start + timedelta(hours=1))
        )
        for start in starts
    ]
    row = (
        await session.execute(
            select(*columns).where(
                SalesOrder.external_store.is_not(None), SalesOrder.created_at >= starts[0]
            )
        )
    ).one()
    return [(start, int(count)) for start, count in zip(starts, row, strict=True)]
