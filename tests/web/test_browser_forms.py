"""forms.js in a real browser: no double submit, retry after a network failure with the same
Idempotency-Key, field errors placed next to their field."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, Request, Route, expect
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.auth.models import User, UserSession
from tests.support.browser import PageLog, log_in
from tests.support.fixtures import PASSWORD, MakeUser

pytestmark = pytest.mark.browser
NEW_PASSWORD = "a-long-enough-password"
MAX_HOLD = 5.0


class HeldRoute:
    """Holds every matching request until `release()`, counting them, so a test can act
    while a submission is in flight."""

    def __init__(self, method: str) -> None:
        self.method = method
        self.requests: list[Request] = []
        self.first = asyncio.Event()
        self.released = asyncio.Event()

    async def __call__(self, route: Route) -> None:
        if route.request.method != self.method:
            await route.continue_()
            return
        self.requests.append(route.request)
        self.first.set()
        # bounded, so a test that never releases cannot hang the run
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.released.wait(), timeout=MAX_HOLD)
        await route.continue_()

    async def wait_for_first(self) -> None:
        await asyncio.wait_for(self.first.wait(), timeout=10)

    def release(self) -> None:
        self.released.set()


async def count_users(sessions: async_sessionmaker[AsyncSession], username: str) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count()).select_from(User).where(User.username == username)
        )
    return int(found or 0)


async def test_guarded_form_submitted_twice_quickly_submits_once(
    page: Page,
    page_log: PageLog,
    make_user: MakeUser,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given the login form (a data-guard form), its request held in flight by the test
    user = await make_user("operator")
    await page.goto("/login")
    await page.fill("#username", user.username)
    await page.fill("#password", PASSWORD)
    held = HeldRoute("POST")
    await page.route("**/login", held)

    # when it is submitted, and submitted again 150 ms later while the first is in flight
    # (scheduled inside the page and reported through the console: Playwright calls would
    # wait for the held navigation to finish)
    await page.locator("form[action='/login']").evaluate(
        """form => {
            form.requestSubmit();
            window.setTimeout(() => {
                form.requestSubmit();
                const button = form.querySelector("button[type=submit]");
                const state = `disabled=${button.disabled} label=${button.textContent}`;
                console.log(`second-submit ${state}`);
            }, 150);
        }"""
    )
    await held.wait_for_first()
    await asyncio.sleep(0.5)
    held.release()

    # then one request reached the server and one session was opened
    await page.wait_for_url(lambda url: urlsplit(url).path == "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    assert "log: second-submit disabled=true label=Logging in…" in page_log.console
    assert len(held.requests) == 1
    async with sessions() as session:
        opened = await session.scalar(
            select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id)
        )
    assert opened == 1


async def test_api_form_submitted_twice_quickly_sends_one_request(
    page: Page, make_user: MakeUser, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # given an admin on the users page, the "new user" form's request held in flight
    admin = await make_user("admin")
    await log_in(page, admin.username, PASSWORD)
    await page.goto("/admin/users")
    form = page.locator("form[data-api='/api/v1/users']")
    await form.locator("#username").fill("newcomer")
    await form.locator("#password").fill(NEW_PASSWORD)
    await form.locator("#role").select_option("viewer")
    held = HeldRoute("POST")
    await page.route("**/api/v1/users", held)
    await form.get_by_role("button", name="Create user").click()
    await held.wait_for_first()

    # when the form is submitted again while busy
    await expect(form.get_by_role("button", name="Creating…")).to_be_disabled()
    await form.evaluate("f => f.requestSubmit()")
    await asyncio.sleep(0.2)
    held.release()

    # then exactly one request was sent and one user created
    await expect(form.locator("[data-result]")).to_have_text("User created.")
    assert len(held.requests) == 1
    assert await count_users(sessions, "newcomer") == 1


async def test_network_failure_shows_error_and_retry_resends_the_same_key(
    page: Page, make_user: MakeUser, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # given the first answer is lost on the way back (the server did create the user)
    admin = await make_user("admin")
    await log_in(page, admin.username, PASSWORD)
    await page.goto("/admin/users")
    keys: list[str | None] = []
    answers: list[tuple[int, str | None]] = []

    async def lose_first_answer(route: Route) -> None:
        keys.append(await route.request.header_value("idempotency-key"))
        response = await route.fetch()
        answers.append((response.status, response.headers.get("idempotent-replayed")))
        if len(keys) == 1:
            await route.abort("connectionreset")
        else:
            await route.fulfill(response=response)

    await page.route("**/api/v1/users", lose_first_answer)
    form = page.locator("form[data-api='/api/v1/users']")
    await form.locator("#username").fill("retried")
    await form.locator("#password").fill(NEW_PASSWORD)

    # when the person submits, sees the failure and presses Retry
    await form.get_by_role("button", name="Create user").click()
    result = form.locator("[data-result]")
    await expect(result).to_contain_text("Network problem")
    await expect(result).to_have_class("result error")
    await expect(form.get_by_role("button", name="Create user")).to_be_enabled()
    await result.get_by_role("button", name="Retry").click()

    # then the retry carried the same key, got the stored first answer, and one user exists
    await expect(result).to_have_text("User created.")
    assert len(keys) == 2
    assert keys[0] is not None
    assert keys[0] == keys[1]
    assert answers == [(201, None), (201, "true")]
    assert await count_users(sessions, "retried") == 1


async def test_field_errors_appear_next_to_the_field(
    page: Page, make_user: MakeUser, sessions: async_sessionmaker[AsyncSession]
) -> None:
    admin = await make_user("admin")
    await log_in(page, admin.username, PASSWORD)
    await page.goto("/admin/users")
    form = page.locator("form[data-api='/api/v1/users']")
    username = form.locator("#username")
    await username.fill("Not Valid!")
    await form.locator("#password").fill(NEW_PASSWORD)

    await form.get_by_role("button", name="Create user").click()

    slot = form.locator("[data-error-for='username']")
    await expect(slot).to_have_text("2-64 of a-z, 0-9, '.', '_', '-'")
    await expect(username).to_have_attribute("aria-invalid", "true")
    assert await username.evaluate("el => el.nextElementSibling.dataset.errorFor") == "username"
    await expect(form.locator("[data-error-for='password']")).to_have_text("")
    await expect(form.locator("[data-result]")).to_have_text("Invalid username.")
    assert await count_users(sessions, "not valid!") == 0

    # and correcting the field clears the message on the next submission
    await username.fill("valid.name")
    await form.get_by_role("button", name="Create user").click()
    await expect(form.locator("[data-result]")).to_have_text("User created.")
    await expect(slot).to_have_text("")
    assert await count_users(sessions, "valid.name") == 1
