"""FIFO takes: the oldest lots that cover a quantity, locked in id order and moved by the
guarded primitives of kosh.stock.movements. On PostgreSQL a take to a location whose first
FIFO row holds the quantity (a scanner's pick) is one statement: lock, move, ledger row
(`kosh.stock.floor_picks`).
Otherwise one statement locks the covering lots and reads their balances; a take that finds
less than it planned (a concurrent pick got there first) re-reads under the locks and
extends to the next lots.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.stock import fifo_sql
from kosh.stock.errors import InsufficientStockError
from kosh.stock.floor_picks import first_row, note_taken
from kosh.stock.metrics import FIFO_EXTENDED
from kosh.stock.models import MOVEMENT_KINDS, Lot
from kosh.stock.movements import (
    MovedLine,
    check_qty,
    is_postgres,
    ledger_row,
    lock_lots,
    locked_in_this_transaction,
    shift_recorded,
)

_MAX_LISTED_LOTS = 50


async def take_fifo(
    session: AsyncSession,
    *,
    part_id: int,
    warehouse_id: int,
    qty: int,
    to_location_id: int | None,
    kind: str,
    reference: str | None,
    from_kinds: tuple[str, ...] = ("storage",),
    lot_id: int | None = None,
    reason: str | None = None,
) -> list[MovedLine]:
    """Take `qty` units of a part from the warehouse, oldest lot first; never commits.

    Sources are the active locations of `from_kinds` in the warehouse (the destination
    itself excluded), ordered by lot received_at, lot id, then location id; `lot_id`
    restricts the take to one lot. On PostgreSQL only the oldest lots that cover `qty`
    are locked (ascending id) and their balances re-read under the lock, so the allocation
    is exact (see `_lock_fifo_lots`); on SQLite the write transaction serialises writers.
    Not enough in all is InsufficientStockError (409) listing what is available; nothing
    has been changed then.
    """
    check_qty(qty)
    if kind not in MOVEMENT_KINDS:
        raise ValueError(f"unknown movement kind {kind!r}")
    statements = fifo_sql.statements(
        to_location=to_location_id is not None, one_lot=lot_id is not None
    )
    params = fifo_sql.params(part_id, warehouse_id, from_kinds, to_location_id, lot_id)

    async def take(lines: list[MovedLine], *, short_ok: bool = False) -> bool:
        """Move the lines (their lots locked) with their ledger rows; with `short_ok` False
        at the first one whose source has less than planned (that one and the rest not
        moved), else 409."""
        for line in lines:
            await lock_lots(session, [line.lot_id])
            row = ledger_row(
                line.lot_id,
                part_id,
                line.from_location_id,
                to_location_id,
                line.qty,
                kind,
                reference,
                reason,
            )
            if await shift_recorded(session, row, short_ok=short_ok) is None:
                return False
        return True

    if not is_postgres(session):  # BEGIN IMMEDIATE: no other writer can change a balance
        rows = list((await session.execute(statements.rows, params)).all())
        plan = _plan(rows, qty)
        if plan is None:
            raise _not_enough(rows, qty, part_id, warehouse_id)
        await take(plan)
    else:
        plan = None
        if to_location_id is not None:
            plan = await _take_first_row(session, statements, params, qty, kind, reference, reason)
        if plan is None:
            plan = await _take_as_locked(session, statements, params, qty, take)
        if plan is None:
            plan = await _take_exactly(
                session, statements, params, qty, part_id, warehouse_id, take
            )
    note_taken(session, part_id, warehouse_id, from_kinds)
    return plan


async def _take_first_row(
    session: AsyncSession,
    statements: fifo_sql.Statements,
    params: dict[str, Any],
    qty: int,
    kind: str,
    reference: str | None,
    reason: str | None,
) -> list[MovedLine] | None:
    """The take in one statement when the first FIFO row holds `qty` (a scanner's pick);
    None, nothing moved, otherwise (several lots, stock short, or a concurrent pick took it
    first): then the other paths decide, the lots this one locked staying held."""
    ledger = ledger_row(0, params["fifo_part"], None, None, qty, kind, reference, reason)
    _, line = await first_row(session, statements.first_row_take, params, qty, ledger)
    return None if line is None else [line]


def _plan(rows: Iterable[Any], qty: int) -> list[MovedLine] | None:
    """The FIFO take of `qty` from `rows` (already in FIFO order), or None when they hold
    less than that."""
    plan: list[MovedLine] = []
    remaining = qty
    for row_lot_id, pcn, location_id, available, location_code, *_ in rows:
        if remaining == 0:
            break
        take = min(remaining, int(available))
        plan.append(
            MovedLine(
                pcn=pcn,
                lot_id=row_lot_id,
                qty=take,
                from_location_id=location_id,
                from_location_code=location_code,
            )
        )
        remaining -= take
    return None if remaining else plan


def _not_enough(
    rows: list[Any], qty: int, part_id: int, warehouse_id: int
) -> InsufficientStockError:
    total = sum(int(r.qty) for r in rows)
    return InsufficientStockError(
        f"Only {total} available; {qty} asked for.",
        available=total,
        requested=qty,
        lots=[
            {
                "pcn": r.pcn,
                "lot_id": r.lot_id,
                "location_id": r.location_id,
                "location_code": r.code,
                "qty": r.qty,
            }
            for r in rows[:_MAX_LISTED_LOTS]
        ],
        extra={"part_id": part_id, "warehouse_id": warehouse_id},
    )


async def _take_as_locked(
    session: AsyncSession,
    statements: fifo_sql.Statements,
    params: dict[str, Any],
    qty: int,
    take: Any,
) -> list[MovedLine] | None:
    """The common case in one statement: lock the oldest lots that cover `qty` (ascending
    id) and read their source rows in the same statement, then take by the guarded moves.

    The rows are as the statement's snapshot saw them, which is before any lock it waited
    for, so they may be stale; the guarded decrement under the held lot lock is what
    decides. When a concurrent pick took some first (a guarded move finds less than
    planned), the lines already moved stay and the rest is taken by the exact path. None
    when the rows as read do not cover `qty` (then nothing has moved)."""
    held = locked_in_this_transaction(session)
    rows = list(
        (await session.execute(statements.locked_rows, {**params, "fifo_missing": qty})).all()
    )
    held.update(row.lot_id for row in rows)
    rows.sort(key=lambda row: (row.received_at, row.lot_id, row.location_id))
    plan = _plan(rows, qty)
    if plan is None:
        return None
    done: list[MovedLine] = []
    for line in plan:
        if not await take([line], short_ok=True):
            FIFO_EXTENDED.inc()
            return done + await _take_rest(session, statements, params, qty, done, take)
        done.append(line)
    return done


async def _take_rest(
    session: AsyncSession,
    statements: fifo_sql.Statements,
    params: dict[str, Any],
    qty: int,
    done: list[MovedLine],
    take: Any,
) -> list[MovedLine]:
    """What a stale plan could not take: the rest by the exact path (fresh rows under the
    locks); 409 with what there was before this pick when even that is not enough."""
    remaining = qty - sum(line.qty for line in done)
    rows = await _lock_fifo_lots(session, statements, params, remaining)
    plan = _plan(rows, remaining)
    if plan is None:
        # what there was before this pick (its own moves are rolled back with the 409)
        before: dict[tuple[int, int], list[Any]] = {
            (r.lot_id, r.location_id): [r.pcn, r.code, int(r.qty)] for r in rows
        }
        for line in done:
            key = (line.lot_id, line.from_location_id)
            before.setdefault(key, [line.pcn, line.from_location_code, 0])[2] += line.qty
        total = sum(entry[2] for entry in before.values())
        raise InsufficientStockError(
            f"Only {total} available; {qty} asked for.",
            available=total,
            requested=qty,
            lots=[
                {
                    "pcn": pcn,
                    "lot_id": lot_id,
                    "location_id": location_id,
                    "location_code": code,
                    "qty": units,
                }
                for (lot_id, location_id), (pcn, code, units) in sorted(before.items())
            ][:_MAX_LISTED_LOTS],
        )
    await take(plan)
    return plan


async def _take_exactly(
    session: AsyncSession,
    statements: fifo_sql.Statements,
    params: dict[str, Any],
    qty: int,
    part_id: int,
    warehouse_id: int,
    take: Any,
) -> list[MovedLine]:
    rows = await _lock_fifo_lots(session, statements, params, qty)
    plan = _plan(rows, qty)
    if plan is None:
        raise _not_enough(rows, qty, part_id, warehouse_id)
    await take(plan)
    return plan


async def _lock_fifo_lots(
    session: AsyncSession, statements: fifo_sql.Statements, params: dict[str, Any], qty: int
) -> list[Any]:
    """Lock only the lots a FIFO take of `qty` needs and return their source rows, fresh.

    Each round reads, without locks, the oldest not-yet-locked lots whose stock covers
    what is still missing, locks just those (ascending id, in the same statement), then
    re-reads the balances of every lot it holds: they cannot change any more. When a
    concurrent pick took some of them first, the next round extends the set with the next
    oldest lots; it ends when the held lots cover `qty` or no other lot has stock (then
    the rows are everything there is, for the 409). A deadlock between two extending
    rounds is possible in theory and is retried by the unit of work.
    """
    held = locked_in_this_transaction(session)
    lot_filter, sources = statements.lot_filter, statements.sources
    mine: set[int] = set()
    rows: list[Any] = []
    while True:
        missing = qty - sum(int(row.qty) for row in rows)
        if missing <= 0:
            return rows
        fresh = [*lot_filter] + ([Lot.id.not_in(sorted(mine))] if mine else [])
        taken = list(
            await session.scalars(
                select(Lot.id)
                .where(Lot.id.in_(fifo_sql.fifo_candidates(fresh, sources, missing)))
                .order_by(Lot.id)
                .with_for_update(),
                params,
            )
        )
        if not taken:
            return rows
        mine.update(taken)
        held.update(taken)
        rows = list(
            (
                await session.execute(
                    fifo_sql.fifo_rows([*lot_filter, Lot.id.in_(sorted(mine))], sources), params
                )
            ).all()
        )


async def suggest(
    session: AsyncSession,
    *,
    part_id: int,
    warehouse_id: int,
    qty: int,
    lot_id: int | None = None,
) -> list[MovedLine]:
    """Read-only: the (lot, location) rows a FIFO take of `qty` would move now, oldest
    first, as far as the stock goes (fewer units than `qty` when it is short). The same
    order as `take_fifo` from storage; nothing is locked or changed."""
    statements = fifo_sql.statements(to_location=False, one_lot=lot_id is not None)
    params = fifo_sql.params(part_id, warehouse_id, ("storage",), None, lot_id)
    lines: list[MovedLine] = []
    missing = qty
    for row in await session.execute(statements.rows.limit(_MAX_LISTED_LOTS), params):
        if missing <= 0:
            break
        take = min(int(row.qty), missing)
        lines.append(
            MovedLine(
                pcn=row.pcn,
                lot_id=row.lot_id,
                qty=take,
                from_location_id=row.location_id,
                from_location_code=row.code,
            )
        )
        missing -= take
    return lines
