"""Protection at the edge: security headers, request ids, rate limits, request time limit."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from kosh.core.config import Settings
from tests.support import services
from tests.support.platform import app_client, client_for


def _add_test_routes(app: FastAPI) -> None:
    async def crash() -> None:
        raise RuntimeError("boom")

    async def slow() -> dict[str, str]:
        await asyncio.sleep(2)
        return {"done": "yes"}

    app.add_api_route("/api/v1/_test/crash", crash)
    app.add_api_route("/api/v1/_test/slow", slow)


def _assert_security_headers(response: httpx.Response, *, production: bool = False) -> None:
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert ("strict-transport-security" in response.headers) is production
    assert re.fullmatch(r"[0-9a-f]{32}|[A-Za-z0-9._:-]{8,128}", response.headers["x-request-id"])


@pytest.fixture
async def edge_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(settings, build=_add_test_routes, max_body_bytes=100) as (_, client):
        yield client


async def test_security_headers_on_every_kind_of_response(
    edge_client: httpx.AsyncClient,
) -> None:
    responses = [
        await edge_client.get("/health/live"),
        await edge_client.get("/login"),
        await edge_client.get("/nothing-here"),
        await edge_client.get("/nothing-here", headers={"accept": "text/html"}),
        await edge_client.get("/api/v1/auth/me"),
        await edge_client.get("/api/v1/_test/crash"),
        await edge_client.delete("/health/live"),
        await edge_client.post("/api/v1/auth/login", content=b"x" * 200),
        await edge_client.post(
            "/api/v1/auth/login", content=b"{", headers={"content-type": "application/json"}
        ),
        await edge_client.get("/", headers={"accept": "text/html"}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 404, 404, 401, 500, 405, 413, 400, 303]
    for response in responses:
        _assert_security_headers(response)

    login_page = responses[1]
    static = re.search(r'href="(/static/[^"]+\.css)"', login_page.text)
    assert static is not None
    css = await edge_client.get(static.group(1))
    assert css.status_code == 200
    _assert_security_headers(css)


async def test_hsts_only_in_production(settings: Settings) -> None:
    async with app_client(settings, env="production") as (_, client):
        for response in (await client.get("/health/live"), await client.get("/nope")):
            _assert_security_headers(response, production=True)
            assert "max-age=" in response.headers["strict-transport-security"]


@pytest.mark.parametrize(
    "sent", ["abc-123_XYZ.456:7", "0" * 128, "0123456789abcdef0123456789abcdef"]
)
async def test_sane_request_id_is_echoed(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/health/live", headers={"x-request-id": sent})
    assert response.headers["x-request-id"] == sent


@pytest.mark.parametrize(
    "sent", ["x" * 129, "short", "has space inside", "<script>alert(1)</script>", "ünïcödé-id-123"]
)
async def test_insane_request_id_is_replaced(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/nothing-here", headers={"x-request-id": sent.encode()})
    replaced = response.headers["x-request-id"]
    assert replaced != sent
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert response.json()["request_id"] == replaced


async def test_request_id_is_generated_when_missing(client: httpx.AsyncClient) -> None:
    first = await client.get("/health/live")
    second = await client.get("/health/live")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_request_time_limit_answers_503(settings: Settings) -> None:
    async with app_client(settings, build=_add_test_routes, request_timeout=0.05) as (_, client):
        response = await client.get("/api/v1/_test/slow")
        assert response.status_code == 503
        assert response.json()["code"] == "request_timeout"
        _assert_security_headers(response)
        assert (await client.get("/health/live")).status_code == 200


# --- rate limits -------------------------------------------------------------------------


async def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    _assert_security_headers(response)


async def test_per_ip_rate_limit_with_memory_storage(settings: Settings) -> None:
    async with app_client(settings, rate_limit="3/minute") as (app, client):
        codes = [(await client.get("/api/v1/auth/me")).status_code for _ in range(3)]
        assert codes == [401, 401, 401]
        await _assert_limited(await client.get("/api/v1/auth/me"))
        await _assert_limited(await client.get("/login"))
        # health probes are never limited; another client has its own budget
        assert (await client.get("/health/live")).status_code == 200
        async with client_for(app, "10.9.8.7") as other:
            assert (await other.get("/api/v1/auth/me")).status_code == 401


async def test_per_user_rate_limit(settings: Settings, make_user, token_for) -> None:
    async with app_client(settings, user_rate_limit="2/minute") as (_, client):
        alice, bob = await make_user("viewer"), await make_user("viewer")
        alice_auth = {"authorization": f"Bearer {await token_for(alice)}"}
        bob_auth = {"authorization": f"Bearer {await token_for(bob)}"}
        assert (await client.get("/api/v1/auth/me", headers=alice_auth)).status_code == 200
        assert (await client.get("/api/v1/auth/me", headers=alice_auth)).status_code == 200
        await _assert_limited(await client.get("/api/v1/auth/me", headers=alice_auth))
        assert (await client.get("/api/v1/auth/me", headers=bob_auth)).status_code == 200


@pytest.fixture
async def redis_ip() -> AsyncIterator[tuple[str, str]]:
    """Redis from the standard local port and a client IP no other test uses; the keys
    this test made are deleted afterwards."""
    url = services.redis_url()
    ip = f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"
    yield url, ip
    redis = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(match=f"*{ip}*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest.mark.redis
async def test_per_ip_rate_limit_with_redis_is_shared_between_nodes(
    settings: Settings, redis_ip: tuple[str, str]
) -> None:
    url, ip = redis_ip
    async with (
        app_client(settings, client_ip=ip, redis_url=url, rate_limit="3/minute") as (_, node_a),
        app_client(settings, client_ip=ip, redis_url=url, rate_limit="3/minute") as (_, node_b),
    ):
        assert (await node_a.get("/api/v1/auth/me")).status_code == 401
        assert (await node_b.get("/api/v1/auth/me")).status_code == 401
        assert (await node_a.get("/api/v1/auth/me")).status_code == 401
        await _assert_limited(await node_b.get("/api/v1/auth/me"))
        await _assert_limited(await node_a.get("/api/v1/auth/me"))

    redis = Redis.from_url(url)
    try:
        assert [key async for key in redis.scan_iter(match=f"kosh*{ip}*")]
    finally:
        await redis.aclose()


async def test_a_timeout_inside_the_app_is_a_500_not_a_request_timeout(settings: Settings) -> None:
    def build(app: FastAPI) -> None:
        async def client_call_times_out() -> None:
            raise TimeoutError("storefront did not answer")

        app.add_api_route("/api/v1/_test/inner-timeout", client_call_times_out)

    async with app_client(settings, build=build) as (_, client):
        response = await client.get("/api/v1/_test/inner-timeout")
        assert response.status_code == 500
        assert response.json()["code"] == "internal_error"
