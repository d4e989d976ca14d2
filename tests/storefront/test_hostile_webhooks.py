"""Webhooks an attacker or a real WooCommerce sends that used to break intake (issue 8):
nesting bombs (6) and secrets holding HTML entities, signed as WooCommerce signs them (8)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.storefront import service as storefront_service
from kosh.storefront import woocommerce as wc
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, staged_rows
from tests.support import live_server as live
from tests.support.stock import a_site

ORDER_727 = "order_727_processing_guest_docs_create_response.json"


def _signed(body: bytes, headers: dict[str, str], key: str = fakestore.WEBHOOK_SECRET) -> None:
    headers["x-wc-webhook-signature"] = base64.b64encode(
        hmac.new(key.encode(), body, hashlib.sha256).digest()
    ).decode()


# --- 6: nesting bombs ----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [100, 200_000])
async def test_deeply_nested_signed_delivery_is_a_recorded_400(
    client: httpx.AsyncClient,
    shop: Shop,
    session: AsyncSession,
    operator_headers: dict[str, str],
    depth: int,
) -> None:
    # given: a correctly signed order whose metadata nests `depth` arrays
    body = b'{"id":727,"date_modified_gmt":"2017-03-22T19:28:08","meta_data":'
    body += b"[" * depth + b"]" * depth + b"}"
    _, headers = fakestore.delivery({})
    _signed(body, headers)
    # when
    answer = await fakestore.send(client, shop.code, body, headers)
    # then
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "malformed_payload"
    assert "nested deeper than 64" in answer.json()["detail"]
    [row] = await staged_rows(session)
    assert (row.status, row.external_id) == ("ignored", None)
    assert "nested deeper than 64" in row.reasons[0]["message"]
    detail = await client.get(f"/api/v1/storefront/staged/{row.id}", headers=operator_headers)
    assert detail.status_code == 200, detail.text  # shown as text, not parsed
    page = await client.get(f"/storefront/staged/{row.id}", headers=operator_headers)
    assert page.status_code == 200


def test_load_json_depth() -> None:
    ok = "[" * 64 + "]" * 64
    assert wc.load_json(ok) is not None
    with pytest.raises(wc.PayloadError, match="deeper than 64"):
        wc.load_json("[" * 65 + "]" * 65)
    with pytest.raises(wc.PayloadError, match="deeper than 64"):
        wc.load_json('{"a":' * 100_000 + "1" + "}" * 100_000)
    with pytest.raises(wc.PayloadError, match="not a JSON object"):
        wc.load_json(b"\xff")
    assert wc.decode_payload(b"[1]") is None


# --- 8: the signing key is wp_specialchars_decode($secret, ENT_QUOTES) ------------------------


@pytest.mark.parametrize(
    ("stored", "decoded"),
    [
        ("plain secret", "plain secret"),
        ("a&b & c", "a&b & c"),
        ("&amp;&lt;&gt;&quot;&#039;", "&<>\"'"),
        ("&#39;&#0039;&#x27;&#X27;&#x027;", "'''''"),
        ("&#34;&#x22;&#034;&#60;&#062;&#38;&#x26;&#038;", '"""<>&&&'),
        ("&amp;lt;", "&lt;"),  # one pass, never re-read
        ("&copy;&#65;&AMP;&#x2F;", "&copy;&#65;&AMP;&#x2F;"),  # not in WordPress's list
    ],
)
def test_wp_specialchars_decode(stored: str, decoded: str) -> None:
    assert wc.wp_specialchars_decode(stored) == decoded


# A secret as WooCommerce stores it (its admin screen and REST API keep the HTML-escaped
# form), and the key WC_Webhook::generate_signature really signs with.
ENTITY_SECRET = "s3cr&amp;t &lt;woo&gt; &quot;q&quot; &#039;x&#039; ✓"
ENTITY_KEY = "s3cr&t <woo> \"q\" 'x' ✓"


async def test_secret_with_entities_through_a_real_http_request(
    live_server: live.LiveServer, session: AsyncSession, settings: Settings
) -> None:
    # given: a store whose webhook secret holds every entity WooCommerce decodes
    site = await a_site(session, bins=1)
    server_settings = settings.model_copy(update={"secret_key": SecretStr(live.SECRET_KEY)})
    await storefront_service.create_store(
        session,
        settings=server_settings,
        code="ENTITIES",
        kind="woocommerce",
        base_url="https://shop.example.com",
        webhook_secret=ENTITY_SECRET,
        warehouse_id=site.warehouse_id,
    )
    body, headers = fakestore.delivery(fakestore.load(ORDER_727), topic="order.created")
    url = f"{live_server.url}/api/v1/storefront/woocommerce/ENTITIES/webhook"
    async with httpx.AsyncClient(timeout=10) as http:
        # when: signed with the raw secret (what KOSH checked before), then as WooCommerce signs
        _signed(body, headers, ENTITY_SECRET)
        raw = await http.post(url, content=body, headers=headers)
        _signed(body, headers, ENTITY_KEY)
        genuine = await http.post(url, content=body, headers=headers)
    # then
    assert raw.status_code == 401, raw.text
    assert raw.json()["code"] == "bad_signature"
    assert genuine.status_code == 200, genuine.text + live_server.log_tail()
    assert genuine.json()["status"] == "accepted"
    [row] = await staged_rows(session)
    assert (row.external_id, row.status) == ("727", "pending")
