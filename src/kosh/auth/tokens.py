"""API tokens: issued to a user (only their hash stored), revoked, listed, and resolved
on every request that carries one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from kosh.auth.models import ApiToken, User
from kosh.auth.service import SCOPES, TOKEN_PREFIX, digest, get_user_or_raise
from kosh.auth.sessions import touch_last_use
from kosh.core import audit, direct
from kosh.core.db import transactional, utcnow
from kosh.core.errors import NotFoundError, ValidationError, field_error


@dataclass(frozen=True)
class NewToken:
    raw_token: str
    token: ApiToken


@transactional
async def create_token(
    session: AsyncSession,
    *,
    user_id: int,
    name: str,
    scopes: list[str],
    expires_at: datetime | None,
) -> NewToken:
    """Issue a bearer token for a user. Only its hash is stored; the raw value is shown once."""
    user = await get_user_or_raise(session, user_id)
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValidationError(
            "Unknown or missing scopes.",
            errors=[field_error(["scopes"], f"choose from {', '.join(SCOPES)}")],
        )
    if not name.strip() or len(name) > 100:
        raise ValidationError("Invalid name.", errors=[field_error(["name"], "1-100 characters")])
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationError(
            "The expiry is in the past.",
            errors=[field_error(["expires_at"], "must be in the future")],
        )
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name.strip(),
        token_hash=digest(raw),
        prefix=raw[:12],
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    session.add(token)
    await session.flush()
    await audit.record(
        session,
        action="token.create",
        entity_type="api_token",
        entity_id=token.id,
        after={"user": user.username, "name": token.name, "scopes": token.scopes},
    )
    return NewToken(raw_token=raw, token=token)


@transactional
async def revoke_token(
    session: AsyncSession, token_id: int, *, owner_id: int | None = None
) -> ApiToken:
    """Revoke a token (idempotent). With `owner_id`, only that user's token may be revoked."""
    token = await session.get(ApiToken, token_id)
    if token is None or (owner_id is not None and token.user_id != owner_id):
        raise NotFoundError(f"No token with id {token_id}.", code="token_not_found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        await audit.record(
            session, action="token.revoke", entity_type="api_token", entity_id=token.id
        )
    return token


async def list_tokens(session: AsyncSession, *, user_id: int | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id.desc())
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(await session.scalars(query))


# built once: every request with a bearer token runs it (columns, not entities: it goes
# straight to the driver, `kosh.core.direct`; the user entity is built from its row)
_USER_COLUMNS = tuple(User.__table__.c)
_TOKEN_AND_USER = (
    select(
        ApiToken.scopes.label("token_scopes"),
        ApiToken.expires_at.label("token_expires_at"),
        ApiToken.last_used_at.label("token_last_used_at"),
        ApiToken.revoked_at.label("token_revoked_at"),
        ApiToken.id.label("token_id"),
        *_USER_COLUMNS,
    )
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_hash == bindparam("token_hash", type_=String()))
)


@dataclass(frozen=True)
class LiveToken:
    id: int
    scopes: list[str]


async def resolve_token(session: AsyncSession, raw_token: str) -> tuple[LiveToken, User] | None:
    """The live token behind a bearer value and its user (an entity of `session`), or
    None. last_used_at is kept to the minute."""
    # One indexed query (the unique token_hash) for the token and its user, on its own: no
    # transaction is begun for it (the request's use case may then commit on its own too).
    found = await direct.first(
        session, _TOKEN_AND_USER, {"token_hash": digest(raw_token)}, begin=False
    )
    now = utcnow()
    if found is None:
        return None
    if found.token_revoked_at is not None:
        return None
    if found.token_expires_at is not None and found.token_expires_at <= now:
        return None
    if not found.active:
        return None
    last_used = found.token_last_used_at
    if last_used is None or now - last_used > timedelta(minutes=1):
        await touch_last_use(session, ApiToken, found.token_id, "last_used_at", now)
    user = _persistent_user(session, found)
    return LiveToken(id=found.token_id, scopes=list(found.token_scopes)), user


def _persistent_user(session: AsyncSession, row: Any) -> User:
    """The user of `row` as the session's entity, without another query: the one already
    in the session if there is one, else one built from the row as if loaded."""
    known = session.sync_session.identity_map.get(identity_key(User, row.id))
    if isinstance(known, User):
        return known
    user = User(**{column.key: getattr(row, column.key) for column in _USER_COLUMNS})
    make_transient_to_detached(user)
    session.add(user)
    return user
