"""In-transaction domain events, so a lower feature can notify a higher one without
importing it (stock does not know about alerts; alerts subscribes to stock changes).

A use case `note`s what changed; just before its commit, `@transactional` hands the
collected ids to each subscriber inside the same transaction, so a failure in a
subscriber rolls the whole use case back and a retry starts from a clean slate.

A subscriber may come with a `Probe`: a cheap read-only question ("has any of these parts a
reorder point?") that is False when the subscriber would do nothing. When a dispatch has
several probed subscribers, their probes are asked in one SELECT and only those answering
True run, so a pick pays one round trip instead of one per subscriber. Probes are asked
before any subscriber runs: a probe may answer True when the subscriber then finds nothing,
never False when it would act, and must not depend on what another subscriber writes.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import direct

Subscriber = Callable[[AsyncSession, list[Any]], Awaitable[None]]


@dataclass(frozen=True, eq=False)
class Probe:
    """`expression`: a boolean SQL expression built once, its bound parameters named
    uniquely to its subscriber; `params`: their values for a dispatch's payload."""

    expression: Any
    params: Callable[[list[Any]], dict[str, Any]]


_subscribers: dict[str, list[tuple[Subscriber, Probe | None]]] = defaultdict(list)

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


def subscribe(event: str, subscriber: Subscriber, probe: Probe | None = None) -> None:
    if all(known is not subscriber for known, _ in _subscribers[event]):
        _subscribers[event].append((subscriber, probe))


def note(session: AsyncSession, event: str, ids: Iterable[Any]) -> None:
    pending: dict[str, set[Any]] = session.info.setdefault("events", {})
    pending.setdefault(event, set()).update(ids)


def reset(session: AsyncSession) -> None:
    session.info["events"] = {}


async def dispatch(session: AsyncSession) -> None:
    """Run the subscribers of everything noted so far (called by `@transactional`)."""
    pending: dict[str, set[Any]] = session.info.pop("events", {})
    calls = [
        (subscriber, probe, sorted(ids))
        for event, ids in sorted(pending.items())
        for subscriber, probe in _subscribers.get(event, [])
    ]
    skipped = await _ask_probes(session, calls)
    for index, (subscriber, _, ids) in enumerate(calls):
        if index not in skipped:
            await subscriber(session, ids)


async def _ask_probes(
    session: AsyncSession, calls: list[tuple[Subscriber, Probe | None, list[Any]]]
) -> set[int]:
    """The calls whose probe answered False, all probes asked in one statement. A
    subscriber called twice in one dispatch (two of its events noted) is not probed: its
    probes' parameters would collide."""
    times = Counter(subscriber for subscriber, _, _ in calls)
    probed = [
        (index, probe, ids)
        for index, (subscriber, probe, ids) in enumerate(calls)
        if probe is not None and times[subscriber] == 1
    ]
    if len(probed) < 2:  # one probe costs the round trip its subscriber would spend anyway
        return set()
    params: dict[str, Any] = {}
    for _, probe, ids in probed:
        params.update(probe.params(ids))
    row = await direct.first(session, _probe_statement(tuple(p for _, p, _ in probed)), params)
    return {index for (index, _, _), answer in zip(probed, row, strict=True) if not answer}


@functools.lru_cache(maxsize=64)
def _probe_statement(probes: tuple[Probe, ...]) -> Any:
    """One SELECT of the probes' answers, built once per combination of probes."""
    return select(*(probe.expression.label(f"probe_{n}") for n, probe in enumerate(probes)))
