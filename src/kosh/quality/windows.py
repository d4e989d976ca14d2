"""Planned preventive maintenance windows and the maintenance calendar.

`plan_window` puts a plan's machine into maintenance on whole days and, unless told not
to, reserves the machine's capacity for them through the shop floor
(`shopfloor_service.reserve_machine`): from that moment the load view shows the lower
capacity on those days and the planner refuses to plan into it; bookings that no longer
fit are taken off the plan (answered as `displaced`). `cancel_window` gives the capacity
back. `calendar` lays out, per day, the windows and the due dates of the day plans
(projected every N days), and where run-hour plans stand, for the month / week pages.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import transactional, utcnow
from kosh.core.errors import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    field_error,
)
from kosh.quality import metrics
from kosh.quality.models import MaintenancePlan, MaintenanceWindow
from kosh.shopfloor import service as shopfloor_service

log = structlog.get_logger(__name__)
MAX_CALENDAR_DAYS = 42  # six weeks: a month view padded to whole weeks
MAX_WINDOW_DAYS = 31


@dataclass(frozen=True)
class PlannedWindow:
    window: MaintenanceWindow
    displaced: list[int]


async def get_plan_or_raise(session: AsyncSession, plan_id: int) -> MaintenancePlan:
    plan = await session.get(MaintenancePlan, plan_id, populate_existing=True)
    if plan is None:
        raise NotFoundError(f"No maintenance plan {plan_id}.", code="plan_not_found")
    return plan


@transactional
async def plan_window(
    session: AsyncSession,
    *,
    plan_id: int,
    first_day: date,
    last_day: date,
    reserve: bool = True,
) -> PlannedWindow:
    """Plan a preventive window of a plan's machine on [first_day, last_day]. Rules: the
    plan exists (404 plan_not_found) and is active (422 plan_inactive); the window starts
    today or later and spans 1 to 31 days (422); with `reserve`, the machine's capacity on
    those days is reserved at once (operations that no longer fit are answered as
    `displaced`). Audited."""
    plan = await get_plan_or_raise(session, plan_id)
    if not plan.active:
        raise RuleViolationError(
            f"Plan {plan.id} is inactive.",
            code="plan_inactive",
            errors=[field_error(["plan_id"], "inactive")],
        )
    if last_day < first_day or (last_day - first_day).days >= MAX_WINDOW_DAYS:
        raise ValidationError(
            "A window ends on or after its start, within 31 days.",
            errors=[field_error(["last_day"], "on or after first_day, within 31 days")],
        )
    if first_day < utcnow().date():
        raise ValidationError(
            "A window starts today or later.", errors=[field_error(["first_day"], "today or later")]
        )
    window = MaintenanceWindow(
        plan_id=plan.id,
        machine_id=plan.machine_id,
        first_day=first_day,
        last_day=last_day,
        reserved=reserve,
        reference=f"PMW-{secrets.token_hex(8)}",  # until the id is known
        created_by=current_actor().name,
    )
    session.add(window)
    await session.flush()
    window.reference = f"PMW-{window.id:06d}"
    displaced: list[int] = []
    if reserve:
        change = await shopfloor_service.reserve_machine(
            session,
            machine_id=plan.machine_id,
            first_day=first_day,
            last_day=last_day,
            reference=window.reference,
        )
        displaced = change.displaced
    await session.flush()
    await audit.record(
        session,
        action="quality.window.plan",
        entity_type="maintenance_window",
        entity_id=window.reference,
        after={
            "plan_id": plan.id,
            "first_day": first_day.isoformat(),
            "last_day": last_day.isoformat(),
            "reserved": reserve,
            "displaced_operations": displaced,
        },
    )
    metrics.WINDOWS.labels(action="plan").inc()
    log.info(
        "maintenance_window_planned",
        window=window.reference,
        machine_id=plan.machine_id,
        reserved=reserve,
        displaced=len(displaced),
    )
    return PlannedWindow(window=window, displaced=displaced)


@transactional
async def cancel_window(session: AsyncSession, *, window_id: int) -> MaintenanceWindow:
    """Cancel a planned window; its reserved capacity comes back at once. Rules: the
    window exists (404 window_not_found) and is not cancelled yet (409
    window_cancelled). Audited."""
    window = await session.get(MaintenanceWindow, window_id, populate_existing=True)
    if window is None:
        raise NotFoundError(f"No maintenance window {window_id}.", code="window_not_found")
    if window.cancelled_at is not None:
        raise ConflictError(
            f"Window {window.reference} is cancelled already.", code="window_cancelled"
        )
    window.cancelled_at = utcnow()
    if window.reserved:
        await shopfloor_service.release_machine(session, reference=window.reference)
    await session.flush()
    await audit.record(
        session,
        action="quality.window.cancel",
        entity_type="maintenance_window",
        entity_id=window.reference,
        before={"first_day": window.first_day.isoformat(), "reserved": window.reserved},
    )
    metrics.WINDOWS.labels(action="cancel").inc()
    log.info("maintenance_window_cancelled", window=window.reference)
    return window


# --- the calendar -----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    kind: str  # "window", "due", "overdue"
    machine_code: str
    title: str
    plan_id: int
    window_id: int | None = None
    reserved: bool = False
    first: bool = False  # the window's first day shown (where it can be cancelled)


@dataclass
class Day:
    day: date
    entries: list[Entry] = field(default_factory=list)

    @property
    def weekday(self) -> str:
        return self.day.strftime("%a")


def calendar_span(view: str, anchor: date) -> tuple[date, date]:
    """[start, end] of a week (Monday first) or of a month padded to whole weeks."""
    if view == "week":
        start = anchor - timedelta(days=anchor.weekday())
        return start, start + timedelta(days=6)
    first = anchor.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    start = first - timedelta(days=first.weekday())
    end = following - timedelta(days=1)
    return start, end + timedelta(days=6 - end.weekday())


async def calendar(
    session: AsyncSession, *, start: date, end: date, today: date | None = None
) -> list[Day]:
    """The days [start, end] (at most six weeks) with each day's windows and due dates.
    A day plan's next due date repeats every N days; a due date before today still
    open shows on today as overdue."""
    today = today or utcnow().date()
    end = min(end, start + timedelta(days=MAX_CALENDAR_DAYS - 1))
    days = {start + timedelta(n): Day(start + timedelta(n)) for n in range((end - start).days + 1)}
    plans = list(
        await session.scalars(
            select(MaintenancePlan)
            .where(MaintenancePlan.active.is_(True))
            .order_by(MaintenancePlan.id)
        )
    )
    codes: dict[int, str] = {}

    async def code_of(machine_id: int) -> str:
        if machine_id not in codes:
            machine = await shopfloor_service.get_machine_or_raise(session, machine_id)
            codes[machine_id] = machine.asset_number
        return codes[machine_id]

    for plan in plans:
        machine_code = await code_of(plan.machine_id)
        if plan.every_days is None or plan.next_due_on is None:
            continue
        due = plan.next_due_on
        if due < today and today in days:
            days[today].entries.append(
                Entry("overdue", machine_code, f"{plan.title} (due {due})", plan.id)
            )
        while due <= end:
            if due >= start and due >= today:
                days[due].entries.append(Entry("due", machine_code, plan.title, plan.id))
            due += timedelta(days=plan.every_days)
    windows = await session.scalars(
        select(MaintenanceWindow)
        .where(
            MaintenanceWindow.cancelled_at.is_(None),
            MaintenanceWindow.first_day <= end,
            MaintenanceWindow.last_day >= start,
        )
        .order_by(MaintenanceWindow.first_day, MaintenanceWindow.id)
    )
    for window in list(windows):
        machine_code = await code_of(window.machine_id)
        day = max(window.first_day, start)
        while day <= min(window.last_day, end):
            days[day].entries.append(
                Entry(
                    "window",
                    machine_code,
                    f"Maintenance window {window.reference}",
                    window.plan_id,
                    window_id=window.id,
                    reserved=window.reserved,
                    first=day == max(window.first_day, start),
                )
            )
            day += timedelta(days=1)
    return list(days.values())
