"""The ticket engine: one table, three kinds (maintenance, ncr, replacement), a number per
kind, a workflow per kind held as data (`kosh.quality.workflows`), links to what a ticket
concerns, comments and an immutable status history (the SLA clocks are computed from it).

A maintenance ticket opened with `machine_down` sets its machine down through the shop
floor's `change_machine_status` inside the ticket's own transaction (the work centre's
capacity drops at once); moving it to a `done` status puts the machine back to the status
it had, and reopening sets it down again. Every change is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth import service as auth_service
from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import transactional, utcnow
from kosh.core.errors import ConflictError, NotFoundError, ValidationError, field_error
from kosh.quality import metrics, workflows
from kosh.quality.links import Links, apply_links
from kosh.quality.models import PRIORITIES, Ticket, TicketEvent, TicketSequence
from kosh.shopfloor import service as shopfloor_service
from kosh.stock import service as stock_service

PREFIXES = {"maintenance": "MNT", "ncr": "NCR", "replacement": "REP", "rma": "RMA"}
DIGITS = 6


# --- numbering and lookups ------------------------------------------------------------


async def next_number(session: AsyncSession, kind: str) -> str:
    """The next number of a kind (MNT-000001 ...). The counter row (seeded by the
    migration, created when missing) stays locked until the caller's transaction ends:
    no duplicates, no gaps."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(TicketSequence).values(kind=kind, last_value=1)
    value = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=[TicketSequence.kind],
            set_={"last_value": TicketSequence.last_value + 1},
        ).returning(TicketSequence.last_value)
    )
    return f"{PREFIXES[kind]}-{int(value or 0):0{DIGITS}d}"


async def get_ticket_or_raise(session: AsyncSession, ticket_id: int) -> Ticket:
    ticket = await session.get(Ticket, ticket_id, populate_existing=True)
    if ticket is None:
        raise NotFoundError(f"No ticket with id {ticket_id}.", code="ticket_not_found")
    return ticket


async def get_ticket_by_number(session: AsyncSession, number: str) -> Ticket | None:
    found = await session.scalar(select(Ticket).where(Ticket.number == number.strip()))
    return found


async def lock_ticket(session: AsyncSession, ticket_id: int, version: int | None = None) -> Ticket:
    """The ticket, locked (PostgreSQL) so changes of one ticket queue; a given `version`
    must be current (409 stale_version)."""
    ticket = await session.scalar(
        select(Ticket)
        .where(Ticket.id == ticket_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if ticket is None:
        raise NotFoundError(f"No ticket with id {ticket_id}.", code="ticket_not_found")
    if version is not None and ticket.version != version:
        raise ConflictError(
            f"Ticket {ticket.number} was changed meanwhile (version {ticket.version}).",
            code="stale_version",
            details={"version": ticket.version},
        )
    return ticket


async def events_of(session: AsyncSession, ticket_id: int) -> list[TicketEvent]:
    return list(
        await session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
    )


async def list_tickets(
    session: AsyncSession,
    *,
    kind: str | None = None,
    status: str | None = None,
    category: str | None = None,
    priority: str | None = None,
    machine_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Ticket], int]:
    """Tickets, newest first, filtered."""
    query = select(Ticket)
    for column, value in (
        (Ticket.kind, kind),
        (Ticket.status, status),
        (Ticket.category, category),
        (Ticket.priority, priority),
        (Ticket.machine_id, machine_id),
    ):
        if value is not None:
            query = query.where(column == value)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Ticket.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)


def check_priority(priority: str) -> str:
    if priority not in PRIORITIES:
        raise ValidationError(
            f"Unknown priority {priority}.",
            errors=[field_error(["priority"], f"one of {', '.join(PRIORITIES)}")],
        )
    return priority


# --- helpers that join the caller's transaction ---------------------------------------


async def _set_machine(session: AsyncSession, ticket: Ticket, *, down: bool) -> None:
    """Follow the machine: down while the ticket is not done, back to its prior status
    once no machine-down ticket of it is open any more."""
    if not ticket.machine_down or ticket.machine_id is None:
        return
    machine = await shopfloor_service.get_machine_or_raise(session, ticket.machine_id)
    if down:
        if machine.status not in ("down", "maintenance"):
            ticket.machine_prior_status = machine.status
        elif ticket.machine_prior_status is None:  # down for another ticket: its prior status
            ticket.machine_prior_status = await session.scalar(
                select(Ticket.machine_prior_status)
                .where(
                    Ticket.machine_id == machine.id,
                    Ticket.machine_down.is_(True),
                    Ticket.machine_prior_status.is_not(None),
                    Ticket.id != ticket.id,
                )
                .order_by(Ticket.id.desc())
                .limit(1)
            )
        await shopfloor_service.change_machine_status(
            session, machine_id=machine.id, status="down", reason=f"{ticket.number}: {ticket.title}"
        )
    elif not await _other_down_tickets(session, ticket):
        await shopfloor_service.change_machine_status(
            session,
            machine_id=machine.id,
            status=ticket.machine_prior_status or "idle",
            reason=f"{ticket.number} {ticket.status}",
        )


