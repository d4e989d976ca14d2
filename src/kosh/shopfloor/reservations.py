"""Machine reservations: a machine kept for a planned maintenance window on whole days.
From the moment it is reserved, its work centre's capacity on those days counts one
machine fewer (`kosh.shopfloor.downtime`), so the load view shows the lower capacity and
the planner refuses to plan into it (409 over_capacity, as on any full day); bookings that
no longer fit are taken off the plan, newest first, and answered as `displaced`.
Releasing the reservation gives the capacity back.

Both verbs join the caller's transaction (never commit): the maintenance feature reserves
from its own use case. Lock order: the work centre (capacity's order, step 3)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import utcnow
from kosh.core.errors import ValidationError, field_error
from kosh.shopfloor import capacity, metrics
from kosh.shopfloor.models import MachineReservation
from kosh.shopfloor.workcentres import CapacityChange, get_machine_or_raise

MAX_WINDOW_DAYS = 31


async def reserve_machine(
    session: AsyncSession, *, machine_id: int, first_day: date, last_day: date, reference: str
) -> CapacityChange:
    """Reserve a machine on [first_day, last_day]. Rules: the machine exists (404
    machine_not_found); the window starts today or later, ends on or after its start and
    spans at most 31 days (422). Capacity on those days drops at once; operations that no
    longer fit are taken off the plan and answered as `displaced`. Audited."""
    if last_day < first_day or (last_day - first_day).days >= MAX_WINDOW_DAYS:
        raise ValidationError(
            "A window ends on or after its start, within 31 days.",
            errors=[field_error(["last_day"], "on or after first_day, within 31 days")],
        )
    if first_day < capacity.today():
        raise ValidationError(
            "A window starts today or later.",
            errors=[field_error(["first_day"], "today or later")],
        )
    machine = await get_machine_or_raise(session, machine_id)
    await capacity.lock_work_centres(session, [machine.work_centre_id])
    reservation = MachineReservation(
        machine_id=machine.id,
        work_centre_id=machine.work_centre_id,
        first_day=first_day,
        last_day=last_day,
        reference=reference,
        created_by=current_actor().name,
    )
    session.add(reservation)
    await session.flush()
    displaced = await capacity.refresh_capacity(session, [machine.work_centre_id])
    metrics.DISPLACED.inc(len(displaced))
    await audit.record(
        session,
        action="machine.reserve",
        entity_type="machine",
        entity_id=machine.id,
        after={
            "first_day": first_day.isoformat(),
            "last_day": last_day.isoformat(),
            "reference": reference,
            "displaced_operations": displaced,
        },
    )
    return CapacityChange(displaced=displaced)


async def release_machine(session: AsyncSession, *, reference: str) -> int:
    """Release the active reservations made under `reference` (their capacity comes back
    from now on); answers how many were released (0: nothing to do). Audited."""
    rows = list(
        await session.scalars(
            select(MachineReservation)
            .where(
                MachineReservation.reference == reference,
                MachineReservation.released_at.is_(None),
            )
            .order_by(MachineReservation.id)
        )
    )
    if not rows:
        return 0
    centres = sorted({row.work_centre_id for row in rows})
    await capacity.lock_work_centres(session, centres)
    await session.execute(
        update(MachineReservation)
        .where(MachineReservation.id.in_([row.id for row in rows]))
        .values(released_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await capacity.refresh_capacity(session, centres)
    for row in rows:
        await audit.record(
            session,
            action="machine.release",
            entity_type="machine",
            entity_id=row.machine_id,
            before={"reference": reference, "first_day": row.first_day.isoformat()},
        )
    return len(rows)
