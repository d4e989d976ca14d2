"""The purchasing API world: a warehouse with a bin and a goods-in area, a part, DigiKey
offering it in tens with two price breaks, and a placed PO for 500."""

from __future__ import annotations

import httpx
import pytest

from tests.purchasing.factories import Headers, World
from tests.purchasing.factories import ok as _ok


@pytest.fixture
async def world(client: httpx.AsyncClient, manager_headers: Headers) -> World:
    h = manager_headers
    warehouse = await _ok(
        await client.post("/api/v1/warehouses", json={"code": "MAIN", "name": "Main"}, headers=h),
        201,
    )
    bin_ = await _ok(
        await client.post(
            "/api/v1/locations",
            json={"warehouse_id": warehouse["id"], "code": "A-1", "kind": "storage"},
            headers=h,
        ),
        201,
    )
    goods_in = await _ok(
        await client.post(
            "/api/v1/locations",
            json={"warehouse_id": warehouse["id"], "code": "GI", "kind": "receiving"},
            headers=h,
        ),
        201,
    )
    part = await _ok(
        await client.post(
            "/api/v1/parts", json={"number": "OPAMP-358", "mpn": "LM358DR"}, headers=h
        ),
        201,
    )
    await _ok(
        await client.post(
            "/api/v1/suppliers",
            json={"code": "DIGIKEY", "name": "DigiKey", "currency": "USD"},
            headers=h,
        ),
        201,
    )
    offer = await _ok(
        await client.post(
            "/api/v1/supplier-parts",
            json={
                "supplier_code": "DIGIKEY",
                "part_number": "OPAMP-358",
                "sku": "296-1395-1-ND",
                "mpn": "LM358DR",
                "pack_size": 10,
                "prices": [
                    {"min_qty": 10, "unit_price": "0.4500"},
                    {"min_qty": 100, "unit_price": "0.3120"},
                ],
                "preferred": True,
            },
            headers=h,
        ),
        201,
    )
    assert offer["prices"] == [
        {"min_qty": 10, "unit_price": "0.4500"},
        {"min_qty": 100, "unit_price": "0.3120"},
    ]
    order = await _ok(
        await client.post(
            "/api/v1/purchase-orders",
            json={
                "supplier_code": "DIGIKEY",
                "warehouse_id": warehouse["id"],
                "lines": [{"part_number": "OPAMP-358", "qty": 500}],
            },
            headers=h,
        ),
        201,
    )
    assert order["status"] == "draft"
    assert order["number"].startswith("PO-")
    assert order["lines"][0]["unit_price"] == "0.3120"
    placed = await _ok(await client.post(f"/api/v1/purchase-orders/{order['id']}/place", headers=h))
    assert placed["status"] == "placed"
    return World(
        warehouse["id"],
        bin_["id"],
        goods_in["id"],
        part["id"],
        order["id"],
        order["number"],
        order["lines"][0]["id"],
    )
