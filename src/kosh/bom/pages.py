"""BOM pages: list, import (upload, mapping, preview, progress, commit), detail with line
editing, and the comparison of two revisions. Anyone logged in reads; operators and
above get the forms that change things."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.auth.deps import CurrentPrincipal
from kosh.bom import queries as bom_queries
from kosh.bom import service as bom_service
from kosh.bom.columns import FIELD_LABELS, FIELDS
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.types import PathId, RequiredQueryId, SearchText
from kosh.web import nav
from kosh.web.pages import SETUP_STEPS, SetupStep
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
PAGE_SIZE = 50

nav.register(nav.NavItem("BOMs", "/boms", "viewer"))


@router.get("/boms")
async def bom_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    q: SearchText = None,
    status: Annotated[str | None, Query(pattern="^(draft|active|obsolete)?$")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    q = (q or "").strip() or None
    status = status or None
    items, total = await bom_queries.list_boms(
        session, q=q, status=status, limit=PAGE_SIZE, offset=offset
    )

    def page_query(at: int) -> str:
        params = {"q": q, "status": status, "offset": at or None}
        return urlencode({k: v for k, v in params.items() if v})

    return pages.render(
        request,
        "bom/bom_list.html",
        {
            "boms": items,
            "total": total,
            "q": q or "",
            "status": status or "",
            "imports": await bom_queries.recent_imports(session, limit=10),
            "older": page_query(offset + PAGE_SIZE) if offset + PAGE_SIZE < total else None,
            "newer": page_query(max(offset - PAGE_SIZE, 0)) if offset else None,
            "can_edit": principal.has_role("operator"),
        },
    )


@router.get("/boms/import")
async def bom_import(
    request: Request, principal: CurrentPrincipal, pages: PagesDep, settings: SettingsDep
) -> Response:
    return pages.render(
        request,
        "bom/bom_import.html",
        {
            "can_edit": principal.has_role("operator"),
            "fields": [(name, FIELD_LABELS[name]) for name in FIELDS],
            "max_mb": bom_service.file_limits(settings).max_bytes // 1_048_576,
        },
    )


@router.get("/boms/compare")
async def bom_compare(
    request: Request,
    _: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    base: RequiredQueryId,
    other: RequiredQueryId,
) -> Response:
    comparison = await bom_queries.compare(session, base, other)
    return pages.render(request, "bom/bom_compare.html", {"cmp": comparison})


@router.get("/boms/{bom_id}")
async def bom_detail(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    bom_id: PathId,
) -> Response:
    bom = await bom_queries.bom_detail(session, bom_id)
    siblings = [
        other
        for other in await bom_queries.active_boms_for(session, bom.assembly_part_id)
        if other.id != bom.id
    ]
    can_edit = principal.has_role("operator")
    return pages.render(
        request,
        "bom/bom_detail.html",
        {
            "bom": bom,
            "siblings": siblings,
            "can_edit": can_edit,
            "editable": can_edit and bom.status == "draft",
        },
    )


async def setup_steps(session: AsyncSession) -> list[SetupStep]:
    """First run: a bill of materials from a spreadsheet."""
    _, boms = await bom_queries.list_boms(session, limit=1)
    return [SetupStep(40, "Import a BOM", "/boms/import", boms > 0)]


if setup_steps not in SETUP_STEPS:
    SETUP_STEPS.append(setup_steps)
