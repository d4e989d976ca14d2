"""Document routes: contract shapes, roles, problem+json for hostile input (never a 500),
idempotent replay, paging, stocktake counts in blind mode and the variance report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("sessions")

Headers = dict[str, str]


@dataclass
class World:
    warehouse_id: int
    bins: list[int]
    part_number: str


@pytest.fixture
async def world(client: httpx.AsyncClient, manager_headers: Headers) -> World:
    warehouse = (
        await client.post(
            "/api/v1/warehouses", json={"code": "MAIN", "name": "Main"}, headers=manager_headers
        )
    ).json()
    bins = []
    for code in ("A-1", "A-2", "B-1"):
        response = await client.post(
            "/api/v1/locations",
            json={"warehouse_id": warehouse["id"], "code": code, "kind": "storage"},
            headers=manager_headers,
        )
        bins.append(response.json()["id"])
    await client.post(
        "/api/v1/parts",
        json={"number": "RES-10K", "description": "Resistor 10k", "unit_cost": "0.01"},
        headers=manager_headers,
    )
    return World(warehouse["id"], bins, "RES-10K")


async def _receive(client: httpx.AsyncClient, world: World, headers: Headers, qty: int) -> str:
    response = await client.post(
        "/api/v1/stock/receive",
        json={"part_number": world.part_number, "qty": qty, "location_id": world.bins[0]},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["pcn"])


def _problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    if code is not None:
        assert body["code"] == code
    assert body["request_id"]
    return body


async def test_transfer_document_round_trip(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    pcn = await _receive(client, world, operator_headers, 50)
    created = await client.post(
        "/api/v1/documents",
        json={
            "type": "transfer",
            "warehouse_id": world.warehouse_id,
            "notes": "move to B",
            "lines": [
                {
                    "pcn": pcn,
                    "qty": 20,
                    "from_location_id": world.bins[0],
                    "to_location_id": world.bins[2],
                }
            ],
        },
        headers=operator_headers,
    )
    assert created.status_code == 201, created.text
    document = created.json()
    assert document["status"] == "draft"
    assert document["number"].startswith("TR-")
    assert document["version"] == 1
    added = await client.post(
        f"/api/v1/documents/{document['id']}/lines",
        json={
            "part_number": world.part_number,
            "qty": 5,
            "from_location_id": world.bins[0],
            "to_location_id": world.bins[1],
            "version": 1,
        },
        headers=operator_headers,
    )
    assert added.status_code == 201, added.text
    assert [line["line_no"] for line in added.json()["lines"]] == [1, 2]
    stale = await client.post(
        f"/api/v1/documents/{document['id']}/post", json={"version": 1}, headers=operator_headers
    )
    _problem(stale, 409, "stale_version")
    posted = await client.post(
        f"/api/v1/documents/{document['id']}/post",
        json={"version": 2},
        headers={**operator_headers, "idempotency-key": "post-1"},
    )
    assert posted.status_code == 200, posted.text
    body = posted.json()
    assert body["status"] == "posted"
    assert [(m["qty"], m["kind"]) for m in body["movements"]] == [(20, "transfer"), (5, "transfer")]
    replay = await client.post(
        f"/api/v1/documents/{document['id']}/post",
        json={"version": 2},
        headers={**operator_headers, "idempotency-key": "post-1"},
    )
    assert replay.status_code == 200
    assert replay.json() == body
    again = await client.post(f"/api/v1/documents/{document['id']}/post", headers=operator_headers)
    _problem(again, 409, "invalid_status")
    history = await client.get(f"/api/v1/pcns/{pcn}/history", headers=operator_headers)
    assert history.status_code == 200
    references = {e["reference"] for e in history.json()["items"]}
    assert document["number"] in references
    listed = await client.get(
        "/api/v1/documents", params={"type": "transfer", "limit": 1}, headers=operator_headers
    )
    assert listed.status_code == 200
    assert listed.json()["total"] == 1
    assert listed.json()["items"][0]["number"] == document["number"]
    assert listed.json()["items"][0]["line_count"] == 2
    assert "lines" not in listed.json()["items"][0]
    assert listed.json()["next"] is None
    by_number = await client.get(
        "/api/v1/documents", params={"q": document["number"][:4]}, headers=operator_headers
    )
    assert by_number.json()["total"] == 1


async def test_short_line_is_a_409_naming_the_line(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    pcn = await _receive(client, world, operator_headers, 5)
    lines = [
        {"pcn": pcn, "qty": qty, "from_location_id": world.bins[0], "to_location_id": world.bins[1]}
        for qty in (1, 1, 1, 1, 9)
    ]
    created = await client.post(
        "/api/v1/documents",
        json={"type": "transfer", "warehouse_id": world.warehouse_id, "lines": lines},
        headers=operator_headers,
    )
    document_id = created.json()["id"]
    refused = await client.post(f"/api/v1/documents/{document_id}/post", headers=operator_headers)
    body = _problem(refused, 409, "insufficient_stock")
    assert body["line_no"] == 5
    assert body["available"] == 1
    detail = await client.get(f"/api/v1/documents/{document_id}", headers=operator_headers)
    assert detail.json()["status"] == "draft"
    assert detail.json()["movements"] == []


async def test_stocktake_counts_blind_and_variance(
    client: httpx.AsyncClient, world: World, operator_headers: Headers, manager_headers: Headers
) -> None:
    pcn = await _receive(client, world, operator_headers, 100)
    forbidden = await client.post(
        "/api/v1/documents",
        json={"type": "stocktake", "warehouse_id": world.warehouse_id},
        headers=operator_headers,
    )
    _problem(forbidden, 403)
    created = await client.post(
        "/api/v1/documents",
        json={
            "type": "stocktake",
            "warehouse_id": world.warehouse_id,
            "scope": {"zone": "A-"},
            "blind": True,
        },
        headers=manager_headers,
    )
    assert created.status_code == 201, created.text
    document_id = created.json()["id"]
    count = await client.post(
        f"/api/v1/documents/{document_id}/counts",
        json={"location_id": world.bins[0], "pcn": pcn, "counted_qty": 97},
        headers=operator_headers,
    )
    assert count.status_code == 200, count.text
    assert count.json()["expected_qty"] is None
    assert count.json()["counted_qty"] == 97
    outside = await client.post(
        f"/api/v1/documents/{document_id}/counts",
        json={"location_id": world.bins[2], "pcn": pcn, "counted_qty": 1},
        headers=operator_headers,
    )
    _problem(outside, 422, "location_out_of_scope")
    report = await client.get(f"/api/v1/documents/{document_id}/variance", headers=manager_headers)
    assert report.status_code == 200, report.text
    [line] = report.json()["lines"]
    assert (line["status"], line["variance"], line["expected_qty"]) == ("counted", -3, 100)
    assert report.json()["value"] in ("-0.03", "-0.0300", "-0.030000")
    denied = await client.post(f"/api/v1/documents/{document_id}/post", headers=operator_headers)
    _problem(denied, 403)
    posted = await client.post(f"/api/v1/documents/{document_id}/post", headers=manager_headers)
    assert posted.status_code == 200, posted.text
    assert [(m["kind"], m["qty"]) for m in posted.json()["movements"]] == [("adjust", 3)]
    plan = await client.get(
        "/api/v1/documents/cycle-count-plan",
        params={"warehouse_id": world.warehouse_id},
        headers=operator_headers,
    )
    assert plan.status_code == 200
    assert plan.json()["items"][-1]["location_id"] == world.bins[0]


async def test_reverse_through_the_api(
    client: httpx.AsyncClient, world: World, operator_headers: Headers, manager_headers: Headers
) -> None:
    created = await client.post(
        "/api/v1/documents",
        json={
            "type": "receipt",
            "warehouse_id": world.warehouse_id,
            "lines": [
                {"part_number": world.part_number, "qty": 3, "to_location_id": world.bins[1]}
            ],
        },
        headers=operator_headers,
    )
    document_id = created.json()["id"]
    await client.post(f"/api/v1/documents/{document_id}/post", headers=operator_headers)
    _problem(
        await client.post(f"/api/v1/documents/{document_id}/reverse", headers=operator_headers),
        403,
    )
    reversed_ = await client.post(
        f"/api/v1/documents/{document_id}/reverse",
        json={"reason": "counted twice"},
        headers=manager_headers,
    )
    assert reversed_.status_code == 201, reversed_.text
    assert reversed_.json()["reverses_id"] == document_id
    original = await client.get(f"/api/v1/documents/{document_id}", headers=operator_headers)
    assert original.json()["reversed_by"] == reversed_.json()["number"]
    _problem(
        await client.post(f"/api/v1/documents/{document_id}/reverse", headers=manager_headers),
        409,
        "already_reversed",
    )


HOSTILE_BODIES: list[dict[str, Any]] = [
    {"type": "transfer", "warehouse_id": 10**30},
    {"type": "transfer", "warehouse_id": "1"},
    {"type": "transfer", "warehouse_id": 1, "notes": "a\x00b"},
    {"type": "nonsense", "warehouse_id": 1},
    {"type": "issue", "warehouse_id": 1, "reason": "x\x00"},
    {"type": "transfer", "warehouse_id": 1, "lines": [{"qty": 10**12, "pcn": "A"}]},
    {"type": "transfer", "warehouse_id": 1, "lines": [{"qty": 1, "pcn": "A\x00"}]},
    {"type": "transfer", "warehouse_id": 1, "lines": [{"qty": 1.5, "pcn": "A"}]},
    {"type": "transfer", "warehouse_id": 1, "lines": [{"qty": 1, "part_number": "X\x00"}]},
    {"type": "stocktake", "warehouse_id": 1, "scope": {"location_ids": [0]}},
    {"type": "stocktake", "warehouse_id": 1, "scope": {"zone": "\x00"}},
    {"type": "transfer", "warehouse_id": 1, "extra": True},
]


@pytest.mark.parametrize("body", HOSTILE_BODIES)
async def test_hostile_bodies_are_422(
    client: httpx.AsyncClient, manager_headers: Headers, body: dict[str, Any]
) -> None:
    _problem(await client.post("/api/v1/documents", json=body, headers=manager_headers), 422)


async def test_unknown_ids_are_404_never_500(
    client: httpx.AsyncClient, world: World, manager_headers: Headers
) -> None:
    for path in (
        "/api/v1/documents/999999",
        "/api/v1/documents/0",
        f"/api/v1/documents/{10**30}",
        "/api/v1/documents/abc",
        "/api/v1/documents/999999/variance",
    ):
        _problem(await client.get(path, headers=manager_headers), 404)
    for path, body in (
        ("/api/v1/documents/999999/post", {}),
        ("/api/v1/documents/999999/cancel", {}),
        ("/api/v1/documents/999999/reverse", {}),
        ("/api/v1/documents/999999/lines", {"qty": 1, "pcn": "A"}),
        ("/api/v1/documents/999999/counts", {"location_id": 1, "pcn": "A", "counted_qty": 0}),
    ):
        _problem(await client.post(path, json=body, headers=manager_headers), 404)
    _problem(
        await client.post(
            "/api/v1/documents",
            json={"type": "transfer", "warehouse_id": 999_999},
            headers=manager_headers,
        ),
        404,
        "warehouse_not_found",
    )
    created = await client.post(
        "/api/v1/documents",
        json={"type": "transfer", "warehouse_id": world.warehouse_id},
        headers=manager_headers,
    )
    document_id = created.json()["id"]
    _problem(
        await client.post(
            f"/api/v1/documents/{document_id}/counts",
            json={"location_id": 1, "pcn": "A", "counted_qty": 0},
            headers=manager_headers,
        ),
        422,
        "not_a_stocktake",
    )
    _problem(
        await client.delete(f"/api/v1/documents/{document_id}/lines/7", headers=manager_headers),
        404,
        "line_not_found",
    )
    _problem(
        await client.post(
            f"/api/v1/documents/{document_id}/lines",
            json={"qty": 1, "pcn": "NOPE", "from_location_id": 1, "to_location_id": 2},
            headers=manager_headers,
        ),
        404,
        "pcn_not_found",
    )
    _problem(
        await client.post(
            f"/api/v1/documents/{document_id}/post",
            content=b"{not json",
            headers={**manager_headers, "content-type": "application/json"},
        ),
        400,
    )


async def test_reading_needs_a_login(client: httpx.AsyncClient) -> None:
    _problem(await client.get("/api/v1/documents"), 401)
