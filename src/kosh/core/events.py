"""In-transaction domain events, so a lower feature can notify a higher one without
importing it (stock does not know about alerts; alerts subscribes to stock changes).

A use case `note`s what changed; just before its commit, `@transactional` hands the
collected ids to each subscriber inside the same transaction, so a failure in a
subscriber rolls the whole use case back and a retry starts from a clean slate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

Subscriber = Callable[[AsyncSession, list[Any]], Awaitable[None]]
_subscribers: dict[str, list[Subscriber]] = defaultdict(list)

STOCK_CHANGED = "stock.changed"  # payload: part ids whose balances moved
# payload: (part id, warehouse id) pairs whose stock in storage went down by a movement
# that is not a count (pick, transfer out of storage, consumption, scrap, shipping)
STOCK_WITHDRAWN = "stock.withdrawn"
# payload: part ids whose quantity on placed purchase orders changed (placed, cancelled,
# closed short, received, reversed), so plans that count what is coming can re-check
ON_ORDER_CHANGED = "purchasing.on_order_changed"
# payload: part ids whose units reserved by sales orders changed (reserved, released)
RESERVATION_CHANGED = "sales.reservation_changed"
# payload: (reference, part id, over-kit allowed) of picks, so production can refuse a pick
# that gives a job more than it needs
STOCK_PICKED = "stock.picked"
JOB_RELEASED = "job.released"  # payload: production job ids just released
JOB_CLOSED = "job.closed"  # payload: production job ids just completed or cancelled
SALES_SHIPPED = "sales.shipped"  # payload: ids of shipments just recorded (kosh.sales)
# payload: (sales order id, reason) of web orders cancelled in KOSH, for their store to hear
SALES_CANCELLED = "sales.cancelled"
# payload: ids of refunded web order lines whose units had shipped (kosh.sales), a return to
# expect (kosh.quality proposes an RMA)
SALES_REFUNDED = "sales.refunded"
# payload: (sales order id, note) of returns decided (kosh.quality), for a web store to hear
RETURN_DECIDED = "quality.return_decided"


def subscribe(event: str, subscriber: Subscriber) -> None:
    if subscriber not in _subscribers[event]:
        _subscribers[event].append(subscriber)


def note(session: AsyncSession, event: str, ids: Iterable[Any]) -> None:
    pending: dict[str, set[Any]] = session.info.setdefault("events", {})
    pending.setdefault(event, set()).update(ids)


def reset(session: AsyncSession) -> None:
    session.info["events"] = {}


async def dispatch(session: AsyncSession) -> None:
    """Run the subscribers of everything noted so far (called by `@transactional`)."""
    pending: dict[str, set[Any]] = session.info.pop("events", {})
    for event, ids in sorted(pending.items()):
        for subscriber in _subscribers.get(event, []):
            await subscriber(session, sorted(ids))
