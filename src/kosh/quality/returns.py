"""Customer returns (RMA) and replacement orders.

- `create_return` authorises units of a sales order coming back: per part, never more than
  the order shipped minus what earlier returns already took. Two clerks returning against
  one order queue on the order's guard row (`quality_return_guards`, locked FOR UPDATE on
  PostgreSQL; BEGIN IMMEDIATE on SQLite), and the sum is re-read under that lock.
- `receive` brings the units into a quarantine location as new PCNs (ledger `receive`,
  reference the RMA number), once (409 invalid_status for a second receipt).
- `inspect` decides per PCN: `restock` (quarantine -> a storage location), `scrap`, or
  `repair` (a production job for the part, the units kept in quarantine for it:
  `kosh.quality.repairs`); when every unit is decided the RMA is closed.
- `create_replacement_order` makes, from a replacement ticket, a zero-price draft sales
  order through the sales service (linked to the ticket; lines from its RMA by default).

A web order refunded in the shop proposes an RMA for its shipped refunded units, which the
returns desk confirms (kosh.quality.web_returns); a closed return notes RETURN_DECIDED with
its outcome, which the storefront sends to the shop as an order note.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.core import audit, events
from kosh.core.actor import current_actor
from kosh.core.db import transactional, utcnow
from kosh.core.errors import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    field_error,
)
from kosh.locations import service as location_service
from kosh.quality import metrics, repairs, tickets
from kosh.quality.models import Return, ReturnGuard, ReturnLine, Ticket
from kosh.sales import service as sales_service
from kosh.sales.models import SalesOrder
from kosh.stock import movements
from kosh.stock import queries as stock_queries
from kosh.stock import service as stock_service

OUTCOMES = ("refund", "replacement", "repair")
INSPECTIONS = ("restock", "scrap", "repair")


@dataclass(frozen=True)
class LineIn:
    part_number: str
    qty: int


@dataclass(frozen=True)
class InspectionIn:
    pcn: str
    qty: int
    outcome: str
    location_id: int | None = None


def undecided(line: ReturnLine) -> int:
    return line.qty - line.restocked_qty - line.scrapped_qty - line.repair_qty


async def get_return_or_raise(session: AsyncSession, return_id: int) -> Return:
    found = await session.get(Return, return_id, populate_existing=True)
    if found is None:
        raise NotFoundError(f"No return with id {return_id}.", code="return_not_found")
    return found


async def lines_of(session: AsyncSession, return_id: int) -> list[ReturnLine]:
    return list(
        await session.scalars(
            select(ReturnLine).where(ReturnLine.return_id == return_id).order_by(ReturnLine.id)
        )
    )


async def pcns_of(session: AsyncSession, rma: Return) -> dict[int, str]:
    """Return line id -> the PCN made for it on receipt (read from the stock ledger)."""
    received = await stock_queries.lot_totals_for_references(
        session, references=[rma.number], kinds=("receive",)
    )
    pcn = {row.lot_id: row.pcn for row in received}
    return {
        line.id: pcn[line.lot_id]
        for line in await lines_of(session, rma.id)
        if line.lot_id is not None and line.lot_id in pcn
    }


async def list_returns(
    session: AsyncSession, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Return], int]:
    query = select(Return)
    if status is not None:
        query = query.where(Return.status == status)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Return.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)


async def _lock_order_returns(session: AsyncSession, sales_order_id: int) -> None:
    """The order's guard row, created when missing and locked (PostgreSQL)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    await session.execute(
        dialect.insert(ReturnGuard)
        .values(sales_order_id=sales_order_id)
        .on_conflict_do_nothing(index_elements=["sales_order_id"])
    )
    await session.execute(
        select(ReturnGuard.sales_order_id)
        .where(ReturnGuard.sales_order_id == sales_order_id)
        .with_for_update()
    )


