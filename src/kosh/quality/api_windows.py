"""JSON routes of the maintenance calendar: plan a preventive window (reserving the
machine's capacity on the shop floor), cancel it, and read the calendar of windows and
due dates. Managers plan and cancel (as they keep maintenance plans); anyone logged in
reads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, StrictBool

from kosh.auth.deps import CurrentPrincipal, Manager
from kosh.core.db import utcnow
from kosh.core.deps import SessionDep
from kosh.core.types import Id, PathId
from kosh.quality import service as quality_service
from kosh.quality import windows
from kosh.quality.schemas import Strict

FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)  # what a calendar can show
router = APIRouter(tags=["quality"])  # included by kosh.quality.api under /api/v1


class WindowIn(Strict):
    plan_id: Id
    first_day: date
    last_day: date
    reserve: StrictBool = True


class WindowRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_id: int
    machine_id: int
    first_day: date
    last_day: date
    reserved: bool
    reference: str
    cancelled_at: datetime | None


class PlannedWindowRead(WindowRead):
    displaced_operations: list[int]


class EntryRead(BaseModel):
    kind: str
    machine_code: str
    title: str
    plan_id: int
    window_id: int | None
    reserved: bool
    first: bool


class CalendarDayRead(BaseModel):
    day: date
    entries: list[EntryRead]


@router.post("/maintenance-windows", response_model=PlannedWindowRead, status_code=201)
async def plan_window(body: WindowIn, _: Manager, session: SessionDep) -> PlannedWindowRead:
    """Plan a preventive window; `reserve` keeps the machine off the plan on those days
    (the answer lists the operations taken off the plan)."""
    planned = await quality_service.plan_window(
        session,
        plan_id=body.plan_id,
        first_day=body.first_day,
        last_day=body.last_day,
        reserve=body.reserve,
    )
    return PlannedWindowRead(
        **WindowRead.model_validate(planned.window).model_dump(),
        displaced_operations=planned.displaced,
    )


@router.post("/maintenance-windows/{window_id}/cancel", response_model=WindowRead)
async def cancel_window(window_id: PathId, _: Manager, session: SessionDep) -> WindowRead:
    """Cancel a window; its reserved capacity comes back (409 window_cancelled)."""
    window = await quality_service.cancel_window(session, window_id=window_id)
    return WindowRead.model_validate(window)


@router.get("/maintenance-calendar", response_model=list[CalendarDayRead])
async def maintenance_calendar(
    _: CurrentPrincipal,
    session: SessionDep,
    view: Literal["month", "week"] = "month",
    anchor: Annotated[date | None, Query(alias="date", ge=FIRST_DAY, le=LAST_DAY)] = None,
) -> list[CalendarDayRead]:
    """The windows and due dates per day of the month or week holding `date` (today)."""
    start, end = windows.calendar_span(view, anchor or utcnow().date())
    days = await quality_service.maintenance_calendar(session, start=start, end=end)
    return [
        CalendarDayRead(day=d.day, entries=[EntryRead(**e.__dict__) for e in d.entries])
        for d in days
    ]
