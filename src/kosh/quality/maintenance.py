"""Maintenance: preventive plans per machine (every N days, or every N run hours counted
from the shop floor's time logs on the machine's work centre), the worker job that opens
a plan's ticket when it falls due, and spare parts consumed on a ticket.

Exactly once: a due plan is claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL (a
second worker skips it; on SQLite BEGIN IMMEDIATE serialises the workers and the due
check is repeated under the lock), and `UNIQUE (plan_id, due_on)` on tickets stands
behind both: a plan's ticket for one due date can exist only once.

Spare parts leave stock FIFO from the warehouse's storage through the stock primitives,
as `consume` ledger rows whose reference is the ticket number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import structlog
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.core import audit
from kosh.core.db import transactional, utcnow
from kosh.core.errors import ConflictError, RuleViolationError, ValidationError, field_error
from kosh.locations import service as location_service
from kosh.quality import metrics, tickets
from kosh.quality.links import Links
from kosh.quality.models import MaintenancePlan, Ticket
from kosh.shopfloor import queries as shopfloor_queries
from kosh.shopfloor import service as shopfloor_service
from kosh.stock import fifo, movements

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PlanStatus:
    plan: MaintenancePlan
    machine_code: str
    run_hours: float | None
    due: bool
    overdue: bool


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@transactional
async def create_plan(
    session: AsyncSession,
    *,
    machine_code: str,
    title: str = "",
    every_days: int | None = None,
    every_run_hours: int | None = None,
    priority: str = "normal",
) -> MaintenancePlan:
    """A preventive plan. Rules: the machine exists (404 machine_not_found); exactly one
    of `every_days` / `every_run_hours`, each > 0 (422 interval_required). A day plan is
    first due `every_days` from today. Audited."""
    if (every_days is None) == (every_run_hours is None):
        raise ValidationError(
            "Give every_days or every_run_hours (one of them).",
            code="interval_required",
            errors=[field_error(["every_days"], "exactly one of every_days, every_run_hours")],
        )
    for name, value in (("every_days", every_days), ("every_run_hours", every_run_hours)):
        if value is not None and value <= 0:
            raise ValidationError(
                "An interval is at least 1.", errors=[field_error([name], "at least 1")]
            )
    tickets.check_priority(priority)
    machine = await shopfloor_service.get_machine_by_asset_or_raise(session, machine_code)
    now = utcnow()
    plan = MaintenancePlan(
        machine_id=machine.id,
        title=title.strip() or f"Preventive maintenance {machine.asset_number}",
        every_days=every_days,
        every_run_hours=every_run_hours,
        priority=priority,
        last_done_at=now,
        next_due_on=now.date() + timedelta(days=every_days) if every_days else None,
    )
    session.add(plan)
    await session.flush()
    await audit.record(
        session,
        action="quality.plan.create",
        entity_type="maintenance_plan",
        entity_id=plan.id,
        after={
            "machine_id": machine.id,
            "every_days": every_days,
            "every_run_hours": every_run_hours,
        },
    )
    return plan


async def _run_hours(session: AsyncSession, plan: MaintenancePlan) -> float:
    machine = await shopfloor_service.get_machine_or_raise(session, plan.machine_id)
    minutes = await shopfloor_queries.run_minutes_since(
        session, machine.work_centre_id, plan.last_done_at
    )
    return minutes / 60


async def _due_on(session: AsyncSession, plan: MaintenancePlan, today: date) -> date | None:
    """The due date this plan's next ticket is for, or None when it is not due."""
    if not plan.active:
        return None
    if plan.every_days is not None:
        return plan.next_due_on if plan.next_due_on and plan.next_due_on <= today else None
    if plan.every_run_hours is not None and await _run_hours(session, plan) >= plan.every_run_hours:
        return today
    return None


async def plan_statuses(session: AsyncSession, *, today: date | None = None) -> list[PlanStatus]:
    """Every plan with its machine, run hours so far, and whether it is due or overdue
    (a day plan past its date; the due / overdue list of the maintenance page)."""
    today = today or utcnow().date()
    answer = []
    plans = await session.scalars(select(MaintenancePlan).order_by(MaintenancePlan.id))
    for plan in plans:
        machine = await shopfloor_service.get_machine_or_raise(session, plan.machine_id)
        hours = await _run_hours(session, plan) if plan.every_run_hours else None
        due = await _due_on(session, plan, today)
        answer.append(
            PlanStatus(
                plan=plan,
                machine_code=machine.asset_number,
                run_hours=round(hours, 2) if hours is not None else None,
                due=due is not None,
                overdue=due is not None and due < today,
            )
        )
    return answer


