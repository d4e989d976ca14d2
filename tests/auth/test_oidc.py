"""Single sign-on against a real OpenID provider (panva's oidc-provider, tests/auth/conftest.py):
roles from groups, just-in-time users, linking by verified e-mail only, state replay, nonce
mismatch, redirect URIs, logout, and the refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.auth import oidc
from kosh.auth import service as auth_service
from kosh.auth.models import AuthChallenge, User, UserIdentity, UserSession
from kosh.core.config import Settings
from kosh.core.models import AuditEvent
from tests.auth.conftest import OpenIdProvider, sign_in_at_provider
from tests.support.fixtures import MakeUser
from tests.support.platform import app_client


@asynccontextmanager
async def sso_client(
    settings: Settings, provider: OpenIdProvider, **extra: Any
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, **provider.settings(**extra)) as (_, client):
        yield client


async def start(client: httpx.AsyncClient, next_url: str = "/") -> str:
    """/auth/oidc/login: the provider's authorisation URL KOSH redirects to."""
    response = await client.get("/auth/oidc/login", params={"next": next_url})
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def provider_callback(client: httpx.AsyncClient, login: str, next_url: str = "/") -> str:
    """Start a login, sign in at the provider as `login`: the callback URL it sends back."""
    answer = await sign_in_at_provider(await start(client, next_url), login)
    assert answer.is_redirect, answer.text[:500]
    location = answer.headers["location"]
    assert location.startswith("http://testserver/auth/oidc/callback?"), location
    return location


async def sso_login(client: httpx.AsyncClient, login: str, next_url: str = "/") -> httpx.Response:
    return await client.get(await provider_callback(client, login, next_url))


async def users_named(session: AsyncSession) -> dict[str, User]:
    return {u.username: u for u in await session.scalars(select(User))}


# --- logins, roles and users ---------------------------------------------------------


