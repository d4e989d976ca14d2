"""Stocktakes: scope and snapshot, counting by scanning, recounts, the variance report,
and posting the variances as adjust rows (docs/adr/0003-stocktake-movements.md).

Movements during a count are not frozen: each count is compared with the balance of that
PCN at that location at the moment it is counted (`book_qty`, read under the lot lock),
and posting applies `counted - book` to the balance as it is then. A pick between the
count and the posting therefore neither hides nor invents a variance.

Expected PCNs never counted: in a location where something was counted they are
missing (counted 0, so posting zeroes what is there then); in a location nobody counted
they are left as they are. The variance report shows both before posting.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import transactional, utcnow
from kosh.core.errors import ConflictError, DomainError, RuleViolationError, field_error
from kosh.documents import errors, queries
from kosh.documents.metrics import STOCKTAKE_COUNTS
from kosh.documents.models import Document, StocktakeLine, StocktakeLocation
from kosh.documents.posting import Written, lock_lots, record
from kosh.locations import service as location_service
from kosh.stock import movements
from kosh.stock import queries as stock_queries
from kosh.stock import service as stock_service
from kosh.stock.service import STOCKABLE_KINDS

MAX_SCOPE_LOCATIONS = 100_000


@dataclass(frozen=True)
class Scope:
    """What a stocktake counts: a zone (location-code prefix), locations, parts. Zone and
    locations together count the locations of the list inside the zone."""

    zone: str | None = None
    location_ids: tuple[int, ...] = ()
    part_ids: tuple[int, ...] = ()


async def take_snapshot(session: AsyncSession, document: Document, scope: Scope) -> None:
    """Record the scope's locations and every non-zero balance in them (of the scope's
    parts) as expected lines. Unknown or foreign locations and unknown parts are 422."""
    warehouse_id = document.warehouse_id
    if scope.location_ids:
        locations = []
        for index, location_id in enumerate(dict.fromkeys(scope.location_ids)):
            location = await location_service.get_location_or_raise(
                session, location_id, loc=f"scope.location_ids.{index}"
            )
            if location.warehouse_id != warehouse_id:
                raise RuleViolationError(
                    f"Location {location.code} is in another warehouse.",
                    code="location_out_of_scope",
                    errors=[field_error(["scope", "location_ids", index], "another warehouse")],
                )
            locations.append(location)
    else:
        locations, _ = await location_service.list_locations(
            session, warehouse_id=warehouse_id, active=True, limit=MAX_SCOPE_LOCATIONS
        )
    if scope.zone:
        prefix = scope.zone.upper()
        locations = [loc for loc in locations if loc.code.upper().startswith(prefix)]
    locations = [loc for loc in locations if loc.kind in STOCKABLE_KINDS]
    if not locations:
        raise RuleViolationError(
            "The scope holds no stock locations.",
            code="empty_scope",
            errors=[field_error(["scope"], "no storage, receiving or quarantine location")],
        )
    part_ids: list[int] | None = None
    if scope.part_ids:
        part_ids = []
        for part_id in dict.fromkeys(scope.part_ids):
            part_ids.append((await part_service.get_part_or_raise(session, part_id)).id)
    document.scope = {
        "zone": scope.zone,
        "location_ids": list(scope.location_ids),
        "part_ids": part_ids or [],
    }
    for location in locations:
        session.add(
            StocktakeLocation(document_id=document.id, location_id=location.id, code=location.code)
        )
    held = await stock_queries.held_lots(
        session, location_ids=[loc.id for loc in locations], part_ids=part_ids
    )
    session.add_all(
        StocktakeLine(
            document_id=document.id,
            location_id=h.location_id,
            lot_id=h.lot_id,
            part_id=h.part_id,
            part_number=h.part_number,
            pcn=h.pcn,
            expected_qty=h.qty,
            unexpected=False,
            state="expected",
        )
        for h in held
    )


def _stocktake_draft(document: Document) -> None:
    if document.type != "stocktake":
        raise RuleViolationError(
            f"Document {document.number} is not a stocktake.", code="not_a_stocktake"
        )
    if document.status != "draft":
        raise errors.invalid_status(document.number, document.status, "counted")


@dataclass(frozen=True)
class Count:
    line: StocktakeLine
    blind: bool


@transactional
async def record_count(
    session: AsyncSession, *, document_id: int, location_id: int, pcn: str, counted_qty: int
) -> Count:
    """Record that `counted_qty` of a PCN is at a location (a later count of the same PCN
    there replaces the earlier one; a recount request is satisfied by it).

    Rules: the document is a stocktake (422 not_a_stocktake) in draft (409); the location
    is in its scope (422 location_out_of_scope); the PCN exists (404 pcn_not_found) and,
    with a part scope, is of one of its parts (422 part_out_of_scope). A PCN not expected
    there is recorded as unexpected (expected 0). The balance at this moment is kept as
    the book quantity the variance is computed from.
    """
    document = await queries.load_document(session, document_id, for_update=True)
    _stocktake_draft(document)
    place = await queries.stocktake_location(session, document.id, location_id)
    if place is None:
        raise RuleViolationError(
            f"Location {location_id} is not in the scope of {document.number}.",
            code="location_out_of_scope",
            errors=[field_error(["location_id"], "not in this stocktake")],
        )
    lot = await stock_service.get_lot_by_pcn_or_raise(session, pcn)
    part_ids = (document.scope or {}).get("part_ids") or []
    if part_ids and lot.part_id not in part_ids:
        raise RuleViolationError(
            f"PCN {lot.pcn} is not one of the parts counted by {document.number}.",
            code="part_out_of_scope",
            errors=[field_error(["pcn"], "part not in this stocktake")],
        )
    await movements.lock_lots(session, [lot.id])
    book = await movements.balance(session, lot_id=lot.id, location_id=location_id)
    line = await queries.stocktake_line(
        session, document.id, lot_id=lot.id, location_id=location_id
    )
    if line is None:
        part = await part_service.get_part_or_raise(session, lot.part_id)
        line = StocktakeLine(
            document_id=document.id,
            location_id=location_id,
            lot_id=lot.id,
            part_id=lot.part_id,
            part_number=part.number,
            pcn=lot.pcn,
            expected_qty=0,
            unexpected=True,
        )
        session.add(line)
    previous = line.counted_qty
    now = utcnow()
    line.state = "counted"
    line.counted_qty = counted_qty
    line.book_qty = book
    line.counted_at = now
    line.counted_by = current_actor().name
    place.counted_at = now
    document.version += 1
    document.updated_at = now
    await session.flush()
    await audit.record(
        session,
        action="stocktake.count",
        entity_type="document",
        entity_id=document.number,
        before=None if previous is None else {"counted_qty": previous},
        after={
            "location_id": location_id,
            "pcn": lot.pcn,
            "counted_qty": counted_qty,
            "book_qty": book,
            "unexpected": line.unexpected,
        },
    )
    STOCKTAKE_COUNTS.labels(outcome="unexpected" if line.unexpected else "expected").inc()
    return Count(line=line, blind=document.blind)


@transactional
async def request_recount(
    session: AsyncSession, *, document_id: int, line_ids: list[int], version: int | None = None
) -> Document:
    """Ask for lines to be counted again before posting: their count is cleared and the
    stocktake cannot post until each is counted (409 recount_pending). Unknown line ids
    are 404 line_not_found; nothing changes then."""
    document = await queries.load_document(session, document_id, for_update=True)
    _stocktake_draft(document)
    if version is not None and version != document.version:
        raise errors.stale_version(document.number, document.version)
    by_id = {line.id: line for line in await queries.stocktake_lines(session, document.id)}
    missing = [line_id for line_id in line_ids if line_id not in by_id]
    if missing:
        raise errors.line_not_found(document.number, missing[0])
    for line_id in dict.fromkeys(line_ids):
        line = by_id[line_id]
        line.state, line.counted_qty, line.book_qty = "recount", None, None
    document.version += 1
    document.updated_at = utcnow()
    await audit.record(
        session,
        action="stocktake.recount",
        entity_type="document",
        entity_id=document.number,
        after={"line_ids": sorted(set(line_ids))},
    )
    return document


# --- variance ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VarianceLine:
    line_id: int
    location_id: int
    location_code: str
    pcn: str
    part_id: int
    part_number: str
    status: str  # counted | unexpected | missing | not_counted | recount
    expected_qty: int
    book_qty: int | None
    counted_qty: int | None
    variance: int
    unit_cost: Decimal | None
    value: Decimal | None


@dataclass
class PartVariance:
    part_id: int
    part_number: str
    variance: int = 0
    value: Decimal | None = None


@dataclass
class Variance:
    document: Document
    lines: list[VarianceLine]
    parts: list[PartVariance] = field(default_factory=list)
    units_gained: int = 0
    units_lost: int = 0
    value: Decimal = Decimal(0)
    by_status: dict[str, int] = field(default_factory=dict)


def _status(line: StocktakeLine, counted_places: set[int]) -> str:
    if line.state == "recount":
        return "recount"
    if line.state == "counted":
        return "unexpected" if line.unexpected else "counted"
    return "missing" if line.location_id in counted_places else "not_counted"


async def variance(session: AsyncSession, *, document_id: int) -> Variance:
    """What posting would adjust: per line (counted - book; missing lines against the
    balance now, uncounted lines 0), per part, and in value at the part's unit cost."""
    document = await queries.load_document(session, document_id)
    if document.type != "stocktake":
        raise RuleViolationError(
            f"Document {document.number} is not a stocktake.", code="not_a_stocktake"
        )
    places = await queries.stocktake_locations(session, document.id)
    codes = {p.location_id: p.code for p in places}
    counted_places = {p.location_id for p in places if p.counted_at is not None}
    lines = await queries.stocktake_lines(session, document.id)
    now_held: dict[tuple[int, int], int] = {}
    if document.status == "draft":
        pending = [x.location_id for x in lines if x.state != "counted"]
        for h in await stock_queries.held_lots(session, location_ids=pending):
            now_held[(h.lot_id, h.location_id)] = h.qty
    parts = await part_service.parts_by_numbers(session, {x.part_number for x in lines})
    report = Variance(document=document, lines=[])
    per_part: dict[int, PartVariance] = {}
    counts: dict[str, int] = defaultdict(int)
    for line in lines:
        status = _status(line, counted_places)
        counts[status] += 1
        book: int | None = line.book_qty
        if document.status != "draft":
            diff = line.posted_variance or 0
        elif status in ("counted", "unexpected"):
            diff = (line.counted_qty or 0) - (line.book_qty or 0)
        elif status == "missing":
            book = now_held.get((line.lot_id, line.location_id), 0)
            diff = -book
        else:
            book = now_held.get((line.lot_id, line.location_id), 0)
            diff = 0
        part = parts.get(line.part_number)
        cost = part.unit_cost if part is not None else None
        value = None if cost is None else cost * diff
        report.lines.append(
            VarianceLine(
                line_id=line.id,
                location_id=line.location_id,
                location_code=codes.get(line.location_id, str(line.location_id)),
                pcn=line.pcn,
                part_id=line.part_id,
                part_number=line.part_number,
                status=status,
                expected_qty=line.expected_qty,
                book_qty=book,
                counted_qty=line.counted_qty,
                variance=diff,
                unit_cost=cost,
                value=value,
            )
        )
        entry = per_part.setdefault(
            line.part_id, PartVariance(part_id=line.part_id, part_number=line.part_number)
        )
        entry.variance += diff
        if value is not None:
            entry.value = (entry.value or Decimal(0)) + value
            report.value += value
        if diff > 0:
            report.units_gained += diff
        else:
            report.units_lost -= diff
    report.parts = sorted(per_part.values(), key=lambda p: p.part_number)
    report.by_status = dict(counts)
    return report


