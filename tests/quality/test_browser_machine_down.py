"""A maintenance technician on a phone (390x844), in a real browser against the real
server: scan a machine label and raise a corrective ticket with "machine down"; the
shop-floor load view shows the work centre's capacity drop (table and chart); resolving
the ticket brings the capacity back."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.quality.support import a_shop
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


async def _today_capacity(page: Page, work_centre: str) -> tuple[str, str]:
    """Today's capacity hours in the load table, and what today's chart bar says (the
    chart scales to its tallest bar, so its height alone would not show the drop)."""
    await page.goto(f"/shopfloor/load?work_centre={work_centre}")
    hours = await page.locator("table.list tbody tr").first.locator("td").nth(1).inner_text()
    bar = page.locator("[data-testid=load-chart] g title").first
    return hours.strip(), await bar.text_content() or ""


async def test_machine_down_lowers_the_load_view_until_resolved(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given a press work centre with two machines, 8 h a day each
    shop = await a_shop(session)
    user = await make_user("operator")
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, user.username, PASSWORD)
    hours_before, bar_before = await _today_capacity(page, shop.work_centre)
    assert hours_before == "16.0"

    # when the machine label is scanned and a corrective ticket raised with machine down
    await page.goto("/quality/raise")
    await expect(page.locator("#code")).to_be_focused()
    await page.keyboard.type(shop.machine)
    await page.keyboard.press("Enter")
    await page.select_option("#kind", "maintenance")
    await page.fill("#title", "Hydraulic leak")
    await page.check("#machine_down")
    await page.click("[data-testid=raise-submit]")
    await expect(page.locator("[data-testid=ticket-number]")).to_contain_text("MNT-000001")
    await expect(page.locator(".machine-down")).to_be_visible()
    ticket_url = page.url
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390

    # then the load view shows half the capacity, in the table and on the chart
    hours_down, bar_down = await _today_capacity(page, shop.work_centre)
    assert hours_down == "8.0"
    assert bar_before.endswith(" of 16.0 h")
    assert bar_down.endswith(" of 8.0 h")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390

    # when the ticket is resolved
    await page.goto(ticket_url)
    await page.select_option("#to", "resolved")
    async with page.expect_navigation():
        await page.click("[data-testid=transition-submit]")
    await expect(page.locator("[data-testid=ticket-status]")).to_have_text("resolved")

    # then the capacity is back
    hours_after, bar_after = await _today_capacity(page, shop.work_centre)
    assert hours_after == "16.0"
    assert bar_after == bar_before
