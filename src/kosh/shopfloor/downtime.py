"""Planned downtime as capacity sees it: how many of a work centre's available machines
are reserved (`machine_reservations`, a maintenance window) on each day. Read-only, no
locks; `kosh.shopfloor.capacity` subtracts these from the machines it counts."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.shopfloor.models import AVAILABLE_STATUSES, Machine, MachineReservation


async def reserved_units(
    session: AsyncSession, work_centre_ids: Collection[int], start: date, end: date
) -> dict[tuple[int, date], int]:
    """(work centre id, day) -> machines reserved that day among those currently running
    or idle (a machine already down is not taken off twice); days without any are left
    out."""
    if not work_centre_ids or end < start:
        return {}
    rows = await session.execute(
        select(
            MachineReservation.work_centre_id,
            MachineReservation.machine_id,
            MachineReservation.first_day,
            MachineReservation.last_day,
        )
        .join(Machine, Machine.id == MachineReservation.machine_id)
        .where(
            MachineReservation.work_centre_id.in_(sorted(set(work_centre_ids))),
            MachineReservation.released_at.is_(None),
            MachineReservation.first_day <= end,
            MachineReservation.last_day >= start,
            Machine.status.in_(AVAILABLE_STATUSES),
        )
    )
    machines: dict[tuple[int, date], set[int]] = {}
    for wc_id, machine_id, first, last in rows:
        day = max(first, start)
        while day <= min(last, end):
            machines.setdefault((wc_id, day), set()).add(machine_id)
            day += timedelta(days=1)
    return {key: len(ids) for key, ids in machines.items()}
