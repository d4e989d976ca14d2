"""The worker's unit of work: claim staged web orders and apply each one to KOSH.

The storefront is the adapter: it claims the staged row, parses the WooCommerce payload and
maps its SKUs (`web_version`), hands the version to sales (`kosh.sales.web_orders.
apply_version`, the one call into sales) and records the outcome on the row. It writes no
sales table itself.

Exactly once: a staged row is applied in one transaction together with the sales order and
its reservations, and only while this worker still holds its lease (checked under a row
lock), so a second worker, or this one after a crash and lease expiry, cannot apply it
again. Web orders are unique in `sales_orders` by (store, order id) as a last line of
defence. Versions of one web order are serialised by an advisory lock on PostgreSQL (SQLite
has one writer anyway); every version carries the whole order, so the newest wins and older
ones are marked superseded.

Outcomes: `applied` (with the sales order id), `review` (validation failed: every reason is
listed; or retries exhausted), `ignored` (stale, superseded, or nothing to do). Unexpected
errors are transient: the worker schedules a retry with backoff (`fail`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

import structlog
from sqlalchemy import String, Table, bindparam, func, literal, or_, select, true, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.actor import Actor
from kosh.core.config import Settings
from kosh.core.db import transactional, utcnow
from kosh.core.errors import DomainError
from kosh.sales import web_orders
from kosh.storefront import refunds, web_version
from kosh.storefront import woocommerce as wc
from kosh.storefront.backoff import next_delay
from kosh.storefront.metrics import ORDERS, PROCESSING
from kosh.storefront.models import StagedOrder, Store
from kosh.storefront.web_version import StoreRef

log = structlog.get_logger(__name__)

ACTIVE_STATUSES = ("pending", "processing", "on-hold")


def worker_actor(worker_id: str) -> Actor:
    return Actor(kind="system", id=None, name=f"worker:{worker_id}"[:100])


# --- claiming -------------------------------------------------------------------------


@transactional
async def claim(
    session: AsyncSession, *, worker_id: str, limit: int, lease_seconds: int
) -> list[int]:
    """Lease up to `limit` due pending rows: FOR UPDATE SKIP LOCKED on PostgreSQL, so
    workers never wait for each other; on SQLite the write transaction serialises claims.
    A lease older than `lease_seconds` (its worker died) may be taken over. Each claim
    counts an attempt, so a row that kills workers ends in review."""
    now = utcnow()
    ids = list(
        await session.scalars(
            select(StagedOrder.id)
            .where(
                StagedOrder.status == "pending",
                StagedOrder.next_attempt_at <= now,
                or_(
                    StagedOrder.claimed_at.is_(None),
                    StagedOrder.claimed_at < now - timedelta(seconds=lease_seconds),
                ),
            )
            .order_by(StagedOrder.next_attempt_at, StagedOrder.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        await session.execute(
            update(StagedOrder)
            .where(StagedOrder.id.in_(ids))
            .values(claimed_by=worker_id, claimed_at=now, attempts=StagedOrder.attempts + 1)
            .execution_options(synchronize_session=False)
        )
    return ids


@transactional
async def release(session: AsyncSession, *, staged_ids: list[int], worker_id: str) -> None:
    """Give back leases not worked on (a worker stopping), so others need not wait."""
    if staged_ids:
        await session.execute(
            update(StagedOrder)
            .where(
                StagedOrder.id.in_(staged_ids),
                StagedOrder.claimed_by == worker_id,
                StagedOrder.status == "pending",
            )
            .values(claimed_by=None, claimed_at=None, attempts=StagedOrder.attempts - 1)
            .execution_options(synchronize_session=False)
        )


# --- applying -------------------------------------------------------------------------


@dataclass
class Result:
    outcome: str  # applied, review, ignored, lost
    sales_order_id: int | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)


async def process(
    session: AsyncSession, *, staged_id: int, worker_id: str, settings: Settings
) -> Result:
    """Apply one claimed row; on an unexpected error schedule its retry (or give up)."""
    started = time.perf_counter()
    try:
        result = await apply(session, staged_id=staged_id, worker_id=worker_id, settings=settings)
    except DomainError as exc:
        # A rule refused it (e.g. not enough stock with backorders off): a person decides.
        reason = {"code": exc.code, "message": exc.message, **_safe(exc.details)}
        result = await to_review(session, staged_id=staged_id, worker_id=worker_id, reason=reason)
    except Exception as exc:
        log.warning(
            "staged_order_failed", staged_id=staged_id, error=f"{type(exc).__name__}: {exc}"
        )
        outcome = await fail(
            session,
            staged_id=staged_id,
            worker_id=worker_id,
            error=f"{type(exc).__name__}: {exc}",
            settings=settings,
        )
        result = Result(outcome)
    ORDERS.labels(result.outcome).inc()
    PROCESSING.observe(time.perf_counter() - started)
    return result


def _safe(details: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if isinstance(v, str | int | float | list | dict)}


# Statements of the apply path, built once: a reused statement object keeps its cache key,
# so each order skips building it and computing that key.
_OWN = (
    select(StagedOrder)
    .where(StagedOrder.id == bindparam("staged_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
# Versions of one web order are serialised by a transaction-scoped advisory lock on the
# order's key (PostgreSQL; SQLite has one writer), taken in the statement that locks the
# row: NULL (no external id) takes no lock. The same statement lets the transaction commit
# without waiting for the WAL flush: everything it writes is derived from the staged row,
# whose intake commit was durable, and changes in this one transaction. A database crash can
# only lose the newest such transactions whole (PostgreSQL recovers a consistent prefix),
# which leaves their rows pending for the worker to apply again: nothing lost or doubled, no
# disk wait per order.
_ORDER_KEY = (
    literal("kosh-web-order:", String)
    + sql_cast(StagedOrder.store_id, String)
    + literal(":", String)
    + StagedOrder.external_id
)
_OWN_AND_LOCK_PG = (
    select(
        StagedOrder,
        func.pg_advisory_xact_lock(func.hashtextextended(_ORDER_KEY, 0)),
        func.set_config("synchronous_commit", "off", true()),
    )
    .where(StagedOrder.id == bindparam("staged_id"))
    .with_for_update(of=StagedOrder)
    .execution_options(populate_existing=True)
)
_SIBLINGS = select(StagedOrder.id, StagedOrder.status, StagedOrder.source_modified_at).where(
    StagedOrder.store_id == bindparam("store_id"),
    StagedOrder.external_id == bindparam("external_id"),
    StagedOrder.id != bindparam("staged_id"),
)


_STORE_CACHE = "kosh_storefront_stores"
_STORE_TTL = 30.0


async def store_ref(session: AsyncSession, store_id: int) -> StoreRef | None:
    """The store, kept a few seconds per session (its code and warehouse rarely change)."""
    cache: dict[int, tuple[float, StoreRef]] = session.info.setdefault(_STORE_CACHE, {})
    hit = cache.get(store_id)
    if hit is not None and time.monotonic() - hit[0] < _STORE_TTL:
        return hit[1]
    store = await session.get(Store, store_id)
    if store is None:
        return None
    ref = StoreRef(
        id=store.id,
        code=store.code,
        warehouse_id=store.warehouse_id,
        warehouse_ids=tuple(store.warehouse_ids),
    )
    cache[store_id] = (time.monotonic(), ref)
    return ref


async def _own(
    session: AsyncSession, staged_id: int, worker_id: str, *, lock_order: bool = False
) -> StagedOrder | None:
    """The staged row, locked, while it is still pending and this worker's lease. With
    `lock_order` (applying it) the web order's advisory lock is taken in the same
    statement on PostgreSQL."""
    row: StagedOrder | None
    if lock_order and session.get_bind().dialect.name == "postgresql":
        row = (await session.scalars(_OWN_AND_LOCK_PG, {"staged_id": staged_id})).first()
    else:
        row = await session.scalar(_OWN, {"staged_id": staged_id})
    if row is None or row.status != "pending" or row.claimed_by != worker_id:
        return None
    return row


def _finish(
    row: StagedOrder,
    status: str,
    *,
    reasons: list[dict[str, Any]] | None = None,
    order_id: int | None = None,
) -> Result:
    row.status = status
    row.reasons = reasons or []
    row.processed_at = utcnow()
    row.claimed_by = None
    row.claimed_at = None
    row.last_error = None if status == "applied" else row.last_error
    if order_id is not None:
        row.sales_order_id = order_id
    return Result(status, order_id, row.reasons)


@transactional
async def apply(
    session: AsyncSession, *, staged_id: int, worker_id: str, settings: Settings
) -> Result:
    """Validate a claimed staged order and apply it: create the sales order with its
    reservations, or bring the existing one up to the store's version (lines changed,
    on hold, cancelled, ...), and mark the row applied / review / ignored, all in one
    audited transaction. `lost` (nothing changed) when the row is no longer this worker's."""
    row = await _own(session, staged_id, worker_id, lock_order=True)
    if row is None:
        return Result("lost")
    async with audit.batch(session):  # the order's events and this one: one INSERT
        result = await _decide(session, row=row, settings=settings)
        await audit.record(
            session,
            action=f"storefront.{result.outcome}",
            entity_type="storefront_staged_order",
            entity_id=row.id,
            after={
                "external_id": row.external_id,
                "status": row.external_status,
                "sales_order_id": result.sales_order_id,
                "reasons": [r.get("code") for r in result.reasons],
            },
            actor=worker_actor(worker_id),
        )
    return result


