"""Applying a document's lines to stock; joins the caller's transaction, never commits.

Every movement goes through `kosh.stock.movements` (guarded decrements, one ledger row
each, the document number as reference) and is recorded in `document_movements`, so a
reversal can write each one back the other way. The lots of all lines are locked up
front in ascending id order; a line without a PCN takes its part's lots at the source
location oldest PCN first, locking them before reading their balances.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.core import events
from kosh.core.bulk import insert_many, insert_rows
from kosh.core.errors import DomainError, RuleViolationError, field_error
from kosh.documents import errors, queries
from kosh.documents.models import Document, DocumentLine, DocumentMovement
from kosh.locations import service as location_service
from kosh.stock import bulk, movements
from kosh.stock import queries as stock_queries
from kosh.stock.errors import InsufficientStockError
from kosh.stock.models import StockTransaction
from kosh.stock.service import STOCKABLE_KINDS

if TYPE_CHECKING:
    from kosh.catalog.models import Part
    from kosh.locations.models import Location


_LINES = cast(Table, DocumentLine.__table__)
_MOVEMENTS = cast(Table, DocumentMovement.__table__)


@dataclass
class Written:
    line_no: int
    pcn: str
    entry: StockTransaction | bulk.ReceivedLot


async def lock_lots(session: AsyncSession, lot_ids: Iterable[int]) -> None:
    """`movements.lock_lots` in ascending chunks: one statement per 5,000 lots keeps a
    large stocktake or reversal under the driver's parameter limit, in the same order."""
    wanted = sorted(set(lot_ids))
    for start in range(0, len(wanted), 5_000):
        await movements.lock_lots(session, wanted[start : start + 5_000])


async def note_withdrawal(
    session: AsyncSession, *, part_id: int, source: Location, destination: Location | None
) -> None:
    """Tell the stock-event subscribers (the reserved-stock guard) that storage went down,
    as kosh.stock.service does for a transfer or consumption."""
    if source.kind != "storage":
        return
    if (
        destination is not None
        and destination.kind == "storage"
        and destination.warehouse_id == source.warehouse_id
    ):
        return
    events.note(session, events.STOCK_WITHDRAWN, [(part_id, source.warehouse_id)])


async def _fifo_at(
    session: AsyncSession, *, part_id: int, location_id: int, qty: int
) -> list[tuple[int, str, int]]:
    """(lot id, PCN, qty) to take `qty` of a part from one location, oldest PCN first."""
    held = await stock_queries.held_lots(session, location_ids=[location_id], part_ids=[part_id])
    await movements.lock_lots(session, [h.lot_id for h in held])
    plan: list[tuple[int, str, int]] = []
    remaining, available = qty, 0
    for lot in held:
        # re-read under the lock: the snapshot above may be older than the lock
        units = await movements.balance(session, lot_id=lot.lot_id, location_id=location_id)
        available += units
        take = min(units, remaining)
        if take:
            plan.append((lot.lot_id, lot.pcn, take))
            remaining -= take
    if remaining:
        raise InsufficientStockError(
            f"Only {available} of the part at location {location_id}; {qty} asked for.",
            available=available,
            requested=qty,
            extra={"part_id": part_id, "location_id": location_id},
        )
    return plan


async def _move_line(
    session: AsyncSession, document: Document, line: DocumentLine
) -> list[Written]:
    source = await location_service.get_location_or_raise(
        session, line.from_location_id or 0, loc="from_location_id"
    )
    destination = None
    if line.to_location_id is not None:
        destination = await location_service.usable_location(
            session, line.to_location_id, loc="to_location_id"
        )
    kind = "transfer" if document.type == "transfer" else (document.issue_kind or "consume")
    if line.lot_id is not None:
        plan = [(line.lot_id, line.pcn or "", line.qty)]
    else:
        plan = await _fifo_at(session, part_id=line.part_id, location_id=source.id, qty=line.qty)
    written = []
    for lot_id, pcn, qty in plan:
        entry = await movements.move(
            session,
            lot_id=lot_id,
            from_location_id=source.id,
            to_location_id=destination.id if destination else None,
            qty=qty,
            kind=kind,
            reference=document.number,
            reason=document.reason,
            part_id=line.part_id,
        )
        written.append(Written(line.line_no, pcn, entry))
    await note_withdrawal(session, part_id=line.part_id, source=source, destination=destination)
    return written


