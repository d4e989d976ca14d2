"""What a stock clerk does, in a real browser against the real server: receive a reel with a
scanner (Enter moves to the next field), see and open its label, pick it for a job, restock
the leftovers, and find all three in the PCN's history."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.stock import queries as stock_queries
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.stock import a_location, a_site

pytestmark = pytest.mark.browser


async def focused_id(page: Page) -> str:
    return str(await page.evaluate("document.activeElement && document.activeElement.id"))


async def open_form(page: Page, url: str) -> None:
    """Open a scanner page and wait for its first field to take the focus, as a clerk
    waits for the screen before scanning (keys typed earlier go nowhere)."""
    await page.goto(url)
    await expect(page.locator("#part_number")).to_be_focused()


async def scan(page: Page, text: str) -> None:
    """What a barcode scanner does: type the code, press Enter."""
    await page.keyboard.type(text)
    await page.keyboard.press("Enter")


async def test_receive_label_pick_restock_and_history(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    site = await a_site(session)
    user = await make_user("operator")
    await log_in(page, user.username, PASSWORD)

    # receive: the first field has focus; each scan moves on until the form is complete
    await open_form(page, "/stock/receive")
    await scan(page, site.part_number)
    assert await focused_id(page) == "qty"
    await scan(page, "100")
    assert await focused_id(page) == "location_id-code"
    await scan(page, "BIN-1")
    result = page.locator("form[data-movement] [data-result]")
    await expect(result).to_contain_text(f"Received 100 of {site.part_number} as PCN")
    await expect(result).to_contain_text("into BIN-1")
    message = await result.text_content() or ""
    pcn = re.search(r"as (\S+) into", message)
    assert pcn is not None
    pcn_text = pcn.group(1)
    # the label is shown and loads, and leads to the printable page
    label = page.locator(".label-preview img.label")
    await expect(label).to_be_visible()
    await expect(label).to_have_attribute("src", f"/api/v1/pcns/{pcn_text}/label.svg")
    assert await label.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    await page.click("[data-testid=print-label]")
    await page.wait_for_url(f"**/pcns/{pcn_text}/label")
    await expect(page.locator("button[data-print]")).to_be_visible()
    await expect(page.locator("img.label")).to_have_attribute(
        "src", f"/api/v1/pcns/{pcn_text}/label.svg"
    )

    # pick: asking for more than there is says what is available, next to the quantity
    await open_form(page, "/stock/pick")
    await scan(page, site.part_number)
    await scan(page, "500")
    await scan(page, "J-1042")
    qty_error = page.locator("[data-error-for=qty]")
    await expect(qty_error).to_contain_text("Only 100 available")
    await expect(qty_error).to_contain_text(f"{pcn_text} \u00d7100 at BIN-1")
    # then a pick that fits: which PCNs to pull, from where, how many
    await page.fill("#qty", "30")
    await page.press("#qty", "Enter")
    result = page.locator("form[data-movement] [data-result]")
    await expect(result).to_contain_text(
        f"Picked 30 of {site.part_number} for J-1042: {pcn_text} \u00d730 from BIN-1 → MFG."
    )
    lines = page.locator("table.pick-lines tbody tr")
    await expect(lines).to_have_count(1)
    await expect(lines.first).to_contain_text(pcn_text)
    await expect(lines.first).to_contain_text("30")
    # the form is ready for the next scan
    await expect(page.locator("#part_number")).to_be_focused()

    # restock: the destination defaults to where it was picked from
    await page.goto(f"/stock/restock?pcn={pcn_text}")
    await page.click("#qty")
    await scan(page, "10")
    result = page.locator("form[data-movement] [data-result]")
    await expect(result).to_contain_text(f"Restocked 10 of {pcn_text}: MFG → BIN-1.")

    # the PCN's history shows all three, newest first
    await page.goto(f"/pcns/{pcn_text}")
    kinds = await page.locator("table.history tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.kind)"
    )
    assert kinds == ["restock", "pick", "receive"]
    await expect(page.locator("[data-testid=pcn-total]")).to_contain_text("100")


async def test_unknown_location_code_is_refused_next_to_the_field(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    site = await a_site(session)
    user = await make_user("operator")
    await log_in(page, user.username, PASSWORD)

    await open_form(page, "/stock/receive")
    await scan(page, site.part_number)
    await scan(page, "5")
    await scan(page, "NO-SUCH-BIN")

    await expect(page.locator("[data-error-for=location_id]")).to_have_text(
        "No location NO-SUCH-BIN."
    )
    await expect(page.locator("form[data-movement] [data-result]")).to_be_empty()


async def test_location_field_searches_as_one_types_and_a_suggestion_is_picked_on_a_phone(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given a site with bins BIN-1 and BIN-2 on a 390 x 844 phone; the page ships neither
    site = await a_site(session)
    user = await make_user("operator")
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, user.username, PASSWORD)
    await open_form(page, "/stock/receive")
    field = page.locator("#location_id-code")
    listbox = page.locator("#location_id-code-options")
    assert await listbox.locator("[role=option]").count() == 0
    await expect(field).to_have_attribute("aria-expanded", "false")

    # when "bin" is typed into the location field
    await field.focus()
    await page.keyboard.type("bin")

    # then the listbox offers the matching bins from the search API, and says it is open
    options = listbox.locator("[role=option]")
    await expect(options).to_have_count(2)
    await expect(listbox).to_be_visible()
    await expect(field).to_have_attribute("aria-expanded", "true")
    labels = await options.all_text_contents()
    assert [label.split(" ")[1:] for label in labels] == [
        ["BIN-1", "(storage)"],
        ["BIN-2", "(storage)"],
    ]
    box = await listbox.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390

    # when the arrow keys move to the second and Enter picks it
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("ArrowDown")
    second = options.nth(1)
    await expect(second).to_have_attribute("aria-selected", "true")
    await expect(field).to_have_attribute(
        "aria-activedescendant", await second.get_attribute("id") or ""
    )
    await page.keyboard.press("Enter")

    # then the field holds the code, the form the bin's id, and the list is closed
    await expect(field).to_have_value("BIN-2")
    hidden = page.locator("input[type=hidden][name=location_id]")
    await expect(hidden).to_have_value(str(site.bin_ids[1]))
    await expect(field).to_have_attribute("aria-expanded", "false")
    await expect(listbox).to_be_hidden()

    # and a tap on a suggestion picks it too
    await field.fill("")
    await field.focus()
    await page.keyboard.type("bin-")
    await expect(options).to_have_count(2)
    await options.nth(0).click()
    await expect(field).to_have_value("BIN-1")
    await expect(hidden).to_have_value(str(site.bin_ids[0]))


async def test_a_scanned_bin_code_resolves_exactly_among_many_similar(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given bins ... A-19 (the exact code is not the only suggestion)
    site = await a_site(session)
    for i in range(10, 20):
        await a_location(session, site.warehouse_id, code=f"A-{i}")
    exact = await a_location(session, site.warehouse_id, code="A-1")
    user = await make_user("operator")
    await log_in(page, user.username, PASSWORD)

    # when a scanner types the whole receipt, A-1 last, each with Enter
    await open_form(page, "/stock/receive")
    await scan(page, site.part_number)
    await scan(page, "7")
    await scan(page, "a-1")

    # then the receipt went into A-1 exactly
    result = page.locator("form[data-movement] [data-result]")
    await expect(result).to_contain_text(f"Received 7 of {site.part_number}")
    await expect(result).to_contain_text("into A-1.")
    pcn = re.search(r"as (\S+) into", await result.text_content() or "")
    assert pcn is not None
    balances = await stock_queries.location_contents(session, exact.id, limit=5)
    assert [(line.pcn, line.qty) for line in balances[0]] == [(pcn.group(1), 7)]
