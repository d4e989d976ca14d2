"""The sync-back outbox: status updates for the store, written in the transaction that made
them (a KOSH order shipped or cancelled: the subscribers of SALES_SHIPPED and
SALES_CANCELLED, wired in `kosh.wiring`) and delivered by the worker, at least once, with
exponential backoff; events of one order go out in order. Exhausted events become `failed`,
shown on the dashboard, where a person retries them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kosh.core import audit
from kosh.core.config import Settings
from kosh.core.db import transactional, utcnow
from kosh.core.errors import ConflictError, NotFoundError
from kosh.sales import service as sales_service
from kosh.storefront import secrets, sync_back
from kosh.storefront.backoff import next_delay
from kosh.storefront.models import OutboxEvent, Store
from kosh.storefront.woocommerce import Credentials

log = structlog.get_logger(__name__)

STOCK_KIND = "stock"  # a stock push of a store (kosh.storefront.stockpush)


async def _enqueue(
    session: AsyncSession,
    *,
    store_code: str | None,
    external_id: str | None,
    order_id: int,
    order_number: str,
    payload: dict[str, Any],
) -> OutboxEvent | None:
    """Queue an update for the web order; joins the caller's transaction. Nothing is
    queued for an order that did not come from a store, or when the store is gone."""
    if not store_code or not external_id:
        return None
    store = await session.scalar(select(Store).where(Store.code == store_code))
    if store is None:
        log.warning("outbox_store_missing", store=store_code, order=order_number)
        return None
    event = OutboxEvent(
        store_id=store.id,
        sales_order_id=order_id,
        external_id=external_id,
        kind="order_status",
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(event)
    await session.flush()
    return event


async def on_shipped(session: AsyncSession, shipment_ids: list[int]) -> None:
    """Subscriber of SALES_SHIPPED: a shipped web order tells its store. In full: status
    completed and a note; in part: a note. With a tracking number the note names carrier and
    number (a customer note, so the buyer sees it) and, where the store runs Shipment
    Tracking, the order's `_wc_shipment_tracking_items` meta lists every tracked parcel."""
    for shipment_id in shipment_ids:
        notice = await sales_service.shipment_notice(session, shipment_id)
        if notice is None or not notice.external_store:
            continue
        store = await session.scalar(select(Store).where(Store.code == notice.external_store))
        payload = sync_back.shipment_payload(
            notice, tracking_meta=bool(store is not None and store.shipment_tracking)
        )
        await _enqueue(
            session,
            store_code=notice.external_store,
            external_id=notice.external_id,
            order_id=notice.order_id,
            order_number=notice.order_number,
            payload=payload,
        )


async def on_cancelled(session: AsyncSession, cancelled: list[tuple[int, str]]) -> None:
    """Subscriber of SALES_CANCELLED: the store hears that KOSH cancelled its order."""
    for order_id, reason in cancelled:
        order = await sales_service.get_order(session, order_id)
        await _enqueue(
            session,
            store_code=order.external_store,
            external_id=order.external_id,
            order_id=order.id,
            order_number=order.number,
            payload={"status": "cancelled", "note": f"Cancelled in KOSH. {reason}".strip()},
        )


async def on_return_decided(session: AsyncSession, decided: list[tuple[int, str]]) -> None:
    """Subscriber of RETURN_DECIDED: a web order's store gets the return's outcome as an
    order note (status unchanged; nothing for an order that did not come from a store)."""
    for order_id, note in decided:
        order = await sales_service.get_order(session, order_id)
        await _enqueue(
            session,
            store_code=order.external_store,
            external_id=order.external_id,
            order_id=order.id,
            order_number=order.number,
            payload={"status": None, "note": note},
        )


@transactional
async def claim(
    session: AsyncSession,
    *,
    worker_id: str,
    limit: int,
    lease_seconds: int,
    coalesce_seconds: float = 0.0,
) -> list[int]:
    """Lease up to `limit` due events (FOR UPDATE SKIP LOCKED on PostgreSQL), skipping any
    whose order has an earlier event still pending, so updates arrive in order. A stock
    push waits `coalesce_seconds` after it was opened, gathering the changes meanwhile."""
    now = utcnow()
    gathered = now - timedelta(seconds=coalesce_seconds)
    earlier = aliased(OutboxEvent)
    ids = list(
        await session.scalars(
            select(OutboxEvent.id)
            .where(
                OutboxEvent.status == "pending",
                OutboxEvent.next_attempt_at <= now,
                or_(OutboxEvent.kind != STOCK_KIND, OutboxEvent.created_at <= gathered),
                or_(
                    OutboxEvent.claimed_at.is_(None),
                    OutboxEvent.claimed_at < now - timedelta(seconds=lease_seconds),
                ),
                ~exists().where(
                    and_(
                        earlier.store_id == OutboxEvent.store_id,
                        earlier.external_id == OutboxEvent.external_id,
                        earlier.status == "pending",
                        earlier.id < OutboxEvent.id,
                    )
                ),
            )
            .order_by(OutboxEvent.next_attempt_at, OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=OutboxEvent)
        )
    )
    if ids:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(ids))
            .values(claimed_by=worker_id, claimed_at=now, attempts=OutboxEvent.attempts + 1)
            .execution_options(synchronize_session=False)
        )
    return ids


