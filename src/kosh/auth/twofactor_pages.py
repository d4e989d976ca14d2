"""Two-factor login pages of the account: set up (QR code), confirm, recovery codes, turn off.

Browser-only (session and CSRF), so integrations with tokens never change them."""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import Response

from kosh.auth import twofactor
from kosh.auth.deps import CurrentPrincipal, Principal, must_enrol
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.errors import AuthenticationError, ConflictError, ValidationError
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
CodeField = Annotated[str, Form(max_length=40)]


def _qr_data_uri(uri: str) -> str:
    return str(segno.make_qr(uri, error="m").svg_data_uri(scale=5, border=4))


def _session_only(principal: Principal) -> None:
    if principal.via != "session":
        raise ValidationError("Two-factor login is set up in the browser.", code="session_only")


async def _status_page(
    request: Request,
    pages: Pages,
    principal: Principal,
    session: SessionDep,
    settings: SettingsDep,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    user = principal.user
    await session.refresh(user)  # a refused change rolled back and expired it
    pending = await twofactor.pending_enrolment(session, user=user, issuer=settings.totp_issuer)
    return pages.render(
        request,
        "auth/two_factor.html",
        {
            "enrolled": await twofactor.is_enrolled(session, user.id),
            "codes_left": await twofactor.recovery_codes_left(session, user.id),
            "pending": pending,
            "qr": _qr_data_uri(pending.uri) if pending else None,
            "required": must_enrol(principal, settings),
            "error": error,
        },
        status=status,
    )


@router.get("/account/two-factor")
async def two_factor_page(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    return await _status_page(request, pages, principal, session, settings)


@router.post("/account/two-factor/setup")
async def two_factor_setup(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    _session_only(principal)
    try:
        await twofactor.begin_enrolment(session, user=principal.user, issuer=settings.totp_issuer)
    except ConflictError as exc:
        return await _status_page(
            request, pages, principal, session, settings, error=exc.message, status=exc.status
        )
    return await _status_page(request, pages, principal, session, settings)


@router.post("/account/two-factor/confirm")
async def two_factor_confirm(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
    code: CodeField = "",
) -> Response:
    _session_only(principal)
    try:
        codes = await twofactor.confirm_enrolment(
            session, user_id=principal.user.id, code=code, session_id=principal.session_id
        )
    except (AuthenticationError, ConflictError) as exc:
        return await _status_page(
            request, pages, principal, session, settings, error=exc.message, status=exc.status
        )
    return pages.render(request, "auth/two_factor_codes.html", {"codes": codes})


@router.post("/account/two-factor/disable")
async def two_factor_disable(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    settings: SettingsDep,
    code: CodeField = "",
) -> Response:
    _session_only(principal)
    if settings.totp_required_for_admins and principal.user.role == "admin":
        return await _status_page(
            request,
            pages,
            principal,
            session,
            settings,
            error="Admins must keep two-factor login here.",
            status=409,
        )
    try:
        await twofactor.disable(session, user_id=principal.user.id, code=code)
    except AuthenticationError as exc:
        return await _status_page(
            request, pages, principal, session, settings, error=exc.message, status=exc.status
        )
    return pages.redirect("/account/two-factor", flash="Two-factor login is off.")
