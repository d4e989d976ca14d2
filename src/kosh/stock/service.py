"""Stock use cases: receive, pick, restock, transfer, adjust (cycle count), consume / scrap.

Each public function is one transaction (`@transactional`): it checks its rules, moves
stock through `kosh.stock.movements` (ledger row per movement, guarded decrements, lots
locked in id order), records an audit event, and commits once. If it raises, nothing
changed. Roles are checked by the routes: operators move stock, managers adjust counts.
The pick lives in `kosh.stock.picks` and the PCN look-ups in `kosh.stock.lookups`; both are
re-exported here, the stock feature's face to the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.catalog.models import Part
from kosh.core import audit, events
from kosh.core.db import idempotent_transaction
from kosh.core.errors import RuleViolationError, ValidationError, field_error
from kosh.core.types import MAX_QTY
from kosh.locations import service as location_service
from kosh.locations.models import Location
from kosh.stock import movements
from kosh.stock.errors import require_text
from kosh.stock.lookups import get_lot_by_pcn as get_lot_by_pcn
from kosh.stock.lookups import get_lot_by_pcn_or_raise as get_lot_by_pcn_or_raise
from kosh.stock.models import Lot, StockTransaction
from kosh.stock.picks import Pick as Pick
from kosh.stock.picks import add_pick as add_pick
from kosh.stock.picks import pick as pick

# Where received or restocked stock may be put: not the floor, not a shipping dock.
STOCKABLE_KINDS = ("storage", "receiving", "quarantine")


@dataclass(frozen=True)
class Receipt:
    lot: Lot
    part: Part
    location: Location
    entry: StockTransaction


@dataclass(frozen=True)
class Movement:
    lot: Lot
    qty: int
    from_location_id: int | None
    to_location_id: int | None
    entry: StockTransaction
    from_location_code: str | None = None
    to_location_code: str | None = None


@dataclass(frozen=True)
class CountAdjustment:
    lot: Lot
    location_id: int
    previous_qty: int
    counted_qty: int
    entry: StockTransaction | None
    location_code: str = ""

    @property
    def difference(self) -> int:
        return self.counted_qty - self.previous_qty


# --- lookups --------------------------------------------------------------------------


async def last_pick_source(session: AsyncSession, lot_id: int) -> int | None:
    """The location the lot was last picked from, read from its ledger (newest pick)."""
    result = await session.scalar(
        select(StockTransaction.from_location_id)
        .where(StockTransaction.lot_id == lot_id, StockTransaction.kind == "pick")
        .order_by(StockTransaction.id.desc())
        .limit(1)
    )
    return result


async def _audit_movement(session: AsyncSession, action: str, movement: Movement) -> None:
    await audit.record(
        session,
        action=action,
        entity_type="lot",
        entity_id=movement.lot.pcn,
        after=movements.ledger_view(movement.entry),
    )


# --- use cases ------------------------------------------------------------------------


@idempotent_transaction
async def receive(
    session: AsyncSession,
    *,
    part_number: str,
    qty: int,
    location_id: int,
    pcn: str | None = None,
    date_code: str | None = None,
    supplier: str | None = None,
    reference: str | None = None,
    lot_code: str | None = None,
    country_of_origin: str | None = None,
) -> Receipt:
    """Receive a new lot into a location (its date code, supplier, the supplier's lot
    code and the country of origin stay on the lot).

    Rules: the part exists (404 part_not_found) and is active (422 part_inactive); the
    location exists (404), is active and is a storage, receiving or quarantine location
    (422 location_unusable); the PCN is generated unless given, and a given PCN must be
    new (409 pcn_taken). Writes one `receive` ledger row from nowhere.
    """
    part = await part_service.get_part_by_number_or_raise(session, part_number)
    if not part.active:
        raise RuleViolationError(
            f"Part {part.number} is inactive.",
            code="part_inactive",
            errors=[field_error(["part_number"], "is inactive")],
        )
    location = await location_service.usable_location(session, location_id, kinds=STOCKABLE_KINDS)
    lot = await movements.new_lot(
        session,
        part_id=part.id,
        pcn=pcn.strip() if pcn else None,
        date_code=date_code,
        supplier=supplier,
        reference=reference,
        lot_code=lot_code,
        country_of_origin=country_of_origin,
    )
    entry = await movements.move(
        session,
        lot_id=lot.id,
        from_location_id=None,
        to_location_id=location.id,
        qty=qty,
        kind="receive",
        reference=reference,
        part_id=part.id,
    )
    await audit.record(
        session,
        action="stock.receive",
        entity_type="lot",
        entity_id=lot.pcn,
        after={
            "part_number": part.number,
            "qty": qty,
            "location_id": location.id,
            "date_code": date_code,
            "supplier": supplier,
            "reference": reference,
            "lot_code": lot_code,
            "country_of_origin": country_of_origin,
        },
    )
    return Receipt(lot=lot, part=part, location=location, entry=entry)


@idempotent_transaction
async def restock(
    session: AsyncSession, *, pcn: str, qty: int, to_location_id: int | None = None
) -> Movement:
    """Return unused units of a PCN from the MFG floor to a storage location.

    The destination defaults to the location the PCN was last picked from (its ledger);
    without one, `to_location_id` is required (422). The destination must be active and
    a storage, receiving or quarantine location (422); the units leave the MFG floor of
    the destination's warehouse. More than is on that floor is 409 insufficient_stock.
    """
    lot = await get_lot_by_pcn_or_raise(session, pcn)
    if to_location_id is None:
        to_location_id = await last_pick_source(session, lot.id)
        if to_location_id is None:
            raise ValidationError(
                f"PCN {lot.pcn} was never picked; say where it goes.",
                code="restock_destination_required",
                errors=[field_error(["to_location_id"], "required: no pick to return to")],
            )
    destination, floor = await location_service.usable_location_and_floor(
        session, to_location_id, loc="to_location_id", kinds=STOCKABLE_KINDS
    )
    entry = await movements.move(
        session,
        lot_id=lot.id,
        from_location_id=floor.id,
        to_location_id=destination.id,
        qty=qty,
        kind="restock",
        part_id=lot.part_id,
    )
    movement = Movement(
        lot=lot,
        qty=qty,
        from_location_id=floor.id,
        to_location_id=destination.id,
        entry=entry,
        from_location_code=floor.code,
        to_location_code=destination.code,
    )
    await _audit_movement(session, "stock.restock", movement)
    return movement


@idempotent_transaction
async def transfer(
    session: AsyncSession, *, pcn: str, qty: int, from_location_id: int, to_location_id: int
) -> Movement:
    """Move units of a PCN between two locations (also between warehouses).

    Rules: the PCN and both locations exist (404); the destination is active (422; an
    inactive source may still be emptied); source and destination differ (422
    same_location); more than the source holds is 409 insufficient_stock.
    """
    lot = await get_lot_by_pcn_or_raise(session, pcn)
    source = await location_service.get_location_or_raise(
        session, from_location_id, loc="from_location_id"
    )
    destination = await location_service.usable_location(
        session, to_location_id, loc="to_location_id"
    )
    if source.id == destination.id:
        raise ValidationError(
            "Source and destination are the same location.",
            code="same_location",
            errors=[field_error(["to_location_id"], "must differ from from_location_id")],
        )
    entry = await movements.move(
        session,
        lot_id=lot.id,
        from_location_id=source.id,
        to_location_id=destination.id,
        qty=qty,
        kind="transfer",
        part_id=lot.part_id,
    )
    if source.kind == "storage" and not (
        destination.kind == "storage" and destination.warehouse_id == source.warehouse_id
    ):
        events.note(session, events.STOCK_WITHDRAWN, [(lot.part_id, source.warehouse_id)])
    movement = Movement(
        lot=lot,
        qty=qty,
        from_location_id=source.id,
        to_location_id=destination.id,
        entry=entry,
        from_location_code=source.code,
        to_location_code=destination.code,
    )
    await _audit_movement(session, "stock.transfer", movement)
    return movement


@idempotent_transaction
async def adjust_count(
    session: AsyncSession, *, pcn: str, location_id: int, counted_qty: int, reason: str
) -> CountAdjustment:
    """Set a PCN's quantity at a location to what was counted (cycle count).

    Rules: the PCN and location exist (404); a reason is required (422); counting more
    into an inactive location is refused (422). The difference is one `adjust` ledger
    row (from nowhere for a gain, to nowhere for a loss); no row when nothing differs.
    The role (manager and above) is checked by the route.
    """
    reason = require_text(reason, "reason", "reason")
    if (
        isinstance(counted_qty, bool)
        or not isinstance(counted_qty, int)
        or not (0 <= counted_qty <= MAX_QTY)
    ):
        raise ValidationError(
            "The counted quantity must be a whole number from 0 to 1,000,000,000.",
            errors=[field_error(["counted_qty"], "must be a whole number from 0 to 1000000000")],
        )
    lot = await get_lot_by_pcn_or_raise(session, pcn)
    location = await location_service.get_location_or_raise(session, location_id)
    # The lot lock makes the read below the quantity the adjustment is computed from.
    await movements.lock_lots(session, [lot.id])
    previous = await movements.balance(session, lot_id=lot.id, location_id=location.id)
    difference = counted_qty - previous
    if difference > 0 and not location.active:
        raise RuleViolationError(
            f"Location {location.code} is inactive.",
            code="location_unusable",
            errors=[field_error(["location_id"], "is inactive")],
        )
    entry = None
    if difference:
        entry = await movements.move(
            session,
            lot_id=lot.id,
            from_location_id=None if difference > 0 else location.id,
            to_location_id=location.id if difference > 0 else None,
            qty=abs(difference),
            kind="adjust",
            reason=reason,
            part_id=lot.part_id,
        )
    await audit.record(
        session,
        action="stock.adjust",
        entity_type="lot",
        entity_id=lot.pcn,
        before={"location_id": location.id, "qty": previous},
        after={"location_id": location.id, "qty": counted_qty, "reason": reason},
    )
    return CountAdjustment(
        lot=lot,
        location_id=location.id,
        previous_qty=previous,
        counted_qty=counted_qty,
        entry=entry,
        location_code=location.code,
    )


@idempotent_transaction
async def consume(
    session: AsyncSession,
    *,
    pcn: str,
    qty: int,
    location_id: int,
    reason: str,
    reference: str | None = None,
    scrap: bool = False,
) -> Movement:
    """Units of a PCN leave stock from a location: used by a job (`consume`) or thrown
    away (`scrap`). Rules: the PCN and location exist (404); a reason is required (422);
    more than the location holds is 409 insufficient_stock."""
    reason = require_text(reason, "reason", "reason")
    lot = await get_lot_by_pcn_or_raise(session, pcn)
    location = await location_service.get_location_or_raise(session, location_id)
    entry = await movements.move(
        session,
        lot_id=lot.id,
        from_location_id=location.id,
        to_location_id=None,
        qty=qty,
        kind="scrap" if scrap else "consume",
        reference=(reference or "").strip() or None,
        reason=reason,
        part_id=lot.part_id,
    )
    if location.kind == "storage":
        events.note(session, events.STOCK_WITHDRAWN, [(lot.part_id, location.warehouse_id)])
    movement = Movement(
        lot=lot,
        qty=qty,
        from_location_id=location.id,
        to_location_id=None,
        entry=entry,
        from_location_code=location.code,
    )
    await _audit_movement(session, "stock.scrap" if scrap else "stock.consume", movement)
    return movement
