"""No token grows its own scope: a new token's scopes are within the caller's effective
scopes (a session counts as its role's full set), and tokens for others need `admin`."""

from __future__ import annotations

import httpx
import pytest

from tests.support.fixtures import PASSWORD


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _tokens_named(client: httpx.AsyncClient, admin: dict[str, str], name: str) -> int:
    listed = await client.get("/api/v1/tokens", headers=admin)
    return sum(1 for t in listed.json() if t["name"] == name)


async def test_a_token_without_admin_scope_cannot_mint_an_admin_token(
    client: httpx.AsyncClient, make_user, token_for
) -> None:
    admin = await make_user("admin")
    plain = _bearer(await token_for(admin, ["read", "write"]))
    assert (await client.get("/api/v1/users", headers=plain)).status_code == 403

    response = await client.post(
        "/api/v1/tokens",
        json={"name": "escalate", "scopes": ["read", "write", "admin"]},
        headers=plain,
    )

    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "insufficient_scope"
    assert response.json()["missing_scopes"] == ["admin"]
    powerful = _bearer(await token_for(admin, ["admin"]))
    assert await _tokens_named(client, powerful, "escalate") == 0


@pytest.mark.parametrize(
    ("held", "asked"),
    [
        (["read", "write"], ["metrics"]),
        (["write"], ["read", "write"]),
        (["read", "write"], ["admin"]),
    ],
)
async def test_a_token_grants_only_scopes_it_holds(
    client: httpx.AsyncClient, make_user, token_for, held: list[str], asked: list[str]
) -> None:
    admin = await make_user("admin")
    response = await client.post(
        "/api/v1/tokens",
        json={"name": "x", "scopes": asked},
        headers=_bearer(await token_for(admin, held)),
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "insufficient_scope"


async def test_a_token_may_mint_a_narrower_one(
    client: httpx.AsyncClient, make_user, token_for
) -> None:
    operator = await make_user("operator")
    response = await client.post(
        "/api/v1/tokens",
        json={"name": "read-only", "scopes": ["read"]},
        headers=_bearer(await token_for(operator, ["read", "write"])),
    )
    assert response.status_code == 201, response.text
    assert response.json()["scopes"] == ["read"]


async def test_an_admin_scoped_token_and_an_admin_session_hold_every_scope(
    client: httpx.AsyncClient, make_user, token_for, login
) -> None:
    admin = await make_user("admin")
    by_token = await client.post(
        "/api/v1/tokens",
        json={"name": "all", "scopes": ["read", "write", "admin", "metrics"]},
        headers=_bearer(await token_for(admin, ["admin"])),
    )
    assert by_token.status_code == 201, by_token.text
    logged = await login(client, admin)
    by_session = await client.post(
        "/api/v1/tokens",
        json={"name": "all-2", "scopes": ["admin", "metrics"]},
        headers=logged.headers,
    )
    assert by_session.status_code == 201, by_session.text


async def test_a_session_of_a_non_admin_cannot_mint_an_admin_token(
    client: httpx.AsyncClient, make_user
) -> None:
    manager = await make_user("manager")
    logged = await client.post(
        "/api/v1/auth/login", json={"username": manager.username, "password": PASSWORD}
    )
    response = await client.post(
        "/api/v1/tokens",
        json={"name": "x", "scopes": ["read", "admin"]},
        headers={"x-csrf-token": logged.json()["csrf_token"]},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


async def test_tokens_for_others_need_the_admin_scope(
    client: httpx.AsyncClient, make_user, token_for
) -> None:
    admin, operator = await make_user("admin"), await make_user("operator")
    response = await client.post(
        "/api/v1/tokens",
        json={"name": "for-op", "scopes": ["read"], "username": operator.username},
        headers=_bearer(await token_for(admin, ["read", "write"])),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"

    # with it, an admin's token may not give an operator more than the operator's role holds
    powerful = _bearer(await token_for(admin, ["admin"]))
    too_much = await client.post(
        "/api/v1/tokens",
        json={"name": "for-op", "scopes": ["admin"], "username": operator.username},
        headers=powerful,
    )
    assert too_much.status_code == 403
    assert too_much.json()["code"] == "insufficient_scope"
    made = await client.post(
        "/api/v1/tokens",
        json={"name": "for-op", "scopes": ["read", "write"], "username": operator.username},
        headers=powerful,
    )
    assert made.status_code == 201
    assert made.json()["user_id"] == operator.id


async def test_a_demoted_admins_admin_token_grants_nothing_beyond_the_new_role(
    client: httpx.AsyncClient, make_user, token_for
) -> None:
    admin, other_admin = await make_user("admin"), await make_user("admin")
    raw = await token_for(admin, ["admin"])
    powerful = _bearer(await token_for(other_admin, ["admin"]))
    user = (await client.get(f"/api/v1/users/{admin.id}", headers=powerful)).json()
    demoted = await client.patch(
        f"/api/v1/users/{admin.id}",
        json={"version": user["version"], "role": "manager"},
        headers=powerful,
    )
    assert demoted.status_code == 200, demoted.text
    response = await client.post(
        "/api/v1/tokens", json={"name": "x", "scopes": ["read"]}, headers=_bearer(raw)
    )
    assert response.status_code == 403
