"""Admin users API: create, deactivate, reset password, change role; the last admin stays;
stale versions are refused; only admins may use it."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import User, UserSession
from kosh.core.models import AuditEvent
from tests.support.fixtures import PASSWORD


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture
async def admin_auth(make_user, token_for) -> dict[str, str]:
    admin = await make_user("admin", username="root")
    return _bearer(await token_for(admin, ["read", "write", "admin"]))


async def _get(client: httpx.AsyncClient, auth: dict[str, str], user_id: int) -> dict:
    response = await client.get(f"/api/v1/users/{user_id}", headers=auth)
    assert response.status_code == 200
    return response.json()


async def test_create_user(
    client: httpx.AsyncClient, admin_auth: dict[str, str], session: AsyncSession
) -> None:
    response = await client.post(
        "/api/v1/users",
        json={
            "username": "Eve.Smith",
            "password": "eves-long-password",
            "role": "manager",
            "display_name": "Eve",
        },
        headers=admin_auth,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == "eve.smith"
    assert body["role"] == "manager"
    assert body["active"] is True
    assert body["version"] == 1
    assert "password" not in response.text
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "user.create", AuditEvent.entity_id == str(body["id"])
        )
    )
    assert event is not None
    assert event.actor_name == "root"
    assert event.actor_type == "token"
    assert "password" not in str(event.after)

    taken = await client.post(
        "/api/v1/users",
        json={"username": "eve.smith", "password": "eves-long-password", "role": "viewer"},
        headers=admin_auth,
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "username_taken"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"username": "ok-name", "password": "short", "role": "viewer"}, ["password"]),
        ({"username": "bad name!", "password": "long-enough-pw", "role": "viewer"}, ["username"]),
        ({"username": "ok-name", "password": "long-enough-pw", "role": "owner"}, ["role"]),
    ],
)
async def test_create_user_validates(
    client: httpx.AsyncClient, admin_auth: dict[str, str], body: dict, loc: list[str]
) -> None:
    response = await client.post("/api/v1/users", json=body, headers=admin_auth)
    assert response.status_code == 422
    assert loc in [e["loc"] for e in response.json()["errors"]]


async def test_list_users_pages(
    client: httpx.AsyncClient, admin_auth: dict[str, str], make_user
) -> None:
    for _ in range(3):
        await make_user("viewer")
    first = await client.get("/api/v1/users?limit=2", headers=admin_auth)
    assert first.status_code == 200
    body = first.json()
    assert body["total"] == 4
    assert len(body["items"]) == 2
    assert parse_qs(urlsplit(body["next"]).query) == {"limit": ["2"], "offset": ["2"]}
    second = (await client.get(body["next"], headers=admin_auth)).json()
    assert len(second["items"]) == 2
    assert second["next"] is None
    names = [u["username"] for u in body["items"] + second["items"]]
    assert names == sorted(names)


async def test_deactivate_revokes_sessions_and_tokens(
    client: httpx.AsyncClient,
    admin_auth: dict[str, str],
    make_user,
    token_for,
    session: AsyncSession,
) -> None:
    user = await make_user("operator")
    token = _bearer(await token_for(user))
    device = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with device:
        assert (
            await device.post(
                "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
            )
        ).status_code == 200

        response = await client.patch(
            f"/api/v1/users/{user.id}", json={"version": 1, "active": False}, headers=admin_auth
        )

        assert response.status_code == 200, response.text
        assert response.json()["active"] is False
        assert response.json()["version"] == 2
        assert (await device.get("/api/v1/auth/me")).status_code == 401
    assert (await client.get("/api/v1/auth/me", headers=token)).status_code == 401
    relogin = await client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
    )
    assert relogin.status_code == 401
    revoked = await session.scalar(
        select(func.count())
        .select_from(UserSession)
        .where(UserSession.user_id == user.id, UserSession.revoked_at.is_not(None))
    )
    assert revoked == 1


async def test_reset_password(
    client: httpx.AsyncClient, admin_auth: dict[str, str], make_user, login
) -> None:
    user = await make_user("viewer")
    device = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with device:
        await login(device, user)
        short = await client.post(
            f"/api/v1/users/{user.id}/reset-password",
            json={"new_password": "short"},
            headers=admin_auth,
        )
        assert short.status_code == 422
        response = await client.post(
            f"/api/v1/users/{user.id}/reset-password",
            json={"new_password": "fresh-long-password"},
            headers=admin_auth,
        )
        assert response.status_code == 204
        assert (await device.get("/api/v1/auth/me")).status_code == 401
    old = await client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
    )
    assert old.status_code == 401
    await login(client, user, "fresh-long-password")
    missing = await client.post(
        "/api/v1/users/999999/reset-password",
        json={"new_password": "fresh-long-password"},
        headers=admin_auth,
    )
    assert missing.status_code == 404


async def test_change_role_takes_effect_and_ends_sessions(
    client: httpx.AsyncClient, admin_auth: dict[str, str], make_user, login
) -> None:
    user = await make_user("viewer")
    device = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with device:
        await login(device, user)
        response = await client.patch(
            f"/api/v1/users/{user.id}", json={"version": 1, "role": "manager"}, headers=admin_auth
        )
        assert response.status_code == 200
        assert response.json()["role"] == "manager"
        assert (await device.get("/api/v1/auth/me")).status_code == 401
        me = await login(device, user)
        assert me.user.id == user.id
        assert (await device.get("/api/v1/auth/me")).json()["user"]["role"] == "manager"


async def test_last_admin_cannot_be_demoted_or_deactivated(
    client: httpx.AsyncClient, make_user, token_for
) -> None:
    admin = await make_user("admin")
    auth = _bearer(await token_for(admin, ["admin"]))
    for change in ({"role": "manager"}, {"active": False}):
        response = await client.patch(
            f"/api/v1/users/{admin.id}", json={"version": 1, **change}, headers=auth
        )
        assert response.status_code == 422
        assert response.json()["code"] == "last_admin"
    # with a second admin, the first may step down
    second = await make_user("admin")
    response = await client.patch(
        f"/api/v1/users/{second.id}", json={"version": 1, "role": "viewer"}, headers=auth
    )
    assert response.status_code == 200


async def test_stale_version_is_409(
    client: httpx.AsyncClient, admin_auth: dict[str, str], make_user
) -> None:
    user = await make_user("viewer")
    first = await client.patch(
        f"/api/v1/users/{user.id}", json={"version": 1, "display_name": "First"}, headers=admin_auth
    )
    assert first.status_code == 200
    stale = await client.patch(
        f"/api/v1/users/{user.id}",
        json={"version": 1, "display_name": "Second"},
        headers=admin_auth,
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    assert stale.json()["current_version"] == 2
    assert (await _get(client, admin_auth, user.id))["display_name"] == "First"


async def test_concurrent_updates_with_one_version_one_wins(
    client: httpx.AsyncClient, admin_auth: dict[str, str], make_user
) -> None:
    user = await make_user("viewer")
    results = await asyncio.gather(
        *(
            client.patch(
                f"/api/v1/users/{user.id}",
                json={"version": 1, "display_name": f"n{i}"},
                headers=admin_auth,
            )
            for i in range(6)
        )
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409, 409, 409, 409, 409], [r.text for r in results]
    assert (await _get(client, admin_auth, user.id))["version"] == 2


async def test_two_admins_demoting_each_other_at_once_leave_one(
    client: httpx.AsyncClient, make_user, token_for, session: AsyncSession
) -> None:
    a, b = await make_user("admin"), await make_user("admin")
    auth_a = _bearer(await token_for(a, ["admin"]))
    auth_b = _bearer(await token_for(b, ["admin"]))
    results = await asyncio.gather(
        client.patch(f"/api/v1/users/{b.id}", json={"version": 1, "active": False}, headers=auth_a),
        client.patch(f"/api/v1/users/{a.id}", json={"version": 1, "active": False}, headers=auth_b),
    )
    assert sorted(r.status_code for r in results) in ([200, 401], [200, 422]), [
        r.text for r in results
    ]
    active_admins = await session.scalar(
        select(func.count()).select_from(User).where(User.role == "admin", User.active.is_(True))
    )
    assert active_admins == 1


async def test_users_api_is_admin_only(
    client: httpx.AsyncClient, manager_headers: dict[str, str], make_user
) -> None:
    user = await make_user("viewer")
    calls = [
        client.get("/api/v1/users", headers=manager_headers),
        client.get(f"/api/v1/users/{user.id}", headers=manager_headers),
        client.post(
            "/api/v1/users",
            json={"username": "x1", "password": "long-enough-pw", "role": "viewer"},
            headers=manager_headers,
        ),
        client.patch(
            f"/api/v1/users/{user.id}",
            json={"version": 1, "role": "admin"},
            headers=manager_headers,
        ),
        client.post(
            f"/api/v1/users/{user.id}/reset-password",
            json={"new_password": "long-enough-pw"},
            headers=manager_headers,
        ),
    ]
    for call in calls:
        response = await call
        assert response.status_code == 403
        assert response.json()["code"] == "role_required"
    assert (await client.get("/api/v1/users")).status_code == 401


async def test_admin_pages_render_for_admins_only(
    client: httpx.AsyncClient, make_user, login
) -> None:
    viewer = await make_user("viewer")
    await login(client, viewer)
    refused = await client.get("/admin/users", headers={"accept": "text/html"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")

    admin = await make_user("admin")
    await login(client, admin)
    page = await client.get("/admin/users")
    assert page.status_code == 200
    assert viewer.username in page.text
    detail = await client.get(f"/admin/users/{viewer.id}")
    assert detail.status_code == 200
    assert viewer.username in detail.text
