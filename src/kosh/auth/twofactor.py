"""Two-factor login for local accounts: TOTP (RFC 6238) with single-use recovery codes.

Rules:
- A secret is shown once as an otpauth:// URI (and its QR code) and becomes active only when
  a first code from it is right (`confirm_enrolment`); until then the login is unchanged.
- A code is accepted for the current 30-second step and one step either side (clock drift);
  older or newer codes are refused. Each step is good once: the last accepted step is kept
  and a code for it or an earlier step is refused (a conditional update, so two requests
  racing with one code cannot both pass).
- Recovery codes: ten, shown once, stored as SHA-256 hashes (they are random, so a plain hash
  is enough), each good once (a conditional update on `used_at IS NULL`).
- A password login of an enrolled user opens no session: it leaves a challenge (five minutes,
  five wrong codes) that a right code turns into a session (`complete_login`).
- API tokens are not touched by any of this: they are issued by a logged-in user.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

import pyotp
import structlog
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth import service as auth_service
from kosh.auth import sessions as session_service
from kosh.auth.models import AuthChallenge, RecoveryCode, TwoFactor, User, UserSession
from kosh.core import audit
from kosh.core.db import transactional, utcnow
from kosh.core.errors import AuthenticationError, ConflictError, ValidationError, field_error
from kosh.core.metrics import LOGIN_ATTEMPTS, TWO_FACTOR_CHECKS
from kosh.core.ratelimit import too_many
from kosh.core.types import is_digits

log = structlog.get_logger(__name__)

STEP_SECONDS = 30
VALID_WINDOW = 1  # steps either side of now
RECOVERY_CODES = 10
CHALLENGE_TTL = timedelta(minutes=5)
CHALLENGE_ATTEMPTS = 5
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, interval=STEP_SECONDS)


def _normal_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _bad_code() -> AuthenticationError:
    return AuthenticationError(
        "The code is wrong or was used already.", code="invalid_two_factor_code"
    )


async def get_two_factor(session: AsyncSession, user_id: int) -> TwoFactor | None:
    return await session.get(TwoFactor, user_id)


async def is_enrolled(session: AsyncSession, user_id: int) -> bool:
    """True when the user has a confirmed TOTP secret (their password login asks for a code)."""
    row = await get_two_factor(session, user_id)
    return row is not None and row.confirmed_at is not None


async def recovery_codes_left(session: AsyncSession, user_id: int) -> int:
    rows = await session.scalars(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
    )
    return len(list(rows))


@transactional
async def begin_enrolment(session: AsyncSession, *, user: User, issuer: str) -> Enrolment:
    """A new secret for `user` (replacing one not yet confirmed). 409 two_factor_enabled when
    two-factor login is on already: turn it off first."""
    row = await get_two_factor(session, user.id)
    if row is not None and row.confirmed_at is not None:
        raise ConflictError("Two-factor login is on already.", code="two_factor_enabled")
    secret = pyotp.random_base32()
    if row is None:
        session.add(TwoFactor(user_id=user.id, secret=secret))
    else:
        row.secret = secret
        row.last_step = None
    await session.flush()
    uri = _totp(secret).provisioning_uri(name=user.username, issuer_name=issuer)
    return Enrolment(secret=secret, uri=uri)


async def pending_enrolment(session: AsyncSession, *, user: User, issuer: str) -> Enrolment | None:
    """The secret being set up (shown again after a wrong first code), or None."""
    row = await get_two_factor(session, user.id)
    if row is None or row.confirmed_at is not None:
        return None
    uri = _totp(row.secret).provisioning_uri(name=user.username, issuer_name=issuer)
    return Enrolment(secret=row.secret, uri=uri)


@transactional
async def confirm_enrolment(
    session: AsyncSession, *, user_id: int, code: str, session_id: int | None = None
) -> list[str]:
    """Turn two-factor login on with a first right code from the new secret; returns the
    recovery codes (shown once). 409 two_factor_not_started without a secret, 409
    two_factor_enabled when on already, 401 invalid_two_factor_code for a wrong code. The
    caller's own session (`session_id`) counts as having passed the second factor."""
    row = await get_two_factor(session, user_id)
    if row is None:
        raise ConflictError("Start the set-up first.", code="two_factor_not_started")
    if row.confirmed_at is not None:
        raise ConflictError("Two-factor login is on already.", code="two_factor_enabled")
    step = _matching_step(row.secret, code, after=None)
    if step is None:
        TWO_FACTOR_CHECKS.labels(outcome="failed").inc()
        raise _bad_code()
    row.confirmed_at = utcnow()
    row.last_step = step
    codes = await _replace_recovery_codes(session, user_id)
    if session_id is not None:
        await session.execute(
            update(UserSession).where(UserSession.id == session_id).values(method="totp")
        )
    await audit.record(session, action="auth.2fa_enable", entity_type="user", entity_id=user_id)
    TWO_FACTOR_CHECKS.labels(outcome="enrolled").inc()
    log.info("two_factor_enabled", user_id=user_id)
    return codes


