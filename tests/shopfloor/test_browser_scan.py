"""What an operator does on a phone-sized scanner (390x844), in a real browser against the
real server: scan badge and operation barcode (Enter moves on, then submits), start, then
finish with good and scrapped units; a second finish from the same page is refused."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.shopfloor import service as shopfloor_service
from kosh.shopfloor import timelogs
from tests.shopfloor.support import a_floor, a_released_job, operation_ids
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


async def test_operator_scans_badge_and_traveller_at_phone_size(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 12)
    smt_op, _ = await operation_ids(session, job_id)
    await shopfloor_service.create_employee(
        session, number="E-9", name="Op", department_code=floor.department, badge="77001"
    )
    user = await make_user("operator")
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, user.username, PASSWORD)

    await page.goto("/shopfloor/scan")
    await expect(page.locator("#badge")).to_be_focused()
    await page.keyboard.type("77001")
    await page.keyboard.press("Enter")
    await expect(page.locator("#operation")).to_be_focused()
    await page.keyboard.type(f"OP-{smt_op}")
    await page.keyboard.press("Enter")  # the form is complete: Enter submits (start)
    result = page.locator("[data-result]")
    await expect(result).to_contain_text(f"Started OP-{smt_op}")

    await page.select_option("#action", "finish")
    await page.fill("#good_qty", "11")
    await page.fill("#scrap_qty", "1")
    await page.click("[data-testid=scan-submit]")
    await expect(result).to_contain_text(f"Finished OP-{smt_op}")

    await page.click("[data-testid=scan-submit]")
    await expect(result).to_contain_text("is not running")  # 409 not_running, shown in place

    # nothing is wider than the phone
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    await session.rollback()
    actual = (await timelogs.actuals(session, [smt_op]))[smt_op]
    assert (actual.good_qty, actual.scrap_qty, actual.open_intervals) == (11, 1, 0)