async def _decide(session: AsyncSession, *, row: StagedOrder, settings: Settings) -> Result:
    if row.attempts > settings.storefront_max_attempts:
        return _finish(
            row,
            "review",
            reasons=[
                {
                    "code": "gave_up",
                    "message": f"Gave up after {row.attempts - 1} attempts: {row.last_error}",
                }
            ],
        )
    store = await store_ref(session, row.store_id)
    if store is None or row.external_id is None:  # pragma: no cover - intake never stages these
        return _finish(row, "review", reasons=[{"code": "not_an_order", "message": "No order."}])
    # The other versions of this web order (usually none), read under its advisory lock
    # (taken with the row in `apply`). Every version carries the whole order: a newer one
    # decides, whatever became of it (even `ignored`, e.g. cancelled before KOSH had it),
    # unless a person cancelled it.
    siblings = (
        await session.execute(
            _SIBLINGS,
            {"store_id": row.store_id, "external_id": row.external_id, "staged_id": row.id},
        )
    ).all()
    newer = next(
        (
            sid
            for sid, status, modified in siblings
            if status != "cancelled" and modified > row.source_modified_at
        ),
        None,
    )
    if newer is not None:
        return _finish(
            row,
            "ignored",
            reasons=[{"code": "superseded", "message": f"A newer version (#{newer}) exists."}],
        )
    result = await _apply_version(session, row=row, store=store, settings=settings)
    older_in_review = any(
        status == "review" and modified < row.source_modified_at for _, status, modified in siblings
    )
    if older_in_review and result.outcome in ("applied", "review"):
        await _supersede_older(session, row)
    return result