async def returned_by_line(session: AsyncSession, sales_order_id: int) -> dict[int, int]:
    """Units already authorised for return, per sales order line (a proposed RMA counts
    once the returns desk confirms it)."""
    rows = await session.execute(
        select(ReturnLine.sales_order_line_id, func.sum(ReturnLine.qty))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.sales_order_id == sales_order_id, Return.status != "proposed")
        .group_by(ReturnLine.sales_order_line_id)
    )
    return {line_id: int(total or 0) for line_id, total in rows}


def _allocate(
    order: SalesOrder, returned: dict[int, int], part_id: int, qty: int, index: int, number: str
) -> list[tuple[int, int]]:
    """Spread `qty` over the order's lines of the part (line order), within shipped -
    returned of each; 409 over_return with what is returnable otherwise."""
    lines = [line for line in order.lines if line.part_id == part_id]
    if not lines:
        raise RuleViolationError(
            f"Part {number} is not on sales order {order.number}.",
            code="part_not_on_order",
            errors=[field_error(["lines", index, "part_number"], "not on this order")],
        )
    room = [(line.id, line.qty_shipped - returned.get(line.id, 0)) for line in lines]
    returnable = sum(max(0, free) for _, free in room)
    if qty > returnable:
        raise ConflictError(
            f"Only {returnable} of {number} can be returned (shipped minus returned).",
            code="over_return",
            errors=[field_error(["lines", index, "qty"], f"at most {returnable}")],
            details={"part_number": number, "returnable": returnable, "requested": qty},
        )
    taken: list[tuple[int, int]] = []
    remaining = qty
    for line_id, free in room:
        take = min(remaining, max(0, free))
        if take:
            taken.append((line_id, take))
            returned[line_id] = returned.get(line_id, 0) + take
            remaining -= take
    return taken


@transactional
async def create_return(
    session: AsyncSession,
    *,
    sales_order_id: int,
    lines: Sequence[LineIn],
    reason: str,
    outcome: str = "refund",
) -> Return:
    """Authorise a return (RMA). Rules: the order exists (404 sales_order_not_found); a
    reason (422) and at least one line (422); a known outcome (422); each part is known
    (404 part_not_found) and on the order (422 part_not_on_order); per part never more
    than shipped minus already returned (409 over_return with `returnable`), also with
    two clerks at once (the order's guard row). Nothing is stored on any error."""
    if not reason.strip():
        raise ValidationError(
            "Say why it comes back.", errors=[field_error(["reason"], "required")]
        )
    if not lines:
        raise ValidationError("A return needs a line.", errors=[field_error(["lines"], "required")])
    if outcome not in OUTCOMES:
        raise ValidationError(
            f"Unknown outcome {outcome}.",
            errors=[field_error(["outcome"], f"one of {', '.join(OUTCOMES)}")],
        )
    order = await sales_service.get_order(session, sales_order_id)
    await _lock_order_returns(session, order.id)
    returned = await returned_by_line(session, order.id)
    allocated: list[tuple[int, int, int]] = []
    for index, line in enumerate(lines):
        part = await part_service.get_part_by_number_or_raise(session, line.part_number)
        for line_id, qty in _allocate(order, returned, part.id, line.qty, index, part.number):
            allocated.append((line_id, part.id, qty))
    rma = Return(
        number=await tickets.next_number(session, "rma"),
        sales_order_id=order.id,
        reason=reason.strip(),
        outcome=outcome,
        status="authorised",
        created_by=current_actor().name,
    )
    session.add(rma)
    await session.flush()
    for line_id, part_id, qty in allocated:
        session.add(
            ReturnLine(return_id=rma.id, sales_order_line_id=line_id, part_id=part_id, qty=qty)
        )
    await session.flush()
    await audit.record(
        session,
        action="quality.return.create",
        entity_type="return",
        entity_id=rma.number,
        after={
            "sales_order_id": order.id,
            "outcome": outcome,
            "lines": [{"line_id": a, "part_id": b, "qty": c} for a, b, c in allocated],
        },
    )
    metrics.QUALITY_MOVES.labels(action="return").inc()
    return rma


