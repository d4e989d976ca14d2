"""The scanner's pick on PostgreSQL: a pick from storage to the warehouse's MFG floor whose
first FIFO row holds the quantity, with its look-ups (part, warehouse, floor), the take,
the ledger row and the probes of what it notes in one statement (`fifo_sql`), and, with an
`Extension`, what follows from the pick too (its audit event and answer, `pick_answer`).
Also the first-row take that `fifo.take_fifo` tries first, and what a take notes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import direct, events
from kosh.stock import fifo_sql
from kosh.stock.movements import (
    LEDGER_BOUND,
    MovedLine,
    is_postgres,
    is_valid_qty,
    ledger_row,
    locked_in_this_transaction,
)


def note_taken(
    session: AsyncSession, part_id: int, warehouse_id: int, from_kinds: tuple[str, ...]
) -> None:
    payloads = taken_payloads(part_id, warehouse_id)
    if "storage" not in from_kinds:
        del payloads[events.STOCK_WITHDRAWN]
    for event, ids in payloads.items():
        events.note(session, event, ids)


def taken_payloads(part_id: int, warehouse_id: int) -> dict[str, list[Any]]:
    """What a take from storage notes."""
    return {
        events.STOCK_CHANGED: [part_id],
        events.STOCK_WITHDRAWN: [(part_id, warehouse_id)],
    }


@dataclass(frozen=True)
class FloorPick:
    """A pick that the one-statement path did, with what its look-ups found (`row`: the
    statement's whole row, with the columns an extension added)."""

    part_id: int
    part_number: str
    floor_id: int
    floor_code: str
    line: MovedLine
    row: Any


@dataclass(frozen=True)
class Extension:
    """What else a floor pick's statement writes (`fifo_sql.floor_pick_statement`'s
    `extend`, a function built once) and the values it binds. With a `gate` (built once,
    of the probes' answers CTE: `floor_pick_statement`'s) the statement runs on its own,
    outside any transaction, and commits as it ends: it moves stock only when the gate
    holds, and the probes of everything the pick notes are answered in it (all False: no
    subscriber would act, so there is nothing to dispatch)."""

    extend: Callable[[Any], Any]
    params: dict[str, Any]
    gate: Callable[[Any], Any] | None = None


# part number -> id as the floor pick last found it, so the next pick of the part can have
# its events' probes answered in its statement; a stale entry (a renumbered part) costs
# only that: the answers are about payloads the pick then does not note
_PART_IDS: dict[str, int] = {}
_PART_IDS_KEPT = 20_000


def forget_known_parts() -> None:
    """Forget the part numbers seen (a process whose database was replaced: tests)."""
    _PART_IDS.clear()


async def floor_pick(
    session: AsyncSession,
    *,
    part_number: str,
    warehouse_id: int,
    qty: int,
    reference: str,
    also_noted: Callable[[int], dict[str, list[Any]]] = lambda _: {},
    extension: Extension | None = None,
) -> FloorPick | None:
    """PostgreSQL: a pick of `qty` from storage to the warehouse's MFG floor with its
    look-ups (part by exact number, warehouse active, floor) and the first-row take in one
    statement; never commits. None when it did nothing: the look-up found nothing (the
    caller's own look-ups then give the 404 or 422), or the first FIFO row does not hold
    `qty` (the caller's `take_fifo` decides; the lots this one locked stay held), or `qty`
    is out of range (the full path refuses it after its look-ups, as it always has).

    The probes of what the pick notes (and of `also_noted(part_id)`, the caller's events)
    are answered in the same statement when this process has seen the part before.
    `extension` writes what follows from the pick in the same statement too; with its
    `gate`, None also when the pick cannot be done alone (a part this process has not
    seen, a subscriber without a probe, or no transaction-free connection)."""
    if not is_postgres(session) or not is_valid_qty(qty):
        return None
    number = part_number.strip()
    known_id = _PART_IDS.get(number)
    ahead = (
        None
        if known_id is None
        else events.ask_ahead({**taken_payloads(known_id, warehouse_id), **also_noted(known_id)})
    )
    gate = None if extension is None else extension.gate
    if gate is not None and (
        ahead is None or not ahead.complete or not await direct.outside_transaction(session)
    ):
        return None
    found, line = await first_row(
        session,
        fifo_sql.floor_pick_statement(
            None if ahead is None else ahead.answers,
            None if extension is None else extension.extend,
            gate,
        ),
        {
            "lookup_part": number,
            "lookup_warehouse": warehouse_id,
            **({} if gate is None else {"lookup_known_part": known_id}),
            "fifo_kinds": ["storage"],
            **({} if ahead is None else ahead.params),
            **({} if extension is None else extension.params),
        },
        qty,
        ledger_row(0, 0, None, None, qty, "pick", reference, None),
        alone=gate is not None,
    )
    if found is not None and found.found_part_id != known_id:
        if len(_PART_IDS) >= _PART_IDS_KEPT:
            _PART_IDS.clear()
        _PART_IDS[number] = found.found_part_id
    if line is None:
        return None
    if ahead is not None:  # kept per payload: answers about another part go unused
        events.take_answers(session, ahead, found)
    note_taken(session, found.found_part_id, warehouse_id, ("storage",))
    return FloorPick(
        part_id=found.found_part_id,
        part_number=found.found_part_number,
        floor_id=found.floor_id,
        floor_code=found.floor_code,
        line=line,
        row=found,
    )


async def first_row(
    session: AsyncSession,
    statement: Any,
    params: dict[str, Any],
    qty: int,
    ledger: dict[str, Any],
    *,
    alone: bool = False,
) -> tuple[Any, MovedLine | None]:
    """Run a first-row take (`fifo_sql.first_row_take_statement`, alone or in a bigger
    statement): its row, and the line it moved (None: nothing moved); the lots it locked
    are held either way, unless the statement ran `alone` (committed as it ended)."""
    found = await direct.first(
        session,
        statement,
        {
            **params,
            "fifo_missing": qty,
            "fifo_qty": qty,
            **{f"ledger_{name}": ledger[name] for name in LEDGER_BOUND},
        },
        begin=not alone,
    )
    if found is None:
        return None, None
    if not alone:
        locked_in_this_transaction(session).update(found.held or ())
    if found.ledger_id is None:
        return found, None
    line = MovedLine(
        pcn=found.pcn,
        lot_id=found.lot_id,
        qty=qty,
        from_location_id=found.location_id,
        from_location_code=found.code,
    )
    return found, line
