"""Purchasing routes: the contract shapes, roles, hostile input (NUL, huge numbers, unknown
ids, wrong types) answered 4xx problem+json and changing nothing, idempotent receipts."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from kosh.purchasing.barcode import encode_ecia
from tests.purchasing.factories import Headers, World
from tests.purchasing.factories import ok as _ok

pytestmark = pytest.mark.usefixtures("sessions")


async def test_receive_by_label_with_idempotent_replay(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    label = encode_ecia(
        [
            ("P", "296-1395-1-ND"),
            ("1P", "LM358DR"),
            ("K", world.number),
            ("Q", "200"),
            ("10D", "2312"),
        ]
    )
    body = {"barcode": label, "location_id": world.goods_in_id}
    headers = {**operator_headers, "idempotency-key": "bag-1"}
    first = await client.post(
        f"/api/v1/purchase-orders/{world.order_id}/receive", json=body, headers=headers
    )
    result = await _ok(first)
    assert result["pcn"] == result["receipts"][0]["pcn"]
    assert result["receipts"][0]["qty"] == 200
    assert result["order"]["status"] == "partially_received"
    replay = await client.post(
        f"/api/v1/purchase-orders/{world.order_id}/receive", json=body, headers=headers
    )
    assert replay.status_code == 200
    assert replay.headers.get("idempotent-replayed") == "true"
    assert replay.json()["pcn"] == result["pcn"]
    receipts = await _ok(
        await client.get(
            f"/api/v1/purchase-orders/{world.order_id}/receipts", headers=operator_headers
        )
    )
    assert len(receipts) == 1
    # on order in the purchasing API and in the availability API
    on_order = await _ok(
        await client.get(
            "/api/v1/purchasing/on-order",
            params={"warehouse_id": world.warehouse_id, "part_id": world.part_id},
            headers=operator_headers,
        )
    )
    assert on_order[0]["on_order"] == 300
    assert on_order[0]["orders"][0]["number"] == world.number
    availability = await _ok(
        await client.get(
            "/api/v1/availability",
            params={"warehouse_id": world.warehouse_id, "part_id": world.part_id},
            headers=operator_headers,
        )
    )
    assert availability["items"][0]["on_order"] == 300


async def test_decode_preview_names_the_line(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    label = "^^06^]1PLM358DR^]Q50^]4Lcn"  # caret notation, as many keyboard scanners send
    read = await _ok(
        await client.post(
            "/api/v1/purchasing/decode",
            json={"barcode": "[)>" + label, "order_id": world.order_id},
            headers=operator_headers,
        )
    )
    assert (read["mpn"], read["qty"], read["country"], read["line_id"]) == (
        "LM358DR",
        50,
        "CN",
        world.line_id,
    )


async def test_over_receipt_needs_a_manager(
    client: httpx.AsyncClient, world: World, operator_headers: Headers, manager_headers: Headers
) -> None:
    path = f"/api/v1/purchase-orders/{world.order_id}/receive"
    body = {"line_id": world.line_id, "qty": 501, "location_id": world.bin_id}
    refused = await client.post(path, json=body, headers=operator_headers)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "over_receipt"
    assert refused.json()["allowed"] == 500
    forbidden = await client.post(
        path, json={**body, "allow_over_receipt": True}, headers=operator_headers
    )
    assert forbidden.status_code == 403
    allowed = await client.post(
        path, json={**body, "allow_over_receipt": True}, headers=manager_headers
    )
    assert (await _ok(allowed))["order"]["status"] == "received"
    receipt_id = allowed.json()["receipts"][0]["id"]
    reversed_ = await client.post(
        f"{path.removesuffix('/receive')}/receipts/{receipt_id}/reverse",
        json={"reason": "counted wrong"},
        headers=manager_headers,
    )
    assert (await _ok(reversed_))["reversed_at"] is not None


@pytest.mark.parametrize(
    "body",
    [
        {"line_id": 1, "qty": 1, "location_id": 1, "lot_code": "A\x00B"},
        {"barcode": "[)>\x1e06\x1dP\x00\x1dQ1", "location_id": 1},
        {"line_id": 1, "qty": 10**12, "location_id": 1},
        {"line_id": 1, "qty": -1, "location_id": 1},
        {"line_id": 1, "qty": "7", "location_id": 1},
        {"line_id": 1, "qty": 1.5, "location_id": 1},
        {"line_id": 2**40, "qty": 1, "location_id": 1},
        {"qty": 1, "location_id": 1},
        {"line_id": 1, "qty": 1, "location_id": 1, "country": "china"},
        {"barcode": "x" * 4000, "location_id": 1},
        {"lines": [], "location_id": 1, "line_id": None},
    ],
)
async def test_hostile_receive_bodies_are_refused(
    client: httpx.AsyncClient, world: World, operator_headers: Headers, body: dict[str, Any]
) -> None:
    response = await client.post(
        f"/api/v1/purchase-orders/{world.order_id}/receive", json=body, headers=operator_headers
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    receipts = await _ok(
        await client.get(
            f"/api/v1/purchase-orders/{world.order_id}/receipts", headers=operator_headers
        )
    )
    assert receipts == []


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        (
            "/api/v1/purchase-orders/999999/receive",
            {"line_id": 1, "qty": 1, "location_id": 1},
            404,
            "purchase_order_not_found",
        ),
        (
            "/api/v1/purchase-orders/99999999999/receive",
            {"line_id": 1, "qty": 1, "location_id": 1},
            404,
            "not_found",
        ),
        ("/api/v1/purchase-orders/0/place", {}, 404, "not_found"),
        ("/api/v1/purchase-orders/999999/place", {}, 404, "purchase_order_not_found"),
        ("/api/v1/suppliers", {"code": "X\x00", "name": "n"}, 422, "validation_error"),
        (
            "/api/v1/suppliers",
            {"code": "X", "name": "n", "currency": "usd"},
            422,
            "validation_error",
        ),
        (
            "/api/v1/supplier-parts",
            {"supplier_code": "NOPE", "part_number": "OPAMP-358", "sku": "S"},
            404,
            "supplier_not_found",
        ),
        (
            "/api/v1/supplier-parts",
            {
                "supplier_code": "DIGIKEY",
                "part_number": "OPAMP-358",
                "sku": "S",
                "prices": [{"min_qty": 1, "unit_price": "1e30"}],
            },
            422,
            "validation_error",
        ),
        (
            "/api/v1/supplier-parts",
            {
                "supplier_code": "DIGIKEY",
                "part_number": "OPAMP-358",
                "sku": "S",
                "prices": [{"min_qty": 1, "unit_price": "NaN"}],
            },
            422,
            "validation_error",
        ),
        (
            "/api/v1/supplier-parts",
            {"supplier_code": "DIGIKEY", "part_number": "OPAMP-358", "sku": "S", "pack_size": 0},
            422,
            "validation_error",
        ),
        (
            "/api/v1/purchase-orders",
            {"supplier_code": "DIGIKEY", "warehouse_id": 999999},
            404,
            "warehouse_not_found",
        ),
        (
            "/api/v1/purchase-orders",
            {"supplier_code": "DIGIKEY", "warehouse_id": 1, "currency": "EUR"},
            422,
            "currency_mismatch",
        ),
        (
            "/api/v1/purchase-orders",
            {
                "supplier_code": "DIGIKEY",
                "warehouse_id": 1,
                "lines": [{"part_number": "OPAMP-358"}],
            },
            422,
            "validation_error",
        ),
        (
            "/api/v1/purchase-orders",
            {
                "supplier_code": "DIGIKEY",
                "warehouse_id": 1,
                "lines": [{"part_number": "OPAMP-358", "packs": 999999999}],
            },
            422,
            "qty_too_large",
        ),
        ("/api/v1/purchasing/decode", {"barcode": "hello"}, 422, "barcode_unreadable"),
        (
            "/api/v1/supplier-parts/import",
            {"csv": "supplier_code,part_number\nX,Y\n"},
            422,
            "csv_invalid",
        ),
    ],
)
async def test_bad_requests_answer_problems(
    client: httpx.AsyncClient,
    world: World,
    manager_headers: Headers,
    path: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = await client.post(path, json=body, headers=manager_headers)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


async def test_reads_of_unknown_ids_are_404(
    client: httpx.AsyncClient, world: World, operator_headers: Headers
) -> None:
    for path in (
        "/api/v1/purchase-orders/424242",
        "/api/v1/suppliers/424242",
        "/api/v1/supplier-parts/424242",
        "/api/v1/purchase-orders/2147483648",
    ):
        response = await client.get(path, headers=operator_headers)
        assert response.status_code == 404, path
    bad = await client.get(
        "/api/v1/purchasing/suggestions", params={"warehouse_id": 424242}, headers=operator_headers
    )
    assert bad.status_code == 404
    nul = await client.get("/api/v1/suppliers", params={"q": "a\x00"}, headers=operator_headers)
    assert nul.status_code == 422


async def test_csv_round_trip_and_stale_versions(
    client: httpx.AsyncClient, world: World, manager_headers: Headers
) -> None:
    export = await client.get("/api/v1/supplier-parts.csv", headers=manager_headers)
    assert export.status_code == 200
    text = export.text
    assert text.splitlines()[0].startswith("supplier_code,part_number,sku")
    assert "296-1395-1-ND" in text
    assert "10:0.4500;100:0.3120" in text
    changed = text.replace("10:0.4500;100:0.3120", "10:0.4400").replace(",true,", ",false,")
    changed += "DIGIKEY,OPAMP-358,296-NEW-ND,,,1,pcs,1,,false,1:0.5\n"
    imported = await _ok(
        await client.post(
            "/api/v1/supplier-parts/import", json={"csv": changed}, headers=manager_headers
        )
    )
    assert imported == {"created": 1, "updated": 1}
    listed = await _ok(
        await client.get("/api/v1/supplier-parts", params={"q": "296"}, headers=manager_headers)
    )
    assert listed["total"] == 2
    first = next(i for i in listed["items"] if i["sku"] == "296-1395-1-ND")
    assert first["prices"] == [{"min_qty": 10, "unit_price": "0.4400"}]
    stale = await client.patch(
        f"/api/v1/supplier-parts/{first['id']}",
        json={"version": 1, "pack_size": 5},
        headers=manager_headers,
    )
    assert stale.status_code == 409
    order = await _ok(
        await client.get(f"/api/v1/purchase-orders/{world.order_id}", headers=manager_headers)
    )
    stale_po = await client.patch(
        f"/api/v1/purchase-orders/{world.order_id}",
        json={"version": order["version"] + 5, "notes": "x"},
        headers=manager_headers,
    )
    assert stale_po.status_code == 409
    locked = await client.patch(
        f"/api/v1/purchase-orders/{world.order_id}",
        json={"version": order["version"], "lines": [{"part_number": "OPAMP-358", "qty": 10}]},
        headers=manager_headers,
    )
    assert locked.status_code == 422
    assert locked.json()["code"] == "lines_locked"


async def test_suggestions_turn_into_draft_orders(
    client: httpx.AsyncClient, world: World, manager_headers: Headers
) -> None:
    # given: keep at least 1000, order up to 2000; 500 are on order, none in stock
    rule = await client.put(
        "/api/v1/reorder-rules",
        json={
            "part_number": "OPAMP-358",
            "warehouse_id": world.warehouse_id,
            "min_qty": 1000,
            "max_qty": 2000,
        },
        headers=manager_headers,
    )
    await _ok(rule)
    found = await _ok(
        await client.get(
            "/api/v1/purchasing/suggestions",
            params={"warehouse_id": world.warehouse_id},
            headers=manager_headers,
        )
    )
    [s] = found["items"]
    assert (s["on_order"], s["projected"], s["suggested_qty"], s["packs"]) == (500, 500, 1500, 150)
    assert (s["supplier_code"], s["unit_price"], s["currency"]) == ("DIGIKEY", "0.3120", "USD")
    made = await _ok(
        await client.post(
            "/api/v1/purchasing/suggestions/orders",
            json={"warehouse_id": world.warehouse_id},
            headers=manager_headers,
        )
    )
    [draft] = made["orders"]
    assert draft["status"] == "draft"
    again = await _ok(
        await client.get(
            "/api/v1/purchasing/suggestions",
            params={"warehouse_id": world.warehouse_id},
            headers=manager_headers,
        )
    )
    assert len(again["items"]) == 1  # a draft is not on order until placed
    await _ok(
        await client.post(f"/api/v1/purchase-orders/{draft['id']}/place", headers=manager_headers)
    )
    after = await _ok(
        await client.get(
            "/api/v1/purchasing/suggestions",
            params={"warehouse_id": world.warehouse_id},
            headers=manager_headers,
        )
    )
    assert after["items"] == []


async def test_viewers_read_but_cannot_receive(
    client: httpx.AsyncClient,
    world: World,
    make_user,
    token_for,  # type: ignore[no-untyped-def]
) -> None:
    viewer = await make_user("viewer")
    headers = {"authorization": f"Bearer {await token_for(viewer)}"}
    assert (
        await client.get(f"/api/v1/purchase-orders/{world.order_id}", headers=headers)
    ).status_code == 200
    response = await client.post(
        f"/api/v1/purchase-orders/{world.order_id}/receive",
        json={"line_id": world.line_id, "qty": 1, "location_id": world.bin_id},
        headers=headers,
    )
    assert response.status_code == 403


async def test_edge_bodies_at_a_usable_location(
    client: httpx.AsyncClient, world: World, manager_headers: Headers
) -> None:
    path = f"/api/v1/purchase-orders/{world.order_id}/receive"
    empty = await client.post(
        path, json={"lines": [], "location_id": world.goods_in_id}, headers=manager_headers
    )
    assert empty.status_code == 422
    # a label's lot longer than KOSH keeps is cut, not a database error
    label = encode_ecia([("1P", "LM358DR"), ("1T", "L" * 100), ("10D", "9" * 60), ("Q", "5")])
    booked = await client.post(
        path, json={"barcode": label, "location_id": world.goods_in_id}, headers=manager_headers
    )
    receipt = (await _ok(booked))["receipts"][0]
    assert (len(receipt["lot_code"]), len(receipt["date_code"])) == (64, 32)
    # allowed over, a line still stops before its counter could overflow
    big = {"line_id": world.line_id, "qty": 1_000_000_000, "location_id": world.goods_in_id}
    # (5 received so far: one billion more fits under the ceiling, a second billion not)
    await _ok(
        await client.post(path, json={**big, "allow_over_receipt": True}, headers=manager_headers)
    )
    refused = await client.post(
        path, json={**big, "allow_over_receipt": True}, headers=manager_headers
    )
    assert refused.status_code == 409
    assert refused.json()["code"] == "over_receipt"


async def test_received_qty_cannot_be_edited_directly(
    client: httpx.AsyncClient, world: World, manager_headers: Headers
) -> None:
    # given: the placed order of 500, nothing received
    order = await _ok(
        await client.get(f"/api/v1/purchase-orders/{world.order_id}", headers=manager_headers)
    )
    version = order["version"]
    line = {"part_number": "OPAMP-358", "qty": 500}
    # when: a client tries to set received quantities through every editing route
    attempts = [
        ("PATCH", "", {"version": version, "qty_received": 500}),
        ("PATCH", "", {"version": version, "lines": [{**line, "qty_received": 500}]}),
        ("POST", "/lines", {**line, "qty_received": 500}),
    ]
    for method, suffix, body in attempts:
        response = await client.request(
            method,
            f"/api/v1/purchase-orders/{world.order_id}{suffix}",
            json=body,
            headers=manager_headers,
        )
        # then: refused as an unknown field, nothing changed
        assert response.status_code == 422, (method, suffix, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    after = await _ok(
        await client.get(f"/api/v1/purchase-orders/{world.order_id}", headers=manager_headers)
    )
    assert after["version"] == version
    assert [ln["qty_received"] for ln in after["lines"]] == [0]


async def test_draft_edit_refuses_null_notes_and_empties_its_lines(
    client: httpx.AsyncClient, world: World, manager_headers: Headers
) -> None:
    # given: a draft of 30 with notes and an expected date
    h = manager_headers
    draft = await _ok(
        await client.post(
            "/api/v1/purchase-orders",
            json={
                "supplier_code": "DIGIKEY",
                "warehouse_id": world.warehouse_id,
                "notes": "Call first",
                "expected_date": "2031-05-01",
                "lines": [{"part_number": "OPAMP-358", "qty": 30}],
            },
            headers=h,
        ),
        201,
    )
    path = f"/api/v1/purchase-orders/{draft['id']}"
    # when: notes are sent as null (the column holds text, "" when there is none)
    refused = await client.patch(
        path,
        json={"version": draft["version"], "lines": [], "notes": None, "expected_date": None},
        headers=h,
    )
    # then: 422 naming the field, and nothing changed
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["loc"][-1] for e in refused.json()["errors"]] == ["notes"]
    unchanged = await _ok(await client.get(path, headers=h))
    assert (unchanged["version"], unchanged["notes"], len(unchanged["lines"])) == (
        draft["version"],
        "Call first",
        1,
    )
    # when: the same edit clears the notes with "" instead
    emptied = await _ok(
        await client.patch(
            path,
            json={"version": draft["version"], "lines": [], "notes": "", "expected_date": None},
            headers=h,
        )
    )
    # then: the draft has no lines, no notes, no date, and one more version
    assert (emptied["lines"], emptied["notes"], emptied["expected_date"]) == ([], "", None)
    assert emptied["version"] == draft["version"] + 1
