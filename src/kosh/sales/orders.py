"""Sales-order operations that join the caller's transaction (they never commit).

`kosh.sales.service` wraps each in one `@transactional` use case for the API and pages;
`kosh.sales.web_orders` composes them for a web order inside the storefront worker's
transaction, so a web order, its reservations and its staged row change together or not at
all.

Status machine: draft -> confirmed (reserved) -> partially_shipped -> shipped, plus on_hold
(keeps its reservations unless held with `release`; cannot ship) and cancelled (releases
them). Every transition is audited; shipping notes `events.SALES_SHIPPED` (the shipment
id) and cancelling a web order notes `events.SALES_CANCELLED`, so the storefront's outbox,
subscribed in `kosh.wiring`, queues the store's update in the same transaction. Sales
imports nothing of the storefront.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from kosh.core import audit, events
from kosh.core.db import utcnow
from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, field_error
from kosh.sales import order_lines, reservations, shortage
from kosh.sales.models import SalesOrder, SalesOrderLine
from kosh.sales.order_lines import NewLine
from kosh.sales.shortage import Shortage

OPEN_STATUSES = ("draft", "confirmed", "partially_shipped", "on_hold")
SHIPPABLE_STATUSES = ("confirmed", "partially_shipped")


@dataclass
class ExternalRef:
    store: str
    order_id: str
    status: str | None = None
    modified_at: datetime | None = None


@dataclass
class ReserveOutcome:
    shortages: list[Shortage] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.shortages


# --- reading --------------------------------------------------------------------------


def order_snapshot(order: SalesOrder) -> dict[str, Any]:
    """The audited view of an order (JSON-safe)."""
    return {
        "number": order.number,
        "status": order.status,
        "customer_id": order.customer_id,
        "warehouse_id": order.warehouse_id,
        "external_store": order.external_store,
        "external_id": order.external_id,
        "lines": [
            {
                "line_no": line.line_no,
                "part_id": line.part_id,
                "qty": line.qty,
                "unit_price": str(line.unit_price),
                "qty_reserved": line.qty_reserved,
                "qty_shipped": line.qty_shipped,
            }
            for line in order.lines
        ],
    }


async def load_order(
    session: AsyncSession, order_id: int, *, for_update: bool = False
) -> SalesOrder:
    """The order with its lines; NotFoundError (404 sales_order_not_found) otherwise. With
    `for_update` the order row is locked (PostgreSQL) so transitions of one order queue."""
    query = (
        select(SalesOrder)
        .where(SalesOrder.id == order_id)
        .options(selectinload(SalesOrder.lines))
        .execution_options(populate_existing=True)
    )
    if for_update:
        query = query.with_for_update(of=SalesOrder)
    order = await session.scalar(query)
    if order is None:
        raise NotFoundError(f"No sales order with id {order_id}.", code="sales_order_not_found")
    return order


async def find_external(
    session: AsyncSession, *, store: str, external_id: str, for_update: bool = False
) -> SalesOrder | None:
    """The KOSH order made from a web order, or None."""
    query = _BY_EXTERNAL_FOR_UPDATE if for_update else _BY_EXTERNAL
    return await session.scalar(query, {"store": store, "external_id": external_id})


# Built once (the web-order path runs it per order): a reused statement keeps its cache key.
_BY_EXTERNAL = (
    select(SalesOrder)
    .where(
        SalesOrder.external_store == bindparam("store"),
        SalesOrder.external_id == bindparam("external_id"),
    )
    .options(selectinload(SalesOrder.lines))
    .execution_options(populate_existing=True)
)
_BY_EXTERNAL_FOR_UPDATE = _BY_EXTERNAL.with_for_update(of=SalesOrder)


def check_version(order: SalesOrder, version: int | None) -> None:
    """Optimistic locking: a caller that read an older version gets 409 stale_version."""
    if version is not None and version != order.version:
        raise ConflictError(
            f"Sales order {order.number} was changed meanwhile; reload and try again.",
            code="stale_version",
            details={"current_version": order.version},
        )


def refusal(order: SalesOrder, action: str) -> ConflictError:
    """409 invalid_status: the order's status does not allow `action`."""
    hint = ""
    if order.status == "on_hold" and action == "shipped":
        hint = " Confirm it again first (that reserves what its hold released)."
    return ConflictError(
        f"Sales order {order.number} is {order.status.replace('_', ' ')}; it cannot be "
        f"{action}.{hint}",
        code="invalid_status",
        details={"status": order.status},
    )


