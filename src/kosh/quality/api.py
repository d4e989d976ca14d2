"""JSON routes of quality, maintenance and returns. Anyone logged in reads; operators
raise and move tickets, contain and disposition stock, consume spares, attach photos and
handle returns; managers keep maintenance plans and SLA policies; admins edit workflows."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Query, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.deps import Admin, CurrentPrincipal, Manager, Operator
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.download import content_disposition
from kosh.core.errors import PayloadTooLargeError
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import PathId, QueryId
from kosh.quality import api_windows
from kosh.quality import returns as return_ops
from kosh.quality import service as quality_service
from kosh.quality import tickets as ticket_ops
from kosh.quality.models import Return, Ticket
from kosh.quality.schemas import (
    AttachmentRead,
    Category,
    ClockRead,
    CommentIn,
    ContainIn,
    DispositionIn,
    EventRead,
    InspectIn,
    Kind,
    MovedRead,
    PlanCreate,
    PlanRead,
    Priority,
    ReceiveIn,
    ReplacementIn,
    ReturnCreate,
    ReturnLineRead,
    ReturnRead,
    SavedViewIn,
    SavedViewRead,
    SlaPolicyIn,
    SlaPolicyRead,
    SlaRead,
    SlaReportRow,
    SpareLineRead,
    SparesIn,
    Status,
    StatusIn,
    SupportCalendarDayIn,
    SupportCalendarIn,
    SupportCalendarRead,
    TicketCreate,
    TicketDetail,
    TicketPage,
    TicketRead,
    TicketScan,
    TicketUpdate,
    TransitionIn,
    WorkflowIn,
    WorkflowRead,
)
from kosh.quality.sla import Clock
from kosh.quality.workflows import StatusSpec, Workflow

router = APIRouter(prefix="/api/v1", tags=["quality"])


# --- shaping --------------------------------------------------------------------------


def _clock(clock: Clock) -> ClockRead:
    return ClockRead(
        name=clock.name,
        target_minutes=clock.target_minutes,
        elapsed_minutes=clock.elapsed_minutes,
        state=clock.state,
        due_at=clock.due_at,
    )


async def ticket_detail(session: AsyncSession, ticket: Ticket) -> TicketDetail:
    workflow = await quality_service.get_workflow(session, ticket.kind)
    sla = await quality_service.ticket_sla(session, ticket)
    return TicketDetail(
        **TicketRead.model_validate(ticket).model_dump(),
        events=[
            EventRead.model_validate(e) for e in await ticket_ops.events_of(session, ticket.id)
        ],
        allowed=workflow.targets(ticket.status),
        sla=SlaRead(response=_clock(sla.response), resolution=_clock(sla.resolution))
        if sla
        else None,
        attachments=[
            AttachmentRead.model_validate(a)
            for a in await quality_service.attachments_of(session, ticket.id)
        ],
    )


async def return_read(session: AsyncSession, rma: Return) -> ReturnRead:
    return ReturnRead(
        id=rma.id,
        number=rma.number,
        sales_order_id=rma.sales_order_id,
        reason=rma.reason,
        outcome=rma.outcome,
        status=rma.status,
        location_id=rma.location_id,
        created_at=rma.created_at,
        lines=[
            ReturnLineRead.model_validate(line)
            for line in await return_ops.lines_of(session, rma.id)
        ],
    )


def workflow_read(workflow: Workflow) -> WorkflowRead:
    return WorkflowRead(
        kind=workflow.kind,
        initial=workflow.initial,
        statuses=[StatusIn(status=s.status, category=s.category) for s in workflow.statuses],
        transitions=workflow.transitions,
    )


# --- tickets --------------------------------------------------------------------------


@router.post("/tickets", response_model=TicketDetail, status_code=201)
async def create_ticket(body: TicketCreate, _: Operator, session: SessionDep) -> TicketDetail:
    """Raise a ticket; `machine_down` (maintenance) sets the machine down at once."""
    ticket = await quality_service.create_ticket(
        session,
        kind=body.kind,
        title=body.title,
        priority=body.priority,
        description=body.description,
        links=quality_service.Links(**body.links.model_dump()),
        machine_down=body.machine_down,
        cause=body.cause,
        assignee_user_id=body.assignee_user_id,
        assignee_department_code=body.assignee_department_code,
    )
    return await ticket_detail(session, ticket)


@router.post("/tickets/scan", response_model=TicketDetail, status_code=201)
async def raise_from_scan(body: TicketScan, _: Operator, session: SessionDep) -> TicketDetail:
    """Raise a ticket from a scanned PCN or machine label (the phone page)."""
    ticket = await quality_service.raise_from_scan(session, **body.model_dump())
    return await ticket_detail(session, ticket)


@router.get("/tickets", response_model=TicketPage)
async def list_tickets(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    kind: Kind | None = None,
    status: Annotated[Status | None, Query()] = None,
    category: Category | None = None,
    priority: Priority | None = None,
    machine_id: QueryId = None,
) -> TicketPage:
    rows, total = await quality_service.list_tickets(
        session,
        kind=kind,
        status=status,
        category=category,
        priority=priority,
        machine_id=machine_id,
        limit=page.limit,
        offset=page.offset,
    )
    return TicketPage(
        items=[TicketRead.model_validate(t) for t in rows],
        total=total,
        next=next_url(request, page, total),
    )


@router.get("/tickets/{ticket_id}", response_model=TicketDetail)
async def get_ticket(ticket_id: PathId, _: CurrentPrincipal, session: SessionDep) -> TicketDetail:
    return await ticket_detail(
        session, await quality_service.get_ticket_or_raise(session, ticket_id)
    )


@router.patch("/tickets/{ticket_id}", response_model=TicketDetail)
async def update_ticket(
    ticket_id: PathId, body: TicketUpdate, _: Operator, session: SessionDep
) -> TicketDetail:
    ticket = await quality_service.update_ticket(
        session, ticket_id=ticket_id, **body.model_dump(exclude_unset=True)
    )
    return await ticket_detail(session, ticket)


@router.post("/tickets/{ticket_id}/transition", response_model=TicketDetail)
async def transition(
    ticket_id: PathId, body: TransitionIn, _: Operator, session: SessionDep
) -> TicketDetail:
    """Move along the kind's workflow (409 transition_not_allowed lists what is)."""
    ticket = await quality_service.transition(
        session, ticket_id=ticket_id, to=body.to, version=body.version, note=body.note
    )
    return await ticket_detail(session, ticket)


