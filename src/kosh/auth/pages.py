"""Login, logout, account and user administration pages."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from kosh.auth import oidc, twofactor
from kosh.auth import service as auth_service
from kosh.auth import sessions as session_service
from kosh.auth.cookies import clear_session_cookie, login_policy, set_session_cookie
from kosh.auth.deps import SESSION_COOKIE, Admin, CurrentPrincipal, MaybePrincipal
from kosh.auth.models import ROLES
from kosh.auth.sessions import NewSession
from kosh.core.config import Settings
from kosh.core.deps import LimiterDep, SessionDep, SettingsDep
from kosh.core.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from kosh.core.types import PathId
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
LOGIN_CSRF_COOKIE = "kosh_login_csrf"
LOGIN_CHALLENGE_COOKIE = "kosh_login_2fa"


def safe_next(target: str | None) -> str:
    """Only local paths, so the login page cannot be used to redirect elsewhere."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def login_page(
    request: Request,
    pages: Pages,
    settings: SettingsDep,
    *,
    next_url: str,
    error: str | None = None,
    username: str | None = None,
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = pages.render(
        request,
        "auth/login.html",
        {
            "login_csrf": token,
            "next": next_url,
            "error": error,
            "username": username,
            "sso_name": settings.oidc_provider_name if settings.oidc_enabled else None,
        },
        status=status,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.is_production,
        path="/login",
        max_age=3600,
    )
    return response


@router.get("/login")
async def login_form(
    request: Request,
    pages: PagesDep,
    settings: SettingsDep,
    principal: MaybePrincipal,
    next: str | None = None,
) -> Response:
    if principal is not None:
        return pages.redirect(safe_next(next))
    return login_page(request, pages, settings, next_url=safe_next(next))


@router.post("/login")
async def login_submit(
    request: Request,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return login_page(
            request,
            pages,
            settings,
            next_url=target,
            username=username,
            status=403,
            error="The login form expired; please try again.",
        )
    try:
        outcome = await twofactor.password_login(
            session,
            username=username,
            password=password,
            code=None,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            policy=login_policy(settings, limiter),
            replaces=request.cookies.get(SESSION_COOKIE),
            next_url=target,
        )
    except (AuthenticationError, RateLimitedError, PermissionDeniedError) as exc:
        response = login_page(
            request,
            pages,
            settings,
            next_url=target,
            username=username,
            error=exc.message,
            status=exc.status,
        )
        for key, value in exc.headers.items():
            response.headers[key] = value
        return response
    if outcome.challenge is not None:
        return _code_page(request, pages, settings, challenge=outcome.challenge)
    assert outcome.new is not None  # noqa: S101 - no challenge means a session
    return _logged_in(outcome.new, target, pages, settings)


def _logged_in(new: NewSession, target: str, pages: Pages, settings: Settings) -> Response:
    # An admin without two-factor login where it is required is sent on to enrol by
    # kosh.auth.deps (every page but the enrolment's own is closed to that session).
    response = pages.redirect(target)
    set_session_cookie(response, new, settings)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    response.delete_cookie(LOGIN_CHALLENGE_COOKIE, path="/login")
    return response


def _code_page(
    request: Request,
    pages: Pages,
    settings: Settings,
    *,
    challenge: str | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    token = secrets.token_urlsafe(24)
    response = pages.render(
        request,
        "auth/login_code.html",
        {"login_csrf": token, "error": error},
        status=status,
    )
    for name, value in ((LOGIN_CSRF_COOKIE, token), (LOGIN_CHALLENGE_COOKIE, challenge)):
        if value is not None:
            response.set_cookie(
                name,
                value,
                httponly=True,
                samesite="strict",
                secure=settings.is_production,
                path="/login",
                max_age=600,
            )
    return response


@router.post("/login/code")
async def login_code_submit(
    request: Request,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    code: Annotated[str, Form(max_length=40)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The second step of a password login: the code from the app or a recovery code."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    challenge = request.cookies.get(LOGIN_CHALLENGE_COOKIE, "")
    if not challenge or not expected or not secrets.compare_digest(expected, csrf_token):
        return login_page(
            request,
            pages,
            settings,
            next_url="/",
            status=403,
            error="The login form expired; please try again.",
        )
    try:
        twofactor.check_code_format(code)
        done = await twofactor.complete_login(
            session,
            raw_challenge=challenge,
            code=code,
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
            policy=login_policy(settings, limiter),
            replaces=request.cookies.get(SESSION_COOKIE),
        )
    except ValidationError as exc:
        return _code_page(
            request, pages, settings, challenge=None, error=exc.message, status=exc.status
        )
    except RateLimitedError as exc:
        response = _code_page(
            request, pages, settings, challenge=None, error=exc.message, status=exc.status
        )
        for key, value in exc.headers.items():
            response.headers[key] = value
        return response
    except AuthenticationError as exc:
        if exc.code == "login_expired":
            return login_page(
                request, pages, settings, next_url="/", error=exc.message, status=exc.status
            )
        return _code_page(
            request, pages, settings, challenge=None, error=exc.message, status=exc.status
        )
    return _logged_in(done.new, safe_next(done.next_url), pages, settings)


@router.post("/logout")
async def logout(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    if principal.session_id is not None:
        await session_service.logout(session, principal.session_id)
    response = pages.redirect("/login", flash="You are logged out.")
    if principal.method == "oidc" and settings.oidc_enabled:
        # End the provider's session too (RP-initiated logout), when it offers that.
        ended_at = await oidc.end_session_url(
            oidc.OidcConfig.from_settings(settings),
            post_logout_redirect_uri=str(request.url_for("login_form")),
        )
        if ended_at is not None:
            response.headers["location"] = ended_at
    clear_session_cookie(response)
    return response


@router.get("/account")
async def account(request: Request, _: CurrentPrincipal, pages: PagesDep) -> Response:
    return pages.render(request, "auth/account.html")


@router.get("/admin/users")
async def users(request: Request, _: Admin, pages: PagesDep, session: SessionDep) -> Response:
    rows, _total = await auth_service.list_users(session, limit=200, offset=0)
    return pages.render(request, "auth/users.html", {"users": rows, "roles": ROLES})


@router.get("/admin/users/{user_id}")
async def user_detail(
    request: Request, user_id: PathId, _: Admin, pages: PagesDep, session: SessionDep
) -> Response:
    user = await auth_service.get_user_or_raise(session, user_id)
    return pages.render(
        request,
        "auth/user_edit.html",
        {"user": user, "roles": ROLES, "two_factor": await twofactor.is_enrolled(session, user_id)},
    )
