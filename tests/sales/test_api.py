"""Sales routes: status codes, problem+json, strict input, the empty ship body."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support.stock import a_site, stock_in


async def test_customer_and_order_round_trip(
    client: httpx.AsyncClient, operator_headers: dict[str, str], session: AsyncSession
) -> None:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    made = await client.post(
        "/api/v1/customers",
        json={"name": "Ada Shop", "email": "ada@example.com"},
        headers=operator_headers,
    )
    assert made.status_code == 201, made.text
    customer_id = made.json()["id"]
    listed = await client.get("/api/v1/customers?q=ada", headers=operator_headers)
    assert listed.json()["total"] == 1

    created = await client.post(
        "/api/v1/sales-orders",
        json={
            "customer_id": customer_id,
            "warehouse_id": site.warehouse_id,
            "lines": [{"part_number": site.part_number, "qty": 4, "unit_price": "2.50"}],
        },
        headers=operator_headers,
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "draft"
    assert order["number"].startswith("SO-")

    confirmed = await client.post(
        f"/api/v1/sales-orders/{order['id']}/confirm", headers=operator_headers
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["lines"][0]["qty_reserved"] == 4

    availability = await client.get(
        f"/api/v1/availability?warehouse_id={site.warehouse_id}&part_id={site.part_id}",
        headers=operator_headers,
    )
    assert availability.json()["items"] == [
        {"part_id": site.part_id, "on_hand": 10, "reserved": 4, "available": 6, "on_order": 0}
    ]

    # an empty body ships everything still open
    shipped = await client.post(
        f"/api/v1/sales-orders/{order['id']}/ship", headers=operator_headers
    )
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "shipped"
    assert shipped.json()["lines"][0]["qty_shipped"] == 4

    again = await client.post(
        f"/api/v1/sales-orders/{order['id']}/cancel", headers=operator_headers
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    assert again.json()["code"] == "invalid_status"


async def test_filters_and_not_found(
    client: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    missing = await client.get("/api/v1/sales-orders/999999", headers=operator_headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "sales_order_not_found"
    empty = await client.get(
        "/api/v1/sales-orders?external_id=727&status=confirmed", headers=operator_headers
    )
    assert empty.status_code == 200
    assert empty.json() == {"items": [], "total": 0, "next": None}
    bad_status = await client.get("/api/v1/sales-orders?status=nope", headers=operator_headers)
    assert bad_status.status_code == 422


@pytest.mark.parametrize("qty", ["12abc", "1e3", 1.5, True, "", 0, -1, 1_000_000_001, "3"])
async def test_quantities_are_strict(
    client: httpx.AsyncClient, operator_headers: dict[str, str], qty: object
) -> None:
    answer = await client.post(
        "/api/v1/sales-orders",
        json={
            "customer_id": 1,
            "warehouse_id": 1,
            "lines": [{"part_number": "X", "qty": qty}],
        },
        headers=operator_headers,
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["lines", 0, "qty"]


async def test_ship_lines_and_roles(
    client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    make_user,  # type: ignore[no-untyped-def]
    token_for,  # type: ignore[no-untyped-def]
    session: AsyncSession,
) -> None:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    customer = (
        await client.post("/api/v1/customers", json={"name": "B"}, headers=operator_headers)
    ).json()
    order = (
        await client.post(
            "/api/v1/sales-orders",
            json={
                "customer_id": customer["id"],
                "warehouse_id": site.warehouse_id,
                "lines": [{"part_number": site.part_number, "qty": 5, "unit_price": 1}],
                "confirm": True,
            },
            headers=operator_headers,
        )
    ).json()
    assert order["status"] == "confirmed", order
    line_id = order["lines"][0]["id"]
    partial = await client.post(
        f"/api/v1/sales-orders/{order['id']}/ship",
        json={"lines": [{"line_id": line_id, "qty": 2}], "version": order["version"]},
        headers=operator_headers,
    )
    assert partial.status_code == 200, partial.text
    assert partial.json()["status"] == "partially_shipped"
    stale = await client.post(
        f"/api/v1/sales-orders/{order['id']}/ship",
        json={"version": order["version"]},
        headers=operator_headers,
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"

    viewer = await make_user("viewer")
    viewer_headers = {"authorization": f"Bearer {await token_for(viewer)}"}
    refused = await client.post(
        f"/api/v1/sales-orders/{order['id']}/cancel", headers=viewer_headers
    )
    assert refused.status_code == 403
    seen = await client.get(f"/api/v1/sales-orders/{order['id']}", headers=viewer_headers)
    assert seen.status_code == 200
