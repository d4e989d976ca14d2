"""The audit trail page and the health page for people."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator
from starlette.responses import Response

from kosh.auth.deps import Admin
from kosh.core import audit
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.types import clean_query
from kosh.ops import audit_view, health
from kosh.web import nav
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
nav.register(nav.NavItem("Health", "/admin/health", "admin"))
PAGE_SIZE = 100


@router.get("/admin/health")
async def health_page(
    request: Request,
    _: Admin,
    session: SessionDep,
    settings: SettingsDep,
    pages: Annotated[Pages, Depends(get_pages)],
) -> Response:
    """/health/detailed for a person: each check with its verdict and its figures."""
    report = await health.detailed(request.app.state.engine, session, settings)
    return pages.render(
        request,
        "ops/health.html",
        {
            "report": report,
            "uptime": _duration(float(report["uptime_seconds"])),
            "checks": sorted(report["checks"].items(), key=lambda item: (item[1]["ok"], item[0])),
        },
    )


def _duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


@router.get("/admin/audit")
async def audit_page(
    request: Request,
    _: Admin,
    session: SessionDep,
    pages: Annotated[Pages, Depends(get_pages)],
    actor: Annotated[str | None, Query(max_length=100), AfterValidator(clean_query)] = None,
    action: Annotated[str | None, Query(max_length=64), AfterValidator(clean_query)] = None,
    entity_type: Annotated[str | None, Query(max_length=64), AfterValidator(clean_query)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    filters = {"actor": actor, "action": action, "entity_type": entity_type}
    events, total = await audit.search(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        limit=PAGE_SIZE,
        offset=offset,
    )
    next_offset = offset + PAGE_SIZE if offset + PAGE_SIZE < total else None
    query = urlencode({k: v for k, v in {**filters, "offset": next_offset}.items() if v})
    return pages.render(
        request,
        "ops/audit.html",
        {
            "events": [audit_view.describe(event) for event in events],
            "total": total,
            "filters": filters,
            "next_offset": next_offset,
            "next_query": query,
        },
    )
