"""Read-only part queries shared by the API and the pages: search and CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.catalog.models import Part

EXPORT_COLUMNS = (
    "number",
    "description",
    "unit",
    "category",
    "manufacturer",
    "mpn",
    "reorder_point",
    "unit_cost",
    "active",
)
_EXPORT_BATCH = 2000


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_filter(q: str) -> ColumnElement[bool]:
    """Number prefix, or description / MPN containing the text (case-insensitive).

    On PostgreSQL the ILIKEs are served by the pg_trgm GIN index `ix_parts_search`.
    """
    text = _like_escape(q.strip())
    return or_(
        Part.number.ilike(f"{text}%", escape="\\"),
        Part.description.ilike(f"%{text}%", escape="\\"),
        Part.mpn.ilike(f"%{text}%", escape="\\"),
    )


def _filtered(q: str | None, active: bool | None) -> Select[Part]:
    query = select(Part)
    if q and q.strip():
        query = query.where(_search_filter(q))
    if active is not None:
        query = query.where(Part.active.is_(active))
    return query


async def search_parts(
    session: AsyncSession,
    *,
    q: str | None = None,
    active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Part], int]:
    """One page of parts ordered by number, and how many match in all."""
    query = _filtered(q, active)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Part.number).limit(limit).offset(offset))
    return list(rows), int(total or 0)


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
