"""Opening stock through the page, in a real browser: a file large enough to run in the
background is checked (progress, report), then received; the receipt's page shows its
12,000 lines a page at a time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.bom import files
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.stock import a_site

pytestmark = pytest.mark.browser
ROWS = 12_000  # about 400 KB of CSV: above KOSH_OPENING_IMPORT_INLINE_BYTES


async def test_a_large_opening_stock_file_through_the_page(
    page: Page, make_user: MakeUser, session: AsyncSession, tmp_path: Path
) -> None:
    # given a site and a file of 12,000 reels in its first bin
    site = await a_site(session, bins=1)
    rows = [["Part Number", "Location", "Qty", "PCN", "Supplier"]] + [
        [site.part_number, "BIN-1", 1 + n % 50, f"OPEN-BROWSER-{n:06d}", "Found in the attic"]
        for n in range(ROWS)
    ]
    path = files.csv_file(tmp_path / "opening.csv", rows)
    assert path.stat().st_size > 262_144
    manager = await make_user("manager")
    await log_in(page, manager.username, PASSWORD)

    # the manager checks the file: it runs in the background, the report shows
    await page.goto("/documents")
    await page.click("[data-testid=opening-import-link]")
    await page.set_input_files("#file", str(path))
    await page.select_option("#warehouse_id", str(site.warehouse_id))
    await page.click("[data-testid=check-opening]")
    result = page.locator("[data-opening-import] [data-result]")
    await expect(result).to_contain_text("Checked: no problems", timeout=60_000)
    await expect(page.locator("[data-summary]")).to_contain_text("12,000 rows")
    await expect(page.locator("[data-by-part]")).to_contain_text(site.part_number)

    # then receives it, and lands on the posted receipt
    await page.click("[data-testid=commit-opening]")
    await page.wait_for_url(re.compile(r"/documents/\d+$"), timeout=90_000)
    await expect(page.locator("[data-testid=document-status]")).to_have_text("posted")
    await expect(page.locator("h2").first).to_contain_text("12,000")
    await expect(page.locator("[data-testid=lines-pager]")).to_contain_text("Next 100")
