"""What a goods-in clerk does on a phone-sized scanner (390 x 844), in a real browser
against the real server: open the PO, scan two distributor labels as a keyboard scanner
types them, see what was read and the PCN labels, the PO partially received; then the
suggested-purchases page turns a shortage into a draft PO."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.purchasing import service as purchasing_service
from kosh.purchasing.schemas import OrderLineIn
from tests.purchasing.factories import an_offer, buying
from tests.support.browser import log_in
from tests.support.fixtures import PASSWORD, MakeUser
from tests.support.stock import a_part

pytestmark = pytest.mark.browser


async def scan(page: Page, text: str) -> None:
    """A keyboard-mode scanner: it types the code, then Enter."""
    await page.keyboard.type(text)
    await page.keyboard.press("Enter")


async def test_scan_two_labels_then_order_a_shortage(
    page: Page, make_user: MakeUser, session: AsyncSession
) -> None:
    # given: a placed PO for 500 of one part and 100 of another
    b = await buying(session)
    other = await a_part(session, mpn="GRM188R71H104KA93D")
    await an_offer(
        session,
        supplier_code=b.supplier_code,
        part_number=other.number,
        sku="490-1532-1-ND",
        mpn="GRM188R71H104KA93D",
    )
    order = await purchasing_service.create_order(
        session,
        supplier_code=b.supplier_code,
        warehouse_id=b.site.warehouse_id,
        lines=[
            OrderLineIn(supplier_sku=b.sku, qty=500),
            OrderLineIn(supplier_sku="490-1532-1-ND", qty=100),
        ],
    )
    order = await purchasing_service.place(session, order_id=order.id)
    number, order_id = order.number, order.id
    # and: a third part below its reorder point, offered by the supplier
    short = await a_part(session, reorder_point=50)
    await an_offer(
        session,
        supplier_code=b.supplier_code,
        part_number=short.number,
        sku="SHORT-SKU",
        pack_size=25,
        preferred=True,
    )
    user = await make_user("operator")
    await page.set_viewport_size({"width": 390, "height": 844})
    await log_in(page, user.username, PASSWORD)

    # open the PO from goods in by scanning its number
    await page.goto("/goods-in")
    await expect(page.locator("#po")).to_be_focused()
    await scan(page, number)
    await page.wait_for_url(f"**/purchase-orders/{order_id}/receive")
    await expect(page.locator("#barcode")).to_be_focused()

    # first bag: DigiKey's label, the separators sent in caret notation
    await scan(page, f"[)>^^06^]P{b.sku}^]1P{b.mpn}^]K{number}^]1TLOT-A^]10D2312^]4LCN^]Q200^^^D")
    read = page.locator("[data-testid=label-read]")
    await expect(read).to_contain_text(b.mpn)
    await expect(read).to_contain_text("200")
    await expect(page.locator("#qty")).to_have_value("200")
    await page.keyboard.press("Enter")  # the focus is on "Book bag"
    result = page.locator("form[data-po-receive] [data-result]")
    await expect(result).to_contain_text("Received 200 as PCN")
    await expect(result).to_contain_text("partially received")
    await expect(page.locator(".label-preview img.label")).to_have_count(1)
    await expect(page.locator("#barcode")).to_be_focused()

    # second bag: a Mouser-style label, separators as {GS}
    await scan(page, "[)>{RS}06{GS}K" + number + "{GS}1PGRM188R71H104KA93D{GS}Q40{GS}4LJP{RS}{EOT}")
    await expect(page.locator("#qty")).to_have_value("40")
    await page.keyboard.press("Enter")
    await expect(result).to_contain_text("Received 40 as PCN")
    await expect(page.locator(".label-preview img.label")).to_have_count(2)
    await expect(page.locator("[data-testid=po-status]")).to_have_text("partially received")
    label = page.locator(".label-preview img.label").first
    assert await label.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0

    # the PO page shows both receipts
    await page.goto(f"/purchase-orders/{order_id}")
    await expect(page.locator("[data-testid=receipts] tbody tr")).to_have_count(2)
    # and the first bag's PCN keeps the label's lot code and country of origin
    first = page.locator("[data-testid=receipts] tbody tr", has_text="LOT-A")
    await first.locator("td:first-child a").first.click()
    await expect(page.locator("[data-testid=pcn-lot-code]")).to_have_text("LOT-A")
    await expect(page.locator("[data-testid=pcn-country]")).to_have_text("CN")

    # suggested purchases: the short part, two packs of 25, into a draft PO
    await page.goto(f"/purchasing/suggestions?warehouse_id={b.site.warehouse_id}")
    row = page.locator("[data-testid=suggestions] tbody tr", has_text=short.number)
    await expect(row).to_contain_text("50 (2 packs)")
    await page.click("[data-testid=make-orders]")
    await expect(page.locator("form[data-suggestions] [data-result]")).to_contain_text(
        "Draft purchase orders and planned jobs created"
    )
    await page.goto("/purchase-orders?status=draft")
    await expect(page.locator("[data-testid=orders] tbody tr")).to_have_count(1)
