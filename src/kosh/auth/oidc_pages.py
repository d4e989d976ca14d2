"""Single sign-on routes: /auth/oidc/login sends the browser to the provider, and
/auth/oidc/callback takes it back and opens a session (kosh.auth.oidc has the rules)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from kosh.auth import oidc
from kosh.auth.cookies import set_session_cookie
from kosh.auth.deps import SESSION_COOKIE
from kosh.auth.pages import LOGIN_CSRF_COOKIE, login_page, safe_next
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.errors import DomainError
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
Param = Annotated[str, Query(max_length=4000)]


@router.get("/auth/oidc/login")
async def oidc_login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    pages: PagesDep,
    next: Annotated[str, Query(max_length=2000)] = "/",
) -> Response:
    config = oidc.OidcConfig.from_settings(settings)
    try:
        url = await oidc.begin_login(
            session,
            config=config,
            redirect_uri=str(request.url_for("oidc_callback")),
            next_url=safe_next(next),
        )
    except DomainError as exc:
        return login_page(
            request, pages, settings, next_url=safe_next(next), error=exc.message, status=exc.status
        )
    return RedirectResponse(url, status_code=303)


@router.get("/auth/oidc/callback", name="oidc_callback")
async def oidc_callback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    pages: PagesDep,
    state: Param = "",
    code: Param = "",
    error: Param = "",
    iss: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    config = oidc.OidcConfig.from_settings(settings)
    try:
        signed = await oidc.complete_login(
            session,
            config=config,
            state=state,
            code=code,
            error=error or None,
            issuer=iss,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            lifetime=timedelta(hours=settings.session_max_hours),
            replaces=request.cookies.get(SESSION_COOKIE),
        )
    except DomainError as exc:
        return login_page(
            request, pages, settings, next_url="/", error=exc.message, status=exc.status
        )
    response = pages.redirect(safe_next(signed.next_url))
    set_session_cookie(response, signed.new, settings)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response
