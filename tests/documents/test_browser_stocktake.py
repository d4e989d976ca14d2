"""A stocktake on a phone (390 x 844), in a real browser against the real server: open it for
a zone, count two locations with a scanner (one variance, one unexpected PCN), post, and find
the adjust rows in the PCN's history."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.stock import a_location, a_site, stock_in

pytestmark = pytest.mark.browser


async def scan(page: Page, text: str) -> None:
    """What a barcode scanner does: type the code, press Enter."""
    await page.keyboard.type(text)
    await page.keyboard.press("Enter")


async def test_zone_stocktake_on_a_phone(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given a zone Z- with two bins, and a PCN that sits outside it
    site = await a_site(session, bins=1)
    z1 = await a_location(session, site.warehouse_id, code="Z-01")
    z2 = await a_location(session, site.warehouse_id, code="Z-02")
    short = await stock_in(session, site.part_number, z1.id, 10)
    right = await stock_in(session, site.part_number, z2.id, 5)
    stray = await stock_in(session, site.part_number, site.bin_ids[0], 3)
    manager = await make_user("manager")
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, manager.username, PASSWORD)

    # the manager opens a stocktake for the zone
    await page.goto("/documents")
    await page.fill("#st-zone", "Z-")
    await page.click("text=Open stocktake")
    await page.wait_for_url(re.compile(r"/documents/\d+$"))
    number = (await page.locator("h1").text_content() or "").split()[0]
    assert number.startswith("ST-")
    await page.click("[data-testid=count-link]")

    # Z-01: one PCN counted short, one PCN that is not expected there
    await expect(page.locator("#location")).to_be_focused()
    await scan(page, "Z-01")
    await expect(page.locator("#pcn")).to_be_focused()
    result = page.locator("[data-testid=count-form] [data-result]")
    await scan(page, short.pcn)
    await expect(page.locator("#counted_qty")).to_be_focused()
    await scan(page, "8")
    await expect(result).to_contain_text(f"PCN {short.pcn}: 8 counted")
    await expect(page.locator("#pcn")).to_be_focused()
    await scan(page, stray.pcn)
    await scan(page, "3")
    await expect(result).to_contain_text("not expected here")

    # Z-02: its one PCN is right
    await page.fill("#location", "")
    await page.focus("#location")
    await scan(page, "Z-02")
    await expect(page.locator("#pcn")).to_be_focused()
    await scan(page, right.pcn)
    await scan(page, "5")
    await expect(result).to_contain_text(f"PCN {right.pcn}: 5 counted")

    # the variance shows both differences; the manager posts
    await page.goto(page.url.split("/count")[0])
    totals = page.locator("[data-testid=variance-totals]")
    await expect(totals).to_contain_text("Gained 3")
    await expect(totals).to_contain_text("lost 2")
    await page.click("[data-testid=post]")
    await expect(page.locator("[data-testid=document-status]")).to_have_text("posted")
    await expect(page.locator("[data-testid=movements]")).to_contain_text("adjust")

    # the PCN's history shows the adjust row with the stocktake's number
    await page.goto(f"/pcns/{short.pcn}")
    history = page.locator("main")
    await expect(history).to_contain_text(number)
    await expect(history).to_contain_text("adjust")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1, "the page must not scroll sideways on a phone"
