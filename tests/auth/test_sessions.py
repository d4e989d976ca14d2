"""Server-side sessions: idle timeout, absolute lifetime, logout and password change end
them; CSRF on every unsafe request made with the session cookie."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import UserSession
from kosh.core.config import Settings
from kosh.core.db import utcnow
from tests.support.fixtures import PASSWORD


async def _only_session(session: AsyncSession, user_id: int) -> UserSession:
    await session.rollback()  # a fresh snapshot
    row = await session.scalar(select(UserSession).where(UserSession.user_id == user_id))
    assert row is not None
    return row


async def _age(session: AsyncSession, user_id: int, **values: object) -> None:
    await session.execute(
        update(UserSession).where(UserSession.user_id == user_id).values(**values)
    )
    await session.commit()


async def test_idle_session_expires(
    client: httpx.AsyncClient, make_user, login, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user("viewer")
    await login(client, user)
    idle = timedelta(minutes=settings.session_idle_minutes)

    # a session used a little while ago is kept alive and its last use recorded
    await _age(session, user.id, last_seen_at=utcnow() - idle + timedelta(minutes=5))
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    assert (await _only_session(session, user.id)).last_seen_at > utcnow() - timedelta(minutes=1)

    # one left alone for longer than the idle timeout is dead
    await _age(session, user.id, last_seen_at=utcnow() - idle - timedelta(seconds=1))
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 401
    page = await client.get("/", headers={"accept": "text/html"})
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")


async def test_session_ends_at_its_absolute_lifetime_even_when_busy(
    client: httpx.AsyncClient, make_user, login, session: AsyncSession, settings: Settings
) -> None:
    user = await make_user("viewer")
    response = await client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
    )
    row = await _only_session(session, user.id)
    lifetime = row.expires_at - row.created_at
    assert lifetime == timedelta(hours=settings.session_max_hours)
    assert (
        "max-age=" + str(settings.session_max_hours * 3600)
        in response.headers["set-cookie"].lower()
    )

    await _age(session, user.id, last_seen_at=utcnow(), expires_at=utcnow() - timedelta(seconds=1))
    assert (await client.get("/api/v1/auth/me")).status_code == 401


async def test_logout_revokes_the_session(
    client: httpx.AsyncClient, make_user, login, session: AsyncSession
) -> None:
    user = await make_user("viewer")
    logged = await login(client, user)
    cookie = client.cookies["kosh_session"]

    response = await client.post("/api/v1/auth/logout", headers=logged.headers)

    assert response.status_code == 204
    assert (
        'kosh_session=""' in response.headers["set-cookie"]
        or "max-age=0" in response.headers["set-cookie"].lower()
    )
    assert (await _only_session(session, user.id)).revoked_at is not None
    # the old cookie, replayed, opens nothing
    client.cookies.set("kosh_session", cookie)
    assert (await client.get("/api/v1/auth/me")).status_code == 401


async def test_logout_page_with_form_csrf_field(
    client: httpx.AsyncClient, make_user, login, session: AsyncSession
) -> None:
    user = await make_user("viewer")
    logged = await login(client, user)
    dashboard = await client.get("/")
    assert f'name="csrf_token" value="{logged.csrf}"' in dashboard.text

    response = await client.post("/logout", data={"csrf_token": logged.csrf})

    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert (await _only_session(session, user.id)).revoked_at is not None
    login_page = await client.get("/login")
    assert "You are logged out." in login_page.text


async def test_password_change_revokes_every_session(
    client: httpx.AsyncClient, make_user, login, session: AsyncSession
) -> None:
    user = await make_user("viewer")
    other_device = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with other_device:
        await login(other_device, user)
        logged = await login(client, user)

        wrong = await client.post(
            "/api/v1/auth/password",
            json={"current_password": "not-my-password", "new_password": "a-new-long-password"},
            headers=logged.headers,
        )
        assert wrong.status_code == 422
        assert wrong.json()["errors"][0]["loc"] == ["current_password"]

        changed = await client.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "a-new-long-password"},
            headers=logged.headers,
        )
        assert changed.status_code == 204

        assert (await client.get("/api/v1/auth/me")).status_code == 401
        assert (await other_device.get("/api/v1/auth/me")).status_code == 401
    await session.rollback()
    rows = list(await session.scalars(select(UserSession).where(UserSession.user_id == user.id)))
    assert len(rows) == 2
    assert all(r.revoked_at is not None for r in rows)

    old = await client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
    )
    assert old.status_code == 401
    await login(client, user, "a-new-long-password")


# --- CSRF -------------------------------------------------------------------------------


@pytest.mark.parametrize("sent", [None, "", "wrong-token"])
async def test_unsafe_request_with_session_needs_the_csrf_token(
    client: httpx.AsyncClient, make_user, login, sent: str | None
) -> None:
    user = await make_user("admin")
    await login(client, user)
    headers = {} if sent is None else {"x-csrf-token": sent}
    response = await client.post(
        "/api/v1/tokens", json={"name": "ci", "scopes": ["read"]}, headers=headers
    )
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    logout = await client.post("/api/v1/auth/logout", headers=headers)
    assert logout.status_code == 403
    assert (await client.get("/api/v1/auth/me")).status_code == 200  # still logged in


async def test_csrf_token_accepted_as_header_and_as_form_field(
    client: httpx.AsyncClient, make_user, login
) -> None:
    user = await make_user("admin")
    logged = await login(client, user)
    with_header = await client.post(
        "/api/v1/tokens", json={"name": "ci", "scopes": ["read"]}, headers=logged.headers
    )
    assert with_header.status_code == 201
    as_field = await client.post("/api/v1/auth/logout", data={"csrf_token": logged.csrf})
    assert as_field.status_code == 204


async def test_csrf_token_of_another_session_is_refused(
    client: httpx.AsyncClient, make_user, login
) -> None:
    user = await make_user("viewer")
    other = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with other:
        theirs = await login(other, await make_user("viewer"))
    await login(client, user)
    response = await client.post("/api/v1/auth/logout", headers=theirs.headers)
    assert response.status_code == 403


async def test_safe_requests_and_bearer_tokens_need_no_csrf(
    client: httpx.AsyncClient, make_user, login, token_for
) -> None:
    user = await make_user("admin")
    await login(client, user)
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    bearer = {"authorization": f"Bearer {await token_for(user, ['read', 'write'])}"}
    created = await client.post(
        "/api/v1/tokens", json={"name": "script", "scopes": ["read"]}, headers=bearer
    )
    assert created.status_code == 201


async def test_logging_in_again_replaces_the_old_session(
    client: httpx.AsyncClient, make_user, session: AsyncSession
) -> None:
    user = await make_user("viewer")
    credentials = {"username": user.username, "password": PASSWORD}
    first = await client.post("/api/v1/auth/login", json=credentials)
    assert first.status_code == 200
    old_cookie = first.cookies["kosh_session"]

    # logging in again with the old cookie still sent replaces that session
    second = await client.post("/api/v1/auth/login", json=credentials)
    assert second.status_code == 200
    new_cookie = second.cookies["kosh_session"]
    assert new_cookie != old_cookie

    async with client_for_cookie(client, old_cookie) as stale:
        assert (await stale.get("/api/v1/auth/me")).status_code == 401
    async with client_for_cookie(client, new_cookie) as fresh:
        assert (await fresh.get("/api/v1/auth/me")).status_code == 200
    await session.rollback()
    rows = list(await session.scalars(select(UserSession).where(UserSession.user_id == user.id)))
    assert sorted(row.revoked_at is None for row in rows) == [False, True]


async def test_the_login_page_replaces_the_old_session_too(
    client: httpx.AsyncClient, make_user, login
) -> None:
    user = await make_user("viewer")
    await login(client, user)
    old_cookie = client.cookies["kosh_session"]
    # a login form opened before (a logged-in browser is redirected away from /login)
    async with client_for_cookie(client, None) as anonymous:
        assert (await anonymous.get("/login")).status_code == 200
        csrf = anonymous.cookies["kosh_login_csrf"]
    client.cookies.set("kosh_login_csrf", csrf, path="/login")
    response = await client.post(
        "/login",
        data={"username": user.username, "password": PASSWORD, "csrf_token": csrf},
    )
    assert response.status_code == 303, response.text
    assert client.cookies["kosh_session"] != old_cookie
    async with client_for_cookie(client, old_cookie) as stale:
        assert (await stale.get("/api/v1/auth/me")).status_code == 401


def client_for_cookie(client: httpx.AsyncClient, cookie: str | None) -> httpx.AsyncClient:
    """Another client on the same app that sends only `cookie` as its session."""
    other = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    if cookie is not None:
        other.cookies.set("kosh_session", cookie)
    return other
