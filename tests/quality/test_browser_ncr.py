"""What a quality inspector does on a phone (390x844), in a real browser against the real
server: scan a PCN to raise an NCR, quarantine part of it, disposition it as scrap, attach
a photo."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.stock import service as stock_service
from tests.quality.support import a_lot, a_shop
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.stock import balances, ledger

pytestmark = pytest.mark.browser


async def test_scan_a_pcn_raise_an_ncr_quarantine_part_and_scrap(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given 10 units of a PCN in storage and a quarantine location
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 10)
    lot_id = (await stock_service.get_lot_by_pcn_or_raise(session, pcn)).id
    user = await make_user("operator")
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, user.username, PASSWORD)

    # when the PCN label is scanned and an NCR raised
    await page.goto("/quality/raise")
    await expect(page.locator("#code")).to_be_focused()
    await page.keyboard.type(pcn)
    await page.keyboard.press("Enter")  # the scanner's Enter moves on to the title
    await expect(page.locator("#title")).to_be_focused()
    await page.keyboard.type("Bent leads")
    await page.click("[data-testid=raise-submit]")
    # then the ticket opens
    await expect(page.locator("[data-testid=ticket-number]")).to_contain_text("NCR-000001")

    # when 4 units are quarantined
    await page.fill("#contain-pcn", pcn)
    await page.fill("#contain-qty", "4")
    async with page.expect_navigation():  # the page reloads once the API has answered
        await page.click("[data-testid=contain-submit]")
    # and 3 of them are scrapped
    await page.select_option("#disp-action", "scrap")
    await page.fill("#disp-pcn", pcn)
    await page.fill("#disp-qty", "3")
    # (the page reloads once the API has answered: a photo sent meanwhile would race it)
    async with page.expect_navigation():
        await page.click("[data-testid=disposition-submit]")
        await expect(page.locator("[data-testid=disposition-form] [data-result]")).to_contain_text(
            "Done"
        )

    # and a photo from the phone camera is attached
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    await page.set_input_files(
        "#photo", files=[{"name": "leads.png", "mimeType": "image/png", "buffer": png}]
    )
    async with page.expect_navigation():
        await page.click("[data-testid=photo-form] button[type=submit]")
    await expect(page.locator("a[href^='/api/v1/attachments/']")).to_contain_text("leads.png")

    # then the stock moved as asked, with the ticket as reference
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    await session.rollback()
    assert await balances(session, lot_id) == {shop.storage_id: 6, shop.quarantine_id: 1}
    kinds = [(e.kind, e.reference) for e in await ledger(session, lot_id)]
    assert kinds[-2:] == [("transfer", "NCR-000001"), ("scrap", "NCR-000001")]
