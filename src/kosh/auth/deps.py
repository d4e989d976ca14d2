"""Who is calling: a bearer token or a session cookie, checked for CSRF, role and scope."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

import structlog
from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError

from kosh.auth import service as auth_service
from kosh.auth import sessions as session_service
from kosh.auth import tokens as token_service
from kosh.auth.models import ROLES, User
from kosh.core.actor import set_actor
from kosh.core.db import is_disconnect
from kosh.core.deps import LimiterDep, SessionDep, SettingsDep
from kosh.core.errors import AuthenticationError, PermissionDeniedError

SESSION_COOKIE = "kosh_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Principal:
    user: User
    via: str  # "session" or "token"
    scopes: frozenset[str] = field(default_factory=frozenset)
    session_id: int | None = None
    csrf_token: str | None = None
    method: str | None = None  # how the session was opened: password, totp, oidc

    def has_role(self, role: str) -> bool:
        return ROLES.index(self.user.role) >= ROLES.index(role)

    @property
    def effective_scopes(self) -> frozenset[str]:
        """A session holds its role's full set of scopes; a token holds its own."""
        return auth_service.effective_scopes(
            self.user.role, token_scopes=self.scopes if self.via == "token" else None
        )

    @property
    def acts_as_admin(self) -> bool:
        """An admin in a browser session, or through a token carrying the admin scope."""
        return self.has_role("admin") and (self.via == "session" or "admin" in self.scopes)


async def optional_principal(
    request: Request, session: SessionDep, settings: SettingsDep, limiter: LimiterDep
) -> Principal | None:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    try:
        principal = await _authenticate(request, session, settings)
    except DBAPIError as exc:
        # No pre-ping on checkout: the first statement on a connection the server closed
        # fails and invalidates it; read again on a fresh one (nothing was written).
        if not is_disconnect(exc):
            raise
        await session.rollback()
        principal = await _authenticate(request, session, settings)
    if principal is None:
        return None
    request.state.principal = principal
    set_actor(auth_service.actor_for(principal.user, via_token=principal.via == "token"))
    structlog.contextvars.bind_contextvars(user=principal.user.username)
    await limiter.check_or_raise(settings.user_rate_limit, "user", str(principal.user.id))
    if principal.via == "session" and request.method not in _SAFE_METHODS:
        await _check_csrf(request, principal)
    if must_enrol(principal, settings) and not request.url.path.startswith(ENROLMENT_PATHS):
        raise PermissionDeniedError(
            "Admins need two-factor login here: set it up first.",
            code="two_factor_enrolment_required",
        )
    if principal.via == "token":
        _check_token_scope(request, principal)
    return principal


async def _authenticate(
    request: Request, session: SessionDep, settings: SettingsDep
) -> Principal | None:
    authorization = request.headers.get("authorization", "")
    if authorization:
        scheme, _, raw = authorization.partition(" ")
        if scheme.lower() != "bearer" or not raw.strip():
            raise AuthenticationError(
                "Use 'Authorization: Bearer <token>'.",
                code="bad_authorization_header",
                headers={"WWW-Authenticate": "Bearer"},
            )
        found = await token_service.resolve_token(session, raw.strip())
        if found is None:
            raise AuthenticationError(
                "The token is unknown, expired or revoked.",
                code="invalid_token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        token, user = found
        return Principal(user=user, via="token", scopes=frozenset(token.scopes))
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    idle = timedelta(minutes=settings.session_idle_minutes)
    live = await session_service.resolve_session(session, cookie, idle=idle)
    if live is None:
        return None
    row, user = live
    return Principal(
        user=user,
        via="session",
        session_id=row.id,
        csrf_token=row.csrf_token,
        method=row.method,
    )


async def _check_csrf(request: Request, principal: Principal) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if (
        not sent
        or not principal.csrf_token
        or not secrets.compare_digest(sent, principal.csrf_token)
    ):
        raise PermissionDeniedError(
            "The form has expired or did not come from KOSH; reload the page and try again.",
            code="csrf_failed",
        )


# What an admin session without a second factor may still open where KOSH_TOTP_REQUIRED_FOR_ADMINS
# is on: the enrolment pages and the way out (pages are redirected to the enrolment).
TWO_FACTOR_PAGE = "/account/two-factor"
ENROLMENT_PATHS = (TWO_FACTOR_PAGE, "/logout", "/api/v1/auth/logout", "/api/v1/auth/me")


def must_enrol(principal: Principal, settings: SettingsDep) -> bool:
    """A password-only admin session where admins must have two-factor login (sessions
    from single sign-on leave the second factor to the provider; tokens are not affected)."""
    return (
        settings.totp_required_for_admins
        and principal.via == "session"
        and principal.method == "password"
        and principal.user.role == "admin"
    )


# Routes that check a token's scopes themselves (/metrics wants 'metrics' or 'admin').
SELF_SCOPED_PATHS = frozenset({"/metrics"})


def _check_token_scope(request: Request, principal: Principal) -> None:
    if request.url.path in SELF_SCOPED_PATHS:
        return
    needed = "read" if request.method in _SAFE_METHODS else "write"
    if needed not in principal.effective_scopes:
        raise PermissionDeniedError(
            f"This token lacks the '{needed}' scope.",
            code="insufficient_scope",
            details={"required_scope": needed},
        )


async def require_principal(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    if principal is None:
        raise AuthenticationError(
            "Log in or send a bearer token.",
            code="authentication_required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
MaybePrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require_role(role: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets through users with `role` or above (tokens need admin scope
    for admin routes)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(role):
            raise PermissionDeniedError(
                f"This needs the {role} role.",
                code="role_required",
                details={"required_role": role},
            )
        if role == "admin" and principal.via == "token" and "admin" not in principal.scopes:
            raise PermissionDeniedError(
                "This token lacks the 'admin' scope.",
                code="insufficient_scope",
                details={"required_scope": "admin"},
            )
        return principal

    return check


Operator = Annotated[Principal, Depends(require_role("operator"))]
Manager = Annotated[Principal, Depends(require_role("manager"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
