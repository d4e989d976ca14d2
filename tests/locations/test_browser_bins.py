"""A manager makes a range of bins on a phone (preview, then create) and prints their
labels; the QR code on the label sheet, as the browser draws it, decodes to the bin code."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.locations.models import Location
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.stock import a_location, a_warehouse

pytestmark = pytest.mark.browser


async def test_a_range_of_bins_is_previewed_created_and_labelled_on_a_phone(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given a warehouse where A-02-02 exists already
    main = await a_warehouse(session, "MAIN")
    await a_location(session, main, code="A-02-02")
    user = await make_user("manager")
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, user.username, PASSWORD)

    # when A..B x racks 1..2 x levels 1..2 is previewed
    await page.goto("/locations/bins")
    await page.fill("#aisle_from", "a")
    await page.fill("#aisle_to", "b")
    await page.fill("#rack_to", "2")
    await page.fill("#level_to", "2")
    await page.get_by_role("button", name="Preview").click()

    # then the preview counts 8 and names the existing bin; nothing can be created
    await expect(page.locator("[data-testid=bin-preview] h2")).to_have_text(
        "8 bins, A-01-01 … B-02-02"
    )
    await expect(page.locator("[data-testid=bin-taken]")).to_contain_text("A-02-02")
    await expect(page.locator("[data-testid=bin-create-form]")).to_have_count(0)

    # when the range starts at level 3 instead, and is created
    await page.fill("#level_from", "3")
    await page.fill("#level_to", "4")
    await page.get_by_role("button", name="Preview").click()
    await page.get_by_role("button", name="Create 8 bins").click()
    await expect(page.locator("[data-testid=bin-create-form] [data-result]")).to_contain_text(
        "Bins created."
    )
    await session.rollback()
    made = list(
        await session.scalars(
            select(Location.code).where(Location.code.like("_-0_-0_")).order_by(Location.code)
        )
    )
    assert made == [
        "A-01-03", "A-01-04", "A-02-02", "A-02-03", "A-02-04",
        "B-01-03", "B-01-04", "B-02-03", "B-02-04",
    ]  # fmt: skip

    # and their labels print: one per bin, and the QR code the browser draws decodes
    await page.get_by_role("link", name="Labels for this range").click()
    labels = page.locator("[data-testid=bin-label]")
    await expect(labels).to_have_count(9)  # the range in code order holds A-02-02 too
    await expect(labels.first.locator(".bin-code")).to_have_text("A-01-03")
    shot = await labels.first.locator("svg.bin-qr").screenshot()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert [d.text for d in decoded] == ["A-01-03"]
