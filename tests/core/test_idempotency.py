"""Idempotency-Key: a replay returns the first answer and never runs the use case twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import User
from kosh.core import audit
from kosh.core.config import Settings
from kosh.core.db import transactional, utcnow
from kosh.core.deps import SessionDep
from kosh.core.errors import UnavailableError
from kosh.core.models import AuditEvent, IdempotencyKey
from tests.support.platform import app_client, client_for


@transactional
async def _note(session: AsyncSession, *, what: str) -> int:
    await audit.record(session, action="test.note", entity_type="note", after={"w": what})
    return int(await session.scalar(select(func.max(AuditEvent.id))) or 0)


def _add_test_routes(app: FastAPI) -> None:
    calls = {"flaky": 0}

    async def note(request: Request, session: SessionDep) -> dict[str, object]:
        body = await request.json()
        if body.get("slow"):
            await asyncio.sleep(0.3)
        return {"id": await _note(session, what=str(body.get("what")))}

    async def flaky(session: SessionDep) -> dict[str, int]:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise RuntimeError("first attempt fails")
        return {"id": await _note(session, what="flaky")}

    async def unavailable() -> None:
        raise UnavailableError("Try later.")

    app.add_api_route("/api/v1/_test/notes", note, methods=["POST"], status_code=201)
    app.add_api_route("/api/v1/_test/flaky", flaky, methods=["POST"])
    app.add_api_route("/api/v1/_test/unavailable", unavailable, methods=["POST"])


async def _notes(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "test.note")
    )
    return int(count or 0)


@pytest.fixture
async def idem(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with app_client(settings, build=_add_test_routes) as pair:
        yield pair


async def test_replay_returns_the_first_response_without_running_again(
    idem: tuple[FastAPI, httpx.AsyncClient], session: AsyncSession
) -> None:
    _, client = idem
    headers = {"idempotency-key": "order-42"}

    first = await client.post("/api/v1/_test/notes", json={"what": "a"}, headers=headers)
    second = await client.post("/api/v1/_test/notes", json={"what": "a"}, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert second.headers["content-type"] == first.headers["content-type"]
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert await _notes(session) == 1


async def test_replay_of_a_real_use_case_creates_one_user(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    headers = {**admin_headers, "idempotency-key": "create-bob"}
    body = {"username": "bob", "password": "bobs-long-password", "role": "viewer"}
    first = await client.post("/api/v1/users", json=body, headers=headers)
    second = await client.post("/api/v1/users", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert (
        await session.scalar(select(func.count()).select_from(User).where(User.username == "bob"))
        == 1
    )
    creates = await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "user.create")
    )
    assert creates == 2  # the admin from the fixture and bob, once


async def test_same_key_with_a_different_body_is_422(
    idem: tuple[FastAPI, httpx.AsyncClient], session: AsyncSession
) -> None:
    _, client = idem
    headers = {"idempotency-key": "order-43"}
    assert (
        await client.post("/api/v1/_test/notes", json={"what": "a"}, headers=headers)
    ).status_code == 201
    reused = await client.post("/api/v1/_test/notes", json={"what": "b"}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
    assert await _notes(session) == 1


async def test_invalid_key_is_400(idem: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = idem
    response = await client.post(
        "/api/v1/_test/notes", json={"what": "a"}, headers={"idempotency-key": "x" * 201}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"


async def test_concurrent_requests_with_one_key_execute_once(
    idem: tuple[FastAPI, httpx.AsyncClient], session: AsyncSession
) -> None:
    app, _ = idem
    headers = {"idempotency-key": "concurrent-1"}
    async with client_for(app) as one, client_for(app) as two:
        results = await asyncio.gather(
            one.post("/api/v1/_test/notes", json={"what": "c", "slow": True}, headers=headers),
            two.post("/api/v1/_test/notes", json={"what": "c", "slow": True}, headers=headers),
        )
    codes = sorted(r.status_code for r in results)
    assert codes in ([201, 409], [201, 201])
    loser = next((r for r in results if r.status_code == 409), None)
    if loser is not None:
        assert loser.json()["code"] == "idempotency_in_progress"
        assert loser.headers["retry-after"] == "1"
    assert await _notes(session) == 1
    # once the first has finished, the same request is a replay
    again = await client_for(app).post(
        "/api/v1/_test/notes", json={"what": "c", "slow": True}, headers=headers
    )
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert await _notes(session) == 1


async def test_keys_belong_to_their_caller(
    idem: tuple[FastAPI, httpx.AsyncClient], session: AsyncSession, make_user, token_for
) -> None:
    app, _ = idem
    alice, bob = await make_user("operator"), await make_user("operator")
    headers = {"idempotency-key": "shared-key"}
    async with client_for(app) as client:
        for user in (alice, bob):
            auth = {"authorization": f"Bearer {await token_for(user)}", **headers}
            response = await client.post("/api/v1/_test/notes", json={"what": "x"}, headers=auth)
            assert response.status_code == 201
            assert "idempotent-replayed" not in response.headers
    # anonymous callers are told apart by their address
    async with client_for(app, "10.1.1.1") as one, client_for(app, "10.1.1.2") as two:
        for anonymous in (one, two):
            response = await anonymous.post(
                "/api/v1/_test/notes", json={"what": "x"}, headers=headers
            )
            assert "idempotent-replayed" not in response.headers
    assert await _notes(session) == 4


async def test_expired_key_can_be_used_again(
    idem: tuple[FastAPI, httpx.AsyncClient], session: AsyncSession
) -> None:
    _, client = idem
    headers = {"idempotency-key": "old-key"}
    assert (
        await client.post("/api/v1/_test/notes", json={"what": "a"}, headers=headers)
    ).status_code == 201
    await session.execute(update(IdempotencyKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    await session.commit()

    reused = await client.post("/api/v1/_test/notes", json={"what": "b"}, headers=headers)

    assert reused.status_code == 201
    assert "idempotent-replayed" not in reused.headers
    assert await _notes(session) == 2
    keys = list(await session.scalars(select(IdempotencyKey)))
    assert len(keys) == 1
    assert keys[0].expires_at > utcnow()


async def test_server_errors_are_not_stored(
    idem: tuple[FastAPI, httpx.AsyncClient], session: AsyncSession
) -> None:
    _, client = idem
    headers = {"idempotency-key": "flaky-1"}
    first = await client.post("/api/v1/_test/flaky", json={}, headers=headers)
    assert first.status_code == 500
    assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0

    second = await client.post("/api/v1/_test/flaky", json={}, headers=headers)
    assert second.status_code == 200
    assert "idempotent-replayed" not in second.headers

    unavailable = await client.post(
        "/api/v1/_test/unavailable", json={}, headers={"idempotency-key": "u-1"}
    )
    assert unavailable.status_code == 503
    await session.rollback()  # a new snapshot
    rows = list(await session.scalars(select(IdempotencyKey.key)))
    assert rows == ["flaky-1"]


async def test_refusals_before_running_are_not_stored(
    client: httpx.AsyncClient, make_user, login, session: AsyncSession
) -> None:
    """A CSRF refusal (the form was stale) must not stick to the key the retry reuses."""
    admin = await make_user("admin")
    logged = await login(client, admin)
    body = {"username": "carol", "password": "carols-long-password", "role": "viewer"}
    headers = {"idempotency-key": "form-submit-1"}

    refused = await client.post(
        "/api/v1/users", json=body, headers={**headers, "x-csrf-token": "stale"}
    )
    assert refused.status_code == 403

    retried = await client.post("/api/v1/users", json=body, headers={**headers, **logged.headers})
    assert retried.status_code == 201
    assert "idempotent-replayed" not in retried.headers
