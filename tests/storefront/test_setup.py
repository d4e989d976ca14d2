"""Connecting a shop: the setup page (webhook URL, topics, API version), test connection
against a good and a broken shop, the SKU map page (unmapped SKUs seen in orders first,
search, map, CSV import), mapping a SKU sends its stock level, and the dashboard says when
no worker runs."""

from __future__ import annotations

import socket
from typing import Any

import httpx
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.sales import service as sales_service
from kosh.storefront import setup
from kosh.storefront.models import OutboxEvent
from tests.storefront import fakestore
from tests.storefront.conftest import Shop

ORDER_727 = "order_727_processing_guest_docs_create_response.json"
HTML = {"accept": "text/html"}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _store(
    client: httpx.AsyncClient, headers: dict[str, str], code: str, url: str, **extra: Any
) -> None:
    made = await client.post(
        "/api/v1/storefront/stores",
        json={
            "code": code,
            "base_url": url,
            "webhook_secret": "s3cret-s3cret",
            "warehouse_id": extra.pop("warehouse_id"),
            **extra,
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text


async def test_connection_to_a_good_and_broken_shops(
    client: httpx.AsyncClient,
    shop: Shop,
    fake_store: fakestore.FakeStore,
    admin_headers: dict[str, str],
    manager_headers: dict[str, str],
) -> None:
    # the good shop: every check passes
    good = await client.post(f"/api/v1/storefront/stores/{shop.code}/test", headers=admin_headers)
    assert good.status_code == 200, good.text
    body = good.json()
    assert body["ok"] is True
    assert [c["name"] for c in body["checks"]] == [
        "webhook secret",
        "REST API key",
        "read orders",
        "read products",
    ]
    # a shop with a wrong secret: 401, said plainly
    await _store(
        client,
        admin_headers,
        "WRONG",
        fake_store.url,
        warehouse_id=shop.warehouse_id,
        consumer_key=fakestore.CONSUMER_KEY,
        consumer_secret="not-the-secret",
    )
    wrong = (
        await client.post("/api/v1/storefront/stores/WRONG/test", headers=admin_headers)
    ).json()
    assert wrong["ok"] is False
    assert "the key or secret is wrong" in wrong["checks"][2]["detail"]
    # a shop that is not there, and one without keys
    await _store(
        client,
        admin_headers,
        "GONE",
        f"http://127.0.0.1:{_closed_port()}",
        warehouse_id=shop.warehouse_id,
        consumer_key="ck",
        consumer_secret="cs",
    )
    gone = (await client.post("/api/v1/storefront/stores/GONE/test", headers=admin_headers)).json()
    assert gone["ok"] is False
    assert [c["ok"] for c in gone["checks"]] == [True, True, False, False]
    await _store(client, admin_headers, "NOKEYS", fake_store.url, warehouse_id=shop.warehouse_id)
    nokeys = (
        await client.post("/api/v1/storefront/stores/NOKEYS/test", headers=admin_headers)
    ).json()
    assert (nokeys["ok"], nokeys["checks"][-1]["name"]) == (False, "REST API key")
    # managers may not call the shop with the stored keys; unknown stores are 404
    assert (
        await client.post(f"/api/v1/storefront/stores/{shop.code}/test", headers=manager_headers)
    ).status_code == 403
    assert (
        await client.post("/api/v1/storefront/stores/NOPE/test", headers=admin_headers)
    ).status_code == 404


async def test_setup_page_and_webhook_url(
    client: httpx.AsyncClient, shop: Shop, admin_headers: dict[str, str], settings: Settings
) -> None:
    page = await client.get(f"/storefront/stores/{shop.code}", headers={**admin_headers, **HTML})
    assert page.status_code == 200
    assert "/api/v1/storefront/woocommerce/SHOP/webhook" in page.text
    assert "order.created, order.updated, order.deleted, order.restored" in page.text
    assert setup.API_VERSION in page.text
    assert "KOSH_PUBLIC_URL is not set" in page.text
    assert 'data-testid="test-connection"' in page.text
    assert 'data-method="PATCH"' in page.text
    public = settings.model_copy(update={"public_url": "https://kosh.example.com/"})
    assert (
        setup.webhook_url(public, store_code="SHOP", request_base="http://127.0.0.1:8000/")
        == "https://kosh.example.com/api/v1/storefront/woocommerce/SHOP/webhook"
    )
    missing = await client.get("/storefront/stores/NOPE", headers={**admin_headers, **HTML})
    assert missing.status_code == 404


async def test_sku_map_page_lists_unmapped_first_and_imports_csv(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    manager_headers: dict[str, str],
) -> None:
    # given an order waiting in review for an unknown SKU
    payload = fakestore.load(ORDER_727)
    payload["line_items"][1]["sku"] = "SHOP-ONLY-SKU"
    body, headers = fakestore.delivery(payload, topic="order.created")
    await fakestore.send(client, shop.code, body, headers)
    await drain()
    html = {**manager_headers, **HTML}
    page = await client.get(f"/storefront/stores/{shop.code}/sku-map", headers=html)
    assert page.status_code == 200
    unmapped = page.text.split('data-testid="unmapped"')[1].split("</table>")[0]
    assert "SHOP-ONLY-SKU" in unmapped
    assert 'value="SHOP-ONLY-SKU"' in page.text  # the map form starts with it
    assert 'data-api="/api/v1/storefront/sku-map"' in page.text
    # a CSV with one bad row changes nothing
    bad = await client.post(
        f"/api/v1/storefront/stores/{shop.code}/sku-map/import",
        json={
            "csv": "sku,part_number\nSHOP-ONLY-SKU,Bar3\nOTHER,NO-SUCH-PART\n,Bar3\n"
            "SHOP-ONLY-SKU,Bar3"
        },
        headers=manager_headers,
    )
    assert bad.status_code == 422
    assert [e["loc"] for e in bad.json()["errors"]] == [["csv", 3], ["csv", 4], ["csv", 5]]
    # a good one maps every row
    good = await client.post(
        f"/api/v1/storefront/stores/{shop.code}/sku-map/import",
        json={"csv": "sku,part_number\nSHOP-ONLY-SKU,Bar3\nALSO-BAR,Bar3\nproduct:93,WOO-ALBUM-1"},
        headers=manager_headers,
    )
    assert good.status_code == 200, good.text
    assert good.json() == {"mapped": 3, "replaced": 1}  # product:93 was PART-93
    searched = await client.get(f"/storefront/stores/{shop.code}/sku-map?q=only", headers=html)
    mapped = searched.text.split('data-testid="mapped"')[1]
    assert "SHOP-ONLY-SKU" in mapped
    assert "ALSO-BAR" not in mapped
    empty = await client.post(
        f"/api/v1/storefront/stores/{shop.code}/sku-map/import",
        json={"csv": "sku,part_number\n"},
        headers=manager_headers,
    )
    assert empty.status_code == 422


async def test_mapping_a_sku_sends_its_stock_level(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    admin_headers: dict[str, str],
    manager_headers: dict[str, str],
) -> None:
    # given a pushing store whose shop sells Bar3 under its own SKU
    fake_store.add_product("SHOP-BAR", stock=0)
    [store] = (await client.get("/api/v1/storefront/stores", headers=admin_headers)).json()
    await client.patch(
        f"/api/v1/storefront/stores/{shop.code}",
        json={"version": store["version"], "stock_push": True},
        headers=admin_headers,
    )
    await session.execute(delete(OutboxEvent).where(OutboxEvent.kind == "reconcile"))
    await session.commit()
    # when a person maps the SKU
    mapped = await client.post(
        "/api/v1/storefront/sku-map",
        json={"store_code": shop.code, "sku": "SHOP-BAR", "part_number": "Bar3"},
        headers=manager_headers,
    )
    assert mapped.status_code == 201, mapped.text
    await drain()
    # then the shop shows the part's level
    await session.rollback()
    level = await sales_service.available(
        session, part_ids=[shop.parts["Bar3"]], warehouse_id=shop.warehouse_id
    )
    assert fake_store.stock_of("SHOP-BAR") == level[shop.parts["Bar3"]]


async def test_dashboard_says_when_no_worker_runs(
    client: httpx.AsyncClient, shop: Shop, manager_headers: dict[str, str]
) -> None:
    board = await client.get("/storefront", headers={**manager_headers, **HTML})
    assert 'data-testid="no-worker"' in board.text
    assert "kosh worker" in board.text
    assert f'href="/storefront/stores/{shop.code}"' in board.text
