"""The `shopfloor` section of /health/detailed: capacity drift (must be 0)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.ops.health import DETAILED_SECTIONS, Check
from kosh.shopfloor import capacity
from kosh.shopfloor.models import JobOperation, OperationBooking


async def shopfloor_section(session: AsyncSession) -> Check:
    """`capacity_drift`: work-centre days from today on whose planned minutes differ from
    their bookings or exceed their capacity (a bug if ever > 0; `examples` name them);
    `booked_operations`: operations holding capacity; `running_operations`."""
    problems = await capacity.drift(session, since=capacity.today())
    booked = await session.scalar(select(func.count(func.distinct(OperationBooking.operation_id))))
    running = await session.scalar(
        select(func.count()).select_from(JobOperation).where(JobOperation.status == "running")
    )
    return Check(
        not problems,
        {
            "capacity_drift": len(problems),
            "examples": problems[:5],
            "booked_operations": int(booked or 0),
            "running_operations": int(running or 0),
        },
    )


def register() -> None:
    DETAILED_SECTIONS["shopfloor"] = shopfloor_section
