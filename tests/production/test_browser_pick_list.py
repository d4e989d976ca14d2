"""A clerk on a 390x844 phone kits a job from its pick list with a scanner: each line names
the PCN and bin, the scanner types the label and Enter, the result is announced at the
top, the focus goes to the next line's scan field, a wrong label is refused naming the
right one, and the last line says the job is kitted."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.production import picklist
from tests.production.test_browser_bom_to_kit import _picked
from tests.production.test_jobs import a_job, a_plant
from tests.support.browser import PageLog, log_in
from tests.support.fixtures import PASSWORD, MakeUser

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


async def in_viewport(page: Page, selector: str) -> bool:
    box = await page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]


async def test_scan_two_lines_of_a_pick_list_on_a_phone(
    page: Page, page_log: PageLog, make_user: MakeUser, session: AsyncSession
) -> None:
    # given a job for 5 (10 resistors, 5 capacitors) with both parts in stock
    plant = await a_plant(session, res_stock=100, cap_stock=100)
    job_id = await a_job(session, plant, "J-SCAN-1", 5)
    lines = (await picklist.pick_list(session, job_id=job_id)).lines
    res_pcn, cap_pcn = (line.suggestions[0].pcn for line in lines)
    await session.commit()
    operator = await make_user("operator")
    await page.set_viewport_size(PHONE)
    await log_in(page, operator.username, PASSWORD)

    # when the clerk opens the pick list from the job page
    await page.goto(f"/jobs/{job_id}")
    await page.click("[data-testid=pick-list]")
    await page.wait_for_url(f"**/jobs/{job_id}/pick-list")
    first = page.locator("[data-testid=pick-line-1]")
    second = page.locator("[data-testid=pick-line-2]")
    await expect(first.locator("tbody[data-suggestions]")).to_contain_text(res_pcn)
    await expect(first.locator("tbody[data-suggestions]")).to_contain_text("BIN-1")

    # and scans the first line's label (the scanner types it and Enter)
    await first.locator("input[name=scanned]").click()
    await page.keyboard.type(res_pcn.lower())
    await page.keyboard.press("Enter")

    # then the pick is announced, in view, and the next line's scan field has the focus
    result = first.locator("[data-result]")
    await expect(result).to_have_text(
        f"Line 1: picked 10 of RES-10K from PCN {res_pcn} (BIN-1). Line done."
    )
    assert await result.get_attribute("aria-live") == "polite"
    await expect(second.locator("input[name=scanned]")).to_be_focused()
    assert await in_viewport(page, "[data-testid=pick-line-1] [data-result]")
    assert await in_viewport(page, "[data-testid=pick-line-2] input[name=scanned]")
    await expect(first.locator("[data-outstanding]")).to_have_text("0")
    assert await _picked(session, "J-SCAN-1") == 10

    # when the resistor label is scanned again on the capacitor line
    await page.keyboard.type(res_pcn)
    await page.keyboard.press("Enter")

    # then it is refused naming the capacitor PCN, nothing picked, ready for the next scan
    await expect(second.locator("[data-result]")).to_contain_text(
        f"scan PCN {cap_pcn} from BIN-2 for line 2"
    )
    await expect(second.locator("input[name=scanned]")).to_be_focused()
    assert await _picked(session, "J-SCAN-1") == 10

    # when the right label is scanned
    await page.keyboard.type(cap_pcn)
    await page.keyboard.press("Enter")

    # then the second line is picked and the list says the job is kitted
    await expect(second.locator("[data-result]")).to_contain_text("picked 5 of CAP-100N")
    await expect(page.locator("[data-all-done]")).to_be_visible()
    await expect(page.locator("[data-all-done]")).to_be_focused()
    assert await _picked(session, "J-SCAN-1") == 15
    assert not page_log.errors
