"""Shop-floor master-data pages (phone and desktop): departments, employees (managers
only: personal data), work centres with their calendar, exceptions and machines, and
routings with copy and a side-by-side comparison of two revisions. Forms post to the
JSON API (forms.js; nested fields through shopfloor-master.js)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal, Manager
from kosh.catalog import service as part_service
from kosh.core.deps import SessionDep
from kosh.core.types import PathId, QueryId
from kosh.shopfloor import people, routings, workcentres
from kosh.shopfloor.models import WEEKDAYS, RoutingOperation, ShiftCalendar
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
CodePath = Annotated[
    str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
]
NEW_OPERATION_ROWS = 5


@router.get("/shopfloor/departments")
async def departments_page(
    request: Request, principal: CurrentPrincipal, pages: PagesDep, session: SessionDep
) -> Response:
    return pages.render(
        request,
        "shopfloor/departments.html",
        {
            "departments": await people.list_departments(session),
            "can_edit": principal.has_role("manager"),
        },
    )


@router.get("/shopfloor/employees")
async def employees_page(
    request: Request, _: Manager, pages: PagesDep, session: SessionDep
) -> Response:
    employees, total = await people.list_employees(session, limit=200)
    departments = {d.id: d for d in await people.list_departments(session)}
    return pages.render(
        request,
        "shopfloor/employees.html",
        {
            "employees": employees,
            "total": total,
            "departments": departments,
            "centres": await workcentres.list_work_centres(session),
        },
    )


@router.get("/shopfloor/work-centres")
async def work_centres_page(
    request: Request, principal: CurrentPrincipal, pages: PagesDep, session: SessionDep
) -> Response:
    return pages.render(
        request,
        "shopfloor/work_centres.html",
        {
            "centres": await workcentres.list_work_centres(session),
            "departments": await people.list_departments(session),
            "weekdays": WEEKDAYS,
            "can_edit": principal.has_role("manager"),
        },
    )


@router.get("/shopfloor/work-centres/{code}")
async def work_centre_page(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    code: CodePath,
) -> Response:
    centre = await workcentres.get_work_centre_by_code_or_raise(session, code)
    calendar = await session.get(ShiftCalendar, centre.calendar_id)
    hours = (
        {day: round(int(getattr(calendar, f"{day}_minutes")) / 60, 2) for day in WEEKDAYS}
        if calendar
        else {}
    )
    return pages.render(
        request,
        "shopfloor/work_centre.html",
        {
            "centre": centre,
            "calendar": calendar,
            "hours": hours,
            "exceptions": await workcentres.calendar_exceptions(session, centre.calendar_id),
            "machines": await workcentres.machines_of(session, centre.id),
            "weekdays": WEEKDAYS,
            "can_edit": principal.has_role("manager"),
            "can_operate": principal.has_role("operator"),
        },
    )


@router.get("/shopfloor/routings")
async def routings_page(
    request: Request, principal: CurrentPrincipal, pages: PagesDep, session: SessionDep
) -> Response:
    rows = []
    for routing in await routings.list_routings(session):
        part = await part_service.get_part_or_raise(session, routing.assembly_part_id)
        rows.append((routing, part.number))
    return pages.render(
        request,
        "shopfloor/routings.html",
        {
            "rows": rows,
            "centres": await workcentres.list_work_centres(session),
            "new_rows": range(NEW_OPERATION_ROWS),
            "can_edit": principal.has_role("manager"),
        },
    )


@dataclass(frozen=True)
class Step:
    seq: int
    left: RoutingOperation | None
    right: RoutingOperation | None

    @property
    def changed(self) -> list[str]:
        if self.left is None or self.right is None:
            return ["added" if self.left is None else "removed"]
        fields = ("work_centre_id", "name", "setup_minutes", "run_minutes_per_unit")
        return [f for f in fields if getattr(self.left, f) != getattr(self.right, f)]


@router.get("/shopfloor/routings/{routing_id}")
async def routing_page(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    routing_id: PathId,
    compare: QueryId = None,
) -> Response:
    """A routing's operations; `compare` (another routing's id) shows both side by side."""
    routing = await routings.get_routing_or_raise(session, routing_id)
    part = await part_service.get_part_or_raise(session, routing.assembly_part_id)
    ops = await routings.routing_operations(session, routing.id)
    other = await routings.get_routing_or_raise(session, compare) if compare else None
    steps: list[Step] = []
    if other is not None:
        theirs = {op.seq: op for op in await routings.routing_operations(session, other.id)}
        mine = {op.seq: op for op in ops}
        steps = [Step(seq, mine.get(seq), theirs.get(seq)) for seq in sorted({*mine, *theirs})]
    revisions = [
        r
        for r in await routings.list_routings(session, assembly_part_id=routing.assembly_part_id)
        if r.id != routing.id
    ]
    codes = {c.id: c.code for c in await workcentres.list_work_centres(session)}
    return pages.render(
        request,
        "shopfloor/routing.html",
        {
            "routing": routing,
            "part_number": part.number,
            "operations": ops,
            "codes": codes,
            "other": other,
            "steps": steps,
            "revisions": revisions,
            "can_edit": principal.has_role("manager"),
        },
    )
