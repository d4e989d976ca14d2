"""Reservations per (part, warehouse): reserved never exceeds what is on hand in storage.

These functions join the caller's transaction and never commit. Reserving takes the
aggregate rows of the parts involved `FOR UPDATE` in part-id order (PostgreSQL; on SQLite
`BEGIN IMMEDIATE` already serialises writers), reads on hand only after holding them, and
changes them with conditional updates whose row count is checked, so two confirmations
racing for the last units cannot both win.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any, cast

from sqlalchemy import Integer, Table, bindparam, case, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import events
from kosh.core.db import utcnow
from kosh.core.errors import ConflictError
from kosh.sales.models import StockReservation
from kosh.sales.shortage import Shortage
from kosh.stock import movements as stock_movements

STORAGE_KINDS = ("storage",)
# Core table: the hot updates below skip the ORM's bulk-update bookkeeping.
_TABLE = cast(Table, StockReservation.__table__)


async def _ensure_rows(session: AsyncSession, *, part_ids: list[int], warehouse_id: int) -> None:
    """Create missing aggregate rows (zero reserved); a concurrent creator is no error."""
    if not part_ids:
        return
    values = [
        {
            "part_id": part_id,
            "warehouse_id": warehouse_id,
            "qty_reserved": 0,
            "updated_at": utcnow(),
        }
        for part_id in part_ids
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(StockReservation).values(values)
    await session.execute(
        statement.on_conflict_do_nothing(index_elements=["part_id", "warehouse_id"])
    )


async def lock(
    session: AsyncSession, *, part_ids: Collection[int], warehouse_id: int
) -> dict[int, int]:
    """Lock the aggregate rows of `part_ids` (created when missing) in part-id order and
    return what each has reserved. Call before reading on hand for a reservation."""
    ordered = sorted(set(part_ids))
    if not ordered:
        return {}
    params = {"warehouse_id": warehouse_id, "part_ids": ordered}
    held: dict[int, int] = dict((await session.execute(_LOCK, params)).all())
    if len(held) < len(ordered):
        # First reservation of some part here: create its row, then lock them all again
        # (still in part-id order; the rows locked already stay locked).
        missing = [part_id for part_id in ordered if part_id not in held]
        await _ensure_rows(session, part_ids=missing, warehouse_id=warehouse_id)
        held = dict((await session.execute(_LOCK, params)).all())
    return held


# Built once (every confirmation runs it): a reused statement keeps its cache key.
_LOCK = (
    select(_TABLE.c.part_id, _TABLE.c.qty_reserved)
    .where(
        _TABLE.c.warehouse_id == bindparam("warehouse_id"),
        _TABLE.c.part_id.in_(bindparam("part_ids", expanding=True)),
    )
    .order_by(_TABLE.c.part_id)
    .with_for_update()
)


def allot(needs: dict[int, int], free: dict[int, int]) -> tuple[dict[int, int], list[Shortage]]:
    """What each part of `needs` gets of the `free` units (all of it, or what is free), and
    the parts that fall short, in part-id order. Pure: the caller holds the rows."""
    granted: dict[int, int] = {}
    shortages: list[Shortage] = []
    for part_id in sorted(needs):
        want, have = needs[part_id], max(0, free.get(part_id, 0))
        take = min(want, have)
        if take < want:
            shortages.append(Shortage(part_id=part_id, requested=want, available=have))
        granted[part_id] = take
    return granted, shortages


async def reserved(
    session: AsyncSession, *, part_ids: Collection[int], warehouse_id: int
) -> dict[int, int]:
    """Units reserved per part in the warehouse (0 for parts nobody reserved)."""
    wanted = sorted(set(part_ids))
    found: dict[int, int] = dict.fromkeys(wanted, 0)
    if not wanted:
        return found
    rows = await session.execute(
        select(StockReservation.part_id, StockReservation.qty_reserved).where(
            StockReservation.warehouse_id == warehouse_id,
            StockReservation.part_id.in_(wanted),
        )
    )
    found.update(dict(rows.all()))
    return found


async def on_hand(
    session: AsyncSession, *, part_ids: Collection[int], warehouse_id: int
) -> dict[int, int]:
    """Units in storage locations of the warehouse, per part (0 when there are none)."""
    wanted = sorted(set(part_ids))
    if not wanted:
        return {}
    counted = await stock_movements.on_hand(
        session, part_ids=wanted, warehouse_id=warehouse_id, kinds=STORAGE_KINDS
    )
    return {part_id: int(counted.get(part_id, 0)) for part_id in wanted}


async def available(
    session: AsyncSession, *, part_ids: Collection[int], warehouse_id: int
) -> dict[int, int]:
    """Availability per part = on hand in storage - reserved by sales orders. It can be
    negative only after a count found less than was reserved (withdrawals are guarded)."""
    held = await on_hand(session, part_ids=part_ids, warehouse_id=warehouse_id)
    taken = await reserved(session, part_ids=part_ids, warehouse_id=warehouse_id)
    return {part_id: held[part_id] - taken.get(part_id, 0) for part_id in held}


async def add(
    session: AsyncSession, *, part_id: int, warehouse_id: int, qty: int, limit: int
) -> bool:
    """Reserve `qty` more units if the total stays within `limit` (what is on hand).
    False, and nothing changed, when it would not; the row must be locked (`lock`)."""
    if qty <= 0:
        return True
    result = await session.execute(
        update(_TABLE)
        .where(
            _TABLE.c.part_id == part_id,
            _TABLE.c.warehouse_id == warehouse_id,
            _TABLE.c.qty_reserved + qty <= limit,
        )
        .values(qty_reserved=_TABLE.c.qty_reserved + qty, updated_at=utcnow())
    )
    events.note(session, events.RESERVATION_CHANGED, [part_id])  # the shop's stock level
    return _rowcount(result) == 1


async def add_many(
    session: AsyncSession, *, warehouse_id: int, wanted: dict[int, tuple[int, int]]
) -> bool:
    """Reserve several parts in one conditional UPDATE: `wanted` maps part id to (units,
    limit). True only when every part stayed within its limit; otherwise the caller must
    roll back (some rows may have changed). The rows must be locked (`lock`)."""
    wanted = {part_id: spec for part_id, spec in wanted.items() if spec[0] > 0}
    if not wanted:
        return True
    if len(wanted) == 1:
        [(part_id, (qty, limit))] = wanted.items()
        return await add(session, part_id=part_id, warehouse_id=warehouse_id, qty=qty, limit=limit)
    extra = case({p: q for p, (q, _) in wanted.items()}, value=_TABLE.c.part_id)
    ceiling = case({p: lim for p, (_, lim) in wanted.items()}, value=_TABLE.c.part_id)
    result = await session.execute(
        update(_TABLE)
        .where(
            _TABLE.c.warehouse_id == warehouse_id,
            _TABLE.c.part_id.in_(sorted(wanted)),
            _TABLE.c.qty_reserved + extra <= ceiling,
        )
        .values(qty_reserved=_TABLE.c.qty_reserved + extra, updated_at=utcnow())
    )
    events.note(session, events.RESERVATION_CHANGED, sorted(wanted))
    return _rowcount(result) == len(wanted)


async def remove(session: AsyncSession, *, part_id: int, warehouse_id: int, qty: int) -> None:
    """Release `qty` reserved units. Releasing more than is reserved means the aggregate
    and the order lines disagree: a bug, raised rather than hidden."""
    if qty <= 0:
        return
    result = await session.execute(
        update(_TABLE)
        .where(
            _TABLE.c.part_id == part_id,
            _TABLE.c.warehouse_id == warehouse_id,
            _TABLE.c.qty_reserved >= qty,
        )
        .values(qty_reserved=_TABLE.c.qty_reserved - qty, updated_at=utcnow())
    )
    if _rowcount(result) != 1:
        raise RuntimeError(
            f"reservation of part {part_id} in warehouse {warehouse_id} is below {qty}"
        )
    events.note(session, events.RESERVATION_CHANGED, [part_id])


def _rowcount(result: object) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


class ReservedStockError(ConflictError):
    code = "reserved_stock"


# built once: it runs on every pick, transfer and consumption
_HELD_FOR_WITHDRAWAL = (
    select(_TABLE.c.part_id, _TABLE.c.qty_reserved)
    .where(
        _TABLE.c.warehouse_id == bindparam("guard_warehouse", type_=Integer()),
        _TABLE.c.part_id.in_(bindparam("guard_parts", expanding=True)),
        _TABLE.c.qty_reserved > 0,
    )
    .order_by(_TABLE.c.part_id)
    .with_for_update()
)


async def guard_withdrawals(session: AsyncSession, pairs: list[Any]) -> None:
    """Stock may leave storage (pick, transfer out, consumption, scrap) only down to what
    sales orders have reserved: reserved never exceeds on hand (409 reserved_stock,
    nothing changed). Runs just before the withdrawing use case commits, holding the
    reservation rows like a confirmation does, so the two cannot race past each other.
    Count adjustments are not withdrawals: a count records what is really there."""
    by_warehouse: dict[int, list[int]] = defaultdict(list)
    for part_id, warehouse_id in pairs:
        by_warehouse[int(warehouse_id)].append(int(part_id))
    for warehouse_id, part_ids in sorted(by_warehouse.items()):
        params = {"guard_warehouse": warehouse_id, "guard_parts": sorted(set(part_ids))}
        held: dict[int, int] = dict((await session.execute(_HELD_FOR_WITHDRAWAL, params)).all())
        if not held:
            continue
        stock = await on_hand(session, part_ids=held, warehouse_id=warehouse_id)
        short = [
            {"part_id": part_id, "on_hand": stock[part_id], "reserved": qty}
            for part_id, qty in held.items()
            if stock[part_id] < qty
        ]
        if short:
            raise ReservedStockError(
                "This would take stock that sales orders have reserved; pick less, or free "
                "the reservation first: cancel the order, or put it on hold with "
                "release_reservations (a plain hold keeps it).",
                details={"warehouse_id": warehouse_id, "parts": short},
            )


# the probe (kosh.core.events): any units reserved of these parts in these warehouses (a
# superset of the pairs: the guard itself then checks each pair)
_ANY_RESERVED = events.Probe(
    expression=select(_TABLE.c.part_id)
    .where(
        _TABLE.c.warehouse_id.in_(bindparam("guard_probe_warehouses", expanding=True)),
        _TABLE.c.part_id.in_(bindparam("guard_probe_parts", expanding=True)),
        _TABLE.c.qty_reserved > 0,
    )
    .exists(),
    params=lambda pairs: {
        "guard_probe_warehouses": sorted({int(warehouse) for _, warehouse in pairs}),
        "guard_probe_parts": sorted({int(part) for part, _ in pairs}),
    },
)
events.subscribe(events.STOCK_WITHDRAWN, guard_withdrawals, _ANY_RESERVED)
