"""The accessibility gate: axe-core over every page of the app, at a phone's 390x844 and a
desktop's 1366x850, with real data behind the pages; zero violations. On the phone the site
header (bar, menu, clerk actions) takes at most 15 % of the screen on every page.

axe-core comes from the npm registry (tests/web/axe/package.json, installed by .ci/run with
`npm ci`). It is evaluated through Playwright's `page.evaluate`, which the DevTools protocol
runs outside the page's Content-Security-Policy: the app's CSP is not weakened, and the
`page` fixture still fails on any CSP violation of the app's own code.

The pages are the app's GET page routes, read from the router (`tests/web/site.py`): a page a
feature adds is checked as soon as it is registered. Routes with ids are opened at a URL
found among the links of the pages already opened; any left without one are reported.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.app import FEATURE_ROUTERS
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.services import REQUIRED
from tests.web.site import LINKS, Crawl, load_demo_data, page_routes, seed_site

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"phone": (390, 844), "desktop": (1366, 850)}
HEADER_SHARE = 0.15
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
# Pages reached without data of their own, that every run must open (a floor against a gate
# that silently checks less): the routes with ids the seeded site has records for.
MUST_REACH = (
    "/parts/{part_id}",
    "/locations/{location_id}",
    "/pcns/{pcn}",
    "/pcns/{pcn}/label",
    "/sales-orders/{order_id}",
    "/purchase-orders/{order_id}",
    "/suppliers/{supplier_id}",
    "/boms/{bom_id}",
    "/jobs/{job_id}",
    "/documents/{document_id}",
    "/admin/users/{user_id}",
    "/boms/compare",
    "/documents/{document_id}/count",
    "/purchase-orders/{order_id}/receive",
    "/jobs/{job_id}/pick-list",
)

RUN_AXE = """async (tags) => {
    const result = await axe.run(document, {
        runOnly: { type: "tag", values: tags }, resultTypes: ["violations"],
    });
    return result.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ") + " :: " + n.failureSummary),
    }));
}"""
# Two frames after a resize: layout done and ResizeObserver callbacks (shell.js) delivered.
SETTLED = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
HEADER_HEIGHT = """() => {
    const header = document.querySelector("body > header");
    return header ? header.getBoundingClientRect().height : 0;
}"""


def _axe_source() -> str:
    if not AXE.exists():
        message = f"{AXE} is missing (npm ci --prefix tests/web/axe)"
        if REQUIRED:
            pytest.fail(message + " (KOSH_TEST_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(message)
    return AXE.read_text()


async def _check(page: Page, axe: str, url: str, report: dict[str, Any]) -> None:
    for size, (width, height) in SIZES.items():
        await page.set_viewport_size({"width": width, "height": height})
        await page.evaluate(SETTLED)
        if not await page.evaluate("() => typeof axe !== 'undefined'"):
            await page.evaluate(axe)
        violations = await page.evaluate(RUN_AXE, AXE_TAGS)
        report["checked"] += 1
        for violation in violations:
            report["violations"].append(f"{url} @ {size}: {violation}")
        if size == "phone":
            header = await page.evaluate(HEADER_HEIGHT)
            if header > HEADER_SHARE * height:
                report["header"].append(f"{url}: header {header:.0f} px of {height}")


async def test_every_page_has_no_axe_violations_at_both_sizes(
    page: Page,
    make_user: MakeUser,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    # given the demo site, a record of every other feature and an admin (who sees every page)
    axe = _axe_source()
    load_demo_data(database_url, tmp_path)
    async with sessions() as session:
        await seed_site(session)
    admin = await make_user("admin")
    routes = page_routes(FEATURE_ROUTERS)
    report: dict[str, Any] = {"checked": 0, "violations": [], "header": [], "status": []}
    report["opened"] = []
    started = time.monotonic()

    # when every page is opened at both sizes: the login page logged out, then the rest
    await page.goto("/login")
    await _check(page, axe, "/login", report)
    await log_in(page, admin.username, PASSWORD)
    crawl = Crawl([r for r in routes if r.path != "/login"])
    while crawl.queue:
        url = crawl.queue.popleft()
        response = await page.goto(url)
        assert response is not None, url
        if response.status != 200:
            report["status"].append(f"{url}: {response.status}")
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        report["opened"].append(url)
        crawl.offer(await page.evaluate(LINKS))
        await _check(page, axe, url, report)
    # and the error page, which every feature's missing record shows
    await page.goto("/parts/999999999")
    await _check(page, axe, "/parts/999999999 (404)", report)

    # then nothing is wrong anywhere, and the gate reached every page it knows records for
    seconds = time.monotonic() - started
    sys.stderr.write(  # the figures (shown with pytest -s)
        f"\naxe-core gate: {len(report['opened']) + 2} pages x {len(SIZES)} sizes = "
        f"{report['checked']} checks in {seconds:.0f} s; routes without a URL: {crawl.missing()}\n"
    )
    assert not report["status"], report["status"]
    assert not report["violations"], "\n".join(report["violations"])
    assert not report["header"], "\n".join(report["header"])
    unreached = [path for path in MUST_REACH if path in crawl.missing()]
    assert not unreached, f"no link led to: {unreached}"
