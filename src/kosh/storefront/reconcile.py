"""Stock reconcile: compare every product and variation in the shop with KOSH and fix the
ones whose `stock_quantity` (or `manage_stock`) is not what KOSH would push, reporting the
drift. Runs when a store turns stock push on (the first full push), nightly
(`KOSH_STOREFRONT_RECONCILE_HOURS`, 0 = never) and on request.

A reconcile is an outbox event of kind "reconcile" sharing the stock pushes' order key, so
it never overtakes a push queued before it, nor a later push it: levels are read at send
time either way. The worker lists the shop's catalogue (GET products, and each variable
product's variations, 100 a page), reads KOSH's levels for the SKUs it knows (the store's
SKU map, else the part number), sends the differences in batches and records what it found.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.catalog import service as catalog_service
from kosh.core.config import Settings
from kosh.core.db import transactional, utcnow
from kosh.storefront import outbox, stockpush
from kosh.storefront.metrics import RECONCILE_DRIFT
from kosh.storefront.models import OutboxEvent, SkuMapping, Store
from kosh.storefront.woocommerce import Credentials, StoreApiError, _call

log = structlog.get_logger(__name__)

KIND = "reconcile"
PER_PAGE = 100
MAX_PAGES = 1000  # 100,000 products: a runaway X-WP-TotalPages stops here


async def request(session: AsyncSession, *, store_id: int, reason: str) -> bool:
    """Queue a reconcile of the store unless one is waiting; joins the caller's
    transaction. Returns whether one was queued."""
    waiting = await session.scalar(
        select(OutboxEvent.id).where(
            OutboxEvent.store_id == store_id,
            OutboxEvent.kind == KIND,
            OutboxEvent.status == "pending",
        )
    )
    if waiting is not None:
        return False
    session.add(
        OutboxEvent(
            store_id=store_id,
            sales_order_id=None,
            external_id=stockpush.EXTERNAL_ID,
            kind=KIND,
            payload={"reason": reason},
            status="pending",
            attempts=0,
            next_attempt_at=utcnow(),
            created_at=utcnow(),
        )
    )
    await session.flush()
    return True


@transactional
async def schedule_due(session: AsyncSession, *, settings: Settings) -> int:
    """Queue the nightly reconcile of every pushing store whose last one is older than
    `storefront_reconcile_hours`. Returns how many were queued."""
    hours = settings.storefront_reconcile_hours
    if hours <= 0:
        return 0
    since = utcnow() - timedelta(hours=hours)
    queued = 0
    for store_id in list(
        await session.scalars(
            select(Store.id).where(Store.active.is_(True), Store.stock_push.is_(True))
        )
    ):
        recent = await session.scalar(
            select(OutboxEvent.id).where(
                OutboxEvent.store_id == store_id,
                OutboxEvent.kind == KIND,
                OutboxEvent.created_at >= since,
            )
        )
        if recent is None and await request(session, store_id=store_id, reason="nightly"):
            queued += 1
    return queued


@dataclass(frozen=True)
class ShopItem:
    sku: str
    product_id: int
    parent_id: int
    manage_stock: bool
    stock_quantity: int | None


async def list_catalogue(client: httpx.AsyncClient, credentials: Credentials) -> list[ShopItem]:
    """Every product with a SKU, and every variation of the variable ones."""
    items: list[ShopItem] = []
    variable: list[int] = []
    for row in await _pages(client, credentials, "/wp-json/wc/v3/products"):
        if row.get("type") == "variable":  # its stock lives on the variations
            product_id = stockpush._int(row.get("id"))
            if product_id:
                variable.append(product_id)
            continue
        item = _item(row, parent_id=0)
        if item is not None:
            items.append(item)
    for parent_id in variable:
        path = f"/wp-json/wc/v3/products/{parent_id}/variations"
        for row in await _pages(client, credentials, path):
            item = _item(row, parent_id=parent_id)
            if item is not None:
                items.append(item)
    return items


async def _pages(
    client: httpx.AsyncClient, credentials: Credentials, path: str
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= min(pages, MAX_PAGES):
        response = await _call(
            client, credentials, "GET", path, params={"per_page": str(PER_PAGE), "page": str(page)}
        )
        try:
            body = response.json()
        except ValueError as exc:
            raise StoreApiError(f"GET {path}: the answer is not JSON", retryable=False) from exc
        if not isinstance(body, list):
            raise StoreApiError(f"GET {path}: the answer is not a list", retryable=False)
        rows.extend(row for row in body if isinstance(row, dict))
        pages = stockpush._int(response.headers.get("x-wp-totalpages")) or 1
        page += 1
    return rows


def _item(row: dict[str, Any], *, parent_id: int) -> ShopItem | None:
    sku, product_id = row.get("sku"), stockpush._int(row.get("id"))
    if not isinstance(sku, str) or not sku.strip() or product_id is None:
        return None
    quantity = row.get("stock_quantity")
    return ShopItem(
        sku=sku.strip(),
        product_id=product_id,
        parent_id=parent_id,
        manage_stock=row.get("manage_stock") is True,
        stock_quantity=quantity if isinstance(quantity, int) else None,
    )


@dataclass(frozen=True)
class Job:
    event_id: int
    store_id: int
    store_code: str
    credentials: Credentials


async def prepare(
    session: AsyncSession, settings: Settings, *, event_id: int, worker_id: str
) -> Job | None:
    event = await session.get(OutboxEvent, event_id, populate_existing=True)
    if event is None or event.status != "pending" or event.claimed_by != worker_id:
        return None
    store = await session.get(Store, event.store_id)
    if store is None:  # pragma: no cover - a foreign key keeps it
        return None
    return Job(event.id, store.id, store.code, outbox.credentials_of(settings, store))


async def kosh_levels(
    session: AsyncSession, settings: Settings, *, store_id: int, skus: list[str]
) -> dict[str, int]:
    """KOSH's level for each shop SKU it knows: the store's mapping, else the part number."""
    store = await session.get(Store, store_id)
    if store is None:  # pragma: no cover - a foreign key keeps it
        return {}
    mapped: dict[str, int] = {}
    for start in range(0, len(skus), 500):
        chunk = skus[start : start + 500]
        rows = await session.execute(
            select(SkuMapping.sku, SkuMapping.part_id).where(
                SkuMapping.store_id == store_id, SkuMapping.sku.in_(chunk)
            )
        )
        for sku, part_id in rows:
            mapped[sku] = part_id
    numbered = await catalog_service.parts_by_numbers(
        session, [sku for sku in skus if sku not in mapped]
    )
    part_of = {**{n: p.id for n, p in numbered.items()}, **mapped}
    free = await stockpush.availability(session, settings, store=store, part_ids=part_of.values())
    return {sku: free[part_id] for sku, part_id in part_of.items() if part_id in free}


@transactional
async def finish(
    session: AsyncSession, *, event_id: int, worker_id: str, report: dict[str, Any]
) -> bool:
    """Record what the reconcile found and mark it sent."""
    event = await session.get(OutboxEvent, event_id, populate_existing=True)
    if event is None or event.claimed_by != worker_id or event.status != "pending":
        return False
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event_id)
        .values(
            payload={**event.payload, **report},
            status="sent",
            sent_at=utcnow(),
            claimed_by=None,
            claimed_at=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return True


async def run(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    event_id: int,
    worker_id: str,
) -> dict[str, Any] | None:
    """Reconcile one store (the claimed event): list, compare, fix, record. Raises
    StoreApiError / MissingCredentialsError for the caller's retry bookkeeping; None when
    the event is no longer this worker's."""
    async with sessions() as session:
        job = await prepare(session, settings, event_id=event_id, worker_id=worker_id)
    if job is None:
        return None
    catalogue = await list_catalogue(client, job.credentials)
    async with sessions() as session:
        levels = await kosh_levels(
            session, settings, store_id=job.store_id, skus=sorted({i.sku for i in catalogue})
        )
    targets: dict[int, list[dict[str, Any]]] = defaultdict(list)
    by_id: dict[int, str] = {}
    drift: list[dict[str, Any]] = []
    for item in catalogue:
        want = levels.get(item.sku)
        if want is None:
            continue
        if item.manage_stock and item.stock_quantity == want:
            continue
        drift.append({"sku": item.sku, "shop": item.stock_quantity, "kosh": want})
        by_id[item.product_id] = item.sku
        targets[item.parent_id].append(
            {"id": item.product_id, "manage_stock": True, "stock_quantity": want}
        )
    outcome = stockpush.Outcome()
    await stockpush.send_updates(client, job.credentials, targets, by_id=by_id, outcome=outcome)
    report = {
        "checked": sum(1 for item in catalogue if item.sku in levels),
        "drift_found": len(drift),
        "drift": drift[:50],
        "fixed": outcome.updated,
        "refused": outcome.refused[:50],
    }
    async with sessions() as session:
        await finish(session, event_id=event_id, worker_id=worker_id, report=report)
    log.info(
        "stock_reconciled",
        store=job.store_code,
        checked=report["checked"],
        drift_found=report["drift_found"],
        fixed=report["fixed"],
    )
    RECONCILE_DRIFT.inc(len(drift))
    return report


