"""The returns desk in a real browser, on a phone and a desktop: an RMA a web store refund
proposed is listed beside the refunded lines, opened and confirmed; both pages pass
axe-core at both sizes."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.quality import web_returns
from kosh.sales import orders as order_ops
from kosh.sales import refunds as refund_ops
from kosh.sales import service as sales_service
from tests.quality.support import a_lot, a_shop
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.sales import a_customer, an_order
from tests.web.test_browser_accessibility import AXE_TAGS, RUN_AXE, SIZES, _axe_source

pytestmark = pytest.mark.browser


async def _axe_clean(page: Page, axe: str) -> list[str]:
    found = []
    for size, (width, height) in SIZES.items():
        await page.set_viewport_size({"width": width, "height": height})
        if not await page.evaluate("() => typeof axe !== 'undefined'"):
            await page.evaluate(axe)
        found += [f"{size}: {v}" for v in await page.evaluate(RUN_AXE, AXE_TAGS)]
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
    return found


async def test_the_desk_confirms_a_proposed_return(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given a web store refund of 2 shipped units, which proposed an RMA
    axe = _axe_source()
    shop = await a_shop(session)
    await a_lot(session, shop, 2)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[(shop.part_number, 2)],
        confirm=True,
    )
    await sales_service.ship(session, order_id=order_id)
    order = await order_ops.load_order(session, order_id)
    rows = await refund_ops.record(session, order, refunded=(), modified_at=None)
    await web_returns.propose_for_refunds(session, [r.id for r in rows])
    await session.commit()
    user = await make_user("operator")
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, user.username, PASSWORD)

    # when the desk opens the returns page
    await page.goto("/quality/returns")
    desk = page.locator("[data-testid=returns-desk]")
    await expect(desk).to_contain_text("RMA-000001")
    await expect(page.locator("[data-testid=refunded-lines]")).to_contain_text("whole order")
    assert await _axe_clean(page, axe) == []
    # and opens the proposed RMA and confirms it
    await page.set_viewport_size({"width": 390, "height": 844})
    async with page.expect_navigation():
        await desk.get_by_role("link", name="RMA-000001").click()
    await expect(page.locator("[data-testid=return-status]")).to_have_text("proposed")
    assert await _axe_clean(page, axe) == []
    async with page.expect_navigation():
        await page.click("[data-testid=confirm-submit]")
    # then it is authorised, ready to receive
    await expect(page.locator("[data-testid=return-status]")).to_have_text("authorised")
    await expect(page.locator("[data-testid=receive-form]")).to_be_visible()
