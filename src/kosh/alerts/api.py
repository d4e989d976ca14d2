"""JSON routes for alerts: list with filters, counts by severity, acknowledge one or many
(managers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator

from kosh.alerts import acknowledgement
from kosh.alerts import queries as alert_queries
from kosh.alerts import service as alert_service
from kosh.alerts.schemas import (
    AlertAcknowledge,
    AlertAcknowledgeMany,
    AlertCounts,
    AlertPage,
    AlertRead,
    AlertsAcknowledged,
    AlertState,
    Severity,
)
from kosh.auth.deps import CurrentPrincipal, Manager
from kosh.core.deps import SessionDep
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import PathId, clean_query

router = APIRouter(prefix="/api/v1", tags=["alerts"])


@router.get("/alerts", response_model=AlertPage)
async def list_alerts(
    request: Request,
    _: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    status: AlertState | None = None,
    kind: Annotated[str | None, Query(max_length=32), AfterValidator(clean_query)] = None,
    severity: Severity | None = None,
) -> AlertPage:
    """`status` filters by state: open, acknowledged or resolved."""
    rows, total = await alert_queries.list_alerts(
        session, state=status, kind=kind, severity=severity, limit=page.limit, offset=page.offset
    )
    return AlertPage(
        items=[AlertRead.model_validate(row) for row in rows],
        total=total,
        next=next_url(request, page, total),
    )


@router.get("/alerts/counts", response_model=AlertCounts)
async def alert_counts(_: CurrentPrincipal, session: SessionDep) -> AlertCounts:
    return await alert_queries.open_counts(session)


@router.get("/alerts/{alert_id}", response_model=AlertRead)
async def get_alert(alert_id: PathId, _: CurrentPrincipal, session: SessionDep) -> AlertRead:
    return AlertRead.model_validate(await alert_service.get_alert_or_raise(session, alert_id))


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertRead)
async def acknowledge(
    alert_id: PathId, body: AlertAcknowledge, _: Manager, session: SessionDep
) -> AlertRead:
    alert = await alert_service.acknowledge(
        session, alert_id=alert_id, note=body.note, action=body.action
    )
    return AlertRead.model_validate(alert)


@router.post("/alerts/acknowledge", response_model=AlertsAcknowledged)
async def acknowledge_many(
    body: AlertAcknowledgeMany, _: Manager, session: SessionDep
) -> AlertsAcknowledged:
    """Acknowledge the open alerts given by `ids` and/or the filter, with one note (at most
    1000 at once: 422 too_many_alerts)."""
    count = await acknowledgement.acknowledge_many(
        session,
        note=body.note,
        action=body.action,
        ids=body.ids,
        kind=body.kind,
        severity=body.severity,
        job_id=body.job_id,
    )
    return AlertsAcknowledged(acknowledged=count)
