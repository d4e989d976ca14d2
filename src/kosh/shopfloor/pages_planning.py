"""Shop-floor planning pages: the manager dashboard (utilisation this week as an SVG
chart, late and at-risk jobs, operations in progress with who, held jobs and their
suggestions), the operator dashboard (my queue, what I'm running, my time today), and a
job's hold page (put on hold with a reason, take a suggestion into the freed slot,
resume). Every change goes through the JSON API (forms.js, CSRF header)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.core.deps import SessionDep
from kosh.core.types import PathId
from kosh.production import service as job_service
from kosh.shopfloor import capacity, dashboards, holds
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]

ROW_HEIGHT = 22
LABEL_WIDTH = 110
BAR_SPACE = 260


@dataclass(frozen=True)
class UtilisationBar:
    """One work centre's row of the utilisation chart, in SVG user units (CSP: no style)."""

    y: int
    width: int
    over: bool
    label: str
    value: str


def utilisation_chart(rows: list[dashboards.Utilisation]) -> tuple[list[UtilisationBar], int]:
    bars = []
    for index, row in enumerate(rows):
        pct = row.pct
        bars.append(
            UtilisationBar(
                y=index * ROW_HEIGHT,
                width=round(min(pct or 0, 150) / 150 * BAR_SPACE),
                over=(pct or 0) > 100,
                label=row.code,
                value="no capacity" if pct is None else f"{pct} %",
            )
        )
    return bars, max(len(rows), 1) * ROW_HEIGHT


@router.get("/shopfloor/dashboard")
async def manager_dashboard(
    request: Request, principal: CurrentPrincipal, pages: PagesDep, session: SessionDep
) -> Response:
    rows = await dashboards.utilisation(session)
    bars, height = utilisation_chart(rows)
    first, last = dashboards.week_of(capacity.today())
    return pages.render(
        request,
        "shopfloor/dashboard.html",
        {
            "rows": rows,
            "bars": bars,
            "chart_height": height,
            "label_width": LABEL_WIDTH,
            "bar_space": BAR_SPACE,
            "full_width": round(100 / 150 * BAR_SPACE),
            "week": (first, last),
            "risks": await dashboards.jobs_at_risk(session),
            "running": await dashboards.running(session),
            "held": await dashboards.held_jobs(session),
            "can_plan": principal.has_role("operator"),
            # employee names are personal data: managers see them, others the number
            "can_see_people": principal.has_role("manager"),
        },
    )


@router.get("/shopfloor/my")
async def operator_dashboard(
    request: Request, principal: CurrentPrincipal, pages: PagesDep, session: SessionDep
) -> Response:
    board = await dashboards.operator_board(session, principal.user.id)
    return pages.render(request, "shopfloor/my.html", {"board": board})


@router.get("/shopfloor/jobs/{job_id}/hold")
async def hold_page(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    job_id: PathId,
) -> Response:
    job = await job_service.get_job_or_raise(session, job_id)
    hold = await holds.active_hold(session, job.id)
    view = await holds.hold_view(session, hold) if hold else None
    return pages.render(
        request,
        "shopfloor/hold.html",
        {"job": job, "view": view, "can_plan": principal.has_role("operator")},
    )