async def candidate_plan_ids(session: AsyncSession, *, today: date) -> list[int]:
    """Plans that may be due: day plans past their date, and every run-hour plan."""
    rows = await session.scalars(
        select(MaintenancePlan.id)
        .where(
            MaintenancePlan.active.is_(True),
            or_(
                MaintenancePlan.next_due_on <= today,
                MaintenancePlan.every_run_hours.is_not(None),
            ),
        )
        .order_by(MaintenancePlan.id)
    )
    return list(rows)


@transactional
async def open_if_due(session: AsyncSession, *, plan_id: int, today: date) -> Ticket | None:
    """Open the plan's ticket if the plan is due and no other worker holds it (SKIP
    LOCKED); advance the plan. None when not due or taken. The unique (plan, due date)
    makes a second ticket impossible even if both engines' locks were bypassed."""
    query = select(MaintenancePlan).where(MaintenancePlan.id == plan_id)
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    plan = await session.scalar(query.execution_options(populate_existing=True))
    if plan is None:
        return None
    due = await _due_on(session, plan, today)
    if due is None:
        return None
    machine = await shopfloor_service.get_machine_or_raise(session, plan.machine_id)
    try:
        async with session.begin_nested():
            ticket = await tickets.open_ticket(
                session,
                kind="maintenance",
                title=plan.title,
                priority=plan.priority,
                description=f"Preventive maintenance due {due.isoformat()}.",
                links=Links(machine_code=machine.asset_number),
                plan_id=plan.id,
                due_on=due,
            )
    except IntegrityError:
        log.info("maintenance_plan_taken", plan_id=plan.id, due_on=due.isoformat())
        return None
    plan.last_done_at = utcnow()
    if plan.every_days:
        plan.next_due_on = max(due, today) + timedelta(days=plan.every_days)
    plan.version += 1
    await session.flush()
    metrics.PLANS_DUE.inc()
    log.info("maintenance_ticket_due", plan_id=plan.id, ticket=ticket.number)
    return ticket


async def open_due_tickets(session: AsyncSession, *, today: date | None = None) -> list[str]:
    """The worker job: one transaction per due plan; answers the ticket numbers made."""
    today = today or utcnow().date()
    made = []
    for plan_id in await candidate_plan_ids(session, today=today):
        await session.rollback()  # end the read transaction before the write one
        ticket = await open_if_due(session, plan_id=plan_id, today=today)
        if ticket is not None:
            made.append(ticket.number)
    return made


@transactional
async def consume_spares(
    session: AsyncSession,
    *,
    ticket_id: int,
    part_number: str,
    qty: int,
    warehouse_id: int,
) -> list[movements.MovedLine]:
    """Spare parts used on a maintenance ticket leave stock FIFO from the warehouse's
    storage (ledger kind `consume`, reference the ticket number). Rules: the ticket exists
    (404) and is a maintenance ticket that is not done (422 ticket_kind / 409
    ticket_done); the part (404) and warehouse (404) exist; not enough is 409
    insufficient_stock with `available`; nothing changes then."""
    ticket = await tickets.lock_ticket(session, ticket_id)
    if ticket.kind != "maintenance":
        raise RuleViolationError(
            f"{ticket.number} is not a maintenance ticket.", code="ticket_kind"
        )
    if ticket.category == "done":
        raise ConflictError(f"{ticket.number} is done.", code="ticket_done")
    part = await part_service.get_part_by_number_or_raise(session, part_number)
    warehouse = await location_service.get_warehouse_or_raise(session, warehouse_id)
    lines = await fifo.take_fifo(
        session,
        part_id=part.id,
        warehouse_id=warehouse.id,
        qty=qty,
        to_location_id=None,
        kind="consume",
        reference=ticket.number,
        reason="spare parts",
    )
    await audit.record(
        session,
        action="quality.ticket.spares",
        entity_type="ticket",
        entity_id=ticket.number,
        after={
            "part_number": part.number,
            "qty": qty,
            "lines": [{"pcn": line.pcn, "qty": line.qty} for line in lines],
        },
    )
    metrics.QUALITY_MOVES.labels(action="spares").inc()
    return lines
