"""JSON routes for jobs on hold: hold (frees the capacity, answers suggestions for the
slot), the hold and its suggestions, take a suggestion into the slot, resume; the held
jobs. Operators plan (as they schedule); anyone logged in reads."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kosh.auth.deps import CurrentPrincipal, Operator
from kosh.core.deps import SessionDep
from kosh.core.types import PathId, RequiredLine
from kosh.shopfloor import holds
from kosh.shopfloor.schemas import Strict

router = APIRouter(tags=["shop floor"])  # included by kosh.shopfloor.api under /api/v1


class HoldIn(Strict):
    reason: Annotated[RequiredLine, Field(max_length=500)]


class SuggestionRead(BaseModel):
    job_id: int
    number: str
    status: str
    qty: int
    due_date: date | None
    priority: str
    minutes: int
    same_work_centre: bool


class HoldRead(BaseModel):
    job_id: int
    reason: str
    held_by: str
    held_at: datetime
    released_at: datetime | None
    freed_minutes: int
    slot_start: date | None
    suggestions: list[SuggestionRead]


class SlotTaken(BaseModel):
    job_id: int
    held_job_id: int
    start: date
    finish: date | None
    late: bool


def hold_read(view: holds.HoldView) -> HoldRead:
    hold = view.hold
    return HoldRead(
        job_id=hold.job_id,
        reason=hold.reason,
        held_by=hold.held_by,
        held_at=hold.held_at,
        released_at=hold.released_at,
        freed_minutes=view.freed_minutes,
        slot_start=view.slot_start,
        suggestions=[SuggestionRead(**vars(s)) for s in view.suggestions],
    )


@router.post("/jobs/{job_id}/hold", response_model=HoldRead)
async def hold_job(job_id: PathId, body: HoldIn, _: Operator, session: SessionDep) -> HoldRead:
    """Put the job on hold: its scheduled capacity is freed; answers `suggestions`, the
    jobs that could run in the freed slot (same work centres or department, fit the
    freed hours, material available now), by due date, then priority."""
    return hold_read(await holds.hold_job(session, job_id=job_id, reason=body.reason))


@router.get("/jobs/{job_id}/hold", response_model=HoldRead)
async def get_hold(job_id: PathId, _: CurrentPrincipal, session: SessionDep) -> HoldRead:
    hold = await holds.active_hold_or_raise(session, job_id)
    return hold_read(await holds.hold_view(session, hold))


@router.post("/jobs/{job_id}/hold/suggestions/{suggested_id}/take", response_model=SlotTaken)
async def take_suggestion(
    job_id: PathId, suggested_id: PathId, _: Operator, session: SessionDep
) -> SlotTaken:
    """Schedule the suggested job into the slot the held job freed (one call)."""
    plan = await holds.take_suggestion(session, held_job_id=job_id, job_id=suggested_id)
    return SlotTaken(
        job_id=suggested_id,
        held_job_id=job_id,
        start=plan.start,
        finish=plan.finish,
        late=plan.late,
    )


@router.post("/jobs/{job_id}/resume", response_model=HoldRead)
async def resume_job(job_id: PathId, _: Operator, session: SessionDep) -> HoldRead:
    """End the hold; schedule the job again afterwards."""
    hold = await holds.resume_job(session, job_id=job_id)
    return HoldRead(
        job_id=hold.job_id,
        reason=hold.reason,
        held_by=hold.held_by,
        held_at=hold.held_at,
        released_at=hold.released_at,
        freed_minutes=0,
        slot_start=None,
        suggestions=[],
    )


@router.get("/holds", response_model=list[HoldRead])
async def list_holds(_: CurrentPrincipal, session: SessionDep) -> list[HoldRead]:
    """Jobs on hold now, oldest first, each with its suggestions."""
    return [hold_read(await holds.hold_view(session, h)) for h in await holds.active_holds(session)]
