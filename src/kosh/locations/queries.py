"""Read-only location look-ups shared by the API and the pages: the search a location
field asks as a person types or scans (a code prefix, or WAREHOUSE/CODE), with a limit,
so no form ships every bin of a large site."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kosh.core.types import like_escape
from kosh.locations.models import Location, Warehouse

MAX_SEARCH = 50


@dataclass(frozen=True, slots=True)
class LocationOption:
    """A location as a form offers it: `value` is what a person types or scans (the bare
    code when it is unique among active locations, else WAREHOUSE/CODE)."""

    id: int
    code: str
    warehouse_id: int
    warehouse_code: str
    kind: str
    value: str

    @property
    def label(self) -> str:
        return f"{self.warehouse_code} {self.code} ({self.kind.replace('_', ' ')})"


def _usable() -> list[object]:
    return [Location.active.is_(True), Warehouse.active.is_(True)]


async def search_locations(
    session: AsyncSession,
    *,
    q: str | None = None,
    kinds: Collection[str] | None = None,
    ids: Collection[int] | None = None,
    warehouse_id: int | None = None,
    limit: int = 20,
) -> tuple[list[LocationOption], bool]:
    """Active locations of active warehouses whose code starts with `q` (any case; `WH/`
    in front narrows to a warehouse, and so does `warehouse_id`), of `kinds` when given, or
    those with `ids`; exact
    codes first, then by code. Answers at most `limit` (<= 50) and whether there are more.
    One statement: the uniqueness of each code (for `value`) is a correlated count."""
    limit = max(1, min(limit, MAX_SEARCH))
    query = select(Location, Warehouse.code).join(Warehouse, Warehouse.id == Location.warehouse_id)
    query = query.where(*_usable())  # type: ignore[arg-type]
    exact = None
    if q:
        text = q.strip()
        warehouse_code, slash, code = text.partition("/")
        if slash and warehouse_code:
            query = query.where(func.upper(Warehouse.code) == warehouse_code.upper())
            text = code
        prefix = like_escape(text.upper()) + "%"
        query = query.where(func.upper(Location.code).like(prefix, escape="\\"))
        exact = func.upper(Location.code) == text.upper()
    if kinds:
        query = query.where(Location.kind.in_(list(kinds)))
    if warehouse_id is not None:
        query = query.where(Location.warehouse_id == warehouse_id)
    if ids is not None:
        query = query.where(Location.id.in_(list(ids)))
    other, other_warehouse = aliased(Location), aliased(Warehouse)
    same_code = (
        select(func.count())
        .select_from(other)
        .join(other_warehouse, other_warehouse.id == other.warehouse_id)
        .where(
            func.upper(other.code) == func.upper(Location.code),
            other.active.is_(True),
            other_warehouse.active.is_(True),
        )
        .scalar_subquery()
    )
    order: list[Any] = [Location.code, Warehouse.code, Location.id]
    if exact is not None:
        order.insert(0, exact.desc())
    rows = (
        await session.execute(query.add_columns(same_code).order_by(*order).limit(limit + 1))
    ).all()
    options = [
        LocationOption(
            id=location.id,
            code=location.code,
            warehouse_id=location.warehouse_id,
            warehouse_code=warehouse_code,
            kind=location.kind,
            value=location.code if count == 1 else f"{warehouse_code}/{location.code}",
        )
        for location, warehouse_code, count in rows[:limit]
    ]
    return options, len(rows) > limit


MAX_LABELS = 500


@dataclass(frozen=True, slots=True)
class LabelBin:
    id: int
    code: str
    warehouse_code: str
    kind: str
    description: str


async def label_bins(
    session: AsyncSession,
    *,
    ids: Collection[int] | None = None,
    warehouse_id: int | None = None,
    first: str | None = None,
    last: str | None = None,
    limit: int = MAX_LABELS,
) -> tuple[list[LabelBin], int]:
    """The locations a label sheet prints: those with `ids`, or the warehouse's codes from
    `first` to `last` (inclusive, any case, in code order); at most `limit`, and how many
    matched in all."""
    query = select(
        Location.id, Location.code, Warehouse.code, Location.kind, Location.description
    ).join(Warehouse, Warehouse.id == Location.warehouse_id)
    if ids:
        query = query.where(Location.id.in_(list(ids)))
    else:
        if warehouse_id is None:
            return [], 0
        query = query.where(Location.warehouse_id == warehouse_id)
        if first:
            query = query.where(func.upper(Location.code) >= first.strip().upper())
        if last:
            query = query.where(func.upper(Location.code) <= last.strip().upper())
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = await session.execute(
        query.order_by(Warehouse.code, func.upper(Location.code), Location.id).limit(limit)
    )
    return [LabelBin(*row) for row in rows.all()], total
