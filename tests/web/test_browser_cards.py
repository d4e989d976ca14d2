"""Wide lists turn into cards on a phone: at 390x844 no list page scrolls sideways; on a
desktop the same lists stay tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.web.site import load_demo_data, seed_site

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 850}
WIDE_LISTS = ["/jobs", "/warehouses", "/admin/audit", "/sales-orders", "/parts"]
OVERFLOW = "[document.scrollingElement.scrollWidth, window.innerWidth]"
# a list in a scrolling box also makes people scroll sideways: the widest such box
INNER_OVERFLOW = """() => Math.max(0, ...[...document.querySelectorAll("main table.cards")].map(
    (table) => table.scrollWidth - table.parentElement.clientWidth))"""
CARD = """() => {
    const row = document.querySelector("table.cards tbody tr");
    const cell = row && row.querySelector("td[data-label]");
    if (!cell) return null;
    return {
        row: getComputedStyle(row).display,
        label: getComputedStyle(cell, "::before").content,
        text: cell.dataset.label,
    };
}"""


async def test_wide_lists_become_cards_on_a_phone_and_stay_tables_on_a_desktop(
    page: Page,
    make_user: MakeUser,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    tmp_path: Path,
) -> None:
    # given the demo site with a record of every feature and an admin who sees every list
    load_demo_data(database_url, tmp_path)
    async with sessions() as session:
        await seed_site(session)
    admin = await make_user("admin")
    await log_in(page, admin.username, PASSWORD)

    # when each wide list is opened on a phone
    await page.set_viewport_size(PHONE)
    for url in WIDE_LISTS:
        response = await page.goto(url)
        assert response is not None, url
        assert response.status == 200, url
        # then neither the page nor the list scrolls sideways, each row a card of label: value
        scroll_width, inner_width = await page.evaluate(OVERFLOW)
        assert scroll_width <= inner_width, f"{url}: {scroll_width} > {inner_width}"
        assert await page.evaluate(INNER_OVERFLOW) == 0, url
        card = await page.evaluate(CARD)
        assert card is not None, f"{url}: no card rows"
        assert card["row"] == "block", url
        assert card["label"] == f'"{card["text"]}"', url

    # and on a desktop the same lists are tables again
    await page.set_viewport_size(DESKTOP)
    for url in WIDE_LISTS:
        await page.goto(url)
        card = await page.evaluate(CARD)
        assert card is not None, url
        assert card["row"] == "table-row", url
