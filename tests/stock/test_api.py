"""Stock routes: the contract shapes, every validation rule, roles, 404/409/422 problems,
idempotent replay of each operation, PCN / part / location reads and history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("sessions")

Headers = dict[str, str]


@dataclass
class World:
    warehouse_id: int
    floor_id: int
    bins: list[int]
    part_id: int
    part_number: str


@pytest.fixture
async def viewer_headers(make_user, token_for) -> Headers:  # type: ignore[no-untyped-def]
    viewer = await make_user("viewer")
    return {"authorization": f"Bearer {await token_for(viewer)}"}


@pytest.fixture
async def world(client: httpx.AsyncClient, manager_headers: Headers) -> World:
    warehouse = (
        await client.post(
            "/api/v1/warehouses", json={"code": "MAIN", "name": "Main"}, headers=manager_headers
        )
    ).json()
    bins = []
    for code in ("A-1", "A-2"):
        response = await client.post(
            "/api/v1/locations",
            json={"warehouse_id": warehouse["id"], "code": code, "kind": "storage"},
            headers=manager_headers,
        )
        bins.append(response.json()["id"])
    part = (
        await client.post(
            "/api/v1/parts",
            json={"number": "RES-10K", "description": "Resistor 10k", "unit": "pcs"},
            headers=manager_headers,
        )
    ).json()
    return World(warehouse["id"], warehouse["mfg_location_id"], bins, part["id"], "RES-10K")


async def _post(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: Headers
) -> httpx.Response:
    return await client.post(f"/api/v1/stock/{path}", json=body, headers=headers)


async def _receive(
    client: httpx.AsyncClient,
    world: World,
    headers: Headers,
    qty: int = 100,
    bin_index: int = 0,
    **extra: Any,
) -> str:
    response = await _post(
        client,
        "receive",
        {
            "part_number": world.part_number,
            "qty": qty,
            "location_id": world.bins[bin_index],
            **extra,
        },
        headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["pcn"])


# --- contract ------------------------------------------------------------------------


async def test_receive_pick_restock_contract(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    received = await _post(
        client,
        "receive",
        {
            "part_number": "RES-10K",
            "qty": 300,
            "location_id": world.bins[0],
            "date_code": "2431",
            "supplier": "Digi-Key",
            "reference": "PO-1",
        },
        operator_headers,
    )
    assert received.status_code == 201
    pcn = received.json()["pcn"]
    picked = await _post(
        client,
        "pick",
        {
            "part_number": "RES-10K",
            "qty": 200,
            "warehouse_id": world.warehouse_id,
            "reference": "J-1042",
        },
        operator_headers,
    )
    assert picked.status_code == 200
    assert picked.json()["lines"] == [
        {
            "pcn": pcn,
            "lot_id": received.json()["lot_id"],
            "qty": 200,
            "from_location_id": world.bins[0],
            "from_location_code": "A-1",
        }
    ]
    assert (picked.json()["to_location_id"], picked.json()["to_location_code"]) == (
        world.floor_id,
        "MFG",
    )
    restocked = await _post(client, "restock", {"pcn": pcn, "qty": 50}, operator_headers)
    assert restocked.status_code == 200
    assert restocked.json()["to_location_id"] == world.bins[0]
    assert (restocked.json()["from_location_code"], restocked.json()["to_location_code"]) == (
        "MFG",
        "A-1",
    )
    detail = await client.get(f"/api/v1/pcns/{pcn}", headers=operator_headers)
    assert detail.status_code == 200
    body = detail.json()
    assert (body["pcn"], body["part_number"], body["total_qty"]) == (pcn, "RES-10K", 300)
    assert {(b["location_id"], b["qty"]) for b in body["balances"]} == {
        (world.bins[0], 150),
        (world.floor_id, 150),
    }
    assert body["received_at"].endswith("Z")
    history = await client.get(f"/api/v1/pcns/{pcn}/history", headers=operator_headers)
    assert [e["kind"] for e in history.json()["items"]] == ["restock", "pick", "receive"]
    stock = (
        await client.get(f"/api/v1/parts/{world.part_id}/stock", headers=operator_headers)
    ).json()
    assert (stock["storage_qty"], stock["floor_qty"], stock["total_qty"]) == (150, 150, 300)
    assert {(row["location_id"], row["qty"]) for row in stock["by_location"]} == {
        (world.bins[0], 150),
        (world.floor_id, 150),
    }


async def test_transfer_adjust_consume_contract(
    client: httpx.AsyncClient, world: World, operator_headers: Headers, manager_headers: Headers
) -> None:
    pcn = await _receive(client, world, operator_headers, qty=40)
    moved = await _post(
        client,
        "transfer",
        {"pcn": pcn, "qty": 10, "from_location_id": world.bins[0], "to_location_id": world.bins[1]},
        operator_headers,
    )
    assert moved.status_code == 200
    assert moved.json()["kind"] == "transfer"
    adjusted = await _post(
        client,
        "adjust",
        {"pcn": pcn, "location_id": world.bins[1], "counted_qty": 8, "reason": "cycle count"},
        manager_headers,
    )
    assert adjusted.status_code == 200
    assert (adjusted.json()["previous_qty"], adjusted.json()["difference"]) == (10, -2)
    consumed = await _post(
        client,
        "consume",
        {"pcn": pcn, "qty": 5, "location_id": world.bins[1], "reference": "J-7", "reason": "used"},
        operator_headers,
    )
    assert consumed.status_code == 200
    scrapped = await _post(
        client,
        "consume",
        {"pcn": pcn, "qty": 1, "location_id": world.bins[1], "reason": "bent", "scrap": True},
        operator_headers,
    )
    assert scrapped.json()["kind"] == "scrap"
    detail = (await client.get(f"/api/v1/pcns/{pcn}", headers=operator_headers)).json()
    assert {(b["location_id"], b["qty"]) for b in detail["balances"]} == {
        (world.bins[0], 30),
        (world.bins[1], 2),
    }


# --- problems ------------------------------------------------------------------------


async def test_not_enough_is_409_with_available_and_nothing_moves(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    pcn = await _receive(client, world, operator_headers, qty=30)
    response = await _post(
        client,
        "pick",
        {"part_number": "RES-10K", "qty": 31, "warehouse_id": world.warehouse_id, "reference": "J"},
        operator_headers,
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["code"], body["available"], body["requested"]) == ("insufficient_stock", 30, 31)
    assert body["lots"][0]["pcn"] == pcn
    history = await client.get(f"/api/v1/pcns/{pcn}/history", headers=operator_headers)
    assert history.json()["total"] == 1


QTY_REJECTS = ["12abc", "1e3", "-5", -5, 0, 1.5, 1e3, True, "", None, "12", 1_000_000_001, [1]]


def _bodies(world: World, pcn: str) -> dict[str, dict[str, Any]]:
    return {
        "receive": {"part_number": world.part_number, "location_id": world.bins[0]},
        "pick": {
            "part_number": world.part_number,
            "warehouse_id": world.warehouse_id,
            "reference": "J",
        },
        "restock": {"pcn": pcn, "to_location_id": world.bins[0]},
        "transfer": {
            "pcn": pcn,
            "from_location_id": world.bins[0],
            "to_location_id": world.bins[1],
        },
        "consume": {"pcn": pcn, "location_id": world.bins[0], "reason": "x"},
    }


@pytest.mark.parametrize("operation", ["receive", "pick", "restock", "transfer", "consume"])
async def test_quantities_must_be_positive_whole_numbers(
    client: httpx.AsyncClient, world: World, manager_headers: Headers, operation: str
) -> None:
    pcn = await _receive(client, world, manager_headers, qty=5)
    base = _bodies(world, pcn)[operation]
    for bad in QTY_REJECTS:
        response = await _post(client, operation, {**base, "qty": bad}, manager_headers)
        assert response.status_code == 422, (operation, bad, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert ["qty"] in [e["loc"] for e in response.json()["errors"]], (operation, bad)
    missing = await _post(client, operation, base, manager_headers)
    assert missing.status_code == 422
    assert ["qty"] in [e["loc"] for e in missing.json()["errors"]]


async def test_counted_quantity_rules(
    client: httpx.AsyncClient, world: World, manager_headers: Headers
) -> None:
    pcn = await _receive(client, world, manager_headers, qty=5)
    base = {"pcn": pcn, "location_id": world.bins[0], "reason": "count"}
    for bad in ["12abc", "1e3", "-5", -1, 1.5, True, "", None, 1_000_000_001]:
        response = await _post(client, "adjust", {**base, "counted_qty": bad}, manager_headers)
        assert response.status_code == 422, (bad, response.text)
        assert ["counted_qty"] in [e["loc"] for e in response.json()["errors"]]
    zero = await _post(client, "adjust", {**base, "counted_qty": 0}, manager_headers)
    assert zero.status_code == 200


@pytest.mark.parametrize(
    ("operation", "body", "field"),
    [
        ("receive", {"qty": 1, "location_id": 1}, "part_number"),
        ("receive", {"part_number": "", "qty": 1, "location_id": 1}, "part_number"),
        ("receive", {"part_number": "P", "qty": 1}, "location_id"),
        ("receive", {"part_number": "P", "qty": 1, "location_id": "1"}, "location_id"),
        ("receive", {"part_number": "P", "qty": 1, "location_id": 0}, "location_id"),
        ("receive", {"part_number": "P", "qty": 1, "location_id": 1, "pcn": "has space"}, "pcn"),
        ("receive", {"part_number": "P", "qty": 1, "location_id": 1, "pcn": "x" * 65}, "pcn"),
        ("receive", {"part_number": "P", "qty": 1, "location_id": 1, "colour": "red"}, "colour"),
        ("pick", {"part_number": "P", "qty": 1, "warehouse_id": 1}, "reference"),
        ("pick", {"part_number": "P", "qty": 1, "warehouse_id": 1, "reference": "  "}, "reference"),
        ("pick", {"part_number": "P", "qty": 1, "reference": "J"}, "warehouse_id"),
        (
            "pick",
            {"part_number": "P", "qty": 1, "warehouse_id": 1.0, "reference": "J"},
            "warehouse_id",
        ),
        ("restock", {"qty": 1}, "pcn"),
        ("restock", {"pcn": "P/1", "qty": 1}, "pcn"),
        ("restock", {"pcn": "P", "qty": 1, "to_location_id": "abc"}, "to_location_id"),
        ("transfer", {"pcn": "P", "qty": 1, "to_location_id": 1}, "from_location_id"),
        ("transfer", {"pcn": "P", "qty": 1, "from_location_id": 1}, "to_location_id"),
        ("adjust", {"pcn": "P", "location_id": 1, "counted_qty": 1}, "reason"),
        ("adjust", {"pcn": "P", "location_id": 1, "counted_qty": 1, "reason": ""}, "reason"),
        ("adjust", {"pcn": "P", "counted_qty": 1, "reason": "x"}, "location_id"),
        ("consume", {"pcn": "P", "qty": 1, "location_id": 1}, "reason"),
        (
            "consume",
            {"pcn": "P", "qty": 1, "location_id": 1, "reason": "x", "scrap": "yes"},
            "scrap",
        ),
    ],
)
async def test_field_rules(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    operation: str,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await _post(client, operation, body, manager_headers)
    assert response.status_code == 422, response.text
    assert [field] in [e["loc"] for e in response.json()["errors"]]


async def test_malformed_json_is_400(client: httpx.AsyncClient, operator_headers: Headers) -> None:
    response = await client.post(
        "/api/v1/stock/pick",
        content=b'{"qty": 1,',
        headers={**operator_headers, "content-type": "application/json"},
    )
    assert response.status_code == 400


async def test_unknown_things_are_404(
    client: httpx.AsyncClient, world: World, manager_headers: Headers
) -> None:
    pcn = await _receive(client, world, manager_headers, qty=5)
    cases = [
        (
            "receive",
            {"part_number": "NOPE", "qty": 1, "location_id": world.bins[0]},
            "part_not_found",
        ),
        (
            "receive",
            {"part_number": world.part_number, "qty": 1, "location_id": 999999},
            "location_not_found",
        ),
        (
            "pick",
            {"part_number": world.part_number, "qty": 1, "warehouse_id": 999999, "reference": "J"},
            "warehouse_not_found",
        ),
        ("restock", {"pcn": "NOPE-1", "qty": 1}, "pcn_not_found"),
        (
            "transfer",
            {"pcn": pcn, "qty": 1, "from_location_id": world.bins[0], "to_location_id": 999999},
            "location_not_found",
        ),
        (
            "adjust",
            {"pcn": "NOPE-1", "location_id": world.bins[0], "counted_qty": 1, "reason": "x"},
            "pcn_not_found",
        ),
        (
            "consume",
            {"pcn": pcn, "qty": 1, "location_id": 999999, "reason": "x"},
            "location_not_found",
        ),
    ]
    for operation, body, code in cases:
        response = await _post(client, operation, body, manager_headers)
        assert response.status_code == 404, (operation, response.text)
        assert response.json()["code"] == code
    assert (await client.get("/api/v1/pcns/NOPE-1", headers=manager_headers)).status_code == 404
    assert (
        await client.get("/api/v1/pcns/NOPE-1/history", headers=manager_headers)
    ).status_code == 404
    assert (
        await client.get("/api/v1/parts/999999/stock", headers=manager_headers)
    ).status_code == 404
    assert (
        await client.get("/api/v1/parts/999999/history", headers=manager_headers)
    ).status_code == 404
    assert (
        await client.get("/api/v1/locations/999999/history", headers=manager_headers)
    ).status_code == 404


async def test_wrong_or_inactive_locations_are_422(
    client: httpx.AsyncClient, world: World, manager_headers: Headers
) -> None:
    pcn = await _receive(client, world, manager_headers, qty=5)
    into_floor = await _post(
        client,
        "receive",
        {"part_number": world.part_number, "qty": 1, "location_id": world.floor_id},
        manager_headers,
    )
    assert into_floor.status_code == 422
    assert ["location_id"] in [e["loc"] for e in into_floor.json()["errors"]]
    same = await _post(
        client,
        "transfer",
        {"pcn": pcn, "qty": 1, "from_location_id": world.bins[0], "to_location_id": world.bins[0]},
        manager_headers,
    )
    assert same.status_code == 422
    never_picked = await _post(client, "restock", {"pcn": pcn, "qty": 1}, manager_headers)
    assert never_picked.status_code == 422
    assert ["to_location_id"] in [e["loc"] for e in never_picked.json()["errors"]]


async def test_roles(
    client: httpx.AsyncClient, world: World, operator_headers: Headers, viewer_headers: Headers
) -> None:
    pcn = await _receive(client, world, operator_headers, qty=5)
    viewer_pick = await _post(
        client,
        "pick",
        {
            "part_number": world.part_number,
            "qty": 1,
            "warehouse_id": world.warehouse_id,
            "reference": "J",
        },
        viewer_headers,
    )
    assert viewer_pick.status_code == 403
    operator_adjust = await _post(
        client,
        "adjust",
        {"pcn": pcn, "location_id": world.bins[0], "counted_qty": 1, "reason": "x"},
        operator_headers,
    )
    assert operator_adjust.status_code == 403
    assert operator_adjust.json()["code"] == "role_required"
    assert (await client.get(f"/api/v1/pcns/{pcn}", headers=viewer_headers)).status_code == 200
    assert (await client.get(f"/api/v1/pcns/{pcn}")).status_code == 401
    verify = await client.post("/api/v1/stock/verify", headers=operator_headers)
    assert verify.status_code == 403


# --- idempotent replay ---------------------------------------------------------------


async def _twice(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], headers: Headers, key: str
) -> tuple[httpx.Response, httpx.Response]:
    keyed = {**headers, "idempotency-key": key}
    first = await _post(client, path, body, keyed)
    second = await _post(client, path, body, keyed)
    assert second.status_code == first.status_code
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    return first, second


async def _ledger_total(client: httpx.AsyncClient, world: World, headers: Headers) -> int:
    response = await client.get(f"/api/v1/parts/{world.part_id}/history", headers=headers)
    return int(response.json()["total"])


async def test_replayed_receive_changes_nothing(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    body = {"part_number": world.part_number, "qty": 7, "location_id": world.bins[0]}
    first, _ = await _twice(client, "receive", body, operator_headers, "rcv-1")
    assert first.status_code == 201
    assert await _ledger_total(client, world, operator_headers) == 1
    stock = (
        await client.get(f"/api/v1/parts/{world.part_id}/stock", headers=operator_headers)
    ).json()
    assert stock["total_qty"] == 7


async def test_replayed_pick_changes_nothing(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    await _receive(client, world, operator_headers, qty=10)
    body = {
        "part_number": world.part_number,
        "qty": 4,
        "warehouse_id": world.warehouse_id,
        "reference": "J",
    }
    first, _ = await _twice(client, "pick", body, operator_headers, "pick-1")
    assert first.status_code == 200
    stock = (
        await client.get(f"/api/v1/parts/{world.part_id}/stock", headers=operator_headers)
    ).json()
    assert (stock["storage_qty"], stock["floor_qty"]) == (6, 4)
    assert await _ledger_total(client, world, operator_headers) == 2


async def test_replayed_restock_changes_nothing(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    pcn = await _receive(client, world, operator_headers, qty=10)
    await _post(
        client,
        "pick",
        {
            "part_number": world.part_number,
            "qty": 10,
            "warehouse_id": world.warehouse_id,
            "reference": "J",
        },
        operator_headers,
    )
    await _twice(client, "restock", {"pcn": pcn, "qty": 3}, operator_headers, "restock-1")
    stock = (
        await client.get(f"/api/v1/parts/{world.part_id}/stock", headers=operator_headers)
    ).json()
    assert (stock["storage_qty"], stock["floor_qty"]) == (3, 7)
    assert await _ledger_total(client, world, operator_headers) == 3


async def test_replayed_transfer_changes_nothing(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    pcn = await _receive(client, world, operator_headers, qty=10)
    body = {
        "pcn": pcn,
        "qty": 4,
        "from_location_id": world.bins[0],
        "to_location_id": world.bins[1],
    }
    await _twice(client, "transfer", body, operator_headers, "transfer-1")
    detail = (await client.get(f"/api/v1/pcns/{pcn}", headers=operator_headers)).json()
    assert {(b["location_id"], b["qty"]) for b in detail["balances"]} == {
        (world.bins[0], 6),
        (world.bins[1], 4),
    }


async def test_replayed_adjust_changes_nothing(
    client: httpx.AsyncClient, world: World, manager_headers: Headers
) -> None:
    pcn = await _receive(client, world, manager_headers, qty=10)
    body = {"pcn": pcn, "location_id": world.bins[0], "counted_qty": 12, "reason": "count"}
    first, _ = await _twice(client, "adjust", body, manager_headers, "adjust-1")
    assert first.json()["difference"] == 2
    assert await _ledger_total(client, world, manager_headers) == 2


async def test_replayed_consume_changes_nothing(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    pcn = await _receive(client, world, operator_headers, qty=10)
    body = {"pcn": pcn, "qty": 4, "location_id": world.bins[0], "reason": "used"}
    await _twice(client, "consume", body, operator_headers, "consume-1")
    detail = (await client.get(f"/api/v1/pcns/{pcn}", headers=operator_headers)).json()
    assert detail["total_qty"] == 6


async def test_replayed_409_is_replayed_too(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    body = {
        "part_number": world.part_number,
        "qty": 4,
        "warehouse_id": world.warehouse_id,
        "reference": "J",
    }
    first, _ = await _twice(client, "pick", body, operator_headers, "pick-short")
    assert first.status_code == 409


# --- history -------------------------------------------------------------------------


async def test_history_filters_and_paging(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    pcn = await _receive(client, world, operator_headers, qty=100, reference="PO-9")
    for job in ("J-1", "J-2", "J-1"):
        await _post(
            client,
            "pick",
            {
                "part_number": world.part_number,
                "qty": 10,
                "warehouse_id": world.warehouse_id,
                "reference": job,
            },
            operator_headers,
        )
    await _post(client, "restock", {"pcn": pcn, "qty": 5}, operator_headers)

    async def history(path: str, **params: Any) -> dict[str, Any]:
        response = await client.get(path, params=params, headers=operator_headers)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    pcn_path = f"/api/v1/pcns/{pcn}/history"
    assert (await history(pcn_path))["total"] == 5
    assert (await history(pcn_path, kind="pick"))["total"] == 3
    assert (await history(pcn_path, reference="J-1"))["total"] == 2
    page = await history(pcn_path, limit=2, offset=1)
    assert [e["kind"] for e in page["items"]] == ["pick", "pick"]
    assert page["next"] is not None
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert (await history(pcn_path, since=later))["total"] == 0
    assert (await history(pcn_path, until=later))["total"] == 5
    naive = (datetime.now(UTC) - timedelta(minutes=5)).replace(tzinfo=None).isoformat()
    assert (await history(pcn_path, since=naive))["total"] == 5

    part_path = f"/api/v1/parts/{world.part_id}/history"
    assert (await history(part_path, kind="restock"))["total"] == 1

    floor = await history(f"/api/v1/locations/{world.floor_id}/history")
    assert floor["total"] == 4  # three picks in, one restock out
    assert [e["kind"] for e in floor["items"]] == ["restock", "pick", "pick", "pick"]
    first_item = floor["items"][0]
    assert (first_item["from_location_code"], first_item["to_location_code"]) == ("MFG", "A-1")
    assert first_item["at"].endswith("Z")
    floor_page = await history(f"/api/v1/locations/{world.floor_id}/history", limit=2, offset=2)
    assert [e["kind"] for e in floor_page["items"]] == ["pick", "pick"]
    bin_picks = await history(f"/api/v1/locations/{world.bins[0]}/history", kind="pick")
    assert bin_picks["total"] == 3

    bad_kind = await client.get(pcn_path, params={"kind": "steal"}, headers=operator_headers)
    assert bad_kind.status_code == 422
    bad_limit = await client.get(pcn_path, params={"limit": 1000}, headers=operator_headers)
    assert bad_limit.status_code == 422


async def test_history_counts_up_to_the_cap(
    client: httpx.AsyncClient,
    world: World,
    operator_headers: Headers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from kosh.core import pagination
    from kosh.stock import api as stock_api
    from kosh.stock import queries as stock_queries

    for module in (pagination, stock_api, stock_queries):
        monkeypatch.setattr(module, "COUNT_CAP", 3)
    pcn = await _receive(client, world, operator_headers, qty=10)
    for _ in range(4):
        await _post(
            client,
            "transfer",
            {
                "pcn": pcn,
                "qty": 1,
                "from_location_id": world.bins[0],
                "to_location_id": world.bins[1],
            },
            operator_headers,
        )
    page = (
        await client.get(
            f"/api/v1/pcns/{pcn}/history", params={"limit": 3}, headers=operator_headers
        )
    ).json()
    assert (page["total"], page["total_capped"], len(page["items"])) == (3, True, 3)
    assert page["next"] is not None
    rest = (await client.get(page["next"], headers=operator_headers)).json()
    assert [e["kind"] for e in rest["items"]] == ["transfer", "receive"]
    bin_page = (
        await client.get(f"/api/v1/locations/{world.bins[1]}/history", headers=operator_headers)
    ).json()
    assert (bin_page["total"], bin_page["total_capped"], len(bin_page["items"])) == (3, True, 4)
