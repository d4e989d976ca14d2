"""A manager releases two jobs from their pages (the release schedules them), sees the load
chart, gets the over-capacity refusal for a third and confirms it as a manager, in a real
browser against the real server."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.shopfloor import capacity
from tests.shopfloor.support import a_floor, booked_minutes, load_rows
from tests.shopfloor.test_release_capacity import a_planned_job, status_of
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


async def test_manager_releases_two_jobs_and_gets_409_for_a_third(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    floor = await a_floor(session)
    today = capacity.today()
    jobs = [await a_planned_job(session, floor, 400, due=today) for _ in range(3)]  # SMT 430
    user = await make_user("manager")
    await log_in(page, user.username, PASSWORD)

    for job_id in jobs[:2]:
        await page.goto(f"/jobs/{job_id}")
        await page.click("[data-testid=release-job]")
        await expect(page.locator("[data-result]").first).to_contain_text("Released")
        await page.wait_for_timeout(1000)  # the page reloads itself after a release
    await page.goto(f"/shopfloor/load?work_centre={floor.smt}")
    await expect(page.locator("[data-testid=load-chart]")).to_be_visible()
    await expect(page.locator("tbody")).to_contain_text("14.33")  # 860 of 960 minutes today

    await page.goto(f"/jobs/{jobs[2]}")
    await page.click("[data-testid=release-job]")
    await expect(page.locator("[data-result]").first).to_contain_text(f"Work centre {floor.smt}")
    assert await status_of(session, jobs[2]) == "planned"
    assert await booked_minutes(session) == 2 * (430 + 200)

    await page.check("#release-over-capacity")
    await page.click("[data-testid=release-job]")
    await expect(page.locator("[data-result]").first).to_contain_text("Released")
    assert await status_of(session, jobs[2]) == "released"
    rows = await load_rows(session)
    assert rows[(floor.smt_id, today)] == (960, 1290)
