"""A clerk on a 390x844 phone and at a 1366x850 desk: a draft order's lines are changed and
removed on the order page, and confirming an order that stock cannot cover names the short
part and offers the backorder there (no cancelling and starting again)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.browser import PageLog, log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.sales import a_customer, an_order, order_state
from tests.support.stock import a_part, a_site, stock_in

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", [(390, 844), (1366, 850)], ids=["phone", "desktop"])
async def test_edit_a_draft_then_confirm_short_with_a_backorder(
    page: Page,
    page_log: PageLog,
    make_user: MakeUser,
    session: AsyncSession,
    size: tuple[int, int],
) -> None:
    # given a draft of 3 + 1 units while only 5 of the first part are in stock
    site = await a_site(session)
    other = await a_part(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    await session.commit()
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 3), (other.number, 1)],
    )
    await session.commit()
    clerk = await make_user("operator")
    await page.set_viewport_size({"width": size[0], "height": size[1]})
    await log_in(page, clerk.username, PASSWORD)
    await page.goto(f"/sales-orders/{order_id}")

    # when the first line becomes 8 units and the second line goes
    edit = page.locator("[data-testid=edit-line-1]")
    await edit.locator("input[name=qty]").fill("8")
    async with page.expect_navigation():  # the page reloads with the changed order
        await edit.locator("button[type=submit]").click()
    await expect(page.locator("[data-testid=edit-line-1] input[name=qty]")).to_have_value("8")
    async with page.expect_navigation():
        await page.locator("[data-testid=remove-line-2]").click()
    await expect(page.locator("[data-testid=remove-line-2]")).to_have_count(0)

    # and the order is confirmed: 8 wanted, 5 there
    await page.locator("[data-testid=confirm]").click()

    # then the refusal names the part and how short it is, and offers the backorder
    offer = page.locator("[data-testid=backorder-offer]")
    await expect(offer).to_be_visible()
    await expect(page.locator("#confirm-order [data-result]")).to_contain_text(site.part_number)
    await expect(page.locator("#confirm-order [data-result]")).to_contain_text("5 available")
    await page.locator("[data-testid=confirm-backorder]").click()
    await expect(page.locator("[data-testid=order-status]")).to_have_text("confirmed")

    # and the order holds what there was, the rest open
    state = await order_state(session, order_id)
    assert [(line.qty, line.qty_reserved) for line in state.lines] == [(8, 5)]
    assert page_log.errors == []
