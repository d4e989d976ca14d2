"""The shell on a 390x844 phone and a 1366x850 desktop: the menu is a disclosure button that
keyboards and screen readers can use; the clerk's four actions are one tap away; after a
scan the result is at the top of the screen, announced, with the focus where the next scan
goes; list pages do not pop the phone keyboard; a wrong password puts the focus on the
password."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.stock import a_part, a_site, stock_in

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 850}
IN_VIEW = """(el) => {
    const box = el.getBoundingClientRect();
    return { top: box.top, bottom: box.bottom, height: window.innerHeight };
}"""


async def focused_id(page: Page) -> str:
    return str(await page.evaluate("document.activeElement && document.activeElement.id"))


async def scan(page: Page, text: str) -> None:
    await page.keyboard.type(text)
    await page.keyboard.press("Enter")


async def assert_result_on_top(page: Page, field_id: str) -> None:
    """The result starts within the top fifth of the screen, and the field that takes the
    next scan has the focus and is on screen too."""
    result = page.locator("form[data-movement] [data-result]")
    await expect(result).to_have_attribute("aria-live", "polite")
    box = await result.evaluate(IN_VIEW)
    assert 0 <= box["top"] <= box["height"] * 0.2, box
    field = await page.locator(f"#{field_id}").evaluate(IN_VIEW)
    assert field["top"] >= 0, field
    assert field["bottom"] <= field["height"], field
    assert await focused_id(page) == field_id


async def test_phone_menu_is_an_accessible_disclosure(page: Page, make_user: MakeUser) -> None:
    # given an operator on a phone
    await page.set_viewport_size(PHONE)
    user = await make_user("operator")
    await log_in(page, user.username, PASSWORD)
    button = page.get_by_role("button", name="Menu")
    main_nav = page.get_by_role("navigation", name="Main")

    # then the menu is closed, the page title is in the bar, the clerk actions are one tap away
    await expect(button).to_have_attribute("aria-expanded", "false")
    await expect(button).to_have_attribute("aria-controls", "site-menu")
    await expect(main_nav).to_be_hidden()
    await expect(page.locator(".bar-title")).to_have_text("Dashboard")
    actions = page.get_by_role("navigation", name="Clerk actions").get_by_role("link")
    await expect(actions).to_have_text(["Receive", "Pick", "Restock", "Transfer"])

    # when it is opened from the keyboard
    await button.focus()
    await page.keyboard.press("Enter")

    # then it says so and shows the navigation, reachable with Tab
    await expect(button).to_have_attribute("aria-expanded", "true")
    await expect(main_nav).to_be_visible()
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.closest('#site-menu') !== null")

    # when Escape is pressed: closed again, the focus back on the button
    await page.keyboard.press("Escape")
    await expect(button).to_have_attribute("aria-expanded", "false")
    await expect(main_nav).to_be_hidden()
    await expect(button).to_be_focused()

    # and on a desktop the full navigation shows, without the button or the phone row
    await page.set_viewport_size(DESKTOP)
    await expect(main_nav).to_be_visible()
    await expect(button).to_be_hidden()
    await expect(page.get_by_role("navigation", name="Clerk actions")).to_be_hidden()


async def test_clerk_flow_keeps_each_result_on_top_and_the_focus_on_the_next_scan(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given an operator on a phone, and a part and a bin
    await page.set_viewport_size(PHONE)
    site = await a_site(session)
    user = await make_user("operator")
    await log_in(page, user.username, PASSWORD)

    # when a reel is received with the scanner, from the clerk actions in the top bar
    await (
        page.get_by_role("navigation", name="Clerk actions")
        .get_by_role("link", name="Receive")
        .click()
    )
    await expect(page.locator("#part_number")).to_be_focused()
    await scan(page, site.part_number)
    await scan(page, "100")
    await scan(page, "BIN-1")

    # then the sentence and the label are at the top, and the part number waits for the next
    result = page.locator("form[data-movement] [data-result]")
    await expect(result).to_contain_text(f"Received 100 of {site.part_number}")
    await expect(page.locator(".label-preview img.label")).to_be_visible()
    await assert_result_on_top(page, "part_number")
    message = await result.text_content() or ""
    pcn = re.search(r"as (\S+) into", message)
    assert pcn is not None

    # when the label is opened and printed, and the clerk goes on to pick for a job
    await page.click("[data-testid=print-label]")
    await page.wait_for_url(f"**/pcns/{pcn.group(1)}/label")
    await (
        page.get_by_role("navigation", name="Clerk actions")
        .get_by_role("link", name="Pick")
        .click()
    )
    await expect(page.locator("#part_number")).to_be_focused()
    await scan(page, site.part_number)
    await scan(page, "30")
    await scan(page, "J-1042")

    # then what to pull is at the top, and the focus is back on the part number
    await expect(result).to_contain_text(f"Picked 30 of {site.part_number} for J-1042")
    await expect(page.locator("table.pick-lines tbody tr")).to_have_count(1)
    await assert_result_on_top(page, "part_number")

    # when a pick asks for more than there is: the answer is in the top third (the short
    # form cannot scroll further), the focus on the quantity to correct
    await scan(page, site.part_number)
    await scan(page, "500")
    await scan(page, "J-1042")
    await expect(page.locator("[data-error-for=qty]")).to_contain_text("Only 70 available")
    box = await result.evaluate(IN_VIEW)
    assert 0 <= box["top"] <= box["height"] / 3, box
    assert await focused_id(page) == "qty"


async def test_list_pages_focus_the_search_on_a_desktop_only(
    page: Page, make_user: MakeUser
) -> None:
    # given a viewer
    user = await make_user("viewer")
    await log_in(page, user.username, PASSWORD)

    # when the parts list opens on a phone, then nothing has the focus (no keyboard pops up)
    await page.set_viewport_size(PHONE)
    await page.goto("/parts")
    await expect(page.locator("#q")).not_to_be_focused()
    assert await page.evaluate("document.activeElement === document.body")

    # when it opens on a desktop, the search box has it
    await page.set_viewport_size(DESKTOP)
    await page.goto("/parts")
    await expect(page.locator("#q")).to_be_focused()


async def test_wrong_password_puts_the_focus_on_the_password(
    page: Page, make_user: MakeUser
) -> None:
    # given a user who mistypes the password
    user = await make_user("operator")
    await page.goto("/login")
    await page.fill("#username", user.username)
    await page.fill("#password", "not-the-password")

    # when the login is refused
    await page.click("button[type=submit]")
    await expect(page.locator("[data-testid=login-error]")).to_be_visible()

    # then the username is kept and the focus waits in the password
    await expect(page.locator("#username")).to_have_value(user.username)
    await expect(page.locator("#password")).to_be_focused()


async def test_parts_list_sorts_by_a_stock_column(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given three parts with different stock
    site = await a_site(session)
    for number, qty in (("ZZ-B", 5), ("ZZ-A", 50), ("ZZ-C", 1)):
        await a_part(session, number)
        await stock_in(session, number, site.bin_ids[0], qty)
    user = await make_user("viewer")
    await log_in(page, user.username, PASSWORD)
    await page.goto("/parts?q=ZZ-")
    numbers = page.locator("[data-testid=part-table] tbody tr td:first-child")
    heading = page.locator("[data-testid=part-table] th", has_text="On hand")

    # when the "On hand" heading is pressed, and pressed again
    await heading.get_by_role("button").click()
    await expect(numbers).to_have_text(["ZZ-C", "ZZ-B", "ZZ-A"])
    await expect(heading).to_have_attribute("aria-sort", "ascending")
    await heading.get_by_role("button").click()

    # then the rows follow, largest first, and the heading says so
    await expect(numbers).to_have_text(["ZZ-A", "ZZ-B", "ZZ-C"])
    await expect(heading).to_have_attribute("aria-sort", "descending")
