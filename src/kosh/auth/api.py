"""JSON routes for login, the current user, users (admin) and API tokens."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request, Response, status

from kosh.auth import service as auth_service
from kosh.auth import sessions as session_service
from kosh.auth import tokens as token_service
from kosh.auth import twofactor
from kosh.auth.cookies import clear_session_cookie, login_policy, set_session_cookie
from kosh.auth.deps import SESSION_COOKIE, Admin, CurrentPrincipal, Principal
from kosh.auth.schemas import (
    LoginRequest,
    PasswordChange,
    PasswordReset,
    SessionRead,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserPage,
    UserRead,
    UserUpdate,
)
from kosh.core.db import utcnow
from kosh.core.deps import LimiterDep, SessionDep, SettingsDep
from kosh.core.errors import NotFoundError, PermissionDeniedError
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import PathId

router = APIRouter(prefix="/api/v1", tags=["auth"])


def _session_read(principal: Principal) -> SessionRead:
    return SessionRead(
        user=UserRead.model_validate(principal.user),
        via=principal.via,
        scopes=sorted(principal.scopes),
        csrf_token=principal.csrf_token,
    )


@router.post("/auth/login", response_model=SessionRead)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
) -> SessionRead:
    if body.code is not None:
        twofactor.check_code_format(body.code)
    outcome = await twofactor.password_login(
        session,
        username=body.username,
        password=body.password,
        code=body.code,
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
        policy=login_policy(settings, limiter),
        replaces=request.cookies.get(SESSION_COOKIE),
        challenge_ok=False,
    )
    new = outcome.new
    assert new is not None  # noqa: S101 - challenge_ok=False answers a session or raises
    set_session_cookie(response, new, settings)
    return SessionRead(
        user=UserRead.model_validate(new.user),
        via="session",
        scopes=[],
        csrf_token=new.csrf_token,
        expires_at=new.expires_at,
    )


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: CurrentPrincipal, response: Response, session: SessionDep) -> None:
    if principal.session_id is not None:
        await session_service.logout(session, principal.session_id)
    clear_session_cookie(response)


@router.get("/auth/me", response_model=SessionRead)
async def me(principal: CurrentPrincipal) -> SessionRead:
    return _session_read(principal)


@router.post("/auth/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange, principal: CurrentPrincipal, response: Response, session: SessionDep
) -> None:
    await auth_service.change_password(
        session,
        principal.user.id,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    clear_session_cookie(response)


@router.get("/users", response_model=UserPage, tags=["users"])
async def list_users(_: Admin, request: Request, session: SessionDep, page: PageDep) -> UserPage:
    users, total = await auth_service.list_users(session, limit=page.limit, offset=page.offset)
    return UserPage(
        items=[UserRead.model_validate(u) for u in users],
        total=total,
        next=next_url(request, page, total),
    )


@router.post("/users", response_model=UserRead, status_code=201, tags=["users"])
async def create_user(body: UserCreate, _: Admin, session: SessionDep) -> UserRead:
    user = await auth_service.create_user(session, **body.model_dump())
    return UserRead.model_validate(user)


@router.get("/users/{user_id}", response_model=UserRead, tags=["users"])
async def get_user(user_id: PathId, _: Admin, session: SessionDep) -> UserRead:
    return UserRead.model_validate(await auth_service.get_user_or_raise(session, user_id))


@router.patch("/users/{user_id}", response_model=UserRead, tags=["users"])
async def update_user(user_id: PathId, body: UserUpdate, _: Admin, session: SessionDep) -> UserRead:
    user = await auth_service.update_user(session, user_id, **body.model_dump(exclude_unset=True))
    return UserRead.model_validate(user)


@router.post("/users/{user_id}/reset-password", status_code=204, tags=["users"])
async def reset_password(
    user_id: PathId, body: PasswordReset, _: Admin, session: SessionDep
) -> None:
    await auth_service.reset_password(session, user_id, new_password=body.new_password)


@router.get("/tokens", response_model=list[TokenRead], tags=["tokens"])
async def list_tokens(principal: CurrentPrincipal, session: SessionDep) -> list[TokenRead]:
    owner = None if principal.acts_as_admin else principal.user.id
    return [
        TokenRead.model_validate(t) for t in await token_service.list_tokens(session, user_id=owner)
    ]


@router.post("/tokens", response_model=TokenCreated, status_code=201, tags=["tokens"])
async def create_token(
    body: TokenCreate, principal: CurrentPrincipal, session: SessionDep
) -> TokenCreated:
    owner = principal.user
    if body.username and body.username.lower() != owner.username:
        if "admin" not in principal.effective_scopes:
            raise PermissionDeniedError(
                "Creating tokens for others needs the 'admin' scope.",
                code="insufficient_scope",
                details={"required_scope": "admin"},
            )
        found = await auth_service.find_user(session, body.username)
        if found is None:
            raise NotFoundError(f"No user named {body.username!r}.", code="user_not_found")
        owner = found
    auth_service.check_token_grant(
        caller_scopes=principal.effective_scopes, owner_role=owner.role, requested=body.scopes
    )
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    new = await token_service.create_token(
        session, user_id=owner.id, name=body.name, scopes=list(body.scopes), expires_at=expires
    )
    return TokenCreated(**TokenRead.model_validate(new.token).model_dump(), token=new.raw_token)


@router.delete("/tokens/{token_id}", status_code=204, tags=["tokens"])
async def revoke_token(token_id: PathId, principal: CurrentPrincipal, session: SessionDep) -> None:
    owner = None if principal.acts_as_admin else principal.user.id
    await token_service.revoke_token(session, token_id, owner_id=owner)


@router.post("/users/{user_id}/two-factor/reset", status_code=204, tags=["users"])
async def reset_two_factor(user_id: PathId, _: Admin, session: SessionDep) -> None:
    """Turn a user's two-factor login off (a lost device); they can set it up again."""
    await auth_service.get_user_or_raise(session, user_id)
    await twofactor.disable(session, user_id=user_id, code=None, by_admin=True)
