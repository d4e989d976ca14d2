"""Failed logins are throttled per account and per client IP (429 with Retry-After), even
for the right password while the throttle holds."""

from __future__ import annotations

import re

import httpx

from kosh.core.config import Settings
from tests.support.fixtures import PASSWORD
from tests.support.platform import app_client, client_for


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


def _assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert "kosh_session" not in response.headers.get("set-cookie", "")


async def test_a_guesser_on_one_address_does_not_lock_the_owner_out_elsewhere(
    settings: Settings, make_user
) -> None:
    user = await make_user("viewer")
    async with app_client(settings, login_rate_limit="3/minute") as (app, client):
        for _ in range(3):
            assert (await _login(client, user.username, "wrong-password")).status_code == 401

        # the guesser's address is throttled for this account, even with the right password
        throttled = await _login(client, user.username, PASSWORD)
        _assert_throttled(throttled)
        assert throttled.json()["code"] == "rate_limited"
        # the owner on another address still gets in
        async with client_for(app, "10.20.30.40") as elsewhere:
            assert (await _login(elsewhere, user.username.upper(), PASSWORD)).status_code == 200


async def test_the_slower_per_account_limit_counts_every_address(
    settings: Settings, make_user
) -> None:
    user = await make_user("viewer")
    limits = {"login_rate_limit": "3/minute", "login_account_rate_limit": "4/minute"}
    async with app_client(settings, **limits) as (app, _):
        # a spray from four addresses, one guess each: no address reaches its own limit
        for n in range(4):
            async with client_for(app, f"10.0.0.{n + 1}") as guesser:
                response = await _login(guesser, user.username, "wrong-password")
                assert response.status_code == 401
        # but the account's own limit is used up: refused from any address for a while
        async with client_for(app, "10.9.9.9") as owner:
            _assert_throttled(await _login(owner, user.username, PASSWORD))
            # other accounts are not affected
            other = await make_user("viewer")
            assert (await _login(owner, other.username, PASSWORD)).status_code == 200


async def test_address_is_throttled_after_failed_logins_for_many_accounts(
    settings: Settings, make_user
) -> None:
    user = await make_user("viewer")
    async with app_client(settings, login_rate_limit="3/minute") as (app, client):
        for name in ("alpha", "bravo", "charlie"):
            assert (await _login(client, name, "wrong-password")).status_code == 401
        _assert_throttled(await _login(client, user.username, PASSWORD))
        async with client_for(app, "10.20.30.41") as elsewhere:
            assert (await _login(elsewhere, user.username, PASSWORD)).status_code == 200


async def test_successful_logins_are_not_counted(settings: Settings, make_user) -> None:
    user = await make_user("viewer")
    async with app_client(settings, login_rate_limit="2/minute") as (_, client):
        for _ in range(4):
            assert (await _login(client, user.username, PASSWORD)).status_code == 200


async def test_login_page_is_throttled_too(settings: Settings, make_user) -> None:
    user = await make_user("viewer")
    async with app_client(settings, login_rate_limit="2/minute") as (_, client):
        for password in ("wrong-one-1", "wrong-one-2", PASSWORD):
            page = await client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            response = await client.post(
                "/login",
                data={
                    "username": user.username,
                    "password": password,
                    "csrf_token": token.group(1),
                },
            )
        _assert_throttled(response)
        assert response.headers["content-type"].startswith("text/html")
        assert "Too many requests" in response.text
