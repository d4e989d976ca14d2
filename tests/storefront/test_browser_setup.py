"""Connecting a shop in a real browser: connect it from the dashboard, test the connection
on its setup page, turn the stock push on, map a SKU, and watch the level arrive."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.sales import service as sales_service
from tests.storefront import fakestore
from tests.storefront.conftest import Shop
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.live_server import SECRET_KEY

pytestmark = pytest.mark.browser


async def test_connect_a_shop_map_a_sku_and_see_the_stock_arrive(
    page: Page,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    make_user: MakeUser,
    worker_settings: Settings,
) -> None:
    # the live server encrypts the store's keys with its own secret key: so must the worker
    settings = worker_settings.model_copy(update={"secret_key": SecretStr(SECRET_KEY)})
    # given a shop that sells Bar3 under its own SKU, nothing in stock there
    fake_store.add_product("WEB-BAR", stock=0)
    admin = await make_user("admin")
    await log_in(page, admin.username, PASSWORD)

    # when the admin connects it from the dashboard
    await page.goto("/storefront")
    await page.get_by_label("Code").fill("WEB")
    await page.get_by_label("Store address").fill(fake_store.url)
    await page.get_by_label("Webhook secret (as entered in WooCommerce)").fill("s3cret-s3cret")
    await page.get_by_label("REST API consumer key").fill(fakestore.CONSUMER_KEY)
    await page.get_by_label("REST API consumer secret").fill(fakestore.CONSUMER_SECRET)
    await page.get_by_role("button", name="Connect store").click()
    await expect(page.get_by_role("link", name="WEB", exact=True)).to_be_visible()

    # and opens its setup page: the webhook URL and topics, a passing connection test
    await page.get_by_role("link", name="WEB", exact=True).click()
    await expect(page.get_by_test_id("webhook-url")).to_contain_text(
        "/api/v1/storefront/woocommerce/WEB/webhook"
    )
    await expect(page.get_by_test_id("topics")).to_contain_text("order.restored")
    await page.get_by_test_id("test-connection").click()
    await expect(page.get_by_test_id("check-ok")).to_have_count(4)

    # and turns the stock push on, then maps the shop's SKU to the part
    await page.get_by_test_id("stock-push").check()
    await page.get_by_test_id("save-store").click()
    await expect(page.get_by_text("Stock push")).to_be_visible()
    await expect(page.locator("dd", has_text="on ·")).to_be_visible()
    await drain(settings)  # the first full push (nothing of the shop is KOSH's yet)
    await page.get_by_role("link", name="SKU map").click()
    await page.get_by_label("SKU (or product:<id> / variation:<id>)").fill("WEB-BAR")
    await page.get_by_label("Part number").fill("Bar3")
    await page.get_by_test_id("map-sku").click()
    await expect(page.get_by_test_id("mapped")).to_contain_text("WEB-BAR")

    # then, once the worker has run, the shop shows KOSH's level for the product
    await drain(settings)
    await session.rollback()
    level = await sales_service.available(
        session, part_ids=[shop.parts["Bar3"]], warehouse_id=shop.warehouse_id
    )
    assert level[shop.parts["Bar3"]] == 100
    assert fake_store.stock_of("WEB-BAR") == 100
