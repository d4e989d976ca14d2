"""The maintenance calendar page: planned preventive windows and due dates per machine,
a month or a week at a time. On a phone the days stack as an agenda; on a wide screen
they form a week grid. Managers plan a window (reserving the machine's capacity on the
shop floor) and cancel one; forms submit to the JSON API through forms.js."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.core.db import utcnow
from kosh.core.deps import SessionDep
from kosh.quality import service as quality_service
from kosh.quality import windows
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)  # included by kosh.quality.pages
PagesDep = Annotated[Pages, Depends(get_pages)]
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def _shift(view: str, anchor: date, step: int) -> date:
    if view == "week":
        return anchor + timedelta(days=7 * step)
    first = anchor.replace(day=1)
    return (
        (first + timedelta(days=32)).replace(day=1)
        if step > 0
        else (first - timedelta(days=1)).replace(day=1)
    )


@router.get("/quality/maintenance/calendar")
async def maintenance_calendar(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    view: Annotated[str, Query(max_length=8)] = "month",
    anchor: Annotated[date | None, Query(alias="date")] = None,
) -> Response:
    view = view if view in ("month", "week") else "month"
    today = utcnow().date()
    anchor = min(max(anchor or today, FIRST_DAY), LAST_DAY)
    start, end = windows.calendar_span(view, anchor)
    days = await quality_service.maintenance_calendar(session, start=start, end=end, today=today)
    plans = [s for s in await quality_service.plan_statuses(session) if s.plan.active]
    return pages.render(
        request,
        "quality/maintenance_calendar.html",
        {
            "view": view,
            "anchor": anchor,
            "today": today,
            "days": days,
            "title": anchor.strftime("%B %Y") if view == "month" else f"Week of {start}",
            "previous": _shift(view, anchor, -1),
            "next": _shift(view, anchor, 1),
            "plans": plans,
            "can_plan": principal.has_role("manager"),
        },
    )
