"""Webhook intake: verify, store durably, acknowledge. Nothing else, so it stays fast; the
worker does the real work.

A delivery is committed (one INSERT .. ON CONFLICT DO NOTHING) before the 200 goes out, so
an acknowledged order is never lost, and the unique key (store, order id, version) makes a
redelivery a no-op. Bad signatures are refused with 401 and only counted (never stored: they
come from strangers); a correctly signed body that is not JSON, or a topic that is not an
order, is stored as `ignored` with the reason and refused with 400.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import structlog
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.db import transactional, utcnow
from kosh.core.errors import (
    AuthenticationError,
    DomainError,
    NotFoundError,
    PayloadTooLargeError,
)
from kosh.core.ratelimit import RateLimiter, too_many
from kosh.core.request_context import current_request_id
from kosh.storefront import secrets
from kosh.storefront import woocommerce as wc
from kosh.storefront.metrics import STAGED_BATCH_ROWS, STORE_CODE_LOADS, WEBHOOKS
from kosh.storefront.models import StagedOrder, Store

log = structlog.get_logger(__name__)

CACHE_SECONDS = 5.0
CODES_SECONDS = 30.0
CODES_REFRESH_SECONDS = 2.0


class RejectedDeliveryError(DomainError):
    status, title, code = 400, "Delivery refused", "delivery_refused"


@dataclass(frozen=True)
class StoreKey:
    id: int
    code: str
    secret: str
    active: bool


class StoreCache:
    """Store id and webhook secret by code, kept a few seconds per process so a burst of
    deliveries costs one SELECT, not one each (and one decryption).

    It also holds the set of known store codes, so a delivery to a code that does not
    exist costs no query: the set is loaded at first use, again after CODES_SECONDS (other
    nodes' changes), and when a code is missing at most once per CODES_REFRESH_SECONDS (a
    store just created on another node is found within that), however many random codes
    arrive. `forget` (after a store is created or changed here) drops both."""

    def __init__(
        self,
        ttl: float = CACHE_SECONDS,
        *,
        codes_ttl: float = CODES_SECONDS,
        codes_refresh: float = CODES_REFRESH_SECONDS,
    ) -> None:
        self.ttl = ttl
        self.codes_ttl = codes_ttl
        self.codes_refresh = codes_refresh
        self._entries: dict[str, tuple[float, StoreKey]] = {}
        self._codes: frozenset[str] | None = None
        self._codes_at = 0.0
        self._loading = asyncio.Lock()
        self._fetching = asyncio.Lock()

    async def is_known(self, session: AsyncSession, code: str) -> bool:
        """Whether a store with this code exists (active or not), mostly without a query."""
        now = time.monotonic()
        codes = self._codes
        age = now - self._codes_at
        if (
            codes is not None
            and age < self.codes_ttl
            and (code in codes or age < self.codes_refresh)
        ):
            return code in codes
        async with self._loading:
            if self._codes is codes:  # nobody reloaded while this request waited
                loaded = frozenset(await session.scalars(select(Store.code)))
                STORE_CODE_LOADS.inc()
                self._codes, self._codes_at = loaded, time.monotonic()
            return code in (self._codes or frozenset())

    async def get(self, session: AsyncSession, settings: Settings, code: str) -> StoreKey | None:
        hit = self._entries.get(code)
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        # One look-up at a time: when an entry expires under load, the deliveries arriving
        # meanwhile wait for that one SELECT instead of each sending their own.
        async with self._fetching:
            hit = self._entries.get(code)
            if hit is not None and time.monotonic() - hit[0] < self.ttl:
                return hit[1]
            row = (
                await session.execute(
                    select(Store.id, Store.code, Store.webhook_secret_enc, Store.active).where(
                        Store.code == code
                    )
                )
            ).one_or_none()
            if row is None:
                self._entries.pop(code, None)
                return None
            secret = secrets.resolve(settings, row.code, "webhook_secret", row.webhook_secret_enc)
            key = StoreKey(id=row.id, code=row.code, secret=secret or "", active=row.active)
            self._entries[code] = (time.monotonic(), key)
            return key

    def forget(self, code: str | None = None) -> None:
        self._codes = None  # a store was created or changed: reload the codes next time
        if code is None:
            self._entries.clear()
        else:
            self._entries.pop(code, None)


async def refuse_unknown_store(
    session: AsyncSession,
    *,
    cache: StoreCache,
    limiter: RateLimiter,
    settings: Settings,
    store_code: str,
    client_ip: str,
) -> None:
    """Refuse a delivery to a store code that does not exist: 404 store_not_found, and
    429 once this client IP sent more such deliveries than
    KOSH_STOREFRONT_UNKNOWN_STORE_RATE_LIMIT (known codes have their per-store limit).
    A random code costs no database query (see StoreCache)."""
    if await cache.is_known(session, store_code):
        return
    wait = await limiter.hit(
        settings.storefront_unknown_store_rate_limit, "webhook_unknown_store", client_ip
    )
    if wait is not None:
        WEBHOOKS.labels("unknown_store_throttled").inc()
        log.warning("storefront_unknown_store_throttled", client_ip=client_ip)
        raise too_many("webhook_unknown_store", wait)
    WEBHOOKS.labels("unknown_store").inc()
    log.info("storefront_unknown_store", store=store_code[:64], client_ip=client_ip)
    raise NotFoundError(f"No active store {store_code[:64]!r}.", code="store_not_found")


@dataclass(frozen=True)
class Outcome:
    result: str  # ping, accepted, duplicate
    staged_id: int | None = None


async def receive_webhook(
    session: AsyncSession,
    *,
    settings: Settings,
    cache: StoreCache,
    store_code: str,
    body: bytes,
    headers: Mapping[str, str],
    stager: Stager | None = None,
) -> Outcome:
    """Accept one WooCommerce delivery for `store_code`.

    Rules: an unknown or inactive store is 404; the creation ping (`webhook_id=N`, no
    signature) is answered (Outcome ping → exactly 200); a body over the storefront limit
    is 413; a missing or wrong X-WC-Webhook-Signature is 401; a signed delivery that is not
    an order topic or not a JSON order is stored as ignored and refused (400). With a
    `stager` the order is stored together with the deliveries arriving meanwhile (one
    INSERT and one commit for all of them, see Stager), else in a transaction of its own.
    """
    if len(body) > settings.storefront_max_payload_bytes:
        WEBHOOKS.labels("too_large").inc()
        raise PayloadTooLargeError(
            f"The delivery is larger than {settings.storefront_max_payload_bytes} bytes."
        )
    store = await cache.get(session, settings, store_code)
    if store is None or not store.active:
        WEBHOOKS.labels("unknown_store").inc()
        raise NotFoundError(f"No active store {store_code!r}.", code="store_not_found")
    if wc.is_ping(body, headers):
        WEBHOOKS.labels("ping").inc()
        return Outcome("ping")
    if not store.secret or not wc.signature_valid(
        store.secret, body, headers.get("x-wc-webhook-signature")
    ):
        WEBHOOKS.labels("bad_signature").inc()
        raise AuthenticationError(
            "The X-WC-Webhook-Signature does not match this store's secret.",
            code="bad_signature",
        )
    if session.in_transaction():
        # End the read of the store lookup: the write below starts its own (immediate)
        # transaction, which SQLite needs to queue writers instead of failing them late.
        await session.commit()
    kept = {name: headers[name] for name in wc.KEPT_HEADERS if name in headers}
    topic = headers.get("x-wc-webhook-topic")
    delivery_id = headers.get("x-wc-webhook-delivery-id")
    if topic not in wc.ORDER_TOPICS:
        await _record_rejection(
            session, store, body, kept, f"topic {topic!r} is not an order topic"
        )
        raise RejectedDeliveryError(
            f"Topic {topic!r} is not handled; send order.* topics.", code="unsupported_topic"
        )
    try:
        payload: dict[str, Any] | None = wc.parse_payload(body)
        reason = "the body is not a JSON object"
    except wc.PayloadError as exc:
        payload, reason = None, str(exc)
    key = (
        wc.delivery_key(payload, topic=topic, delivery_id=delivery_id, body=body)
        if payload
        else None
    )
    if payload is None or key is None:
        reason = reason if payload is None else "the order has no id"
        await _record_rejection(session, store, body, kept, reason)
        log.warning("storefront_webhook_refused", store=store.code, reason=reason)
        raise RejectedDeliveryError(f"Refused: {reason}.", code="malformed_payload")
    if stager is not None:
        values = _staged_values(
            store_id=store.id,
            key=key,
            body=body,
            headers=kept,
            source="webhook",
            topic=topic,
            delivery_id=delivery_id,
            now=utcnow(),
        )
        staged_id = await stager.stage(values)
    else:
        staged_id = await stage(
            session,
            store_id=store.id,
            key=key,
            body=body,
            headers=kept,
            source="webhook",
            topic=topic,
            delivery_id=delivery_id,
        )
    WEBHOOKS.labels("accepted" if staged_id is not None else "duplicate").inc()
    return Outcome("accepted" if staged_id is not None else "duplicate", staged_id)


def _staged_values(
    *,
    store_id: int,
    key: wc.DeliveryKey,
    body: bytes,
    headers: dict[str, Any],
    source: str,
    topic: str | None,
    delivery_id: str | None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "external_id": key.external_id,
        "dedupe_key": key.dedupe_key,
        "source": source,
        "topic": topic,
        "delivery_id": (delivery_id or "")[:100] or None,
        "external_status": key.status,
        "source_modified_at": key.modified_at,
        "body": body.decode("utf-8", errors="replace"),
        "headers": headers,
        "request_id": current_request_id(),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "reasons": [],
        "received_at": now,
    }


def _insert_statement(session: AsyncSession) -> Any:
    """INSERT .. ON CONFLICT (store, order, version) DO NOTHING RETURNING id, built once per
    dialect on the Core table (values come as execution parameters), so the hot path of
    the intake neither rebuilds nor recompiles it."""
    dialect = session.get_bind().dialect.name
    statement = _STATEMENTS.get(dialect)
    if statement is None:
        table = cast(Table, StagedOrder.__table__)
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["store_id", "external_id", "dedupe_key"])
            .returning(table.c.id)
        )
        _STATEMENTS[dialect] = statement
    return statement


_STATEMENTS: dict[str, Any] = {}


@transactional
async def stage(
    session: AsyncSession,
    *,
    store_id: int,
    key: wc.DeliveryKey,
    body: bytes,
    headers: dict[str, Any],
    source: str,
    topic: str | None = None,
    delivery_id: str | None = None,
) -> int | None:
    """Store one version of an order as pending; None when it was stored before."""
    values = _staged_values(
        store_id=store_id,
        key=key,
        body=body,
        headers=headers,
        source=source,
        topic=topic,
        delivery_id=delivery_id,
        now=utcnow(),
    )
    inserted = await session.scalar(_insert_statement(session), values)
    return None if inserted is None else int(inserted)


def _batch_statement(session: AsyncSession) -> Any:
    """The intake INSERT for many rows at once (executemany: SQLAlchemy sends them as one
    multi-row INSERT), returning the key of each row it inserted so that every delivery
    learns whether it was new."""
    dialect = session.get_bind().dialect.name
    statement = _BATCH_STATEMENTS.get(dialect)
    if statement is None:
        table = cast(Table, StagedOrder.__table__)
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["store_id", "external_id", "dedupe_key"])
            .returning(table.c.id, table.c.store_id, table.c.external_id, table.c.dedupe_key)
        )
        _BATCH_STATEMENTS[dialect] = statement
    return statement


_BATCH_STATEMENTS: dict[str, Any] = {}


@transactional
async def _stage_rows(session: AsyncSession, rows: list[dict[str, Any]]) -> list[int | None]:
    """Insert the rows in one statement and one transaction: each row's new id, or None
    when it was stored before (or earlier in `rows`: the first of equal keys is the new
    one)."""
    if len(rows) == 1:
        inserted = await session.scalar(_insert_statement(session), rows[0])
        return [None if inserted is None else int(inserted)]
    result = await session.execute(_batch_statement(session), rows)
    new = {(r.store_id, r.external_id, r.dedupe_key): int(r.id) for r in result}
    ids: list[int | None] = []
    for row in rows:
        ids.append(new.pop((row["store_id"], row["external_id"], row["dedupe_key"]), None))
    return ids


STAGER_MAX_ROWS = 200


class Stager:
    """Group commit for the intake, one per process: a delivery waits for the write lock,
    and whoever holds it stores every delivery waiting by then in one INSERT and one
    commit. Under load a commit carries tens of deliveries (the request path stays one
    durable insert, shared); alone a delivery is stored at once, with no added wait.

    Each delivery is answered only after the commit that stored it returned. When a
    batch fails (a row the database refuses, a lost connection), each of its rows is
    tried again on its own, so one bad row fails only its own delivery. The flush is
    shielded: a request cancelled while it stores the others' rows does not cancel them."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], *, max_rows: int = STAGER_MAX_ROWS
    ) -> None:
        self.sessions = sessions
        self.max_rows = max_rows
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[int | None]]] = []
        self._lock = asyncio.Lock()

    async def stage(self, values: dict[str, Any]) -> int | None:
        """Store one pending row; its id, or None when it was stored before."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((values, future))
        while not future.done():
            async with self._lock:
                if future.done():
                    break
                batch = self._waiting[: self.max_rows]
                del self._waiting[: self.max_rows]
                await asyncio.shield(self._flush(batch))
        return future.result()

    async def _flush(self, batch: list[tuple[dict[str, Any], asyncio.Future[int | None]]]) -> None:
        STAGED_BATCH_ROWS.observe(len(batch))
        try:
            async with self.sessions() as session:
                ids = await _stage_rows(session, [values for values, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _answer(batch[0][1], exc)
                return
            log.warning("storefront_stage_batch_failed", rows=len(batch), error=type(exc).__name__)
            for item in batch:
                await self._flush([item])
            return
        except BaseException as exc:  # cancelled mid-commit: the rows' fate is unknown
            for _, future in batch:
                _answer(future, exc)
            raise
        for (_, future), staged_id in zip(batch, ids, strict=True):
            if not future.done():
                future.set_result(staged_id)


def _answer(future: asyncio.Future[int | None], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


async def stage_many(
    session: AsyncSession,
    *,
    store_id: int,
    deliveries: list[tuple[wc.DeliveryKey, bytes]],
    source: str,
) -> int:
    """Store several order versions (a backfill page) in one transaction; returns how many
    were new."""
    now = utcnow()
    rows = [
        _staged_values(
            store_id=store_id,
            key=key,
            body=body,
            headers={"source": source},
            source=source,
            topic=None,
            delivery_id=None,
            now=now,
        )
        for key, body in deliveries
    ]
    if not rows:
        return 0
    return sum(staged_id is not None for staged_id in await _stage_rows(session, rows))


@transactional
async def _record_rejection(
    session: AsyncSession, store: StoreKey, body: bytes, headers: dict[str, Any], reason: str
) -> None:
    WEBHOOKS.labels("rejected").inc()
    now = utcnow()
    session.add(
        StagedOrder(
            store_id=store.id,
            external_id=None,
            dedupe_key=f"rejected:{hashlib.sha256(body).hexdigest()}",
            source="webhook",
            topic=headers.get("x-wc-webhook-topic"),
            delivery_id=headers.get("x-wc-webhook-delivery-id"),
            external_status=None,
            source_modified_at=now,
            body=body[:65536].decode("utf-8", errors="replace"),
            headers=headers,
            request_id=current_request_id(),
            status="ignored",
            attempts=0,
            next_attempt_at=now,
            reasons=[{"code": "rejected", "message": f"Refused at intake: {reason}."}],
            received_at=now,
            processed_at=now,
        )
    )
