"""Storefront use cases for people: connect stores, map SKUs, and work the review queue
(retry, cancel, undo an applied web order). Each public writer is one audited transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as catalog_service
from kosh.core import audit
from kosh.core.config import Settings
from kosh.core.db import transactional, utcnow
from kosh.core.errors import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    field_error,
)
from kosh.core.models import WorkerHeartbeat
from kosh.locations import service as location_service
from kosh.sales import web_orders
from kosh.storefront import reconcile, secrets, stockpush
from kosh.storefront.models import (
    OutboxEvent,
    SkuMapping,
    StagedOrder,
    StockRule,
    Store,
    StoreWarehouse,
)

RETRYABLE = ("review", "ignored", "cancelled")
WORKER_ALIVE_WITHIN = timedelta(minutes=2)


def store_view(store: Store) -> dict[str, Any]:
    """A store as the API shows it: never a secret, only whether each is set."""
    return {
        "id": store.id,
        "code": store.code,
        "kind": store.kind,
        "base_url": store.base_url,
        "warehouse_id": store.warehouse_id,
        "warehouse_ids": store.warehouse_ids,
        "active": store.active,
        "stock_push": bool(store.stock_push),
        "shipment_tracking": bool(store.shipment_tracking),
        "has_webhook_secret": bool(store.webhook_secret_enc),
        "has_api_credentials": bool(store.consumer_key_enc and store.consumer_secret_enc),
        "webhook_path": f"/api/v1/storefront/woocommerce/{store.code}/webhook",
        "version": store.version,
        "created_at": store.created_at,
    }


# --- stores ---------------------------------------------------------------------------


async def get_store(session: AsyncSession, store_id: int) -> Store | None:
    return await session.get(Store, store_id)


async def get_store_by_code(session: AsyncSession, code: str) -> Store | None:
    return await session.scalar(select(Store).where(Store.code == code))


async def get_store_by_code_or_raise(
    session: AsyncSession, code: str, *, loc: str = "store_code"
) -> Store:
    store = await get_store_by_code(session, code)
    if store is None:
        raise NotFoundError(
            f"No store {code!r}.",
            code="store_not_found",
            errors=[field_error([loc], "no such store")],
        )
    return store


async def list_stores(session: AsyncSession) -> list[Store]:
    return list(await session.scalars(select(Store).order_by(Store.code)))


@transactional
async def create_store(
    session: AsyncSession,
    *,
    settings: Settings,
    code: str,
    kind: str,
    base_url: str,
    webhook_secret: str,
    warehouse_id: int | None = None,
    consumer_key: str | None = None,
    consumer_secret: str | None = None,
    stock_push: bool = False,
    shipment_tracking: bool = False,
    warehouse_ids: Sequence[int] | None = None,
) -> Store:
    """Connect a web store. Rules: the code is unique (409 store_code_taken); the
    warehouses it draws on (`warehouse_ids` in priority order, or the one `warehouse_id`)
    exist (404) and the first is `warehouse_id` (422); secrets are stored encrypted and
    never shown. With `stock_push` the first full push (a reconcile) is queued."""
    chosen = await _warehouses(session, warehouse_id, warehouse_ids)
    warehouse_id = chosen[0]
    if await get_store_by_code(session, code) is not None:
        raise _code_taken(code)
    store = Store(
        code=code,
        kind=kind,
        base_url=base_url.rstrip("/"),
        warehouse_id=warehouse_id,
        webhook_secret_enc=secrets.encrypt(settings, webhook_secret),
        consumer_key_enc=secrets.encrypt(settings, consumer_key) if consumer_key else None,
        consumer_secret_enc=secrets.encrypt(settings, consumer_secret) if consumer_secret else None,
        active=True,
        stock_push=stock_push,
        shipment_tracking=shipment_tracking,
        warehouses=[
            StoreWarehouse(warehouse_id=wid, priority=index) for index, wid in enumerate(chosen)
        ],
    )
    session.add(store)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _code_taken(code) from exc
    if stock_push:  # the first full push: every product the shop has
        await reconcile.request(session, store_id=store.id, reason="initial")
    view = store_view(store)
    await audit.record(
        session,
        action="storefront.store_create",
        entity_type="storefront_store",
        entity_id=store.id,
        after={k: v for k, v in view.items() if k not in ("created_at",)},
    )
    return store


async def _warehouses(
    session: AsyncSession, warehouse_id: int | None, warehouse_ids: Sequence[int] | None
) -> list[int]:
    chosen = list(dict.fromkeys(warehouse_ids or ([warehouse_id] if warehouse_id else [])))
    if not chosen or (warehouse_id is not None and chosen[0] != warehouse_id):
        raise ValidationError(
            "Name the warehouses the store draws on: warehouse_ids in priority order, whose "
            "first is warehouse_id (or warehouse_id alone).",
            errors=[field_error(["warehouse_ids"], "must start with warehouse_id")],
        )
    for wid in chosen:
        await location_service.get_warehouse_or_raise(session, wid)
    return chosen


def _code_taken(code: str) -> ConflictError:
    return ConflictError(
        f"Store code {code!r} is taken.",
        code="store_code_taken",
        errors=[field_error(["code"], "already exists")],
    )


@transactional
async def update_store(
    session: AsyncSession,
    *,
    settings: Settings,
    code: str,
    version: int,
    base_url: str | None = None,
    webhook_secret: str | None = None,
    consumer_key: str | None = None,
    consumer_secret: str | None = None,
    active: bool | None = None,
    stock_push: bool | None = None,
    shipment_tracking: bool | None = None,
    warehouse_ids: Sequence[int] | None = None,
) -> Store:
    """Change a store's address, secrets, active flag, stock push or Shipment Tracking use
    (409 stale_version when `version` is not the one stored)."""
    store = await get_store_by_code_or_raise(session, code, loc="code")
    if store.version != version:
        raise ConflictError(
            "The store was changed meanwhile; reload.",
            code="stale_version",
            details={"current_version": store.version},
        )
    changed: list[str] = []
    if base_url is not None:
        store.base_url = base_url.rstrip("/")
        changed.append("base_url")
    if webhook_secret is not None:
        store.webhook_secret_enc = secrets.encrypt(settings, webhook_secret)
        changed.append("webhook_secret")
    if consumer_key is not None:
        store.consumer_key_enc = secrets.encrypt(settings, consumer_key)
        changed.append("consumer_key")
    if consumer_secret is not None:
        store.consumer_secret_enc = secrets.encrypt(settings, consumer_secret)
        changed.append("consumer_secret")
    if active is not None:
        store.active = active
        changed.append("active")
    if stock_push is not None:
        if stock_push and not store.stock_push:  # the first full push
            await reconcile.request(session, store_id=store.id, reason="initial")
        store.stock_push = stock_push
        changed.append("stock_push")
    if shipment_tracking is not None:
        store.shipment_tracking = shipment_tracking
        changed.append("shipment_tracking")
    if warehouse_ids is not None and list(warehouse_ids) != store.warehouse_ids:
        chosen = await _warehouses(session, None, warehouse_ids)
        store.warehouses.clear()
        await session.flush()
        store.warehouses.extend(
            StoreWarehouse(warehouse_id=wid, priority=index) for index, wid in enumerate(chosen)
        )
        store.warehouse_id = chosen[0]
        changed.append("warehouse_ids")
    if changed:
        await session.flush()
        await audit.record(
            session,
            action="storefront.store_update",
            entity_type="storefront_store",
            entity_id=store.id,
            after={
                "changed": changed,
                "active": store.active,
                "stock_push": store.stock_push,
                "warehouse_ids": store.warehouse_ids,
                "base_url": store.base_url,
            },
        )
    return store


@transactional
async def request_reconcile(session: AsyncSession, *, code: str) -> Store:
    """Queue a reconcile of the store's stock now (404 store_not_found; 409
    stock_push_off when the store does not push stock). One already waiting is enough."""
    store = await get_store_by_code_or_raise(session, code, loc="code")
    if not store.stock_push:
        raise ConflictError(
            f"Store {code} does not push stock levels; turn stock_push on first.",
            code="stock_push_off",
        )
    if await reconcile.request(session, store_id=store.id, reason="manual"):
        await audit.record(
            session,
            action="storefront.reconcile_request",
            entity_type="storefront_store",
            entity_id=store.id,
            after={"reason": "manual"},
        )
    return store


# --- stock rules per part -------------------------------------------------------------


@transactional
async def set_stock_rule(
    session: AsyncSession,
    *,
    store_code: str,
    part_number: str,
    buffer: int | None = None,
    excluded: bool = False,
) -> StockRule:
    """Set how the store pushes one part: its own safety `buffer` (None: the global one)
    or `excluded` (no level is sent; the shop manages it). Rules: the store (404) and the
    part (404) exist. The part's level is pushed again with the new rule."""
    store = await get_store_by_code_or_raise(session, store_code)
    part = await catalog_service.get_part_by_number_or_raise(session, part_number)
    rule = await session.scalar(
        select(StockRule).where(StockRule.store_id == store.id, StockRule.part_id == part.id)
    )
    before = None if rule is None else {"buffer": rule.buffer, "excluded": rule.excluded}
    if rule is None:
        rule = StockRule(store_id=store.id, part_id=part.id)
        session.add(rule)
    rule.buffer, rule.excluded = buffer, excluded
    await session.flush()
    await audit.record(
        session,
        action="storefront.stock_rule",
        entity_type="storefront_store",
        entity_id=store.id,
        before=before,
        after={"part": part.number, "buffer": buffer, "excluded": excluded},
    )
    if store.stock_push and store.active and not excluded:
        await stockpush.queue_for_store(session, store_id=store.id, part_ids=[part.id])
    return rule