async def _other_down_tickets(session: AsyncSession, ticket: Ticket) -> bool:
    """Another machine-down ticket of the machine is still not done: it stays down."""
    found = await session.scalar(
        select(Ticket.id).where(
            Ticket.machine_id == ticket.machine_id,
            Ticket.machine_down.is_(True),
            Ticket.category != "done",
            Ticket.id != ticket.id,
        )
    )
    return found is not None


def _event(ticket: Ticket, kind: str, **fields: object) -> TicketEvent:
    return TicketEvent(
        ticket_id=ticket.id, kind=kind, at=utcnow(), actor_name=current_actor().name, **fields
    )


def snapshot(ticket: Ticket) -> dict[str, object]:
    return {
        "kind": ticket.kind,
        "number": ticket.number,
        "title": ticket.title,
        "priority": ticket.priority,
        "status": ticket.status,
        "assignee_user_id": ticket.assignee_user_id,
        "assignee_department_id": ticket.assignee_department_id,
        "machine_id": ticket.machine_id,
        "machine_down": ticket.machine_down,
        "lot_id": ticket.lot_id,
        "sales_order_id": ticket.sales_order_id,
        "cause": ticket.cause,
    }


async def open_ticket(
    session: AsyncSession,
    *,
    kind: str,
    title: str,
    priority: str = "normal",
    description: str = "",
    links: Links | None = None,
    machine_down: bool = False,
    cause: str = "",
    assignee_user_id: int | None = None,
    assignee_department_code: str | None = None,
    plan_id: int | None = None,
    due_on: date | None = None,
    return_id: int | None = None,
) -> Ticket:
    """Create a ticket inside the caller's transaction (`create_ticket` is the use case)."""
    workflows.check_kind(kind)
    check_priority(priority)
    if not title.strip():
        raise ValidationError("A title is required.", errors=[field_error(["title"], "required")])
    if machine_down and kind != "maintenance":
        raise ValidationError(
            "Only maintenance tickets set a machine down.",
            code="machine_down_not_maintenance",
            errors=[field_error(["machine_down"], "only for maintenance tickets")],
        )
    links = links or Links()
    if machine_down and not links.machine_code:
        raise ValidationError(
            "Say which machine is down.",
            code="machine_required",
            errors=[field_error(["links", "machine_code"], "required with machine_down")],
        )
    workflow = await workflows.get_workflow(session, kind)
    ticket = Ticket(
        kind=kind,
        number=await next_number(session, kind),
        title=title.strip(),
        description=description,
        priority=priority,
        status=workflow.initial,
        category=workflow.category_of(workflow.initial),
        machine_down=machine_down,
        cause=cause,
        created_by=current_actor().name,
        opened_at=utcnow(),
        plan_id=plan_id,
        due_on=due_on,
        return_id=return_id,
    )
    if assignee_user_id is not None:
        ticket.assignee_user_id = (
            await auth_service.get_user_or_raise(session, assignee_user_id)
        ).id
    if assignee_department_code:
        department = await shopfloor_service.get_department_by_code_or_raise(
            session, assignee_department_code, loc="assignee_department_code"
        )
        ticket.assignee_department_id = department.id
    await apply_links(session, ticket, links)
    session.add(ticket)
    await session.flush()
    session.add(_event(ticket, "status", to_status=ticket.status, category=ticket.category))
    await _set_machine(session, ticket, down=True)
    await audit.record(
        session,
        action="quality.ticket.open",
        entity_type="ticket",
        entity_id=ticket.number,
        after=snapshot(ticket),
    )
    metrics.TICKETS_OPENED.labels(kind=kind).inc()
    return ticket


@transactional
async def create_ticket(
    session: AsyncSession,
    *,
    kind: str,
    title: str,
    priority: str = "normal",
    description: str = "",
    links: Links | None = None,
    machine_down: bool = False,
    cause: str = "",
    assignee_user_id: int | None = None,
    assignee_department_code: str | None = None,
) -> Ticket:
    """Open a ticket. Rules: kind and priority known (422), a title (422); links name
    existing rows (404 machine_not_found, pcn_not_found, ...); `machine_down` only on a
    maintenance ticket with a machine (422), and it sets the machine down at once, lowering
    its work centre's capacity (operations that no longer fit are taken off the plan)."""
    return await open_ticket(
        session,
        kind=kind,
        title=title,
        priority=priority,
        description=description,
        links=links,
        machine_down=machine_down,
        cause=cause,
        assignee_user_id=assignee_user_id,
        assignee_department_code=assignee_department_code,
    )