@router.post("/tickets/{ticket_id}/comments", response_model=EventRead, status_code=201)
async def add_comment(
    ticket_id: PathId, body: CommentIn, _: Operator, session: SessionDep
) -> EventRead:
    event = await quality_service.comment(session, ticket_id=ticket_id, body=body.text)
    return EventRead.model_validate(event)


@router.post("/tickets/{ticket_id}/contain", response_model=list[MovedRead])
async def contain(
    ticket_id: PathId, body: ContainIn, _: Operator, session: SessionDep
) -> list[MovedRead]:
    """Move all or part of a PCN into quarantine, in one transaction."""
    moved = await quality_service.contain(
        session, ticket_id=ticket_id, pcn=body.pcn, location_id=body.location_id, qty=body.qty
    )
    return [MovedRead(**m.__dict__) for m in moved]


@router.post("/tickets/{ticket_id}/disposition", response_model=MovedRead)
async def disposition(
    ticket_id: PathId, body: DispositionIn, _: Operator, session: SessionDep
) -> MovedRead:
    moved = await quality_service.disposition(session, ticket_id=ticket_id, **body.model_dump())
    return MovedRead(**moved.__dict__)


@router.post("/tickets/{ticket_id}/spares", response_model=list[SpareLineRead])
async def consume_spares(
    ticket_id: PathId, body: SparesIn, _: Operator, session: SessionDep
) -> list[SpareLineRead]:
    lines = await quality_service.consume_spares(session, ticket_id=ticket_id, **body.model_dump())
    return [
        SpareLineRead(pcn=line.pcn, qty=line.qty, from_location_id=line.from_location_id)
        for line in lines
    ]


@router.post("/tickets/{ticket_id}/replacement-order", response_model=TicketDetail)
async def replacement_order(
    ticket_id: PathId, body: ReplacementIn, _: Operator, session: SessionDep
) -> TicketDetail:
    """A zero-price draft sales order for a replacement ticket."""
    ticket = await quality_service.create_replacement_order(
        session,
        ticket_id=ticket_id,
        lines=[return_ops.LineIn(part_number=x.part_number, qty=x.qty) for x in body.lines],
        warehouse_id=body.warehouse_id,
    )
    return await ticket_detail(session, ticket)