async def _supersede_older(session: AsyncSession, row: StagedOrder) -> None:
    """Older versions waiting in review are answered by this one."""
    # A Core UPDATE on the table: no ORM bookkeeping for what rarely matches a row.
    staged = cast(Table, StagedOrder.__table__)
    await session.execute(
        update(staged)
        .where(
            staged.c.store_id == row.store_id,
            staged.c.external_id == row.external_id,
            staged.c.status == "review",
            staged.c.source_modified_at < row.source_modified_at,
        )
        .values(
            status="ignored",
            processed_at=utcnow(),
            reasons=[{"code": "superseded", "message": f"Superseded by #{row.id}."}],
        )
    )


async def _apply_version(
    session: AsyncSession, *, row: StagedOrder, store: StoreRef, settings: Settings
) -> Result:
    """Parse and map the staged payload, then let sales bring the KOSH order to it."""
    payload = wc.decode_payload(row.body.encode())
    if payload is None:
        return _finish(row, "review", reasons=[{"code": "bad_json", "message": "Not JSON."}])
    assert row.external_id is not None  # noqa: S101 - checked by the caller
    version = await web_version.build(
        session,
        store=store,
        external_id=row.external_id,
        payload=payload,
        status=row.external_status or str(payload.get("status") or ""),
        topic=row.topic,
        modified_at=row.source_modified_at,
        settings=settings,
    )
    outcome = await web_orders.apply_version(session, version)
    # Refunds in part: which lines only the store's refunds endpoint says (worker, outbox).
    await refunds.queue_fetch(
        session,
        store_id=store.id,
        external_id=row.external_id,
        order_id=outcome.order_id,
        payload=payload,
    )
    return _finish(row, outcome.outcome, reasons=outcome.reasons, order_id=outcome.order_id)


# --- failures -------------------------------------------------------------------------


@transactional
async def fail(
    session: AsyncSession, *, staged_id: int, worker_id: str, error: str, settings: Settings
) -> str:
    """Record a transient failure: retry later with exponential backoff and jitter, or,
    once the attempts are used up, move the row to review (the dead letter)."""
    row = await _own(session, staged_id, worker_id)
    if row is None:
        return "lost"
    row.last_error = error[:2000]
    if row.attempts >= settings.storefront_max_attempts:
        _finish(
            row,
            "review",
            reasons=[
                {"code": "gave_up", "message": f"Gave up after {row.attempts} attempts: {error}"}
            ],
        )
        await audit.record(
            session,
            action="storefront.gave_up",
            entity_type="storefront_staged_order",
            entity_id=row.id,
            after={"attempts": row.attempts, "error": row.last_error},
            actor=worker_actor(worker_id),
        )
        return "failed"
    row.claimed_by = None
    row.claimed_at = None
    row.next_attempt_at = utcnow() + next_delay(row.attempts, settings)
    return "retried"


@transactional
async def to_review(
    session: AsyncSession, *, staged_id: int, worker_id: str, reason: dict[str, Any]
) -> Result:
    row = await _own(session, staged_id, worker_id)
    if row is None:
        return Result("lost")
    result = _finish(row, "review", reasons=[reason])
    await audit.record(
        session,
        action="storefront.review",
        entity_type="storefront_staged_order",
        entity_id=row.id,
        after={"reasons": [reason.get("code")]},
        actor=worker_actor(worker_id),
    )
    return result


async def queue_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(StagedOrder.status, func.count()).group_by(StagedOrder.status)
    )
    found = dict.fromkeys(("pending", "applied", "review", "ignored", "cancelled"), 0)
    found.update({status: int(count) for status, count in rows})
    return found
