"""Read-only part queries shared by the API and the pages: search and CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import ColumnElement, Select, String, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from kosh.catalog.models import Part
from kosh.core.pagination import COUNT_CAP, capped_count, sort_terms
from kosh.core.types import like_escape

EXPORT_COLUMNS = (
    "number",
    "description",
    "unit",
    "category",
    "manufacturer",
    "mpn",
    "reorder_point",
    "unit_cost",
    "list_price",
    "active",
)
_EXPORT_BATCH = 2000


def _search_filter(q: str) -> ColumnElement[bool]:
    """Number prefix, or description / MPN containing the text (case-insensitive).

    On PostgreSQL the ILIKEs are served by one pg_trgm GIN index per column.
    """
    escaped = like_escape(q.strip())
    prefix, anywhere = _pattern(f"{escaped}%"), _pattern(f"%{escaped}%")
    return or_(
        Part.number.ilike(prefix, escape="\\"),
        Part.description.ilike(anywhere, escape="\\"),
        Part.mpn.ilike(anywhere, escape="\\"),
    )


def _pattern(value: str) -> ColumnElement[str]:
    # Rendered into the SQL (safely quoted), not bound: PostgreSQL plans a prepared
    # statement generically after a few runs, and a generic plan cannot see that a
    # pattern is selective, so it scans every part instead of using the trigram index.
    return literal(value, String(), literal_execute=True)


def _filtered(q: str | None, active: bool | None) -> Select[Part]:
    query = select(Part)
    if q and q.strip():
        query = query.where(_search_filter(q))
    if active is not None:
        query = query.where(Part.active.is_(active))
    return query


PART_SORTS = ("number", "description", "manufacturer", "mpn", "unit")


def _part_order(part: Any, sort: str, descending: bool) -> list[ColumnElement[Any]]:
    if sort == "number":
        return [part.number.desc() if descending else part.number.asc()]
    column = getattr(part, sort)
    return sort_terms(column, descending=descending, tiebreak=[part.number])


async def search_parts(
    session: AsyncSession,
    *,
    q: str | None = None,
    active: bool | None = None,
    sort: str = "number",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Part], int]:
    """One page of parts ordered by number (or by another of PART_SORTS, the number
    breaking ties), and how many match.

    Without `q` the whole catalogue pages in number order (total counted up to COUNT_CAP).
    With `q` the work is bounded: the first COUNT_CAP matches are found (trigram index on
    PostgreSQL), then sorted and paged; a total of COUNT_CAP means "at least that many,
    refine the search". Trigram selectivity is guessed badly by the planner, and an
    unbounded "ORDER BY number LIMIT n" over a broad match can walk the whole catalogue.
    """
    query = _filtered(q, active)
    if not (q and q.strip()):
        total = await capped_count(session, query.with_only_columns(Part.id))
        order = _part_order(Part, sort, descending)
        rows = await session.scalars(query.order_by(*order).limit(limit).offset(offset))
        return list(rows), total
    matches = query.limit(COUNT_CAP).subquery()
    found = aliased(Part, matches)
    statement = (
        select(found, func.count().over())
        .order_by(*_part_order(found, sort, descending))
        .limit(limit)
        .offset(offset)
    )
    rows_and_counts = (await session.execute(statement)).all()
    if rows_and_counts:
        return [row[0] for row in rows_and_counts], int(rows_and_counts[0][1])
    if offset == 0:
        return [], 0
    counted = await session.scalar(select(func.count()).select_from(matches))
    return [], int(counted or 0)


def _csv_line(values: list[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def _cell(value: object) -> object:
    # Spreadsheet programs execute cells starting with these; prefix them so a part
    # description cannot become a formula (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


async def export_csv(
    sessions: async_sessionmaker[AsyncSession],
    *,
    q: str | None = None,
    active: bool | None = None,
) -> AsyncIterator[str]:
    """The matching parts as CSV text, header first, fetched in keyset batches so any
    number of parts streams in constant memory. Each batch uses a short-lived session."""
    yield _csv_line(["id", *EXPORT_COLUMNS])
    after = 0
    while True:
        async with sessions() as session:
            batch = list(
                await session.scalars(
                    _filtered(q, active)
                    .where(Part.id > after)
                    .order_by(Part.id)
                    .limit(_EXPORT_BATCH)
                )
            )
        if not batch:
            return
        chunk = io.StringIO()
        writer = csv.writer(chunk)
        for part in batch:
            writer.writerow([part.id, *(_cell(getattr(part, c)) for c in EXPORT_COLUMNS)])
        yield chunk.getvalue()
        after = batch[-1].id


async def count_parts(session: AsyncSession, *, active: bool | None = True) -> int:
    """How many parts there are (active ones by default), for the dashboard."""
    query = select(func.count()).select_from(Part)
    if active is not None:
        query = query.where(Part.active.is_(active))
    return int(await session.scalar(query) or 0)


async def parts_with_reorder_point(session: AsyncSession) -> list[Part]:
    """Active parts that have a reorder point (purchasing suggests orders for them)."""
    rows = await session.scalars(
        select(Part).where(Part.active.is_(True), Part.reorder_point > 0).order_by(Part.id)
    )
    return list(rows)


async def count_with_reorder_point(session: AsyncSession) -> int:
    """How many active parts have a reorder point (the ones low stock is judged for)."""
    total = await session.scalar(
        select(func.count()).select_from(Part).where(Part.active.is_(True), Part.reorder_point > 0)
    )
    return int(total or 0)


async def parts_by_ids(session: AsyncSession, part_ids: list[int]) -> dict[int, Part]:
    """The parts with these ids, keyed by id; unknown ids are absent."""
    found: dict[int, Part] = {}
    wanted = sorted(set(part_ids))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for part in await session.scalars(select(Part).where(Part.id.in_(chunk))):
            found[part.id] = part
    return found
