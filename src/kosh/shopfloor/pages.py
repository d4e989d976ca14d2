"""Shop-floor pages: the overview (work centres, machines, departments), the load chart of
a work centre (server-rendered SVG and a table), a job's operations (planned vs actual,
schedule form), and the scanner page operators use at 390x844."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.core.deps import SessionDep
from kosh.core.types import PathId
from kosh.production import service as job_service
from kosh.shopfloor import (
    capacity,
    pages_master,
    pages_planning,
    pages_reports,
    people,
    queries,
    traveller,
    workcentres,
)
from kosh.web import nav
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]

nav.register(nav.NavItem("Shop floor", "/shopfloor", "viewer"))

CHART_HEIGHT = 160
BAR_WIDTH = 18
BAR_GAP = 6


@dataclass(frozen=True)
class Bar:
    """One day of the load chart, in SVG user units (no inline style: CSP)."""

    x: int
    capacity_y: int
    capacity_height: int
    planned_y: int
    planned_height: int
    over: bool
    label: str
    title: str


def chart(periods: list[queries.LoadPeriod]) -> tuple[list[Bar], int]:
    top = max([p.capacity_minutes for p in periods] + [p.planned_minutes for p in periods] + [1])
    bars = []
    for index, period in enumerate(periods):
        cap_h = round(period.capacity_minutes / top * CHART_HEIGHT)
        plan_h = round(period.planned_minutes / top * CHART_HEIGHT)
        bars.append(
            Bar(
                x=index * (BAR_WIDTH + BAR_GAP),
                capacity_y=CHART_HEIGHT - cap_h,
                capacity_height=cap_h,
                planned_y=CHART_HEIGHT - plan_h,
                planned_height=plan_h,
                over=period.planned_minutes > period.capacity_minutes,
                label=period.start.strftime("%d"),
                title=(
                    f"{period.start.isoformat()}: {period.planned_hours} h planned of "
                    f"{period.capacity_hours} h"
                ),
            )
        )
    return bars, max(len(periods) * (BAR_WIDTH + BAR_GAP), BAR_WIDTH)


@router.get("/shopfloor")
async def overview(
    request: Request, principal: CurrentPrincipal, pages: PagesDep, session: SessionDep
) -> Response:
    day = capacity.today()
    centres = []
    for centre in await workcentres.list_work_centres(session):
        caps = await capacity.capacities(session, centre, day, day)
        centres.append(
            {
                "centre": centre,
                "machines": await workcentres.machines_of(session, centre.id),
                "today_hours": round(caps.get(day, 0) / 60, 2),
            }
        )
    _, employees = await people.list_employees(session, limit=1)
    return pages.render(
        request,
        "shopfloor/overview.html",
        {
            "centres": centres,
            "departments": await people.list_departments(session),
            "employee_count": employees,
            "can_edit": principal.has_role("operator"),
            "can_manage": principal.has_role("manager"),
        },
    )


@router.get("/shopfloor/load")
async def load_page(
    request: Request,
    _: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    work_centre: Annotated[str | None, Query(max_length=32)] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    centres = await workcentres.list_work_centres(session)
    chosen = next((c for c in centres if c.code == work_centre), centres[0] if centres else None)
    first, last = queries.load_window(start, end)
    periods = await queries.load(session, chosen, first, last) if chosen else []
    bars, width = chart(periods)
    return pages.render(
        request,
        "shopfloor/load.html",
        {
            "centres": centres,
            "chosen": chosen,
            "periods": periods,
            "bars": bars,
            "chart_width": width,
            "chart_height": CHART_HEIGHT,
            "bar_width": BAR_WIDTH,
            "start": first,
            "end": last,
        },
    )


@router.get("/shopfloor/jobs/{job_id}")
async def job_operations_page(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    job_id: PathId,
) -> Response:
    job = await job_service.get_job_or_raise(session, job_id)
    views = await queries.job_operations_view(session, job.id)
    return pages.render(
        request,
        "shopfloor/job_operations.html",
        {
            "job": job,
            "operations": views,
            "today": capacity.today(),
            "can_edit": principal.has_role("operator"),
        },
    )


@router.get("/shopfloor/scan")
async def scan_page(request: Request, _: CurrentPrincipal, pages: PagesDep) -> Response:
    return pages.render(request, "shopfloor/scan.html")


@router.get("/shopfloor/jobs/{job_id}/traveller")
async def traveller_page(
    request: Request, _: CurrentPrincipal, pages: PagesDep, session: SessionDep, job_id: PathId
) -> Response:
    """The printable job traveller: each operation with its QR code for the scanner page."""
    job = await job_service.get_job_or_raise(session, job_id)
    views = await queries.job_operations_view(session, job.id)
    items = [{"view": v, "qr": traveller.qr_code(v.barcode)} for v in views]
    return pages.render(request, "shopfloor/traveller.html", {"job": job, "items": items})


# the shop floor's other page modules (app.py lists this router)
router.include_router(pages_planning.router)
router.include_router(pages_reports.router)
router.include_router(pages_master.router)
