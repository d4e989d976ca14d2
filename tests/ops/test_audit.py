"""The audit trail: who did what, from where, in which request; browsable by admins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.core.models import AuditEvent
from tests.support.platform import app_client


async def test_mutations_record_actor_request_id_and_ip(
    settings: Settings, make_user, token_for, session: AsyncSession
) -> None:
    admin = await make_user("admin", username="boss")
    auth = {"authorization": f"Bearer {await token_for(admin, ['admin'])}"}
    async with app_client(settings, client_ip="198.51.100.23") as (_, client):
        response = await client.post(
            "/api/v1/users",
            json={"username": "frank", "password": "franks-long-password", "role": "viewer"},
            headers={**auth, "x-request-id": "audit-request-0001"},
        )
    assert response.status_code == 201
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "user.create", AuditEvent.entity_id == str(response.json()["id"])
        )
    )
    assert event is not None
    assert (event.actor_type, event.actor_id, event.actor_name) == ("token", admin.id, "boss")
    assert event.entity_type == "user"
    assert event.request_id == "audit-request-0001"
    assert event.ip == "198.51.100.23"
    assert event.before is None
    assert event.after is not None
    assert event.after["username"] == "frank"
    assert datetime.now(UTC) - event.at < timedelta(minutes=1)


async def test_updates_record_before_and_after(
    client: httpx.AsyncClient, make_user, login, session: AsyncSession
) -> None:
    admin = await make_user("admin")
    logged = await login(client, admin)
    target = await make_user("viewer")
    response = await client.patch(
        f"/api/v1/users/{target.id}",
        json={"version": 1, "role": "operator"},
        headers=logged.headers,
    )
    assert response.status_code == 200
    event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "user.update"))
    assert event is not None
    assert event.actor_type == "user"
    assert event.actor_name == admin.username
    assert event.before is not None
    assert event.after is not None
    assert (event.before["role"], event.after["role"]) == ("viewer", "operator")


async def _seed(session: AsyncSession) -> None:
    """Events at known times by known actors."""
    base = datetime(2030, 1, 1, tzinfo=UTC)
    rows = [
        AuditEvent(
            actor_type="user",
            actor_name=actor,
            action=action,
            entity_type=etype,
            entity_id=str(i),
            at=base + timedelta(hours=i),
        )
        for i, (actor, action, etype) in enumerate(
            [
                ("ann", "part.create", "part"),
                ("ann", "part.update", "part"),
                ("ben", "part.create", "part"),
                ("ben", "bin.create", "bin"),
                ("ann", "bin.create", "bin"),
            ]
        )
    ]
    session.add_all(rows)
    await session.commit()


async def test_audit_api_filters(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    await _seed(session)

    async def ids(**params: str) -> list[str]:
        response = await client.get("/api/v1/audit", params=params, headers=admin_headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["items"])
        return [e["entity_id"] for e in body["items"]]

    assert await ids(actor="ann") == ["4", "1", "0"]
    assert await ids(action="part.create") == ["2", "0"]
    assert await ids(entity_type="bin") == ["4", "3"]
    assert await ids(actor="ann", entity_type="part") == ["1", "0"]
    assert await ids(since="2030-01-01T02:00:00Z", until="2030-01-01T04:00:00Z") == ["3", "2"]
    assert await ids(since="2030-01-01T02:00:00+01:00", actor="ann") == ["4", "1"]
    assert await ids(entity_type="bin", entity_id="3") == ["3"]


async def test_audit_api_refuses_bad_filters(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    for params in ({"since": "yesterday"}, {"since": "2030-01-01T00:00:00"}, {"actor": "x" * 101}):
        response = await client.get("/api/v1/audit", params=params, headers=admin_headers)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["errors"][0]["loc"][0] == "query"


async def test_audit_api_pages_with_next_link(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    await _seed(session)
    seen: list[str] = []
    url: str | None = "/api/v1/audit?actor=ann&limit=2"
    pages = 0
    while url:
        response = await client.get(url, headers=admin_headers)
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == 3
        seen += [e["entity_id"] for e in body["items"]]
        url = body["next"]
        if url:
            assert "actor=ann" in url
        pages += 1
    assert pages == 2
    assert seen == ["4", "1", "0"]


async def test_audit_api_is_admin_only(
    client: httpx.AsyncClient, manager_headers: dict[str, str]
) -> None:
    assert (await client.get("/api/v1/audit")).status_code == 401
    refused = await client.get("/api/v1/audit", headers=manager_headers)
    assert refused.status_code == 403


async def test_audit_page_renders_with_filters(
    client: httpx.AsyncClient, make_user, login, session: AsyncSession
) -> None:
    await _seed(session)
    viewer = await make_user("viewer")
    await login(client, viewer)
    assert (await client.get("/admin/audit", headers={"accept": "text/html"})).status_code == 403

    admin = await make_user("admin")
    await login(client, admin)
    page = await client.get("/admin/audit?actor=ben")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "bin.create" in page.text
    assert "part.create" in page.text
    assert "part.update" not in page.text  # ann's
    assert 'value="ben"' in page.text
    assert "<script>" not in page.text.lower().replace('<script type="module"', "")


async def test_audit_page_escapes_stored_values(
    client: httpx.AsyncClient, make_user, login, session: AsyncSession
) -> None:
    session.add(
        AuditEvent(
            actor_type="anonymous",
            actor_name="<script>alert(1)</script>",
            action="auth.login_failed",
            entity_type="user",
        )
    )
    await session.commit()
    await login(client, await make_user("admin"))
    page = await client.get("/admin/audit")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


async def test_failed_and_successful_logins_are_audited(
    client: httpx.AsyncClient, make_user, session: AsyncSession
) -> None:
    user = await make_user("viewer")
    await client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": "bad-password"}
    )
    await client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": "correct-horse-battery"}
    )
    actions = list(
        await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("auth.%"))
            .order_by(AuditEvent.id)
        )
    )
    assert actions == ["auth.login_failed", "auth.login"]
