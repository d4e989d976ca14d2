"""Single sign-on with OpenID Connect (authorisation code flow, PKCE S256), through Authlib.

Rules:
- The provider is discovered from KOSH_OIDC_ISSUER; its metadata must name exactly that
  issuer. The redirect URI KOSH sends must be one of KOSH_OIDC_REDIRECT_URIS, compared
  exactly (a spoofed Host cannot send the code elsewhere): 422 redirect_uri_not_allowed.
- Each login start stores a challenge (state, nonce, PKCE verifier, redirect URI; ten
  minutes) under the state's hash; the callback spends it with a conditional delete, so a
  replayed, forged or expired state is refused (401 oidc_state_invalid) and changes nothing.
- The ID token is checked by Authlib against the provider's keys: issuer, audience, expiry,
  and the nonce stored with the state (401 oidc_nonce_mismatch otherwise). Claims from the
  userinfo endpoint count only for the same subject.
- A user is found by (issuer, subject); failing that linked by e-mail only when the
  provider says the e-mail is verified (KOSH_OIDC_LINK_BY_EMAIL), failing that created
  (KOSH_OIDC_CREATE_USERS; 403 oidc_no_account when off). An inactive user is refused.
- The role comes from the claim KOSH_OIDC_ROLE_CLAIM through KOSH_OIDC_ROLE_MAP (the highest
  mapped role wins), else KOSH_OIDC_DEFAULT_ROLE (empty: 403 oidc_no_role), at every login;
  the last active admin is never demoted by it.
- Every outcome is counted (kosh_sso_logins_total{outcome}) and a refusal is audited with
  its code (auth.sso_failed); the session remembers it came from the provider, so logging out
  can also end the provider's session (RP-initiated logout) when it offers one.
"""

from __future__ import annotations

import re
import secrets
import time
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import structlog
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth import service as auth_service
from kosh.auth import sessions as session_service
from kosh.auth.models import ROLES, AuthChallenge, User, UserIdentity
from kosh.core import audit
from kosh.core.actor import Actor
from kosh.core.config import Settings
from kosh.core.db import transactional, utcnow
from kosh.core.errors import (
    AuthenticationError,
    DomainError,
    NotFoundError,
    PermissionDeniedError,
    UnavailableError,
    ValidationError,
    field_error,
)
from kosh.core.metrics import SSO_LOGINS

with warnings.catch_warnings():
    # Authlib's JOSE module still works and is what Authlib's own OIDC claims build on.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.jose import JsonWebKey, jwt
    from authlib.jose.errors import JoseError
    from authlib.oidc.core import CodeIDToken
# Authlib's JOSE is built on joserfc now: its claim checks raise joserfc's errors.
from joserfc.errors import JoseError as JoseRfcError

log = structlog.get_logger(__name__)

STATE_TTL = timedelta(minutes=10)
METADATA_TTL = 300.0  # seconds a provider's metadata and keys are reused
CLOCK_LEEWAY = 60  # seconds of clock difference allowed on the ID token's times
_metadata_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    role_claim: str
    role_map: dict[str, str]
    default_role: str
    create_users: bool
    link_by_email: bool
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig:
        """404 sso_not_configured when KOSH_OIDC_ISSUER is not set."""
        if not settings.oidc_issuer:
            raise NotFoundError("Single sign-on is not configured.", code="sso_not_configured")
        secret = settings.oidc_client_secret
        return cls(
            issuer=settings.oidc_issuer.rstrip("/"),
            client_id=settings.oidc_client_id or "",
            client_secret=secret.get_secret_value() if secret else "",
            scopes=tuple(settings.oidc_scopes),
            redirect_uris=tuple(settings.oidc_redirect_uris),
            role_claim=settings.oidc_role_claim,
            role_map=dict(settings.oidc_role_map),
            default_role=settings.oidc_default_role,
            create_users=settings.oidc_create_users,
            link_by_email=settings.oidc_link_by_email,
            timeout=settings.oidc_timeout,
        )


def _refused(code: str, message: str, *, status: int = 401) -> DomainError:
    kind = PermissionDeniedError if status == 403 else AuthenticationError
    return kind(message, code=code)


