"""Playwright (async API) on Debian's chromium, against the live server.

The async API because the suite runs every test in one session-scoped asyncio loop, inside
which Playwright's sync API refuses to run. Browser downloads are impossible here, so the
system chromium is launched by path (KOSH_TEST_CHROMIUM overrides /usr/bin/chromium); when
it is missing the tests skip, or fail with KOSH_TEST_REQUIRE_SERVICES=1 as in CI.

`page` is a fresh browser context (no cookies) on the live server's base URL for each test;
it records console messages and page errors, and fails the test at teardown if the
Content-Security-Policy refused anything.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, async_playwright, expect

from tests.support.live_server import LiveServer
from tests.support.services import REQUIRED

CHROMIUM = Path(os.environ.get("KOSH_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000  # actions and assertions; generous, for a loaded 2-core CI machine
expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class PageLog:
    """What the page said: console messages ("type: text") and uncaught errors."""

    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console if "Content Security Policy" in m]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if REQUIRED:
        pytest.fail(message + " (KOSH_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    _require_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
async def page(
    request: pytest.FixtureRequest,
    browser: Browser,
    live_server: LiveServer,
    page_log: PageLog,
) -> AsyncIterator[Page]:
    if request.node.get_closest_marker("browser") is None:
        pytest.fail(
            "tests using the `page` fixture must be marked @pytest.mark.browser "
            "(the PostgreSQL pass deselects them by that mark)",
            pytrace=False,
        )
    context = await browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    new_page = await context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        page_log.console.append(f"{message.type}: {message.text}")

    def on_error(error: Error) -> None:
        page_log.errors.append(str(error))

    new_page.on("console", on_console)
    new_page.on("pageerror", on_error)
    try:
        yield new_page
    finally:
        await context.close()
    violations = page_log.csp_violations()
    assert not violations, f"Content-Security-Policy violations: {violations}"


async def log_in(page: Page, username: str, password: str) -> None:
    """Log in through the real login page and wait for the dashboard."""
    await page.goto("/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: urlsplit(url).path == "/")
