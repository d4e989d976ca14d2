"""Users: the rules and the transactions (login and sessions: `kosh.auth.sessions`; API
tokens: `kosh.auth.tokens`)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Collection

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from kosh.auth.models import (
    ROLES,
    ApiToken,
    RecoveryCode,
    TwoFactor,
    User,
    UserIdentity,
    UserSession,
)
from kosh.core import audit
from kosh.core.actor import Actor
from kosh.core.db import transactional, utcnow
from kosh.core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RuleViolationError,
    ValidationError,
    field_error,
)

log = structlog.get_logger(__name__)

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
TOKEN_PREFIX = "kosh_"  # noqa: S105 - a public marker that makes leaked tokens findable
SCOPES = ("read", "write", "admin", "metrics")
# What a browser session of each role may do, as scopes: a token never gets more.
_ROLE_SCOPES = {
    "viewer": frozenset({"read", "write", "metrics"}),
    "operator": frozenset({"read", "write", "metrics"}),
    "manager": frozenset({"read", "write", "metrics"}),
    "admin": frozenset(SCOPES),
}
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def digest(raw: str) -> str:
    """Tokens are random, so a plain SHA-256 is enough to store them irreversibly."""
    return hashlib.sha256(raw.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def actor_for(user: User, *, via_token: bool = False) -> Actor:
    return Actor(kind="token" if via_token else "user", id=user.id, name=user.username)


def role_scopes(role: str) -> frozenset[str]:
    """Every scope a user of `role` can hold (a session counts as all of them)."""
    return _ROLE_SCOPES.get(role, frozenset())


def effective_scopes(role: str, *, token_scopes: Collection[str] | None) -> frozenset[str]:
    """What a caller may do: a session has its role's full set; a token has its scopes
    within its user's role, and the `admin` scope implies every other one."""
    allowed = role_scopes(role)
    if token_scopes is None:
        return allowed
    held = frozenset(token_scopes) & allowed
    return allowed if "admin" in held else held


def check_token_grant(
    *, caller_scopes: frozenset[str], owner_role: str, requested: Collection[str]
) -> None:
    """A new token's scopes must be within the caller's effective scopes and within what
    the owner's role can hold: 403 insufficient_scope otherwise (no token grows its own
    scope, and no admin token is minted by a token without the admin scope)."""
    beyond_caller = sorted(set(requested) - caller_scopes)
    if beyond_caller:
        raise PermissionDeniedError(
            f"You cannot grant scopes you do not hold: {', '.join(beyond_caller)}.",
            code="insufficient_scope",
            details={"missing_scopes": beyond_caller},
        )
    beyond_owner = sorted(set(requested) - role_scopes(owner_role))
    if beyond_owner:
        raise PermissionDeniedError(
            f"A {owner_role} cannot hold the scopes {', '.join(beyond_owner)}.",
            code="insufficient_scope",
            details={"missing_scopes": beyond_owner},
        )


def _check_password(password: str, loc: str = "password") -> None:
    if not (PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH):
        raise ValidationError(
            "The password is too short or too long.",
            errors=[
                field_error(
                    [loc],
                    f"must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters",
                )
            ],
        )


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValidationError(
            "Unknown role.", errors=[field_error(["role"], f"must be one of {', '.join(ROLES)}")]
        )


def user_snapshot(user: User) -> dict[str, object]:
    return {
        "username": user.username,
        "role": user.role,
        "active": user.active,
        "display_name": user.display_name,
        "email": user.email,
    }


# --- users ----------------------------------------------------------------------------


async def get_user_or_raise(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"No user with id {user_id}.", code="user_not_found")
    return user


async def find_user(session: AsyncSession, username: str) -> User | None:
    result = await session.scalar(select(User).where(User.username == username.strip().lower()))
    return result


async def list_users(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[User], int]:
    total = await session.scalar(select(func.count()).select_from(User))
    rows = await session.scalars(select(User).order_by(User.username).limit(limit).offset(offset))
    return list(rows), int(total or 0)


@transactional
async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    email: str | None = None,
) -> User:
    """Create an active user. Usernames are lower-case and unique (409 when taken)."""
    username = username.strip().lower()
    if not USERNAME_PATTERN.match(username):
        raise ValidationError(
            "Invalid username.",
            errors=[field_error(["username"], "2-64 of a-z, 0-9, '.', '_', '-'")],
        )
    _check_password(password)
    _check_role(role)
    if await find_user(session, username) is not None:
        raise ConflictError(f"The username {username!r} is taken.", code="username_taken")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name,
        email=email,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"The username {username!r} is taken.", code="username_taken") from exc
    await audit.record(
        session,
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        after=user_snapshot(user),
    )
    return user


