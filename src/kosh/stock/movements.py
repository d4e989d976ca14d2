"""The stock primitives every stock-changing use case is built from. None of them commits:
they join the caller's transaction, so a pick, a shipment or a job completion is all or
nothing.

Invariants kept here:
- a balance never goes negative: each decrement is a conditional UPDATE
  (`qty = qty - n WHERE ... AND qty >= n`) whose row count is checked, backed by
  `CHECK (qty >= 0)`;
- every movement writes exactly one ledger row in the same transaction as the balance
  change, so replaying the ledger reproduces every balance;
- locks are taken in one fixed order: lots by ascending id (`SELECT ... FOR UPDATE` on
  PostgreSQL). Every change to a lot's balances happens under its lot lock, so balance
  rows are never locked in conflicting orders. SQLite emits no FOR UPDATE; there the write
  transaction (BEGIN IMMEDIATE) serialises writers and the guarded UPDATE still refuses
  to go below zero.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Integer, Table, and_, bindparam, exists, func, insert, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import events
from kosh.core.actor import current_actor
from kosh.core.db import utcnow
from kosh.core.errors import ConflictError, ValidationError, field_error
from kosh.core.request_context import current_request_id
from kosh.core.types import MAX_QTY
from kosh.locations.models import Location
from kosh.stock.errors import InsufficientStockError
from kosh.stock.models import MOVEMENT_KINDS, Lot, StockBalance, StockTransaction
from kosh.stock.pcn import is_valid_pcn, next_pcn

_LOCKED = "kosh_locked_lots"
LEDGER = cast(Table, StockTransaction.__table__)
# the ledger values every movement binds by name (`ledger_<column>`)
LEDGER_BOUND = ("at", "kind", "reference", "reason", "actor_name", "actor_id", "request_id")


@dataclass(frozen=True, slots=True)
class MovedLine:
    """One part of a FIFO take: `qty` units of lot `pcn` left `from_location_id`."""

    pcn: str
    lot_id: int
    qty: int
    from_location_id: int
    # what a person reads; not part of the line's identity
    from_location_code: str = field(default="", compare=False)


def is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def is_valid_qty(qty: int) -> bool:
    """The quantity invariant: every movement is 1 ... MAX_QTY whole units."""
    return not isinstance(qty, bool) and isinstance(qty, int) and 0 < qty <= MAX_QTY


def check_qty(qty: int, loc: str = "qty") -> None:
    """The quantity invariant, checked once, in `move` (the edge's `Quantity` refuses the
    rest before a use case runs)."""
    if not is_valid_qty(qty):
        raise ValidationError(
            "Quantity must be a whole number from 1 to 1,000,000,000.",
            errors=[field_error([loc], f"must be a whole number from 1 to {MAX_QTY}")],
        )


# --- locks ----------------------------------------------------------------------------


def locked_in_this_transaction(session: AsyncSession) -> set[int]:
    """Lot ids already locked by the current transaction (remembered per transaction)."""
    transaction = session.sync_session.get_transaction()
    remembered = session.info.get(_LOCKED)
    if remembered is None or remembered[0] is not transaction:
        remembered = (transaction, set())
        session.info[_LOCKED] = remembered
    locked: set[int] = remembered[1]
    return locked


async def lock_lots(session: AsyncSession, lot_ids: Iterable[int]) -> None:
    """Lock lots FOR UPDATE in ascending id order, skipping those this transaction holds.

    Callers that will move stock of several lots should lock them all up front through
    this helper, so concurrent use cases always queue in the same order. No-op on SQLite.
    """
    if not is_postgres(session):
        return
    locked = locked_in_this_transaction(session)
    wanted = sorted(set(lot_ids) - locked)
    if not wanted:
        return
    await session.execute(
        select(Lot.id).where(Lot.id.in_(wanted)).order_by(Lot.id).with_for_update()
    )
    locked.update(wanted)


# --- balances -------------------------------------------------------------------------


async def balance(session: AsyncSession, *, lot_id: int, location_id: int) -> int:
    """Units of the lot at the location (0 when it never was there)."""
    qty = await session.scalar(
        select(StockBalance.qty).where(
            StockBalance.lot_id == lot_id, StockBalance.location_id == location_id
        )
    )
    return int(qty or 0)


async def _decrement(
    session: AsyncSession, *, lot_id: int, location_id: int, qty: int, short_ok: bool = False
) -> bool:
    """Take `qty` away, or raise InsufficientStockError (409) with what is available
    (`short_ok`: return False instead, nothing changed)."""
    result = await session.execute(
        update(StockBalance)
        .where(
            StockBalance.lot_id == lot_id,
            StockBalance.location_id == location_id,
            StockBalance.qty >= qty,
        )
        .values(qty=StockBalance.qty - qty)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return True
    if short_ok:
        return False
    available = await balance(session, lot_id=lot_id, location_id=location_id)
    pcn = await session.scalar(select(Lot.pcn).where(Lot.id == lot_id))
    raise InsufficientStockError(
        f"Only {available} of PCN {pcn} at location {location_id}; {qty} asked for.",
        available=available,
        requested=qty,
        lots=[{"pcn": pcn, "lot_id": lot_id, "location_id": location_id, "qty": available}],
    )


async def _increment(session: AsyncSession, *, lot_id: int, location_id: int, qty: int) -> None:
    """Add `qty`, creating the balance row when the lot is new at the location (upsert)."""
    dialect = postgresql if is_postgres(session) else sqlite
    statement = dialect.insert(StockBalance).values(lot_id=lot_id, location_id=location_id, qty=qty)
    statement = statement.on_conflict_do_update(
        index_elements=[StockBalance.lot_id, StockBalance.location_id],
        set_={"qty": StockBalance.qty + statement.excluded.qty},
    )
    await session.execute(statement)


def move_and_record_statement(*, lot: Any, source: Any, to: Any, qty: Any, part: Any) -> Any:
    """One data-modifying statement (PostgreSQL): the guarded decrement of `lot` at `source`,
    the upsert at `to` and the ledger row of what it moved (no row moved, no ledger row),
    returning the ledger id. The arguments are bound values or columns of a CTE the caller
    joins (FIFO's first row). Built once per caller: constructing it per movement cost more
    CPU than running it; the other ledger values are bound as `ledger_<column>`."""
    balances = cast(Table, StockBalance.__table__)
    taken = (
        update(balances)
        .where(balances.c.lot_id == lot, balances.c.location_id == source, balances.c.qty >= qty)
        .values(qty=balances.c.qty - qty)
        .returning(balances.c.lot_id, balances.c.location_id)
        .cte("taken")
    )
    adding = postgresql.insert(balances).from_select(
        ["lot_id", "location_id", "qty"], select(taken.c.lot_id, to, qty)
    )
    moved = (
        adding.on_conflict_do_update(
            index_elements=[balances.c.lot_id, balances.c.location_id],
            set_={"qty": balances.c.qty + adding.excluded.qty},
        )
        .returning(balances.c.lot_id)
        .cte("moved")
    )
    columns = {
        "lot_id": moved.c.lot_id,
        "part_id": part,
        "from_location_id": taken.c.location_id,
        "to_location_id": to,
        "qty": qty,
        **{name: bindparam(f"ledger_{name}", type_=LEDGER.c[name].type) for name in LEDGER_BOUND},
    }
    return (
        postgresql.insert(LEDGER)
        .from_select(
            list(columns), select(*columns.values()).select_from(moved.join(taken, true()))
        )
        .returning(LEDGER.c.id)
    )


# names that are no column's: an INSERT takes parameters named like its columns as values
_MOVE_AND_RECORD = move_and_record_statement(
    lot=bindparam("move_lot", type_=Integer()),
    source=bindparam("move_from", type_=Integer()),
    to=bindparam("move_to", type_=Integer()),
    qty=bindparam("move_qty", type_=Integer()),
    part=bindparam("ledger_part", type_=Integer()),
)
_LEDGER_INSERT = insert(LEDGER).returning(LEDGER.c.id)


async def shift_recorded(
    session: AsyncSession, row: dict[str, Any], *, short_ok: bool = False
) -> int | None:
    """`shift` and its ledger row (`ledger_row`), the lot locked by the caller: on
    PostgreSQL, location to location, in one statement. The ledger row's id; None, nothing
    changed, when the source has less than the row's qty and `short_ok`, else 409."""
    lot_id, qty = row["lot_id"], row["qty"]
    source, destination = row["from_location_id"], row["to_location_id"]
    if source is None or destination is None or not is_postgres(session):
        if not await shift(session, lot_id, source, destination, qty, short_ok=short_ok):
            return None
        return int(await session.scalar(_LEDGER_INSERT, row))
    params = {
        "move_lot": lot_id,
        "move_from": source,
        "move_to": destination,
        "move_qty": qty,
        **{f"ledger_{name}": row[name] for name in LEDGER_BOUND},
        "ledger_part": row["part_id"],
    }
    entry_id = await session.scalar(_MOVE_AND_RECORD, params)
    if entry_id is not None:
        return int(entry_id)
    if short_ok:
        return None
    await _decrement(session, lot_id=lot_id, location_id=source, qty=qty)  # raises
    raise RuntimeError("the guarded move found no stock the guarded decrement then found")


# --- movements ------------------------------------------------------------------------


async def move(
    session: AsyncSession,
    *,
    lot_id: int,
    from_location_id: int | None,
    to_location_id: int | None,
    qty: int,
    kind: str,
    reference: str | None = None,
    reason: str | None = None,
    part_id: int | None = None,
) -> StockTransaction:
    """Move `qty` units of a lot and write the ledger row; never commits.

    `from_location_id=None` brings stock in from nowhere (receipt, count gain),
    `to_location_id=None` sends it to nowhere (consumption, scrap, shipping, count loss).
    Not enough at the source is InsufficientStockError (409, details.available); the
    caller's transaction must then roll back (the @transactional use case does).
    `part_id` saves a look-up when the caller knows the lot's part.
    """
    check_qty(qty)
    if kind not in MOVEMENT_KINDS:
        raise ValueError(f"unknown movement kind {kind!r}")
    if from_location_id is None and to_location_id is None:
        raise ValueError("a movement needs a source or a destination")
    if from_location_id == to_location_id:
        raise ValidationError(
            "Source and destination are the same location.",
            code="same_location",
            errors=[field_error(["to_location_id"], "must differ from the source")],
        )
    await lock_lots(session, [lot_id])
    if part_id is None:
        part_id = await session.scalar(select(Lot.part_id).where(Lot.id == lot_id))
        if part_id is None:
            raise ValueError(f"no lot with id {lot_id}")
    row = ledger_row(
        lot_id, part_id, from_location_id, to_location_id, qty, kind, reference, reason
    )
    entry_id = await shift_recorded(session, row)  # raises when the source is short
    events.note(session, events.STOCK_CHANGED, [part_id])
    # what was written, as a ledger object not in the session (written by Core, no flush)
    return StockTransaction(id=entry_id, **row)


async def shift(
    session: AsyncSession,
    lot_id: int,
    from_location_id: int | None,
    to_location_id: int | None,
    qty: int,
    *,
    short_ok: bool = False,
) -> bool:
    """The balance change of a movement (the lot locked by the caller) in separate
    statements, where `shift_recorded` has no single one; False, nothing changed, when the
    source has less than `qty` and `short_ok`, else 409."""
    if from_location_id is not None and not await _decrement(
        session, lot_id=lot_id, location_id=from_location_id, qty=qty, short_ok=short_ok
    ):
        return False
    if to_location_id is not None:
        await _increment(session, lot_id=lot_id, location_id=to_location_id, qty=qty)
    return True


def ledger_row(
    lot_id: int,
    part_id: int,
    from_location_id: int | None,
    to_location_id: int | None,
    qty: int,
    kind: str,
    reference: str | None,
    reason: str | None,
) -> dict[str, Any]:
    actor = current_actor()
    return {
        "at": utcnow(),
        "lot_id": lot_id,
        "part_id": part_id,
        "from_location_id": from_location_id,
        "to_location_id": to_location_id,
        "qty": qty,
        "kind": kind,
        "reference": reference,
        "reason": reason,
        "actor_name": actor.name,
        "actor_id": actor.id,
        "request_id": current_request_id(),
    }


async def new_lot(
    session: AsyncSession,
    *,
    part_id: int,
    pcn: str | None = None,
    date_code: str | None = None,
    supplier: str | None = None,
    reference: str | None = None,
    received_at: datetime | None = None,
    lot_code: str | None = None,
    country_of_origin: str | None = None,
) -> Lot:
    """Create an empty lot (flushed, never committed). The PCN is generated (next in
    sequence) when not given; a given PCN must be valid (422) and new (409 pcn_taken).
    The supplier's lot code and the country of origin (from its label) stay on the lot."""
    if pcn is None:
        pcn = await next_pcn(session)
    else:
        if not is_valid_pcn(pcn):
            raise ValidationError(
                "Invalid PCN.",
                errors=[field_error(["pcn"], "1-64 of A-Z, a-z, 0-9, '.', '_', '-'")],
            )
        if await session.scalar(select(exists().where(Lot.pcn == pcn))):
            raise _pcn_taken(pcn)
    lot = Lot(
        pcn=pcn,
        part_id=part_id,
        received_at=received_at or utcnow(),
        date_code=date_code,
        supplier=supplier,
        reference=reference,
        lot_code=lot_code,
        country_of_origin=country_of_origin,
        created_by=current_actor().name,
    )
    session.add(lot)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same PCN supplied concurrently
        raise _pcn_taken(pcn) from exc
    # A new lot is invisible to everyone else until commit: no lock needed.
    locked_in_this_transaction(session).add(lot.id)
    return lot


async def receive_lot(
    session: AsyncSession,
    *,
    part_id: int,
    qty: int,
    location_id: int,
    pcn: str | None = None,
    date_code: str | None = None,
    supplier: str | None = None,
    reference: str | None = None,
    received_at: datetime | None = None,
    kind: str = "receive",
    reason: str | None = None,
    lot_code: str | None = None,
    country_of_origin: str | None = None,
) -> Lot:
    """Create a lot (PCN) of `qty` units at a location and write its ledger row; never
    commits. Used by receipts (kind receive) and finished assemblies (kind produce).

    The PCN is generated when not given; a given PCN that exists is ConflictError (409
    pcn_taken). The caller checks the part and the location.
    """
    lot = await new_lot(
        session,
        part_id=part_id,
        pcn=pcn,
        date_code=date_code,
        supplier=supplier,
        reference=reference,
        received_at=received_at,
        lot_code=lot_code,
        country_of_origin=country_of_origin,
    )
    await move(
        session,
        lot_id=lot.id,
        from_location_id=None,
        to_location_id=location_id,
        qty=qty,
        kind=kind,
        reference=reference,
        reason=reason,
        part_id=part_id,
    )
    return lot


def _pcn_taken(pcn: str) -> ConflictError:
    return ConflictError(
        f"PCN {pcn} exists already.",
        code="pcn_taken",
        errors=[field_error(["pcn"], "already exists")],
        details={"pcn": pcn},
    )


async def on_hand(
    session: AsyncSession,
    *,
    part_ids: Collection[int],
    warehouse_id: int,
    kinds: tuple[str, ...] = ("storage",),
) -> dict[int, int]:
    """Units per part in the warehouse's active locations of `kinds` (the stock FIFO
    takes from); every requested part is in the answer, 0 when there is none."""
    answer = dict.fromkeys(part_ids, 0)
    if not answer:
        return answer
    rows = await session.execute(
        select(Lot.part_id, func.sum(StockBalance.qty))
        .join(StockBalance, StockBalance.lot_id == Lot.id)
        .join(
            Location,
            and_(
                Location.id == StockBalance.location_id,
                Location.warehouse_id == warehouse_id,
                Location.kind.in_(kinds),
                Location.active.is_(True),
            ),
        )
        .where(Lot.part_id.in_(list(answer)))
        .group_by(Lot.part_id)
    )
    for part_id, total in rows:
        answer[part_id] = int(total or 0)
    return answer


def ledger_view(entry: StockTransaction) -> dict[str, Any]:
    """A ledger row as the audit trail records it."""
    return {
        "lot_id": entry.lot_id,
        "from_location_id": entry.from_location_id,
        "to_location_id": entry.to_location_id,
        "qty": entry.qty,
        "kind": entry.kind,
        "reference": entry.reference,
    }
