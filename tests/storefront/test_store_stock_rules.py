"""A store's stock rules: a part's own safety buffer or its exclusion, beside the global
buffer; and a store that draws on several warehouses in priority order (pushed levels sum
them, a web order goes to the first that has every line)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.sales import service as sales_service
from kosh.storefront.models import OutboxEvent
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, web_orders
from tests.support.stock import a_location, a_warehouse, stock_in

ORDER_727 = "order_727_processing_guest_docs_create_response.json"


async def _store(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    [store] = (await client.get("/api/v1/storefront/stores", headers=headers)).json()
    return store


async def _patch(
    client: httpx.AsyncClient, shop: Shop, headers: dict[str, str], **changes: Any
) -> httpx.Response:
    store = await _store(client, headers)
    return await client.patch(
        f"/api/v1/storefront/stores/{shop.code}",
        json={"version": store["version"], **changes},
        headers=headers,
    )


async def _no_initial_push(session: AsyncSession) -> None:
    # the first full push is tested in test_reconcile; here only the pushes count
    await session.execute(delete(OutboxEvent).where(OutboxEvent.kind == "reconcile"))
    await session.commit()


async def _available(session: AsyncSession, part_id: int, warehouse_id: int) -> int:
    await session.rollback()
    found = await sales_service.available(session, part_ids=[part_id], warehouse_id=warehouse_id)
    return found[part_id]


async def test_part_buffer_and_exclusion_beside_the_global_buffer(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    fake_store: fakestore.FakeStore,
    admin_headers: dict[str, str],
    manager_headers: dict[str, str],
    worker_settings: Settings,
) -> None:
    # given three products in the shop, a global buffer of 2
    for sku in ("Bar3", "WOO-ALBUM-1", "WOO-SINGLE-1"):
        fake_store.add_product(sku, stock=5)
    assert (await _patch(client, shop, admin_headers, stock_push=True)).status_code == 200
    await _no_initial_push(session)
    # when Bar3 keeps 10 back for this store and WOO-ALBUM-1 is excluded
    for body in (
        {"part_number": "Bar3", "buffer": 10},
        {"part_number": "WOO-ALBUM-1", "excluded": True},
    ):
        answer = await client.put(
            f"/api/v1/storefront/stores/{shop.code}/stock-rules", json=body, headers=manager_headers
        )
        assert answer.status_code == 200, answer.text
    for number in ("Bar3", "WOO-ALBUM-1", "WOO-SINGLE-1"):
        await stock_in(session, number, shop.bin_id, 1)
    await drain(worker_settings.model_copy(update={"storefront_stock_buffer": 2}))
    # then each level follows its rule
    bar3 = await _available(session, shop.parts["Bar3"], shop.warehouse_id)
    single = await _available(session, shop.parts["WOO-SINGLE-1"], shop.warehouse_id)
    assert fake_store.stock_of("Bar3") == bar3 - 10
    assert fake_store.stock_of("WOO-SINGLE-1") == single - 2
    assert fake_store.stock_of("WOO-ALBUM-1") == 5  # excluded: never sent
    sent = [u["id"] for r in fake_store.batches for u in r.body["update"]]
    assert len(sent) == 2
    listed = await client.get(
        f"/api/v1/storefront/stores/{shop.code}/stock-rules", headers=admin_headers
    )
    assert [(r["part_id"], r["buffer"], r["excluded"]) for r in listed.json()] == sorted(
        [(shop.parts["Bar3"], 10, False), (shop.parts["WOO-ALBUM-1"], None, True)]
    )
    unknown = await client.put(
        f"/api/v1/storefront/stores/{shop.code}/stock-rules",
        json={"part_number": "NO-SUCH", "buffer": 1},
        headers=manager_headers,
    )
    assert unknown.status_code == 404
    negative = await client.put(
        f"/api/v1/storefront/stores/{shop.code}/stock-rules",
        json={"part_number": "Bar3", "buffer": -1},
        headers=manager_headers,
    )
    assert negative.status_code == 422


async def test_several_warehouses_sum_and_orders_take_the_first_that_has_them(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    drain: Any,
    fake_store: fakestore.FakeStore,
    admin_headers: dict[str, str],
) -> None:
    # given a second warehouse with 40 of Bar3 and nothing else, first in priority
    async with sessions() as fresh:
        second = await a_warehouse(fresh)
        bin_two = await a_location(fresh, second, code="BIN-1")
        second_id, bin_two_id = second.id, bin_two.id
        await fresh.commit()
    await stock_in(session, "Bar3", bin_two_id, 40)
    fake_store.add_product("Bar3", stock=0)
    refused = await _patch(
        client, shop, admin_headers, warehouse_ids=[second_id, 99_999_999], stock_push=True
    )
    assert refused.status_code == 404
    changed = await _patch(
        client, shop, admin_headers, warehouse_ids=[second_id, shop.warehouse_id], stock_push=True
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["warehouse_ids"] == [second_id, shop.warehouse_id]
    assert changed.json()["warehouse_id"] == second_id
    await _no_initial_push(session)
    # when stock moves, the pushed level sums both warehouses
    await stock_in(session, "Bar3", shop.bin_id, 1)
    await drain()
    main = await _available(session, shop.parts["Bar3"], shop.warehouse_id)
    assert fake_store.stock_of("Bar3") == 40 + main
    # and a web order the second warehouse cannot fill goes to the main one
    body, headers = fakestore.delivery(fakestore.load(ORDER_727), topic="order.created")
    assert (await fakestore.send(client, shop.code, body, headers)).status_code == 200
    await drain()
    [order] = await web_orders(session)
    assert (order.status, order.warehouse_id) == ("confirmed", shop.warehouse_id)


async def test_warehouse_ids_must_start_with_warehouse_id(
    client: httpx.AsyncClient, shop: Shop, admin_headers: dict[str, str]
) -> None:
    made = await client.post(
        "/api/v1/storefront/stores",
        json={
            "code": "SHOP3",
            "base_url": "https://shop3.example.com",
            "webhook_secret": "s3cret-s3cret",
            "warehouse_id": shop.warehouse_id,
            "warehouse_ids": [shop.warehouse_id + 1000, shop.warehouse_id],
        },
        headers=admin_headers,
    )
    assert made.status_code == 422
    neither = await client.post(
        "/api/v1/storefront/stores",
        json={
            "code": "SHOP3",
            "base_url": "https://shop3.example.com",
            "webhook_secret": "s3cret-s3cret",
        },
        headers=admin_headers,
    )
    assert neither.status_code == 422
    ok = await client.post(
        "/api/v1/storefront/stores",
        json={
            "code": "SHOP3",
            "base_url": "https://shop3.example.com",
            "webhook_secret": "s3cret-s3cret",
            "warehouse_ids": [shop.warehouse_id],
        },
        headers=admin_headers,
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["warehouse_ids"] == [shop.warehouse_id]
