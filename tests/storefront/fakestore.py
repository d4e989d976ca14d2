"""A stand-in WooCommerce: a small ASGI app served by uvicorn on 127.0.0.1 in a thread.

It answers the REST calls KOSH makes (PUT /wp-json/wc/v3/orders/<id>, POST .../notes,
GET .../orders/<id>/refunds,
GET /wp-json/wc/v3/orders with paging), checks their one-legged OAuth 1.0a signature (plain
HTTP, as WooCommerce requires), records what it received, and can be told to fail (HTTP
500s, answers slower than KOSH's timeout, slow answers). It also builds and sends webhook
deliveries signed the way WooCommerce signs them, from the real payloads in
shared/data/woocommerce.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.shared_data import SHARED_DATA

DATA = SHARED_DATA / "woocommerce"
CONSUMER_KEY = "ck_test_0123456789abcdef"
CONSUMER_SECRET = "cs_test_fedcba9876543210"
WEBHOOK_SECRET = "wh-secret: with spaces & symbols ✓"


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def wc_json(payload: Any) -> bytes:
    """The body as WooCommerce sends it: trim(wp_json_encode(payload)) (compact, \\/, \\u)."""
    return (
        json.dumps(payload, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()
    )


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def delivery(
    payload: Any,
    *,
    secret: str = WEBHOOK_SECRET,
    topic: str = "order.updated",
    webhook_id: int = 142,
    delivery_id: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """Body and headers of one webhook delivery (WC_Webhook::deliver)."""
    body = wc_json(payload)
    resource, _, event = topic.partition(".")
    headers = {
        "content-type": "application/json",
        "user-agent": "WooCommerce/9.4.0 Hookshot (WordPress/6.7)",
        "x-wc-webhook-source": "https://shop.example.com/",
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-resource": resource,
        "x-wc-webhook-event": event,
        "x-wc-webhook-signature": sign(secret, body),
        "x-wc-webhook-id": str(webhook_id),
        "x-wc-webhook-delivery-id": delivery_id
        or hashlib.md5(f"{webhook_id}{time.time()}".encode()).hexdigest(),  # noqa: S324
    }
    return body, headers


def version_of(payload: dict[str, Any], *, minutes: int, **changes: Any) -> dict[str, Any]:
    """The same order, modified `minutes` later with `changes` applied."""
    changed = copy.deepcopy(payload)
    changed.update(changes)
    base = changed["date_modified_gmt"]
    hour, minute = int(base[11:13]), int(base[14:16]) + minutes
    changed["date_modified_gmt"] = (
        f"{base[:11]}{hour + minute // 60:02d}:{minute % 60:02d}{base[16:]}"
    )
    return changed


# --- OAuth 1.0a (one-legged) verification, as WooCommerce does it -------------------------


def _enc(value: str) -> str:
    return quote(value, safe="~-._")


def oauth_valid(method: str, url: str, params: list[tuple[str, str]], secret: str) -> bool:
    sent = dict(params).get("oauth_signature")
    if not sent:
        return False
    pairs = sorted((_enc(k), _enc(v)) for k, v in params if k != "oauth_signature")
    normalized = "&".join(f"{k}={v}" for k, v in pairs)
    base = "&".join([method.upper(), _enc(url), _enc(normalized)])
    digest = hmac.new(f"{_enc(secret)}&".encode(), base.encode(), hashlib.sha1).digest()
    return hmac.compare_digest(base64.b64encode(digest).decode(), sent)


# --- the server -----------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    body: Any
    auth: str


@dataclass
class FakeStore:
    orders: list[dict[str, Any]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    fail_status: int | None = None  # answer every API call with this status
    fail_times: int = 0  # ... this many times (0 = until cleared)
    delay: float = 0.0  # seconds before answering
    url: str = ""
    nonces: set[str] = field(default_factory=set)
    # the catalogue: id -> product or variation (id, sku, parent_id, type, stock fields)
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    # order id -> meta key -> value, as PUT .../orders/<id> {"meta_data": [...]} left it
    order_meta: dict[str, dict[str, Any]] = field(default_factory=dict)
    # order id -> its refunds as GET .../orders/<id>/refunds answers them (newest first)
    refunds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add_product(self, sku: str, *, parent_id: int = 0, stock: int | None = None) -> int:
        product_id = 1000 + sum(1 for known in self.products if known >= 1000)
        if parent_id and parent_id not in self.products:  # the variable product itself
            self.products[parent_id] = {
                "id": parent_id,
                "sku": "",
                "parent_id": 0,
                "type": "variable",
                "manage_stock": False,
                "stock_quantity": None,
            }
        elif parent_id:
            self.products[parent_id]["type"] = "variable"
        self.products[product_id] = {
            "id": product_id,
            "sku": sku,
            "parent_id": parent_id,
            "type": "variation" if parent_id else "simple",
            "manage_stock": stock is not None,
            "stock_quantity": stock,
        }
        return product_id

    def stock_of(self, sku: str) -> int | None:
        [found] = [p for p in self.products.values() if p["sku"] == sku]
        return found["stock_quantity"] if found["manage_stock"] else None

    @property
    def batches(self) -> list[Received]:
        return [r for r in self.received if r.path.endswith("/batch")]

    @property
    def status_updates(self) -> list[tuple[str, str]]:
        return [
            (r.path.rsplit("/", 1)[-1], r.body["status"])
            for r in self.received
            if r.method == "PUT" and r.auth == "oauth" and "status" in r.body
        ]

    @property
    def note_bodies(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (r.path.split("/")[-2], r.body)
            for r in self.received
            if r.method == "POST" and r.path.endswith("/notes")
        ]

    @property
    def notes(self) -> list[tuple[str, str]]:
        return [
            (r.path.split("/")[-2], r.body["note"])
            for r in self.received
            if r.method == "POST" and r.path.endswith("/notes")
        ]

    def refund(
        self, order_id: str, refund_id: int, lines: dict[int, int], *, reason: str = ""
    ) -> dict[str, Any]:
        """Refund `lines` (order line id -> units) of an order as WooCommerce records it: a
        refund whose line items carry negative quantities and totals and name the order
        line in `_refunded_item_id`. Returns the order's `refunds` summary entry."""
        items = [
            {
                "id": refund_id * 100 + index,
                "name": f"line {line_id}",
                "quantity": -qty,
                "total": f"-{qty * 10}.00",
                "meta_data": [{"id": index, "key": "_refunded_item_id", "value": str(line_id)}],
            }
            for index, (line_id, qty) in enumerate(lines.items())
        ]
        total = f"-{sum(lines.values()) * 10}.00"
        refund = {"id": refund_id, "reason": reason, "amount": total[1:], "line_items": items}
        self.refunds.setdefault(str(order_id), []).insert(0, refund)
        return {"id": refund_id, "reason": reason, "total": total}

    def fail(self, status: int, times: int = 0) -> None:
        self.fail_status, self.fail_times = status, times

    def recover(self) -> None:
        self.fail_status, self.fail_times, self.delay = None, 0, 0.0

    async def _check(self, request: Request) -> str | None:
        params = list(parse_qsl(request.url.query, keep_blank_values=True))
        url = f"{self.url}{request.url.path}"
        if not oauth_valid(request.method, url, params, CONSUMER_SECRET):
            return None
        values = dict(params)
        if values.get("oauth_consumer_key") != CONSUMER_KEY:
            return None
        if abs(int(values.get("oauth_timestamp", "0")) - time.time()) > 900:
            return None
        nonce = values.get("oauth_nonce", "")
        if nonce in self.nonces:
            return None
        self.nonces.add(nonce)
        return "oauth"

    async def _gate(self, request: Request) -> Response | str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_status is not None:
            if self.fail_times:
                self.fail_times -= 1
                if self.fail_times == 0:
                    self.fail_status, status = None, self.fail_status
                    return JSONResponse({"code": "fail"}, status_code=status)
            return JSONResponse({"code": "fail"}, status_code=self.fail_status)
        auth = await self._check(request)
        if auth is None:
            return JSONResponse({"code": "woocommerce_rest_authentication_error"}, status_code=401)
        return auth

    async def update_order(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        body = json.loads(await request.body())
        self.received.append(Received("PUT", request.url.path, body, gate))
        order_id = int(request.path_params["order_id"])
        meta = self.order_meta.setdefault(str(order_id), {})
        for item in body.get("meta_data", []):  # WooCommerce sets (replaces) each key
            meta[item["key"]] = item["value"]
        return JSONResponse(
            {
                "id": order_id,
                "status": body.get("status"),
                "meta_data": [{"key": k, "value": v} for k, v in meta.items()],
            }
        )

    async def add_note(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        body = json.loads(await request.body())
        self.received.append(Received("POST", request.url.path, body, gate))
        return JSONResponse({"id": len(self.received), "note": body.get("note")}, status_code=201)

    async def list_refunds(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        self.received.append(Received("GET", request.url.path, dict(request.query_params), gate))
        order_id = str(request.path_params["order_id"])
        return self._page(request, list(self.refunds.get(order_id, [])), newest_first=True)

    async def list_orders(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        self.received.append(Received("GET", request.url.path, dict(request.query_params), gate))
        after = request.query_params.get("modified_after", "")
        per_page = int(request.query_params.get("per_page", "10"))
        page = int(request.query_params.get("page", "1"))
        matching = sorted(
            (o for o in self.orders if o.get("date_modified_gmt", "") > after),
            key=lambda o: o["id"],
        )
        pages = max(1, -(-len(matching) // per_page))
        chunk = matching[(page - 1) * per_page : page * per_page]
        return JSONResponse(
            chunk, headers={"x-wp-total": str(len(matching)), "x-wp-totalpages": str(pages)}
        )

    async def list_products(self, request: Request) -> Response:
        """GET products?sku=a,b: products and variations with those SKUs (WooCommerce
        searches variations too when a SKU is given)."""
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        self.received.append(Received("GET", request.url.path, dict(request.query_params), gate))
        if "sku" not in request.query_params:  # the catalogue, a page at a time
            return self._page(request, [p for p in self.products.values() if not p["parent_id"]])
        wanted = set(request.query_params.get("sku", "").split(","))
        found = [p for _, p in sorted(self.products.items()) if p["sku"] in wanted]
        return JSONResponse(found, headers={"x-wp-total": str(len(found))})

    async def list_variations(self, request: Request) -> Response:
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        self.received.append(Received("GET", request.url.path, dict(request.query_params), gate))
        parent_id = int(request.path_params["parent_id"])
        return self._page(
            request, [p for p in self.products.values() if p["parent_id"] == parent_id]
        )

    def _page(
        self, request: Request, rows: list[dict[str, Any]], *, newest_first: bool = False
    ) -> Response:
        rows = sorted(rows, key=lambda p: p["id"], reverse=newest_first)
        per_page = int(request.query_params.get("per_page", "10"))
        page = int(request.query_params.get("page", "1"))
        pages = max(1, -(-len(rows) // per_page))
        chunk = rows[(page - 1) * per_page : page * per_page]
        return JSONResponse(
            chunk, headers={"x-wp-total": str(len(rows)), "x-wp-totalpages": str(pages)}
        )

    def set_stock_by_hand(self, sku: str, qty: int) -> None:
        """A shop manager edits the product's stock in WooCommerce."""
        [found] = [p for p in self.products.values() if p["sku"] == sku]
        found["manage_stock"], found["stock_quantity"] = True, qty

    async def batch(self, request: Request) -> Response:
        """POST products/batch and products/<id>/variations/batch: each update applied on
        its own; an unknown id (or a variation of another parent) is an error item."""
        gate = await self._gate(request)
        if isinstance(gate, Response):
            return gate
        body = json.loads(await request.body())
        self.received.append(Received("POST", request.url.path, body, gate))
        parent_id = int(request.path_params.get("parent_id", 0))
        answers: list[dict[str, Any]] = []
        for update in body.get("update", []):
            product = self.products.get(int(update["id"]))
            if product is None or product["parent_id"] != parent_id:
                answers.append(
                    {
                        "id": update["id"],
                        "error": {"code": "woocommerce_rest_product_invalid_id", "message": "?"},
                    }
                )
                continue
            for key in ("manage_stock", "stock_quantity"):
                if key in update:
                    product[key] = update[key]
            answers.append(dict(product))
        return JSONResponse({"update": answers})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/wp-json/wc/v3/orders", self.list_orders, methods=["GET"]),
                Route("/wp-json/wc/v3/orders/{order_id:int}", self.update_order, methods=["PUT"]),
                Route(
                    "/wp-json/wc/v3/orders/{order_id:int}/notes", self.add_note, methods=["POST"]
                ),
                Route(
                    "/wp-json/wc/v3/orders/{order_id:int}/refunds",
                    self.list_refunds,
                    methods=["GET"],
                ),
                Route("/wp-json/wc/v3/products", self.list_products, methods=["GET"]),
                Route("/wp-json/wc/v3/products/batch", self.batch, methods=["POST"]),
                Route(
                    "/wp-json/wc/v3/products/{parent_id:int}/variations",
                    self.list_variations,
                    methods=["GET"],
                ),
                Route(
                    "/wp-json/wc/v3/products/{parent_id:int}/variations/batch",
                    self.batch,
                    methods=["POST"],
                ),
            ]
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve() -> Iterator[FakeStore]:
    """Start the fake store on a free port in a thread; stop it afterwards."""
    store = FakeStore()
    port = _free_port()
    store.url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        store.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake store did not start")
        time.sleep(0.02)
    try:
        yield store
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def send(
    client: httpx.AsyncClient, store_code: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    """Deliver a webhook to KOSH the way WooCommerce does (POST, HTTP/1.0 semantics)."""
    return await client.post(
        f"/api/v1/storefront/woocommerce/{store_code}/webhook", content=body, headers=headers
    )
