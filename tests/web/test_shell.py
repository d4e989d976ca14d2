"""The shell's header as rendered: the user named once, the clerk actions for those who may
move stock, the menu button wired to the menu it controls."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx

from kosh.auth.models import User
from tests.support.fixtures import LoggedIn, MakeUser

HTML = {"accept": "text/html"}
Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]


def header(html: str) -> str:
    return html.split("<header", 1)[1].split("</header>", 1)[0]


def text_of(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


async def test_an_admin_named_admin_is_named_once(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login
) -> None:
    # given the first account, named after its role
    await login(client, await make_user("admin", username="admin"))

    # when a page is shown
    response = await client.get("/", headers=HTML)

    # then the header names the user once, without repeating the role
    who = header(response.text).split('class="who"', 1)[1].split("</div>", 1)[0]
    assert text_of("<p" + who).split("Log out")[0].split().count("admin") == 1


async def test_other_users_show_their_display_name_and_role(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login
) -> None:
    await login(client, await make_user("manager", username="kim"))

    response = await client.get("/", headers=HTML)

    who = header(response.text).split('class="who"', 1)[1].split("</div>", 1)[0]
    assert text_of("<p" + who).startswith("kim manager")


async def test_clerk_actions_show_for_operators_not_viewers(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login
) -> None:
    # given an operator
    await login(client, await make_user("operator"))
    operator = header((await client.get("/", headers=HTML)).text)

    # then the phone row has the four actions and the menu button controls the menu
    quick = operator.split('aria-label="Clerk actions"', 1)[1]
    assert re.findall(r'href="([^"]+)"', quick) == [
        "/stock/receive",
        "/stock/pick",
        "/stock/restock",
        "/stock/transfer",
    ]
    assert 'aria-controls="site-menu"' in operator
    assert 'id="site-menu"' in operator


async def test_viewers_get_no_clerk_actions(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login
) -> None:
    await login(client, await make_user("viewer"))

    page = header((await client.get("/", headers=HTML)).text)

    assert 'aria-label="Clerk actions"' not in page
    assert 'aria-label="Main"' in page
