"""Refunds made in the store: read them and hand them to sales, exactly once.

An order refunded in part keeps its status in WooCommerce (`processing`, `completed`); the
order's payload lists its refunds (`refunds: [{id, reason, total}]`) but not which lines
and units, which only `GET /wp-json/wc/v3/orders/<id>/refunds` says (each refund's line
items: a negative `quantity` and `total`, the order line in the `_refunded_item_id` meta).
`order.updated` fires on every refund and on a refund deleted.

So applying a version of a web order (kosh.storefront.processing) calls `queue_fetch`:
when the payload names a refund the KOSH order has not recorded, an outbox event of kind
"refunds" is queued (once: not while one is waiting), keyed like the order's status
updates so it keeps its place among them. The worker reads the refunds (`fetch`) and
`take` hands them to sales (kosh.sales.web_refunds.take_refunds), marking the event sent
in the same transaction, under the event's lease. A refund recorded before is skipped by
its id, so a redelivered, reordered or duplicated webhook, or a second read, changes
nothing. A refund deleted in the store after KOSH recorded it stays recorded (the ledger of
what happened) and is logged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.db import transactional, utcnow
from kosh.core.types import is_digits
from kosh.sales import web_refunds
from kosh.storefront import outbox
from kosh.storefront import woocommerce as wc
from kosh.storefront.metrics import REFUND_RELEASED, REFUNDS
from kosh.storefront.models import OutboxEvent, Store

log = structlog.get_logger(__name__)

KIND = "refunds"
REFUNDED_ITEM_KEY = "_refunded_item_id"


def refund_ids_of(payload: Mapping[str, Any]) -> list[str]:
    """The refund ids an order payload lists (its `refunds` summary)."""
    found = payload.get("refunds")
    if not isinstance(found, list):
        return []
    ids = []
    for item in found:
        value = item.get("id") if isinstance(item, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            ids.append(str(value))
    return ids


def _refunded_item(item: Mapping[str, Any]) -> str | None:
    for meta in item.get("meta_data") or []:
        if isinstance(meta, dict) and meta.get("key") == REFUNDED_ITEM_KEY:
            value = str(meta.get("value") or "").strip()
            return value if is_digits(value) else None
    return None


def _amount(value: object) -> Decimal:
    try:
        found = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return abs(found) if found.is_finite() else Decimal(0)


def parse_refunds(refunds: Sequence[Mapping[str, Any]]) -> list[web_refunds.WebRefund]:
    """The store's refunds as sales reads them (pure). Units are the line items' negative
    quantities made positive; items naming no order line, or refunding no units (an amount
    only), are left out: they release nothing and list nothing."""
    parsed = []
    for refund in refunds:
        refund_id = refund.get("id")
        if not isinstance(refund_id, int) or isinstance(refund_id, bool) or refund_id <= 0:
            continue
        lines = []
        for item in refund.get("line_items") or []:
            if not isinstance(item, dict):
                continue
            line_id = _refunded_item(item)
            qty = item.get("quantity")
            if line_id is None or not isinstance(qty, int) or isinstance(qty, bool) or qty == 0:
                continue
            lines.append(
                web_refunds.RefundedUnits(
                    external_line_id=line_id, qty=abs(qty), amount=_amount(item.get("total"))
                )
            )
        parsed.append(
            web_refunds.WebRefund(
                refund_id=str(refund_id),
                lines=lines,
                reason=str(refund.get("reason") or "")[:200],
            )
        )
    return parsed


async def queue_fetch(
    session: AsyncSession,
    *,
    store_id: int,
    external_id: str,
    order_id: int | None,
    payload: Mapping[str, Any],
) -> bool:
    """After a version of a web order is applied: queue a read of its refunds when the
    payload lists one the order has not recorded and no read is waiting. Joins the
    caller's transaction; returns whether one was queued."""
    ids = refund_ids_of(payload)
    if order_id is None or not ids:
        return False
    known = await web_refunds.recorded_refunds(session, order_id)
    missing = [refund_id for refund_id in ids if not known.knows(refund_id)]
    if not missing:
        return False
    waiting = await session.scalar(
        select(OutboxEvent.id).where(
            OutboxEvent.store_id == store_id,
            OutboxEvent.external_id == external_id,
            OutboxEvent.kind == KIND,
            OutboxEvent.status == "pending",
        )
    )
    if waiting is not None:
        return False
    session.add(
        OutboxEvent(
            store_id=store_id,
            sales_order_id=order_id,
            external_id=external_id,
            kind=KIND,
            payload={"refund_ids": missing},
            status="pending",
            attempts=0,
            next_attempt_at=utcnow(),
            created_at=utcnow(),
        )
    )
    await session.flush()
    return True


