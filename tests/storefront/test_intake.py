"""Webhook intake: signature, ping, replays, refusals, limits, secrets at rest."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.storefront.models import StagedOrder, Store
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, staged_rows

ORDER_727 = "order_727_processing_guest_docs_create_response.json"


async def test_signed_delivery_is_stored_before_the_200(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession
) -> None:
    # given
    body, headers = fakestore.delivery(fakestore.load(ORDER_727), topic="order.created")
    # when
    answer = await fakestore.send(client, shop.code, body, headers)
    # then
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted"
    [row] = await staged_rows(session)
    assert (row.id, row.external_id, row.status) == (answer.json()["id"], "727", "pending")
    assert row.body.encode() == body  # the raw bytes, as signed
    assert row.dedupe_key == "2017-03-22T19:28:08"
    assert row.headers["x-wc-webhook-topic"] == "order.created"
    assert "x-wc-webhook-signature" not in row.headers


async def test_bad_or_missing_signature_is_401_and_stores_nothing(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession
) -> None:
    body, headers = fakestore.delivery(fakestore.load(ORDER_727), secret="not-the-secret")
    wrong = await fakestore.send(client, shop.code, body, headers)
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "bad_signature"
    del headers["x-wc-webhook-signature"]
    missing = await fakestore.send(client, shop.code, body, headers)
    assert missing.status_code == 401
    _, good_headers = fakestore.delivery(fakestore.load(ORDER_727))
    tampered = await fakestore.send(client, shop.code, body + b" ", good_headers)
    assert tampered.status_code == 401
    assert await staged_rows(session) == []


async def test_ping_gets_exactly_200(client: httpx.AsyncClient, shop: Shop) -> None:
    # as WooCommerce sends it: form-style body, no X-WC-* headers, no signature
    for content_type in ("application/x-www-form-urlencoded", None):
        headers = {"user-agent": "WooCommerce/9.4.0 Hookshot (WordPress/6.7)"}
        if content_type:
            headers["content-type"] = content_type
        answer = await client.post(
            f"/api/v1/storefront/woocommerce/{shop.code}/webhook",
            content=b"webhook_id=142",
            headers=headers,
        )
        assert answer.status_code == 200, answer.text


async def test_replayed_delivery_makes_no_second_row(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession
) -> None:
    payload = fakestore.load(ORDER_727)
    body, headers = fakestore.delivery(payload, topic="order.created")
    first = await fakestore.send(client, shop.code, body, headers)
    again = await fakestore.send(client, shop.code, body, headers)
    # order.updated fired for the same save carries the same version: also a duplicate
    body2, headers2 = fakestore.delivery(payload, topic="order.updated")
    same_version = await fakestore.send(client, shop.code, body2, headers2)
    assert [first.json()["status"], again.json()["status"], same_version.json()["status"]] == [
        "accepted",
        "duplicate",
        "duplicate",
    ]
    assert len(await staged_rows(session)) == 1
    newer = fakestore.version_of(payload, minutes=2, status="completed")
    body3, headers3 = fakestore.delivery(newer)
    assert (await fakestore.send(client, shop.code, body3, headers3)).json()["status"] == (
        "accepted"
    )
    assert len(await staged_rows(session, "727")) == 2


async def test_signed_junk_and_other_topics_are_refused_and_recorded(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession
) -> None:
    junk = b"<html>not json</html>"
    _, headers = fakestore.delivery({})
    headers["x-wc-webhook-signature"] = fakestore.sign(fakestore.WEBHOOK_SECRET, junk)
    not_json = await fakestore.send(client, shop.code, junk, headers)
    assert not_json.status_code == 400
    assert not_json.json()["code"] == "malformed_payload"

    body, product_headers = fakestore.delivery({"id": 5, "name": "Hat"}, topic="product.updated")
    product = await fakestore.send(client, shop.code, body, product_headers)
    assert product.status_code == 400
    assert product.json()["code"] == "unsupported_topic"

    rows = await staged_rows(session)
    assert [(r.status, r.external_id) for r in rows] == [("ignored", None), ("ignored", None)]
    assert "not a JSON object" in rows[0].reasons[0]["message"]
    assert "product.updated" in rows[1].reasons[0]["message"]


async def test_size_limit_and_unknown_store(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession
) -> None:
    payload = fakestore.load(ORDER_727)
    payload["customer_note"] = "x" * 600_000
    body, headers = fakestore.delivery(payload)
    too_big = await fakestore.send(client, shop.code, body, headers)
    assert too_big.status_code == 413
    small, small_headers = fakestore.delivery(fakestore.load(ORDER_727))
    unknown = await fakestore.send(client, "NOSUCH", small, small_headers)
    assert unknown.status_code == 404
    assert await staged_rows(session) == []


async def test_deleted_topic_is_staged_as_trash(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession
) -> None:
    body, headers = fakestore.delivery({"id": 727}, topic="order.deleted", delivery_id="d-1")
    answer = await fakestore.send(client, shop.code, body, headers)
    assert answer.status_code == 200
    again = await fakestore.send(client, shop.code, body, headers)
    assert again.json()["status"] == "duplicate"
    [row] = await staged_rows(session)
    assert (row.external_status, row.dedupe_key) == ("trash", "deleted:d-1")


async def test_store_secrets_are_encrypted_and_never_shown(
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
    shop: Shop,
    session: AsyncSession,
) -> None:
    stored = await session.scalar(select(Store).where(Store.code == shop.code))
    assert stored is not None
    for secret in (fakestore.WEBHOOK_SECRET, fakestore.CONSUMER_KEY, fakestore.CONSUMER_SECRET):
        assert secret not in (stored.webhook_secret_enc or "")
        assert secret not in (stored.consumer_key_enc or "")
        assert secret not in (stored.consumer_secret_enc or "")
    listed = await client.get("/api/v1/storefront/stores", headers=admin_headers)
    assert listed.status_code == 200
    text = listed.text
    assert fakestore.CONSUMER_SECRET not in text
    assert fakestore.CONSUMER_KEY not in text
    assert listed.json()[0]["has_api_credentials"] is True
    made = await client.post(
        "/api/v1/storefront/stores",
        json={
            "code": "SHOP2",
            "kind": "woocommerce",
            "base_url": "https://shop2.example.com/",
            "webhook_secret": "another-long-secret",
            "warehouse_id": shop.warehouse_id,
        },
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    assert "another-long-secret" not in made.text
    assert made.json()["webhook_path"] == "/api/v1/storefront/woocommerce/SHOP2/webhook"
    taken = await client.post(
        "/api/v1/storefront/stores",
        json={
            "code": "SHOP2",
            "kind": "woocommerce",
            "base_url": "https://shop2.example.com",
            "webhook_secret": "another-long-secret",
            "warehouse_id": shop.warehouse_id,
        },
        headers=admin_headers,
    )
    assert taken.status_code == 409


async def test_intake_writes_exactly_one_row_per_delivery(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession
) -> None:
    payload = fakestore.load("orders_list_4_orders.json")
    for order in payload:
        body, headers = fakestore.delivery(order, topic="order.created")
        assert (await fakestore.send(client, shop.code, body, headers)).status_code == 200
    ids = list(await session.scalars(select(StagedOrder.external_id).order_by(StagedOrder.id)))
    assert ids == ["963", "961", "960", "560"]
