"""The API token page: a person's own tokens (an admin sees everyone's), a form that makes
one (its secret shown once), and revoking. The page calls the JSON API (/api/v1/tokens), so
the rules are the API's: scopes above the person's role are refused there."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from kosh.auth import service as auth_service
from kosh.auth import tokens as token_service
from kosh.auth.deps import CurrentPrincipal
from kosh.core.deps import SessionDep
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
SCOPES = (
    ("read", "read: look things up"),
    ("write", "write: change stock and records"),
    ("admin", "admin: users, tokens and settings (admins only)"),
    ("metrics", "metrics: Prometheus scraping"),
)


@router.get("/account/tokens")
async def token_page(
    request: Request, principal: CurrentPrincipal, pages: PagesDep, session: SessionDep
) -> Response:
    owner = None if principal.acts_as_admin else principal.user.id
    tokens = await token_service.list_tokens(session, user_id=owner)
    users = {}
    if owner is None:
        listed, _ = await auth_service.list_users(session, limit=1000, offset=0)
        users = {user.id: user.username for user in listed}
    return pages.render(
        request,
        "auth/tokens.html",
        {
            "tokens": sorted(tokens, key=lambda t: (t.revoked_at is not None, -t.id)),
            "users": users,
            "scopes": [s for s in SCOPES if s[0] != "admin" or principal.has_role("admin")],
        },
    )
