"""The audit trail page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator
from starlette.responses import Response

from kosh.auth.deps import Admin
from kosh.core import audit
from kosh.core.deps import SessionDep
from kosh.core.types import clean_query
from kosh.ops import audit_view
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100


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
