"""Shipments: every ship call records one (lines, carrier, tracking number, time), listed by
the API, shown on the order page with a printable packing slip."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import NotFoundError
from kosh.core.models import AuditEvent
from kosh.sales import service as sales_service
from kosh.sales.models import Shipment
from tests.support.sales import a_customer, an_order, reserved_total
from tests.support.stock import a_part, a_site, stock_in


async def _confirmed_order(
    client: httpx.AsyncClient, headers: dict[str, str], session: AsyncSession, qty: int = 5
) -> tuple[dict[str, object], int]:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 10)
    customer = await client.post(
        "/api/v1/customers",
        json={
            "name": "Ada Shop",
            "shipping_address": {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "address_1": "1 Engine Row",
                "city": "London",
                "postcode": "N1 1AA",
                "country": "GB",
            },
        },
        headers=headers,
    )
    created = await client.post(
        "/api/v1/sales-orders",
        json={
            "customer_id": customer.json()["id"],
            "warehouse_id": site.warehouse_id,
            "lines": [{"part_number": site.part_number, "qty": qty, "unit_price": "2.50"}],
            "confirm": True,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return created.json(), site.part_id


async def test_two_shipments_with_tracking_are_recorded_and_listed(
    client: httpx.AsyncClient, operator_headers: dict[str, str], session: AsyncSession
) -> None:
    # given a confirmed order of 5
    order, part_id = await _confirmed_order(client, operator_headers, session)
    line_id = order["lines"][0]["id"]  # type: ignore[index]
    # when 2 ship with DHL and then the rest without a carrier
    first = await client.post(
        f"/api/v1/sales-orders/{order['id']}/ship",
        json={
            "lines": [{"line_id": line_id, "qty": 2}],
            "carrier": "DHL",
            "tracking_number": "JD0146 0000 1234",
        },
        headers=operator_headers,
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "partially_shipped"
    rest = await client.post(f"/api/v1/sales-orders/{order['id']}/ship", headers=operator_headers)
    assert rest.json()["status"] == "shipped"
    # then the order has two shipments, oldest first
    listed = await client.get(
        f"/api/v1/sales-orders/{order['id']}/shipments", headers=operator_headers
    )
    assert listed.status_code == 200
    body = listed.json()
    assert body["total"] == 2
    one, two = body["items"]
    assert (one["number"], one["carrier"], one["tracking_number"]) == (
        f"{order['number']}-S1",
        "DHL",
        "JD0146 0000 1234",
    )
    assert one["lines"] == [{"order_line_id": line_id, "part_id": part_id, "qty": 2}]
    assert (two["carrier"], two["tracking_number"]) == (None, None)
    assert two["lines"][0]["qty"] == 3
    # and the ship is audited with its shipment
    audits = list(
        await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "sales_order.ship")
            .order_by(AuditEvent.id)
        )
    )
    assert [a.after["shipment"] for a in audits] == [one["number"], two["number"]]
    assert audits[0].after["tracking_number"] == "JD0146 0000 1234"


async def test_shipments_of_a_missing_order_and_a_failed_ship_record_nothing(
    client: httpx.AsyncClient, operator_headers: dict[str, str], session: AsyncSession
) -> None:
    missing = await client.get("/api/v1/sales-orders/999999/shipments", headers=operator_headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "sales_order_not_found"
    order, _ = await _confirmed_order(client, operator_headers, session)
    line_id = order["lines"][0]["id"]  # type: ignore[index]
    over = await client.post(
        f"/api/v1/sales-orders/{order['id']}/ship",
        json={"lines": [{"line_id": line_id, "qty": 6}], "carrier": "UPS"},
        headers=operator_headers,
    )
    assert over.status_code == 422
    too_long = await client.post(
        f"/api/v1/sales-orders/{order['id']}/ship",
        json={"tracking_number": "x" * 101},
        headers=operator_headers,
    )
    assert too_long.status_code == 422
    assert await session.scalar(select(Shipment.id)) is None


async def test_order_page_lists_shipments_and_the_packing_slip_prints(
    client: httpx.AsyncClient, operator_headers: dict[str, str], session: AsyncSession
) -> None:
    order, _ = await _confirmed_order(client, operator_headers, session)
    await client.post(
        f"/api/v1/sales-orders/{order['id']}/ship",
        json={"carrier": "Royal Mail", "tracking_number": "RM123456789GB"},
        headers=operator_headers,
    )
    [shipment] = await sales_service.list_shipments(session, order_id=int(order["id"]))  # type: ignore[arg-type]
    page = await client.get(f"/sales-orders/{order['id']}", headers=operator_headers)
    assert page.status_code == 200
    assert 'data-testid="shipments"' in page.text
    assert "RM123456789GB" in page.text
    slip_url = f"/sales-orders/{order['id']}/shipments/{shipment.id}/packing-slip"
    assert slip_url in page.text
    slip = await client.get(slip_url, headers=operator_headers)
    assert slip.status_code == 200
    assert 'data-testid="packing-slip"' in slip.text
    assert "Ada Lovelace" in slip.text
    assert "N1 1AA London" in slip.text
    assert "Royal Mail" in slip.text
    assert "RM123456789GB" in slip.text
    assert 'class="no-print"' in slip.text
    # a shipment of another order is not found under this one
    other, _ = await _confirmed_order(client, operator_headers, session)
    wrong = await client.get(
        f"/sales-orders/{other['id']}/shipments/{shipment.id}/packing-slip",
        headers=operator_headers,
    )
    assert wrong.status_code == 404


async def test_shipment_and_refund_reads_through_the_service(session: AsyncSession) -> None:
    # given an order shipped in two parcels, one tracked
    site = await a_site(session)
    part = await a_part(session, list_price=Decimal("3.00"))
    await stock_in(session, part.number, site.bin_ids[0], 10)
    customer = await sales_service.create_customer(session, name="Direct")
    order = await sales_service.create_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[sales_service.LineRequest(part_number=part.number, qty=4)],
        confirm=True,
    )
    line_id = order.lines[0].id
    await sales_service.ship(
        session, order_id=order.id, quantities={line_id: 1}, carrier="DHL", tracking_number="T1"
    )
    await sales_service.ship(session, order_id=order.id)
    # when read through the service
    first, second = await sales_service.list_shipments(session, order_id=order.id)
    found_order, found = await sales_service.get_shipment(
        session, order_id=order.id, shipment_id=first.id
    )
    notice = await sales_service.shipment_notice(session, second.id)
    # then
    assert (found_order.id, found.tracking_number) == (order.id, "T1")
    assert notice is not None
    assert (notice.complete, notice.lines, notice.tracking_number) == (True, [(1, 3)], None)
    assert [t.tracking_number for t in notice.all_tracking] == ["T1"]
    assert await sales_service.shipment_notice(session, second.id + 1000) is None
    other = await sales_service.create_order(
        session, customer_id=customer.id, warehouse_id=site.warehouse_id
    )
    with pytest.raises(NotFoundError) as wrong:
        await sales_service.get_shipment(session, order_id=other.id, shipment_id=first.id)
    assert wrong.value.code == "shipment_not_found"
    with pytest.raises(NotFoundError):
        await sales_service.list_shipments(session, order_id=other.id + 1000)
    # and a manual order has no refunded lines; the returns desk's list is empty
    assert await sales_service.refunded_lines(session, order_id=order.id) == []
    assert await sales_service.refunds_to_return(session) == ([], 0)
    with pytest.raises(NotFoundError):
        await sales_service.refunded_lines(session, order_id=other.id + 1000)


async def test_hold_releasing_through_the_service(session: AsyncSession) -> None:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 3)],
        confirm=True,
    )
    held = await sales_service.hold(session, order_id=order_id, release_reservations=True)
    assert (held.status, held.lines[0].qty_reserved) == ("on_hold", 0)
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 0
