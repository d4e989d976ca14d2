"""Non-conformance: containment and disposition as stock movements whose ledger reference
is the ticket number, each one transaction (all or nothing).

- `contain` moves all or part of a PCN from where it sits (storage first, then receiving
  and the floor) of one warehouse into a quarantine location there. Quarantine is never
  available (ARCHITECTURE invariant 8: availability, reservations, FIFO picks, shipping and
  the web-store push count storage only), so contained units can no longer be picked,
  reserved, shipped or pushed. Taking units out of storage is a withdrawal: the sales
  reservation guard may refuse it (409 reserved_stock) when orders hold them.
- `disposition` applies the decision to quarantined units: `scrap` (to nowhere, kind
  scrap), `return_to_supplier` (to nowhere, kind consume), `use_as_is` (back to a storage
  location) or `rework` (to the warehouse's MFG floor, where a job reworks them).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit, events
from kosh.core.db import transactional
from kosh.core.errors import ConflictError, RuleViolationError, ValidationError, field_error
from kosh.locations import service as location_service
from kosh.quality import metrics, tickets
from kosh.quality.models import Ticket
from kosh.stock import movements
from kosh.stock import queries as stock_queries
from kosh.stock import service as stock_service
from kosh.stock.errors import InsufficientStockError
from kosh.stock.models import Lot

DISPOSITIONS = ("scrap", "rework", "use_as_is", "return_to_supplier")
# Where containment takes units from, in this order.
_SOURCE_ORDER = ("storage", "receiving", "mfg_floor", "shipping")


@dataclass(frozen=True)
class Moved:
    pcn: str
    qty: int
    from_location_id: int
    to_location_id: int | None


async def _open_ticket(session: AsyncSession, ticket_id: int) -> Ticket:
    ticket = await tickets.lock_ticket(session, ticket_id)
    if ticket.category == "done":
        raise ConflictError(f"{ticket.number} is done; reopen it first.", code="ticket_done")
    return ticket


async def _record(
    session: AsyncSession, ticket: Ticket, action: str, after: dict[str, object]
) -> None:
    await audit.record(
        session,
        action=f"quality.ncr.{action}",
        entity_type="ticket",
        entity_id=ticket.number,
        after=after,
    )
    metrics.QUALITY_MOVES.labels(action=action).inc()


@transactional
async def contain(
    session: AsyncSession,
    *,
    ticket_id: int,
    pcn: str,
    location_id: int,
    qty: int | None = None,
) -> list[Moved]:
    """Move `qty` units of a PCN (all it has outside quarantine in that warehouse when
    None) into the quarantine location `location_id`, in one transaction. Rules: the
    ticket exists (404) and is not done (409 ticket_done); the PCN exists (404); the
    location is an active quarantine location (422 location_unusable); fewer units than
    asked outside quarantine is 409 insufficient_stock with `available`; a reserved unit
    in storage is 409 reserved_stock (the sales guard). Nothing changes on any error."""
    ticket = await _open_ticket(session, ticket_id)
    lot = await stock_service.get_lot_by_pcn_or_raise(session, pcn)
    quarantine = await location_service.usable_location(session, location_id, kinds=("quarantine",))
    await movements.lock_lots(session, [lot.id])
    detail = await stock_queries.lot_detail(session, lot)
    sources = sorted(
        (
            b
            for b in detail.balances
            if b.warehouse_id == quarantine.warehouse_id and b.kind in _SOURCE_ORDER
        ),
        key=lambda b: (_SOURCE_ORDER.index(b.kind), b.location_id),
    )
    available = sum(b.qty for b in sources)
    wanted = available if qty is None else qty
    if wanted <= 0 or wanted > available:
        raise InsufficientStockError(
            f"PCN {lot.pcn} has {available} outside quarantine here; {wanted} asked for.",
            available=available,
            requested=wanted,
        )
    moved: list[Moved] = []
    remaining = wanted
    withdrawn = False
    for source in sources:
        if remaining == 0:
            break
        take = min(remaining, source.qty)
        await movements.move(
            session,
            lot_id=lot.id,
            from_location_id=source.location_id,
            to_location_id=quarantine.id,
            qty=take,
            kind="transfer",
            reference=ticket.number,
            reason="NCR containment",
            part_id=lot.part_id,
        )
        withdrawn = withdrawn or source.kind == "storage"
        moved.append(Moved(lot.pcn, take, source.location_id, quarantine.id))
        remaining -= take
    if withdrawn:
        events.note(session, events.STOCK_WITHDRAWN, [(lot.part_id, quarantine.warehouse_id)])
    if ticket.lot_id is None:
        ticket.lot_id, ticket.part_id = lot.id, lot.part_id
    ticket.version += 1
    await session.flush()
    await _record(
        session,
        ticket,
        "contain",
        {
            "pcn": lot.pcn,
            "qty": wanted,
            "to_location_id": quarantine.id,
            "from": [{"location_id": m.from_location_id, "qty": m.qty} for m in moved],
        },
    )
    return moved


async def _quarantine_source(
    session: AsyncSession, lot: Lot, from_location_id: int | None, qty: int
) -> stock_queries.BalanceLine:
    detail = await stock_queries.lot_detail(session, lot)
    held = [b for b in detail.balances if b.kind == "quarantine"]
    if from_location_id is not None:
        held = [b for b in held if b.location_id == from_location_id]
    enough = [b for b in held if b.qty >= qty]
    if not enough:
        most = max((b.qty for b in held), default=0)
        raise InsufficientStockError(
            f"PCN {lot.pcn} has {most} in one quarantine location; {qty} asked for.",
            available=most,
            requested=qty,
        )
    return enough[0]


@transactional
async def disposition(
    session: AsyncSession,
    *,
    ticket_id: int,
    action: str,
    pcn: str,
    qty: int,
    from_location_id: int | None = None,
    location_id: int | None = None,
) -> Moved:
    """Apply a disposition to `qty` quarantined units of a PCN (reference: the ticket).
    Rules: a known action (422); the ticket exists and is not done (404 / 409
    ticket_done); the PCN exists (404) and holds `qty` in one quarantine location (the
    given `from_location_id`, else the first that has enough: 409 insufficient_stock);
    `use_as_is` needs an active storage `location_id` of the same warehouse (422
    location_required / location_unusable). One ledger row; nothing changes on error."""
    if action not in DISPOSITIONS:
        raise ValidationError(
            f"Unknown disposition {action}.",
            errors=[field_error(["action"], f"one of {', '.join(DISPOSITIONS)}")],
        )
    ticket = await _open_ticket(session, ticket_id)
    lot = await stock_service.get_lot_by_pcn_or_raise(session, pcn)
    await movements.lock_lots(session, [lot.id])
    source = await _quarantine_source(session, lot, from_location_id, qty)
    to_id: int | None = None
    kind = "transfer"
    if action == "scrap":
        kind = "scrap"
    elif action == "return_to_supplier":
        kind = "consume"
    elif action == "rework":
        to_id = (await location_service.mfg_location(session, source.warehouse_id)).id
    else:
        if location_id is None:
            raise RuleViolationError(
                "Say which storage location the units go back to.",
                code="location_required",
                errors=[field_error(["location_id"], "required for use_as_is")],
            )
        to_id = (
            await location_service.usable_location(
                session, location_id, kinds=("storage",), warehouse_id=source.warehouse_id
            )
        ).id
    await movements.move(
        session,
        lot_id=lot.id,
        from_location_id=source.location_id,
        to_location_id=to_id,
        qty=qty,
        kind=kind,
        reference=ticket.number,
        reason=f"NCR disposition: {action}",
        part_id=lot.part_id,
    )
    ticket.version += 1
    await session.flush()
    await _record(
        session,
        ticket,
        action,
        {
            "pcn": lot.pcn,
            "qty": qty,
            "from_location_id": source.location_id,
            "to_location_id": to_id,
        },
    )
    return Moved(lot.pcn, qty, source.location_id, to_id)
