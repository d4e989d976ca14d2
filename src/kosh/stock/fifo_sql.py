"""The FIFO statements, built once per variant: their filters take bound values (`params`),
so a take reuses the statement objects and SQLAlchemy their cached compilation and cache
key (building them per pick cost more CPU than running them)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Integer, String, Table, and_, bindparam, func, select, true

from kosh.catalog.models import Part
from kosh.locations.models import MFG_CODE, Location, Warehouse
from kosh.stock.models import Lot, StockBalance
from kosh.stock.movements import move_and_record_statement

BALANCES = cast(Table, StockBalance.__table__)


@dataclass(frozen=True)
class Statements:
    """One variant of the FIFO statements (a destination or none, one lot or any)."""

    lot_filter: list[Any]
    sources: list[Any]
    rows: Any  # the source rows in FIFO order
    locked_rows: Any  # lock the oldest lots covering fifo_missing, read their rows
    first_row_take: Any  # PostgreSQL, to a location: lock, move from the first row, record


@functools.cache
def statements(*, to_location: bool, one_lot: bool) -> Statements:
    return _statements(
        part=bindparam("fifo_part", type_=Integer()),
        warehouse=bindparam("fifo_warehouse", type_=Integer()),
        to=bindparam("fifo_to", type_=Integer()) if to_location else None,
        lot=bindparam("fifo_lot", type_=Integer()) if one_lot else None,
    )


def _statements(*, part: Any, warehouse: Any, to: Any, lot: Any) -> Statements:
    """The variant for these keys: bound values, or scalar subqueries of a look-up the
    statement makes itself (`floor_pick_statement`)."""
    sources = [
        Location.warehouse_id == warehouse,
        Location.kind.in_(bindparam("fifo_kinds", expanding=True)),
        Location.active.is_(True),
        StockBalance.qty > 0,
    ]
    if to is not None:
        sources.append(StockBalance.location_id != to)
    lot_filter = [Lot.part_id == part]
    if lot is not None:
        lot_filter.append(Lot.id == lot)
    missing = bindparam("fifo_missing", type_=Integer())
    locked = (
        select(Lot.id)
        .where(Lot.id.in_(fifo_candidates(lot_filter, sources, missing)))
        .order_by(Lot.id)
        .with_for_update()
        .cte("locked")
    )
    return Statements(
        lot_filter=lot_filter,
        sources=sources,
        rows=fifo_rows(lot_filter, sources),
        locked_rows=fifo_rows(lot_filter, sources, with_received_at=True).where(
            Lot.id.in_(select(locked.c.id))
        ),
        first_row_take=first_row_take_statement(locked, lot_filter, sources, to=to, part=part)
        if to is not None
        else None,
    )


def first_row_take_statement(
    locked: Any, lot_filter: list[Any], sources: list[Any], *, to: Any, part: Any
) -> Any:
    """The common pick as one statement: lock the oldest lots covering the quantity (as
    `locked_rows` does), take it all from the first FIFO row if that row holds it (the
    guarded decrement re-checks the row under the lock), add it at the destination and
    write the ledger row. Returns the first row and the ledger id (NULL: nothing moved)
    with the ids of every lot it locked."""
    qty = bindparam("fifo_qty", type_=Integer())
    first = (
        fifo_rows(lot_filter, sources).where(Lot.id.in_(select(locked.c.id))).limit(1).cte("first")
    )
    recorded = move_and_record_statement(
        lot=first.c.lot_id, source=first.c.location_id, to=to, qty=qty, part=part
    ).cte("recorded")
    held = select(func.array_agg(locked.c.id)).scalar_subquery()
    return select(first, recorded.c.id.label("ledger_id"), held.label("held")).select_from(
        first.outerjoin(recorded, true())
    )


@functools.lru_cache(maxsize=16)
def floor_pick_statement(
    answers: Any = None,
    extend: Callable[[Any], Any] | None = None,
    gate: Callable[[Any], Any] | None = None,
) -> Any:
    """A pick by part number to its warehouse's MFG floor with the look-ups in the same
    statement: the part (exact number), the warehouse (active) and its floor found by a
    CTE whose columns key the first-row take. Returns the part's id and number, the floor
    and the take's columns (plain columns: `kosh.core.direct` runs it), and the columns of
    `answers` (a one-row CTE: `kosh.core.events.ask_ahead`) when given; no row when the
    look-up finds nothing (then no lot is locked and nothing moved). `extend` (a function
    built once) makes the statement, as a CTE, part of a bigger one that writes what
    follows from the pick (`kosh.stock.pick_answer`). `gate` (a function built once, of
    `answers`) is a condition of the look-up, with the part being the one `answers` were
    asked about (`lookup_known_part`): else the statement finds nothing."""
    conditions = [
        Warehouse.id == bindparam("lookup_warehouse", type_=Integer()),
        Warehouse.active.is_(True),
    ]
    if gate is not None:
        conditions += [Part.id == bindparam("lookup_known_part", type_=Integer()), gate(answers)]
    target = (
        select(
            Part.id.label("part_id"),
            Warehouse.id.label("warehouse_id"),
            Location.id.label("floor_id"),
            Location.code.label("floor_code"),
        )
        .select_from(Warehouse)
        .join(Location, and_(Location.warehouse_id == Warehouse.id, Location.code == MFG_CODE))
        .join(Part, Part.number == bindparam("lookup_part", type_=String()))
        .where(*conditions)
        .cte("target")
    )
    take = _statements(
        part=select(target.c.part_id).scalar_subquery(),
        warehouse=select(target.c.warehouse_id).scalar_subquery(),
        to=select(target.c.floor_id).scalar_subquery(),
        lot=None,
    ).first_row_take.cte("take")
    statement = (
        select(
            Part.id.label("found_part_id"),
            Part.number.label("found_part_number"),
            target.c.floor_id,
            target.c.floor_code,
            *take.c,
        )
        .join(target, target.c.part_id == Part.id)
        .outerjoin(take, true())
    )
    if answers is not None:
        statement = statement.add_columns(*answers.c).join(answers, true())
    return statement if extend is None else extend(statement.cte("pick"))


def params(
    part_id: int,
    warehouse_id: int,
    from_kinds: Iterable[str],
    to_location_id: int | None,
    lot_id: int | None,
) -> dict[str, Any]:
    params: dict[str, Any] = {
        "fifo_part": part_id,
        "fifo_warehouse": warehouse_id,
        "fifo_kinds": list(from_kinds),
    }
    if to_location_id is not None:
        params["fifo_to"] = to_location_id
    if lot_id is not None:
        params["fifo_lot"] = lot_id
    return params


def fifo_candidates(lot_filter: list[Any], sources: list[Any], missing: Any) -> Any:
    """The ids of the oldest lots whose stock (as this statement sees it) covers `missing`."""
    fifo_order = (Lot.received_at, Lot.id, StockBalance.location_id)
    candidates = (
        select(
            StockBalance.lot_id,
            (func.sum(StockBalance.qty).over(order_by=fifo_order) - StockBalance.qty).label(
                "before"
            ),
        )
        .join(Lot, Lot.id == StockBalance.lot_id)
        .join(Location, Location.id == StockBalance.location_id)
        .where(*lot_filter, *sources)
        .subquery()
    )
    return select(candidates.c.lot_id).where(candidates.c.before < missing)


def fifo_rows(lot_filter: list[Any], sources: list[Any], *, with_received_at: bool = False) -> Any:
    columns = [StockBalance.lot_id, Lot.pcn, StockBalance.location_id, StockBalance.qty]
    columns += [Location.code] + ([Lot.received_at] if with_received_at else [])
    return (
        select(*columns)
        .join(Lot, Lot.id == StockBalance.lot_id)
        .join(Location, Location.id == StockBalance.location_id)
        .where(*lot_filter, *sources)
        .order_by(Lot.received_at, Lot.id, StockBalance.location_id)
    )
