"""The alerts page (filters, acknowledgement) and the dashboard tiles with open counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.alerts import queries as alert_queries
from kosh.auth.deps import CurrentPrincipal
from kosh.core.deps import SessionDep
from kosh.core.types import clean_query
from kosh.web import nav
from kosh.web.pages import DASHBOARD_TILES, Tile
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
STATES = ("open", "acknowledged", "resolved")
KINDS = ("job_shortage", "low_stock", "sla_warning", "sla_breached")  # sla_*: kosh.quality

nav.register(nav.NavItem("Alerts", "/alerts", "viewer"))


async def alert_tiles(session: AsyncSession) -> list[Tile]:
    counts = await alert_queries.open_counts(session)
    return [
        Tile("Critical alerts", str(counts.critical), "/alerts?status=open&severity=critical"),
        Tile("Warning alerts", str(counts.warning), "/alerts?status=open&severity=warning"),
        Tile("Info alerts", str(counts.info), "/alerts?status=open&severity=info"),
    ]


if alert_tiles not in DASHBOARD_TILES:
    DASHBOARD_TILES.append(alert_tiles)


@router.get("/alerts")
async def alert_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=20), AfterValidator(clean_query)] = "open",
    kind: Annotated[str | None, Query(max_length=32), AfterValidator(clean_query)] = None,
    severity: Annotated[str | None, Query(max_length=16), AfterValidator(clean_query)] = None,
) -> Response:
    status = status if status in STATES else None
    severity = severity if severity in ("critical", "warning", "info") else None
    rows, total = await alert_queries.list_alerts(
        session, state=status, kind=kind or None, severity=severity, limit=200
    )
    return pages.render(
        request,
        "alerts/alert_list.html",
        {
            "alerts": rows,
            "total": total,
            "counts": await alert_queries.open_counts(session),
            "status": status or "",
            "kind": kind or "",
            "severity": severity or "",
            "states": STATES,
            "kinds": KINDS,
            "can_ack": principal.has_role("manager"),
        },
    )