@router.post("/ticket-attachments/{ticket_id}", response_model=AttachmentRead, status_code=201)
async def add_attachment(
    ticket_id: PathId,
    file: Annotated[UploadFile, File(description="a photo: JPEG, PNG, WebP or HEIC")],
    _: Operator,
    session: SessionDep,
    settings: SettingsDep,
) -> AttachmentRead:
    limit = settings.quality_attachment_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLargeError(
            f"The file is larger than {limit} bytes.", code="attachment_too_large"
        )
    attachment = await quality_service.add_attachment(
        session,
        ticket_id=ticket_id,
        filename=file.filename or "photo",
        data=data,
        data_dir=settings.data_dir,
        max_bytes=limit,
    )
    return AttachmentRead.model_validate(attachment)


@router.get("/attachments/{attachment_id}", response_class=Response)
async def download_attachment(
    attachment_id: PathId, _: CurrentPrincipal, session: SessionDep, settings: SettingsDep
) -> Response:
    """The photo as a download: never rendered inline, never type-sniffed by a browser."""
    attachment, path = await quality_service.open_attachment(
        session, attachment_id=attachment_id, data_dir=settings.data_dir
    )
    return Response(
        content=path.read_bytes(),
        media_type=attachment.content_type,
        headers={
            "Content-Disposition": content_disposition(attachment.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


# --- maintenance plans ----------------------------------------------------------------


@router.post("/maintenance-plans", response_model=PlanRead, status_code=201)
async def create_plan(body: PlanCreate, _: Manager, session: SessionDep) -> PlanRead:
    plan = await quality_service.create_plan(session, **body.model_dump())
    return PlanRead.model_validate(plan)


@router.get("/maintenance-plans", response_model=list[PlanRead])
async def list_plans(_: CurrentPrincipal, session: SessionDep) -> list[PlanRead]:
    return [PlanRead.model_validate(s.plan) for s in await quality_service.plan_statuses(session)]


# --- returns --------------------------------------------------------------------------


@router.post("/returns", response_model=ReturnRead, status_code=201)
async def create_return(body: ReturnCreate, _: Operator, session: SessionDep) -> ReturnRead:
    """Authorise a return: never more than shipped minus already returned (409)."""
    rma = await quality_service.create_return(
        session,
        sales_order_id=body.sales_order_id,
        lines=[return_ops.LineIn(part_number=x.part_number, qty=x.qty) for x in body.lines],
        reason=body.reason,
        outcome=body.outcome,
    )
    return await return_read(session, rma)


@router.get("/returns/{return_id}", response_model=ReturnRead)
async def get_return(return_id: PathId, _: CurrentPrincipal, session: SessionDep) -> ReturnRead:
    return await return_read(session, await quality_service.get_return_or_raise(session, return_id))


@router.post("/returns/{return_id}/confirm", response_model=ReturnRead)
async def confirm_return(return_id: PathId, _: Operator, session: SessionDep) -> ReturnRead:
    """Confirm an RMA a web store refund proposed: it is authorised (409 over_return when
    the units were returned meanwhile; 409 invalid_status unless proposed)."""
    rma = await quality_service.confirm_proposed(session, return_id=return_id)
    return await return_read(session, rma)


@router.post("/returns/{return_id}/dismiss", status_code=204)
async def dismiss_return(return_id: PathId, _: Operator, session: SessionDep) -> Response:
    """Drop an RMA a web store refund proposed (nothing comes back; 409 unless proposed)."""
    await quality_service.dismiss_proposed(session, return_id=return_id)
    return Response(status_code=204)


@router.post("/returns/{return_id}/receive", response_model=ReturnRead)
async def receive_return(
    return_id: PathId, body: ReceiveIn, _: Operator, session: SessionDep
) -> ReturnRead:
    await quality_service.receive(session, return_id=return_id, location_id=body.location_id)
    return await return_read(session, await quality_service.get_return_or_raise(session, return_id))


@router.post("/returns/{return_id}/inspect", response_model=ReturnRead)
async def inspect_return(
    return_id: PathId, body: InspectIn, _: Operator, session: SessionDep
) -> ReturnRead:
    rma = await quality_service.inspect(
        session,
        return_id=return_id,
        lines=[return_ops.InspectionIn(**line.model_dump()) for line in body.lines],
    )
    return await return_read(session, rma)


# --- saved views of the ticket list ---------------------------------------------------


@router.get("/ticket-views", response_model=list[SavedViewRead])
async def list_ticket_views(
    principal: CurrentPrincipal, session: SessionDep
) -> list[SavedViewRead]:
    """The caller's saved views of the ticket list, then those others share."""
    user_id = principal.user.id
    return [SavedViewRead.of(v, user_id) for v in await quality_service.views_for(session, user_id)]


@router.post("/ticket-views", response_model=SavedViewRead, status_code=201)
async def save_ticket_view(
    body: SavedViewIn, principal: CurrentPrincipal, session: SessionDep
) -> SavedViewRead:
    """Save filters under a name (the same name replaces the caller's view)."""
    view = await quality_service.save_view(
        session,
        user_id=principal.user.id,
        name=body.name,
        filters=body.filters.model_dump(),
        shared=body.shared,
    )
    return SavedViewRead.of(view, principal.user.id)


@router.delete("/ticket-views/{view_id}", status_code=204)
async def delete_ticket_view(
    view_id: PathId, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    """Delete one of the caller's views (404 for anyone else's)."""
    await quality_service.delete_view(session, user_id=principal.user.id, view_id=view_id)
    return Response(status_code=204)


# --- SLA policies and workflows -------------------------------------------------------


@router.post("/sla-policies", response_model=SlaPolicyRead, status_code=201)
async def set_sla_policy(body: SlaPolicyIn, _: Manager, session: SessionDep) -> SlaPolicyRead:
    """Create or replace the policy of a kind and priority."""
    policy = await quality_service.set_policy(session, **body.model_dump())
    return SlaPolicyRead.model_validate(policy)


@router.get("/sla-policies", response_model=list[SlaPolicyRead])
async def list_sla_policies(_: CurrentPrincipal, session: SessionDep) -> list[SlaPolicyRead]:
    return [SlaPolicyRead.model_validate(p) for p in await quality_service.list_policies(session)]


@router.post("/support-calendars", response_model=SupportCalendarRead, status_code=201)
async def create_support_calendar(
    body: SupportCalendarIn, _: Manager, session: SessionDep
) -> SupportCalendarRead:
    """A support desk's business hours per weekday (409 calendar_code_taken)."""
    calendar = await quality_service.create_support_calendar(
        session,
        code=body.code,
        name=body.name,
        minutes={str(k): v for k, v in body.minutes.items()},
    )
    return SupportCalendarRead.model_validate(calendar)


@router.get("/support-calendars", response_model=list[SupportCalendarRead])
async def list_support_calendars(
    _: CurrentPrincipal, session: SessionDep
) -> list[SupportCalendarRead]:
    rows = await quality_service.list_support_calendars(session)
    return [SupportCalendarRead.model_validate(row) for row in rows]


@router.put("/support-calendars/{code}/days", response_model=SupportCalendarRead)
async def set_support_calendar_day(
    code: Annotated[str, Path(min_length=1, max_length=32)],
    body: SupportCalendarDayIn,
    _: Manager,
    session: SessionDep,
) -> SupportCalendarRead:
    """A holiday (minutes 0) or other exception on a date; no minutes removes it."""
    calendar = await quality_service.set_support_calendar_day(
        session, code=code, day=body.day, minutes=body.minutes, reason=body.reason
    )
    return SupportCalendarRead.model_validate(calendar)


@router.get("/sla-report", response_model=list[SlaReportRow])
async def sla_report(
    _: CurrentPrincipal,
    session: SessionDep,
    months: Annotated[int, Query(ge=1, le=24)] = 6,
) -> list[SlaReportRow]:
    """Resolution SLA met / breached per kind and month (by the month a ticket was resolved)."""
    rows = await quality_service.sla_report(session, months=months)
    return [SlaReportRow(**row.__dict__) for row in rows]


@router.get("/workflows/{kind}", response_model=WorkflowRead)
async def get_workflow(kind: Kind, _: CurrentPrincipal, session: SessionDep) -> WorkflowRead:
    return workflow_read(await quality_service.get_workflow(session, kind))


@router.put("/workflows/{kind}", response_model=WorkflowRead)
async def set_workflow(kind: Kind, body: WorkflowIn, _: Admin, session: SessionDep) -> WorkflowRead:
    """Replace a kind's workflow within the safe rules (422 workflow_invalid, 409
    status_in_use)."""
    workflow = await quality_service.set_workflow(
        session,
        kind=kind,
        statuses=[StatusSpec(s.status, s.category) for s in body.statuses],
        initial=body.initial,
        transitions=list(body.transitions),
    )
    return workflow_read(workflow)


router.include_router(api_windows.router)
