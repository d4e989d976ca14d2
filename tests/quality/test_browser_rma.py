"""A returns clerk on a phone (390x844), in a real browser against the real server:
authorise a return against a shipped order, receive it into quarantine, restock it."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.quality import returns as return_ops
from kosh.quality import service as quality_service
from kosh.sales import service as sales_service
from tests.quality.support import a_lot, a_shop
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.sales import a_customer, an_order

pytestmark = pytest.mark.browser


async def test_authorise_receive_and_restock_a_return(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given an order that shipped 3 units
    shop = await a_shop(session)
    await a_lot(session, shop, 3)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[(shop.part_number, 3)],
        confirm=True,
    )
    await sales_service.ship(session, order_id=order_id)
    user = await make_user("operator")
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, user.username, PASSWORD)

    # when 2 are returned
    await page.goto("/quality/returns")
    await page.fill("#rma-order", str(order_id))
    await page.fill("#rma-part", shop.part_number)
    await page.fill("#rma-qty", "2")
    await page.fill("#rma-reason", "Wrong size")
    async with page.expect_navigation():
        await page.click("[data-testid=return-submit]")
    await expect(page.locator("[data-testid=return-number]")).to_contain_text("RMA-000001")
    # received into quarantine
    async with page.expect_navigation():
        await page.click("[data-testid=receive-submit]")
    await expect(page.locator("[data-testid=return-status]")).to_have_text("received")
    await session.rollback()
    [rma], _ = await quality_service.list_returns(session)
    rma_id = rma.id
    [pcn] = (await return_ops.pcns_of(session, rma)).values()
    # and restocked to storage
    await page.fill("#insp-pcn", pcn)
    await page.fill("#insp-qty", "2")
    await page.select_option("#insp-location", str(shop.storage2_id))
    async with page.expect_navigation():
        await page.click("[data-testid=inspect-submit]")
    # then the return is closed and the units are back on sale
    await expect(page.locator("[data-testid=return-status]")).to_have_text("closed")
    await session.rollback()
    assert (await quality_service.get_return_or_raise(session, rma_id)).status == "closed"
    on_hand = await sales_service.on_hand(
        session, part_ids=[shop.part_id], warehouse_id=shop.warehouse_id
    )
    assert on_hand[shop.part_id] == 2
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