def outcome_note(rma: Return, lines: Sequence[ReturnLine]) -> str:
    restocked = sum(line.restocked_qty for line in lines)
    scrapped = sum(line.scrapped_qty for line in lines)
    return (
        f"Return {rma.number} received and inspected: {restocked} unit"
        f"{'' if restocked == 1 else 's'} restocked, {scrapped} scrapped."
    )


async def _lock_return(session: AsyncSession, return_id: int, status: str) -> Return:
    rma = await session.scalar(
        select(Return)
        .where(Return.id == return_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if rma is None:
        raise NotFoundError(f"No return with id {return_id}.", code="return_not_found")
    if rma.status != status:
        raise ConflictError(
            f"Return {rma.number} is {rma.status}; it must be {status}.",
            code="invalid_status",
            details={"status": rma.status},
        )
    return rma


@transactional
async def receive(session: AsyncSession, *, return_id: int, location_id: int) -> list[ReturnLine]:
    """Receive an authorised return into a quarantine location: one new PCN per line
    (ledger `receive`, reference the RMA number). Rules: the return exists (404) and is
    authorised (409 invalid_status: it is received once); the location is an active
    quarantine location (422 location_unusable)."""
    rma = await _lock_return(session, return_id, "authorised")
    location = await location_service.usable_location(session, location_id, kinds=("quarantine",))
    lines = await lines_of(session, rma.id)
    for line in lines:
        lot = await movements.receive_lot(
            session,
            part_id=line.part_id,
            qty=line.qty,
            location_id=location.id,
            reference=rma.number,
            reason="customer return",
        )
        line.lot_id = lot.id
    rma.status = "received"
    rma.location_id = location.id
    rma.received_at = utcnow()
    rma.version += 1
    await session.flush()
    await audit.record(
        session,
        action="quality.return.receive",
        entity_type="return",
        entity_id=rma.number,
        after={"location_id": location.id, "lots": [line.lot_id for line in lines]},
    )
    metrics.QUALITY_MOVES.labels(action="return_receive").inc()
    return lines


@transactional
async def inspect(
    session: AsyncSession, *, return_id: int, lines: Sequence[InspectionIn]
) -> Return:
    """Decide returned units: `restock` moves them from quarantine to an active storage
    location (`location_id`, required), `scrap` sends them to nowhere (reference the RMA
    number), `repair` plans a production job for the part and keeps the units in
    quarantine for it (409 repair_already_planned, 422 no_active_bom). Rules: the return
    exists (404) and is received (409 invalid_status); each PCN is one of its lines (422
    pcn_not_on_return); never more than still undecided on the line (409
    over_inspection). Closed when every unit is decided. All or nothing."""
    rma = await _lock_return(session, return_id, "received")
    if not lines:
        raise ValidationError(
            "Inspect at least one PCN.", errors=[field_error(["lines"], "required")]
        )
    own = await lines_of(session, rma.id)
    lot_ids = [line.lot_id for line in own if line.lot_id is not None]
    await movements.lock_lots(session, lot_ids)
    by_lot = {line.lot_id: line for line in own if line.lot_id is not None}
    assert rma.location_id is not None  # noqa: S101 - set by receive
    for index, item in enumerate(lines):
        if item.outcome not in INSPECTIONS:
            raise ValidationError(
                f"Unknown outcome {item.outcome}.",
                errors=[field_error(["lines", index, "outcome"], "restock, scrap or repair")],
            )
        lot = await stock_service.get_lot_by_pcn(session, item.pcn)
        line = by_lot.get(lot.id) if lot is not None else None
        if line is None or line.lot_id is None:
            raise RuleViolationError(
                f"PCN {item.pcn} is not on return {rma.number}.",
                code="pcn_not_on_return",
                errors=[field_error(["lines", index, "pcn"], "not on this return")],
            )
        left = undecided(line)
        if item.qty > left:
            raise ConflictError(
                f"Only {left} of PCN {item.pcn} are still to inspect.",
                code="over_inspection",
                errors=[field_error(["lines", index, "qty"], f"at most {left}")],
                details={"pcn": item.pcn, "left": left},
            )
        if item.outcome == "repair":
            await repairs.plan_repair(session, rma, line, qty=item.qty, pcn=item.pcn, index=index)
            continue
        to_id = None
        if item.outcome == "restock":
            if item.location_id is None:
                raise RuleViolationError(
                    "Say where restocked units go.",
                    code="location_required",
                    errors=[field_error(["lines", index, "location_id"], "required for restock")],
                )
            to_id = (
                await location_service.usable_location(
                    session,
                    item.location_id,
                    kinds=("storage",),
                    loc=f"lines.{index}.location_id",
                )
            ).id
            line.restocked_qty += item.qty
        else:
            line.scrapped_qty += item.qty
        await movements.move(
            session,
            lot_id=line.lot_id,
            from_location_id=rma.location_id,
            to_location_id=to_id,
            qty=item.qty,
            kind="transfer" if to_id else "scrap",
            reference=rma.number,
            reason=f"return inspection: {item.outcome}",
            part_id=line.part_id,
        )
    if all(undecided(line) == 0 for line in own):
        rma.status = "closed"
        # whoever the order came from hears the outcome (a web store as an order note)
        events.note(session, events.RETURN_DECIDED, [(rma.sales_order_id, outcome_note(rma, own))])
    rma.version += 1
    await session.flush()
    await audit.record(
        session,
        action="quality.return.inspect",
        entity_type="return",
        entity_id=rma.number,
        after={
            "status": rma.status,
            "lines": [{"pcn": i.pcn, "qty": i.qty, "outcome": i.outcome} for i in lines],
        },
    )
    return rma


@transactional
async def create_replacement_order(
    session: AsyncSession,
    *,
    ticket_id: int,
    lines: Sequence[LineIn] = (),
    warehouse_id: int | None = None,
) -> Ticket:
    """From a replacement ticket, a zero-price draft sales order for the customer, linked
    to the ticket. Rules: the ticket is a replacement ticket (422 ticket_kind) without an
    order yet (409 replacement_exists) and knows its sales order (422
    sales_order_required); lines default to its RMA's lines (422 lines_required when
    there is neither); the warehouse defaults to the original order's."""
    ticket = await tickets.lock_ticket(session, ticket_id)
    if ticket.kind != "replacement":
        raise RuleViolationError(
            f"{ticket.number} is not a replacement ticket.", code="ticket_kind"
        )
    if ticket.replacement_order_id is not None:
        raise ConflictError(
            f"{ticket.number} has a replacement order already.",
            code="replacement_exists",
            details={"sales_order_id": ticket.replacement_order_id},
        )
    if ticket.sales_order_id is None:
        raise RuleViolationError(
            f"{ticket.number} names no sales order.", code="sales_order_required"
        )
    original = await sales_service.get_order(session, ticket.sales_order_id)
    wanted = list(lines)
    if not wanted and ticket.return_id is not None:
        for line in await lines_of(session, ticket.return_id):
            part = await part_service.get_part_or_raise(session, line.part_id)
            wanted.append(LineIn(part_number=part.number, qty=line.qty))
    if not wanted:
        raise RuleViolationError(
            "Say what to replace.",
            code="lines_required",
            errors=[field_error(["lines"], "required: the ticket has no return")],
        )
    order = await sales_service.add_replacement_order(
        session,
        customer_id=original.customer_id,
        warehouse_id=warehouse_id or original.warehouse_id,
        lines=[sales_service.LineRequest(part_number=w.part_number, qty=w.qty) for w in wanted],
        notes=f"Replacement for {original.number} ({ticket.number}).",
    )
    ticket.replacement_order_id = order.id
    ticket.version += 1
    await session.flush()
    await audit.record(
        session,
        action="quality.ticket.replacement_order",
        entity_type="ticket",
        entity_id=ticket.number,
        after={"sales_order_id": order.id, "number": order.number},
    )
    return ticket
