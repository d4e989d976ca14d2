"""Read-only stock queries shared by the API and the pages: PCN detail, stock of a part,
contents of a location, and ledger history (all index-backed, newest first)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Row, Select, String, any_, bindparam, func, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kosh.catalog.models import Part
from kosh.core.pagination import COUNT_CAP, capped_count
from kosh.locations.models import Location, Warehouse
from kosh.stock import fifo
from kosh.stock.models import Lot, StockBalance, StockTransaction
from kosh.stock.movements import MovedLine

MAX_LOTS_LISTED = 500


@dataclass(frozen=True)
class BalanceLine:
    location_id: int
    location_code: str
    warehouse_id: int
    warehouse_code: str
    kind: str
    qty: int


@dataclass(frozen=True)
class LotDetail:
    lot: Lot
    part: Part
    balances: list[BalanceLine]

    @property
    def total_qty(self) -> int:
        return sum(b.qty for b in self.balances)


@dataclass(frozen=True)
class LotLine:
    pcn: str
    lot_id: int
    location_id: int
    location_code: str
    qty: int


@dataclass(frozen=True)
class PartStock:
    part: Part
    by_location: list[BalanceLine]
    lots: list[LotLine]

    @property
    def floor_qty(self) -> int:
        return sum(b.qty for b in self.by_location if b.kind == "mfg_floor")

    @property
    def storage_qty(self) -> int:
        return sum(b.qty for b in self.by_location if b.kind == "storage")

    @property
    def total_qty(self) -> int:
        return sum(b.qty for b in self.by_location)


@dataclass(frozen=True)
class ContentLine:
    lot_id: int
    pcn: str
    part_id: int
    part_number: str
    description: str
    qty: int


@dataclass(frozen=True)
class LedgerEntry:
    id: int
    at: datetime
    kind: str
    qty: int
    lot_id: int
    pcn: str
    part_id: int
    part_number: str
    from_location_id: int | None
    from_location_code: str | None
    to_location_id: int | None
    to_location_code: str | None
    reference: str | None
    reason: str | None
    actor_name: str
    request_id: str | None


def _utc(moment: datetime | None) -> datetime | None:
    """Query times without a zone are taken as UTC (the API speaks UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _balance_lines(rows: Iterable[Row[int, str, int, str, str, int]]) -> list[BalanceLine]:
    return [
        BalanceLine(
            location_id=location_id,
            location_code=code,
            warehouse_id=warehouse_id,
            warehouse_code=warehouse_code,
            kind=kind,
            qty=int(qty),
        )
        for location_id, code, warehouse_id, warehouse_code, kind, qty in rows
    ]


def _by_location_columns() -> Select[int, str, int, str, str, int]:
    return (
        select(
            Location.id,
            Location.code,
            Location.warehouse_id,
            Warehouse.code,
            Location.kind,
            StockBalance.qty,
        )
        .join(Location, Location.id == StockBalance.location_id)
        .join(Warehouse, Warehouse.id == Location.warehouse_id)
    )


async def lot_detail(session: AsyncSession, lot: Lot) -> LotDetail:
    """A lot with its part and its non-zero balances by location."""
    part = await session.get_one(Part, lot.part_id)
    rows = await session.execute(
        _by_location_columns()
        .where(StockBalance.lot_id == lot.id, StockBalance.qty > 0)
        .order_by(Location.warehouse_id, Location.code)
    )
    return LotDetail(lot=lot, part=part, balances=_balance_lines(rows))


async def part_stock(session: AsyncSession, part: Part) -> PartStock:
    """On hand of a part by location (all its lots summed), and its lots with stock."""
    by_location = await session.execute(
        select(
            Location.id,
            Location.code,
            Location.warehouse_id,
            Warehouse.code,
            Location.kind,
            func.sum(StockBalance.qty),
        )
        .join(Location, Location.id == StockBalance.location_id)
        .join(Warehouse, Warehouse.id == Location.warehouse_id)
        .join(Lot, Lot.id == StockBalance.lot_id)
        .where(Lot.part_id == part.id, StockBalance.qty > 0)
        .group_by(Location.id, Location.code, Location.warehouse_id, Warehouse.code, Location.kind)
        .order_by(Location.warehouse_id, Location.code)
    )
    lots = await session.execute(
        select(Lot.pcn, Lot.id, Location.id, Location.code, StockBalance.qty)
        .join(StockBalance, StockBalance.lot_id == Lot.id)
        .join(Location, Location.id == StockBalance.location_id)
        .where(Lot.part_id == part.id, StockBalance.qty > 0)
        .order_by(Lot.received_at, Lot.id, Location.id)
        .limit(MAX_LOTS_LISTED)
    )
    return PartStock(
        part=part,
        by_location=_balance_lines(by_location),
        lots=[
            LotLine(pcn=pcn, lot_id=lot_id, location_id=loc_id, location_code=code, qty=int(qty))
            for pcn, lot_id, loc_id, code, qty in lots
        ],
    )


async def location_contents(
    session: AsyncSession, location_id: int, *, limit: int = 50, offset: int = 0
) -> tuple[list[ContentLine], int, int]:
    """The PCNs held at a location (by part number, then PCN): one page, how many
    PCNs in all, and the total units."""
    where = (StockBalance.location_id == location_id, StockBalance.qty > 0)
    count, units = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(StockBalance.qty), 0)).where(*where)
        )
    ).one()
    rows = await session.execute(
        select(Lot.id, Lot.pcn, Part.id, Part.number, Part.description, StockBalance.qty)
        .join(Lot, Lot.id == StockBalance.lot_id)
        .join(Part, Part.id == Lot.part_id)
        .where(*where)
        .order_by(Part.number, Lot.pcn)
        .limit(limit)
        .offset(offset)
    )
    lines = [
        ContentLine(
            lot_id=lot_id,
            pcn=pcn,
            part_id=part_id,
            part_number=number,
            description=desc,
            qty=int(qty),
        )
        for lot_id, pcn, part_id, number, desc, qty in rows
    ]
    return lines, int(count), int(units)