# --- creating -------------------------------------------------------------------------


async def add_order(
    session: AsyncSession,
    *,
    customer_id: int,
    warehouse_id: int,
    lines: Sequence[NewLine],
    number: str | None = None,
    currency: str | None = None,
    notes: str = "",
    backorder: bool = False,
    external: ExternalRef | None = None,
) -> SalesOrder:
    """Insert a draft order with its lines (flushed and audited). Without a `number` the
    order is numbered SO-<id>."""
    order = new_order(
        customer_id=customer_id,
        warehouse_id=warehouse_id,
        lines=lines,
        number=number,
        currency=currency,
        notes=notes,
        backorder=backorder,
        external=external,
    )
    await _insert(session, order, numbered=number is not None)
    return order


async def add_confirmed_order(
    session: AsyncSession,
    *,
    customer_id: int,
    warehouse_id: int,
    lines: Sequence[NewLine],
    number: str,
    allow_short: bool,
    currency: str | None = None,
    notes: str = "",
    backorder: bool = False,
    external: ExternalRef | None = None,
) -> tuple[SalesOrder, ReserveOutcome]:
    """`add_order` then `confirm_order`, with the same rules, errors and audit events (the
    draft created, then confirmed), but the reservations are taken before the order is
    inserted, so the order and its lines are written once, already confirmed and reserved,
    instead of inserted and then updated (a web order arriving paid)."""
    order = new_order(
        customer_id=customer_id,
        warehouse_id=warehouse_id,
        lines=lines,
        number=number,
        currency=currency,
        notes=notes,
        backorder=backorder,
        external=external,
    )
    created = order_snapshot(order)
    require_lines(order)
    # Nothing pending need reach the database before the reservation rows are locked.
    with session.no_autoflush:
        outcome = await _reserve_lines(session, order, allow_short=allow_short)
    order.status = "confirmed"
    order.confirmed_at = utcnow()
    await _insert(session, order, numbered=True, created=created)
    await audit_confirm(session, order, "draft", outcome)
    return order, outcome


def new_order(
    *,
    customer_id: int,
    warehouse_id: int,
    lines: Sequence[NewLine],
    number: str | None,
    currency: str | None,
    notes: str,
    backorder: bool,
    external: ExternalRef | None,
) -> SalesOrder:
    """A draft order with its lines, not yet in the session (`add_order` inserts it)."""
    order = SalesOrder(
        number=number or f"tmp-{uuid.uuid4().hex}",
        customer_id=customer_id,
        warehouse_id=warehouse_id,
        status="draft",
        currency=currency,
        notes=notes,
        backorder=backorder,
        external_store=external.store if external else None,
        external_id=external.order_id if external else None,
        external_status=external.status if external else None,
        external_modified_at=external.modified_at if external else None,
        reopenable=False,
        lines=[],
    )
    order.lines = order_lines.make_lines(lines, start=1)
    return order


async def _insert(
    session: AsyncSession,
    order: SalesOrder,
    *,
    numbered: bool,
    created: dict[str, Any] | None = None,
) -> None:
    """Insert the order with its lines and audit its creation: `created` is the snapshot
    of the draft when the order is written after more happened to it."""
    session.add(order)
    await session.flush()
    if not numbered:
        order.number = f"SO-{order.id:06d}"
        await session.flush()
    await audit_created(session, order, created or order_snapshot(order))


async def audit_created(session: AsyncSession, order: SalesOrder, created: dict[str, Any]) -> None:
    """The audit event of a new order: `created` is its snapshot as a draft."""
    await audit.record(
        session,
        action="sales_order.create",
        entity_type="sales_order",
        entity_id=order.id,
        after=created,
    )


async def replace_lines(session: AsyncSession, order: SalesOrder, lines: Sequence[NewLine]) -> None:
    """Swap every line for `lines` (a web order changed in the store before shipping):
    reservations of the old lines are released first; nothing may have shipped."""
    if any(line.qty_shipped for line in order.lines):
        raise refusal(order, "re-lined after shipping started")
    before = order_snapshot(order)
    await release_all(session, order)
    next_no = max((existing.line_no for existing in order.lines), default=0) + 1
    order.lines.clear()
    await session.flush()
    order.lines.extend(order_lines.make_lines(lines, start=next_no))
    order.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="sales_order.replace_lines",
        entity_type="sales_order",
        entity_id=order.id,
        before=before,
        after=order_snapshot(order),
    )


