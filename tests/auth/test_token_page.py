"""The API token page: a person's own tokens, everyone's for an admin, made and revoked
through the JSON API it calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from playwright.async_api import Page, expect

from kosh.auth.models import User
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, LoggedIn, MakeUser

HTML = {"accept": "text/html"}
Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]


async def test_people_see_their_own_tokens_and_admins_everyones(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    login: Login,
    token_for: Callable[..., Awaitable[str]],
) -> None:
    # given a token of an operator and one of an admin
    operator = await make_user("operator", username="olga")
    admin = await make_user("admin", username="ada")
    await token_for(operator, ["read"])
    await token_for(admin, ["read", "admin"])

    # when each opens the token page
    await login(client, operator)
    own = await client.get("/account/tokens", headers=HTML)
    await login(client, admin)
    everyone = await client.get("/account/tokens", headers=HTML)

    # then the operator sees one token and no admin scope to choose; the admin sees both,
    # with whose they are
    assert own.status_code == 200
    assert own.text.count("data-token=") == 1
    assert 'value="admin"' not in own.text
    assert everyone.text.count("data-token=") == 2
    assert "<td>olga</td>" in everyone.text
    assert 'value="admin"' in everyone.text


@pytest.mark.browser
async def test_a_token_is_made_shown_once_and_revoked(page: Page, make_user: MakeUser) -> None:
    # given an operator on the token page
    user = await make_user("operator")
    await log_in(page, user.username, PASSWORD)
    await page.goto("/account/tokens")

    # when a token is made with read and write
    await page.fill("#token-name", "label printer")
    await page.check("input[name=scopes][value=write]")
    await page.click("[data-testid=create-token]")

    # then its secret is shown, and after "Done" it is listed (without the secret)
    secret = page.locator("[data-testid=token-secret]")
    await expect(secret).not_to_be_empty()
    shown = await secret.text_content() or ""
    await page.get_by_role("link", name="Done").click()
    row = page.locator("[data-testid=token-table] tbody tr").first
    await expect(row).to_contain_text("label printer")
    await expect(row).to_contain_text("read, write")
    assert shown not in await page.content()

    # when it is revoked, then the row says so
    await row.get_by_role("button", name="Revoke label printer").click()
    await expect(page.locator("[data-testid=token-table] tbody tr").first).to_contain_text(
        "revoked"
    )
