"""Bulk receipt: many new lots at once, for imports (an opening stock of 100,000 reels).

The same invariants as `kosh.stock.movements` (one ledger row per lot in the same
transaction as its balance, never committing), in multi-row Core statements instead of one
ORM round trip per lot. New lots are invisible to other transactions until commit, so they
need no lock; they are remembered as locked by this transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import events
from kosh.core.actor import current_actor
from kosh.core.bulk import insert_rows
from kosh.core.db import utcnow
from kosh.core.errors import ConflictError, ValidationError, field_error
from kosh.core.request_context import current_request_id
from kosh.stock.models import MOVEMENT_KINDS, Lot, StockBalance, StockTransaction
from kosh.stock.movements import _pcn_taken, check_qty, locked_in_this_transaction
from kosh.stock.pcn import is_valid_pcn, next_pcns
from kosh.stock.queries import existing_pcns


@dataclass(frozen=True, slots=True)
class NewStock:
    """One lot to create by `receive_many`."""

    part_id: int
    qty: int
    location_id: int
    pcn: str | None = None
    date_code: str | None = None
    supplier: str | None = None
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReceivedLot:
    """A lot `receive_many` created and its ledger row (`id`), as plain values."""

    id: int
    pcn: str
    lot_id: int
    part_id: int
    to_location_id: int
    qty: int
    kind: str
    from_location_id: None = None


_BULK_CHUNK = 10_000  # items per round (progress is reported after each)
# The tables themselves, for Core multi-row inserts (no ORM bookkeeping per row).
_LOTS = cast(Table, Lot.__table__)
_BALANCES = cast(Table, StockBalance.__table__)
_LEDGER = cast(Table, StockTransaction.__table__)
_LOT_COLUMNS = (
    "pcn",
    "part_id",
    "received_at",
    "date_code",
    "supplier",
    "reference",
    "created_by",
    "created_at",
)
_BALANCE_COLUMNS = ("lot_id", "location_id", "qty")
_LEDGER_COLUMNS = (
    "at",
    "lot_id",
    "part_id",
    "from_location_id",
    "to_location_id",
    "qty",
    "kind",
    "reason",
    "reference",
    "actor_name",
    "actor_id",
    "request_id",
)


async def receive_many(
    session: AsyncSession,
    items: Sequence[NewStock],
    *,
    reference: str | None,
    kind: str = "receive",
    progress: Callable[[int], Awaitable[None]] | None = None,
) -> list[ReceivedLot]:
    """Create one lot per item holding its qty at its location, with one ledger row each,
    in bulk statements (an opening-stock receipt of 100,000 lots); never commits.

    The same rules as `receive_lot`, for every item: qty 1 ... MAX_QTY (422), a given PCN
    valid (422) and new (409 pcn_taken, also when `items` holds it twice; details.index
    names the item); PCNs are generated when not given. The caller checks the parts and
    the locations. Answers the lots and ledger row ids in the order of `items`.
    `progress`, when given, is awaited after each chunk with the number of items written
    so far. The new lots are invisible to everyone else until commit, so no lot lock is
    needed.
    """
    if kind not in MOVEMENT_KINDS:
        raise ValueError(f"unknown movement kind {kind!r}")
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        check_qty(item.qty)
        if item.pcn is None:
            continue
        if not is_valid_pcn(item.pcn):
            raise ValidationError(
                "Invalid PCN.",
                errors=[field_error(["pcn"], "1-64 of A-Z, a-z, 0-9, '.', '_', '-'")],
                details={"index": index},
            )
        if item.pcn in seen:
            raise _pcn_taken_at(item.pcn, index)
        seen[item.pcn] = index
    taken = await existing_pcns(session, seen)
    if taken:
        first = min(taken, key=seen.__getitem__)
        raise _pcn_taken_at(first, seen[first])
    generated = iter(await next_pcns(session, sum(1 for item in items if item.pcn is None)))
    pcns = [item.pcn or next(generated) for item in items]
    actor, now, request_id = current_actor(), utcnow(), current_request_id()
    answer: list[ReceivedLot] = []
    try:
        for start in range(0, len(items), _BULK_CHUNK):
            chunk = items[start : start + _BULK_CHUNK]
            names = pcns[start : start + _BULK_CHUNK]
            # set-based inserts (kosh.core.bulk), new ids in the order of the rows
            lot_ids = await insert_rows(
                session,
                _LOTS,
                _LOT_COLUMNS,
                [
                    (
                        names[n],
                        item.part_id,
                        item.received_at or now,
                        item.date_code,
                        item.supplier,
                        reference,
                        actor.name,
                        now,
                    )
                    for n, item in enumerate(chunk)
                ],
                ids=True,
            )
            locked_in_this_transaction(session).update(lot_ids)
            await insert_rows(
                session,
                _BALANCES,
                _BALANCE_COLUMNS,
                [
                    (lot_id, item.location_id, item.qty)
                    for lot_id, item in zip(lot_ids, chunk, strict=True)
                ],
            )
            entry_ids = await insert_rows(
                session,
                _LEDGER,
                _LEDGER_COLUMNS,
                [
                    (
                        now,
                        lot_id,
                        item.part_id,
                        None,
                        item.location_id,
                        item.qty,
                        kind,
                        None,
                        reference,
                        actor.name,
                        actor.id,
                        request_id,
                    )
                    for lot_id, item in zip(lot_ids, chunk, strict=True)
                ],
                ids=True,
            )
            answer += [
                ReceivedLot(
                    id=entry_id,
                    pcn=pcns[start + n],
                    lot_id=lot_id,
                    part_id=item.part_id,
                    to_location_id=item.location_id,
                    qty=item.qty,
                    kind=kind,
                )
                for n, (entry_id, lot_id, item) in enumerate(
                    zip(entry_ids, lot_ids, chunk, strict=True)
                )
            ]
            if progress is not None:
                await progress(min(start + _BULK_CHUNK, len(items)))
    except IntegrityError as exc:  # a given PCN supplied concurrently
        raise ConflictError("A PCN was taken meanwhile.", code="pcn_taken") from exc
    events.note(session, events.STOCK_CHANGED, {item.part_id for item in items})
    return answer


def _pcn_taken_at(pcn: str, index: int) -> ConflictError:
    error = _pcn_taken(pcn)
    error.details["index"] = index
    return error
