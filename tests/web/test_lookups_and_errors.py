"""Lookups a clerk types on a phone, ids that are not numbers, and stock in the parts API.

Part numbers and PCNs are found whatever their case (the exact one first; two that differ
only in case match neither); a page address whose id is not a number is 404, as for an id
that does not exist; `GET /api/v1/parts` items carry on hand and available, as the sales
availability query defines them (storage only, minus reservations).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.app import FEATURE_ROUTERS
from kosh.auth.models import User
from kosh.catalog import service as part_service
from kosh.sales import service as sales_service
from kosh.stock import service as stock_service
from tests.support.fixtures import LoggedIn, MakeUser
from tests.support.sales import a_customer, an_order
from tests.support.stock import a_location, a_part, a_site, stock_in
from tests.web.site import page_routes

HTML = {"accept": "text/html"}
Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]
INT_PARAM = re.compile(r"\{[a-z_]*id\}")


async def test_part_lookup_ignores_case(session: AsyncSession) -> None:
    # given a part numbered in capitals
    await a_part(session, "R-0402-10K")

    # when it is looked up in lower case, with spaces, and exactly
    lower = await part_service.get_part_by_number(session, " r-0402-10k ")
    exact = await part_service.get_part_by_number(session, "R-0402-10K")
    missing = await part_service.get_part_by_number(session, "r-0402-10x")
    blank = await part_service.get_part_by_number(session, "  ")

    # then the lower-case number finds it; a different number and a blank find nothing
    assert lower is not None
    assert exact is not None
    assert lower.id == exact.id
    assert missing is None
    assert blank is None


async def test_part_lookup_prefers_the_exact_number_and_refuses_to_guess(
    session: AsyncSession,
) -> None:
    # given two parts whose numbers differ only in case
    upper = await a_part(session, "CAP-A")
    lower = await a_part(session, "cap-a")

    # when each is looked up exactly, and by a third spelling
    found_upper = await part_service.get_part_by_number(session, "CAP-A")
    found_lower = await part_service.get_part_by_number(session, "cap-a")
    ambiguous = await part_service.get_part_by_number(session, "Cap-A")

    # then the exact one wins, and the third spelling matches neither
    assert found_upper is not None
    assert found_upper.id == upper.id
    assert found_lower is not None
    assert found_lower.id == lower.id
    assert ambiguous is None


async def test_pcn_lookup_ignores_case_and_refuses_to_guess(session: AsyncSession) -> None:
    # given a lot with a generated PCN and two whose PCNs differ only in case
    site = await a_site(session)
    generated = await stock_in(session, site.part_number, site.bin_ids[0], 5)
    await stock_in(session, site.part_number, site.bin_ids[0], 1, pcn="LOT-X")
    await stock_in(session, site.part_number, site.bin_ids[0], 1, pcn="lot-x")

    # when they are looked up in another case
    found = await stock_service.get_lot_by_pcn(session, generated.pcn.lower())
    ambiguous = await stock_service.get_lot_by_pcn(session, "Lot-X")
    blank = await stock_service.get_lot_by_pcn(session, " ")

    # then the generated one is found, the ambiguous one and a blank are not
    assert found is not None
    assert found.id == generated.id
    assert ambiguous is None
    assert blank is None


async def test_pcn_pages_and_stock_forms_take_any_case(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given a lot, and an operator logged in
    site = await a_site(session)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 5)
    who = await login(client, await make_user("operator"))

    # when the lookup, the PCN page and a pick use lower case
    lookup = await client.get(f"/pcns?pcn={lot.pcn.lower()}", headers=HTML)
    detail = await client.get(f"/pcns/{lot.pcn.lower()}", headers=HTML)
    pick = await client.post(
        "/api/v1/stock/pick",
        json={
            "part_number": site.part_number.lower(),
            "qty": 2,
            "reference": "J-1",
            "warehouse_id": site.warehouse_id,
        },
        headers=who.headers,
    )

    # then the lookup goes to the PCN's page, which shows it, and the pick is made
    assert lookup.status_code == 303
    assert lookup.headers["location"] == f"/pcns/{lot.pcn}"
    assert detail.status_code == 200
    assert lot.pcn in detail.text
    assert pick.status_code == 200, pick.text


def _page_routes_with_int_ids() -> list[str]:
    return [r.path for r in page_routes(FEATURE_ROUTERS) if INT_PARAM.search(r.path)]


@pytest.mark.parametrize("route", _page_routes_with_int_ids())
async def test_page_address_with_a_non_numeric_id_is_404(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, route: str
) -> None:
    # given an admin (who may open every page)
    await login(client, await make_user("admin"))

    # when the id in the address is not a number
    response = await client.get(INT_PARAM.sub("abc", route), headers=HTML)

    # then it is the "not found" page, not a validation error
    assert response.status_code == 404, response.text[:300]
    assert "Input should be" not in response.text


async def test_parts_api_items_carry_on_hand_and_available(
    client: httpx.AsyncClient, session: AsyncSession, admin_headers: dict[str, str]
) -> None:
    # given 10 in storage, 4 in quarantine and 3 reserved by a sales order, and a part
    # with no stock at all
    site = await a_site(session)
    quarantine = await a_location(session, site.warehouse_id, code="Q-1", kind="quarantine")
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    await stock_in(session, site.part_number, quarantine.id, 4)
    customer = await a_customer(session)
    await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 3)],
        confirm=True,
    )
    empty = await a_part(session, "ZZ-EMPTY")

    # when the parts are listed
    response = await client.get("/api/v1/parts", headers=admin_headers)

    # then each item carries on hand (storage only) and available (minus reserved)
    assert response.status_code == 200, response.text
    items = {item["number"]: item for item in response.json()["items"]}
    assert items[site.part_number]["on_hand"] == 10
    assert items[site.part_number]["available"] == 7
    assert items[empty.number]["on_hand"] == 0
    assert items[empty.number]["available"] == 0


async def test_stock_totals_add_up_the_warehouses(session: AsyncSession) -> None:
    # given stock of one part in two warehouses, and no parts asked for
    first = await a_site(session)
    second = await a_site(session)
    await stock_in(session, first.part_number, first.bin_ids[0], 6)
    await stock_in(session, first.part_number, second.bin_ids[0], 5)

    # when the totals are read
    totals = await sales_service.totals(session, part_ids=[first.part_id])
    nothing = await sales_service.totals(session, part_ids=[])

    # then they are the sum over both warehouses
    assert totals == {first.part_id: (11, 11)}
    assert nothing == {}


async def test_parts_list_shows_stock_columns_and_flags_low_stock(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given a part below its reorder point and one above it
    site = await a_site(session)
    await a_part(session, "ZZ-PLENTY", reorder_point=5)
    await stock_in(session, site.part_number, site.bin_ids[0], 1_500)
    await stock_in(session, "ZZ-PLENTY", site.bin_ids[0], 50)
    low = await a_part(session, "ZZ-LOW", reorder_point=10)
    await stock_in(session, low.number, site.bin_ids[1], 3)
    await login(client, await make_user("viewer"))

    # when the parts list is shown
    html = (await client.get("/parts?q=ZZ-", headers=HTML)).text
    rows = {
        re.search(r">(ZZ-[A-Z]+)<", row).group(1): row  # type: ignore[union-attr]
        for row in html.split("<tr>")
        if re.search(r">ZZ-[A-Z]+<", row)
    }

    # then on hand and available show as numbers, and only the low part is flagged
    assert 'data-value="3"' in rows["ZZ-LOW"]
    assert 'data-testid="low-stock"' in rows["ZZ-LOW"]
    assert 'data-testid="low-stock"' not in rows["ZZ-PLENTY"]
    assert "data-sortable" in html
    full = (await client.get(f"/parts?q={site.part_number}", headers=HTML)).text
    assert ">1,500</td>" in full
