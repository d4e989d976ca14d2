"""Stock levels pushed to the shop: for every part with a shop product (found by SKU: the
store's SKU map, else the part number), the shop's `stock_quantity` follows KOSH's
availability summed over the store's warehouses = on hand in storage - reserved - safety
buffer (the part's own for the store, else the global one; never negative), from the one
availability query of `kosh.sales.service`. Parts the store excludes are never sent.

In the transaction that moves stock or changes a reservation, `queue_changes` (subscribed
to STOCK_CHANGED and RESERVATION_CHANGED, docs/adr/0002) adds the part ids to the store's
open stock push, an outbox event of kind "stock" (one per store until the worker takes it;
many movements give one push). The worker takes it `storefront_stock_push_seconds` after it
was opened, reads the levels *at send time* and sends them in batches. Pushes of a store
go out one after another (the outbox's order per store and `external_id`), and each sends
what is true when it is sent, so a later level is never overwritten by an earlier one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog.models import Part
from kosh.core import events
from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.sales import service as sales_service
from kosh.storefront.models import OutboxEvent, SkuMapping, StockRule, Store
from kosh.storefront.outbox import STOCK_KIND, credentials_of
from kosh.storefront.woocommerce import Credentials, StoreApiError, _call

log = structlog.get_logger(__name__)

EXTERNAL_ID = "stock"  # all pushes of a store share it, so the outbox keeps their order
BATCH = 100  # WooCommerce's limit of objects per batch request
LOOKUP = 50  # SKUs per products?sku= lookup


# --- in the domain transaction ---------------------------------------------------------


# built once: it runs on every stock movement
_PUSHING_STORES = select(Store.id).where(Store.active.is_(True), Store.stock_push.is_(True))
# the probe of its subscriptions (kosh.core.events): without such a store there is nothing
ANY_STORE_PUSHING = events.Probe(expression=_PUSHING_STORES.exists(), params=lambda _: {})


async def queue_changes(session: AsyncSession, part_ids: list[Any]) -> None:
    """Subscriber: add `part_ids` to the open stock push of every store that pushes stock
    (opening one when none is waiting). The open push is locked, so two transactions never
    lose each other's parts; one the worker has taken is left alone (a new one opens)."""
    wanted = sorted({int(part_id) for part_id in part_ids})
    if not wanted:
        return
    stores = list(await session.scalars(_PUSHING_STORES))
    for store_id in stores:
        await _add_to_open_push(session, store_id=store_id, part_ids=wanted)


async def queue_for_store(session: AsyncSession, *, store_id: int, part_ids: list[int]) -> None:
    """Add parts to one store's open stock push (its rule for them changed)."""
    await _add_to_open_push(session, store_id=store_id, part_ids=sorted(set(part_ids)))


async def _add_to_open_push(session: AsyncSession, *, store_id: int, part_ids: list[int]) -> None:
    event = await session.scalar(
        select(OutboxEvent)
        .where(
            OutboxEvent.store_id == store_id,
            OutboxEvent.kind == STOCK_KIND,
            OutboxEvent.status == "pending",
            OutboxEvent.claimed_by.is_(None),
        )
        .order_by(OutboxEvent.id.desc())
        .limit(1)
        .with_for_update()
    )
    if event is None:
        session.add(
            OutboxEvent(
                store_id=store_id,
                sales_order_id=None,
                external_id=EXTERNAL_ID,
                kind=STOCK_KIND,
                payload={"part_ids": part_ids},
                status="pending",
                attempts=0,
                next_attempt_at=utcnow(),
                created_at=utcnow(),
            )
        )
        await session.flush()
        return
    merged = sorted(set(event.payload.get("part_ids", [])) | set(part_ids))
    if len(merged) != len(event.payload.get("part_ids", [])):
        event.payload = {"part_ids": merged}
        await session.flush()


# --- in the worker ---------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    part_id: int
    available: int


@dataclass(frozen=True)
class Push:
    event_id: int
    store_code: str
    credentials: Credentials
    levels: dict[str, Level]  # shop SKU (or "product:<id>") -> level of its part
    attempts: int


@dataclass
class Outcome:
    updated: int = 0
    batches: int = 0
    not_in_shop: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