# --- reserving ------------------------------------------------------------------------


async def reserve_open(
    session: AsyncSession, order: SalesOrder, *, allow_short: bool
) -> ReserveOutcome:
    """Reserve what each line still needs (ordered - shipped - reserved).

    Per part, everything or, with `allow_short`, as much as is available (the rest stays a
    backorder). Without `allow_short` a shortage raises InsufficientStockError (409) listing
    every short part, and the caller's transaction rolls back.
    """
    outcome = await _reserve_lines(session, order, allow_short=allow_short)
    await session.flush()
    return outcome


async def _reserve_lines(
    session: AsyncSession, order: SalesOrder, *, allow_short: bool
) -> ReserveOutcome:
    outcome = ReserveOutcome()
    # Lines drawn from several warehouses (a split web order) reserve in each; warehouses
    # are locked one after another in id order, each one's rows in part-id order.
    for warehouse_id, lines in sorted(_lines_by_warehouse(order).items()):
        await _reserve_in(session, order, warehouse_id, lines, outcome, allow_short=allow_short)
    return outcome


def warehouse_of(order: SalesOrder, line: SalesOrderLine) -> int:
    """The warehouse a line draws on: its own (a split web order) or the order's."""
    return line.warehouse_id or order.warehouse_id


def _lines_by_warehouse(order: SalesOrder) -> dict[int, list[SalesOrderLine]]:
    grouped: dict[int, list[SalesOrderLine]] = defaultdict(list)
    for line in order.lines:
        grouped[warehouse_of(order, line)].append(line)
    return grouped


async def _reserve_in(
    session: AsyncSession,
    order: SalesOrder,
    warehouse_id: int,
    lines: Sequence[SalesOrderLine],
    outcome: ReserveOutcome,
    *,
    allow_short: bool,
) -> None:
    needs = needs_of(lines)
    if not needs:
        return
    held = await reservations.lock(session, part_ids=needs, warehouse_id=warehouse_id)
    stock = await reservations.on_hand(session, part_ids=needs, warehouse_id=warehouse_id)
    free = {part_id: max(0, stock[part_id] - held.get(part_id, 0)) for part_id in needs}
    granted, shortages = reservations.allot(needs, free)
    outcome.shortages += shortages
    if outcome.shortages and not allow_short:
        raise await shortage.short_error(session, order, outcome.shortages)
    if not await reservations.add_many(
        session,
        warehouse_id=warehouse_id,
        wanted={part_id: (qty, stock[part_id]) for part_id, qty in granted.items()},
    ):
        # The rows are locked, so this only happens if on hand moved under us: the caller's
        # transaction rolls back whatever the update did.
        raise await shortage.short_error(
            session, order, [Shortage(p, needs[p], 0) for p in sorted(granted) if granted[p]]
        )
    hand_out(lines, granted)


def needs_of(lines: Sequence[SalesOrderLine]) -> dict[int, int]:
    """What the lines still need reserved, per part (parts needing nothing left out)."""
    needs: dict[int, int] = defaultdict(int)
    for line in lines:
        needs[line.part_id] += line.qty_short
    return {part_id: qty for part_id, qty in needs.items() if qty > 0}


def hand_out(lines: Sequence[SalesOrderLine], granted: dict[int, int]) -> None:
    """Give the granted units of each part to the lines in line order."""
    left = dict(granted)
    for line in lines:
        give = min(line.qty_short, left.get(line.part_id, 0))
        if give:
            line.qty_reserved += give
            left[line.part_id] -= give


async def release_all(session: AsyncSession, order: SalesOrder) -> int:
    """Release every line's reservation; returns the units released."""
    released = 0
    for warehouse_id, lines in sorted(_lines_by_warehouse(order).items()):
        per_part: dict[int, int] = defaultdict(int)
        for line in lines:
            per_part[line.part_id] += line.qty_reserved
        per_part = {part_id: qty for part_id, qty in per_part.items() if qty > 0}
        if not per_part:
            continue
        await reservations.lock(session, part_ids=per_part, warehouse_id=warehouse_id)
        for part_id in sorted(per_part):
            await reservations.remove(
                session, part_id=part_id, warehouse_id=warehouse_id, qty=per_part[part_id]
            )
        released += sum(per_part.values())
    for line in order.lines:
        line.qty_reserved = 0
    await session.flush()
    return released


