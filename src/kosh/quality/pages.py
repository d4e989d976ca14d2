"""Quality pages, phone-first for the floor: raise a ticket by scanning a PCN or machine
label, the ticket list with filters, a ticket with its actions (move, comment, contain,
disposition) and SLA clocks, and the quality dashboard with a server-rendered SVG chart.
Forms submit to the JSON API through forms.js (no inline script, strict CSP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.core.db import utcnow
from kosh.core.deps import SessionDep
from kosh.core.types import PathId
from kosh.locations import service as location_service
from kosh.production import service as job_service
from kosh.quality import pages_sla, pages_windows, queries, saved_views
from kosh.quality import returns as return_ops
from kosh.quality import service as quality_service
from kosh.quality import tickets as ticket_ops
from kosh.quality.models import PRIORITIES, STATUS_CATEGORIES, TICKET_KINDS, Ticket
from kosh.quality.ncr import DISPOSITIONS
from kosh.quality.schemas import SavedViewRead
from kosh.sales import service as sales_service
from kosh.shopfloor import service as shopfloor_service
from kosh.web import nav
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]

nav.register(nav.NavItem("Quality", "/quality", "viewer"))

CHART_WIDTH = 320
BAR_HEIGHT = 22
BAR_GAP = 8
LABEL_WIDTH = 110


@dataclass(frozen=True)
class Bar:
    """One cause of the dashboard chart, in SVG user units (no inline style: CSP)."""

    y: int
    width: int
    label: str
    count: int


def cause_chart(by_cause: list[tuple[str, int]]) -> tuple[list[Bar], int]:
    top = max([count for _, count in by_cause] + [1])
    room = CHART_WIDTH - LABEL_WIDTH - 30
    bars = [
        Bar(
            y=index * (BAR_HEIGHT + BAR_GAP),
            width=max(2, round(count / top * room)),
            label=cause[:16],
            count=count,
        )
        for index, (cause, count) in enumerate(by_cause)
    ]
    return bars, max(len(bars) * (BAR_HEIGHT + BAR_GAP), BAR_HEIGHT)


@router.get("/quality")
async def dashboard(
    request: Request, principal: CurrentPrincipal, pages: PagesDep, session: SessionDep
) -> Response:
    figures = await queries.dashboard(session, now=utcnow())
    bars, height = cause_chart(figures.open_ncrs_by_cause)
    return pages.render(
        request,
        "quality/dashboard.html",
        {
            "figures": figures,
            "bars": bars,
            "chart_height": height,
            "chart_width": CHART_WIDTH,
            "label_width": LABEL_WIDTH,
            "bar_height": BAR_HEIGHT,
            "can_edit": principal.has_role("operator"),
            "plans": await quality_service.plan_statuses(session),
        },
    )


def chosen_filters(**filters: str | None) -> dict[str, str]:
    """The list's filters that hold a known value: what "save this view" keeps."""
    return {
        key: value
        for key, value in filters.items()
        if value and value in saved_views.TICKET_FILTERS[key]
    }


@router.get("/quality/raise")
async def raise_page(request: Request, _: CurrentPrincipal, pages: PagesDep) -> Response:
    return pages.render(
        request, "quality/raise.html", {"kinds": TICKET_KINDS, "priorities": PRIORITIES}
    )


@router.get("/quality/tickets")
async def ticket_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    kind: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=16)] = None,
    priority: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    rows, total = await quality_service.list_tickets(
        session,
        kind=kind if kind in TICKET_KINDS else None,
        category=category if category in STATUS_CATEGORIES else None,
        priority=priority if priority in PRIORITIES else None,
        limit=200,
    )
    return pages.render(
        request,
        "quality/tickets.html",
        {
            "tickets": rows,
            "total": total,
            "kinds": TICKET_KINDS,
            "categories": STATUS_CATEGORIES,
            "priorities": PRIORITIES,
            "chosen": {"kind": kind, "category": category, "priority": priority},
            "chosen_filters": chosen_filters(kind=kind, category=category, priority=priority),
            "views": [
                SavedViewRead.of(view, principal.user.id)
                for view in await quality_service.views_for(session, principal.user.id)
            ],
        },
    )


@dataclass(frozen=True)
class LinkedOperation:
    code: str  # OP-123, as on the traveller
    seq: int
    name: str
    status: str
    job_id: int
    job_number: str


async def linked_operation(session: AsyncSession, ticket: Ticket) -> LinkedOperation | None:
    """The operation the ticket concerns, with its job (for the link), or None."""
    if ticket.operation_id is None:
        return None
    operation = await shopfloor_service.get_operation_or_raise(session, ticket.operation_id)
    job = await job_service.get_job_or_raise(session, operation.job_id)
    return LinkedOperation(
        code=f"OP-{operation.id}",
        seq=operation.seq,
        name=operation.name,
        status=operation.status,
        job_id=job.id,
        job_number=job.number,
    )


@router.get("/quality/tickets/{ticket_id}")
async def ticket_page(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    ticket_id: PathId,
) -> Response:
    ticket = await quality_service.get_ticket_or_raise(session, ticket_id)
    workflow = await quality_service.get_workflow(session, ticket.kind)
    quarantine, _ = await location_service.list_locations(
        session, kind="quarantine", active=True, limit=200
    )
    storage, _ = await location_service.list_locations(
        session, kind="storage", active=True, limit=200
    )
    return pages.render(
        request,
        "quality/ticket.html",
        {
            "ticket": ticket,
            "allowed": workflow.targets(ticket.status),
            "events": await ticket_ops.events_of(session, ticket.id),
            "sla": await quality_service.ticket_sla(session, ticket),
            "attachments": await quality_service.attachments_of(session, ticket.id),
            "quarantine": quarantine,
            "storage": storage,
            "dispositions": DISPOSITIONS,
            "can_edit": principal.has_role("operator"),
            "operation": await linked_operation(session, ticket),
        },
    )


@router.get("/quality/returns")
async def return_list(
    request: Request, principal: CurrentPrincipal, pages: PagesDep, session: SessionDep
) -> Response:
    rows, total = await quality_service.list_returns(session, limit=200)
    proposed, _ = await quality_service.list_returns(session, status="proposed", limit=200)
    refunded, _ = await sales_service.refunds_to_return(session, limit=100)
    return pages.render(
        request,
        "quality/returns.html",
        {
            "returns": rows,
            "total": total,
            "proposed": proposed,
            "proposed_lines": {
                r.id: len(await return_ops.lines_of(session, r.id)) for r in proposed
            },
            "refunded": refunded,
            "can_edit": principal.has_role("operator"),
        },
    )


@router.get("/quality/returns/{return_id}")
async def return_page(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    return_id: PathId,
) -> Response:
    rma = await quality_service.get_return_or_raise(session, return_id)
    quarantine, _ = await location_service.list_locations(
        session, kind="quarantine", active=True, limit=200
    )
    storage, _ = await location_service.list_locations(
        session, kind="storage", active=True, limit=200
    )
    return pages.render(
        request,
        "quality/return.html",
        {
            "rma": rma,
            "lines": await return_ops.lines_of(session, rma.id),
            "pcns": await return_ops.pcns_of(session, rma),
            "quarantine": quarantine,
            "storage": storage,
            "can_edit": principal.has_role("operator"),
        },
    )


router.include_router(pages_windows.router)
router.include_router(pages_sla.router)