async def list_stock_rules(session: AsyncSession, *, store_code: str) -> list[StockRule]:
    store = await get_store_by_code_or_raise(session, store_code)
    return list(
        await session.scalars(
            select(StockRule).where(StockRule.store_id == store.id).order_by(StockRule.part_id)
        )
    )


# --- SKU mapping ----------------------------------------------------------------------


@transactional
async def map_sku(
    session: AsyncSession, *, store_code: str, sku: str, part_number: str
) -> SkuMapping:
    """Map a store SKU (or a `product:<id>` / `variation:<id>` key for lines without SKU)
    to a KOSH part; an existing mapping of the SKU is replaced. Rules: the store (404) and
    the part (404) exist; the part is active (422). A store pushing stock gets the part's
    level."""
    store = await get_store_by_code_or_raise(session, store_code)
    part = await catalog_service.get_part_by_number_or_raise(session, part_number)
    if not part.active:
        raise RuleViolationError(
            f"Part {part.number} is inactive.",
            code="part_inactive",
            errors=[field_error(["part_number"], "is inactive")],
        )
    mapping = await session.scalar(
        select(SkuMapping).where(SkuMapping.store_id == store.id, SkuMapping.sku == sku)
    )
    before = None
    if mapping is None:
        mapping = SkuMapping(store_id=store.id, sku=sku, part_id=part.id)
        session.add(mapping)
    else:
        before = {"part_id": mapping.part_id}
        mapping.part_id = part.id
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            f"SKU {sku!r} was mapped by someone else meanwhile; try again.", code="sku_taken"
        ) from exc
    await audit.record(
        session,
        action="storefront.sku_map",
        entity_type="storefront_sku_map",
        entity_id=mapping.id,
        before=before,
        after={"store": store.code, "sku": sku, "part_id": part.id, "part_number": part.number},
    )
    if store.stock_push and store.active:  # the shop hears the mapped part's level
        await stockpush.queue_for_store(session, store_id=store.id, part_ids=[part.id])
    return mapping


