"""Webhooks to store codes that do not exist (issue 8.7): throttled per client IP, and
answered from the cache of known codes, not with a database query each."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kosh.core.config import Settings
from kosh.storefront import service as storefront_service
from kosh.storefront.intake import StoreCache
from tests.storefront import fakestore
from tests.storefront.conftest import Shop
from tests.support.stock import a_site

ORDER_727 = "order_727_processing_guest_docs_create_response.json"
LIMIT = 5


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    # Per day: the limiter's sliding window lets a little through again right after a
    # window boundary, which a per-minute limit would cross in about one run in twenty.
    return base_settings.model_copy(update={"storefront_unknown_store_rate_limit": f"{LIMIT}/day"})


@pytest.fixture
def store_queries(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement that reads the stores table, as the database receives it."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM stores" in statement:
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.fixture
async def from_ip(app: FastAPI) -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def _deliver(client: httpx.AsyncClient, code: str) -> httpx.Response:
    body, headers = fakestore.delivery(fakestore.load(ORDER_727), topic="order.created")
    return await fakestore.send(client, code, body, headers)


async def test_random_codes_are_throttled_per_ip_without_a_query_each(
    shop: Shop, from_ip: Any, store_queries: list[str]
) -> None:
    # given: one client sending to many store codes that do not exist
    attacker, other = from_ip("203.0.113.7"), from_ip("198.51.100.9")
    # when
    answers = [await _deliver(attacker, f"X{secrets.token_hex(6)}") for _ in range(60)]
    bystander = await _deliver(other, "NOSUCH")
    genuine = await _deliver(attacker, shop.code)
    # then
    statuses = [answer.status_code for answer in answers]
    assert statuses[:LIMIT] == [404] * LIMIT
    assert set(statuses[LIMIT:]) == {429}
    throttled = answers[-1]
    assert throttled.headers["content-type"].startswith("application/problem+json")
    assert int(throttled.headers["retry-after"]) >= 1
    assert answers[0].json()["code"] == "store_not_found"
    assert bystander.status_code == 404  # another address is not throttled
    assert genuine.status_code == 200, genuine.text  # nor are the known stores
    # the known codes were read once (twice if a refresh fell due), not once per code
    assert len(store_queries) <= 4, store_queries


async def test_a_store_created_here_is_known_at_once(
    client: httpx.AsyncClient,
    from_ip: Any,
    admin_headers: dict[str, str],
    session: AsyncSession,
) -> None:
    # given: the known codes are cached, and a store is then created through the API
    site = await a_site(session, bins=1)
    assert (await _deliver(from_ip("192.0.2.10"), "LATER")).status_code == 404
    created = await client.post(
        "/api/v1/storefront/stores",
        json={
            "code": "LATER",
            "kind": "woocommerce",
            "base_url": "https://shop.example.com",
            "webhook_secret": fakestore.WEBHOOK_SECRET,
            "warehouse_id": site.warehouse_id,
        },
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    # when
    answer = await _deliver(from_ip("192.0.2.10"), "LATER")
    # then
    assert answer.status_code == 200, answer.text


async def test_a_store_created_on_another_node_is_found_after_the_refresh(
    app: FastAPI, from_ip: Any, session: AsyncSession, settings: Settings
) -> None:
    # given: codes cached by this node; the store appears in the database from elsewhere
    # (a refresh interval far longer than this test's steps take on a slow machine)
    cache = app.state.storefront_stores = StoreCache(codes_refresh=30)
    client = from_ip("192.0.2.20")
    assert (await _deliver(client, "ELSEWHERE")).status_code == 404
    site = await a_site(session, bins=1)
    await storefront_service.create_store(
        session,
        settings=settings,
        code="ELSEWHERE",
        kind="woocommerce",
        base_url="https://shop.example.com",
        webhook_secret=fakestore.WEBHOOK_SECRET,
        warehouse_id=site.warehouse_id,
    )
    # when: within the refresh interval the cached set answers; once it has passed (the
    # set's load time moved back by the interval), the database
    soon = await _deliver(client, "ELSEWHERE")
    cache._codes_at -= 30
    later = await _deliver(client, "ELSEWHERE")
    # then
    assert soon.status_code == 404
    assert later.status_code == 200, later.text
