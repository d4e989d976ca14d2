"""Location search as a person types: GET /api/v1/locations/search (code prefix or
WAREHOUSE/CODE, kinds, ids, a limit), and stock forms that no longer ship every bin: with
5,000 bins each form page stays under 30 KB."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.documents import service as document_service
from kosh.locations.models import Location, Warehouse
from kosh.purchasing import service as purchasing_service
from kosh.purchasing.schemas import SupplierCreate
from tests.support.stock import a_location, a_warehouse

pytestmark = pytest.mark.usefixtures("sessions")

Headers = dict[str, str]
SEARCH = "/api/v1/locations/search"
FORMS = ["/stock/receive", "/stock/pick", "/stock/restock", "/stock/transfer", "/stock/consume"]


async def _search(client: httpx.AsyncClient, headers: Headers, **params: Any) -> dict[str, Any]:
    response = await client.get(SEARCH, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _many_bins(session: AsyncSession, warehouse_id: int, count: int) -> None:
    await session.execute(
        insert(Location),
        [
            {
                "warehouse_id": warehouse_id,
                "code": f"R{i // 100:02d}-{i % 100:03d}",
                "kind": "storage",
            }
            for i in range(count)
        ],
    )
    await session.commit()


async def test_search_finds_code_prefixes_in_any_case_exact_code_first(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession
) -> None:
    # given bins and B-1 in one warehouse
    main = await a_warehouse(session, "MAIN")
    for code in ("A-10", "A-11", "A-1", "B-1"):
        await a_location(session, main, code=code)

    # when "a-1" is typed
    found = await _search(client, operator_headers, q="a-1")

    # then the exact code comes first, then the other prefixes; B-1 is not offered
    assert [item["code"] for item in found["items"]] == ["A-1", "A-10", "A-11"]
    assert found["more"] is False
    first = found["items"][0]
    assert first["warehouse_code"] == "MAIN"
    assert first["value"] == "A-1"
    assert first["label"] == "MAIN A-1 (storage)"


async def test_search_is_limited_and_says_there_is_more(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession
) -> None:
    main = await a_warehouse(session, "MAIN")
    await _many_bins(session, main.id, 120)

    found = await _search(client, operator_headers, q="R0", limit=20)
    assert len(found["items"]) == 20
    assert found["more"] is True
    assert len((await _search(client, operator_headers, q="R0"))["items"]) == 20  # default
    assert len((await _search(client, operator_headers, q="r01-", limit=50))["items"]) == 20
    for bad in ({"limit": 0}, {"limit": 51}, {"q": "x" * 201}, {"kind": "attic"}, {"id": 0}):
        response = await client.get(SEARCH, params=bad, headers=operator_headers)
        assert response.status_code == 422, bad
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_search_offers_only_usable_locations_of_the_kinds_asked(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession
) -> None:
    # given a storage bin, a dock, an inactive bin and a bin of an inactive warehouse
    main, old = await a_warehouse(session, "MAIN"), await a_warehouse(session, "OLD")
    await a_location(session, main, code="X-1")
    await a_location(session, main, code="X-DOCK", kind="shipping")
    gone = await a_location(session, main, code="X-2")
    await a_location(session, old, code="X-3")
    await session.execute(update(Location).where(Location.id == gone.id).values(active=False))
    await session.execute(update(Warehouse).where(Warehouse.id == old.id).values(active=False))
    await session.commit()

    everything = await _search(client, operator_headers, q="X")
    stockable = await _search(
        client, operator_headers, q="x", kind=["storage", "receiving", "quarantine"]
    )

    assert [i["code"] for i in everything["items"]] == ["X-1", "X-DOCK"]
    assert [i["code"] for i in stockable["items"]] == ["X-1"]


async def test_a_code_in_two_warehouses_is_offered_as_warehouse_slash_code(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession
) -> None:
    one, two = await a_warehouse(session, "WA"), await a_warehouse(session, "WB")
    a_one = await a_location(session, one, code="A-01")
    await a_location(session, two, code="A-01")

    both = await _search(client, operator_headers, q="A-01")
    narrowed = await _search(client, operator_headers, q="wa/a-0")
    by_id = await _search(client, operator_headers, id=[a_one.id])

    assert [i["value"] for i in both["items"]] == ["WA/A-01", "WB/A-01"]
    assert [i["value"] for i in narrowed["items"]] == ["WA/A-01"]
    assert [i["id"] for i in by_id["items"]] == [a_one.id]


async def test_like_wildcards_are_plain_characters(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession
) -> None:
    main = await a_warehouse(session, "MAIN")
    await a_location(session, main, code="A_1")
    await a_location(session, main, code="AB1")

    assert [i["code"] for i in (await _search(client, operator_headers, q="A_"))["items"]] == [
        "A_1"
    ]
    assert (await _search(client, operator_headers, q="%"))["items"] == []


async def test_search_needs_a_login(client: httpx.AsyncClient) -> None:
    response = await client.get(SEARCH, params={"q": "A"})
    assert response.status_code == 401


@pytest.mark.parametrize("url", FORMS)
async def test_stock_forms_stay_small_with_five_thousand_bins(
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    url: str,
) -> None:
    # given a site with 5,000 bins
    main = await a_warehouse(session, "MAIN")
    await _many_bins(session, main.id, 5000)

    # when a stock form is opened
    response = await client.get(url, headers={**operator_headers, "accept": "text/html"})

    # then it ships no list of bins and stays under 30 KB; the field searches instead
    assert response.status_code == 200
    assert len(response.content) < 30_000, len(response.content)
    assert "R49-099" not in response.text
    if url != "/stock/pick":  # the pick takes FIFO lots: it has no location field
        assert 'data-location-search="/api/v1/locations/search' in response.text
    found = await _search(client, operator_headers, q="R49-099")
    assert [i["code"] for i in found["items"]] == ["R49-099"]


async def test_goods_in_document_lines_and_count_pages_stay_small_with_five_thousand_bins(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession
) -> None:
    # given a site with 5,000 bins, a draft transfer, a stocktake of it all and a PO
    main = await a_warehouse(session, "MAIN")
    await _many_bins(session, main.id, 5000)
    transfer = await document_service.create_document(
        session, type="transfer", warehouse_id=main.id
    )
    stocktake = await document_service.create_document(
        session, type="stocktake", warehouse_id=main.id
    )
    await purchasing_service.create_supplier(
        session, data=SupplierCreate(code="SUP", name="Supplier")
    )
    order = await purchasing_service.create_order(
        session, supplier_code="SUP", warehouse_id=main.id
    )
    html = {**operator_headers, "accept": "text/html"}

    # when the forms with location fields are opened
    pages = {
        "document lines": f"/documents/{transfer.id}",
        "count": f"/documents/{stocktake.id}/count",
        "goods-in": f"/purchase-orders/{order.id}/receive",
    }
    for name, url in pages.items():
        response = await client.get(url, headers=html)

        # then each ships a searching location field and no list of bins, under 30 KB
        assert response.status_code == 200, (name, response.text[:500])
        assert len(response.content) < 30_000, (name, len(response.content))
        assert "R49-099" not in response.text, name
        assert 'role="combobox"' in response.text, name
        assert 'data-location-search="/api/v1/locations/search' in response.text, name
    count_page = (await client.get(pages["count"], headers=html)).text
    assert f"warehouse={main.id}" in count_page


async def test_search_narrows_to_a_warehouse_id(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession
) -> None:
    one, two = await a_warehouse(session, "WA"), await a_warehouse(session, "WB")
    await a_location(session, one, code="K-01")
    mine = await a_location(session, two, code="K-01")

    found = await _search(client, operator_headers, q="k-01", warehouse=two.id)

    assert [i["id"] for i in found["items"]] == [mine.id]
