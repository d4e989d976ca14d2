"""Job pages: the list with a form to plan a job, and a job's detail (requirements,
kitting, shortages, PCNs) with release (and the manager's over-planning confirmation),
start, complete and cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.bom import queries as bom_queries
from kosh.bom import service as bom_service
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.types import PathId, QueryId, SearchText, clean_query
from kosh.locations import service as location_service
from kosh.production import picklist
from kosh.production import queries as job_queries
from kosh.production import service as job_service
from kosh.production.kitting import KITTABLE_STATUSES
from kosh.web import nav
from kosh.web.chart import BarChart, bar_chart
from kosh.web.pages import DASHBOARD_CHARTS
from kosh.web.sorting import SortParam, parse_sort
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
STATUSES = ("planned", "released", "in_progress", "complete", "cancelled")

nav.register(nav.NavItem("Jobs", "/jobs", "viewer"))


@router.get("/jobs")
async def job_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=20), AfterValidator(clean_query)] = None,
    q: SearchText = None,
    sort: SortParam = None,
    bom: QueryId = None,
) -> Response:
    """`?bom=<id>` (the BOM page's "plan a job") fills the form with that BOM."""
    status = status if status in STATUSES else None
    order = parse_sort(
        sort, keys=job_queries.JOB_SORTS, default="due", params={"q": q, "status": status}
    )
    items, total = await job_queries.list_jobs(
        session,
        status=status,
        q=q or None,
        sort=order.key,
        descending=order.descending,
        limit=200,
    )
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=500)
    chosen = None
    if bom is not None:
        chosen = await bom_queries.bom_read(
            session, await bom_service.get_bom_or_raise(session, bom)
        )
    active_boms, _ = await bom_queries.list_boms(session, status="active", limit=200)
    return pages.render(
        request,
        "production/job_list.html",
        {
            "jobs": items,
            "total": total,
            "sort": order,
            "status": status or "",
            "statuses": STATUSES,
            "status_options": [(s, s.replace("_", " ")) for s in STATUSES],
            "q": q or "",
            "warehouses": warehouses,
            "can_edit": principal.has_role("operator"),
            "chosen_bom": chosen,
            "active_boms": active_boms,
        },
    )


@router.get("/jobs/{job_id}")
async def job_detail(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
    job_id: PathId,
) -> Response:
    job = await job_service.get_job_or_raise(session, job_id)
    detail = await job_queries.job_detail(session, job)
    storage = []
    if detail.status == "in_progress":
        locations, _ = await location_service.list_locations(
            session, warehouse_id=job.warehouse_id, limit=500
        )
        storage = [
            loc
            for loc in locations
            if loc.active and loc.kind in ("storage", "receiving", "quarantine")
        ]
    return pages.render(
        request,
        "production/job_detail.html",
        {
            "job": detail,
            "can_edit": principal.has_role("operator"),
            "is_manager": principal.has_role("manager"),
            "locations": storage,
            "can_kit": principal.has_role("operator") and detail.status in KITTABLE_STATUSES,
            "scan_confirm": settings.kit_scan_confirm,
        },
    )


@router.get("/jobs/{job_id}/pick-list")
async def job_pick_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    job_id: PathId,
) -> Response:
    """The job's pick list, to print or to confirm line by line by scanning PCN labels."""
    found = await picklist.pick_list(session, job_id=job_id)
    detail = await job_queries.job_detail(session, found.job)
    return pages.render(
        request,
        "production/pick_list.html",
        {
            "job": detail,
            "lines": found.lines,
            "open_lines": [line for line in found.lines if line.outstanding],
            "can_kit": principal.has_role("operator"),
        },
    )


async def jobs_chart(session: AsyncSession) -> list[BarChart]:
    """Jobs by status, each bar linking to the list filtered by it."""
    rows = await job_queries.jobs_by_status(session)
    if not any(count for _, count in rows):
        return []
    return [
        bar_chart(
            "jobs",
            title="Jobs by status",
            description="How many production jobs are in each status.",
            column="Status",
            rows=[(status.replace("_", " "), count) for status, count in rows],
            hrefs={status.replace("_", " "): f"/jobs?status={status}" for status, _ in rows},
        )
    ]


if jobs_chart not in DASHBOARD_CHARTS:
    DASHBOARD_CHARTS.append(jobs_chart)
