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

A use case that knows what it is about to note can have the probes answered by a statement
it sends anyway (`ask_ahead`, `take_answers`): the scanner's pick asks them in its one
statement, so no round trip is left between its take and its commit but the answer's.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import direct

Subscriber = Callable[[AsyncSession, list[Any]], Awaitable[None]]


@dataclass(frozen=True, eq=False)
class Probe:
    """`expression`: a boolean SQL expression built once, its bound parameters named
    uniquely to its subscriber; `params`: their values for a dispatch's payload."""

    expression: Any
    params: Callable[[list[Any]], dict[str, Any]]


@dataclass(frozen=True, eq=False)
class Ahead:
    """Probes to ask inside a use case's own statement (`ask_ahead`): a one-row CTE of
    their answers to join, its bound values, and which call each answer is for."""

    answers: Any
    params: dict[str, Any]
    calls: tuple[tuple[Subscriber, str, frozenset[Any]], ...]
    # every subscriber of the payloads is asked: all answering False, none would act
    complete: bool = False


_subscribers: dict[str, list[tuple[Subscriber, Probe | None]]] = defaultdict(list)
_ANSWERED = "events_answered"

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
    session.info.pop(_ANSWERED, None)


def ask_ahead(payloads: Mapping[str, Iterable[Any]]) -> Ahead | None:
    """The probes of the subscribers of `payloads` (what the use case is about to note),
    to join to a statement it sends anyway; None when none has a probe. Only for a
    statement whose own writes cannot change a probe's answer (a take of stock changes
    no reorder point, reservation, job or store)."""
    subscribed = sum(len(_subscribers.get(event, [])) for event in payloads)
    calls = [
        (subscriber, probe, event, frozenset(ids))
        for event, ids in sorted(payloads.items())
        for subscriber, probe in _subscribers.get(event, [])
        if probe is not None
    ]
    times = Counter(subscriber for subscriber, *_ in calls)
    asked = [call for call in calls if times[call[0]] == 1]  # as dispatch: params collide
    if not asked:
        return None
    params: dict[str, Any] = {}
    for _, probe, _, ids in asked:
        params.update(probe.params(sorted(ids)))
    return Ahead(
        answers=_answers_cte(tuple(probe for _, probe, _, _ in asked)),
        params=params,
        calls=tuple((subscriber, event, ids) for subscriber, _, event, ids in asked),
        complete=len(asked) == subscribed,
    )


@functools.lru_cache(maxsize=64)
def quiet(answers: Any) -> Any:
    """True when every probe of `answers` (an `Ahead`'s CTE) answers False: a statement
    of a use case whose `Ahead` is complete may then commit without a dispatch."""
    return ~select(answers).where(or_(*(column for column in answers.c))).exists()


def take_answers(session: AsyncSession, ahead: Ahead, row: Any) -> None:
    """Keep the answers `row` (of the statement `ahead` was joined to) holds, for this
    transaction's dispatch: a call noted with exactly that payload is not asked again."""
    answered: dict[Any, bool] = session.info.setdefault(_ANSWERED, {})
    for n, call in enumerate(ahead.calls):
        answered[call] = bool(getattr(row, f"ahead_{n}"))


async def dispatch(session: AsyncSession) -> None:
    """Run the subscribers of everything noted so far (called by `@transactional`)."""
    pending: dict[str, set[Any]] = session.info.pop("events", {})
    answered: dict[Any, bool] = session.info.pop(_ANSWERED, {})
    calls = [
        (subscriber, probe, event, sorted(ids))
        for event, ids in sorted(pending.items())
        for subscriber, probe in _subscribers.get(event, [])
    ]
    skipped = await _ask_probes(session, calls, answered)
    for index, (subscriber, _, _, ids) in enumerate(calls):
        if index not in skipped:
            await subscriber(session, ids)


async def _ask_probes(
    session: AsyncSession,
    calls: list[tuple[Subscriber, Probe | None, str, list[Any]]],
    answered: dict[Any, bool],
) -> set[int]:
    """The calls whose probe answered False (ahead, or all the others in one statement).
    A subscriber called twice in one dispatch (two of its events noted) is not probed: its
    probes' parameters would collide."""
    times = Counter(subscriber for subscriber, *_ in calls)
    skipped: set[int] = set()
    probed: list[tuple[int, Probe, list[Any]]] = []
    for index, (subscriber, probe, event, ids) in enumerate(calls):
        if probe is None or times[subscriber] != 1:
            continue
        answer = answered.get((subscriber, event, frozenset(ids)))
        if answer is None:
            probed.append((index, probe, ids))
        elif not answer:
            skipped.add(index)
    if len(probed) < 2:  # one probe costs the round trip its subscriber would spend anyway
        return skipped
    params: dict[str, Any] = {}
    for _, probe, ids in probed:
        params.update(probe.params(ids))
    row = await direct.first(session, _probe_statement(tuple(p for _, p, _ in probed)), params)
    return skipped | {
        index for (index, _, _), answer in zip(probed, row, strict=True) if not answer
    }


@functools.lru_cache(maxsize=64)
def _probe_statement(probes: tuple[Probe, ...]) -> Any:
    """One SELECT of the probes' answers, built once per combination of probes."""
    return select(*(probe.expression.label(f"probe_{n}") for n, probe in enumerate(probes)))


@functools.lru_cache(maxsize=64)
def _answers_cte(probes: tuple[Probe, ...]) -> Any:
    """The probes' answers as a CTE (a subquery in the select list would correlate a
    probe's tables with the statement's own)."""
    return select(*(probe.expression.label(f"ahead_{n}") for n, probe in enumerate(probes))).cte(
        "probes_ahead"
    )
