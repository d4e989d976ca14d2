"""`make screenshots`: every page of the app at 390x844 and 1366x850, with the demo site and a
record of each feature behind it, as PNG files for reviewers (KOSH_SCREENSHOTS names the
folder; `screenshots/` is git-ignored). Without KOSH_SCREENSHOTS this test does nothing.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.app import FEATURE_ROUTERS
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.web.site import LINKS, Crawl, load_demo_data, page_routes, seed_site

pytestmark = pytest.mark.browser
SIZES = {"phone": (390, 844), "desktop": (1366, 850)}


def _file_name(route: str) -> str:
    name = re.sub(r"[{}]", "", route).strip("/").replace("/", "-") or "dashboard"
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


async def _shoot(page: Page, folder: Path, route: str, url: str) -> int:
    taken = 0
    for size, (width, height) in SIZES.items():
        await page.set_viewport_size({"width": width, "height": height})
        await page.goto(url)
        try:
            await page.screenshot(
                path=folder / f"{_file_name(route)}.{size}.png", full_page=True, timeout=30_000
            )
        except PlaywrightTimeout:  # a very long page: its first screens are enough
            await page.screenshot(path=folder / f"{_file_name(route)}.{size}.png", timeout=30_000)
            sys.stderr.write(f"{url} @ {size}: too long for a full-page shot, first screen only\n")
        taken += 1
    return taken


@pytest.fixture
def folder() -> Path:
    target = os.environ.get("KOSH_SCREENSHOTS")
    if not target:
        pytest.skip("set KOSH_SCREENSHOTS to a folder (make screenshots)")
    path = Path(target).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


async def test_screenshots_of_every_page(
    folder: Path,
    page: Page,
    make_user: MakeUser,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    # given the demo site with a record of every feature, and an admin
    load_demo_data(database_url, tmp_path)
    async with sessions() as session:
        await seed_site(session)
    admin = await make_user("admin")

    # when every page is opened at both sizes
    taken = await _shoot(page, folder, "/login", "/login")
    await log_in(page, admin.username, PASSWORD)
    crawl = Crawl([r for r in page_routes(FEATURE_ROUTERS) if r.path != "/login"])
    routes = {url: path for path, url in crawl.found.items()}
    while crawl.queue:
        url = crawl.queue.popleft()
        response = await page.goto(url)
        if response is None or not response.headers.get("content-type", "").startswith("text/html"):
            continue
        crawl.offer(await page.evaluate(LINKS))
        routes.update({u: p for p, u in crawl.found.items() if u not in routes})
        taken += await _shoot(page, folder, routes[url], url)

    # then the folder holds them all
    sys.stderr.write(f"\n{taken} screenshots in {folder}\n")
    assert taken >= 2 * len(SIZES)
