"""A person in a real browser: log in, see the dashboard and their navigation, log out."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import kosh.app  # noqa: F401 - registers every feature's navigation entries, as the server does
from kosh.auth.models import ROLES, UserSession
from kosh.web.nav import NAV_ITEMS
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


def on_login_page(page: Page, next_path: str) -> bool:
    """The login page, asked to return to `next_path` afterwards (encoded or not)."""
    url = urlsplit(page.url)
    return url.path == "/login" and parse_qs(url.query).get("next") == [next_path]


def expected_nav(role: str) -> list[str]:
    rank = ROLES.index(role)
    return [item.label for item in NAV_ITEMS if rank >= ROLES.index(item.min_role)]


async def test_log_in_see_dashboard_log_out(page: Page, make_user: MakeUser) -> None:
    # given an operator who is not logged in
    user = await make_user("operator")
    await page.goto("/")
    assert on_login_page(page, "/")
    await expect(page.locator("#username")).to_be_focused()

    # when they log in through the form
    await page.fill("#username", user.username)
    await page.fill("#password", PASSWORD)
    await page.get_by_role("button", name="Log in").click()

    # then they see the dashboard with their name and role
    await page.wait_for_url(lambda url: urlsplit(url).path == "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    await expect(page.locator(".lead")).to_contain_text(user.username)
    await expect(page.locator(".who .role")).to_have_text("operator")

    # when they log out
    await page.get_by_test_id("logout").click()

    # then they are back on the login page, told so, and the dashboard is closed to them
    await page.wait_for_url(lambda url: urlsplit(url).path == "/login")
    await expect(page.locator(".flash")).to_have_text("You are logged out.")
    await page.goto("/")
    assert on_login_page(page, "/")
    await expect(page.locator("form[action='/login']")).to_be_visible()


@pytest.mark.parametrize("role", ROLES)
async def test_navigation_shows_what_the_role_may_open(
    page: Page, make_user: MakeUser, role: str
) -> None:
    user = await make_user(role)

    await log_in(page, user.username, PASSWORD)

    links = page.locator("nav[aria-label='Main'] a")
    await expect(links).to_have_text(expected_nav(role))
    if role == "admin":
        await links.get_by_text("Users", exact=True).click()
        await page.wait_for_url("**/admin/users")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Users")
    else:
        await expect(links.get_by_text("Users", exact=True)).to_have_count(0)
        await expect(links.get_by_text("Audit", exact=True)).to_have_count(0)


async def test_wrong_password_stays_on_the_login_page(page: Page, make_user: MakeUser) -> None:
    user = await make_user("viewer")
    await page.goto("/login")
    await page.fill("#username", user.username)
    await page.fill("#password", "not-the-password")
    await page.get_by_role("button", name="Log in").click()

    await expect(page.get_by_test_id("login-error")).to_have_text("Wrong username or password.")
    await expect(page.locator("#username")).to_have_value(user.username)
    await page.goto("/")
    assert on_login_page(page, "/")


async def test_login_returns_to_the_page_asked_for(
    page: Page, make_user: MakeUser, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = await make_user("admin")
    await page.goto("/admin/audit")
    assert on_login_page(page, "/admin/audit")

    await page.fill("#username", admin.username)
    await page.fill("#password", PASSWORD)
    await page.get_by_role("button", name="Log in").click()

    await page.wait_for_url("**/admin/audit")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    async with sessions() as session:
        opened = await session.scalar(
            select(func.count()).select_from(UserSession).where(UserSession.user_id == admin.id)
        )
    assert opened == 1
