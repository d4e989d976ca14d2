"""A planner on a 390x844 phone: import a BOM, activate it, plan a job from the BOM page
(the job form found the BOM by its assembly and revision), kit the job in one tap, and be
warned before picking more than a line needs (on the job page and on the pick page)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.stock import service as stock_service
from kosh.stock.models import StockTransaction
from tests.support.browser import PageLog, log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.stock import a_location, a_part, a_warehouse

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


async def test_import_activate_plan_and_kit_all(
    page: Page, page_log: PageLog, make_user: MakeUser, session: AsyncSession, tmp_path: Path
) -> None:
    # given an assembly, two parts in stock and a two-line BOM file
    warehouse = await a_warehouse(session, "MAIN")
    warehouse_id = warehouse.id
    shelf = await a_location(session, warehouse_id, code="A-01")
    await a_part(session, "KIT-ASM", description="Kit test assembly")
    await a_part(session, "KIT-R1", description="Resistor")
    await a_part(session, "KIT-C1", description="Capacitor")
    await stock_service.receive(session, part_number="KIT-R1", qty=100, location_id=shelf.id)
    await stock_service.receive(session, part_number="KIT-C1", qty=40, location_id=shelf.id)
    bom_file = tmp_path / "kit.csv"
    bom_file.write_text("Part Number,Qty,Description\nKIT-R1,4,Resistor\nKIT-C1,2,Capacitor\n")
    operator = await make_user("operator")
    await page.set_viewport_size(PHONE)
    await log_in(page, operator.username, PASSWORD)

    # when the BOM is imported: it is a draft, and the page says to activate it first
    await page.goto("/boms/import")
    await page.set_input_files("#file", str(bom_file))
    await page.fill("#assembly_part_number", "KIT-ASM")
    await page.fill("#revision", "A")
    await page.click("[data-testid=check-bom]")
    await expect(page.locator("[data-testid=commit-bom]")).to_be_enabled()
    await page.click("[data-testid=commit-bom]")
    await page.wait_for_url("**/boms/*")
    await expect(page.locator("[data-testid=bom-status]")).to_have_text("draft")
    await expect(page.locator("[data-testid=plan-job]")).to_be_visible()

    # and activated, then a job is planned from the BOM page
    await page.click("[data-testid=activate-bom]")
    await expect(page.locator("[data-testid=bom-status]")).to_have_text("active")
    await page.click("[data-testid=plan-job]")
    await page.wait_for_url("**/jobs?bom=*")
    await expect(page.locator("#assembly_part_number")).to_have_value("KIT-ASM")
    await expect(page.locator("#bom_revision")).to_have_value("A")
    await page.fill("#number", "J-KIT-1")
    await page.fill("#qty", "10")
    await page.select_option("#warehouse_id", str(warehouse_id))
    await page.click("[data-testid=create-job]")
    await page.wait_for_url("**/jobs/*")
    await expect(page.locator("[data-testid=job-status]")).to_have_text("planned")

    # then picking 50 resistors where the job needs 40 is a warning saying 10 over
    line = page.locator("[data-testid=kit-line-1]")
    await line.locator("input[name=qty]").fill("50")
    await line.locator("button[type=submit]").click()
    await expect(line.locator("[data-offer-detail]")).to_contain_text("10 more than it needs")
    await expect(line.locator("[data-testid=allow-over-kit-1]")).to_be_focused()
    assert await _picked(session, "J-KIT-1") == 0

    # when the job is kitted in one tap instead
    await page.click("[data-testid=kit-all]")

    # then every line is kitted from stock onto the floor, nothing short
    await expect(page.locator("[data-testid=kit-all]")).to_have_count(0)
    rows = page.locator("table.job-lines tbody tr")
    await expect(rows).to_have_count(2)
    for part, required in (("KIT-R1", "40"), ("KIT-C1", "20")):
        row = page.locator(f"tr[data-part={part}]")
        await expect(row.locator("td").nth(2)).to_have_text(required)
        await expect(row.locator("td").nth(3)).to_have_text(required)
    assert await _picked(session, "J-KIT-1") == 60

    # when one more resistor is picked for the job on the pick page
    await page.goto("/stock/pick")
    await page.fill("#part_number", "KIT-R1")
    await page.fill("#qty", "1")
    await page.fill("#reference", "J-KIT-1")
    await page.select_option("#warehouse_id", str(warehouse_id))
    await page.click("form[data-api] button[type=submit]")

    # then it is a warning first, and picked once confirmed
    offer = page.locator("[data-offer-on=over_kit]")
    await expect(offer).to_contain_text("1 more than it needs")
    assert await _picked(session, "J-KIT-1") == 60
    await page.check("[data-testid=allow-over-kit]")
    await page.click("form[data-api] button[type=submit]")
    await expect(offer).to_be_hidden()
    assert await _picked(session, "J-KIT-1") == 61
    assert not page_log.errors


async def _picked(session: AsyncSession, reference: str) -> int:
    await session.rollback()  # read what the app committed
    total = await session.scalar(
        select(func.coalesce(func.sum(StockTransaction.qty), 0)).where(
            StockTransaction.reference == reference, StockTransaction.kind == "pick"
        )
    )
    return int(total or 0)