@transactional
async def update_user(
    session: AsyncSession,
    user_id: int,
    *,
    version: int,
    role: str | None = None,
    active: bool | None = None,
    display_name: str | None = None,
    email: str | None = None,
) -> User:
    """Change role, active flag or names. A stale `version` is 409; deactivating or
    demoting revokes the user's sessions and tokens; the last active admin stays."""
    user = await get_user_or_raise(session, user_id)
    if user.version != version:
        raise ConflictError(
            "The user was changed by someone else; reload and try again.",
            code="stale_version",
            details={"current_version": user.version},
        )
    before = user_snapshot(user)
    if role is not None:
        _check_role(role)
    losing_admin = user.role == "admin" and (role not in (None, "admin") or active is False)
    if losing_admin and await _active_admins(session) <= 1:
        raise RuleViolationError("KOSH needs at least one active admin.", code="last_admin")
    if role is not None:
        user.role = role
    if active is not None:
        user.active = active
    if display_name is not None:
        user.display_name = display_name
    if email is not None:
        user.email = email or None
    if active is False or (role is not None and role != before["role"]):
        await _revoke_all(session, user.id, tokens=active is False)
    try:
        await session.flush()
    except StaleDataError as exc:  # someone committed a change since we read the version
        raise ConflictError(
            "The user was changed by someone else; reload and try again.",
            code="stale_version",
        ) from exc
    await audit.record(
        session,
        action="user.update",
        entity_type="user",
        entity_id=user.id,
        before=before,
        after=user_snapshot(user),
    )
    return user


async def _active_admins(session: AsyncSession) -> int:
    # Lock the admin rows (in id order, so two callers cannot deadlock): two admins demoting
    # each other at once would otherwise both count two admins and leave none.
    ids = await session.scalars(
        select(User.id)
        .where(User.role == "admin", User.active.is_(True))
        .order_by(User.id)
        .with_for_update()
    )
    return len(list(ids))


@transactional
async def reset_password(session: AsyncSession, user_id: int, *, new_password: str) -> User:
    """An admin sets a new password; every session of that user ends."""
    _check_password(new_password)
    user = await get_user_or_raise(session, user_id)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    await _revoke_all(session, user.id, tokens=False)
    await audit.record(session, action="user.reset_password", entity_type="user", entity_id=user.id)
    return user


@transactional
async def change_password(
    session: AsyncSession, user_id: int, *, current_password: str, new_password: str
) -> User:
    """A user changes their own password; the current one must be right. All sessions end."""
    user = await get_user_or_raise(session, user_id)
    if not verify_password(user.password_hash, current_password):
        raise ValidationError(
            "The current password is wrong.",
            errors=[field_error(["current_password"], "is wrong")],
        )
    _check_password(new_password, "new_password")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = utcnow()
    await _revoke_all(session, user.id, tokens=False)
    await audit.record(
        session, action="user.change_password", entity_type="user", entity_id=user.id
    )
    return user


async def _revoke_all(session: AsyncSession, user_id: int, *, tokens: bool) -> None:
    now = utcnow()
    await session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if tokens:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )


@transactional
async def ensure_admin(session: AsyncSession, *, password: str) -> bool:
    """Create the `admin` account on first start; False when any user exists already."""
    if await session.scalar(select(func.count()).select_from(User)):
        return False
    admin = User(username="admin", password_hash=hash_password(password), role="admin")
    session.add(admin)
    await session.flush()
    await audit.record(
        session,
        action="user.create",
        entity_type="user",
        entity_id=admin.id,
        after=user_snapshot(admin),
    )
    return True


# --- personal data (GDPR export and erasure, driven by kosh.ops.gdpr) -----------------------


async def personal_data(session: AsyncSession, user_id: int) -> dict[str, object]:
    """The user record, its sessions (times, IP, browser) and token names. 404 user_not_found."""
    user = await get_user_or_raise(session, user_id)
    sessions = await session.scalars(select(UserSession).where(UserSession.user_id == user_id))
    tokens = await session.scalars(select(ApiToken).where(ApiToken.user_id == user_id))
    return {
        "user": {"id": user.id, **user_snapshot(user), "created_at": user.created_at.isoformat()},
        "sessions": [
            {"created_at": s.created_at.isoformat(), "ip": s.ip, "user_agent": s.user_agent}
            for s in sessions
        ],
        "tokens": [{"name": t.name, "created_at": t.created_at.isoformat()} for t in tokens],
        "identities": [
            {"issuer": i.issuer, "subject": i.subject, "email": i.email}
            for i in await session.scalars(
                select(UserIdentity).where(UserIdentity.user_id == user_id)
            )
        ],
    }


async def erase_personal_data(session: AsyncSession, user_id: int) -> int:
    """In the caller's transaction: the user becomes `erased-user-N` (no display name, no
    e-mail, inactive, an unusable password), its sessions are deleted and its tokens revoked.
    409 last_admin when it is the only active admin. Returns the rows changed."""
    user = await get_user_or_raise(session, user_id)
    if user.role == "admin" and user.active and await _active_admins(session) <= 1:
        raise ConflictError(
            "The only active admin cannot be erased; make another admin first.",
            code="last_admin",
        )
    user.username = f"erased-user-{user.id}"
    user.display_name = ""
    user.email = None
    user.active = False
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    await _revoke_all(session, user.id, tokens=True)
    for model in (UserIdentity, TwoFactor, RecoveryCode):  # provider e-mail, secrets
        await session.execute(delete(model).where(model.user_id == user.id))
    result = await session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    await session.flush()
    return 1 + int(getattr(result, "rowcount", 0) or 0)