@dataclass(frozen=True)
class Fetch:
    event_id: int
    store_code: str
    external_id: str
    credentials: wc.Credentials
    expected: tuple[str, ...]


async def prepare(
    session: AsyncSession, settings: Settings, *, event_id: int, worker_id: str
) -> Fetch | None:
    """What to read for a claimed event (None when it is no longer ours). Read-only."""
    event = await session.get(OutboxEvent, event_id, populate_existing=True)
    if event is None or event.status != "pending" or event.claimed_by != worker_id:
        return None
    store = await session.get(Store, event.store_id)
    if store is None:  # pragma: no cover - a foreign key keeps it
        raise outbox.MissingCredentialsError(f"store {event.store_id} is gone")
    return Fetch(
        event_id=event.id,
        store_code=store.code,
        external_id=event.external_id,
        credentials=outbox.credentials_of(settings, store),
        expected=tuple(str(i) for i in event.payload.get("refund_ids") or []),
    )


@transactional
async def take(
    session: AsyncSession,
    *,
    fetch: Fetch,
    worker_id: str,
    refunds: Sequence[web_refunds.WebRefund],
) -> web_refunds.RefundsTaken | None:
    """Hand the refunds read to sales and mark the event sent, in one transaction, only
    while this worker still holds the event (None, nothing changed, otherwise)."""
    event = await session.scalar(
        select(OutboxEvent)
        .where(OutboxEvent.id == fetch.event_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if event is None or event.status != "pending" or event.claimed_by != worker_id:
        return None
    taken = await web_refunds.take_refunds(
        session, store=fetch.store_code, external_id=fetch.external_id, refunds=refunds
    )
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id == event.id)
        .values(status="sent", sent_at=utcnow(), claimed_by=None, claimed_at=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return taken


async def run(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    event_id: int,
    worker_id: str,
) -> web_refunds.RefundsTaken | None:
    """Read the order's refunds from the store and take them (see the module docstring).
    A store error raises StoreApiError for the worker's backoff."""
    async with sessions() as session:
        fetch = await prepare(session, settings, event_id=event_id, worker_id=worker_id)
    if fetch is None:
        return None
    refunds = parse_refunds(
        await wc.list_refunds(client, fetch.credentials, order_id=fetch.external_id)
    )
    gone = sorted(set(fetch.expected) - {r.refund_id for r in refunds})
    if gone:
        log.warning("store_refund_missing", order=fetch.external_id, refunds=gone)
    async with sessions() as session:
        taken = await take(session, fetch=fetch, worker_id=worker_id, refunds=refunds)
    if taken is None:
        return None
    REFUNDS.labels("taken").inc(len(taken.refunds))
    REFUNDS.labels("known").inc(len(refunds) - len(taken.refunds))
    REFUND_RELEASED.inc(taken.released)
    log.info(
        "store_refunds_taken",
        order=fetch.external_id,
        refunds=taken.refunds,
        released=taken.released,
        lines=len(taken.recorded),
        reasons=[r["code"] for r in taken.reasons],
    )
    return taken