async def _receive_lines(session: AsyncSession, document: Document) -> list[Written]:
    """Every line of a receipt becomes a new lot in bulk (`bulk.receive_many`): an
    opening-stock receipt may hold 100,000 lines. Parts must be active and locations
    usable stock locations of the document's warehouse (422 naming the line)."""
    parts: dict[int, Part] = {}  # strong references: the identity map holds objects weakly
    places: dict[int, Location] = {}
    items = []
    for line in document.lines:
        try:
            part = parts.get(line.part_id) or await part_service.get_part_or_raise(
                session, line.part_id
            )
            parts[part.id] = part
            if not part.active:
                raise RuleViolationError(
                    f"Part {part.number} is inactive.",
                    code="part_inactive",
                    errors=[field_error(["part_number"], "is inactive")],
                )
            location_id = line.to_location_id or 0
            if location_id not in places:
                places[location_id] = await location_service.usable_location(
                    session,
                    location_id,
                    loc="to_location_id",
                    warehouse_id=document.warehouse_id,
                    kinds=STOCKABLE_KINDS,
                )
        except DomainError as exc:
            raise errors.on_line(exc, line.line_no, document.number) from None
        items.append(
            bulk.NewStock(
                part_id=part.id,
                qty=line.qty,
                location_id=location_id,
                pcn=line.pcn,
                date_code=line.date_code,
                supplier=line.supplier,
                received_at=line.received_at,
            )
        )
    try:
        entries = await bulk.receive_many(session, items, reference=document.number)
    except DomainError as exc:
        index = exc.details.get("index")
        if isinstance(index, int):
            raise errors.on_line(exc, document.lines[index].line_no, document.number) from None
        raise
    written = []
    for line, entry in zip(document.lines, entries, strict=True):
        line.lot_id, line.pcn = entry.lot_id, entry.pcn
        written.append(Written(line.line_no, entry.pcn, entry))
    return written


@dataclass(frozen=True, slots=True)
class ReceiptLine(bulk.NewStock):
    """A receipt line whose part and location the caller checked in this transaction."""

    part_number: str = ""
    note: str = ""


_LINE_COLUMNS = (
    "document_id",
    "line_no",
    "part_id",
    "part_number",
    "lot_id",
    "pcn",
    "qty",
    "from_location_id",
    "to_location_id",
    "date_code",
    "supplier",
    "received_at",
    "note",
)
_MOVEMENT_COLUMNS = (
    "document_id",
    "line_no",
    "transaction_id",
    "lot_id",
    "part_id",
    "pcn",
    "from_location_id",
    "to_location_id",
    "qty",
    "kind",
)


async def receive_bulk(
    session: AsyncSession,
    document: Document,
    lines: Sequence[ReceiptLine],
    *,
    progress: Callable[[int], Awaitable[None]] | None = None,
) -> int:
    """Write a receipt's lines, their lots and ledger rows in set-based statements (the
    opening-stock import: 100,000 lines in one transaction, no ORM object per line).
    `document.lines` is not loaded with them; reload the document to read them.
    `progress` is awaited with the lines written so far (see bulk.receive_many)."""
    try:
        received = await bulk.receive_many(
            session, lines, reference=document.number, progress=progress
        )
    except DomainError as exc:
        index = exc.details.get("index")
        if isinstance(index, int):
            raise errors.on_line(exc, index + 1, document.number) from None
        raise
    document_id = document.id
    await insert_rows(
        session,
        _LINES,
        _LINE_COLUMNS,
        [
            (
                document_id,
                n,
                line.part_id,
                line.part_number,
                lot.lot_id,
                lot.pcn,
                line.qty,
                None,
                line.location_id,
                line.date_code,
                line.supplier,
                line.received_at,
                line.note,
            )
            for n, (line, lot) in enumerate(zip(lines, received, strict=True), start=1)
        ],
    )
    await session.flush()
    await insert_rows(
        session,
        _MOVEMENTS,
        _MOVEMENT_COLUMNS,
        [
            (
                document_id,
                n,
                lot.id,
                lot.lot_id,
                lot.part_id,
                lot.pcn,
                None,
                lot.to_location_id,
                lot.qty,
                lot.kind,
            )
            for n, lot in enumerate(received, start=1)
        ],
    )
    return len(received)


