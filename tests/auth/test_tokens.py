"""Bearer API tokens: created by the CLI and the API, shown once, stored hashed, scoped,
expiring, revocable, last use recorded."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth import tokens as token_service
from kosh.auth.models import ApiToken, User
from kosh.auth.service import digest
from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.core.errors import ValidationError
from kosh.core.models import AuditEvent
from tests.support.platform import run_cli


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def _token_row(session: AsyncSession, raw: str) -> ApiToken:
    await session.rollback()  # a fresh snapshot
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(raw)))
    assert row is not None
    return row


def _cli_env(settings: Settings) -> dict[str, str]:
    return {
        "KOSH_DATABASE_URL": settings.effective_database_url,
        "KOSH_DATA_DIR": str(settings.data_dir),
    }


async def test_cli_create_token_prints_only_the_token(
    client: httpx.AsyncClient, make_user, settings: Settings, session: AsyncSession
) -> None:
    user = await make_user("operator")
    result = await run_cli(
        ["create-token", "--username", user.username, "--name", "ci", "--scopes", "read"],
        _cli_env(settings),
    )
    assert result.exit_code == 0, result.output
    raw = result.stdout.strip()
    assert result.stdout == raw + "\n"
    assert raw.startswith("kosh_")
    assert len(raw) > 40

    row = await _token_row(session, raw)
    assert row.user_id == user.id
    assert row.scopes == ["read"]
    assert row.name == "ci"
    assert row.token_hash == digest(raw) != raw
    assert raw not in (row.prefix, row.name)
    assert row.expires_at is not None

    me = await client.get("/api/v1/auth/me", headers=_bearer(raw))
    assert me.status_code == 200
    assert me.json()["via"] == "token"
    assert me.json()["scopes"] == ["read"]


async def test_cli_create_token_with_several_scopes_and_no_expiry(
    make_user, settings: Settings, session: AsyncSession
) -> None:
    user = await make_user("admin")
    result = await run_cli(
        [
            "create-token",
            "--username",
            user.username,
            "--name",
            "prom",
            "--scopes",
            "read,metrics",
            "--scopes",
            "admin",
            "--expires-days",
            "0",
        ],
        _cli_env(settings),
    )
    assert result.exit_code == 0, result.output
    row = await _token_row(session, result.stdout.strip())
    assert row.scopes == ["admin", "metrics", "read"]
    assert row.expires_at is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--username", "ghost", "--name", "x"], "no user named 'ghost'"),
        (["--username", "{user}", "--name", "x", "--scopes", "root"], "Unknown or missing scopes"),
    ],
)
async def test_cli_create_token_refuses_unknown_user_or_scope(
    make_user, settings: Settings, args: list[str], message: str
) -> None:
    user = await make_user("viewer")
    args = [a.replace("{user}", user.username) for a in args]
    result = await run_cli(["create-token", *args], _cli_env(settings))
    assert result.exit_code != 0
    assert message in result.stderr
    assert result.stdout == ""


async def test_cli_create_user_then_login(
    client: httpx.AsyncClient, settings: Settings, login
) -> None:
    result = await run_cli(
        [
            "create-user",
            "--username",
            "Dora",
            "--password",
            "doras-long-password",
            "--role",
            "manager",
        ],
        _cli_env(settings),
    )
    assert result.exit_code == 0, result.output
    assert "created user dora (manager)" in result.stdout
    response = await client.post(
        "/api/v1/auth/login", json={"username": "dora", "password": "doras-long-password"}
    )
    assert response.status_code == 200
    again = await run_cli(
        ["create-user", "--username", "dora", "--password", "doras-long-password"],
        _cli_env(settings),
    )
    assert again.exit_code == 1
    assert "taken" in again.stderr


async def test_api_token_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, make_user, login, session: AsyncSession
) -> None:
    user = await make_user("operator")
    logged = await login(client, user)

    created = await client.post(
        "/api/v1/tokens",
        json={"name": "scanner", "scopes": ["read", "write"], "expires_in_days": 30},
        headers=logged.headers,
    )

    assert created.status_code == 201, created.text
    body = created.json()
    raw = body["token"]
    assert raw.startswith(body["prefix"])
    row = await _token_row(session, raw)
    assert row.id == body["id"]
    assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)

    listed = await client.get("/api/v1/tokens")
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()] == [body["id"]]
    assert raw not in listed.text
    assert "token" not in listed.json()[0]


async def test_read_only_token_cannot_write(
    client: httpx.AsyncClient, make_user, token_for
) -> None:
    user = await make_user("admin")
    read_only = _bearer(await token_for(user, ["read"]))
    assert (await client.get("/api/v1/auth/me", headers=read_only)).status_code == 200
    response = await client.post(
        "/api/v1/tokens", json={"name": "x", "scopes": ["read"]}, headers=read_only
    )
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert response.json()["required_scope"] == "write"


async def test_metrics_only_token_cannot_read_the_api(
    client: httpx.AsyncClient, make_user, token_for
) -> None:
    user = await make_user("admin")
    metrics_only = _bearer(await token_for(user, ["metrics"]))
    response = await client.get("/api/v1/auth/me", headers=metrics_only)
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


async def test_admin_routes_need_the_admin_scope(
    client: httpx.AsyncClient, make_user, token_for
) -> None:
    admin = await make_user("admin")
    without = await client.get(
        "/api/v1/users", headers=_bearer(await token_for(admin, ["read", "write"]))
    )
    assert without.status_code == 403
    assert without.json()["code"] == "insufficient_scope"
    with_admin = await client.get(
        "/api/v1/users", headers=_bearer(await token_for(admin, ["admin"]))
    )
    assert with_admin.status_code == 200


async def test_only_admins_may_hold_admin_scope_or_make_tokens_for_others(
    client: httpx.AsyncClient, make_user, token_for
) -> None:
    operator = await make_user("operator")
    admin = await make_user("admin")
    auth = _bearer(await token_for(operator, ["read", "write"]))
    admin_scope = await client.post(
        "/api/v1/tokens", json={"name": "x", "scopes": ["admin"]}, headers=auth
    )
    assert admin_scope.status_code == 403
    for_other = await client.post(
        "/api/v1/tokens",
        json={"name": "x", "scopes": ["read"], "username": admin.username},
        headers=auth,
    )
    assert for_other.status_code == 403

    admin_auth = _bearer(await token_for(admin, ["admin"]))
    made = await client.post(
        "/api/v1/tokens",
        json={"name": "for-op", "scopes": ["read"], "username": operator.username},
        headers=admin_auth,
    )
    assert made.status_code == 201
    assert made.json()["user_id"] == operator.id


async def test_expired_token_is_refused(
    client: httpx.AsyncClient, make_user, token_for, session: AsyncSession
) -> None:
    raw = await token_for(await make_user("viewer"), ["read"])
    assert (await client.get("/api/v1/auth/me", headers=_bearer(raw))).status_code == 200
    await session.execute(
        update(ApiToken)
        .where(ApiToken.token_hash == digest(raw))
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    await session.commit()
    response = await client.get("/api/v1/auth/me", headers=_bearer(raw))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"
    assert "invalid_token" in response.headers["www-authenticate"]


async def test_revoked_token_is_refused_and_only_its_owner_or_an_admin_revokes(
    client: httpx.AsyncClient, make_user, token_for, session: AsyncSession
) -> None:
    owner, stranger = await make_user("operator"), await make_user("operator")
    raw = await token_for(owner, ["read", "write"])
    token_id = (await _token_row(session, raw)).id

    other = await client.delete(
        f"/api/v1/tokens/{token_id}", headers=_bearer(await token_for(stranger))
    )
    assert other.status_code == 404
    assert (await client.get("/api/v1/auth/me", headers=_bearer(raw))).status_code == 200

    revoked = await client.delete(f"/api/v1/tokens/{token_id}", headers=_bearer(raw))
    assert revoked.status_code == 204
    assert (await _token_row(session, raw)).revoked_at is not None
    response = await client.get("/api/v1/auth/me", headers=_bearer(raw))
    assert response.status_code == 401


async def test_last_used_is_recorded(
    client: httpx.AsyncClient, make_user, token_for, session: AsyncSession
) -> None:
    raw = await token_for(await make_user("viewer"), ["read"])
    assert (await _token_row(session, raw)).last_used_at is None
    await client.get("/api/v1/auth/me", headers=_bearer(raw))
    used = (await _token_row(session, raw)).last_used_at
    assert used is not None
    assert utcnow() - used < timedelta(seconds=30)


@pytest.mark.parametrize(
    "value", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer kosh_not-a-real-token", "Token abc"]
)
async def test_bad_authorization_headers_are_401(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/api/v1/auth/me", headers={"authorization": value})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_admin_powers_over_tokens_need_the_admin_scope(
    client: httpx.AsyncClient, make_user, token_for, session: AsyncSession
) -> None:
    operator, admin = await make_user("operator"), await make_user("admin")
    theirs = await token_for(operator, ["read"])
    their_id = (await _token_row(session, theirs)).id
    plain = _bearer(await token_for(admin, ["read", "write"]))

    listed = await client.get("/api/v1/tokens", headers=plain)
    assert their_id not in [t["id"] for t in listed.json()]
    assert (await client.delete(f"/api/v1/tokens/{their_id}", headers=plain)).status_code == 404

    powerful = _bearer(await token_for(admin, ["admin"]))
    listed = await client.get("/api/v1/tokens", headers=powerful)
    assert their_id in [t["id"] for t in listed.json()]
    assert (await client.delete(f"/api/v1/tokens/{their_id}", headers=powerful)).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=_bearer(theirs))).status_code == 401


async def test_a_token_request_acts_on_its_user_as_stored(
    client: httpx.AsyncClient, make_user, token_for, session: AsyncSession
) -> None:
    # given: an admin with an admin-scoped token (its user is read with the token, no
    # second query, and must be the session's entity like any loaded user)
    admin = await make_user("admin")
    headers = _bearer(await token_for(admin, ["read", "write", "admin"]))
    me = await client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200, me.text
    seen = me.json()["user"]
    assert (seen["id"], seen["username"], seen["role"], seen["version"]) == (
        admin.id,
        admin.username,
        "admin",
        admin.version,
    )
    # when: the same request path changes that user (loaded through the session again)
    changed = await client.patch(
        f"/api/v1/users/{admin.id}",
        json={"version": admin.version, "display_name": "Night shift"},
        headers=headers,
    )
    # then: the change is stored once, with one version bump, and a stale version is refused
    assert changed.status_code == 200, changed.text
    assert (changed.json()["display_name"], changed.json()["version"]) == (
        "Night shift",
        admin.version + 1,
    )
    stale = await client.patch(
        f"/api/v1/users/{admin.id}",
        json={"version": admin.version, "display_name": "Lost"},
        headers=headers,
    )
    assert stale.status_code == 409
    again = (await client.get("/api/v1/auth/me", headers=headers)).json()["user"]
    assert (again["display_name"], again["version"]) == ("Night shift", admin.version + 1)


async def test_token_service_refuses_bad_names_and_past_expiry_and_revokes_once(
    session: AsyncSession, make_user
) -> None:
    user = await make_user("operator")
    for name, expires in (("  ", None), ("x" * 101, None), ("ci", utcnow() - timedelta(1))):
        with pytest.raises(ValidationError):
            await token_service.create_token(
                session, user_id=user.id, name=name, scopes=["read"], expires_at=expires
            )
    new = await token_service.create_token(
        session, user_id=user.id, name="ci", scopes=["read"], expires_at=None
    )

    first = await token_service.revoke_token(session, new.token.id)
    again = await token_service.revoke_token(session, new.token.id)

    assert again.revoked_at == first.revoked_at
    revokes = await session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "token.revoke", AuditEvent.entity_id == str(new.token.id)
        )
    )
    assert len(list(revokes)) == 1
    assert await token_service.resolve_token(session, new.raw_token) is None


async def test_a_token_of_a_deactivated_user_resolves_to_nothing_and_a_known_user_is_reused(
    session: AsyncSession, make_user
) -> None:
    user = await make_user("operator")
    new = await token_service.create_token(
        session, user_id=user.id, name="ci", scopes=["read"], expires_at=None
    )
    loaded = await session.get(User, user.id)

    # the user already in the session is the one the token resolves to
    found = await token_service.resolve_token(session, new.raw_token)
    assert found is not None
    assert found[1] is loaded

    await session.execute(update(User).where(User.id == user.id).values(active=False))
    await session.commit()
    assert await token_service.resolve_token(session, new.raw_token) is None
