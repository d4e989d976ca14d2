"""Passwords and logins: argon2id, JSON and form login, one answer for every failure,
cookie flags, a new session at every login."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth import sessions as session_service
from kosh.auth.models import User, UserSession
from kosh.auth.service import digest
from kosh.core.config import Settings
from kosh.core.errors import ValidationError
from kosh.core.models import AuditEvent
from kosh.core.ratelimit import RateLimiter
from tests.support.fixtures import PASSWORD
from tests.support.platform import app_client


def _cookie_header(response: httpx.Response, name: str) -> str:
    for value in response.headers.get_list("set-cookie"):
        if value.startswith(f"{name}="):
            return value
    raise AssertionError(f"no {name} cookie set: {response.headers.get_list('set-cookie')}")


async def test_passwords_are_stored_as_argon2id(make_user, session: AsyncSession) -> None:
    user = await make_user("viewer")
    stored = await session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_production_hasher_is_argon2id_with_real_cost() -> None:
    # the tests swap in a cheap hasher; the dummy hash was made by the real one at import
    from kosh.auth.sessions import _DUMMY_HASH

    params = dict(p.split("=") for p in _DUMMY_HASH.split("$")[3].split(","))
    assert _DUMMY_HASH.startswith("$argon2id$v=19$")
    assert int(params["m"]) >= 19_456  # OWASP minimum: 19 MiB
    assert int(params["t"]) >= 2


async def test_json_login_opens_a_session(
    client: httpx.AsyncClient, make_user, session: AsyncSession
) -> None:
    user = await make_user("operator")
    response = await client.post(
        "/api/v1/auth/login", json={"username": user.username.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["username"] == user.username
    assert body["via"] == "session"
    assert body["csrf_token"]
    assert "password_hash" not in body["user"]
    raw = client.cookies["kosh_session"]
    row = await session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert row is not None
    assert row.token_hash == digest(raw)
    assert row.csrf_token == body["csrf_token"]
    assert row.ip == "127.0.0.1"

    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["user"]["id"] == user.id


async def test_session_cookie_flags_in_development(client: httpx.AsyncClient, make_user) -> None:
    user = await make_user("viewer")
    response = await client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
    )
    cookie = _cookie_header(response, "kosh_session").lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie


async def test_session_cookie_is_secure_in_production(settings: Settings, make_user) -> None:
    user = await make_user("viewer")
    async with app_client(settings, env="production") as (_, client):
        response = await client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 200
        cookie = _cookie_header(response, "kosh_session").lower()
        assert "secure" in cookie
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        page = await client.get("/login")
        assert "secure" in _cookie_header(page, "kosh_login_csrf").lower()


async def test_every_login_gets_a_new_session_id(
    client: httpx.AsyncClient, make_user, session: AsyncSession
) -> None:
    user = await make_user("viewer")
    client.cookies.set("kosh_session", "planted-by-an-attacker")
    seen = set()
    for _ in range(2):
        response = await client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 200
        seen.add(response.cookies["kosh_session"])
    assert len(seen) == 2
    assert "planted-by-an-attacker" not in seen
    count = await session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)
    )
    assert count == 2


async def test_wrong_password_and_unknown_user_get_the_same_401(
    client: httpx.AsyncClient, make_user, session: AsyncSession
) -> None:
    user = await make_user("viewer")
    inactive = await make_user("viewer")
    await _deactivate(session, inactive.id)
    answers = [
        await client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": "wrong-password"}
        ),
        await client.post(
            "/api/v1/auth/login", json={"username": "nobody-here", "password": "wrong-password"}
        ),
        await client.post(
            "/api/v1/auth/login", json={"username": inactive.username, "password": PASSWORD}
        ),
    ]
    bodies = []
    for response in answers:
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "kosh_session" not in response.headers.get("set-cookie", "")
        body = response.json()
        body.pop("request_id")
        bodies.append(body)
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0]["code"] == "invalid_credentials"
    failed = await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "auth.login_failed")
    )
    assert failed == 3


async def _deactivate(session: AsyncSession, user_id: int) -> None:
    user = await session.get(User, user_id)
    assert user is not None
    user.active = False
    await session.commit()


# --- the login page ---------------------------------------------------------------------


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match is not None, f"no hidden {name} field"
    return match.group(1)


async def test_form_login_with_its_csrf_cookie(client: httpx.AsyncClient, make_user) -> None:
    user = await make_user("viewer")
    page = await client.get("/login?next=/admin/audit")
    assert page.status_code == 200
    assert "autofocus" in page.text
    login_csrf = _cookie_header(page, "kosh_login_csrf").lower()
    assert "httponly" in login_csrf
    assert "samesite=strict" in login_csrf
    token = _hidden(page.text, "csrf_token")
    assert _hidden(page.text, "next") == "/admin/audit"

    response = await client.post(
        "/login",
        data={
            "username": user.username,
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/account",
        },
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    assert "httponly" in _cookie_header(response, "kosh_session").lower()
    account = await client.get("/account")
    assert account.status_code == 200
    assert user.username in account.text


async def test_form_login_refuses_a_missing_or_wrong_csrf_token(
    client: httpx.AsyncClient, make_user
) -> None:
    user = await make_user("viewer")
    await client.get("/login")
    for token in ("", "forged-token"):
        response = await client.post(
            "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 403
        assert "kosh_session" not in response.headers.get("set-cookie", "")
        assert "expired" in response.text

    fresh = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with fresh:
        no_cookie = await fresh.post(
            "/login", data={"username": user.username, "password": PASSWORD, "csrf_token": "x"}
        )
        assert no_cookie.status_code == 403


async def test_form_login_wrong_password_shows_the_form_again(
    client: httpx.AsyncClient, make_user
) -> None:
    user = await make_user("viewer")
    page = await client.get("/login")
    response = await client.post(
        "/login",
        data={
            "username": user.username,
            "password": "nope-nope-nope",
            "csrf_token": _hidden(page.text, "csrf_token"),
        },
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "Wrong username or password." in response.text
    assert f'value="{user.username}"' in response.text


async def test_login_page_never_redirects_off_site(client: httpx.AsyncClient, make_user) -> None:
    user = await make_user("viewer")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        client.cookies.clear()
        page = await client.get("/login", params={"next": target})
        assert _hidden(page.text, "next") == "/"
        response = await client.post(
            "/login",
            data={
                "username": user.username,
                "password": PASSWORD,
                "csrf_token": _hidden(page.text, "csrf_token"),
                "next": target,
            },
        )
        assert response.headers["location"] == "/"


async def test_logged_in_user_visiting_login_is_sent_on(
    client: httpx.AsyncClient, make_user, login
) -> None:
    await login(client, await make_user("viewer"))
    response = await client.get("/login?next=/account")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"


def _policy() -> session_service.LoginPolicy:
    return session_service.LoginPolicy(
        limiter=RateLimiter("async+memory://"),
        limit="5/minute",
        account_limit="20/hour",
        idle=timedelta(minutes=30),
        lifetime=timedelta(hours=8),
    )


async def test_a_username_with_control_characters_is_refused_before_any_look_up(
    session: AsyncSession,
) -> None:
    with pytest.raises(ValidationError):
        await session_service.check_password(
            session, username="adm\x01in", password=PASSWORD, ip="127.0.0.1", policy=_policy()
        )


async def test_a_session_ends_once_and_a_deactivated_user_s_session_resolves_to_nothing(
    session: AsyncSession, make_user
) -> None:
    user = await make_user("operator")
    opened = await session_service.open_session(
        session,
        user=user,
        ip="127.0.0.1",
        user_agent="test",
        lifetime=timedelta(hours=8),
        replaces=None,
    )
    idle = timedelta(minutes=30)
    found = await session_service.resolve_session(session, opened.raw_token, idle=idle)
    assert found is not None

    # a deactivated user's live session stops working
    await session.execute(update(User).where(User.id == user.id).values(active=False))
    await session.commit()
    assert await session_service.resolve_session(session, opened.raw_token, idle=idle) is None

    # ending it twice records one logout
    await session_service.logout(session, found[0].id)
    await session_service.logout(session, found[0].id)
    logouts = await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "auth.logout")
    )
    assert logouts == 1
