"""Capacity a manager confirmed beyond the limit: one `capacity_overrides` row per
operation and day, and the day's `override_minutes` (the allowance the CHECK adds to
capacity) raised and lowered with them, under the caller's work-centre locks."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import utcnow
from kosh.shopfloor.models import CapacityOverride, WorkCentreDay


@dataclass(frozen=True)
class Override:
    """Minutes of an operation on a day that a manager confirmed beyond capacity."""

    operation_id: int
    work_centre_id: int
    day: date
    minutes: int
    confirmed_by: str


async def raise_overrides(session: AsyncSession, overrides: Sequence[Override]) -> None:
    per_day: dict[tuple[int, date], int] = {}
    for o in overrides:
        per_day[(o.work_centre_id, o.day)] = per_day.get((o.work_centre_id, o.day), 0) + o.minutes
    for (wc, day), minutes in sorted(per_day.items()):
        await session.execute(
            update(WorkCentreDay)
            .where(WorkCentreDay.work_centre_id == wc, WorkCentreDay.day == day)
            .values(override_minutes=WorkCentreDay.override_minutes + minutes)
            .execution_options(synchronize_session=False)
        )
    if overrides:
        await session.execute(
            insert(CapacityOverride).values(
                [
                    {
                        "operation_id": o.operation_id,
                        "work_centre_id": o.work_centre_id,
                        "day": o.day,
                        "minutes": o.minutes,
                        "confirmed_by": o.confirmed_by,
                        "created_at": utcnow(),
                    }
                    for o in overrides
                ]
            )
        )


async def release_overrides(
    session: AsyncSession, operation_ids: Collection[int]
) -> dict[tuple[int, date], int]:
    """Release the active overrides of these operations: (work centre, day) -> minutes."""
    rows = await session.execute(
        select(CapacityOverride.work_centre_id, CapacityOverride.day, CapacityOverride.minutes)
        .where(
            CapacityOverride.operation_id.in_(list(operation_ids)),
            CapacityOverride.released_at.is_(None),
        )
        .order_by(CapacityOverride.id)
    )
    per_day: dict[tuple[int, date], int] = {}
    for wc, day, minutes in rows:
        per_day[(wc, day)] = per_day.get((wc, day), 0) + minutes
    if per_day:
        await session.execute(
            update(CapacityOverride)
            .where(
                CapacityOverride.operation_id.in_(list(operation_ids)),
                CapacityOverride.released_at.is_(None),
            )
            .values(released_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    return per_day
