"""Refunds of web orders made in the store, the sales side: take in the store's refunds of
an order (read by the store adapter, kosh.storefront.refunds), each exactly once. Joins the
caller's transaction; never commits.

A refund lists units of the order's lines (by the store's line id). Per line the refunded
units are counted first against what has not shipped: those are no longer to ship
(`qty_cancelled`), and what the line has reserved beyond what is still open is released.
The rest of the units had shipped: a return to expect, listed for the returns desk and
noted as SALES_REFUNDED (kosh.quality proposes an RMA for them).

Exactly once: a refund is recorded under the store's refund id, which the order's row lock
(taken first) and a unique (line, refund id) stand behind; a refund read again, from a
redelivered or reordered webhook, records and releases nothing. An order refunded in
full through its `refunded` status (kosh.sales.refunds.record) takes no more refunds: that
record already covers every line.

Lock order: the order row, then the reservation rows of its parts (part-id order), as
cancelling does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit, events
from kosh.core.db import utcnow
from kosh.core.types import is_digits
from kosh.sales import orders as order_ops
from kosh.sales import reservations
from kosh.sales.models import RefundedLine, SalesOrder, SalesOrderLine
from kosh.sales.refunds import RefundedUnits

log = structlog.get_logger(__name__)

CENT = Decimal("0.0001")  # the refunded amount's precision, as stored

__all__ = ["RefundedUnits", "RefundsTaken", "WebRefund", "recorded_refunds", "take_refunds"]


@dataclass(frozen=True)
class WebRefund:
    """One refund of a web order in the store: its id and the units of each line."""

    refund_id: str
    lines: Sequence[RefundedUnits] = ()
    reason: str = ""


@dataclass
class RefundsTaken:
    order_id: int | None
    recorded: list[int] = field(default_factory=list)  # refunded line ids
    released: int = 0  # reserved units given back
    refunds: list[str] = field(default_factory=list)  # refund ids taken now
    reasons: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RecordedRefunds:
    """What an order's record already holds: the store's refund ids, or the whole order."""

    refund_ids: frozenset[str]
    whole_order: bool

    def knows(self, refund_id: str) -> bool:
        return self.whole_order or refund_id in self.refund_ids


async def recorded_refunds(session: AsyncSession, order_id: int) -> RecordedRefunds:
    rows = (
        await session.execute(
            select(RefundedLine.external_refund_id).where(RefundedLine.order_id == order_id)
        )
    ).all()
    ids = frozenset(str(r) for (r,) in rows if r is not None)
    return RecordedRefunds(ids, whole_order=any(r is None for (r,) in rows))


def _sort_key(refund: WebRefund) -> tuple[int, str]:
    # the store numbers refunds in the order they were made
    return (
        (int(refund.refund_id), "") if is_digits(refund.refund_id) else (1 << 62, refund.refund_id)
    )


async def take_refunds(
    session: AsyncSession,
    *,
    store: str,
    external_id: str,
    refunds: Sequence[WebRefund],
    modified_at: datetime | None = None,
) -> RefundsTaken:
    """Record the refunds of the web order not recorded before (see the module docstring),
    releasing what is still reserved for their unshipped units. An open order with nothing
    left to ship is closed: `shipped` when some of it shipped, else cancelled (its store
    is not told: it refunded it). Lines the order does not have are listed as reasons."""
    order = await order_ops.find_external(
        session, store=store, external_id=external_id, for_update=True
    )
    if order is None:
        return RefundsTaken(None, reasons=[_reason("refund_before_kosh", "No KOSH order yet.")])
    taken = RefundsTaken(order.id)
    known = await recorded_refunds(session, order.id)
    fresh = sorted((r for r in refunds if not known.knows(r.refund_id)), key=_sort_key)
    if not fresh:
        return taken
    by_external: dict[str, list[SalesOrderLine]] = defaultdict(list)
    for line in order.lines:  # a split line is several lines with the store's one id
        if line.external_line_id:
            by_external[line.external_line_id].append(line)
    refunded_shipped = await _refunded_shipped(session, order.id)
    rows: list[RefundedLine] = []
    for refund in fresh:
        taken.refunds.append(refund.refund_id)
        for units in refund.lines:
            lines = by_external.get(units.external_line_id)
            if not lines:
                taken.reasons.append(
                    _reason(
                        "refunded_line_unknown",
                        f"Refund {refund.refund_id}: line {units.external_line_id} is not on "
                        f"{order.number}.",
                    )
                )
                continue
            left = max(0, units.qty)
            for line in lines:
                row = _refund_line(order, line, left, units, refund, refunded_shipped, modified_at)
                if row is not None:
                    rows.append(row)
                    left -= row.qty
                if left <= 0:
                    break
    # the lines give back their excess in the same flush that cancels their units
    give_back = _take_back_beyond_open(order)
    session.add_all(rows)
    await session.flush()
    taken.recorded = [row.id for row in rows]
    taken.released = await _release(session, give_back)
    await _close_when_done(session, order)
    await audit.record(
        session,
        action="sales_order.refund",
        entity_type="sales_order",
        entity_id=order.id,
        after={
            "refunds": taken.refunds,
            "released": taken.released,
            "lines": [
                {
                    "order_line_id": r.order_line_id,
                    "qty": r.qty,
                    "qty_shipped": r.qty_shipped,
                    "refund": r.external_refund_id,
                }
                for r in rows
            ],
        },
    )
    returning = [row.id for row in rows if row.qty_shipped > 0]
    if returning:
        events.note(session, events.SALES_REFUNDED, returning)
    log.info(
        "web_refunds_taken",
        order=order.number,
        refunds=taken.refunds,
        lines=len(rows),
        released=taken.released,
    )
    return taken


def _reason(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


async def _refunded_shipped(session: AsyncSession, order_id: int) -> dict[int, int]:
    """Shipped units already refunded, per order line."""
    found: dict[int, int] = defaultdict(int)
    rows = await session.execute(
        select(RefundedLine.order_line_id, RefundedLine.qty_shipped).where(
            RefundedLine.order_id == order_id
        )
    )
    for line_id, qty in rows:
        found[line_id] += qty
    return found


def _refund_line(
    order: SalesOrder,
    line: SalesOrderLine,
    wanted: int,
    units: RefundedUnits,
    refund: WebRefund,
    refunded_shipped: dict[int, int],
    modified_at: datetime | None,
) -> RefundedLine | None:
    """Count the refunded units against what had not shipped first, then against what had
    shipped and was not refunded yet; a store refunding more than the line is capped."""
    unshipped = min(wanted, line.qty_open) if order.status != "cancelled" else 0
    shipped = min(wanted - unshipped, line.qty_shipped - refunded_shipped[line.id])
    if order.status == "cancelled":
        # nothing is open on a cancelled order: its unshipped units are refunded as they are
        unshipped = min(wanted - shipped, line.qty - line.qty_shipped)
    if unshipped + shipped <= 0:
        return None
    if order.status != "cancelled":
        line.qty_cancelled += unshipped
    refunded_shipped[line.id] += shipped
    return RefundedLine(
        order_id=order.id,
        order_line_id=line.id,
        part_id=line.part_id,
        qty=unshipped + shipped,
        qty_shipped=shipped,
        amount=(abs(units.amount) * (unshipped + shipped) / max(units.qty, 1)).quantize(CENT),
        external_modified_at=modified_at,
        external_refund_id=refund.refund_id[:32],
    )


def _take_back_beyond_open(order: SalesOrder) -> dict[tuple[int, int], int]:
    """Take from the lines what they have reserved beyond what is still open on them;
    returns the units per (warehouse, part), for the reservation aggregates."""
    per_part: dict[tuple[int, int], int] = defaultdict(int)
    for line in order.lines:
        excess = line.qty_reserved - (line.qty - line.qty_shipped - line.qty_cancelled)
        if excess > 0:
            line.qty_reserved -= excess
            per_part[(order_ops.warehouse_of(order, line), line.part_id)] += excess
    return dict(per_part)


async def _release(session: AsyncSession, give_back: dict[tuple[int, int], int]) -> int:
    """Release (warehouse, part) units, warehouses in id order, parts in id order."""
    released = 0
    for warehouse_id in sorted({w for w, _ in give_back}):
        per_part = {p: q for (w, p), q in give_back.items() if w == warehouse_id}
        await reservations.lock(session, part_ids=per_part, warehouse_id=warehouse_id)
        for part_id in sorted(per_part):
            await reservations.remove(
                session, part_id=part_id, warehouse_id=warehouse_id, qty=per_part[part_id]
            )
        released += sum(per_part.values())
    return released


async def _close_when_done(session: AsyncSession, order: SalesOrder) -> None:
    if order.status not in order_ops.OPEN_STATUSES or any(line.qty_open for line in order.lines):
        return
    if any(line.qty_shipped for line in order.lines):
        order.status = "shipped"
        order.shipped_at = order.shipped_at or utcnow()
        order.updated_at = utcnow()
        await session.flush()
        return
    await order_ops.cancel_order(session, order, reason="refunded in the store", notify_store=False)