@dataclass(frozen=True)
class SkuRow:
    id: int
    store_code: str
    sku: str
    part_id: int
    part_number: str


async def list_sku_map(
    session: AsyncSession, *, store_code: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[SkuRow], int]:
    from kosh.catalog.models import Part

    query = (
        select(SkuMapping.id, Store.code, SkuMapping.sku, Part.id, Part.number)
        .join(Store, Store.id == SkuMapping.store_id)
        .join(Part, Part.id == SkuMapping.part_id)
    )
    if store_code:
        query = query.where(Store.code == store_code)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(
        query.order_by(Store.code, SkuMapping.sku).limit(limit).offset(offset)
    )
    return [SkuRow(*row) for row in rows], int(total or 0)


@transactional
async def unmap_sku(session: AsyncSession, *, mapping_id: int) -> None:
    """Remove a mapping (the SKU then means the part numbered like it)."""
    mapping = await session.get(SkuMapping, mapping_id)
    if mapping is None:
        raise NotFoundError(f"No SKU mapping {mapping_id}.", code="sku_mapping_not_found")
    await session.delete(mapping)
    await audit.record(
        session,
        action="storefront.sku_unmap",
        entity_type="storefront_sku_map",
        entity_id=mapping_id,
        before={"sku": mapping.sku, "part_id": mapping.part_id},
    )


# --- the review queue -----------------------------------------------------------------


async def list_staged(
    session: AsyncSession,
    *,
    status: str | None = None,
    store_code: str | None = None,
    external_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[tuple[StagedOrder, str]], int]:
    """Staged deliveries, newest first, with their store code."""
    query = select(StagedOrder, Store.code).join(Store, Store.id == StagedOrder.store_id)
    if status:
        query = query.where(StagedOrder.status == status)
    if store_code:
        query = query.where(Store.code == store_code)
    if external_id:
        query = query.where(StagedOrder.external_id == external_id)
    total = await session.scalar(
        select(func.count()).select_from(query.with_only_columns(StagedOrder.id).subquery())
    )
    rows = await session.execute(query.order_by(StagedOrder.id.desc()).limit(limit).offset(offset))
    return [(row, code) for row, code in rows], int(total or 0)


