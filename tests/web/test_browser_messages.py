"""The message catalogue in a real browser: every API form of every page is filled with bad
values and submitted twice, once to the browser's own checks and once straight to the
server (`noValidate`); whatever the page then shows (and any bubble text the browser would
show) is plain language: no regex, no pydantic or Chromium wording. An expired session on a
form offers a login that comes back to the form.

The pages are those of the accessibility gate (`tests/web/site.py`): every page route, with
the demo site and a record of each feature behind it.
"""

from __future__ import annotations

import contextlib
import re
import sys
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Dialog, Page, expect
from playwright.async_api import TimeoutError as PlaywrightTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.app import FEATURE_ROUTERS
from kosh.core.messages import CATALOGUE
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.stock import a_site
from tests.web.site import LINKS, Crawl, load_demo_data, page_routes, seed_site

pytestmark = pytest.mark.browser

RAW = re.compile(
    r"Input should|String should|should match|Field required|Value error|Please match|"
    r"Please fill|Please enter|Please select|Please include|requested format|"
    r"\^\[|\[A-Za-z|\[0-9\]|_parsing|pydantic|Traceback"
)
MIN_FORMS = 15  # a floor: the walk must keep reaching the forms it reaches today

# Fills every visible field of form number `index` with a value it refuses; says how many.
FILL_BAD = """([index]) => {
    const form = document.querySelectorAll("form[data-api]")[index];
    const SKIP = ["checkbox", "radio", "file", "date", "datetime-local", "time", "submit"];
    let filled = 0;
    for (const el of form.elements) {
        if (!(el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement)) continue;
        if (el.type === "hidden" || el.disabled || el.readOnly) continue;
        if (el.getClientRects().length === 0 || SKIP.includes(el.type)) continue;
        const numeric =
            el.type === "number" || el.dataset.type === "int" || el.inputMode === "numeric";
        if (el.type === "number") el.value = "-5";
        else if (numeric) el.value = "abc";
        else if (el.pattern) el.value = "-bad value!";
        else if (el.type === "email") el.value = "not-an-email";
        else el.value = "bad\\u0007value";
        el.dispatchEvent(new Event("input", { bubbles: true }));
        filled += 1;
    }
    return filled;
}"""
SUBMIT = """([index, validate]) => {
    const form = document.querySelectorAll("form[data-api]")[index];
    form.noValidate = !validate;
    form.requestSubmit();
}"""
# What a person would read: the page, plus the bubble of any refused field that has no
# place of its own for errors.
SHOWN = """([index]) => {
    const form = document.querySelectorAll("form[data-api]")[index];
    const slot = (el) => form.querySelector(
        `[data-error-for="${CSS.escape(el.name || el.dataset.locationFor || "")}"]`);
    const bubbles = form ? [...form.elements]
        .filter((el) => el.willValidate && !el.validity.valid && !slot(el))
        .map((el) => el.validationMessage) : [];
    return [document.body.innerText, ...bubbles].join("\\n");
}"""


async def _walk_form(page: Page, url: str, index: int, findings: list[str]) -> bool:
    await page.goto(url)
    forms = page.locator("form[data-api]")
    if await forms.count() <= index:
        return False
    api = await forms.nth(index).get_attribute("data-api") or ""
    if not await page.evaluate(FILL_BAD, [index]):
        return False
    # the browser's own checks
    await page.evaluate(SUBMIT, [index, True])
    shown = await page.evaluate(SHOWN, [index])
    # the server's answer
    with contextlib.suppress(PlaywrightTimeout):
        async with page.expect_response(
            lambda r: r.request.method != "GET" and urlsplit(r.url).path == api.split("?")[0],
            timeout=5_000,
        ):
            await page.evaluate(SUBMIT, [index, False])
        await page.wait_for_timeout(150)
    with contextlib.suppress(Exception):  # a form that went elsewhere has nothing to show
        shown += "\n" + await page.evaluate(SHOWN, [index])
    for match in RAW.finditer(shown):
        line = next(ln for ln in shown.splitlines() if match.group(0) in ln)
        findings.append(f"{url} form {index} ({api}): {line.strip()[:200]}")
    return True


async def test_every_api_form_answers_bad_values_in_plain_language(
    page: Page,
    make_user: MakeUser,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: object,
) -> None:
    # given the demo site with a record of every feature, and an admin
    load_demo_data(database_url, tmp_path)  # type: ignore[arg-type]
    async with sessions() as session:
        await seed_site(session)
    admin = await make_user("admin")
    page.on("dialog", lambda dialog: _dismiss(dialog))
    await log_in(page, admin.username, PASSWORD)

    # when every API form of every page is submitted with bad values
    crawl = Crawl([r for r in page_routes(FEATURE_ROUTERS) if r.path != "/login"])
    findings: list[str] = []
    walked = 0
    while crawl.queue:
        url = crawl.queue.popleft()
        response = await page.goto(url)
        if response is None or not response.headers.get("content-type", "").startswith("text/html"):
            continue
        crawl.offer(await page.evaluate(LINKS))
        for index in range(await page.locator("form[data-api]").count()):
            walked += await _walk_form(page, url, index, findings)
    sys.stderr.write(f"\nmessage walk: {walked} forms\n")

    # then nothing raw reached the page, on any of them
    assert not findings, "\n".join(findings)
    assert walked >= MIN_FORMS, walked


def _dismiss(dialog: Dialog) -> None:
    import asyncio

    asyncio.ensure_future(dialog.dismiss())  # noqa: RUF006 - Playwright holds the task


async def test_an_expired_session_offers_a_login_that_comes_back_to_the_form(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given a clerk on the pick form whose session then ends (logged out elsewhere)
    site = await a_site(session)
    user = await make_user("operator")
    await log_in(page, user.username, PASSWORD)
    await page.goto("/stock/pick")
    await page.context.clear_cookies()

    # when the form is submitted
    await page.fill("#part_number", site.part_number)
    await page.fill("#qty", "5")
    await page.fill("#reference", "J-7")
    await page.locator("form[data-movement]").evaluate("f => f.requestSubmit()")

    # then it says nothing was saved and offers a login that returns to the form
    result = page.locator("form[data-movement] [data-result]")
    await expect(result).to_contain_text(CATALOGUE["session_expired"])
    login = page.locator("[data-testid=login-again]")
    await expect(login).to_have_attribute("href", "/login?next=%2Fstock%2Fpick")
    await login.click()
    await page.fill("#username", user.username)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: urlsplit(url).path == "/stock/pick")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Pick")
