"""Web-store demo data for `kosh demo-data`: store `DEMO-SHOP` (WooCommerce, on a placeholder
address: nothing is called, the stock push and tracking are off), a SKU map for some demo
parts, and orders that arrive the way a webhook's do (staged, then worked by the worker's
own claim and process): three become sales orders, one with an unknown SKU waits in review.

A re-run changes nothing: made only when the store is new."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.storefront import intake, processing
from kosh.storefront import service as storefront_service
from kosh.storefront import woocommerce as wc

STORE = "DEMO-SHOP"
WORKER = "demo-data"
SKUS = {"KIT-CTRL": "ASM-CTRL-V3", "BTN-6MM": "SW-TACT-6MM", "LED-GRN": "LED-0603-GRN"}
# order id, days ago, (sku, qty, unit price)
ORDERS = (
    (5001, 3, (("KIT-CTRL", 1, "39.00"), ("BTN-6MM", 4, "0.50"))),
    (5002, 1, (("LED-GRN", 20, "0.20"),)),
    (5003, 0, (("BTN-6MM", 10, "0.50"), ("LED-GRN", 10, "0.20"))),
    (5004, 0, (("GIFT-CARD-25", 1, "25.00"),)),  # not mapped: waits in review
)


def _payload(order_id: int, days_ago: int, lines: tuple[tuple[str, int, str], ...]) -> bytes:
    at = (utcnow() - timedelta(days=days_ago, hours=2)).strftime("%Y-%m-%dT%H:%M:%S")
    items = []
    total = Decimal(0)
    for n, (sku, qty, price) in enumerate(lines, start=1):
        line_total = Decimal(price) * qty
        total += line_total
        items.append(
            {
                "id": order_id * 10 + n,
                "name": sku,
                "sku": sku,
                "product_id": 100 + n,
                "quantity": qty,
                "price": price,
                "subtotal": f"{line_total:.2f}",
                "total": f"{line_total:.2f}",
            }
        )
    payload = {
        "id": order_id,
        "number": str(order_id),
        "status": "processing",
        "currency": "EUR",
        "date_created_gmt": at,
        "date_modified_gmt": at,
        "total": f"{total:.2f}",
        "shipping_total": "0.00",
        "total_tax": "0.00",
        "billing": {
            "first_name": "Web",
            "last_name": f"Customer {order_id}",
            "email": f"web{order_id}@example.com",
        },
        "shipping": {"first_name": "Web", "last_name": f"Customer {order_id}", "country": "DE"},
        "line_items": items,
    }
    return json.dumps(payload).encode()


async def load_storefront_demo(
    session: AsyncSession, *, settings: Settings, warehouse_id: int
) -> int:
    """Answers how many web orders were staged (0 when the store exists)."""
    if await storefront_service.get_store_by_code(session, STORE) is not None:
        return 0
    store = await storefront_service.create_store(
        session,
        settings=settings,
        code=STORE,
        kind="woocommerce",
        base_url="https://shop.example.com",
        webhook_secret=secrets.token_urlsafe(32),
        warehouse_id=warehouse_id,
    )
    store_id = store.id
    for sku, number in SKUS.items():
        await storefront_service.map_sku(session, store_code=STORE, sku=sku, part_number=number)
    for order_id, days_ago, lines in ORDERS:
        body = _payload(order_id, days_ago, lines)
        key = wc.delivery_key(json.loads(body), topic="order.created", delivery_id=None, body=body)
        assert key is not None  # noqa: S101 - our own payload always has an order id
        await intake.stage(
            session,
            store_id=store_id,
            key=key,
            body=body,
            headers={"x-wc-webhook-topic": "order.created"},
            source="webhook",
            topic="order.created",
        )
    claimed = await processing.claim(session, worker_id=WORKER, limit=len(ORDERS), lease_seconds=60)
    for staged_id in claimed:
        await processing.process(session, staged_id=staged_id, worker_id=WORKER, settings=settings)
    return len(ORDERS)