async def get_staged_or_raise(session: AsyncSession, staged_id: int) -> StagedOrder:
    row = await session.get(StagedOrder, staged_id, populate_existing=True)
    if row is None:
        raise NotFoundError(f"No staged order {staged_id}.", code="staged_order_not_found")
    return row


def _reset(row: StagedOrder) -> None:
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.claimed_by = None
    row.claimed_at = None
    row.last_error = None
    row.processed_at = None


@transactional
async def retry_staged(session: AsyncSession, *, staged_id: int) -> StagedOrder:
    """Send a row in review (or ignored / cancelled) back to the worker, e.g. after a SKU
    was mapped. Rules: applied rows are undone, not retried (409); a row refused at intake
    cannot be processed (422)."""
    row = await get_staged_or_raise(session, staged_id)
    _check_retryable(row)
    before = {"status": row.status, "reasons": row.reasons}
    _reset(row)
    await audit.record(
        session,
        action="storefront.retry",
        entity_type="storefront_staged_order",
        entity_id=row.id,
        before=before,
        after={"status": "pending"},
    )
    return row


def _check_retryable(row: StagedOrder) -> None:
    if row.external_id is None:
        raise RuleViolationError(
            "This delivery was refused at intake and holds no order.", code="not_an_order"
        )
    if row.status not in RETRYABLE:
        raise ConflictError(
            f"Staged order {row.id} is {row.status}; only review, ignored or cancelled rows "
            "can be retried.",
            code="invalid_status",
            details={"status": row.status},
        )


@transactional
async def retry_many(
    session: AsyncSession, *, staged_ids: Sequence[int] | None = None, status: str | None = None
) -> int:
    """Retry several rows: the ids given, or every row in `status` (review by default).
    Rows that cannot be retried are skipped. Returns how many went back to pending."""
    query = select(StagedOrder).where(StagedOrder.external_id.is_not(None))
    if staged_ids:
        query = query.where(StagedOrder.id.in_(list(staged_ids)), StagedOrder.status.in_(RETRYABLE))
    else:
        query = query.where(StagedOrder.status == (status or "review"))
    rows = list(await session.scalars(query.order_by(StagedOrder.id).limit(10_000)))
    for row in rows:
        _reset(row)
    if rows:
        await audit.record(
            session,
            action="storefront.retry_many",
            entity_type="storefront_staged_order",
            after={"ids": [row.id for row in rows][:1000], "count": len(rows)},
        )
    return len(rows)


@transactional
async def cancel_staged(session: AsyncSession, *, staged_id: int, reason: str = "") -> StagedOrder:
    """Drop a pending or review row: it will not be applied (409 for other states)."""
    row = await get_staged_or_raise(session, staged_id)
    if row.status not in ("pending", "review"):
        raise ConflictError(
            f"Staged order {row.id} is {row.status}; only pending or review rows can be cancelled.",
            code="invalid_status",
            details={"status": row.status},
        )
    before = row.status
    row.status = "cancelled"
    row.processed_at = utcnow()
    row.claimed_by = None
    row.claimed_at = None
    row.reasons = [
        *row.reasons,
        {"code": "cancelled", "message": reason or "Cancelled by a person."},
    ]
    await audit.record(
        session,
        action="storefront.cancel",
        entity_type="storefront_staged_order",
        entity_id=row.id,
        before={"status": before},
        after={"status": "cancelled", "reason": reason},
    )
    return row


@transactional
async def undo_staged(
    session: AsyncSession,
    *,
    staged_id: int,
    reprocess: bool = False,
    notify_store: bool = False,
    reason: str = "",
) -> StagedOrder:
    """Undo an applied web order: cancel its KOSH order, releasing its reservations. With
    `reprocess` the row goes back to pending and the worker applies it again to the same
    KOSH order (reopened), e.g. after a wrong SKU mapping was fixed. Rules: the row is
    applied (409); its order has not shipped (409, from the cancel)."""
    row = await get_staged_or_raise(session, staged_id)
    if row.status != "applied" or row.sales_order_id is None:
        raise ConflictError(
            f"Staged order {row.id} is {row.status}; only applied rows can be undone.",
            code="invalid_status",
            details={"status": row.status},
        )
    order = await web_orders.undo(
        session,
        order_id=row.sales_order_id,
        reason=reason or f"Undo of web order {row.external_id}",
        notify_store=notify_store,
        reopenable=reprocess,
    )
    if reprocess:
        _reset(row)
    await audit.record(
        session,
        action="storefront.undo",
        entity_type="storefront_staged_order",
        entity_id=row.id,
        before={"status": "applied", "sales_order_id": order.id},
        after={"status": row.status, "reprocess": reprocess, "order_status": order.status},
    )
    return row


