"""The browsable lot (PCN) list: lots with stock, filtered by part, location, age and date
code, oldest first (the order FIFO takes them in); and what each location holds, for the
location list. Read-only, for the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog.models import Part
from kosh.core.db import utcnow
from kosh.core.pagination import capped_count, sort_terms
from kosh.core.types import like_escape
from kosh.locations.models import Location
from kosh.stock.models import Lot, StockBalance

MAX_LOCATIONS_SHOWN = 3


@dataclass(frozen=True)
class LotFilters:
    part: str | None = None  # part number, any case, exact
    location: str | None = None  # location code, any case, exact
    older_than_days: int | None = None
    date_code: str | None = None  # contains, any case

    @property
    def active(self) -> bool:
        return any(v not in (None, "") for v in vars(self).values())


@dataclass(frozen=True)
class LotRow:
    pcn: str
    part_id: int
    part_number: str
    description: str
    date_code: str | None
    received_at: datetime
    qty: int
    locations: list[str] = field(default_factory=list)
    more_locations: int = 0


def _conditions(filters: LotFilters) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [StockBalance.qty > 0]
    if filters.part:
        found.append(func.upper(Part.number) == filters.part.strip().upper())
    if filters.location:
        found.append(func.upper(Location.code) == filters.location.strip().upper())
    if filters.older_than_days is not None:
        found.append(Lot.received_at <= utcnow() - timedelta(days=filters.older_than_days))
    if filters.date_code:
        pattern = f"%{like_escape(filters.date_code.strip().upper())}%"
        found.append(func.upper(Lot.date_code).like(pattern, escape="\\"))
    return found


LOT_SORTS = ("pcn", "part", "description", "date_code", "received", "qty")


async def lots(
    session: AsyncSession,
    filters: LotFilters,
    *,
    sort: str = "received",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[LotRow], int]:
    """One page of lots with stock matching `filters`, oldest first (or by another of
    LOT_SORTS over the whole list), and how many match (counted up to the pagination cap).
    A location filter sums only that location."""
    qty = func.sum(StockBalance.qty)
    columns: dict[str, Any] = {
        "pcn": Lot.pcn,
        "part": Part.number,
        "description": Part.description,
        "date_code": Lot.date_code,
        "received": Lot.received_at,
        "qty": qty,
    }
    base = (
        select(Lot.id)
        .join(Part, Part.id == Lot.part_id)
        .join(StockBalance, StockBalance.lot_id == Lot.id)
        .join(Location, Location.id == StockBalance.location_id)
        .where(*_conditions(filters))
        .group_by(Lot.id)
    )
    total = await capped_count(session, base)
    rows = await session.execute(
        select(
            Lot.id,
            Lot.pcn,
            Part.id,
            Part.number,
            Part.description,
            Lot.date_code,
            Lot.received_at,
            qty,
        )
        .join(Part, Part.id == Lot.part_id)
        .join(StockBalance, StockBalance.lot_id == Lot.id)
        .join(Location, Location.id == StockBalance.location_id)
        .where(*_conditions(filters))
        .group_by(
            Lot.id, Lot.pcn, Part.id, Part.number, Part.description, Lot.date_code, Lot.received_at
        )
        .order_by(*sort_terms(columns[sort], descending=descending, tiebreak=[Lot.id.asc()]))
        .limit(limit)
        .offset(offset)
    )
    found = rows.all()
    where = await _locations(session, [row[0] for row in found])
    return [
        LotRow(
            pcn=pcn,
            part_id=part_id,
            part_number=number,
            description=description,
            date_code=date_code,
            received_at=received_at,
            qty=int(qty),
            locations=where.get(lot_id, [])[:MAX_LOCATIONS_SHOWN],
            more_locations=max(len(where.get(lot_id, [])) - MAX_LOCATIONS_SHOWN, 0),
        )
        for lot_id, pcn, part_id, number, description, date_code, received_at, qty in found
    ], total


async def _locations(session: AsyncSession, lot_ids: list[int]) -> dict[int, list[str]]:
    if not lot_ids:
        return {}
    rows = await session.execute(
        select(StockBalance.lot_id, Location.code)
        .join(Location, Location.id == StockBalance.location_id)
        .where(StockBalance.lot_id.in_(lot_ids), StockBalance.qty > 0)
        .order_by(StockBalance.lot_id, Location.code)
    )
    found: dict[int, list[str]] = {}
    for lot_id, code in rows:
        found.setdefault(lot_id, []).append(code)
    return found


async def location_totals(
    session: AsyncSession, location_ids: list[int]
) -> dict[int, tuple[int, int]]:
    """(lots, units) held per location; (0, 0) for an empty one."""
    found = dict.fromkeys(location_ids, (0, 0))
    if not location_ids:
        return found
    rows = await session.execute(
        select(StockBalance.location_id, func.count(), func.sum(StockBalance.qty))
        .where(StockBalance.location_id.in_(location_ids), StockBalance.qty > 0)
        .group_by(StockBalance.location_id)
    )
    for location_id, lots_held, units in rows:
        found[location_id] = (int(lots_held), int(units or 0))
    return found


@dataclass(frozen=True)
class PartHeld:
    part_number: str
    qty: int


async def location_parts(
    session: AsyncSession, location_ids: list[int], *, shown: int = MAX_LOCATIONS_SHOWN
) -> dict[int, tuple[list[PartHeld], int]]:
    """Per location, the parts it holds with their units (most units first, at most
    `shown`) and how many parts there are in all; ([], 0) for an empty one."""
    held: dict[int, list[PartHeld]] = {location_id: [] for location_id in location_ids}
    if not location_ids:
        return {}
    rows = await session.execute(
        select(StockBalance.location_id, Part.number, func.sum(StockBalance.qty))
        .join(Lot, Lot.id == StockBalance.lot_id)
        .join(Part, Part.id == Lot.part_id)
        .where(StockBalance.location_id.in_(location_ids), StockBalance.qty > 0)
        .group_by(StockBalance.location_id, Part.number)
    )
    for location_id, number, units in rows:
        held[location_id].append(PartHeld(number, int(units or 0)))
    found = {}
    for location_id, parts in held.items():
        parts.sort(key=lambda p: (-p.qty, p.part_number))
        found[location_id] = (parts[:shown], len(parts))
    return found
