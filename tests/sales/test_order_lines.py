"""Draft sales-order lines are changed and removed (audited); a confirmed order refuses
with 409; an order that cannot be reserved names its short parts and the page offers a
backorder right there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError, NotFoundError
from kosh.core.models import AuditEvent
from kosh.sales import service as sales_service
from tests.support.fixtures import MakeUser
from tests.support.sales import a_customer, an_order, order_state, reserved_total
from tests.support.stock import a_part, a_site, stock_in

PROBLEM = "application/problem+json"
HTML = {"accept": "text/html"}
Login = Callable[..., Awaitable[Any]]


async def audit_of(session: AsyncSession, action: str) -> list[AuditEvent]:
    return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


async def test_draft_lines_change_and_go_with_audit(session: AsyncSession) -> None:
    # given a draft with two lines
    site = await a_site(session)
    other = await a_part(session)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 3), (other.number, 1)],
    )
    first, second = [line.id for line in (await order_state(session, order_id)).lines]
    version = (await order_state(session, order_id)).version

    # when the first line's quantity and price change and the second goes
    await sales_service.update_line(
        session, order_id=order_id, line_id=first, version=version, qty=7, unit_price=Decimal("4")
    )
    await sales_service.remove_line(session, order_id=order_id, line_id=second)
    await sales_service.add_line(
        session,
        order_id=order_id,
        line=sales_service.LineRequest(part_number=other.number, qty=2, unit_price=Decimal("1")),
    )
    third = (await order_state(session, order_id)).lines[-1].id
    await sales_service.remove_line(session, order_id=order_id, line_id=third)
    unchanged = await sales_service.update_line(session, order_id=order_id, line_id=first, qty=7)

    # then one line is left, as changed, and both changes are audited with before / after
    state = await order_state(session, order_id)
    assert [(line.qty, line.unit_price) for line in state.lines] == [(7, Decimal("4"))]
    assert state.version > version
    assert unchanged.id == order_id
    [changed] = await audit_of(session, "sales_order.update_line")
    assert (changed.before["qty"], changed.after["qty"]) == (3, 7)
    assert Decimal(changed.after["unit_price"]) == Decimal("4")
    removed = await audit_of(session, "sales_order.remove_line")
    assert [(r.before["line_no"], r.before["part_id"]) for r in removed] == [
        (2, other.id),
        (2, other.id),  # a line added after a removal takes the next free number
    ]
    assert len(await audit_of(session, "sales_order.add_line")) == 1


async def test_confirmed_lines_refuse_and_unknown_ones_are_404(session: AsyncSession) -> None:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 2)],
    )
    [line] = [line.id for line in (await order_state(session, order_id)).lines]
    stale = (await order_state(session, order_id)).version
    with pytest.raises(NotFoundError) as unknown:
        await sales_service.remove_line(session, order_id=order_id, line_id=999_999)
    await sales_service.confirm(session, order_id=order_id)

    with pytest.raises(ConflictError) as edit:
        await sales_service.update_line(session, order_id=order_id, line_id=line, qty=5)
    with pytest.raises(ConflictError) as remove:
        await sales_service.remove_line(session, order_id=order_id, line_id=line)
    with pytest.raises(ConflictError) as old:
        await sales_service.remove_line(session, order_id=order_id, line_id=line, version=stale)
    with pytest.raises(ConflictError) as add:
        await sales_service.add_line(
            session,
            order_id=order_id,
            line=sales_service.LineRequest(
                part_number=site.part_number, qty=1, unit_price=Decimal("1")
            ),
        )

    assert unknown.value.code == "sales_order_line_not_found"
    assert (edit.value.code, edit.value.details) == ("invalid_status", {"status": "confirmed"})
    assert "only a draft's lines change" in edit.value.message
    assert remove.value.code == "invalid_status"
    assert old.value.code == "stale_version"
    assert (add.value.code, add.value.status) == ("invalid_status", 409)
    assert [ln.qty for ln in (await order_state(session, order_id)).lines] == [2]
    assert await reserved_total(session, site.part_id, site.warehouse_id) == 2


async def test_line_routes_and_a_short_confirm_names_parts(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    site = await a_site(session)
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 2)],
    )
    [line] = [line.id for line in (await order_state(session, order_id)).lines]
    base = f"/api/v1/sales-orders/{order_id}/lines/{line}"

    patched = await client.patch(base, json={"qty": 9}, headers=operator_headers)
    bad = await client.patch(base, json={"qty": 0}, headers=operator_headers)
    short = await client.post(
        f"/api/v1/sales-orders/{order_id}/confirm", json={}, headers=operator_headers
    )
    backorder = await client.post(
        f"/api/v1/sales-orders/{order_id}/confirm",
        json={"allow_backorder": True},
        headers=operator_headers,
    )
    refused = await client.request("DELETE", base, json={}, headers=operator_headers)

    assert patched.status_code == 200, patched.text
    assert patched.json()["lines"][0]["qty"] == 9
    assert bad.status_code == 422
    assert (short.status_code, short.headers["content-type"]) == (409, PROBLEM)
    problem = short.json()
    assert f"{site.part_number} needs 9, 5 available" in problem["detail"]
    assert problem["shortages"][0]["part_number"] == site.part_number
    assert backorder.status_code == 200
    assert backorder.json()["lines"][0]["qty_reserved"] == 5
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_status")


async def test_draft_page_offers_edits_and_a_backorder(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    site = await a_site(session)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 2)],
    )
    await login(client, await make_user("operator"))

    page = (await client.get(f"/sales-orders/{order_id}", headers=HTML)).text

    assert 'data-testid="edit-line-1"' in page
    assert 'data-testid="remove-line-1"' in page
    assert 'data-offer-on="insufficient_stock" data-offer-for="confirm-order"' in page
    assert 'id="confirm-order"' in page
    assert "js/offer-on-error.js" in page
