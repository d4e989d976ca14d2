"""Prometheus /metrics: from loopback by default, otherwise with an admin or metrics token."""

from __future__ import annotations

import re

import httpx
import pytest

from kosh import __version__
from kosh.core.config import Settings
from tests.support.platform import app_client


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample, labels matched exactly (order-independent)."""
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
        if found == labels:
            return float(match.group(2))
    return 0.0


async def test_metrics_from_loopback(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    before = _sample(
        (await client.get("/metrics")).text,
        "kosh_http_requests_total",
        method="GET",
        route="/api/v1/users/{user_id}",
        status="404",
    )
    for _ in range(2):
        assert (await client.get("/api/v1/users/424242", headers=admin_headers)).status_code == 404
    await client.get("/no/such/page/abc123")

    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    after = _sample(
        text,
        "kosh_http_requests_total",
        method="GET",
        route="/api/v1/users/{user_id}",
        status="404",
    )
    assert after == before + 2
    assert "/api/v1/users/424242" not in text  # route templates, not raw paths
    assert "abc123" not in text
    assert 'route="unmatched"' in text
    assert re.search(
        r'kosh_http_request_duration_seconds_bucket\{[^}]*route="/api/v1/users/\{user_id\}"', text
    )
    assert "kosh_http_requests_in_flight" in text
    assert f'kosh_build_info{{version="{__version__}"}} 1.0' in text
    assert re.search(r'kosh_db_pool_connections\{state="checkedout"\}', text)


@pytest.fixture
async def remote(settings: Settings):  # type: ignore[no-untyped-def]
    async with app_client(settings, client_ip="203.0.113.9") as (_, client):
        yield client


async def test_metrics_from_elsewhere_need_credentials(
    remote: httpx.AsyncClient, make_user, token_for, login
) -> None:
    assert (await remote.get("/metrics")).status_code == 401

    viewer = await make_user("viewer")
    read_token = {"authorization": f"Bearer {await token_for(viewer, ['read'])}"}
    assert (await remote.get("/metrics", headers=read_token)).status_code == 403

    admin = await make_user("admin")
    read_only_admin = {"authorization": f"Bearer {await token_for(admin, ['read'])}"}
    assert (await remote.get("/metrics", headers=read_only_admin)).status_code == 403

    for scopes, user in ((["admin"], admin), (["metrics"], viewer)):
        headers = {"authorization": f"Bearer {await token_for(user, scopes)}"}
        response = await remote.get("/metrics", headers=headers)
        assert response.status_code == 200, (scopes, response.text)
        assert "kosh_http_requests_total" in response.text

    await login(remote, admin)
    assert (await remote.get("/metrics")).status_code == 200


async def test_metrics_allow_list_is_configurable(settings: Settings) -> None:
    async with app_client(settings, client_ip="10.1.2.3", metrics_allow=["10.0.0.0/8"]) as (_, c):
        assert (await c.get("/metrics")).status_code == 200
    async with app_client(settings, client_ip="127.0.0.1", metrics_allow=[]) as (_, c):
        assert (await c.get("/metrics")).status_code == 401


async def test_admin_scope_of_a_demoted_admin_no_longer_opens_metrics(
    remote: httpx.AsyncClient, make_user, token_for, session
) -> None:
    from kosh.auth.models import User

    former = await make_user("admin")
    await make_user("admin")  # so the first may be demoted
    headers = {"authorization": f"Bearer {await token_for(former, ['admin'])}"}
    assert (await remote.get("/metrics", headers=headers)).status_code == 200
    user = await session.get(User, former.id)
    user.role = "manager"
    await session.commit()
    assert (await remote.get("/metrics", headers=headers)).status_code == 403
