"""The strict Content-Security-Policy holds in a real browser: the pages of the shell load
their scripts and styles without a single refusal or error in the console."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Page, expect

from tests.support.browser import PageLog, log_in
from tests.support.fixtures import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


async def test_the_detector_sees_a_violation(page: Page, page_log: PageLog) -> None:
    """An inline script injected into a page is refused and reported, so the checks below
    would notice one that a template brought in."""
    await page.goto("/login")

    await page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.body.append(script);
        }"""
    )

    for _ in range(50):
        if page_log.csp_violations():
            break
        await asyncio.sleep(0.05)
    assert page_log.csp_violations() != []
    assert await page.evaluate("() => window.inlineRan === undefined")
    page_log.console.clear()  # seen; the `page` fixture must not fail the test for it


async def test_shell_pages_load_without_console_errors(
    page: Page, page_log: PageLog, make_user: MakeUser
) -> None:
    admin = await make_user("admin")
    other = await make_user("viewer")
    await page.goto("/login")
    await log_in(page, admin.username, PASSWORD)

    for path, heading in [
        ("/", "Dashboard"),
        ("/admin/users", "Users"),
        (f"/admin/users/{other.id}", other.username),
        ("/admin/audit", "Audit trail"),
        ("/account", "Your account"),
    ]:
        await page.goto(path)
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        await page.wait_for_load_state("networkidle")

    problems = [m for m in page_log.console if m.startswith(("error", "warning"))]
    assert problems == []
    assert page_log.errors == []

    # the error page too (its own 404 is the one message the console may show)
    response = await page.goto("/no-such-page")
    assert response is not None
    assert response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_contain_text("404")
    await page.wait_for_load_state("networkidle")
    problems = [m for m in page_log.console if m.startswith(("error", "warning"))]
    assert all("status of 404" in m for m in problems), problems
    assert page_log.csp_violations() == []