async def test_first_login_creates_the_user_with_the_role_of_their_group(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sso_client(settings, openid_provider) as client:
        # when bob (group "warehouse") signs in
        callback = await provider_callback(client, "bob", next_url="/stock")
        query = parse_qs(urlsplit(callback).query)
        assert set(query) >= {"code", "state"}
        done = await client.get(callback)

        # then he lands where he was going, logged in as a new operator
        assert done.status_code == 303
        assert done.headers["location"] == "/stock"
        me = await client.get("/api/v1/auth/me")
        assert me.status_code == 200
        assert me.json()["user"]["username"] == "bob"
        assert me.json()["user"]["role"] == "operator"
        assert me.json()["user"]["email"] == "bob@example.test"

        # a second login finds the same user through the identity, no second account
        client.cookies.clear()
        assert (await sso_login(client, "bob")).status_code == 303

    async with sessions() as session:
        users = await users_named(session)
        assert list(users) == ["bob"]
        identity = await session.scalar(select(UserIdentity))
        assert identity is not None
        assert (identity.issuer, identity.subject) == (openid_provider.issuer, "bob")
        methods = list(await session.scalars(select(UserSession.method)))
        assert methods == ["oidc", "oidc"]
        actions = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
        assert actions[:3] == ["user.create", "auth.sso_link", "auth.login"]
        assert await session.scalar(select(func.count()).select_from(AuthChallenge)) == 0


async def test_the_authorisation_request_carries_pkce_state_and_nonce(
    settings: Settings, openid_provider: OpenIdProvider
) -> None:
    async with sso_client(settings, openid_provider) as client:
        query = parse_qs(urlsplit(await start(client)).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 40
    assert len(query["nonce"][0]) >= 40
    assert query["redirect_uri"] == ["http://testserver/auth/oidc/callback"]
    assert query["scope"] == ["openid email profile groups"]


async def test_admins_group_maps_to_admin_and_links_a_user_by_verified_email(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    # given a local viewer whose e-mail is alice's
    local = await make_user("viewer", username="alice.local")
    async with sessions() as session:
        await session.execute(
            update(User).where(User.id == local.id).values(email="Alice@Example.test")
        )
        await session.commit()

    async with sso_client(settings, openid_provider) as client:
        assert (await sso_login(client, "alice")).status_code == 303
        me = (await client.get("/api/v1/auth/me")).json()

    # then alice is that user, now an admin (her group), with no new account
    assert me["user"]["id"] == local.id
    assert me["user"]["role"] == "admin"
    async with sessions() as session:
        assert list(await users_named(session)) == ["alice.local"]
        link = await session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.sso_link"))
        assert link is not None
        assert link.after is not None
        assert link.after["by"] == "email"


async def test_an_unverified_email_does_not_link(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    # given a local user "carol" with carol's e-mail, which the provider has not verified
    local = await make_user("manager", username="carol")
    async with sessions() as session:
        await session.execute(
            update(User).where(User.id == local.id).values(email="carol@example.test")
        )
        await session.commit()

    async with sso_client(settings, openid_provider) as client:
        assert (await sso_login(client, "carol")).status_code == 303
        me = (await client.get("/api/v1/auth/me")).json()

    # then the provider's carol is a new user (name made unique), not the local manager
    assert me["user"]["id"] != local.id
    assert me["user"]["username"] == "carol-2"
    assert me["user"]["role"] == "operator"
    assert me["user"]["email"] is None
    async with sessions() as session:
        users = await users_named(session)
        assert users["carol"].role == "manager"


async def test_no_mapped_group_gets_the_default_role_or_is_refused(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sso_client(settings, openid_provider) as client:
        assert (await sso_login(client, "dave")).status_code == 303
        assert (await client.get("/api/v1/auth/me")).json()["user"]["role"] == "viewer"
    async with sso_client(settings, openid_provider, oidc_default_role="") as client:
        refused = await sso_login(client, "dave")
        assert refused.status_code == 403
        assert "no role" in refused.text
    async with sessions() as session:
        failures = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sso_failed"))
        )
        assert [f.after for f in failures] == [{"code": "oidc_no_role"}]


async def test_without_just_in_time_creation_an_unknown_user_is_refused(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sso_client(settings, openid_provider, oidc_create_users=False) as client:
        refused = await sso_login(client, "bob")
        assert refused.status_code == 403
        assert "kosh_session" not in client.cookies
    async with sessions() as session:
        assert await users_named(session) == {}


async def test_a_deactivated_user_is_refused(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    await make_user("admin")  # so deactivating the other one is allowed
    async with sso_client(settings, openid_provider) as client:
        assert (await sso_login(client, "bob")).status_code == 303
    async with sessions() as session:
        bob = (await users_named(session))["bob"]
        await auth_service.update_user(session, bob.id, version=bob.version, active=False)
    async with sso_client(settings, openid_provider) as client:
        refused = await sso_login(client, "bob")
        assert refused.status_code == 403
        assert "deactivated" in refused.text


async def test_the_last_admin_is_not_demoted_by_the_group_mapping(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
    make_user: MakeUser,
) -> None:
    admin = await make_user("admin", username="bobby")
    async with sessions() as session:
        await session.execute(
            update(User).where(User.id == admin.id).values(email="bob@example.test")
        )
        await session.commit()
    async with sso_client(settings, openid_provider) as client:
        assert (await sso_login(client, "bob")).status_code == 303
        assert (await client.get("/api/v1/auth/me")).json()["user"]["role"] == "admin"


# --- refusals: state, nonce, redirect URIs, provider errors --------------------------


async def test_a_replayed_state_is_refused(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sso_client(settings, openid_provider) as client:
        callback = await provider_callback(client, "bob")
        assert (await client.get(callback)).status_code == 303
        client.cookies.clear()

        # when the same answer is sent again
        replay = await client.get(callback)

        # then it is refused and opens no session
        assert replay.status_code == 401
        assert "unknown, used or expired" in replay.text
        assert "kosh_session" not in client.cookies
        forged = await client.get("/auth/oidc/callback", params={"state": "x", "code": "y"})
        assert forged.status_code == 401
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(UserSession)) == 1


async def test_a_nonce_mismatch_is_refused(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sso_client(settings, openid_provider) as client:
        callback = await provider_callback(client, "bob")
        # the login KOSH started expects another nonce than the ID token will carry
        async with sessions() as session:
            await session.execute(update(AuthChallenge).values(nonce="another-nonce"))
            await session.commit()
        refused = await client.get(callback)
        assert refused.status_code == 401
        assert "does not answer this login" in refused.text
        assert "kosh_session" not in client.cookies
    async with sessions() as session:
        assert await users_named(session) == {}
        assert await session.scalar(select(func.count()).select_from(AuthChallenge)) == 0


async def test_an_expired_state_is_refused(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sso_client(settings, openid_provider) as client:
        callback = await provider_callback(client, "bob")
        async with sessions() as session:
            await session.execute(
                update(AuthChallenge).values(expires_at=oidc.utcnow() - oidc.STATE_TTL)
            )
            await session.commit()
        assert (await client.get(callback)).status_code == 401
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuthChallenge)) == 0


async def test_a_redirect_uri_not_allowed_is_refused_by_kosh_and_by_the_provider(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # KOSH: a request for another host would make another redirect URI: refused, nothing kept
    async with sso_client(settings, openid_provider) as client:
        spoofed = await client.get("/auth/oidc/login", headers={"host": "evil.example"})
        assert spoofed.status_code == 422
        assert "not an allowed" in spoofed.text
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuthChallenge)) == 0

    # the provider: a redirect URI KOSH allows but the client never registered
    unlisted = "http://testserver/auth/oidc/unlisted-callback"
    async with sso_client(settings, openid_provider, oidc_redirect_uris=[unlisted]) as client:
        response = await client.get("/auth/oidc/login")
        assert response.status_code == 422  # KOSH's own URL is not that one
    config = oidc.OidcConfig.from_settings(
        settings.model_copy(update=openid_provider.settings(oidc_redirect_uris=[unlisted]))
    )
    async with sessions() as session:
        url = await oidc.begin_login(session, config=config, redirect_uri=unlisted, next_url="/")
    answer = await sign_in_at_provider(url, "bob")
    assert not answer.is_redirect
    assert answer.status_code == 400
    assert "redirect_uri" in answer.text


async def test_an_error_from_the_provider_or_another_issuer_is_refused(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sso_client(settings, openid_provider) as client:
        state = parse_qs(urlsplit(await start(client)).query)["state"][0]
        denied = await client.get(
            "/auth/oidc/callback", params={"state": state, "error": "access_denied"}
        )
        assert denied.status_code == 401
        assert "access_denied" in denied.text

        callback = await provider_callback(client, "bob")
        other = await client.get(callback.replace("iss=", "was=") + "&iss=http%3A%2F%2Fx")
        assert other.status_code == 401
        assert "another provider" in other.text


async def test_a_wrong_client_secret_gets_no_tokens(
    settings: Settings, openid_provider: OpenIdProvider
) -> None:
    async with sso_client(
        settings, openid_provider, oidc_client_secret=SecretStr("wrong")
    ) as client:
        refused = await sso_login(client, "bob")
    assert refused.status_code == 401
    assert "did not issue tokens" in refused.text


async def test_an_unreachable_provider_is_a_clear_503(
    settings: Settings, make_user: MakeUser
) -> None:
    from tests.support.live_server import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    overrides = {
        "oidc_issuer": closed,
        "oidc_client_id": "x",
        "oidc_redirect_uris": ["http://testserver/auth/oidc/callback"],
    }
    async with app_client(settings, **overrides) as (_, client):
        response = await client.get("/auth/oidc/login")
    assert response.status_code == 503
    assert "did not answer" in response.text


# --- logout, the login page, configuration -------------------------------------------


async def test_logout_ends_the_session_and_sends_the_browser_to_the_providers_logout(
    settings: Settings,
    openid_provider: OpenIdProvider,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sso_client(settings, openid_provider) as client:
        await sso_login(client, "bob")
        csrf = (await client.get("/api/v1/auth/me")).json()["csrf_token"]
        out = await client.post("/logout", data={"csrf_token": csrf})
        assert out.status_code == 303
        target = urlsplit(out.headers["location"])
        assert f"{target.scheme}://{target.netloc}" == openid_provider.issuer
        assert target.path == "/session/end"
        assert parse_qs(target.query)["post_logout_redirect_uri"] == ["http://testserver/login"]
        assert (await client.get("/api/v1/auth/me")).status_code == 401
        csp = out.headers["content-security-policy"]
        assert f"form-action 'self' {openid_provider.issuer}" in csp
    async with sessions() as session:
        revoked = list(await session.scalars(select(UserSession.revoked_at)))
        assert len(revoked) == 1
        assert revoked[0] is not None


async def test_login_page_offers_single_sign_on_only_when_configured(
    settings: Settings, openid_provider: OpenIdProvider, client: httpx.AsyncClient
) -> None:
    plain = await client.get("/login")
    assert "Sign in with" not in plain.text
    assert (await client.get("/auth/oidc/login")).status_code == 404
    async with sso_client(settings, openid_provider) as sso:
        page = await sso.get("/login", params={"next": "/stock"})
    assert "Sign in with Test Provider" in page.text
    assert 'href="/auth/oidc/login?next=/stock"' in page.text


def test_settings_refuse_an_incomplete_or_wrong_sso_configuration() -> None:
    with pytest.raises(ValueError, match="KOSH_OIDC_CLIENT_ID"):
        Settings(_env_file=None, oidc_issuer="https://id.example")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="openid"):
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            oidc_issuer="https://id.example",
            oidc_client_id="kosh",
            oidc_redirect_uris="https://kosh.example/auth/oidc/callback",
            oidc_scopes="email,profile",
        )
    with pytest.raises(ValueError, match="claim=role"):
        Settings(_env_file=None, oidc_role_map="admins")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="role must be"):
        Settings(_env_file=None, oidc_role_map="admins=root")  # type: ignore[call-arg]
    good = Settings(
        _env_file=None,  # type: ignore[call-arg]
        oidc_issuer="https://id.example",
        oidc_client_id="kosh",
        oidc_redirect_uris="https://kosh.example/auth/oidc/callback",
        oidc_role_map="kosh-admins=admin, ,warehouse=operator",
    )
    assert good.oidc_role_map == {"kosh-admins": "admin", "warehouse": "operator"}
    assert good.oidc_scopes == ["openid", "email", "profile"]
    # off unless asked for: no SSO, password login for all, no two-factor enforcement
    plain = Settings(_env_file=None)  # type: ignore[call-arg]
    assert not plain.oidc_enabled
    assert (plain.password_login, plain.totp_required_for_admins) == ("all", False)


def test_role_mapping_takes_the_highest_role() -> None:
    config = oidc.OidcConfig.from_settings(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            oidc_issuer="https://id.example/",
            oidc_client_id="kosh",
            oidc_redirect_uris="https://kosh.example/auth/oidc/callback",
            oidc_role_map="a=viewer,b=manager,c=operator",
        )
    )
    assert config.issuer == "https://id.example"
    assert oidc.mapped_role(config, {"groups": ["c", "b", "a", 7]}) == "manager"
    assert oidc.mapped_role(config, {"groups": "c"}) == "operator"
    assert oidc.mapped_role(config, {}) == "viewer"