async def last_report(session: AsyncSession, *, store_id: int) -> dict[str, Any] | None:
    """The latest finished reconcile of a store: when, and what it found."""
    event = await session.scalar(
        select(OutboxEvent)
        .where(
            OutboxEvent.store_id == store_id,
            OutboxEvent.kind == KIND,
            OutboxEvent.status == "sent",
        )
        .order_by(OutboxEvent.id.desc())
        .limit(1)
    )
    if event is None:
        return None
    return {
        "at": event.sent_at,
        "reason": event.payload.get("reason"),
        "checked": event.payload.get("checked", 0),
        "drift_found": event.payload.get("drift_found", 0),
        "fixed": event.payload.get("fixed", 0),
        "drift": event.payload.get("drift", []),
    }


async def stock_sync(session: AsyncSession, *, store: Store) -> dict[str, Any]:
    """The stock push's state (kosh.storefront.stockpush.sync_status) with the reconcile:
    one waiting, and what the last one found."""
    pending = await session.scalar(
        select(OutboxEvent.id).where(
            OutboxEvent.store_id == store.id,
            OutboxEvent.kind == KIND,
            OutboxEvent.status == "pending",
        )
    )
    return {
        **await stockpush.sync_status(session, store=store),
        "reconcile_pending": pending is not None,
        "last_reconcile": await last_report(session, store_id=store.id),
    }