async def _get_json(config: OidcConfig, url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        async with httpx.AsyncClient(timeout=config.timeout) as http:
            response = await http.get(url, **kwargs)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("oidc_provider_unreachable", url=url, error=str(exc))
        raise UnavailableError(
            "The sign-on provider did not answer; try again or log in with a password.",
            code="sso_unavailable",
        ) from exc
    if not isinstance(body, dict):
        raise UnavailableError("The sign-on provider answered nonsense.", code="sso_unavailable")
    return body


async def provider_metadata(config: OidcConfig) -> dict[str, Any]:
    """The provider's discovery document (cached for five minutes); 503 sso_unavailable when
    it cannot be read or names another issuer."""
    cached = _metadata_cache.get(config.issuer)
    if cached and time.monotonic() - cached[0] < METADATA_TTL:
        return cached[1]
    metadata = await _get_json(config, f"{config.issuer}/.well-known/openid-configuration")
    if str(metadata.get("issuer", "")).rstrip("/") != config.issuer:
        log.warning("oidc_issuer_mismatch", expected=config.issuer, got=metadata.get("issuer"))
        raise UnavailableError(
            "The sign-on provider's metadata names another issuer.", code="sso_unavailable"
        )
    _metadata_cache[config.issuer] = (time.monotonic(), metadata)
    return metadata


async def _keys(config: OidcConfig, metadata: dict[str, Any], *, fresh: bool) -> Any:
    uri = str(metadata["jwks_uri"])
    cached = _jwks_cache.get(uri)
    if fresh or not cached or time.monotonic() - cached[0] >= METADATA_TTL:
        cached = (time.monotonic(), await _get_json(config, uri))
        _jwks_cache[uri] = cached
    return JsonWebKey.import_key_set(cached[1])


# --- the login's start ---------------------------------------------------------------


@transactional
async def begin_login(
    session: AsyncSession, *, config: OidcConfig, redirect_uri: str, next_url: str
) -> str:
    """The provider's authorisation URL for a new login (state, nonce and a PKCE S256
    challenge included). 422 redirect_uri_not_allowed when `redirect_uri` is not one of
    the configured ones; 503 sso_unavailable when the provider cannot be reached."""
    if redirect_uri not in config.redirect_uris:
        SSO_LOGINS.labels(outcome="redirect_uri_not_allowed").inc()
        log.warning("oidc_redirect_uri_refused", redirect_uri=redirect_uri)
        raise ValidationError(
            "This address is not an allowed sign-on redirect URI.",
            code="redirect_uri_not_allowed",
            errors=[field_error(["redirect_uri"], "not in KOSH_OIDC_REDIRECT_URIS")],
        )
    metadata = await provider_metadata(config)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)[:96]
    now = utcnow()
    # Housekeeping: logins abandoned at the provider leave their challenge behind.
    await session.execute(
        delete(AuthChallenge).where(AuthChallenge.kind == "oidc", AuthChallenge.expires_at < now)
    )
    session.add(
        AuthChallenge(
            token_hash=auth_service.digest(state),
            kind="oidc",
            nonce=nonce,
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            next_url=next_url,
            created_at=now,
            expires_at=now + STATE_TTL,
        )
    )
    await session.flush()
    query = {
        "response_type": "code",
        "client_id": config.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(config.scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    return f"{metadata['authorization_endpoint']}?{urlencode(query)}"


# --- the callback --------------------------------------------------------------------


@dataclass(frozen=True)
class SignedIn:
    new: session_service.NewSession
    next_url: str
    created: bool
    linked: bool


async def complete_login(
    session: AsyncSession,
    *,
    config: OidcConfig,
    state: str,
    code: str,
    error: str | None,
    issuer: str | None,
    ip: str | None,
    user_agent: str | None,
    lifetime: timedelta,
    replaces: str | None = None,
) -> SignedIn:
    """The provider sent the browser back: spend the state, exchange the code (with the
    PKCE verifier), check the ID token and its nonce, find, link or create the user, map the
    role and open a session. Every refusal is 401/403 with its code (see the module) and
    counted; nothing but the spent state changes when it is refused."""
    try:
        challenge = await _spend_state(session, state)
        if error:
            raise _refused("oidc_refused", f"The sign-on provider refused: {error[:100]}.")
        if issuer is not None and issuer.rstrip("/") != config.issuer:
            raise _refused("oidc_issuer_mismatch", "The answer came from another provider.")
        claims = await _verified_claims(config, challenge, code)
        signed = await _sign_in(session, config=config, claims=claims)
    except DomainError as exc:
        SSO_LOGINS.labels(outcome=exc.code).inc()
        log.info("sso_login_refused", code=exc.code)
        await _record_failure(session, exc.code)
        raise
    user, created, linked = signed
    new = await session_service.open_session(
        session,
        user=user,
        ip=ip,
        user_agent=user_agent,
        lifetime=lifetime,
        replaces=replaces,
        method="oidc",
    )
    SSO_LOGINS.labels(outcome="ok").inc()
    log.info("sso_login", user_id=user.id, created=created, linked=linked)
    return SignedIn(new=new, next_url=challenge.next_url, created=created, linked=linked)


@dataclass(frozen=True)
class _Spent:
    nonce: str
    code_verifier: str
    redirect_uri: str
    next_url: str


@transactional
async def _spend_state(session: AsyncSession, state: str) -> _Spent:
    row = await session.scalar(
        select(AuthChallenge).where(
            AuthChallenge.token_hash == auth_service.digest(state), AuthChallenge.kind == "oidc"
        )
    )
    gone = _refused("oidc_state_invalid", "The sign-on answer is unknown, used or expired.")
    if row is None:
        raise gone
    spent = _Spent(
        nonce=row.nonce or "",
        code_verifier=row.code_verifier or "",
        redirect_uri=row.redirect_uri or "",
        next_url=row.next_url,
    )
    expired = row.expires_at <= utcnow()
    result = await session.execute(delete(AuthChallenge).where(AuthChallenge.id == row.id))
    if getattr(result, "rowcount", 0) != 1:  # a concurrent callback spent it first
        raise gone
    if expired:
        await session.commit()  # spent all the same: an expired state never works later
        raise gone
    return spent


async def _verified_claims(config: OidcConfig, spent: _Spent, code: str) -> dict[str, Any]:
    metadata = await provider_metadata(config)
    try:
        async with httpx.AsyncClient(timeout=config.timeout) as http:
            response = await http.post(
                str(metadata["token_endpoint"]),
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": spent.redirect_uri,
                    "code_verifier": spent.code_verifier,
                },
                auth=(config.client_id, config.client_secret),
            )
        tokens = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("oidc_token_exchange_failed", error=str(exc))
        raise _refused("oidc_token_failed", "The sign-on provider did not issue tokens.") from exc
    if response.status_code != 200 or not isinstance(tokens, dict) or "id_token" not in tokens:
        log.warning("oidc_token_refused", status=response.status_code, body=str(tokens)[:300])
        raise _refused("oidc_token_failed", "The sign-on provider did not issue tokens.")
    claims = await _decode_id_token(config, metadata, str(tokens["id_token"]), spent.nonce)
    access = tokens.get("access_token")
    if access and metadata.get("userinfo_endpoint"):
        info = await _get_json(
            config,
            str(metadata["userinfo_endpoint"]),
            headers={"authorization": f"Bearer {access}"},
        )
        if info.get("sub") == claims["sub"]:
            claims = {**info, **claims}
    return claims


async def _decode_id_token(
    config: OidcConfig, metadata: dict[str, Any], id_token: str, nonce: str
) -> dict[str, Any]:
    options = {
        "iss": {"essential": True, "value": config.issuer},
        "aud": {"essential": True, "value": config.client_id},
        "sub": {"essential": True},
    }
    for fresh in (False, True):  # once more with fresh keys: the provider may have rotated
        try:
            claims = jwt.decode(
                id_token,
                key=await _keys(config, metadata, fresh=fresh),
                claims_cls=CodeIDToken,
                claims_options=options,
                claims_params={"nonce": nonce, "client_id": config.client_id},
            )
            break
        except (JoseError, JoseRfcError, ValueError) as exc:
            if fresh:
                raise _refused("oidc_id_token_invalid", "The ID token is not valid.") from exc
    if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise _refused("oidc_nonce_mismatch", "The ID token does not answer this login.")
    try:
        claims.validate(leeway=CLOCK_LEEWAY)
    except (JoseError, JoseRfcError) as exc:
        raise _refused("oidc_id_token_invalid", f"The ID token is not valid: {exc}.") from exc
    return dict(claims)


# --- users ---------------------------------------------------------------------------


def mapped_role(config: OidcConfig, claims: dict[str, Any]) -> str | None:
    """The highest KOSH role the role claim maps to, else the default role (None: none)."""
    values = claims.get(config.role_claim)
    if isinstance(values, str):
        values = [values]
    found = [
        config.role_map[v] for v in values or [] if isinstance(v, str) and v in config.role_map
    ]
    if found:
        return max(found, key=ROLES.index)
    return config.default_role or None


def _verified_email(claims: dict[str, Any]) -> str | None:
    email = claims.get("email")
    verified = claims.get("email_verified")
    if isinstance(email, str) and "@" in email and verified in (True, "true"):
        return email.strip().lower()[:254]
    return None


_NOT_USERNAME = re.compile(r"[^a-z0-9._-]+")


async def _free_username(session: AsyncSession, claims: dict[str, Any]) -> str:
    raw = claims.get("preferred_username") or str(claims.get("email") or "").split("@")[0]
    base = _NOT_USERNAME.sub("-", str(raw).lower()).strip("-._")[:50]
    if not auth_service.USERNAME_PATTERN.match(base):
        base = "sso-user"
    for n in range(1, 50):
        name = base if n == 1 else f"{base}-{n}"
        if await auth_service.find_user(session, name) is None:
            return name
    return f"{base}-{secrets.token_hex(4)}"


@transactional
async def _sign_in(
    session: AsyncSession, *, config: OidcConfig, claims: dict[str, Any]
) -> tuple[User, bool, bool]:
    subject = str(claims["sub"])[:255]
    email = _verified_email(claims)
    role = mapped_role(config, claims)
    if role is None:
        raise _refused("oidc_no_role", "Your account has no role in KOSH.", status=403)
    identity = await session.scalar(
        select(UserIdentity).where(
            UserIdentity.issuer == config.issuer, UserIdentity.subject == subject
        )
    )
    created = linked = False
    user: User | None = None
    if identity is not None:
        user = await session.get(User, identity.user_id)
    elif config.link_by_email and email is not None:
        user = await session.scalar(select(User).where(func.lower(User.email) == email))
        linked = user is not None
    if user is None:
        if not config.create_users:
            raise _refused("oidc_no_account", "There is no KOSH account for you.", status=403)
        user = User(
            username=await _free_username(session, claims),
            display_name=str(claims.get("name") or "")[:200],
            email=email,
            password_hash=auth_service.hash_password(secrets.token_urlsafe(32)),
            role=role,
        )
        session.add(user)
        await session.flush()
        created = True
        await audit.record(
            session,
            action="user.create",
            entity_type="user",
            entity_id=user.id,
            after={**auth_service.user_snapshot(user), "via": "sso"},
        )
    if not user.active:
        raise _refused("oidc_user_inactive", "Your KOSH account is deactivated.", status=403)
    if identity is None:
        identity = UserIdentity(user_id=user.id, issuer=config.issuer, subject=subject)
        session.add(identity)
        await audit.record(
            session,
            action="auth.sso_link",
            entity_type="user",
            entity_id=user.id,
            after={"issuer": config.issuer, "subject": subject, "by": "email" if linked else "new"},
        )
    identity.email = email
    identity.last_login_at = utcnow()
    await _apply_role(session, user, role)
    await session.flush()
    return user, created, linked


async def _apply_role(session: AsyncSession, user: User, role: str) -> None:
    if user.role == role:
        return
    if user.role == "admin" and user.active:
        admins = await session.scalar(
            select(func.count()).select_from(User).where(User.role == "admin", User.active)
        )
        if (admins or 0) <= 1:
            log.warning("sso_role_kept_last_admin", user_id=user.id, mapped=role)
            return
    before = user.role
    user.role = role
    await audit.record(
        session,
        action="user.update",
        entity_type="user",
        entity_id=user.id,
        before={"role": before},
        after={"role": role, "via": "sso"},
    )


@transactional
async def _record_failure(session: AsyncSession, code: str) -> None:
    await audit.record(
        session,
        action="auth.sso_failed",
        entity_type="user",
        entity_id="-",
        actor=Actor(kind="anonymous", id=None, name="-"),
        after={"code": code},
    )


# --- logout --------------------------------------------------------------------------


async def end_session_url(config: OidcConfig, *, post_logout_redirect_uri: str) -> str | None:
    """Where to send the browser to end the provider's session too (RP-initiated logout),
    or None when the provider offers no end_session_endpoint or cannot be reached."""
    try:
        metadata = await provider_metadata(config)
    except UnavailableError:
        return None
    endpoint = metadata.get("end_session_endpoint")
    if not endpoint:
        return None
    query = {"client_id": config.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
    return f"{endpoint}?{urlencode(query)}"
