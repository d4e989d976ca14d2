"""A planner in a real browser: upload a real KiCad BOM, fix the part-number column, watch the
progress bar, import, activate, plan and release a job (confirming the over-planning warning
as a manager), see the shortage alerts and acknowledge one."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts.models import Alert
from kosh.bom.models import Bom
from tests.support.browser import PageLog, log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.stock import a_part, a_warehouse

pytestmark = pytest.mark.browser


async def test_bom_upload_to_acknowledged_shortage(
    page: Page, page_log: PageLog, make_user: MakeUser, session: AsyncSession, data_dir: Path
) -> None:
    # given a manager, a warehouse and the assembly part
    warehouse = await a_warehouse(session, "MAIN")
    warehouse_id = warehouse.id
    await a_part(session, "GLASGOW-C3", description="Glasgow revC3")
    manager = await make_user("manager")
    await log_in(page, manager.username, PASSWORD)

    # when the KiCad BOM is checked
    await page.goto("/boms/import")
    await page.set_input_files("#file", str(data_dir / "bom" / "glasgow_revC3_kicad_bom.csv"))
    await page.fill("#assembly_part_number", "GLASGOW-C3")
    await page.fill("#revision", "C3")
    await page.check("input[name=create_missing_parts]")
    await page.click("[data-testid=check-bom]")

    # then the progress bar reports the rows, and the row without an MPN is marked
    progress = page.locator("[data-progress-text]")
    await expect(page.locator("[data-testid=import-progress]")).to_be_visible()
    await expect(progress).to_have_text("Done: 57 of 57 rows")
    await expect(page.locator("tr[data-row='27']")).to_have_class("row-error")
    await expect(page.locator("[data-testid=map-part_number]")).to_have_value("G")
    await expect(page.locator("[data-testid=commit-bom]")).to_be_disabled()

    # when the part number is taken from the 1b2-bom-key column instead and checked again
    await page.select_option("[data-testid=map-part_number]", "F")
    await page.click("[data-testid=check-bom]")
    await expect(page.locator("form[data-bom-import] [data-result]")).to_contain_text(
        "53 lines, 57 warning(s), no errors"  # 4 DNP rows + 53 new parts
    )

    # and imported
    await page.click("[data-testid=commit-bom]")
    await page.wait_for_url("**/boms/*")
    await expect(page.locator("[data-testid=bom-status]")).to_have_text("draft")
    await expect(page.locator("table.bom-lines tbody tr")).to_have_count(53)
    await page.click("[data-testid=activate-bom]")
    await expect(page.locator("[data-testid=bom-status]")).to_have_text("active")

    # when a job is planned and released with no stock at all
    await page.goto("/jobs")
    await page.fill("#number", "J-GL-1")
    await page.fill("#assembly_part_number", "GLASGOW-C3")
    await page.fill("#qty", "5")
    await page.select_option("#warehouse_id", str(warehouse_id))
    await page.click("[data-testid=create-job]")
    await page.wait_for_url("**/jobs/*")
    await expect(page.locator("[data-testid=job-status]")).to_have_text("planned")
    await page.click("[data-testid=release-job]")

    # then KOSH warns with the shortage list and a manager can confirm
    await expect(page.locator("[data-over-planning]")).to_be_visible()
    await expect(page.locator("[data-shortage-rows] tr")).to_have_count(53)
    await page.click("[data-testid=confirm-release]")
    await expect(page.locator("[data-testid=job-status]")).to_have_text("released")

    # and the shortages are alerts, which the manager acknowledges
    await page.goto("/alerts?status=open&kind=job_shortage")
    cards = page.locator("[data-testid=alert-job_shortage]")
    await expect(cards).to_have_count(53)
    first = cards.first
    await first.locator("details.alert-more > summary").click()  # a row opens to acknowledge
    await first.locator("[data-testid=ack-note]").fill("Ordered from Mouser, PO 4711")
    await first.locator("select[name=action]").select_option("reorder")
    await first.locator("[data-testid=ack-button]").click()
    await expect(page.locator("[data-testid=alert-job_shortage]")).to_have_count(52)

    acknowledged = list(await session.scalars(select(Alert).where(Alert.state == "acknowledged")))
    assert [(a.ack_note, a.ack_action) for a in acknowledged] == [
        ("Ordered from Mouser, PO 4711", "reorder")
    ]
    assert await session.scalar(select(Bom.status)) == "active"
    assert not page_log.errors