# --- the dashboard --------------------------------------------------------------------


@dataclass
class Dashboard:
    counts: dict[str, int]
    retrying: int
    oldest_pending_at: datetime | None
    last_applied_at: datetime | None
    applied_last_hour: int
    outbox_pending: int
    outbox_failed: int
    workers: list[dict[str, Any]]
    worker_alive: bool
    recent_errors: list[StagedOrder]
    failed_sync: list[OutboxEvent]
    stores: list[Store]


async def dashboard(session: AsyncSession) -> Dashboard:
    now = utcnow()
    counts = dict.fromkeys(("pending", "applied", "review", "ignored", "cancelled"), 0)
    rows = await session.execute(
        select(StagedOrder.status, func.count()).group_by(StagedOrder.status)
    )
    counts.update({status: int(n) for status, n in rows})
    retrying = await session.scalar(
        select(func.count())
        .where(StagedOrder.status == "pending", StagedOrder.attempts > 0)
        .where(StagedOrder.last_error.is_not(None))
    )
    oldest = await session.scalar(
        select(func.min(StagedOrder.received_at)).where(StagedOrder.status == "pending")
    )
    last_applied = await session.scalar(
        select(func.max(StagedOrder.processed_at)).where(StagedOrder.status == "applied")
    )
    hour = await session.scalar(
        select(func.count()).where(
            StagedOrder.status == "applied", StagedOrder.processed_at >= now - timedelta(hours=1)
        )
    )
    outbox = await session.execute(
        select(OutboxEvent.status, func.count())
        .where(OutboxEvent.status.in_(("pending", "failed")))
        .group_by(OutboxEvent.status)
    )
    outbox_counts = dict(outbox.all())
    workers = [
        {
            "worker_id": hb.worker_id,
            "last_seen_at": hb.last_seen_at,
            "alive": now - hb.last_seen_at < WORKER_ALIVE_WITHIN,
            "info": hb.info or {},
        }
        for hb in await session.scalars(
            select(WorkerHeartbeat).order_by(WorkerHeartbeat.last_seen_at.desc()).limit(20)
        )
    ]
    errors = list(
        await session.scalars(
            select(StagedOrder)
            .where(
                (StagedOrder.status == "review")
                | ((StagedOrder.status == "pending") & StagedOrder.last_error.is_not(None))
            )
            .order_by(StagedOrder.id.desc())
            .limit(10)
        )
    )
    failed_sync = list(
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.status == "failed")
            .order_by(OutboxEvent.id.desc())
            .limit(20)
        )
    )
    return Dashboard(
        counts=counts,
        retrying=int(retrying or 0),
        oldest_pending_at=oldest,
        last_applied_at=last_applied,
        applied_last_hour=int(hour or 0),
        outbox_pending=int(outbox_counts.get("pending", 0)),
        outbox_failed=int(outbox_counts.get("failed", 0)),
        workers=workers,
        worker_alive=any(w["alive"] for w in workers),
        recent_errors=errors,
        failed_sync=failed_sync,
        stores=await list_stores(session),
    )


async def queue_counts(session: AsyncSession) -> dict[str, int] | None:
    """Staged orders per status, or None when no store is connected."""
    if await session.scalar(select(Store.id).limit(1)) is None:
        return None
    counts = dict.fromkeys(("pending", "applied", "review", "ignored", "cancelled"), 0)
    rows = await session.execute(
        select(StagedOrder.status, func.count()).group_by(StagedOrder.status)
    )
    counts.update({status: int(n) for status, n in rows})
    return counts


async def outbox_for_order(session: AsyncSession, order_id: int) -> list[OutboxEvent]:
    return list(
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.sales_order_id == order_id)
            .order_by(OutboxEvent.id)
        )
    )


async def staged_for_order(session: AsyncSession, order_id: int) -> list[StagedOrder]:
    return list(
        await session.scalars(
            select(StagedOrder)
            .where(StagedOrder.sales_order_id == order_id)
            .order_by(StagedOrder.id)
        )
    )