@dataclass(frozen=True)
class Delivery:
    event_id: int
    external_id: str
    status: str | None
    note: str | None
    credentials: Credentials
    attempts: int
    customer_note: bool = False
    meta_data: list[dict[str, Any]] | None = None


async def prepare(
    session: AsyncSession, settings: Settings, *, event_id: int, worker_id: str
) -> Delivery | None:
    """What to send for a claimed event (None when it is no longer ours). Read-only."""
    event = await session.get(OutboxEvent, event_id, populate_existing=True)
    if event is None or event.status != "pending" or event.claimed_by != worker_id:
        return None
    store = await session.get(Store, event.store_id)
    if store is None:  # pragma: no cover - a foreign key keeps it
        raise MissingCredentialsError(f"store {event.store_id} is gone")
    return Delivery(
        event_id=event.id,
        external_id=event.external_id,
        status=event.payload.get("status"),
        note=event.payload.get("note"),
        credentials=credentials_of(settings, store),
        attempts=event.attempts,
        customer_note=bool(event.payload.get("customer_note")),
        meta_data=event.payload.get("meta_data"),
    )


def credentials_of(settings: Settings, store: Store) -> Credentials:
    """The store's REST API address, key and secret (MissingCredentialsError without)."""
    key = secrets.resolve(settings, store.code, "consumer_key", store.consumer_key_enc)
    secret = secrets.resolve(settings, store.code, "consumer_secret", store.consumer_secret_enc)
    if not key or not secret:
        raise MissingCredentialsError(f"store {store.code} has no REST API key and secret")
    return Credentials(base_url=store.base_url, consumer_key=key, consumer_secret=secret)


async def kind_of(session: AsyncSession, event_id: int) -> str | None:
    return await session.scalar(select(OutboxEvent.kind).where(OutboxEvent.id == event_id))


class MissingCredentialsError(Exception):
    pass


@transactional
async def mark_sent(session: AsyncSession, *, event_id: int, worker_id: str) -> bool:
    result = await session.execute(
        update(OutboxEvent)
        .where(
            OutboxEvent.id == event_id,
            OutboxEvent.claimed_by == worker_id,
            OutboxEvent.status == "pending",
        )
        .values(status="sent", sent_at=utcnow(), claimed_by=None, claimed_at=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@transactional
async def mark_failed(
    session: AsyncSession,
    *,
    event_id: int,
    worker_id: str,
    error: str,
    settings: Settings,
    retryable: bool,
) -> str:
    """Schedule the next attempt with backoff, or give up (status failed) when attempts are
    exhausted or the store refused for good. Returns the new status."""
    event = await session.get(OutboxEvent, event_id, populate_existing=True)
    if event is None or event.claimed_by != worker_id or event.status != "pending":
        return "lost"
    event.last_error = error[:2000]
    event.claimed_by = None
    event.claimed_at = None
    if not retryable or event.attempts >= settings.storefront_max_attempts:
        event.status = "failed"
        await audit.record(
            session,
            action="storefront.sync_back_failed",
            entity_type="storefront_outbox",
            entity_id=event.id,
            after={"attempts": event.attempts, "error": event.last_error},
        )
    else:
        event.next_attempt_at = utcnow() + next_delay(event.attempts, settings)
    return event.status


@transactional
async def retry(session: AsyncSession, *, event_id: int) -> OutboxEvent:
    """Send a failed event again (a person fixed the credentials or the store is back)."""
    event = await session.get(OutboxEvent, event_id)
    if event is None:
        raise NotFoundError(f"No outbox event {event_id}.", code="outbox_event_not_found")
    if event.status not in ("failed", "pending"):
        raise ConflictError(f"Outbox event {event_id} is {event.status}.", code="invalid_status")
    before = event.status
    event.status = "pending"
    event.attempts = 0
    event.next_attempt_at = utcnow()
    event.claimed_by = None
    event.claimed_at = None
    await audit.record(
        session,
        action="storefront.sync_back_retry",
        entity_type="storefront_outbox",
        entity_id=event.id,
        before={"status": before},
        after={"status": "pending"},
    )
    return event


def event_view(event: OutboxEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "store_id": event.store_id,
        "sales_order_id": event.sales_order_id,
        "external_id": event.external_id,
        "payload": event.payload,
        "status": event.status,
        "attempts": event.attempts,
        "next_attempt_at": event.next_attempt_at,
        "last_error": event.last_error,
        "created_at": event.created_at,
        "sent_at": event.sent_at,
    }