async def _replace_recovery_codes(session: AsyncSession, user_id: int) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(
        RecoveryCode(user_id=user_id, code_hash=auth_service.digest(_normal_code(c))) for c in codes
    )
    await session.flush()
    return codes


def _matching_step(secret: str, code: str, *, after: int | None) -> int | None:
    """The time step (now ± VALID_WINDOW) whose code is `code`, later than `after`."""
    code = _normal_code(code)
    if not (is_digits(code) and len(code) == 6):
        return None
    totp = _totp(secret)
    now_step = int(utcnow().timestamp()) // STEP_SECONDS
    for step in range(now_step - VALID_WINDOW, now_step + VALID_WINDOW + 1):
        if secrets.compare_digest(totp.generate_otp(step), code) and (
            after is None or step > after
        ):
            return step
    return None


async def _use_code(session: AsyncSession, user_id: int, code: str) -> str | None:
    """In the caller's transaction: spend a TOTP code or a recovery code of an enrolled user.
    Returns "totp" or "recovery", or None when the code is not (or no longer) good."""
    row = await get_two_factor(session, user_id)
    if row is None or row.confirmed_at is None:
        return None
    step = _matching_step(row.secret, code, after=row.last_step)
    if step is not None:
        # Conditional: a concurrent request that spent this step first leaves no row here.
        result = await session.execute(
            update(TwoFactor)
            .where(
                TwoFactor.user_id == user_id,
                or_(TwoFactor.last_step.is_(None), TwoFactor.last_step < step),
            )
            .values(last_step=step)
        )
        return "totp" if getattr(result, "rowcount", 0) == 1 else None
    result = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == auth_service.digest(_normal_code(code)),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    )
    return "recovery" if getattr(result, "rowcount", 0) == 1 else None


@transactional
async def disable(
    session: AsyncSession, *, user_id: int, code: str | None, by_admin: bool = False
) -> None:
    """Turn two-factor login off: the user with a current code or a recovery code (401
    invalid_two_factor_code otherwise), or an admin for a user who lost their device
    (`by_admin`, no code). Secret and recovery codes are deleted; idempotent when off."""
    row = await get_two_factor(session, user_id)
    if row is None:
        return
    needs_code = not by_admin and row.confirmed_at is not None
    if needs_code and (code is None or await _use_code(session, user_id, code) is None):
        TWO_FACTOR_CHECKS.labels(outcome="failed").inc()
        raise _bad_code()
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    await session.delete(row)
    await audit.record(
        session,
        action="auth.2fa_reset" if by_admin else "auth.2fa_disable",
        entity_type="user",
        entity_id=user_id,
    )
    log.info("two_factor_disabled", user_id=user_id, by_admin=by_admin)


# --- the login's second step ---------------------------------------------------------


