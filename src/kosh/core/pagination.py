"""Paged lists: `limit` (default 50, max 200) and `offset`, answered as items/total/next."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import BaseModel

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