# --- transitions ----------------------------------------------------------------------


async def confirm_order(
    session: AsyncSession, order: SalesOrder, *, allow_short: bool | None = None
) -> ReserveOutcome:
    """draft / on_hold -> confirmed (or partially_shipped), reserving every open line; a
    confirmed order with a backorder tries to reserve the rest. Shortages raise 409 unless
    the order (or `allow_short`) allows a backorder."""
    require_lines(order)
    short_before = any(line.qty_short for line in order.lines)
    if order.status in SHIPPABLE_STATUSES and not short_before:
        raise refusal(order, "confirmed again (everything is reserved)")
    if order.status not in ("draft", "on_hold", *SHIPPABLE_STATUSES):
        raise refusal(order, "confirmed")
    before = order.status
    outcome = await reserve_open(
        session, order, allow_short=order.backorder if allow_short is None else allow_short
    )
    order.status = (
        "partially_shipped" if any(line.qty_shipped for line in order.lines) else "confirmed"
    )
    order.confirmed_at = order.confirmed_at or utcnow()
    order.updated_at = utcnow()
    await session.flush()
    await audit_confirm(session, order, before, outcome)
    return outcome


def require_lines(order: SalesOrder) -> None:
    """422 order_empty: an order without lines cannot be confirmed."""
    if not order.lines:
        raise RuleViolationError(
            f"Sales order {order.number} has no lines.",
            code="order_empty",
            errors=[field_error(["lines"], "add at least one line")],
        )


async def audit_confirm(
    session: AsyncSession, order: SalesOrder, before: str, outcome: ReserveOutcome
) -> None:
    """The audit event of a confirmation: what each line reserved, what is short."""
    await audit.record(
        session,
        action="sales_order.confirm",
        entity_type="sales_order",
        entity_id=order.id,
        before={"status": before},
        after={
            "status": order.status,
            "reserved": {str(line.line_no): line.qty_reserved for line in order.lines},
            "short": {s.part_id: s.requested - s.available for s in outcome.shortages},
        },
    )


async def hold_order(
    session: AsyncSession, order: SalesOrder, *, reason: str = "", release: bool = False
) -> int:
    """draft / confirmed / partially_shipped -> on_hold; shipping is refused until the
    order is confirmed again. By default the reservations stay (the goods stay set aside);
    with `release` they are freed for other orders and production, and confirming reserves
    again (409 insufficient_stock if meanwhile taken). Returns the units released."""
    if order.status not in ("draft", *SHIPPABLE_STATUSES):
        raise refusal(order, "put on hold")
    before = order.status
    released = await release_all(session, order) if release else 0
    order.status = "on_hold"
    order.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="sales_order.hold",
        entity_type="sales_order",
        entity_id=order.id,
        before={"status": before},
        after={"status": "on_hold", "reason": reason, "released": released},
    )
    return released


async def cancel_order(
    session: AsyncSession,
    order: SalesOrder,
    *,
    reason: str = "",
    notify_store: bool = True,
    reopenable: bool = False,
) -> int:
    """Any open order -> cancelled, releasing what is reserved (what shipped stays shipped).
    Returns the units released. A web order's store hears of it (SALES_CANCELLED, which the
    storefront outbox subscribes to) unless the cancellation came from the store
    (`notify_store=False`)."""
    if order.status not in OPEN_STATUSES:
        raise refusal(order, "cancelled")
    before = order.status
    released = await release_all(session, order)
    order.status = "cancelled"
    order.cancelled_at = utcnow()
    order.updated_at = utcnow()
    order.reopenable = reopenable
    await session.flush()
    await audit.record(
        session,
        action="sales_order.cancel",
        entity_type="sales_order",
        entity_id=order.id,
        before={"status": before},
        after={"status": "cancelled", "released": released, "reason": reason},
    )
    if notify_store and order.external_store:
        events.note(session, events.SALES_CANCELLED, [(order.id, reason)])
    return released


async def reopen_order(session: AsyncSession, order: SalesOrder) -> None:
    """A cancelled order that an "undo" left reopenable -> draft, to be applied again."""
    if order.status != "cancelled" or not order.reopenable:
        raise refusal(order, "reopened")
    order.status = "draft"
    order.reopenable = False
    order.cancelled_at = None
    order.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="sales_order.reopen",
        entity_type="sales_order",
        entity_id=order.id,
        before={"status": "cancelled"},
        after={"status": "draft"},
    )