async def record(session: AsyncSession, document: Document, written: list[Written]) -> int:
    """Keep what was written with the document (flushes: the ledger ids are needed)."""
    await session.flush()
    rows = [
        {
            "document_id": document.id,
            "line_no": item.line_no,
            "transaction_id": item.entry.id,
            "lot_id": item.entry.lot_id,
            "part_id": item.entry.part_id,
            "pcn": item.pcn,
            "from_location_id": item.entry.from_location_id,
            "to_location_id": item.entry.to_location_id,
            "qty": item.entry.qty,
            "kind": item.entry.kind,
        }
        for item in written
    ]
    await insert_many(session, _MOVEMENTS, rows)
    return len(written)


async def apply_lines(session: AsyncSession, document: Document) -> int:
    """Apply every line of a transfer, issue or receipt; answer the ledger rows written.
    The first line that fails raises (its error names the line) and the caller's
    transaction rolls everything back."""
    wanted = [x.lot_id for x in document.lines if x.lot_id]
    for line in document.lines:
        if line.lot_id is None and line.from_location_id is not None:
            # the lots a part line may take from, so every lot is locked in one ascending
            # pass (a lot arriving there meanwhile is locked later; a deadlock that could
            # cause is retried as a whole by the unit of work)
            held = await stock_queries.held_lots(
                session, location_ids=[line.from_location_id], part_ids=[line.part_id]
            )
            wanted += [h.lot_id for h in held]
    await lock_lots(session, wanted)
    if document.type == "receipt":
        return await record(session, document, await _receive_lines(session, document))
    written: list[Written] = []
    for line in document.lines:
        try:
            written += await _move_line(session, document, line)
        except DomainError as exc:
            raise errors.on_line(exc, line.line_no, document.number) from None
    return await record(session, document, written)


async def reverse(session: AsyncSession, *, original: Document, reversal: Document) -> int:
    """Write every movement of `original` back the other way under `reversal`'s number;
    the reversal gets one line per movement. Answers the ledger rows written."""
    done = await queries.movements_of(session, original.id)
    await lock_lots(session, [m.lot_id for m in done])
    reason = f"reversal of {original.number}"
    written: list[Written] = []
    for line_no, item in enumerate(reversed(done), start=1):
        reversal.lines.append(
            DocumentLine(
                line_no=line_no,
                part_id=item.part_id,
                part_number=await _part_number(session, item.part_id),
                lot_id=item.lot_id,
                pcn=item.pcn,
                qty=item.qty,
                from_location_id=item.to_location_id,
                to_location_id=item.from_location_id,
                note=reason,
            )
        )
        try:
            entry = await movements.move(
                session,
                lot_id=item.lot_id,
                from_location_id=item.to_location_id,
                to_location_id=item.from_location_id,
                qty=item.qty,
                kind="transfer" if item.kind == "transfer" else "adjust",
                reference=reversal.number,
                reason=reason,
                part_id=item.part_id,
            )
        except DomainError as exc:
            raise errors.on_line(exc, line_no, reversal.number) from None
        written.append(Written(line_no, item.pcn, entry))
        if item.to_location_id is not None:
            source = await location_service.get_location_or_raise(session, item.to_location_id)
            destination = None
            if item.from_location_id is not None:
                destination = await location_service.get_location_or_raise(
                    session, item.from_location_id
                )
            await note_withdrawal(
                session, part_id=item.part_id, source=source, destination=destination
            )
    return await record(session, reversal, written)


async def _part_number(session: AsyncSession, part_id: int) -> str:
    part = await part_service.get_part_or_raise(session, part_id)
    return part.number