# --- posting ----------------------------------------------------------------------------


async def apply_counts(session: AsyncSession, document: Document) -> int:
    """Post a stocktake's variances as adjust rows (never commits). Refused as a whole
    while a recount is pending (409 recount_pending) or when a loss exceeds the balance
    now (409 insufficient_stock naming the line: count it again). Answers the rows."""
    lines = await queries.stocktake_lines(session, document.id)
    recounts = [x.id for x in lines if x.state == "recount"]
    if recounts:
        raise ConflictError(
            f"Stocktake {document.number} waits for {len(recounts)} recount(s).",
            code="recount_pending",
            details={"line_ids": recounts[:50]},
        )
    places = await queries.stocktake_locations(session, document.id)
    counted_places = {p.location_id for p in places if p.counted_at is not None}
    await lock_lots(session, [x.lot_id for x in lines])
    written: list[Written] = []
    reason = f"stocktake {document.number}"
    for line in lines:
        status = _status(line, counted_places)
        if status == "not_counted":
            continue
        if status == "missing":
            # read under the lot lock: what is there now is what is missing
            line.book_qty = await movements.balance(
                session, lot_id=line.lot_id, location_id=line.location_id
            )
            line.counted_qty = 0
        diff = (line.counted_qty or 0) - (line.book_qty or 0)
        line.posted_variance = diff
        if not diff:
            continue
        try:
            entry = await movements.move(
                session,
                lot_id=line.lot_id,
                from_location_id=None if diff > 0 else line.location_id,
                to_location_id=line.location_id if diff > 0 else None,
                qty=abs(diff),
                kind="adjust",
                reference=document.number,
                reason=reason,
                part_id=line.part_id,
            )
        except DomainError as exc:
            raise errors.on_line(exc, line.id, document.number) from None
        written.append(Written(line.id, line.pcn, entry))
    now = utcnow()
    for place in places:
        if place.location_id in counted_places:
            place.posted_at = now
    return await record(session, document, written)


def count_view(count: Count) -> dict[str, Any]:
    """A recorded count as the scanner sees it (blind mode hides what was expected)."""
    line = count.line
    message = f"PCN {line.pcn}: {line.counted_qty:,} counted"
    if line.unexpected:
        message += " (not expected here)"
    elif not count.blind:
        message += f" (book {line.book_qty or 0:,})"
    return {
        "message": message + ".",
        "line_id": line.id,
        "location_id": line.location_id,
        "pcn": line.pcn,
        "part_number": line.part_number,
        "counted_qty": line.counted_qty,
        "unexpected": line.unexpected,
        "expected_qty": None if count.blind else line.expected_qty,
        "book_qty": None if count.blind else line.book_qty,
    }
