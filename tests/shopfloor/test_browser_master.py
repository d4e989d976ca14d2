"""A manager on a phone defines a work centre with its weekday hours and a routing with
two operations through the master-data pages (nested fields gathered by
shopfloor-master.js), in a real browser against the real server."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.shopfloor import service as shopfloor_service
from kosh.shopfloor.models import Routing, RoutingOperation, ShiftCalendar
from tests.production.test_jobs import a_plant
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser

pytestmark = pytest.mark.browser


async def test_manager_defines_work_centre_and_routing_on_a_phone(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    plant = await a_plant(session)
    await shopfloor_service.create_department(session, code="ASM", name="Assembly")
    user = await make_user("manager")
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, user.username, PASSWORD)

    await page.goto("/shopfloor/work-centres")
    await page.fill("#wc-code", "HAND-1")
    await page.fill("#wc-name", "Hand soldering")
    await page.fill("#wc-hours-sat", "4")
    await page.click("[data-testid=create-work-centre]")
    await expect(page.locator("a[href='/shopfloor/work-centres/HAND-1']")).to_be_visible()

    await page.goto("/shopfloor/routings")
    await page.fill("#r-part", plant.assembly)
    await page.fill("#op0-seq", "10")
    await page.select_option("#op0-wc", "HAND-1")
    await page.fill("#op0-name", "Solder")
    await page.fill("#op0-setup", "15")
    await page.fill("#op0-run", "2.5")
    await page.fill("#op1-seq", "20")
    await page.select_option("#op1-wc", "HAND-1")
    await page.fill("#op1-run", "1")
    await page.click("[data-testid=create-routing]")
    await expect(page.locator("table.list a", has_text="A")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390

    await session.rollback()
    calendar = await session.scalar(select(ShiftCalendar).where(ShiftCalendar.code == "HAND-1"))
    assert calendar is not None
    assert (calendar.mon_minutes, calendar.sat_minutes, calendar.sun_minutes) == (480, 240, 0)
    routing = await session.scalar(select(Routing))
    assert routing is not None
    ops = list(
        await session.scalars(
            select(RoutingOperation)
            .where(RoutingOperation.routing_id == routing.id)
            .order_by(RoutingOperation.seq)
        )
    )
    assert [(o.seq, o.setup_minutes, str(o.run_minutes_per_unit)) for o in ops] == [
        (10, 15, "2.500"),
        (20, 0, "1.000"),
    ]
