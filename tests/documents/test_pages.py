"""Document pages: login redirect, key HTML per role, the count page, no inline code."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import User
from kosh.documents import service as document_service
from kosh.documents import stocktake
from kosh.documents.service import LineRequest
from kosh.documents.stocktake import Scope
from tests.support.fixtures import LoggedIn, MakeUser
from tests.support.stock import a_location, a_site, stock_in

HTML = {"accept": "text/html"}
Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)


async def _page(client: httpx.AsyncClient, url: str, status: int = 200) -> str:
    response = await client.get(url, headers=HTML)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert not INLINE.search(response.text)
    return response.text


async def test_anonymous_visitors_go_to_the_login(client: httpx.AsyncClient) -> None:
    response = await client.get("/documents", headers=HTML)
    assert response.status_code in (302, 303)
    assert response.headers["location"].startswith("/login")


async def test_list_detail_and_count_pages(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given a posted transfer and a stocktake with one count
    site = await a_site(session, bins=2)
    zone = await a_location(session, site.warehouse_id, code="Z-01")
    zone_id = zone.id
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    other = await stock_in(session, site.part_number, zone_id, 4)
    transfer = await document_service.create_document(
        session,
        type="transfer",
        warehouse_id=site.warehouse_id,
        lines=[
            LineRequest(
                pcn=lot.pcn, qty=3, from_location_id=site.bin_ids[0], to_location_id=site.bin_ids[1]
            )
        ],
    )
    await document_service.post_document(session, document_id=transfer.id)
    count = await document_service.create_document(
        session,
        type="stocktake",
        warehouse_id=site.warehouse_id,
        scope=Scope(zone="Z-"),
        blind=True,
    )
    await stocktake.record_count(
        session, document_id=count.id, location_id=zone_id, pcn=other.pcn, counted_qty=3
    )
    await login(client, await make_user("manager"))

    # when / then: the list shows both, with the navigation entry
    listing = await _page(client, "/documents")
    assert transfer.number in listing
    assert count.number in listing
    assert 'href="/documents"' in listing
    assert "New stocktake" in listing
    filtered = await _page(client, "/documents?type=stocktake&status=nonsense")
    assert count.number in filtered
    assert transfer.number not in filtered

    detail = await _page(client, f"/documents/{transfer.id}")
    assert 'data-testid="movements"' in detail
    assert 'data-testid="reverse"' in detail
    assert lot.pcn in detail

    review = await _page(client, f"/documents/{count.id}")
    assert 'data-testid="variance"' in review
    assert "counted" in review
    assert 'data-testid="count-link"' in review

    scanner = await _page(client, f"/documents/{count.id}/count?location=z-01")
    assert 'data-testid="count-form"' in scanner
    assert other.pcn in scanner
    assert "Expected</th>" not in scanner  # blind mode
    sheet = await _page(client, f"/documents/{count.id}/sheet")
    assert 'data-testid="count-sheet"' in sheet
    assert other.pcn in sheet
    assert "Expected</th>" not in sheet  # blind
    picks = await _page(client, f"/documents/{transfer.id}/sheet")
    assert 'data-testid="pick-list"' in picks
    assert lot.pcn in picks
    wrong = await _page(client, f"/documents/{count.id}/count?location=NOPE")
    assert "not in this stocktake" in wrong
    await _page(client, "/documents/999999", status=404)


async def test_viewers_read_but_see_no_forms(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    site = await a_site(session, bins=1)
    draft = await document_service.create_document(
        session, type="transfer", warehouse_id=site.warehouse_id
    )
    await login(client, await make_user("viewer"))
    listing = await _page(client, "/documents")
    assert "New document" not in listing
    detail = await _page(client, f"/documents/{draft.id}")
    assert 'data-testid="post"' not in detail
    response = await client.get(f"/documents/{draft.id}/count", headers=HTML)
    assert response.status_code == 403


@pytest.mark.parametrize("url", ["/documents/0", "/documents/abc", f"/documents/{10**20}"])
async def test_bad_ids_are_404_pages(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, url: str
) -> None:
    await login(client, await make_user("viewer"))
    await _page(client, url, status=404)


async def test_the_opening_import_page(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given a warehouse, a manager and an operator
    await a_site(session, bins=1)
    manager = await make_user("manager")
    operator = await make_user("operator")
    # when the manager opens the page, then it has the form and its module
    await login(client, manager)
    html = await _page(client, "/documents/import")
    assert "data-opening-import" in html
    assert "js/opening-import.js" in html
    assert 'data-testid="opening-import-link"' in await _page(client, "/documents")
    source = re.search(r'src="([^"]*opening-import\.js[^"]*)"', html)
    assert source is not None
    assert (await client.get(source.group(1))).status_code == 200
    # and an operator is told it needs the manager role
    await login(client, operator)
    html = await _page(client, "/documents/import")
    assert "needs the manager role" in html
    assert "data-opening-import" not in html
