"""Stock, part and location pages: login redirect, role-based visibility, key HTML, times in
the site time zone, and no inline script or style (the CSP forbids them)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import User
from kosh.core.config import Settings
from kosh.stock import service as stock_service
from tests.support.fixtures import LoggedIn, MakeUser
from tests.support.stock import a_location, a_part, a_site, a_warehouse, ledger, stock_in

HTML = {"accept": "text/html"}
SITE_TZ = "America/New_York"
Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings.model_copy(update={"site_timezone": SITE_TZ})


async def as_role(client: httpx.AsyncClient, make_user: MakeUser, login: Login, role: str) -> None:
    await login(client, await make_user(role))


async def page(client: httpx.AsyncClient, url: str, status: int = 200) -> str:
    response = await client.get(url, headers=HTML)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert not INLINE_SCRIPT.search(text), INLINE_SCRIPT.search(text)
    assert not INLINE_STYLE.search(text), INLINE_STYLE.search(text)
    return text


def nav_labels(html: str) -> list[str]:
    nav = html.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    return re.findall(r">([^<>]+)</a>", nav)


@pytest.mark.parametrize(
    "url", ["/stock", "/stock/pick", "/pcns", "/pcns/PCN000001", "/parts", "/locations"]
)
async def test_pages_send_anonymous_visitors_to_the_login(
    client: httpx.AsyncClient, url: str
) -> None:
    response = await client.get(url, headers=HTML)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert url.replace("/", "%2F") in response.headers["location"]


async def test_viewer_reads_lists_but_gets_no_operations(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login
) -> None:
    await as_role(client, make_user, login, "viewer")

    home = await page(client, "/")
    assert {"Parts", "Locations", "PCNs"} <= set(nav_labels(home))
    assert "Stock operations" not in nav_labels(home)
    for url in ("/parts", "/locations", "/warehouses", "/pcns"):
        html = await page(client, url)
        assert "data-api" not in html, url  # no create forms for viewers
    for url in ("/stock", "/stock/receive", "/stock/pick", "/stock/restock", "/stock/adjust"):
        await page(client, url, status=403)


async def test_operator_gets_operations_but_not_the_count_adjustment(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login
) -> None:
    await as_role(client, make_user, login, "operator")

    home = await page(client, "/stock")
    assert "Stock operations" in nav_labels(home)
    assert 'href="/stock/pick"' in home
    assert 'href="/stock/adjust"' not in home
    await page(client, "/stock/adjust", status=403)


async def test_manager_gets_the_count_adjustment(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    site = await a_site(session)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    await as_role(client, make_user, login, "manager")

    html = await page(client, f"/stock/adjust?pcn={lot.pcn}&location_id={site.bin_ids[0]}")

    assert 'data-api="/api/v1/stock/adjust"' in html
    assert f'value="{lot.pcn}"' in html
    assert f'name="location_id" data-type="int" value="{site.bin_ids[0]}"' in html
    assert 'href="/stock/adjust"' in await page(client, "/stock")


@pytest.mark.parametrize(
    ("url", "api", "first"),
    [
        ("/stock/receive", "/api/v1/stock/receive", "part_number"),
        ("/stock/pick", "/api/v1/stock/pick", "part_number"),
        ("/stock/restock", "/api/v1/stock/restock", "pcn"),
        ("/stock/transfer", "/api/v1/stock/transfer", "pcn"),
        ("/stock/consume", "/api/v1/stock/consume", "pcn"),
    ],
)
async def test_operation_forms_post_json_and_focus_their_first_field(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    login: Login,
    session: AsyncSession,
    url: str,
    api: str,
    first: str,
) -> None:
    site = await a_site(session)
    await as_role(client, make_user, login, "operator")

    html = await page(client, url)

    form = html.split(f'<form data-api="{api}"', 1)[1].split("</form>", 1)[0]
    assert "data-scan" in form
    focused = re.findall(r"<(?:input|select)[^>]*\sautofocus[^>]*>", html)
    assert len(focused) == 1
    assert f'name="{first}"' in focused[0]
    assert 'aria-live="polite"' in form
    assert f'data-error-for="{first}"' in form
    # the scripts are modules loaded from /static; the locations are searched as one
    # types (location-combobox.js), not shipped with the page
    assert re.search(r'<script type="module" src="/static/[0-9a-f]+/js/scan-fields.js">', html)
    assert re.search(r'src="/static/[0-9a-f]+/js/movement-result.js"', html)
    assert re.search(r'src="/static/[0-9a-f]+/js/location-combobox.js"', html)
    if url != "/stock/pick":  # the pick takes FIFO lots: it has no location field
        assert 'data-location-search="/api/v1/locations/search' in html
        assert 'role="combobox" aria-expanded="false"' in html
        assert 'role="listbox"' in html
    assert f'data-id="{site.bin_ids[0]}"' not in html


async def test_pick_page_offers_the_warehouses(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    site = await a_site(session)
    await as_role(client, make_user, login, "operator")

    html = await page(client, f"/stock/pick?part_number={site.part_number}")

    assert f'<option value="{site.warehouse_id}" selected>W' in html
    assert f'value="{site.part_number}"' in html


async def test_consume_page_offers_the_floor_of_a_one_warehouse_site(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    site = await a_site(session)
    await as_role(client, make_user, login, "operator")

    html = await page(client, "/stock/consume")

    assert f'name="location_id" data-type="int" value="{site.floor_id}"' in html


async def test_location_codes_in_two_warehouses_are_offered_with_the_warehouse(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    one, two = await a_warehouse(session, "WA"), await a_warehouse(session, "WB")
    await a_location(session, one, code="A-01")
    await a_location(session, two, code="A-01")
    await a_location(session, two, code="B-07")
    await as_role(client, make_user, login, "operator")

    # what the receive form's location field is offered as one types "a" or "b"
    html = await page(client, "/stock/receive")
    search = re.search(
        r'<input id="location_id-code" role="combobox"[^>]*data-location-search="([^"]+)"', html
    )
    assert search is not None
    url = search.group(1).replace("&amp;", "&")
    found = [
        item["value"]
        for q in ("a", "b")
        for item in (await client.get(url, params={"q": q})).json()["items"]
    ]

    assert found == ["WA/A-01", "WB/A-01", "B-07"]


# --- PCN lookup and detail -----------------------------------------------------------


async def test_pcn_detail_shows_balances_and_the_whole_history_in_site_time(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    # given a PCN received, picked and partly restocked
    site = await a_site(session)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 100)
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=30,
        warehouse_id=site.warehouse_id,
        reference="J-1042",
    )
    await stock_service.restock(session, pcn=lot.pcn, qty=5)
    await as_role(client, make_user, login, "viewer")

    # when a viewer opens it
    html = await page(client, f"/pcns/{lot.pcn}")

    # then every movement is listed, newest first, with local times
    kinds = re.findall(r'<tr data-kind="(\w+)"', html)
    assert kinds == ["restock", "pick", "receive"]
    assert "J-1042" in html
    assert 'data-testid="pcn-total"><strong>100</strong>' in html
    entries = await ledger(session, lot.id)
    local = entries[0].at.astimezone(ZoneInfo(SITE_TZ)).strftime("%Y-%m-%d %H:%M:%S")
    assert local in html
    assert f"times in {SITE_TZ}" in html
    # and a viewer gets no operation links
    assert "/stock/restock" not in html
    assert "/stock/pick" not in html


async def test_pcn_detail_gives_operators_the_operations(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    site = await a_site(session)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=4,
        warehouse_id=site.warehouse_id,
        reference="J-1",
    )
    await as_role(client, make_user, login, "operator")

    html = await page(client, f"/pcns/{lot.pcn}")

    assert f'href="/stock/restock?pcn={lot.pcn}"' in html
    assert f"/stock/transfer?pcn={lot.pcn}&amp;from_location_id={site.bin_ids[0]}" in html
    assert "/stock/adjust" not in html  # managers only


async def test_pcn_history_filters_by_kind_and_pages(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    site = await a_site(session)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 100)
    for _ in range(55):
        await stock_service.transfer(
            session,
            pcn=lot.pcn,
            qty=1,
            from_location_id=site.bin_ids[0],
            to_location_id=site.bin_ids[1],
        )
    await as_role(client, make_user, login, "viewer")

    first = await page(client, f"/pcns/{lot.pcn}")
    receipts = await page(client, f"/pcns/{lot.pcn}?kind=receive")

    assert len(re.findall(r'<tr data-kind="', first)) == 50
    assert 'href="?offset=50#history">Older' in first
    assert re.findall(r'<tr data-kind="(\w+)"', receipts) == ["receive"]
    second = await page(client, f"/pcns/{lot.pcn}?offset=50")
    assert len(re.findall(r'<tr data-kind="', second)) == 6


async def test_pcn_lookup_goes_to_the_pcn_or_says_it_is_unknown(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    site = await a_site(session)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    await as_role(client, make_user, login, "viewer")

    found = await client.get(f"/pcns?pcn=%20{lot.pcn}%20", headers=HTML)
    missing = await page(client, "/pcns?pcn=NOPE-1", status=404)

    assert found.status_code == 303
    assert found.headers["location"] == f"/pcns/{lot.pcn}"
    assert "No PCN NOPE-1." in missing
    assert 'aria-invalid="true"' in missing
    await page(client, "/pcns/NOPE-1", status=404)


async def test_label_page_shows_the_label_with_a_print_button(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    site = await a_site(session)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 250)
    await as_role(client, make_user, login, "viewer")

    html = await page(client, f"/pcns/{lot.pcn}/label")

    assert f'src="/api/v1/pcns/{lot.pcn}/label.svg"' in html
    assert "data-print" in html
    assert re.search(r'src="/static/[0-9a-f]+/js/print-button.js"', html)
    assert "quantity 250 pcs" in html


# --- parts ----------------------------------------------------------------------------


async def test_part_list_searches_and_pages(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    for i in range(55):
        await a_part(session, f"RES-{i:03d}", description=f"Resistor {i} ohm")
    await a_part(session, "CAP-001", description="Capacitor 100nF", mpn="GRM155R71C104KA88D")
    await as_role(client, make_user, login, "viewer")

    first = await page(client, "/parts")
    second = await page(client, "/parts?offset=50")
    by_mpn = await page(client, "/parts?q=grm155")

    assert "1\u201350 of 56 parts" in first
    assert 'href="?offset=50">Next' in first
    assert "51\u201356 of 56 parts" in second
    assert "CAP-001" in by_mpn
    assert "RES-000" not in by_mpn
    assert 'name="q"' in first
    assert "autofocus" in first


async def test_part_list_offers_operators_the_new_part_form(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login
) -> None:
    await as_role(client, make_user, login, "operator")

    html = await page(client, "/parts")

    assert 'data-api="/api/v1/parts"' in html


async def test_part_detail_shows_storage_floor_and_total(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    site = await a_site(session)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 100)
    await stock_in(session, site.part_number, site.bin_ids[1], 50)
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=120,
        warehouse_id=site.warehouse_id,
        reference="J-7",
    )
    await as_role(client, make_user, login, "operator")

    html = await page(client, f"/parts/{site.part_id}")

    assert 'data-testid="storage-qty">30<' in html
    assert 'data-testid="floor-qty">120<' in html
    assert 'data-testid="total-qty">150<' in html
    assert f'href="/pcns/{lot.pcn}"' in html
    assert html.count('<tr data-kind="pick"') == 2
    assert f"/stock/pick?part_number={site.part_number}" in html


async def test_part_detail_shows_reserved_and_available_per_warehouse(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    from tests.support.sales import a_customer, an_order

    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 40)
    customer = await a_customer(session)
    await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 15)],
        confirm=True,
    )
    await as_role(client, make_user, login, "viewer")

    html = await page(client, f"/parts/{site.part_id}")

    table = html[html.index('data-testid="availability"') :]
    cells = re.findall(r'<td class="num">([^<]*)</td>', table[: table.index("</table>")])
    assert cells == ["40", "15", "25"]


# --- locations and warehouses -----------------------------------------------------------


async def test_location_detail_lists_its_contents(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    site = await a_site(session)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 70)
    await as_role(client, make_user, login, "viewer")

    html = await page(client, f"/locations/{site.bin_ids[0]}")
    listing = await page(client, f"/locations?warehouse_id={site.warehouse_id}")

    assert f'href="/pcns/{lot.pcn}"' in html
    assert 'data-testid="location-units"><strong>70</strong> units in 1 PCN' in html
    assert '<tr data-kind="receive"' in html
    assert f'href="/locations/{site.bin_ids[0]}">BIN-1' in listing
    assert f'href="/locations/{site.floor_id}">MFG' in listing


async def test_warehouse_list_offers_managers_the_create_form(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    await a_site(session)
    await as_role(client, make_user, login, "manager")

    html = await page(client, "/warehouses")
    locations = await page(client, "/locations")

    assert "Warehouse W" in html
    assert 'data-api="/api/v1/warehouses"' in html
    assert 'data-api="/api/v1/locations"' in locations


async def test_dashboard_shows_stock_tiles(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    await stock_in(session, site.part_number, site.bin_ids[1], 5)
    await as_role(client, make_user, login, "viewer")

    html = await page(client, "/")

    assert re.search(r"<strong>1</strong><span>Active parts</span>", html)
    assert re.search(r"<strong>2</strong><span>PCNs</span>", html)
    assert re.search(r"<strong>2</strong><span>Movements, last 24 h</span>", html)


async def test_a_prefilled_location_comes_with_the_page(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login, session: AsyncSession
) -> None:
    site = await a_site(session, bins=3)
    await as_role(client, make_user, login, "operator")

    html = await page(client, f"/stock/receive?location_id={site.bin_ids[2]}")

    assert f'name="location_id" data-type="int" value="{site.bin_ids[2]}"' in html
    field = re.search(r'<input id="location_id-code" role="combobox"[^>]*>', html)
    assert field is not None
    assert 'value="BIN-3"' in field.group(0)
    assert "BIN-2" not in html
