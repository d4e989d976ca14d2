"""Single sign-on rules that a well-behaved provider never shows: a provider faked over
httpx's MockTransport with real signed ID tokens (Authlib), for rotated keys, expired tokens,
foreign userinfo, broken answers and a provider without logout."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.auth import oidc
from kosh.auth.models import User
from kosh.core.errors import DomainError, UnavailableError
from tests.support.fixtures import MakeUser

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # as in kosh.auth.oidc
    from authlib.jose import JsonWebKey, jwt

ISSUER = "https://id.example"
CALLBACK = "https://kosh.example/auth/oidc/callback"


@dataclass
class FakeProvider:
    key: Any = field(default_factory=lambda: JsonWebKey.generate_key("RSA", 2048, is_private=True))
    published: list[Any] = field(default_factory=list)
    nonce: str = ""
    claims: dict[str, Any] = field(default_factory=dict)
    userinfo: dict[str, Any] | None = None
    discovery: Any = None
    token_error: bool = False
    end_session: bool = True
    seen: list[str] = field(default_factory=list)

    def id_token(self) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": "kosh", "iat": now, "exp": now + 300, "nonce": self.nonce}
        body.update(self.claims)
        header = {"alg": "RS256", "kid": self.key.as_dict()["kid"]}
        return jwt.encode(header, body, self.key).decode()

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.seen.append(path)
        if path == "/.well-known/openid-configuration":
            if self.discovery is not None:
                return httpx.Response(200, json=self.discovery)
            metadata = {
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/auth",
                "token_endpoint": f"{ISSUER}/token",
                "jwks_uri": f"{ISSUER}/jwks",
            }
            if self.userinfo is not None:
                metadata["userinfo_endpoint"] = f"{ISSUER}/me"
            if self.end_session:
                metadata["end_session_endpoint"] = f"{ISSUER}/logout"
            return httpx.Response(200, json=metadata)
        if path == "/jwks":
            keys = self.published or [self.key]
            return httpx.Response(200, json={"keys": [k.as_dict(is_private=False) for k in keys]})
        if path == "/token":
            if self.token_error:
                raise httpx.ConnectError("connection refused", request=request)
            return httpx.Response(
                200,
                json={"id_token": self.id_token(), "access_token": "at", "token_type": "Bearer"},
            )
        if path == "/me":
            return httpx.Response(200, json=self.userinfo)
        return httpx.Response(404)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    fake = FakeProvider()
    factory = partial(httpx.AsyncClient, transport=httpx.MockTransport(fake.handle))
    monkeypatch.setattr(oidc.httpx, "AsyncClient", factory)
    oidc._metadata_cache.clear()
    oidc._jwks_cache.clear()
    yield fake
    oidc._metadata_cache.clear()
    oidc._jwks_cache.clear()


def config(**changes: Any) -> oidc.OidcConfig:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": "kosh",
        "client_secret": "s",
        "scopes": ("openid", "email"),
        "redirect_uris": (CALLBACK,),
        "role_claim": "groups",
        "role_map": {"admins": "admin", "warehouse": "operator"},
        "default_role": "viewer",
        "create_users": True,
        "link_by_email": True,
        "timeout": 5.0,
    }
    values.update(changes)
    return oidc.OidcConfig(**values)


async def login(session: AsyncSession, fake: FakeProvider, **changes: Any) -> oidc.SignedIn:
    cfg = config(**changes)
    url = await oidc.begin_login(session, config=cfg, redirect_uri=CALLBACK, next_url="/")
    query = parse_qs(urlsplit(url).query)
    fake.nonce = query["nonce"][0]
    return await oidc.complete_login(
        session,
        config=cfg,
        state=query["state"][0],
        code="c",
        error=None,
        issuer=None,
        ip=None,
        user_agent=None,
        lifetime=timedelta(hours=1),
    )


async def test_a_rotated_signing_key_is_fetched_again(
    session: AsyncSession, provider: FakeProvider
) -> None:
    provider.claims = {"sub": "u1", "preferred_username": "!!", "groups": ["warehouse"]}
    old = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    provider.published = [old]
    await oidc.provider_metadata(config())
    await oidc._keys(config(), await oidc.provider_metadata(config()), fresh=False)  # cached
    provider.published = []  # the provider now publishes its new key only

    signed = await login(session, provider)

    assert signed.created
    assert signed.new.user.username == "sso-user"  # nothing usable in the claims
    assert provider.seen.count("/jwks") == 2


async def test_an_expired_or_foreign_id_token_is_refused(
    session: AsyncSession, provider: FakeProvider
) -> None:
    provider.claims = {"sub": "u1", "exp": int(time.time()) - 3600}
    with pytest.raises(DomainError) as expired:
        await login(session, provider)
    assert expired.value.code == "oidc_id_token_invalid"

    provider.claims = {"sub": "u1", "aud": "someone-else"}
    with pytest.raises(DomainError) as foreign:
        await login(session, provider)
    assert foreign.value.code == "oidc_id_token_invalid"

    provider.published = [JsonWebKey.generate_key("RSA", 2048, is_private=True)]
    oidc._jwks_cache.clear()  # the provider's keys no longer include the token's signer
    provider.claims = {"sub": "u1"}
    with pytest.raises(DomainError) as unsigned:
        await login(session, provider)
    assert unsigned.value.code == "oidc_id_token_invalid"


async def test_userinfo_counts_only_for_the_same_subject(
    session: AsyncSession, provider: FakeProvider
) -> None:
    provider.claims = {"sub": "u1", "preferred_username": "uma"}
    provider.userinfo = {"sub": "someone-else", "groups": ["admins"]}
    signed = await login(session, provider)
    assert signed.new.user.role == "viewer"

    provider.userinfo = {"sub": "u1", "groups": ["admins"]}
    again = await login(session, provider)
    assert again.new.user.id == signed.new.user.id
    assert again.new.user.role == "admin"


async def test_a_group_mapping_demotes_an_admin_when_another_admin_remains(
    sessions: async_sessionmaker[AsyncSession], provider: FakeProvider, make_user: MakeUser
) -> None:
    await make_user("admin")
    provider.claims = {"sub": "u2", "preferred_username": "ann", "groups": ["admins"]}
    async with sessions() as session:
        first = await login(session, provider)
        assert first.new.user.role == "admin"
    provider.claims["groups"] = ["warehouse"]
    async with sessions() as session:
        second = await login(session, provider)
        role = await session.scalar(select(User.role).where(User.id == second.new.user.id))
    assert role == "operator"


async def test_broken_provider_answers(session: AsyncSession, provider: FakeProvider) -> None:
    provider.discovery = ["not", "an", "object"]
    with pytest.raises(UnavailableError):
        await oidc.provider_metadata(config())
    provider.discovery = {"issuer": "https://impostor.example"}
    with pytest.raises(UnavailableError):
        await oidc.provider_metadata(config())
    assert await oidc.end_session_url(config(), post_logout_redirect_uri="x") is None

    provider.discovery = None
    provider.token_error = True
    provider.claims = {"sub": "u1"}
    with pytest.raises(DomainError) as refused:
        await login(session, provider)
    assert refused.value.code == "oidc_token_failed"


async def test_logout_url_only_when_the_provider_offers_one(provider: FakeProvider) -> None:
    url = await oidc.end_session_url(config(), post_logout_redirect_uri="https://k/login")
    assert url == f"{ISSUER}/logout?client_id=kosh&post_logout_redirect_uri=https%3A%2F%2Fk%2Flogin"
    oidc._metadata_cache.clear()
    provider.end_session = False
    assert await oidc.end_session_url(config(), post_logout_redirect_uri="x") is None


async def test_an_identity_of_a_user_made_inactive_is_refused_and_audited(
    sessions: async_sessionmaker[AsyncSession], provider: FakeProvider
) -> None:
    provider.claims = {"sub": "u3", "preferred_username": "ina"}
    async with sessions() as session:
        signed = await login(session, provider)
        await session.execute(
            update(User).where(User.id == signed.new.user.id).values(active=False)
        )
        await session.commit()
    async with sessions() as session:
        with pytest.raises(DomainError) as refused:
            await login(session, provider)
    assert refused.value.code == "oidc_user_inactive"
    assert json.dumps(refused.value.code)