# --- history --------------------------------------------------------------------------


def _filters(
    kind: str | None, since: datetime | None, until: datetime | None, reference: str | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if kind:
        conditions.append(StockTransaction.kind == kind)
    if since is not None:
        conditions.append(StockTransaction.at >= _utc(since))
    if until is not None:
        conditions.append(StockTransaction.at < _utc(until))
    if reference:
        conditions.append(StockTransaction.reference == reference)
    return conditions


async def history(
    session: AsyncSession,
    *,
    lot_id: int | None = None,
    part_id: int | None = None,
    location_id: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    reference: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[LedgerEntry], int]:
    """Ledger rows of one lot, part or location, newest first, with filters (kind,
    [since, until), reference) and paging; answers the page and the total (counted up
    to kosh.core.pagination.COUNT_CAP: a busy location's history has millions of rows).

    Lot and part histories walk the (lot_id, id) / (part_id, id) indexes. A location is
    either end of a movement, so its history merges two index walks (from, to), each cut
    at offset + limit, instead of an OR that would scan.
    """
    if [lot_id, part_id, location_id].count(None) != 2:
        raise ValueError("give exactly one of lot_id, part_id, location_id")
    conditions = _filters(kind, since, until, reference)
    if location_id is None:
        owner = (
            StockTransaction.lot_id == lot_id
            if lot_id is not None
            else StockTransaction.part_id == part_id
        )
        total = await capped_count(session, select(StockTransaction.id).where(owner, *conditions))
        ids = (
            select(StockTransaction.id)
            .where(owner, *conditions)
            .order_by(StockTransaction.id.desc())
            .limit(limit)
            .offset(offset)
        )
    else:
        ends = [StockTransaction.from_location_id, StockTransaction.to_location_id]
        total = 0
        for end in ends:
            total += await capped_count(
                session, select(StockTransaction.id).where(end == location_id, *conditions)
            )
        total = min(total, COUNT_CAP)
        walks = [
            select(StockTransaction.id)
            .where(end == location_id, *conditions)
            .order_by(StockTransaction.id.desc())
            .limit(offset + limit)
            .subquery()
            for end in ends
        ]
        merged = union_all(*(select(walk.c.id) for walk in walks)).subquery()
        ids = select(merged.c.id).order_by(merged.c.id.desc()).limit(limit).offset(offset)
    return await _entries(session, ids), total


async def _entries(session: AsyncSession, ids: Select[int]) -> list[LedgerEntry]:
    source = aliased(Location)
    target = aliased(Location)
    page = ids.subquery()
    rows = await session.execute(
        select(StockTransaction, Lot.pcn, Part.number, source.code, target.code)
        .join(page, page.c.id == StockTransaction.id)
        .join(Lot, Lot.id == StockTransaction.lot_id)
        .join(Part, Part.id == StockTransaction.part_id)
        .outerjoin(source, source.id == StockTransaction.from_location_id)
        .outerjoin(target, target.id == StockTransaction.to_location_id)
        .order_by(StockTransaction.id.desc())
    )
    return [
        LedgerEntry(
            id=entry.id,
            at=entry.at,
            kind=entry.kind,
            qty=entry.qty,
            lot_id=entry.lot_id,
            pcn=pcn,
            part_id=entry.part_id,
            part_number=number,
            from_location_id=entry.from_location_id,
            from_location_code=from_code,
            to_location_id=entry.to_location_id,
            to_location_code=to_code,
            reference=entry.reference,
            reason=entry.reason,
            actor_name=entry.actor_name,
            request_id=entry.request_id,
        )
        for entry, pcn, number, from_code, to_code in rows
    ]


# --- labels and dashboard -------------------------------------------------------------


async def received_qty(session: AsyncSession, lot_id: int) -> int | None:
    """Units the lot came in with (its receipt or production rows, which come from
    nowhere), or None when it has none; printed on the PCN label."""
    total = await session.scalar(
        select(func.sum(StockTransaction.qty)).where(
            StockTransaction.lot_id == lot_id,
            StockTransaction.from_location_id.is_(None),
            StockTransaction.kind.in_(("receive", "produce")),
        )
    )
    return None if total is None else int(total)


@dataclass(frozen=True)
class StockCounts:
    lots: int
    recent_movements: int
    recent_capped: bool


async def stock_counts(session: AsyncSession, *, since: datetime, cap: int = 10_000) -> StockCounts:
    """How many PCNs exist and how many ledger rows were written since `since`.

    The recent count walks the ledger backwards along its primary key (ids grow with
    time) and stops after `cap` rows, so it costs the same on a ledger of any size;
    `recent_capped` says the true number is larger.
    """
    lots = await session.scalar(select(func.count()).select_from(Lot))
    newest = (
        select(StockTransaction.at).order_by(StockTransaction.id.desc()).limit(cap + 1).subquery()
    )
    recent = int(
        await session.scalar(
            select(func.count()).select_from(newest).where(newest.c.at >= _utc(since))
        )
        or 0
    )
    return StockCounts(
        lots=int(lots or 0), recent_movements=min(recent, cap), recent_capped=recent > cap
    )


# --- ledger totals by reference (production jobs: picks and consumption per job) ----------


@dataclass(frozen=True)
class ReferenceLotTotal:
    """Units of one lot moved under one reference by one kind of movement."""

    reference: str
    kind: str
    part_id: int
    lot_id: int
    pcn: str
    qty: int


async def lot_totals_for_references(
    session: AsyncSession,
    *,
    references: Iterable[str],
    kinds: Iterable[str] = ("pick", "consume"),
) -> list[ReferenceLotTotal]:
    """Ledger quantities summed per (reference, kind, lot): e.g. what was picked for a
    production job (its number is the pick reference) and what the job consumed. Read-only;
    index-backed by stock_transactions.reference."""
    wanted = sorted(set(references))
    if not wanted:
        return []
    answer: list[ReferenceLotTotal] = []
    for start in range(0, len(wanted), 500):
        rows = await session.execute(
            select(
                StockTransaction.reference,
                StockTransaction.kind,
                StockTransaction.part_id,
                StockTransaction.lot_id,
                Lot.pcn,
                func.sum(StockTransaction.qty),
            )
            .join(Lot, Lot.id == StockTransaction.lot_id)
            .where(
                StockTransaction.reference.in_(wanted[start : start + 500]),
                StockTransaction.kind.in_(list(kinds)),
            )
            .group_by(
                StockTransaction.reference,
                StockTransaction.kind,
                StockTransaction.part_id,
                StockTransaction.lot_id,
                Lot.pcn,
            )
            .order_by(StockTransaction.lot_id)
        )
        answer += [
            ReferenceLotTotal(
                reference=str(reference),
                kind=kind,
                part_id=part_id,
                lot_id=lot_id,
                pcn=pcn,
                qty=int(total or 0),
            )
            for reference, kind, part_id, lot_id, pcn, total in rows
        ]
    return answer


@dataclass(frozen=True)
class HeldLot:
    """Units of one lot at one location (a row of a stocktake's snapshot)."""

    lot_id: int
    pcn: str
    part_id: int
    part_number: str
    location_id: int
    qty: int


async def held_lots(
    session: AsyncSession,
    *,
    location_ids: Iterable[int],
    part_ids: Iterable[int] | None = None,
) -> list[HeldLot]:
    """The non-zero balances at the locations (optionally of some parts only), by location
    then PCN. Read-only; walks the stock_balances location index in chunks."""
    wanted = sorted(set(location_ids))
    parts = None if part_ids is None else sorted(set(part_ids))
    answer: list[HeldLot] = []
    for start in range(0, len(wanted), 500):
        query = (
            select(
                StockBalance.lot_id,
                Lot.pcn,
                Lot.part_id,
                Part.number,
                StockBalance.location_id,
                StockBalance.qty,
            )
            .join(Lot, Lot.id == StockBalance.lot_id)
            .join(Part, Part.id == Lot.part_id)
            .where(StockBalance.location_id.in_(wanted[start : start + 500]), StockBalance.qty > 0)
            .order_by(StockBalance.location_id, Lot.pcn)
        )
        if parts is not None:
            query = query.where(Lot.part_id.in_(parts))
        answer += [
            HeldLot(
                lot_id=lot_id,
                pcn=pcn,
                part_id=part_id,
                part_number=number,
                location_id=location_id,
                qty=int(qty),
            )
            for lot_id, pcn, part_id, number, location_id, qty in await session.execute(query)
        ]
    return answer


async def existing_pcns(session: AsyncSession, pcns: Iterable[str]) -> set[str]:
    """The PCNs among `pcns` that exist already (a bulk check for imports). PostgreSQL
    takes them as one array per 50,000 (`pcn = ANY(:pcns)`), SQLite 500 per IN list."""
    wanted = sorted(set(pcns))
    postgres = session.get_bind().dialect.name == "postgresql"
    size = 50_000 if postgres else 500
    found: set[str] = set()
    for start in range(0, len(wanted), size):
        chunk = wanted[start : start + size]
        match = (
            Lot.pcn == any_(bindparam("pcns", chunk, type_=ARRAY(String)))
            if postgres
            else Lot.pcn.in_(chunk)
        )
        found.update(await session.scalars(select(Lot.pcn).where(match)))
    return found


# Movements that use stock up (to nowhere): what ABC classification calls consumption.
CONSUMING_KINDS = ("pick", "consume", "ship")


async def consumption_by_part(
    session: AsyncSession, *, since: datetime, warehouse_id: int | None = None
) -> dict[int, int]:
    """Units of each part used up (picked, consumed, shipped) since `since`, from the
    warehouse's locations when one is given."""
    query = (
        select(StockTransaction.part_id, func.sum(StockTransaction.qty))
        .where(
            StockTransaction.at >= since,
            StockTransaction.to_location_id.is_(None),
            StockTransaction.kind.in_(CONSUMING_KINDS),
        )
        .group_by(StockTransaction.part_id)
    )
    if warehouse_id is not None:
        query = query.join(Location, Location.id == StockTransaction.from_location_id).where(
            Location.warehouse_id == warehouse_id
        )
    return {part_id: int(units) for part_id, units in await session.execute(query)}


async def parts_by_location(
    session: AsyncSession, location_ids: Iterable[int]
) -> dict[int, set[int]]:
    """The parts with a non-zero balance at each of the locations (absent: empty)."""
    wanted = sorted(set(location_ids))
    answer: dict[int, set[int]] = {}
    for start in range(0, len(wanted), 500):
        rows = await session.execute(
            select(StockBalance.location_id, Lot.part_id)
            .join(Lot, Lot.id == StockBalance.lot_id)
            .where(StockBalance.location_id.in_(wanted[start : start + 500]), StockBalance.qty > 0)
            .distinct()
        )
        for location_id, part_id in rows:
            answer.setdefault(location_id, set()).add(part_id)
    return answer


async def fifo_suggestion(
    session: AsyncSession, *, part_id: int, warehouse_id: int, qty: int, lot_id: int | None = None
) -> list[MovedLine]:
    """Which PCN from which storage bin, how many: the rows a FIFO pick of `qty` would
    take now (fewer units when short), read-only. A pick list shows them to confirm."""
    return await fifo.suggest(
        session, part_id=part_id, warehouse_id=warehouse_id, qty=qty, lot_id=lot_id
    )