@transactional
async def start_challenge(session: AsyncSession, *, user_id: int, next_url: str) -> str:
    """A password was right for an enrolled user: the raw token of the challenge that a
    right code completes (five minutes, five attempts)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        AuthChallenge(
            token_hash=auth_service.digest(raw),
            kind="totp",
            user_id=user_id,
            next_url=next_url,
            created_at=now,
            expires_at=now + CHALLENGE_TTL,
        )
    )
    await session.flush()
    return raw


@dataclass(frozen=True)
class CompletedLogin:
    new: session_service.NewSession
    next_url: str
    used: str  # "totp" or "recovery"


async def complete_login(
    session: AsyncSession,
    *,
    raw_challenge: str,
    code: str,
    ip: str | None,
    user_agent: str | None,
    policy: session_service.LoginPolicy,
    replaces: str | None = None,
) -> CompletedLogin:
    """The second step of a password login: a right code opens the session. 401
    login_expired when the challenge is unknown, used, expired or out of attempts; 401
    invalid_two_factor_code for a wrong or replayed code (the attempt is counted, and hits
    the failed-login throttle: 429 with Retry-After once it is used up)."""
    challenge = await _challenge(session, raw_challenge)
    user = await auth_service.get_user_or_raise(session, challenge.user_id or 0)
    # Wrong codes count against the login throttle too: a password holder cannot guess
    # codes faster by opening new challenges.
    buckets = session_service.login_buckets(policy, user.username, ip or "-")
    for limit, scope, identity in buckets:
        wait = await policy.limiter.exceeded(limit, scope, identity)
        if wait is not None:
            TWO_FACTOR_CHECKS.labels(outcome="throttled").inc()
            raise too_many(scope, wait)
    used = await _spend(session, challenge, code)
    if used is None:
        TWO_FACTOR_CHECKS.labels(outcome="failed").inc()
        for limit, scope, identity in buckets:
            await policy.limiter.hit(limit, scope, identity)
        await _record_failure(session, challenge.id, challenge.user_id)
        raise _bad_code()
    TWO_FACTOR_CHECKS.labels(outcome=used).inc()
    new = await session_service.open_session(
        session,
        user=user,
        ip=ip,
        user_agent=user_agent,
        lifetime=policy.lifetime,
        replaces=replaces,
        method="totp",
    )
    return CompletedLogin(new=new, next_url=challenge.next_url, used=used)


async def _challenge(session: AsyncSession, raw: str) -> AuthChallenge:
    row = await session.scalar(
        select(AuthChallenge).where(
            AuthChallenge.token_hash == auth_service.digest(raw), AuthChallenge.kind == "totp"
        )
    )
    if row is None or row.expires_at <= utcnow() or row.attempts >= CHALLENGE_ATTEMPTS:
        raise AuthenticationError(
            "The login has expired; enter your password again.", code="login_expired"
        )
    return row


@transactional
async def _spend(session: AsyncSession, challenge: AuthChallenge, code: str) -> str | None:
    """Spend the code and, when it is good, the challenge (one transaction: a good code
    cannot be spent without ending the challenge, nor the other way round)."""
    used = await _use_code(session, challenge.user_id or 0, code)
    if used is None:
        return None
    result = await session.execute(delete(AuthChallenge).where(AuthChallenge.id == challenge.id))
    if getattr(result, "rowcount", 0) != 1:  # a concurrent request completed it first
        raise AuthenticationError(
            "The login has expired; enter your password again.", code="login_expired"
        )
    return used


@transactional
async def _record_failure(session: AsyncSession, challenge_id: int, user_id: int | None) -> None:
    await session.execute(
        update(AuthChallenge)
        .where(AuthChallenge.id == challenge_id)
        .values(attempts=AuthChallenge.attempts + 1)
    )
    await audit.record(
        session, action="auth.2fa_failed", entity_type="user", entity_id=user_id or 0
    )


def check_code_format(code: str) -> None:
    """422 for a code that is neither six digits nor a recovery code's shape."""
    normal = _normal_code(code)
    if not (is_digits(normal) and len(normal) == 6) and not (
        len(normal) == 10 and all(c in _RECOVERY_ALPHABET for c in normal)
    ):
        raise ValidationError(
            "Enter the six-digit code or a recovery code.",
            errors=[field_error(["code"], "six digits or a recovery code like abcde-fghjk")],
        )


@dataclass(frozen=True)
class PasswordLogin:
    """A session, or (for an enrolled user who gave no code yet) a challenge to complete."""

    new: session_service.NewSession | None = None
    challenge: str | None = None


async def password_login(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    code: str | None,
    ip: str | None,
    user_agent: str | None,
    policy: session_service.LoginPolicy,
    replaces: str | None = None,
    next_url: str = "/",
    challenge_ok: bool = True,
) -> PasswordLogin:
    """A password login that asks enrolled users for their second factor.

    Every refusal of `session_service.check_password` applies first. For an enrolled user
    without `code` the answer is a challenge (pages ask for the code next); with `code` the
    code must be right (401 invalid_two_factor_code, counted as a failed login for the
    throttle); without `code` and `challenge_ok` (the JSON API, which cannot ask later) it is
    401 two_factor_required. Users without two-factor login get their session at once."""
    user = await session_service.check_password(
        session, username=username, password=password, ip=ip, policy=policy
    )
    method = "password"
    if await is_enrolled(session, user.id):
        if code is None and not challenge_ok:
            raise AuthenticationError(
                "This account has two-factor login: send the current code as `code`.",
                code="two_factor_required",
            )
        if code is None:
            return PasswordLogin(
                challenge=await start_challenge(session, user_id=user.id, next_url=next_url)
            )
        used = await _verify(session, user_id=user.id, code=code)
        if used is None:
            TWO_FACTOR_CHECKS.labels(outcome="failed").inc()
            name = user.username
            for limit, scope, identity in session_service.login_buckets(policy, name, ip or "-"):
                await policy.limiter.hit(limit, scope, identity)
            raise _bad_code()
        TWO_FACTOR_CHECKS.labels(outcome=used).inc()
        method = "totp"
    LOGIN_ATTEMPTS.labels(outcome="ok").inc()
    new = await session_service.open_session(
        session,
        user=user,
        ip=ip,
        user_agent=user_agent,
        lifetime=policy.lifetime,
        replaces=replaces,
        method=method,
    )
    return PasswordLogin(new=new)


@transactional
async def _verify(session: AsyncSession, *, user_id: int, code: str) -> str | None:
    return await _use_code(session, user_id, code)
