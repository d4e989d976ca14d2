"""The worker's fast path: the new, paid web orders of a claimed batch applied together, in
one transaction and a few multi-row statements, instead of one transaction each.

A row takes the fast path when it is this worker's lease (checked under its row lock), has
attempts left, confirms an order (the store's `processing`), lists no refunds and is the
only staged version of its web order (read under the web order's advisory lock, taken
for every row of the batch in one statement, in key order, so two workers cannot deadlock
on them). Sales then takes, through `kosh.sales.web_orders.apply_new`, the versions its
rules allow in a batch (a new order, one warehouse, everything mapped and in stock) and
answers None for the others. The rows it applied are marked applied and audited as one by
one (`processing.apply`), all in one multi-row audit INSERT.

Every row the fast path did not apply is handed back to the caller for
`processing.process`: review with its reasons, backorders, updates, superseded versions all
keep their one-by-one path. Any error rolls the whole batch back (nothing half-applied; a
SIGKILL does the same), and then every row of it goes one by one. Exactly once holds as for
one order: the batch's transaction marks only rows it holds locked under this worker's
lease, and (store, order id) stays unique in `sales_orders` as the last line of defence.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, TypeAlias, cast

import structlog
from sqlalchemy import Table, bindparam, func, select, text, true, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.config import Settings
from kosh.core.db import transactional, utcnow
from kosh.sales import web_orders
from kosh.storefront import processing, refunds, web_version
from kosh.storefront import woocommerce as wc
from kosh.storefront.metrics import BATCHES, ORDERS, PROCESSING
from kosh.storefront.models import StagedOrder

log = structlog.get_logger(__name__)

_Row: TypeAlias = Row[*tuple[Any, ...]]  # a row of _COLUMNS

_STAGED = cast(Table, StagedOrder.__table__)
_COLUMNS = (
    _STAGED.c.id,
    _STAGED.c.store_id,
    _STAGED.c.external_id,
    _STAGED.c.external_status,
    _STAGED.c.topic,
    _STAGED.c.body,
    _STAGED.c.source_modified_at,
    _STAGED.c.status,
    _STAGED.c.attempts,
    _STAGED.c.claimed_by,
)
# Built once. The rows locked in id order; on PostgreSQL the same statement lets the batch
# commit without waiting for the WAL flush, for the reason `processing` gives.
_ROWS = (
    select(*_COLUMNS)
    .where(_STAGED.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_STAGED.c.id)
    .with_for_update()
)
_ROWS_PG = (
    select(*_COLUMNS, func.set_config("synchronous_commit", "off", true()))
    .where(_STAGED.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_STAGED.c.id)
    .with_for_update(of=_STAGED)
)
# The advisory locks of `processing._OWN_AND_LOCK_PG` (same keys), all of them in key order.
_LOCK_ORDERS_PG = text(
    "SELECT count(pg_advisory_xact_lock(h)) FROM ("
    " SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(CAST(:keys AS text[])) AS k"
    " ORDER BY h) AS ordered"
)
_VERSIONS = select(_STAGED.c.store_id, _STAGED.c.external_id).where(
    _STAGED.c.store_id.in_(bindparam("store_ids", expanding=True)),
    _STAGED.c.external_id.in_(bindparam("external_ids", expanding=True)),
)
_MARK_APPLIED = (
    update(_STAGED)
    .where(_STAGED.c.id == bindparam("b_id"))
    .values(
        status="applied",
        reasons=[],
        processed_at=bindparam("b_at"),
        claimed_by=None,
        claimed_at=None,
        last_error=None,
        sales_order_id=bindparam("b_order"),
    )
)


async def apply_together(
    session: AsyncSession, *, staged_ids: Sequence[int], worker_id: str, settings: Settings
) -> tuple[dict[int, processing.Result], list[int]]:
    """Apply what of the claimed rows can go together (see the module docstring): their
    results by staged id, and the ids left for `processing.process`, in claim order. An
    error rolls the batch back and leaves every row to the one-by-one path."""
    started = time.perf_counter()
    try:
        done = await _apply(
            session, staged_ids=list(staged_ids), worker_id=worker_id, settings=settings
        )
    except Exception as exc:  # nothing of the batch was committed: one by one decides
        log.warning(
            "staged_batch_rolled_back", size=len(staged_ids), error=f"{type(exc).__name__}: {exc}"
        )
        BATCHES.labels("rolled_back").inc()
        return {}, list(staged_ids)
    if done:
        BATCHES.labels("applied").inc()
        ORDERS.labels("applied").inc(len(done))
        share = (time.perf_counter() - started) / len(done)
        for _ in done:
            PROCESSING.observe(share)
    return done, [staged_id for staged_id in staged_ids if staged_id not in done]


@transactional
async def _apply(
    session: AsyncSession, *, staged_ids: list[int], worker_id: str, settings: Settings
) -> dict[int, processing.Result]:
    if not staged_ids:
        return {}
    postgres = session.get_bind().dialect.name == "postgresql"
    rows = (await session.execute(_ROWS_PG if postgres else _ROWS, {"ids": staged_ids})).all()
    candidates = [row for row in rows if _may_take(row, worker_id=worker_id, settings=settings)]
    if not candidates:
        return {}
    if postgres:
        keys = [f"kosh-web-order:{row.store_id}:{row.external_id}" for row in candidates]
        await session.execute(_LOCK_ORDERS_PG, {"keys": keys})
    candidates = await _only_versions(session, candidates)
    payloads: dict[int, dict[str, Any]] = {}
    for row in candidates:
        payload = wc.decode_payload(row.body.encode())
        if payload is not None and not refunds.refund_ids_of(payload):
            payloads[row.id] = payload
    taken = [row for row in candidates if row.id in payloads]
    if not taken:
        return {}
    versions = await _versions(session, taken, payloads, settings)
    async with audit.batch(session):  # the orders' events and the rows': one INSERT
        outcomes = await web_orders.apply_new(session, versions)
        applied = [
            (row, outcome)
            for row, outcome in zip(taken, outcomes, strict=True)
            if outcome is not None
        ]
        if not applied:
            return {}
        now = utcnow()
        await session.execute(
            _MARK_APPLIED,
            [
                {"b_id": row.id, "b_at": now, "b_order": outcome.order_id}
                for row, outcome in applied
            ],
        )
        actor = processing.worker_actor(worker_id)
        for row, outcome in applied:
            await audit.record(
                session,
                action="storefront.applied",
                entity_type="storefront_staged_order",
                entity_id=row.id,
                after={
                    "external_id": row.external_id,
                    "status": row.external_status,
                    "sales_order_id": outcome.order_id,
                    "reasons": [],
                },
                actor=actor,
            )
    return {row.id: processing.Result("applied", outcome.order_id) for row, outcome in applied}


def _may_take(row: _Row, *, worker_id: str, settings: Settings) -> bool:
    """Still this worker's lease, attempts left, and a paid order (what `apply` would
    create confirmed): anything else is for the one-by-one path to decide."""
    status = row.external_status or ""
    return (
        row.status == "pending"
        and row.claimed_by == worker_id
        and row.attempts <= settings.storefront_max_attempts
        and row.external_id is not None
        and web_version.intent_of(status, topic=row.topic) == "confirm"
    )


async def _only_versions(session: AsyncSession, rows: list[_Row]) -> list[_Row]:
    """The rows that are the only staged version of their web order (others, read under
    the advisory locks, make it a question of which version wins: one by one decides)."""
    params = {
        "store_ids": sorted({row.store_id for row in rows}),
        "external_ids": sorted({row.external_id for row in rows}),
    }
    counts = Counter(tuple(version) for version in (await session.execute(_VERSIONS, params)).all())
    return [row for row in rows if counts[(row.store_id, row.external_id)] == 1]


async def _versions(
    session: AsyncSession,
    rows: list[_Row],
    payloads: dict[int, dict[str, Any]],
    settings: Settings,
) -> list[web_orders.WebOrderVersion]:
    """The rows' versions in row order, each store's SKUs looked up together."""
    by_store: dict[int, list[_Row]] = defaultdict(list)
    for row in rows:
        by_store[row.store_id].append(row)
    built: dict[int, web_orders.WebOrderVersion] = {}
    for store_id, store_rows in by_store.items():
        store = await processing.store_ref(session, store_id)
        if store is None:  # pragma: no cover - a staged row's store is never deleted
            raise RuntimeError(f"store {store_id} of staged rows is gone")
        staged = [
            web_version.Staged(
                external_id=row.external_id,
                payload=payloads[row.id],
                status=row.external_status or "",
                topic=row.topic,
                modified_at=row.source_modified_at,
            )
            for row in store_rows
        ]
        versions = await web_version.build_many(
            session, store=store, staged=staged, settings=settings
        )
        built.update({row.id: v for row, v in zip(store_rows, versions, strict=True)})
    return [built[row.id] for row in rows]