async def move_ticket(session: AsyncSession, ticket: Ticket, to: str, note: str = "") -> None:
    """Move a locked ticket along its workflow inside the caller's transaction."""
    workflow = await workflows.get_workflow(session, ticket.kind)
    if to not in workflow.targets(ticket.status):
        raise ConflictError(
            f"Ticket {ticket.number} cannot go from {ticket.status} to {to}.",
            code="transition_not_allowed",
            errors=[field_error(["to"], f"allowed: {', '.join(workflow.targets(ticket.status))}")],
            details={"status": ticket.status, "allowed": workflow.targets(ticket.status)},
        )
    before = snapshot(ticket)
    was = ticket.category
    now = utcnow()
    ticket.status = to
    ticket.category = workflow.category_of(to)
    if ticket.responded_at is None:
        ticket.responded_at = now
    if ticket.category == "done":
        ticket.resolved_at = ticket.resolved_at or now
    else:
        ticket.resolved_at = None
    ticket.version += 1
    session.add(
        _event(
            ticket,
            "status",
            from_status=before["status"],
            to_status=to,
            category=ticket.category,
            body=note,
        )
    )
    if was != "done" and ticket.category == "done":
        await _set_machine(session, ticket, down=False)
    elif was == "done" and ticket.category != "done":
        await _set_machine(session, ticket, down=True)
    await session.flush()
    await audit.record(
        session,
        action="quality.ticket.transition",
        entity_type="ticket",
        entity_id=ticket.number,
        before=before,
        after=snapshot(ticket),
    )
    metrics.TRANSITIONS.labels(kind=ticket.kind, to=ticket.category).inc()


@transactional
async def transition(
    session: AsyncSession, *, ticket_id: int, to: str, version: int | None = None, note: str = ""
) -> Ticket:
    """Move a ticket to status `to`. Rules: the ticket exists (404 ticket_not_found), the
    version is current (409 stale_version), the workflow allows the move (409
    transition_not_allowed, listing what is allowed). Entering a done status puts a
    machine it set down back; leaving one sets it down again."""
    ticket = await lock_ticket(session, ticket_id, version)
    await move_ticket(session, ticket, to, note)
    return ticket


@transactional
async def comment(session: AsyncSession, *, ticket_id: int, body: str) -> TicketEvent:
    """Add a comment (422 when empty). Audited."""
    if not body.strip():
        raise ValidationError("A comment needs text.", errors=[field_error(["body"], "required")])
    ticket = await lock_ticket(session, ticket_id)
    event = _event(ticket, "comment", body=body.strip())
    session.add(event)
    await session.flush()
    await audit.record(
        session,
        action="quality.ticket.comment",
        entity_type="ticket",
        entity_id=ticket.number,
        after={"event_id": event.id},
    )
    return event


@transactional
async def update_ticket(
    session: AsyncSession,
    *,
    ticket_id: int,
    version: int | None = None,
    title: str | None = None,
    description: str | None = None,
    priority: str | None = None,
    cause: str | None = None,
    root_cause: str | None = None,
    corrective_action: str | None = None,
    assignee_user_id: int | None = None,
) -> Ticket:
    """Edit a ticket's text, priority, cause, root cause and corrective action, or its
    assignee (404 for an unknown user; 409 stale_version). Audited with before/after."""
    ticket = await lock_ticket(session, ticket_id, version)
    before = snapshot(ticket) | {"root_cause": ticket.root_cause}
    if title is not None:
        if not title.strip():
            raise ValidationError(
                "A title is required.", errors=[field_error(["title"], "required")]
            )
        ticket.title = title.strip()
    if priority is not None:
        ticket.priority = check_priority(priority)
    for name, value in (
        ("description", description),
        ("cause", cause),
        ("root_cause", root_cause),
        ("corrective_action", corrective_action),
    ):
        if value is not None:
            setattr(ticket, name, value)
    if assignee_user_id is not None:
        ticket.assignee_user_id = (
            await auth_service.get_user_or_raise(session, assignee_user_id)
        ).id
    ticket.version += 1
    await session.flush()
    await audit.record(
        session,
        action="quality.ticket.update",
        entity_type="ticket",
        entity_id=ticket.number,
        before=before,
        after=snapshot(ticket) | {"root_cause": ticket.root_cause},
    )
    return ticket


def numbers(tickets: Sequence[Ticket]) -> list[str]:
    return [t.number for t in tickets]


@transactional
async def raise_from_scan(
    session: AsyncSession,
    *,
    code: str,
    kind: str,
    title: str,
    priority: str = "normal",
    description: str = "",
    machine_down: bool = False,
    cause: str = "",
) -> Ticket:
    """Raise a ticket from a scanned label: a machine's asset number links the machine, a
    PCN links the lot (and its part). Rules: the code names a machine or a PCN (404
    label_not_found); otherwise as `create_ticket`."""
    code = code.strip()
    links: Links
    try:
        await shopfloor_service.get_machine_by_asset_or_raise(session, code)
        links = Links(machine_code=code)
    except NotFoundError:
        if await stock_service.get_lot_by_pcn(session, code) is None:
            raise NotFoundError(
                f"No machine or PCN {code}.",
                code="label_not_found",
                errors=[field_error(["code"], "no machine or PCN with this label")],
            ) from None
        links = Links(pcn=code)
    return await open_ticket(
        session,
        kind=kind,
        title=title,
        priority=priority,
        description=description,
        links=links,
        machine_down=machine_down,
        cause=cause,
    )
