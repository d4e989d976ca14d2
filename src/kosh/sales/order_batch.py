"""New confirmed sales orders of one warehouse written together: a batch of web orders that
arrived paid (kosh.sales.web_orders.apply_new). Joins the caller's transaction; never commits.

The rules are `orders.add_confirmed_order`'s, shared with it: the draft is built by
`orders.new_order`, each order's needs and the units it gets come from `orders.needs_of`,
`reservations.allot` and `orders.hand_out`, its audit events are the same two (the draft
created, then confirmed). What changes is the number of round trips: the reservation rows of
every part the batch needs are locked in one statement, in part-id order (as one order locks
its own: two workers cannot deadlock), on hand is read once, the reservations grow in one
conditional UPDATE, and the orders and their lines are two multi-row INSERTs.

A batch reserves in full or not at all: there are no backorders here. `fitting` picks, from
a read without locks, the orders that find their stock; `add_confirmed` re-checks under the
locks and raises `BatchRefusedError` when the stock moved meanwhile, so that the caller rolls
the whole batch back and applies its orders one by one. The reservation rows are locked
last (see `add_confirmed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import utcnow
from kosh.sales import orders as order_ops
from kosh.sales import reservations
from kosh.sales.models import SalesOrder, SalesOrderLine

_ORDERS = cast(Table, SalesOrder.__table__)
_LINES = cast(Table, SalesOrderLine.__table__)
# Built once; `sort_by_parameter_order` returns the ids in the order of the rows sent.
_INSERT_ORDERS = insert(_ORDERS).returning(_ORDERS.c.id, sort_by_parameter_order=True)
_INSERT_LINES = insert(_LINES)
_ORDER_COLUMNS = (
    "number",
    "customer_id",
    "warehouse_id",
    "status",
    "backorder",
    "currency",
    "notes",
    "external_store",
    "external_id",
    "external_status",
    "external_modified_at",
    "reopenable",
    "version",
    "confirmed_at",
)
_LINE_COLUMNS = (
    "line_no",
    "part_id",
    "description",
    "qty",
    "unit_price",
    "qty_reserved",
    "qty_shipped",
    "qty_cancelled",
    "external_line_id",
    "warehouse_id",
)


_BY_EXTERNAL_IDS = select(_ORDERS.c.external_store, _ORDERS.c.external_id).where(
    _ORDERS.c.external_id.in_(bindparam("external_ids", expanding=True))
)


class BatchRefusedError(Exception):
    """The stock moved between `fitting` and the locks: roll the batch back."""


async def known_external(
    session: AsyncSession, refs: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of these (store, external order id) pairs already have a KOSH order."""
    if not refs:
        return set()
    ids = sorted({external_id for _, external_id in refs})
    rows = await session.execute(_BY_EXTERNAL_IDS, {"external_ids": ids})
    wanted = set(refs)
    return {
        (store, external_id) for store, external_id in rows.all() if (store, external_id) in wanted
    }


async def fitting(
    session: AsyncSession, *, warehouse_id: int, needs: Sequence[dict[int, int]]
) -> list[bool]:
    """Which of the orders (their needs per part, in the order given) the warehouse's
    available stock covers in full, each taking its units before the next one is
    considered. A read without locks: `add_confirmed` checks again under them."""
    parts = sorted({part_id for need in needs for part_id in need})
    if not parts:
        return [False] * len(needs)
    free = await reservations.available(session, part_ids=parts, warehouse_id=warehouse_id)
    answer = []
    for need in needs:
        granted, shortages = reservations.allot(need, free)
        fits = bool(need) and not shortages
        if fits:
            for part_id, qty in granted.items():
                free[part_id] -= qty
        answer.append(fits)
    return answer


async def add_confirmed(
    session: AsyncSession, *, warehouse_id: int, orders: Sequence[SalesOrder]
) -> None:
    """Reserve every line of `orders` (drafts from `orders.new_order`, not in the session,
    each with lines, all drawn on `warehouse_id`) in full, insert them confirmed with their
    lines and audit each as `add_confirmed_order` does; the orders get their ids. Raises
    BatchRefusedError (rows have changed: the caller rolls back) when one of them does not
    find its stock under the locks.

    A batch reserves in full or not at all, so the rows are written first, fully reserved,
    and the reservation rows are locked last and checked then (each order in turn taking
    its units, as `fitting` did): the hot rows that every worker needs stay locked only
    for the check, the UPDATE and the commit, not while the batch writes its orders."""
    if not orders:
        return
    created = [order_ops.order_snapshot(order) for order in orders]
    needs = [order_ops.needs_of(order.lines) for order in orders]
    now = utcnow()
    for order, need in zip(orders, needs, strict=True):
        order_ops.require_lines(order)
        order_ops.hand_out(order.lines, need)
        order.status = "confirmed"
        order.confirmed_at = now
    await _insert(session, orders, now=now)
    outcome = order_ops.ReserveOutcome()
    for order, snapshot in zip(orders, created, strict=True):
        await order_ops.audit_created(session, order, snapshot)
        await order_ops.audit_confirm(session, order, "draft", outcome)
    parts = sorted({part_id for need in needs for part_id in need})
    held = await reservations.lock(session, part_ids=parts, warehouse_id=warehouse_id)
    stock = await reservations.on_hand(session, part_ids=parts, warehouse_id=warehouse_id)
    free = {part_id: max(0, stock[part_id] - held.get(part_id, 0)) for part_id in parts}
    total = dict.fromkeys(parts, 0)
    for order, need in zip(orders, needs, strict=True):
        granted, shortages = reservations.allot(need, free)
        if shortages:
            raise BatchRefusedError(f"order {order.number}: stock moved under the batch")
        for part_id, qty in granted.items():
            free[part_id] -= qty
            total[part_id] += qty
    if not await reservations.add_many(
        session,
        warehouse_id=warehouse_id,
        wanted={part_id: (qty, stock[part_id]) for part_id, qty in total.items()},
    ):  # pragma: no cover - the rows are locked: on hand cannot move under us
        raise BatchRefusedError("reservations moved under the batch")


async def _insert(session: AsyncSession, orders: Sequence[SalesOrder], *, now: datetime) -> None:
    """Two multi-row INSERTs (orders, then lines): no unit of work for rows written once."""
    rows = [
        {name: getattr(order, name) for name in _ORDER_COLUMNS}
        | {"version": 1, "created_at": now, "updated_at": now}
        for order in orders
    ]
    ids = (await session.execute(_INSERT_ORDERS, rows)).scalars().all()
    lines: list[dict[str, Any]] = []
    for order, order_id in zip(orders, ids, strict=True):
        order.id = int(order_id)
        lines += [
            {name: getattr(line, name) for name in _LINE_COLUMNS} | {"order_id": order.id}
            for line in order.lines
        ]
    await session.execute(_INSERT_LINES, lines)
