"""Warehouse and location routes: contract shapes, validation, roles, detail contents."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("sessions")


async def _warehouse(client: httpx.AsyncClient, headers: dict[str, str], code: str) -> dict:  # type: ignore[type-arg]
    response = await client.post(
        "/api/v1/warehouses", json={"code": code, "name": f"Warehouse {code}"}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_warehouse_contract(client: httpx.AsyncClient, manager_headers) -> None:  # type: ignore[no-untyped-def]
    body = await _warehouse(client, manager_headers, "MAIN")
    assert body["id"] > 0
    assert body["mfg_location_id"] > 0
    floor = await client.get(
        f"/api/v1/locations/{body['mfg_location_id']}", headers=manager_headers
    )
    assert floor.json()["code"] == "MFG"
    assert floor.json()["kind"] == "mfg_floor"
    listed = await client.get("/api/v1/warehouses", headers=manager_headers)
    assert listed.json()["items"][0]["mfg_location_id"] == body["mfg_location_id"]
    one = await client.get(f"/api/v1/warehouses/{body['id']}", headers=manager_headers)
    assert one.json()["code"] == "MAIN"
    duplicate = await client.post(
        "/api/v1/warehouses", json={"code": "MAIN", "name": "x"}, headers=manager_headers
    )
    assert duplicate.status_code == 409


async def test_location_contract(client: httpx.AsyncClient, manager_headers) -> None:  # type: ignore[no-untyped-def]
    warehouse = await _warehouse(client, manager_headers, "W")
    response = await client.post(
        "/api/v1/locations",
        json={"warehouse_id": warehouse["id"], "code": "A-01-02", "kind": "storage"},
        headers=manager_headers,
    )
    assert response.status_code == 201
    location_id = response.json()["id"]
    again = await client.post(
        "/api/v1/locations",
        json={"warehouse_id": warehouse["id"], "code": "A-01-02", "kind": "storage"},
        headers=manager_headers,
    )
    assert again.status_code == 409
    assert again.json()["code"] == "location_code_taken"
    listed = await client.get(
        "/api/v1/locations",
        params={"warehouse_id": warehouse["id"], "kind": "storage"},
        headers=manager_headers,
    )
    assert [loc["id"] for loc in listed.json()["items"]] == [location_id]
    detail = await client.get(f"/api/v1/locations/{location_id}", headers=manager_headers)
    assert detail.json()["contents"] == []
    assert detail.json()["warehouse_code"] == "W"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "X", "kind": "storage"}, "warehouse_id"),
        ({"warehouse_id": "1", "code": "X", "kind": "storage"}, "warehouse_id"),
        ({"warehouse_id": 1, "code": "", "kind": "storage"}, "code"),
        ({"warehouse_id": 1, "code": "has space", "kind": "storage"}, "code"),
        ({"warehouse_id": 1, "code": "X", "kind": "attic"}, "kind"),
        ({"warehouse_id": 1, "code": "X", "kind": "storage", "extra": 1}, "extra"),
    ],
)
async def test_location_validation(client: httpx.AsyncClient, manager_headers, body, field) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/locations", json=body, headers=manager_headers)
    assert response.status_code == 422
    assert field in [e["loc"][-1] for e in response.json()["errors"]]


async def test_unknown_warehouse_and_location_are_404(
    client: httpx.AsyncClient, manager_headers
) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/api/v1/locations",
        json={"warehouse_id": 999999, "code": "X", "kind": "storage"},
        headers=manager_headers,
    )
    assert response.status_code == 404
    assert (
        await client.get("/api/v1/warehouses/999999", headers=manager_headers)
    ).status_code == 404
    assert (
        await client.get("/api/v1/locations/999999", headers=manager_headers)
    ).status_code == 404


async def test_operators_cannot_create_warehouses_or_locations(
    client: httpx.AsyncClient, operator_headers
) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/api/v1/warehouses", json={"code": "OP", "name": "x"}, headers=operator_headers
    )
    assert response.status_code == 403
    assert (await client.get("/api/v1/warehouses", headers=operator_headers)).status_code == 200


async def test_location_detail_lists_contents(client: httpx.AsyncClient, manager_headers) -> None:  # type: ignore[no-untyped-def]
    warehouse = await _warehouse(client, manager_headers, "C")
    location = (
        await client.post(
            "/api/v1/locations",
            json={"warehouse_id": warehouse["id"], "code": "BIN", "kind": "storage"},
            headers=manager_headers,
        )
    ).json()
    for number in ("B-PART", "A-PART"):
        await client.post("/api/v1/parts", json={"number": number}, headers=manager_headers)
        received = await client.post(
            "/api/v1/stock/receive",
            json={"part_number": number, "qty": 5, "location_id": location["id"]},
            headers=manager_headers,
        )
        assert received.status_code == 201
    detail = (
        await client.get(f"/api/v1/locations/{location['id']}", headers=manager_headers)
    ).json()
    assert [(c["part_number"], c["qty"]) for c in detail["contents"]] == [
        ("A-PART", 5),
        ("B-PART", 5),
    ]
    assert (detail["contents_total"], detail["total_qty"]) == (2, 10)
    page = await client.get(
        f"/api/v1/locations/{location['id']}/contents",
        params={"limit": 1},
        headers=manager_headers,
    )
    assert page.json()["total"] == 2
    assert page.json()["next"] is not None
