"""The review queue in a real browser: an order with an unknown SKU is fixed by mapping the
SKU and retrying, and then shows as applied."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.storefront import fakestore
from tests.storefront.conftest import Shop
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


async def test_fix_a_mapping_retry_and_see_the_order_applied(
    page: Page, client: httpx.AsyncClient, shop: Shop, drain: Any, make_user: MakeUser
) -> None:
    # given: a web order whose SKU matches no part waits in review
    payload = fakestore.load("order_727_processing_guest_docs_create_response.json")
    payload["line_items"][1]["sku"] = "BAR-THREE"
    body, headers = fakestore.delivery(payload, topic="order.created")
    assert (await fakestore.send(client, shop.code, body, headers)).status_code == 200
    await drain()
    manager = await make_user("manager")
    await log_in(page, manager.username, PASSWORD)

    # when: the manager opens it from the review queue, maps the SKU and retries
    await page.goto("/storefront/review")
    await expect(page.get_by_test_id("staged")).to_contain_text("BAR-THREE")
    await page.get_by_test_id("staged").get_by_role("link").first.click()
    await expect(page.get_by_test_id("staged-status")).to_have_text("review")
    await page.get_by_label("KOSH part number").fill("Bar3")
    await page.get_by_role("button", name="Map").click()
    await expect(page.get_by_test_id("map-form")).to_contain_text("Mapped.")
    await page.get_by_test_id("retry").click()
    await expect(page.get_by_test_id("staged-status")).to_have_text("pending")

    # then: once the worker has run, the page shows it applied, linked to its sales order
    await drain()
    await page.reload()
    await expect(page.get_by_test_id("staged-status")).to_have_text("applied")
    await page.get_by_test_id("sales-order-link").click()
    await expect(page.get_by_test_id("order-status")).to_have_text("confirmed")
    await expect(page.get_by_test_id("lines")).to_contain_text("Bar3")
