"""The API explorer works with no internet: a real browser, every request outside the live
server refused, renders the operations of the OpenAPI under the strict CSP; once rendered
(the site-wide gate may look at it before Swagger UI has drawn), it has no axe violations at
either size."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, Route, expect

from tests.support.browser import PageLog
from tests.support.live_server import LiveServer
from tests.web.test_browser_accessibility import AXE_TAGS, RUN_AXE, SETTLED, SIZES, _axe_source

pytestmark = pytest.mark.browser


async def test_docs_render_operations_offline_without_csp_violations(
    page: Page, page_log: PageLog, live_server: LiveServer
) -> None:
    # given a browser that can reach the KOSH server and nothing else
    local = urlsplit(live_server.url).netloc
    outside: list[str] = []

    async def offline(route: Route) -> None:
        if urlsplit(route.request.url).netloc == local:
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort("internetdisconnected")

    await page.context.route("**/*", offline)

    # when it opens the API explorer
    await page.goto("/api/docs")

    # then Swagger UI renders the API's operations from /api/openapi.json
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("KOSH")
    operations = page.locator(".opblock")
    await expect(operations.first).to_be_visible()
    assert await operations.count() > 20
    await expect(
        page.locator(".opblock-summary-path", has_text="/api/v1/parts").first
    ).to_be_visible()

    # and an operation opens to show its parameters and responses
    # the summary holds a link to its own #anchor: the body shown, awaited below, counts
    await operations.first.locator(".opblock-summary").click(no_wait_after=True)
    await expect(page.locator(".opblock-body").first).to_be_visible()
    await page.wait_for_load_state("networkidle")

    assert outside == []
    assert page_log.errors == []
    assert [m for m in page_log.console if m.startswith("error")] == []
    # (the `page` fixture fails the test on any Content-Security-Policy violation)


async def test_the_rendered_explorer_has_no_axe_violations(
    page: Page, live_server: LiveServer
) -> None:
    axe = _axe_source()
    # given the explorer drawn, with an operation open
    await page.goto("/api/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("KOSH")
    await page.locator(".opblock .opblock-summary").first.click(no_wait_after=True)
    await expect(page.locator(".opblock-body").first).to_be_visible()
    await page.evaluate(axe)
    found = []
    # when axe looks at it at both sizes
    for size, (width, height) in SIZES.items():
        await page.set_viewport_size({"width": width, "height": height})
        await page.evaluate(SETTLED)
        found += [f"{size}: {v}" for v in await page.evaluate(RUN_AXE, AXE_TAGS)]
    # then
    assert not found, "\n".join(found)
