from __future__ import annotations

import httpx


async def test_login_and_me(client: httpx.AsyncClient, make_user, login) -> None:
    user = await make_user("operator")
    logged = await login(client, user)
    response = await client.get("/api/v1/auth/me")
    assert response.status_code == 200
    assert response.json()["user"]["username"] == user.username
    assert logged.csrf == response.json()["csrf_token"]


async def test_token_auth(client: httpx.AsyncClient, admin_headers) -> None:
    response = await client.get("/api/v1/users", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["total"] == 1
