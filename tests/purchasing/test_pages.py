"""Purchasing pages: key HTML of every page, roles, on order on the part page, and no
inline script or style (the CSP forbids them)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import date

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import User
from kosh.purchasing import service as purchasing_service
from kosh.purchasing.receiving import Bag
from tests.purchasing.factories import a_po, buying
from tests.support.fixtures import LoggedIn, MakeUser

HTML = {"accept": "text/html"}
Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)


async def page(client: httpx.AsyncClient, url: str, status: int = 200) -> str:
    response = await client.get(url, headers=HTML)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert not INLINE.search(response.text)
    return response.text


async def test_every_purchasing_page_renders(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given: a PO of 300, 100 received, due on the 14th
    b = await buying(session)
    order_id, number, line_id = await a_po(session, b, 300, expected=date(2026, 12, 14))
    _, [booked] = await purchasing_service.receive(
        session, order_id=order_id, location_id=b.receiving_id, bags=[Bag(line_id=line_id, qty=100)]
    )
    await login(client, await make_user("manager"))
    # then
    listing = await page(client, "/purchase-orders")
    assert number in listing
    detail = await page(client, f"/purchase-orders/{order_id}")
    assert "partially received" in detail
    assert booked.lot.pcn in detail
    assert f"/purchase-orders/{order_id}/receive" in detail
    printed = await page(client, f"/purchase-orders/{order_id}/print")
    assert b.sku in printed
    assert "Total" in printed
    receive = await page(client, f"/purchase-orders/{order_id}/receive")
    assert 'data-po-receive="' in receive
    assert "js/po-receive.js" in receive
    assert "GOODS-IN" in receive
    part = await page(client, f"/parts/{b.site.part_id}")
    assert 'data-testid="on-order"' in part
    assert f"{number}</a> 200 due 2026-12-14" in part
    suppliers = await page(client, "/suppliers")
    assert b.supplier_code in suppliers
    supplier_id = int(re.search(r'href="/suppliers/(\d+)"', suppliers).group(1))  # type: ignore[union-attr]
    assert b.sku in await page(client, f"/suppliers/{supplier_id}")
    assert "Nothing to order" in await page(client, "/purchasing/suggestions")
    assert number in await page(client, "/goods-in")
    jump = await client.get("/goods-in", params={"po": number}, headers=HTML)
    assert jump.status_code == 303
    assert jump.headers["location"] == f"/purchase-orders/{order_id}/receive"
    await page(client, "/goods-in?po=PO-NOPE", status=404)
    await page(client, "/purchase-orders/424242", status=404)
    await page(client, "/purchase-orders/99999999999", status=404)


async def test_viewers_do_not_get_goods_in(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    b = await buying(session)
    order_id, _, _ = await a_po(session, b, 10)
    await login(client, await make_user("viewer"))
    detail = await page(client, f"/purchase-orders/{order_id}")
    assert "receive-link" not in detail
    await page(client, f"/purchase-orders/{order_id}/receive", status=403)
