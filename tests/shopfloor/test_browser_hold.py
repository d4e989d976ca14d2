"""A planner puts a booked job on hold from its hold page and schedules the suggested
job into the freed slot with one click, in a real browser against the real server."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.production import service as job_service
from tests.shopfloor.support import (
    a_floor,
    a_released_job,
    booked_minutes,
    future_day,
    operation_ids,
)
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


async def test_held_job_suggestion_reschedules_a_job(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    floor = await a_floor(session)
    day = future_day(2)
    held = await a_released_job(
        session, floor, 500, capacity_request=job_service.CapacityRequest(start=day)
    )
    waiting = await a_released_job(session, floor, 200, due=day)
    user = await make_user("operator")
    await log_in(page, user.username, PASSWORD)

    await page.goto(f"/shopfloor/jobs/{held}/hold")
    await page.fill("#reason", "customer paused the order")
    await page.click("[data-testid=hold]")
    suggestions = page.locator("[data-testid=suggestions]")
    await expect(suggestions).to_be_visible()
    take = page.locator("[data-testid^=take-]")
    await expect(take).to_have_count(1)
    await take.click()
    await expect(page.locator("[data-result]").first).to_contain_text("Scheduled into the slot")

    smt_op, test_op = await operation_ids(session, waiting)
    assert await booked_minutes(session, smt_op) == 230
    assert await booked_minutes(session, test_op) == 100
    held_smt, _ = await operation_ids(session, held)
    assert await booked_minutes(session, held_smt) == 0
