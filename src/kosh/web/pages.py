"""The dashboard shell; features contribute tiles through `DASHBOARD_TILES`, first-run steps
through `SETUP_STEPS` and charts through `DASHBOARD_CHARTS`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.core.deps import SessionDep
from kosh.web.chart import BarChart, LineChart
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    href: str


@dataclass(frozen=True)
class SetupStep:
    """One thing a new installation needs before it is useful; `order` places it in the list."""

    order: int
    label: str
    href: str
    done: bool


TileSource = Callable[[AsyncSession], Awaitable[list[Tile]]]
DASHBOARD_TILES: list[TileSource] = []
StepSource = Callable[[AsyncSession], Awaitable[list[SetupStep]]]
SETUP_STEPS: list[StepSource] = []
Chart = BarChart | LineChart
ChartSource = Callable[[AsyncSession], Awaitable[list[BarChart]] | Awaitable[list[LineChart]]]
DASHBOARD_CHARTS: list[ChartSource] = []


async def setup_steps(session: AsyncSession) -> list[SetupStep]:
    """The first-run checklist in order; empty once every step is done."""
    steps: list[SetupStep] = []
    for source in SETUP_STEPS:
        steps += await source(session)
    if all(step.done for step in steps):
        return []
    return sorted(steps, key=lambda step: step.order)


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
    charts: list[Chart] = []
    for chart_source in DASHBOARD_CHARTS:
        charts += await chart_source(session)
    return pages.render(
        request,
        "web/dashboard.html",
        {"tiles": tiles, "steps": await setup_steps(session), "charts": charts},
    )
