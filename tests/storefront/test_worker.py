"""The worker: web orders become sales orders exactly once; updates change the same order;
what cannot go through lands in review with every reason; failures retry, then give up."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.sales import service as sales_service
from kosh.sales import web_orders as sales_web_orders
from kosh.sales.models import Customer
from kosh.storefront import processing
from kosh.storefront.models import StagedOrder
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, outbox_events, staged_rows, web_orders
from tests.support.sales import order_state, reserved_total

ORDER_727 = "order_727_processing_guest_docs_create_response.json"


async def deliver(
    client: httpx.AsyncClient, shop: Shop, payload: Any, topic: str = "order.updated"
) -> None:
    body, headers = fakestore.delivery(payload, topic=topic)
    answer = await fakestore.send(client, shop.code, body, headers)
    assert answer.status_code == 200, answer.text


async def test_new_order_becomes_a_reserved_sales_order(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession, drain: Any
) -> None:
    # given
    await deliver(client, shop, fakestore.load(ORDER_727), "order.created")
    # when
    stats = await drain()
    # then
    assert stats.applied == 1
    [order] = await web_orders(session)
    [row] = await staged_rows(session)
    assert (row.status, row.sales_order_id, row.claimed_by) == ("applied", order.id, None)
    assert (order.number, order.status, order.external_id) == ("SHOP-727", "confirmed", "727")
    order = await order_state(session, order.id)
    lines = [(li.part_id, li.qty, li.qty_reserved, str(li.unit_price)) for li in order.lines]
    assert lines == [
        (shop.parts["PART-93"], 2, 2, "3.0000"),
        (shop.parts["Bar3"], 1, 1, "12.0000"),
    ]
    assert await reserved_total(session, shop.parts["Bar3"], shop.warehouse_id) == 1
    customer = await session.get(Customer, order.customer_id)
    assert customer is not None
    assert (customer.name, customer.email) == ("John Doe", "john.doe@example.com")


async def test_created_updated_on_hold_cancelled_is_one_order(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession, drain: Any
) -> None:
    created = fakestore.load(ORDER_727)
    await deliver(client, shop, created, "order.created")
    await drain()
    [order] = await web_orders(session)

    # the customer changes the quantity of Bar3 to 3 before shipping
    changed = fakestore.version_of(created, minutes=1)
    changed["line_items"][1].update(quantity=3, subtotal="36.00", total="36.00")
    changed["total"] = "53.35"
    await deliver(client, shop, changed)
    await drain()
    order = await order_state(session, order.id)
    assert [(li.qty, li.qty_reserved) for li in order.lines] == [(2, 2), (3, 3)]
    assert await reserved_total(session, shop.parts["Bar3"], shop.warehouse_id) == 3

    held = fakestore.version_of(changed, minutes=2, status="on-hold")
    await deliver(client, shop, held)
    await drain()
    assert (await order_state(session, order.id)).status == "on_hold"

    cancelled = fakestore.version_of(held, minutes=3, status="cancelled")
    await deliver(client, shop, cancelled)
    await drain()

    [same] = await web_orders(session)
    assert same.id == order.id
    assert (same.status, same.external_status) == ("cancelled", "cancelled")
    assert await reserved_total(session, shop.parts["Bar3"], shop.warehouse_id) == 0
    assert await reserved_total(session, shop.parts["PART-93"], shop.warehouse_id) == 0
    assert [r.status for r in await staged_rows(session)] == ["applied"] * 4
    # the store cancelled it: nothing to tell the store
    assert await outbox_events(session) == []


async def test_versions_out_of_order_never_go_back(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession, drain: Any
) -> None:
    created = fakestore.load(ORDER_727)
    cancelled = fakestore.version_of(created, minutes=5, status="cancelled")
    # the newer version arrives and is applied first: a cancelled order KOSH never had
    await deliver(client, shop, cancelled)
    await drain()
    await deliver(client, shop, created, "order.created")
    await drain()
    assert await web_orders(session) == []
    rows = await staged_rows(session)
    assert [(r.status, r.reasons[0]["code"]) for r in rows] == [
        ("ignored", "closed_before_kosh"),
        ("ignored", "superseded"),
    ]


async def test_both_versions_pending_only_the_newest_applies(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession, drain: Any
) -> None:
    created = fakestore.load(ORDER_727)
    await deliver(client, shop, created, "order.created")
    held = fakestore.version_of(created, minutes=1, status="on-hold")
    await deliver(client, shop, held)
    await drain()
    [order] = await web_orders(session)
    assert order.status == "on_hold"
    assert [r.status for r in await staged_rows(session)] == ["ignored", "applied"]


async def test_unknown_sku_goes_to_review_then_mapped_and_retried(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    manager_headers: dict[str, str],
) -> None:
    # given: Bar3 is called BAR-3 in KOSH, so the store's SKU matches no part
    payload = fakestore.load(ORDER_727)
    payload["line_items"][1]["sku"] = "BAR-THREE"
    await deliver(client, shop, payload, "order.created")
    await drain()
    [row] = await staged_rows(session)
    assert row.status == "review"
    assert [(r["code"], r.get("sku")) for r in row.reasons] == [("unknown_sku", "BAR-THREE")]
    assert await web_orders(session) == []

    listed = await client.get("/api/v1/storefront/staged?status=review", headers=manager_headers)
    assert [item["id"] for item in listed.json()["items"]] == [row.id]
    detail = await client.get(f"/api/v1/storefront/staged/{row.id}", headers=manager_headers)
    assert detail.json()["payload"]["id"] == 727
    assert detail.json()["reasons"][0]["code"] == "unknown_sku"

    # when: a person maps the SKU and retries
    mapped = await client.post(
        "/api/v1/storefront/sku-map",
        json={"store_code": shop.code, "sku": "BAR-THREE", "part_number": "Bar3"},
        headers=manager_headers,
    )
    assert mapped.status_code == 201, mapped.text
    retried = await client.post(
        f"/api/v1/storefront/staged/{row.id}/retry", headers=manager_headers
    )
    assert retried.status_code == 200
    assert retried.json()["status"] == "pending"
    await drain()

    # then
    [row] = await staged_rows(session)
    [order] = await web_orders(session)
    assert (row.status, row.sales_order_id) == ("applied", order.id)
    again = await client.post(f"/api/v1/storefront/staged/{row.id}/retry", headers=manager_headers)
    assert again.status_code == 409


async def test_totals_mismatch_lists_every_reason(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession, drain: Any
) -> None:
    # order 963: fractional quantity, line total not qty x price, shipping lines that do
    # not add up to shipping_total, a total that leaves out the fee; no SKU on line 1
    await deliver(
        client, shop, fakestore.load("order_963_processing_coupon_fee_tax_fractional_qty.json")
    )
    await drain()
    [row] = await staged_rows(session)
    codes = sorted({r["code"] for r in row.reasons})
    assert row.status == "review"
    assert {
        "bad_quantity",
        "line_total_mismatch",
        "shipping_total_mismatch",
        "total_mismatch",
    } <= set(codes)
    assert "unknown_sku" in codes


async def test_order_total_tampered_goes_to_review(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession, drain: Any
) -> None:
    payload = fakestore.load(ORDER_727)
    payload["total"] = "129.35"
    payload["currency"] = "XYZ"
    payload["line_items"][1]["subtotal"] = "120.00"  # 10x the list price of Bar3
    await deliver(client, shop, payload, "order.created")
    await drain()
    [row] = await staged_rows(session)
    assert sorted(r["code"] for r in row.reasons) == [
        "price_out_of_tolerance",
        "total_mismatch",
        "unknown_currency",
    ]


async def test_real_orders_of_every_shape(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession, drain: Any
) -> None:
    # a guest order with prices including tax; a completed one KOSH never saw; a refunded one
    await deliver(client, shop, fakestore.load("order_211_processing_guest_prices_incl_tax.json"))
    await deliver(
        client, shop, fakestore.load("order_324_completed_partially_refunded_8_items.json")
    )
    await deliver(client, shop, fakestore.load("order_609_refunded.json"))
    stats = await drain()
    assert (stats.applied, stats.ignored) == (1, 2)
    [order] = await web_orders(session)
    assert (order.external_id, order.status, order.currency) == ("211", "confirmed", "USD")
    rows = {r.external_id: r for r in await staged_rows(session)}
    assert rows["324"].reasons[0]["code"] == "completed_before_kosh"
    assert rows["609"].reasons[0]["code"] == "closed_before_kosh"


async def test_shipped_order_completed_echo_is_a_no_op(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession, drain: Any
) -> None:
    created = fakestore.load(ORDER_727)
    await deliver(client, shop, created, "order.created")
    await drain()
    [order] = await web_orders(session)
    await sales_service.ship(session, order_id=order.id)
    # WooCommerce fires order.updated for KOSH's own status change
    await deliver(client, shop, fakestore.load("order_727_completed_docs_update_response.json"))
    await drain()
    [order] = await web_orders(session)
    assert (order.status, order.external_status) == ("shipped", "completed")
    assert [r.status for r in await staged_rows(session)] == ["applied", "applied"]


async def test_transient_failures_retry_with_backoff_then_go_to_review(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    worker_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await deliver(client, shop, fakestore.load(ORDER_727), "order.created")
    calls = {"n": 0}
    real = processing._apply_version

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        raise ConnectionError("database went away")

    monkeypatch.setattr(processing, "_apply_version", flaky)
    _break_the_batch(monkeypatch)
    patient = worker_settings.model_copy(
        update={"storefront_retry_base_seconds": 60.0, "storefront_retry_max_seconds": 600.0}
    )
    await drain(patient)
    [row] = await staged_rows(session)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at > row.received_at
    assert "database went away" in (row.last_error or "")
    # the following attempts are due at once (tiny backoff in the test settings)
    for _ in range(worker_settings.storefront_max_attempts):
        await _make_due(session)
        await drain(patient)
    [row] = await staged_rows(session)
    assert row.status == "review"
    assert row.reasons[0]["code"] == "gave_up"
    assert calls["n"] == worker_settings.storefront_max_attempts
    # fixed: a retry applies it
    monkeypatch.setattr(processing, "_apply_version", real)
    await client.post(
        f"/api/v1/storefront/staged/{row.id}/retry",
        headers=await _manager(client),
    )
    await drain()
    assert [r.status for r in await staged_rows(session)] == ["applied"]


def _break_the_batch(monkeypatch: pytest.MonkeyPatch, external_id: str | None = None) -> None:
    """The fault a test puts into applying one order (`processing._apply_version`) also
    hits the worker's fast path (kosh.storefront.batch) when the batch holds that order
    (any, without `external_id`): the batch rolls back and its rows go one by one."""
    real = sales_web_orders.apply_new

    async def broken(session: AsyncSession, versions: Any) -> Any:
        if external_id is None or any(v.external_id == external_id for v in versions):
            raise ConnectionError("lost the connection")
        return await real(session, versions)

    monkeypatch.setattr(sales_web_orders, "apply_new", broken)


async def _make_due(session: AsyncSession) -> None:
    await session.execute(update(StagedOrder).values(next_attempt_at=utcnow()))
    await session.commit()


async def _manager(client: httpx.AsyncClient) -> dict[str, str]:
    from kosh.auth import service as auth_service
    from kosh.auth import tokens as token_service

    app = client._transport.app  # type: ignore[attr-defined]
    async with app.state.sessions() as session:
        user = await auth_service.create_user(
            session, username="mgr-retry", password="correct-horse-battery", role="manager"
        )
        token = await token_service.create_token(
            session, user_id=user.id, name="t", scopes=["read", "write"], expires_at=None
        )
    return {"authorization": f"Bearer {token.raw_token}"}


async def test_an_expired_lease_is_taken_over_and_the_late_worker_loses(
    client: httpx.AsyncClient,
    shop: Shop,
    sessions: async_sessionmaker[AsyncSession],
    worker_settings: Settings,
) -> None:
    await deliver(client, shop, fakestore.load(ORDER_727), "order.created")
    async with sessions() as session:
        [claimed] = await processing.claim(session, worker_id="A", limit=10, lease_seconds=60)
        # within the lease nobody else gets it
        assert await processing.claim(session, worker_id="B", limit=10, lease_seconds=60) == []
        # A "dies"; after the lease B takes over and applies it
        assert await processing.claim(session, worker_id="B", limit=10, lease_seconds=0) == [
            claimed
        ]
        applied = await processing.process(
            session, staged_id=claimed, worker_id="B", settings=worker_settings
        )
        assert applied.outcome == "applied"
        late = await processing.process(
            session, staged_id=claimed, worker_id="A", settings=worker_settings
        )
        assert late.outcome == "lost"
        [order] = await web_orders(session)
        assert order.status == "confirmed"


async def test_undo_and_reprocess_reuses_the_same_order(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    manager_headers: dict[str, str],
) -> None:
    # given: applied with product 93 mapped to the wrong part
    await deliver(client, shop, fakestore.load(ORDER_727), "order.created")
    await drain()
    [row] = await staged_rows(session)
    [order] = await web_orders(session)
    # when: undo (KOSH order cancelled, reservations released) without reprocessing
    undone = await client.post(
        f"/api/v1/storefront/staged/{row.id}/undo", json={}, headers=manager_headers
    )
    assert undone.status_code == 200, undone.text
    assert undone.json()["status"] == "applied"
    assert (await order_state(session, order.id)).status == "cancelled"
    assert await reserved_total(session, shop.parts["PART-93"], shop.warehouse_id) == 0
    # the mapping is fixed, then undo with reprocess: the same KOSH order comes back
    await client.post(
        "/api/v1/storefront/sku-map",
        json={"store_code": shop.code, "sku": "product:93", "part_number": "WOO-SINGLE-1"},
        headers=manager_headers,
    )
    again = await client.post(
        f"/api/v1/storefront/staged/{row.id}/undo",
        json={"reprocess": True},
        headers=manager_headers,
    )
    assert again.json()["status"] == "pending"
    await drain()
    [same] = await web_orders(session)
    assert (same.id, same.status) == (order.id, "confirmed")
    same = await order_state(session, same.id)
    assert same.lines[0].part_id == shop.parts["WOO-SINGLE-1"]
    assert await reserved_total(session, shop.parts["PART-93"], shop.warehouse_id) == 0
    assert await reserved_total(session, shop.parts["WOO-SINGLE-1"], shop.warehouse_id) == 2


async def test_cancel_a_staged_row(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    manager_headers: dict[str, str],
) -> None:
    await deliver(client, shop, fakestore.load(ORDER_727), "order.created")
    [row] = await staged_rows(session)
    cancelled = await client.post(
        f"/api/v1/storefront/staged/{row.id}/cancel",
        json={"reason": "test order"},
        headers=manager_headers,
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    await drain()
    assert await web_orders(session) == []
    bulk = await client.post(
        "/api/v1/storefront/staged/retry", json={"status": "cancelled"}, headers=manager_headers
    )
    assert bulk.json() == {"retried": 1}
    await drain()
    assert len(await web_orders(session)) == 1
    rows = list(await session.scalars(select(StagedOrder.status)))
    assert rows == ["applied"]


async def test_a_failing_order_does_not_spoil_the_rest_of_its_batch(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    drain: Any,
    worker_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: two orders claimed in one batch; applying the first one blows up
    await deliver(client, shop, fakestore.load(ORDER_727), "order.created")
    await deliver(client, shop, fakestore.load("order_211_processing_guest_prices_incl_tax.json"))
    real = processing._apply_version

    async def flaky(session: AsyncSession, *, row: StagedOrder, **kwargs: Any) -> Any:
        if row.external_id == "727":
            raise ConnectionError("lost the connection")
        return await real(session, row=row, **kwargs)

    monkeypatch.setattr(processing, "_apply_version", flaky)
    _break_the_batch(monkeypatch, "727")
    patient = worker_settings.model_copy(
        update={"storefront_retry_base_seconds": 60.0, "storefront_retry_max_seconds": 600.0}
    )
    # when
    stats = await drain(patient)
    # then: the second order went through in the same run (after the rollback)
    assert (stats.applied, stats.retried) == (1, 1)
    assert [o.external_id for o in await web_orders(session)] == ["211"]
