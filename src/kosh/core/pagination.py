"""Paged lists: `limit` (default 50, max 200) and `offset`, answered as items/total/next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

MAX_LIMIT = 200
MAX_OFFSET = 10_000_000


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


def next_url(request: Request, page: PageParams, total: int) -> str | None:
    if page.offset + page.limit >= total:
        return None
    return str(request.url.include_query_params(offset=page.offset + page.limit, limit=page.limit))


# Lists over tables that grow without bound (the ledger, part search) count at most this
# many matches: an exact count of a million-row match is a full scan on every page view,
# and a person refines a search long before reading a thousand rows.
COUNT_CAP = 1_000


async def capped_count(session: AsyncSession, query: Select[Any], cap: int | None = None) -> int:
    """How many rows `query` yields, exactly up to `cap` (COUNT_CAP); more answer `cap`."""
    limited = query.limit(cap or COUNT_CAP).subquery()
    return int(await session.scalar(select(func.count()).select_from(limited)) or 0)


def next_url_capped(request: Request, page: PageParams, total: int, shown: int) -> str | None:
    """`next_url` for a capped total: at the cap, a full page means there may be more."""
    if total >= COUNT_CAP and shown == page.limit:
        return str(
            request.url.include_query_params(offset=page.offset + page.limit, limit=page.limit)
        )
    return next_url(request, page, total)


def sort_terms(
    column: ColumnElement[Any], *, descending: bool, tiebreak: Sequence[ColumnElement[Any]] = ()
) -> list[ColumnElement[Any]]:
    """ORDER BY terms for a list sorted by `column`: empty values last in either direction
    (the same on SQLite and PostgreSQL, whose NULL placement differs), then `tiebreak` so
    that paging is stable."""
    return [column.is_(None), column.desc() if descending else column.asc(), *tiebreak]