async def prepare(
    session: AsyncSession, settings: Settings, *, event_id: int, worker_id: str
) -> Push | None:
    """The levels to send for a claimed stock push, read now (None when it is no longer
    ours). Read-only."""
    event = await session.get(OutboxEvent, event_id, populate_existing=True)
    if event is None or event.status != "pending" or event.claimed_by != worker_id:
        return None
    store = await session.get(Store, event.store_id)
    if store is None:  # pragma: no cover - a foreign key keeps it
        return None
    credentials = credentials_of(settings, store)
    part_ids = sorted({int(p) for p in event.payload.get("part_ids", [])})
    skus = await _skus(session, store_id=store.id, part_ids=part_ids)
    free = await availability(session, settings, store=store, part_ids=part_ids)
    levels = {
        sku: Level(part_id, free[part_id]) for sku, part_id in skus.items() if part_id in free
    }
    return Push(event.id, store.code, credentials, levels, event.attempts)


async def availability(
    session: AsyncSession, settings: Settings, *, store: Store, part_ids: Iterable[int]
) -> dict[int, int]:
    """What the shop may sell of each part: the sum over the store's warehouses of on hand
    in storage - reserved (each never below 0; the one availability query), less the part's
    buffer for this store or else the global one, never negative. Parts the store excludes
    are left out (no level is sent for them)."""
    wanted = sorted(set(part_ids))
    rules = {
        rule.part_id: rule
        for rule in await session.scalars(
            select(StockRule).where(StockRule.store_id == store.id, StockRule.part_id.in_(wanted))
        )
    }
    wanted = [p for p in wanted if not (p in rules and rules[p].excluded)]
    total = dict.fromkeys(wanted, 0)
    for warehouse_id in store.warehouse_ids:
        free = await sales_service.available(session, part_ids=wanted, warehouse_id=warehouse_id)
        for part_id in wanted:
            total[part_id] += max(0, free.get(part_id, 0))
    levels = {}
    for part_id in wanted:
        rule = rules.get(part_id)
        buffer = (
            rule.buffer
            if rule is not None and rule.buffer is not None
            else settings.storefront_stock_buffer
        )
        levels[part_id] = max(0, total[part_id] - buffer)
    return levels


async def _skus(session: AsyncSession, *, store_id: int, part_ids: list[int]) -> dict[str, int]:
    """Every shop key of the parts: the part number, and the store's mapped SKUs (which win
    when a mapped SKU is another part's number, as when orders come in)."""
    if not part_ids:
        return {}
    found: dict[str, int] = {}
    for part_id, number in await session.execute(
        select(Part.id, Part.number).where(Part.id.in_(part_ids))
    ):
        found[number] = part_id
    mapped = await session.execute(
        select(SkuMapping.sku, SkuMapping.part_id).where(
            SkuMapping.store_id == store_id, SkuMapping.part_id.in_(part_ids)
        )
    )
    for sku, part_id in mapped:
        if not sku.startswith("variation:"):  # a variation needs its parent: found by SKU
            found[sku] = part_id
    # a part number that the store maps to another part is that part's SKU, not this one's
    taken = set(
        await session.scalars(
            select(SkuMapping.sku).where(
                SkuMapping.store_id == store_id,
                SkuMapping.sku.in_(list(found)),
                SkuMapping.part_id.not_in(part_ids),
            )
        )
    )
    return {sku: part_id for sku, part_id in found.items() if sku not in taken}


async def send(client: httpx.AsyncClient, push: Push) -> Outcome:
    """Find the shop's products and variations by SKU, then set their stock in batches
    (products/batch; products/<parent>/variations/batch). A SKU the shop does not have is
    reported, not an error; a refused item is reported; a failed request raises."""
    outcome = Outcome()
    targets: dict[int, list[dict[str, Any]]] = defaultdict(list)  # parent id (0) -> updates
    by_id: dict[int, str] = {}
    lookups = [sku for sku in push.levels if not sku.startswith("product:")]
    products = await find_by_sku(client, push.credentials, lookups)
    for sku, level in sorted(push.levels.items()):
        if sku.startswith("product:"):
            product_id, parent_id = _int(sku.partition(":")[2]), 0
        elif sku in products:
            product_id, parent_id = products[sku]
        else:
            outcome.not_in_shop.append(sku)
            continue
        if product_id is None:
            outcome.not_in_shop.append(sku)
            continue
        by_id[product_id] = sku
        targets[parent_id].append(
            {"id": product_id, "manage_stock": True, "stock_quantity": level.available}
        )
    await send_updates(client, push.credentials, targets, by_id=by_id, outcome=outcome)
    return outcome


