"""Quality routes: status codes, problem+json, roles, and photo attachments served as
downloads that never render (Content-Disposition: attachment, nosniff)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.core.errors import NotFoundError, PayloadTooLargeError, ValidationError
from kosh.quality import attachments
from kosh.quality import service as quality_service
from tests.quality.support import a_lot, a_shop
from tests.support.sales import a_customer, an_order

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_ticket_flow_over_the_api(
    client: httpx.AsyncClient,
    session: AsyncSession,
    operator_headers: dict[str, str],
    manager_headers: dict[str, str],
) -> None:
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 6)
    # raise an NCR against a PCN
    created = await client.post(
        "/api/v1/tickets",
        json={"kind": "ncr", "title": "Bent pins", "priority": "high", "links": {"pcn": pcn}},
        headers=operator_headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    ticket_id = body["id"]
    assert body["number"] == "NCR-000001"
    assert body["status"] == "open"
    assert set(body["allowed"]) == {"in_progress", "waiting", "resolved"}
    # contain 2 and scrap 1
    contained = await client.post(
        f"/api/v1/tickets/{ticket_id}/contain",
        json={"pcn": pcn, "qty": 2, "location_id": shop.quarantine_id},
        headers=operator_headers,
    )
    assert contained.status_code == 200, contained.text
    assert contained.json()[0]["to_location_id"] == shop.quarantine_id
    scrapped = await client.post(
        f"/api/v1/tickets/{ticket_id}/disposition",
        json={"action": "scrap", "pcn": pcn, "qty": 1},
        headers=operator_headers,
    )
    assert scrapped.status_code == 200, scrapped.text
    # a wrong move is a 409 problem
    wrong = await client.post(
        f"/api/v1/tickets/{ticket_id}/transition", json={"to": "closed"}, headers=operator_headers
    )
    assert wrong.status_code == 409
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["code"] == "transition_not_allowed"
    moved = await client.post(
        f"/api/v1/tickets/{ticket_id}/transition",
        json={"to": "in_progress"},
        headers=operator_headers,
    )
    assert moved.status_code == 200
    assert moved.json()["status"] == "in_progress"
    comment = await client.post(
        f"/api/v1/tickets/{ticket_id}/comments", json={"text": "sorted"}, headers=operator_headers
    )
    assert comment.status_code == 201
    patched = await client.patch(
        f"/api/v1/tickets/{ticket_id}", json={"root_cause": "press"}, headers=operator_headers
    )
    assert patched.status_code == 200
    assert patched.json()["root_cause"] == "press"
    listed = await client.get("/api/v1/tickets?kind=ncr&category=open", headers=operator_headers)
    assert listed.json()["total"] == 1
    detail = await client.get(f"/api/v1/tickets/{ticket_id}", headers=operator_headers)
    assert [e["kind"] for e in detail.json()["events"]] == ["status", "status", "comment"]
    assert (await client.get("/api/v1/tickets/999", headers=operator_headers)).status_code == 404
    # SLA policy: managers only
    policy = {"kind": "ncr", "priority": "high", "response_minutes": 60, "resolution_minutes": 600}
    assert (
        await client.post("/api/v1/sla-policies", json=policy, headers=operator_headers)
    ).status_code == 403
    made = await client.post("/api/v1/sla-policies", json=policy, headers=manager_headers)
    assert made.status_code == 201, made.text
    assert (await client.get("/api/v1/sla-policies", headers=operator_headers)).json()[0][
        "kind"
    ] == "ncr"
    detail = await client.get(f"/api/v1/tickets/{ticket_id}", headers=operator_headers)
    assert detail.json()["sla"]["response"]["state"] == "met"
    await client.post(
        f"/api/v1/tickets/{ticket_id}/transition", json={"to": "resolved"}, headers=operator_headers
    )
    report = await client.get("/api/v1/sla-report?months=2", headers=operator_headers)
    assert report.status_code == 200
    assert [(r["kind"], r["met"]) for r in report.json()] == [("ncr", 1)]


async def test_maintenance_and_returns_over_the_api(
    client: httpx.AsyncClient,
    session: AsyncSession,
    operator_headers: dict[str, str],
    manager_headers: dict[str, str],
) -> None:
    shop = await a_shop(session)
    plan = await client.post(
        "/api/v1/maintenance-plans",
        json={"machine_code": shop.machine, "every_days": 30},
        headers=manager_headers,
    )
    assert plan.status_code == 201, plan.text
    assert (await client.get("/api/v1/maintenance-plans", headers=operator_headers)).json()[0][
        "every_days"
    ] == 30
    down = await client.post(
        "/api/v1/tickets",
        json={
            "kind": "maintenance",
            "title": "Spindle",
            "machine_down": True,
            "links": {"machine_code": shop.machine},
        },
        headers=operator_headers,
    )
    assert down.status_code == 201
    assert down.json()["machine_down"] is True
    await a_lot(session, shop, 5)
    spares = await client.post(
        f"/api/v1/tickets/{down.json()['id']}/spares",
        json={"part_number": shop.part_number, "qty": 2, "warehouse_id": shop.warehouse_id},
        headers=operator_headers,
    )
    assert spares.status_code == 200, spares.text
    # a return against a shipped order
    from kosh.sales import service as sales_service

    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[(shop.part_number, 2)],
        confirm=True,
    )
    await sales_service.ship(session, order_id=order_id)
    rma = await client.post(
        "/api/v1/returns",
        json={
            "sales_order_id": order_id,
            "lines": [{"part_number": shop.part_number, "qty": 2}],
            "reason": "wrong",
        },
        headers=operator_headers,
    )
    assert rma.status_code == 201, rma.text
    rma_id = rma.json()["id"]
    over = await client.post(
        "/api/v1/returns",
        json={
            "sales_order_id": order_id,
            "lines": [{"part_number": shop.part_number, "qty": 1}],
            "reason": "x",
        },
        headers=operator_headers,
    )
    assert over.status_code == 409
    assert over.json()["code"] == "over_return"
    received = await client.post(
        f"/api/v1/returns/{rma_id}/receive",
        json={"location_id": shop.quarantine_id},
        headers=operator_headers,
    )
    assert received.status_code == 200
    assert received.json()["status"] == "received"
    from kosh.stock.models import Lot

    lot = await session.get_one(Lot, received.json()["lines"][0]["lot_id"])
    inspected = await client.post(
        f"/api/v1/returns/{rma_id}/inspect",
        json={
            "lines": [
                {"pcn": lot.pcn, "qty": 2, "outcome": "restock", "location_id": shop.storage_id}
            ]
        },
        headers=operator_headers,
    )
    assert inspected.status_code == 200
    assert inspected.json()["status"] == "closed"
    assert (
        await client.get(f"/api/v1/returns/{rma_id}", headers=operator_headers)
    ).status_code == 200
    rep = await client.post(
        "/api/v1/tickets",
        json={"kind": "replacement", "title": "Swap", "links": {"sales_order_id": order_id}},
        headers=operator_headers,
    )
    made = await client.post(
        f"/api/v1/tickets/{rep.json()['id']}/replacement-order",
        json={"lines": [{"part_number": shop.part_number, "qty": 1}]},
        headers=operator_headers,
    )
    assert made.status_code == 200
    assert made.json()["replacement_order_id"] is not None


async def test_workflows_are_admin_only(
    client: httpx.AsyncClient, operator_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    flow = (await client.get("/api/v1/workflows/ncr", headers=operator_headers)).json()
    assert flow.pop("kind") == "ncr"
    assert flow["initial"] == "open"
    assert (
        await client.put("/api/v1/workflows/ncr", json=flow, headers=operator_headers)
    ).status_code == 403
    flow["transitions"].append(["open", "closed"])
    saved = await client.put("/api/v1/workflows/ncr", json=flow, headers=admin_headers)
    assert saved.status_code == 200, saved.text
    assert ["open", "closed"] in saved.json()["transitions"]
    bad = await client.put(
        "/api/v1/workflows/ncr",
        json={"statuses": [{"status": "a", "category": "done"}], "initial": "a", "transitions": []},
        headers=admin_headers,
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "workflow_invalid"


async def test_photos_are_sniffed_stored_outside_the_web_root_and_served_as_downloads(
    client: httpx.AsyncClient,
    session: AsyncSession,
    operator_headers: dict[str, str],
    settings: Settings,
) -> None:
    ticket = await client.post(
        "/api/v1/tickets", json={"kind": "ncr", "title": "Photo"}, headers=operator_headers
    )
    ticket_id = ticket.json()["id"]
    # a real PNG with a hostile name is stored under the data dir with a random name
    sent = await client.post(
        f"/api/v1/ticket-attachments/{ticket_id}",
        files={"file": ("../../x<script>.html", PNG, "text/html")},
        headers=operator_headers,
    )
    assert sent.status_code == 201, sent.text
    photo = sent.json()
    assert photo["content_type"] == "image/png"
    assert photo["filename"] == "x<script>.html"
    stored = list(attachments.storage_dir(Path(settings.data_dir)).iterdir())
    assert any(p.read_bytes() == PNG for p in stored)
    # and it downloads as an attachment, never sniffed
    got = await client.get(f"/api/v1/attachments/{photo['id']}", headers=operator_headers)
    assert got.status_code == 200
    assert got.content == PNG
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-type"] == "image/png"
    # an HTML file claiming to be a JPEG is refused, as is an empty one
    html = await client.post(
        f"/api/v1/ticket-attachments/{ticket_id}",
        files={"file": ("a.jpg", b"<html><script>alert(1)</script></html>", "image/jpeg")},
        headers=operator_headers,
    )
    assert html.status_code == 422
    assert html.json()["code"] == "attachment_type"
    empty = await client.post(
        f"/api/v1/ticket-attachments/{ticket_id}",
        files={"file": ("a.png", b"", "image/png")},
        headers=operator_headers,
    )
    assert empty.status_code == 422
    assert (
        await client.get("/api/v1/attachments/999", headers=operator_headers)
    ).status_code == 404
    detail = await client.get(f"/api/v1/tickets/{ticket_id}", headers=operator_headers)
    assert [a["id"] for a in detail.json()["attachments"]] == [photo["id"]]


async def test_too_large_photos_are_refused(
    client: httpx.AsyncClient, operator_headers: dict[str, str], settings: Settings
) -> None:
    ticket = await client.post(
        "/api/v1/tickets", json={"kind": "ncr", "title": "Big"}, headers=operator_headers
    )
    limit = settings.quality_attachment_max_bytes
    big = await client.post(
        f"/api/v1/ticket-attachments/{ticket.json()['id']}",
        files={"file": ("big.png", PNG + b"\x00" * limit, "image/png")},
        headers=operator_headers,
    )
    assert big.status_code == 413


def test_sniffing_knows_the_photo_formats() -> None:
    assert attachments.sniff(b"\xff\xd8\xff\xe0rest") == "image/jpeg"
    assert attachments.sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert attachments.sniff(b"\x00\x00\x00\x18ftypheic") == "image/heic"
    assert attachments.sniff(b"<svg xmlns=") is None
    assert attachments.safe_name("C:\\photos\\\x00pic.jpg") == "pic.jpg"
    assert attachments.safe_name("///") == "photo"


async def test_attachment_rules_in_the_service(session: AsyncSession, tmp_path: Path) -> None:
    ticket = await quality_service.create_ticket(session, kind="ncr", title="Photo")
    ticket_id = ticket.id

    async def attach(data: bytes, max_bytes: int = 1000) -> object:
        return await quality_service.add_attachment(
            session,
            ticket_id=ticket_id,
            filename="p.png",
            data=data,
            data_dir=tmp_path,
            max_bytes=max_bytes,
        )

    for data, error in (
        (b"", ValidationError),
        (PNG, PayloadTooLargeError),
        (b"GIF89a....", ValidationError),
    ):
        with pytest.raises(error):
            await attach(data, max_bytes=10 if error is PayloadTooLargeError else 1000)
    saved = await attach(PNG)
    found, path = await quality_service.open_attachment(
        session,
        attachment_id=saved.id,
        data_dir=tmp_path,  # type: ignore[attr-defined]
    )
    assert path.read_bytes() == PNG
    assert found.content_type == "image/png"
    assert [p.name for p in attachments.storage_dir(tmp_path).iterdir()] == [found.stored_name]
    path.unlink()
    with pytest.raises(NotFoundError):
        await quality_service.open_attachment(session, attachment_id=found.id, data_dir=tmp_path)
    with pytest.raises(NotFoundError):
        await quality_service.add_attachment(
            session, ticket_id=999, filename="x", data=PNG, data_dir=tmp_path, max_bytes=1000
        )


async def test_a_replayed_containment_moves_stock_once(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    from kosh.stock import service as stock_service
    from tests.support.stock import balances

    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 6)
    lot_id = (await stock_service.get_lot_by_pcn_or_raise(session, pcn)).id
    ticket = await client.post(
        "/api/v1/tickets", json={"kind": "ncr", "title": "Replay"}, headers=operator_headers
    )
    url = f"/api/v1/tickets/{ticket.json()['id']}/contain"
    body = {"pcn": pcn, "qty": 2, "location_id": shop.quarantine_id}
    headers = operator_headers | {"idempotency-key": "contain-once-1"}
    first = await client.post(url, json=body, headers=headers)
    second = await client.post(url, json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    await session.rollback()
    assert await balances(session, lot_id) == {shop.storage_id: 4, shop.quarantine_id: 2}
