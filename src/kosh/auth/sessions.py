"""Login and browser sessions: the password check with its throttle, sessions opened,
resolved on every page, ended and pruned."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import ApiToken, AuthChallenge, User, UserSession
from kosh.auth.service import (
    PASSWORD_MAX_LENGTH,
    actor_for,
    digest,
    find_user,
    hash_password,
    verify_password,
)
from kosh.core import audit
from kosh.core.actor import Actor
from kosh.core.db import transactional, utcnow
from kosh.core.errors import (
    AuthenticationError,
    PermissionDeniedError,
    ValidationError,
    field_error,
)
from kosh.core.metrics import LOGIN_ATTEMPTS
from kosh.core.ratelimit import RateLimiter, too_many
from kosh.core.types import has_control

log = structlog.get_logger(__name__)
# checked when the user is unknown, so an unknown name costs the time a known one does
_DUMMY_HASH = hash_password("not-a-real-password-only-for-timing")


@dataclass(frozen=True)
class LoginPolicy:
    limiter: RateLimiter
    limit: str  # failed logins per (account, client IP), and per client IP
    account_limit: str  # failed logins per account from all addresses together (slower)
    idle: timedelta
    lifetime: timedelta
    admins_only: bool = False  # KOSH_PASSWORD_LOGIN=admins: others sign in through SSO


@dataclass(frozen=True)
class NewSession:
    raw_token: str
    csrf_token: str
    user: User
    expires_at: datetime


def login_buckets(policy: LoginPolicy, name: str, ip: str) -> list[tuple[str, str, str]]:
    """(limit, scope, identity) of every failed-login counter.

    The strict limit is keyed per (account, IP), so a password guesser on one address
    cannot lock the owner out on another; per IP it stops one address spraying many
    accounts; the slower per-account limit caps guessing spread over many addresses."""
    return [
        (policy.limit, "login-user-ip", f"{name}|{ip}"),
        (policy.limit, "login-ip", ip),
        (policy.account_limit, "login-user", name),
    ]


async def check_password(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    ip: str | None,
    policy: LoginPolicy,
) -> User:
    """Check a password login; the user when it is right (no session is opened yet).

    Failed attempts are throttled per (account, client IP) and per IP (KOSH_LOGIN_RATE_LIMIT)
    and, more slowly, per account (KOSH_LOGIN_ACCOUNT_RATE_LIMIT): 429 with Retry-After once
    a limit is used up, even for the right password. An inactive or unknown user and a
    wrong password give the same 401 so accounts cannot be probed; a username with control
    characters is 422 (no user can have one). With `policy.admins_only` a right password of
    a non-admin is 403 password_login_disabled (they sign in through single sign-on)."""
    name = username.strip().lower()[:64]
    if has_control(name):
        raise ValidationError(
            "The username holds control characters.",
            errors=[field_error(["username"], "must not contain control characters")],
        )
    buckets = login_buckets(policy, name, ip or "-")
    for limit, scope, identity in buckets:
        wait = await policy.limiter.exceeded(limit, scope, identity)
        if wait is not None:
            LOGIN_ATTEMPTS.labels(outcome="throttled").inc()
            log.info("login_throttled", scope=scope, username=name, ip=ip)
            raise too_many(scope, wait)
    user = await find_user(session, name)
    ok = verify_password(
        user.password_hash if user else _DUMMY_HASH, password[:PASSWORD_MAX_LENGTH]
    )
    if user is None or not ok or not user.active:
        for limit, scope, identity in buckets:
            await policy.limiter.hit(limit, scope, identity)
        LOGIN_ATTEMPTS.labels(outcome="failed").inc()
        await _record_failed_login(session, name)
        raise AuthenticationError("Wrong username or password.", code="invalid_credentials")
    if policy.admins_only and user.role != "admin":
        LOGIN_ATTEMPTS.labels(outcome="password_disabled").inc()
        raise PermissionDeniedError(
            "Password login is only for admins here; use single sign-on.",
            code="password_login_disabled",
        )
    return user


@transactional
async def _record_failed_login(session: AsyncSession, username: str) -> None:
    await audit.record(
        session,
        action="auth.login_failed",
        entity_type="user",
        entity_id=username,
        actor=Actor(kind="anonymous", id=None, name=username or "-"),
    )


@transactional
async def open_session(
    session: AsyncSession,
    *,
    user: User,
    ip: str | None,
    user_agent: str | None,
    lifetime: timedelta,
    replaces: str | None,
    method: str = "password",
) -> NewSession:
    """A new browser session for a user whose login (`method`: password, totp, oidc) was
    checked; `replaces` is the raw token of the caller's current session cookie: that
    session ends when the new one opens."""
    now = utcnow()
    if replaces:
        # Logging in again ends the session the browser had: never two alive for one cookie.
        await session.execute(
            update(UserSession)
            .where(UserSession.token_hash == digest(replaces), UserSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    raw = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    row = UserSession(
        token_hash=digest(raw),
        user_id=user.id,
        csrf_token=csrf,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        ip=ip,
        user_agent=(user_agent or "")[:300],
        method=method,
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        action="auth.login",
        entity_type="user",
        entity_id=user.id,
        actor=actor_for(user),
        after={"method": method},
    )
    return NewSession(raw_token=raw, csrf_token=csrf, user=user, expires_at=row.expires_at)


@transactional
async def logout(session: AsyncSession, session_id: int) -> None:
    """End one session; its cookie stops working at once."""
    row = await session.get(UserSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        await audit.record(session, action="auth.logout", entity_type="user", entity_id=row.user_id)


async def resolve_session(
    session: AsyncSession, raw_token: str, *, idle: timedelta
) -> tuple[UserSession, User] | None:
    """The live session behind a cookie, or None when unknown, revoked, idle or expired.

    last_seen_at is written at most once a minute so page views do not all write."""
    # One indexed query (the unique token_hash) for the session and its user.
    found = (
        await session.execute(
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(UserSession.token_hash == digest(raw_token))
        )
    ).first()
    now = utcnow()
    if found is None:
        return None
    row, user = found[0], found[1]
    if row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.last_seen_at + idle <= now:
        return None
    if not user.active:
        return None
    if now - row.last_seen_at > timedelta(minutes=1):
        await touch_last_use(session, UserSession, row.id, "last_seen_at", now)
    return row, user


@transactional
async def touch_last_use(
    session: AsyncSession,
    model: type[UserSession] | type[ApiToken],
    row_id: int,
    column: str,
    now: datetime,
) -> None:
    """Record a use, at most once a minute. Its own write transaction: the read that found
    the row cannot become a write on SQLite when concurrent requests touch it too."""
    stamp = getattr(model, column)
    await session.execute(
        update(model)
        .where(model.id == row_id, or_(stamp.is_(None), stamp < now - timedelta(minutes=1)))
        .values({column: now})
    )


@transactional
async def delete_ended_sessions(session: AsyncSession, *, now: datetime, idle: timedelta) -> int:
    """Delete browser sessions that can never be used again (revoked, expired, or idle
    longer than `idle`) and expired login challenges (single sign-on states, logins waiting
    for a second factor); returns how many. For the retention job (kosh.ops.retention)."""
    challenges = await session.execute(delete(AuthChallenge).where(AuthChallenge.expires_at <= now))
    result = await session.execute(
        delete(UserSession).where(
            or_(
                UserSession.revoked_at.is_not(None),
                UserSession.expires_at <= now,
                UserSession.last_seen_at <= now - idle,
            )
        )
    )
    return int(getattr(result, "rowcount", 0) or 0) + int(getattr(challenges, "rowcount", 0) or 0)
