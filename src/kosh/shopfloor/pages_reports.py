"""Shop-floor report pages with CSV and xlsx export (kosh.shopfloor.reports): planned vs
actual hours per job and per work centre, scrap rate per operation, throughput per day."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.core.deps import SessionDep
from kosh.core.download import content_disposition
from kosh.shopfloor import reports
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KindPath = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[a-z_]+$")]


@router.get("/shopfloor/reports")
async def reports_index(request: Request, _: CurrentPrincipal, pages: PagesDep) -> Response:
    return pages.render(request, "shopfloor/reports.html", {"titles": reports.TITLES})


@router.get("/shopfloor/reports/{kind}")
async def report_page(
    request: Request,
    _: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    kind: KindPath,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    format: Literal["html", "csv", "xlsx"] = "html",
) -> Response:
    data = await reports.report(session, kind, start, end)
    name = f"{kind}-{data.start.isoformat()}-{data.end.isoformat()}"
    if format == "csv":
        return Response(
            reports.as_csv(data),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": content_disposition(f"{name}.csv")},
        )
    if format == "xlsx":
        return Response(
            reports.as_xlsx(data),
            media_type=XLSX,
            headers={"content-disposition": content_disposition(f"{name}.xlsx")},
        )
    return pages.render(request, "shopfloor/report.html", {"report": data})
