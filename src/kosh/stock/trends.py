"""Ledger figures over time for charts: stock of a part at the end of each day and
movements per day. Day boundaries are UTC midnights; each figure is one statement of
conditional aggregates, so both engines run the same SQL without date functions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import utcnow
from kosh.stock.models import StockTransaction

st = StockTransaction


def _day_starts(days: int, now: datetime | None) -> list[datetime]:
    """UTC midnights of the last `days` days including today, oldest first."""
    today = (now or utcnow()).astimezone(UTC).date()
    return [
        datetime.combine(today - timedelta(days=back), time.min, tzinfo=UTC)
        for back in range(days - 1, -1, -1)
    ]


async def on_hand_per_day(
    session: AsyncSession, part_id: int, *, days: int = 90, now: datetime | None = None
) -> list[tuple[date, int]]:
    """Units of the part on hand (over every location) at the end of each of the last
    `days` UTC days, oldest first, from the ledger: a movement from nowhere adds, one to
    nowhere takes away, one between locations leaves the total as it is."""
    starts = _day_starts(days, now)
    net = case(
        (st.from_location_id.is_(None), st.qty),
        (st.to_location_id.is_(None), -st.qty),
        else_=0,
    )
    columns = [
        func.coalesce(func.sum(net).filter(st.at < start + timedelta(days=1)), 0)
        for start in starts
    ]
    row = (await session.execute(select(*columns).where(st.part_id == part_id))).one()
    return [(start.date(), int(total)) for start, total in zip(starts, row, strict=True)]


async def movements_per_day(
    session: AsyncSession, *, days: int = 30, now: datetime | None = None
) -> list[tuple[date, int]]:
    """Ledger rows written on each of the last `days` UTC days, oldest first (days
    without movements count 0)."""
    starts = _day_starts(days, now)
    columns = [
        func.count(st.id).filter(and_(st.at >= start, st.at < start + timedelta(days=1)))
        for start in starts
    ]
    row = (await session.execute(select(*columns).where(st.at >= starts[0]))).one()
    return [(start.date(), int(count)) for start, count in zip(starts, row, strict=True)]