async def send_updates(
    client: httpx.AsyncClient,
    credentials: Credentials,
    targets: dict[int, list[dict[str, Any]]],
    *,
    by_id: dict[int, str],
    outcome: Outcome,
) -> None:
    """POST the updates (parent id 0: products/batch; else that product's
    variations/batch) in batches of BATCH, counting what the shop took and refused."""
    for parent_id, updates in sorted(targets.items()):
        path = (
            "/wp-json/wc/v3/products/batch"
            if parent_id == 0
            else f"/wp-json/wc/v3/products/{parent_id}/variations/batch"
        )
        for start in range(0, len(updates), BATCH):
            chunk = updates[start : start + BATCH]
            response = await _call(client, credentials, "POST", path, body={"update": chunk})
            outcome.batches += 1
            for item in _items(response):
                if isinstance(item.get("error"), dict):
                    item_id = item.get("id")
                    outcome.refused.append(by_id.get(_int(item_id) or 0, str(item_id)[:100]))
                else:
                    outcome.updated += 1


async def find_by_sku(
    client: httpx.AsyncClient, credentials: Credentials, skus: Iterable[str]
) -> dict[str, tuple[int, int]]:
    """SKU -> (product or variation id, parent id or 0), by GET products?sku=a,b,...
    (WooCommerce searches variations too when a SKU is given). A SKU with a comma cannot
    be asked for and is left out."""
    wanted = sorted({sku for sku in skus if sku and "," not in sku})
    found: dict[str, tuple[int, int]] = {}
    for start in range(0, len(wanted), LOOKUP):
        chunk = wanted[start : start + LOOKUP]
        response = await _call(
            client,
            credentials,
            "GET",
            "/wp-json/wc/v3/products",
            params={"sku": ",".join(chunk), "per_page": "100"},
        )
        try:
            rows = response.json()
        except ValueError as exc:
            raise StoreApiError("GET products: the answer is not JSON", retryable=False) from exc
        if not isinstance(rows, list):
            raise StoreApiError("GET products: the answer is not a list", retryable=False)
        for row in rows:
            if not isinstance(row, dict) or row.get("sku") not in chunk:
                continue
            product_id, parent_id = _int(row.get("id")), _int(row.get("parent_id")) or 0
            if product_id:
                found[str(row["sku"])] = (product_id, parent_id)
    return found


def _items(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    items = body.get("update") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


def _int(value: object) -> int | None:
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number > 0 else None


# --- what a person sees ------------------------------------------------------------------


async def sync_status(session: AsyncSession, *, store: Store) -> dict[str, Any]:
    """A store's stock push: on or off, what waits (pushes, parts, next try, last error),
    what failed for good, and when levels last reached the shop."""
    rows = list(
        await session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.store_id == store.id,
                OutboxEvent.kind == STOCK_KIND,
                OutboxEvent.status.in_(("pending", "failed")),
            )
        )
    )
    pending = [row for row in rows if row.status == "pending"]
    last_sent = await session.scalar(
        select(OutboxEvent.sent_at)
        .where(
            OutboxEvent.store_id == store.id,
            OutboxEvent.kind == STOCK_KIND,
            OutboxEvent.status == "sent",
        )
        .order_by(OutboxEvent.sent_at.desc())
        .limit(1)
    )
    parts: set[int] = set()
    for row in pending:
        parts.update(int(p) for p in row.payload.get("part_ids", []))
    errors = [row for row in pending if row.last_error]
    return {
        "store_code": store.code,
        "stock_push": bool(store.stock_push),
        "pending_pushes": len(pending),
        "pending_parts": len(parts),
        "next_attempt_at": min((row.next_attempt_at for row in pending), default=None),
        "last_error": errors[-1].last_error if errors else None,
        "failed_pushes": len(rows) - len(pending),
        "last_sent_at": last_sent,
    }
