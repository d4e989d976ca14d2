"""The dashboard shell; features contribute tiles through `DASHBOARD_TILES`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.core.deps import SessionDep
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    href: str


TileSource = Callable[[AsyncSession], Awaitable[list[Tile]]]
DASHBOARD_TILES: list[TileSource] = []


@router.get("/")
async def dashboard(
    request: Request,
    _: CurrentPrincipal,
    pages: Annotated[Pages, Depends(get_pages)],
    session: SessionDep,
) -> Response:
    tiles: list[Tile] = []
    for source in DASHBOARD_TILES:
        tiles += await source(session)
    return pages.render(request, "web/dashboard.html", {"tiles": tiles})
