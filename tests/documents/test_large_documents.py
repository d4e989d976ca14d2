"""A document of 5,000 lines (an opening-stock receipt): the API pages its lines and
movements (`{"items", "total", "next"}`), the detail carries the first 200 and the URL of
the rest, and the detail page shows 100 lines at a time, fast."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import User
from kosh.documents import opening
from kosh.documents.opening_file import OpeningFile, OpeningRow
from kosh.locations import service as location_service
from tests.support.fixtures import LoggedIn, MakeUser
from tests.support.stock import a_site

pytestmark = pytest.mark.slow
Headers = dict[str, str]
Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]
LINES = 5_000


@pytest.fixture
async def document_id(session: AsyncSession) -> int:
    site = await a_site(session, bins=2)
    codes = [(await location_service.get_location_or_raise(session, b)).code for b in site.bin_ids]
    parsed = OpeningFile(
        rows=[
            OpeningRow(row=n + 2, part_number=site.part_number, location=codes[n % 2], qty=n + 1)
            for n in range(LINES)
        ]
    )
    report = await opening.import_opening_stock(
        session,
        parsed=parsed,
        file_name="big.csv",
        warehouse_id=site.warehouse_id,
        dry_run=False,
    )
    assert report.document is not None
    return report.document.id


async def test_the_api_pages_lines_and_movements(
    client: httpx.AsyncClient, manager_headers: Headers, document_id: int
) -> None:
    # when the document is read, then it carries the first 200 lines and where the rest are
    detail = (await client.get(f"/api/v1/documents/{document_id}", headers=manager_headers)).json()
    assert (len(detail["lines"]), detail["line_count"]) == (200, LINES)
    assert (len(detail["movements"]), detail["movement_count"]) == (200, LINES)
    assert detail["lines_next"].endswith(f"/documents/{document_id}/lines?limit=200&offset=200")
    assert detail["movements_next"] is not None
    # and the lines page through
    page = await client.get(detail["lines_next"], headers=manager_headers)
    assert page.status_code == 200
    body = page.json()
    assert (body["total"], len(body["items"]), body["items"][0]["line_no"]) == (LINES, 200, 201)
    assert "offset=400" in body["next"]
    last = (
        await client.get(
            f"/api/v1/documents/{document_id}/lines?limit=200&offset={LINES - 50}",
            headers=manager_headers,
        )
    ).json()
    assert (len(last["items"]), last["next"], last["items"][-1]["line_no"]) == (50, None, LINES)
    moved = (
        await client.get(
            f"/api/v1/documents/{document_id}/movements?limit=10", headers=manager_headers
        )
    ).json()
    assert (moved["total"], len(moved["items"])) == (LINES, 10)
    assert (
        await client.get("/api/v1/documents/999999/lines", headers=manager_headers)
    ).status_code == 404


async def test_the_detail_page_shows_a_page_of_lines_fast(
    client: httpx.AsyncClient, document_id: int, make_user: MakeUser, login: Login
) -> None:
    await login(client, await make_user("viewer"))
    # when the last page of a 5,000-line document is opened
    started = time.perf_counter()
    response = await client.get(
        f"/documents/{document_id}?offset={LINES - 100}", headers={"accept": "text/html"}
    )
    elapsed = time.perf_counter() - started
    # then it shows lines 4,901 to 5,000 only, quickly
    assert response.status_code == 200
    html = response.text
    assert "<td>5000</td>" in html
    assert "<td>4900</td>" not in html
    assert 'data-testid="lines-pager"' in html
    assert "Previous 100" in html
    assert "Next 100" not in html
    assert html.count("<tr>") < 260
    assert elapsed < 3.0, elapsed
