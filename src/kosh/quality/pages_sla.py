"""The SLA report page: resolution SLA met / breached per month as a stacked bar chart
(server-rendered SVG, no inline style: CSP), and per kind and month as a table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.core.deps import SessionDep
from kosh.quality import service as quality_service
from kosh.quality.sla import ReportRow
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)  # included by kosh.quality.pages
PagesDep = Annotated[Pages, Depends(get_pages)]

CHART_HEIGHT = 160
BAR_WIDTH = 34
BAR_GAP = 14


@dataclass(frozen=True)
class MonthBar:
    """One month, in SVG user units: the met part below, the breached part on top."""

    x: int
    month: str
    met: int
    breached: int
    met_y: int
    met_height: int
    breached_y: int
    breached_height: int


def month_chart(rows: list[ReportRow]) -> tuple[list[MonthBar], int]:
    """Bars per month, oldest first, scaled to the busiest month; answers the bars and
    the chart's width."""
    months: dict[str, list[int]] = {}
    for row in rows:
        totals = months.setdefault(row.month, [0, 0])
        totals[0] += row.met
        totals[1] += row.breached
    top = max([met + breached for met, breached in months.values()] + [1])
    bars = []
    for index, (month, (met, breached)) in enumerate(sorted(months.items())):
        met_h = round(met / top * CHART_HEIGHT)
        breached_h = round(breached / top * CHART_HEIGHT)
        bars.append(
            MonthBar(
                x=index * (BAR_WIDTH + BAR_GAP),
                month=month,
                met=met,
                breached=breached,
                met_y=CHART_HEIGHT - met_h,
                met_height=met_h,
                breached_y=CHART_HEIGHT - met_h - breached_h,
                breached_height=breached_h,
            )
        )
    return bars, max(len(bars) * (BAR_WIDTH + BAR_GAP), BAR_WIDTH)


@router.get("/quality/sla")
async def sla_report(
    request: Request,
    _: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    months: Annotated[int, Query(ge=1, le=24)] = 6,
) -> Response:
    rows = await quality_service.sla_report(session, months=months)
    bars, width = month_chart(rows)
    return pages.render(
        request,
        "quality/sla.html",
        {
            "rows": rows,
            "bars": bars,
            "months": months,
            "chart_width": width,
            "chart_height": CHART_HEIGHT,
            "bar_width": BAR_WIDTH,
            "policies": await quality_service.list_policies(session),
        },
    )
